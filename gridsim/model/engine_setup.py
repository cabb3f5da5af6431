"""The engine's set-up and hand-over: everything it reads per event, as plain lists.

:class:`EngineSetup` builds, once, the lookups the engine (``gridsim.model.engine``) reads on
every event: per unit, per staff member, per category, per issue and per arrival, as plain
Python lists (numpy scalars are several times slower in per-event code), and the scenario's
scalars looked up once. When the run is over, :meth:`EngineSetup.final_state` hands the
engine's bookkeeping over, as an :class:`~gridsim.model.records.EngineState`, for the tables.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from operator import attrgetter

import numpy as np

from gridsim.model.appeals import Column, Issues, column
from gridsim.model.calendar import WeeklyCalendar, make_calendar
from gridsim.model.clock import Clock
from gridsim.model.county import County
from gridsim.model.noticing import Arrivals
from gridsim.model.orders import APPEAL_ROW, ORDER_ROW, EventLog, LogSink, Order, RowBuffer
from gridsim.model.policies import DeadlineLadder, StrictLadder, make_policy
from gridsim.model.records import EngineState
from gridsim.model.scenario import Scenario
from gridsim.model.vocabulary import DESK_INDEX, LEVELS


class EngineSetup:
    """The engine's state and lookups (see the module); :class:`Engine` adds the behaviour.

    ``log_sink``, when given, receives the event log in chunks as the run goes
    (``gridsim.model.event_file``); the log handed over at the end then holds no rows.
    """

    def __init__(
        self,
        scenario: Scenario,
        county: County,
        issues: Issues,
        arrivals: Arrivals,
        rngs: dict[str, np.random.Generator],
        horizon: float,
        log_events: bool = True,
        settle: np.ndarray | None = None,
        log_sink: LogSink | None = None,
    ):
        self.scenario = scenario
        self.county = county
        self.issues = issues
        self.arrivals = arrivals
        self.rngs = rngs
        self.horizon = horizon
        self.env = Clock()
        self.log = EventLog(log_events, log_sink)
        # One attribute lookup per call, not two: a row is written as log_write(log_pack(...)).
        self.log_write, self.log_pack = self.log.write, self.log.pack
        self.policy = make_policy(scenario)
        # A ladder's first level is always the origin's (StrictLadder, DeadlineLadder): the
        # engine skips the call.
        self.ladder = type(self.policy) in (StrictLadder, DeadlineLadder)
        n_cat = len(scenario.categories)
        if settle is None:  # every unit settles everything (a textbook network)
            settle = np.ones((county.n_units, n_cat))
        # P(unit settles category), read as settle[unit, category] on every handling: a view
        # of one compact array, whose size (units x categories) then costs no cache misses.
        self.settle: Column = column(np.ascontiguousarray(settle, dtype=np.float64))
        self._setup_units()
        self._setup_categories()
        # Arrivals and per-issue values are read through memoryviews of their arrays: a
        # read makes a plain Python number (numpy scalars are several times slower in
        # per-event code) and nothing is copied, so a long run holds each value once.
        self.arr_time: Column = column(arrivals.time)
        self.arr_filed: Column = column(arrivals.filed)
        self.arr_issue: Column = column(arrivals.issue)
        self.arr_channel: Column = column(arrivals.channel)
        self.arr_no_phone: Column = column(arrivals.no_smartphone)
        # A column only a switched-off mechanism reads is not drawn (its values would not
        # change a number: each stream was moved past its draws when the issues were drawn).
        brush = self.brush_on
        (self.iss_work, self.iss_shirk, self.iss_route, self.iss_feedback, self.iss_origin,
         self.iss_category, self.iss_settle, self.iss_callback, self.iss_brush, self.iss_urgent,
         self.iss_joint, self.iss_externality) = issues.columns(
            ("work", "u_shirk" if scenario.escalation.shirking_probability > 0 else None,
             None if self.ladder else "u_route", "u_feedback", "origin", "category", "u_settle",
             "u_callback" if brush else None, "u_brush" if brush else None,
             "urgent", "joint", "externality"))  # fmt: skip
        self.grid_of = county.grid_of.tolist()
        self.town_of = county.town_of.tolist()
        n = len(issues)
        self.issue_order: list[Order | None] = [None] * n  # the open order of each issue
        # Issues settled on the spot when found are known and settled before the run sees
        # them (gridsim.model.noticing); every other issue is open until an order settles it.
        spot = np.where(issues.on_spot, issues.found + scenario.visits.hours_per_spot_settlement,
                        np.nan)  # fmt: skip
        self.issue_resolved: Column = column(spot)
        self.issue_known: Column = column(np.where(issues.on_spot, issues.found, np.nan))
        self.false_closures = 0
        # Orders in hand, by id; a finished order is packed into ``order_rows`` and let go.
        self.open_orders: dict[int, Order] = {}
        self.order_rows = RowBuffer(ORDER_ROW)
        self.order_values = attrgetter(*ORDER_ROW.names)  # an Order's row, in one C call
        self.n_orders = 0
        #: Ids of closed orders a callback later found falsely closed (set after packing).
        self.found_false: list[int] = []
        # (issue, order, channel, created, no_smartphone, merged) per appeal, packed.
        self.appeal_rows = RowBuffer(APPEAL_ROW)
        self.appeal_write, self.appeal_pack = self.appeal_rows.write, self.appeal_rows.pack
        self.n_appeals = 0

    # ------------------------------------------------------------------ set-up

    def _setup_units(self) -> None:
        c, s = self.county, self.scenario
        g = c.graph
        n = c.n_units
        staff = c.staff
        self.free: list[list[tuple[float, int]]] = [[] for _ in range(n)]
        # The lines of orders waiting, only for the units that have one (an empty line is
        # removed): at any moment few of a county's thousands of units have a line, and a
        # deque per unit would make the engine's working set grow with the unit count.
        self.queue: dict[int, deque] = {}
        self.priority_queue: dict[int, deque] = {}
        # Each unit's attributes, looked up once (a NodeView lookup per unit and field costs
        # more than the work here at tens of thousands of units).
        node = dict(g.nodes(data=True))
        speed, duties, female = staff.speed, staff.duties, staff.female
        helping = {m for m, d in enumerate(duties) if "help" in d}
        self.unit_has_woman: list[bool] = []
        self.unit_helpers: list[int] = []
        for u in range(n):
            members = node[u]["staff"]
            self.free[u] = sorted((speed[m], m) for m in staff.resolvers(members))
            self.unit_helpers.append(len(helping.intersection(members)) if helping else 0)
            self.unit_has_woman.append(any(female[m] for m in members))
        self.servers = [max(len(f), 1) for f in self.free]
        self.help_hours = [0.0] * n
        self.is_centre = [node[u]["kind"] == "centre" for u in range(n)]
        self.is_merged = [node[u].get("desk") == "pooled" for u in range(n)]
        calendars = {name: make_calendar(s, name) for name in set(staff.calendar)}
        self.staff_calendar = [calendars[name] for name in staff.calendar]
        # Per member, their weekly calendar, or None for a 24/7 one: its answers are plain
        # arithmetic (next_open(t) = t, worked(t) = t, finish(t, w) = t + w), which the
        # engine does inline instead of calling the calendar.
        self.staff_weekly = [c if isinstance(c, WeeklyCalendar) else None
                             for c in self.staff_calendar]  # fmt: skip
        self.staff_speed = list(staff.speed)
        k = len(staff)
        self.busy_hours = [0.0] * k
        self.handled = [0] * k
        self.resolved_by = [0] * k
        self.on_time_by = [0] * k
        self.satisfied_by = [0] * k
        self.feedback_by = [0] * k
        self.finds_by = [0] * k

    def _setup_categories(self) -> None:
        s = self.scenario
        self.cat_limit = [c.time_limit_hours for c in s.categories]
        self.channel_limit = [c.time_limit_hours for c in s.channels] + [None, None]
        self.cat_to_department = [c.route == "department" for c in s.categories]
        self.cat_woman = [c.needs_woman for c in s.categories]
        self.cat_department = [c.department for c in s.categories]
        self.cat_enterprise = [c.kind == "enterprise" for c in s.categories]
        self.cat_desk = [DESK_INDEX[c.desk] if c.desk else -1 for c in s.categories]
        self.cat_joint = [
            sorted({self.county.department[c.department]}
                   | {self.county.department[d] for d in c.joint.departments})
            for c in s.categories
        ]  # fmt: skip
        self.channel_desk = [DESK_INDEX[c.desk] for c in s.channels] + [
            DESK_INDEX["grid_management"]
        ]
        self.level_factor = [s.levels.handling_factor.get(lvl, 1.0) for lvl in LEVELS]
        self.level_limit = [s.levels.time_limit_hours.get(lvl, math.inf) for lvl in LEVELS]
        self.visit_channel = len(s.channels)
        self.reopen_channel = len(s.channels) + 1
        # Scenario scalars read on every event, looked up once.
        self.merge_enabled = s.integration.enabled
        self.merge_window = s.integration.window_hours
        self.shirk = s.escalation.shirking_probability
        sup = s.supervision
        self.brush = (sup.brush_off_intercept - sup.accountability, sup.brush_off_per_gap,
                      sup.brush_off_per_waiting)  # fmt: skip
        self.brush_on = sup.brush_off_intercept - sup.accountability > -40
        self.callback = sup.callback_rate * sup.callback_detects
        self.callback_delay = sup.callback_delay_hours
        self.help_share = s.team.help_share
        self.handoff = s.centre.handoff_hours
        self.merged_handoff = s.centre.merged_handoff_hours
        self.grid_direct = s.centre.grid_direct_to_12345
        self.attempt = s.escalation.attempt_fraction
        self.misroute_hours = s.escalation.misroute_return_hours
        policy = s.externality.minority_negative_policy
        self.mediate = policy == "mediate"
        self.decline = policy == "decline"
        self.mediate_factor = s.externality.mediate_hours_factor
        self.borrow = s.team.no_woman_action == "borrow"
        self.borrow_delay = s.team.borrow_delay_hours
        self.business_priority = s.exclusive.business_priority
        sat = s.satisfaction
        self.sat = (sat.intercept, sat.per_day_to_resolve / 24, sat.per_escalation, sat.on_time,
                    sat.proactive, sat.declined)  # fmt: skip
        self.reopen_probability = sat.reopen_probability
        self.feedback_delay = sat.feedback_delay_hours

    # ------------------------------------------------------------------ hand-over

    def final_state(self) -> EngineState:
        """The run's bookkeeping, handed over once when it ends, for the tables.

        Called after :meth:`run`; the tables of a :class:`~gridsim.model.records.RunResult`
        are built from this record alone (:func:`gridsim.model.records.assemble_result`).
        """
        # Orders still in hand at the horizon are packed too, each at its row.
        for order in self.open_orders.values():
            self.order_rows.put(order.id, self.order_values(order))
        self.open_orders.clear()
        self.order_rows.set("false_closure_found", self.found_false, True)
        # The tables read neither the work nor the settling draws per level: a long run's
        # largest per-issue arrays go with the engine, before the tables are built.
        empty = np.empty((0, len(LEVELS)))
        issues = dataclasses.replace(self.issues, work=empty, u_settle=empty)
        return EngineState(
            scenario=self.scenario,
            county=self.county,
            issues=issues,
            horizon=self.horizon,
            orders=self.order_rows,
            appeal_rows=self.appeal_rows,
            issue_resolved=np.asarray(self.issue_resolved),  # the arrays the views write to
            issue_known=np.asarray(self.issue_known),
            staff_calendar=self.staff_calendar,
            busy_hours=self.busy_hours,
            handled=self.handled,
            resolved_by=self.resolved_by,
            on_time_by=self.on_time_by,
            satisfied_by=self.satisfied_by,
            feedback_by=self.feedback_by,
            finds_by=self.finds_by,
            help_hours=self.help_hours,
            false_closures=self.false_closures,
            log=self.log.columns(),
        )

    def discard(self) -> None:
        """Let go of the run's state once :meth:`final_state` has handed it over.

        The engine, its simpy clock and the events still queued at the horizon reference
        one another (an event's callback is a bound method of the engine), so without this
        everything the engine holds (orders, per-issue lists, the log's buffer) would wait
        for the cyclic garbage collector: seconds for a county-year, paid at whatever
        allocation comes next. Emptied here, it is freed at once by reference counting.
        """
        self.env._queue.clear()
        vars(self).clear()
