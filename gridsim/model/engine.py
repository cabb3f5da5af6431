"""The simpy model: dispatch, handle, escalate, resolve, feed back.

The engine knows nothing about files or plots. Its input is a Scenario, a built County and
the appeals drawn up front (``gridsim.model.appeals``); its output is its final state
(:meth:`Engine.final_state`), from which ``gridsim.model.records`` builds the tables of a
:class:`~gridsim.model.records.RunResult`.

Speed is by design: a unit is a multi-server station kept as plain lists, not a simpy
Resource, so an order costs one event per handling stage plus one for its arrival; lookups
are by unit id (no event does work that grows with the number of units); working hours are
a calendar calculation, not shift-change events. Time unit: hours; hour 0 is Monday 00:00.
"""

from __future__ import annotations

import math
from bisect import insort
from collections import deque
from collections.abc import Callable

import numpy as np
import simpy
from simpy.events import Timeout

from gridsim.model.appeals import Issues
from gridsim.model.calendar import make_calendar
from gridsim.model.capability import brush_off_probability
from gridsim.model.county import County
from gridsim.model.noticing import Arrivals
from gridsim.model.orders import EventLog, Order
from gridsim.model.policies import make_policy
from gridsim.model.records import EngineState
from gridsim.model.scenario import Scenario
from gridsim.model.vocabulary import (
    ARRIVE,
    BRUSH_OFF,
    CALLBACK,
    COUNTY,
    DESK_INDEX,
    DISPATCH,
    ESCALATE,
    FEEDBACK,
    GRID,
    HANDOFF,
    LEVELS,
    MERGE,
    MICROGRID,
    MINORITY_NEGATIVE,
    NO_LEVEL,
    REOPEN,
    RESOLVE,
    RETURN,
    START,
    TOWN,
)  # fmt: skip

RESOLVE_OUTCOME, ESCALATE_OUTCOME, RETURN_OUTCOME, BRUSH_OUTCOME = range(4)
PETITION_DESK, MEDIATION_DESK = DESK_INDEX["petition"], DESK_INDEX["mediation"]


class Engine:
    """One run of the model. Build with :func:`gridsim.simulate` rather than directly.

    Its state is private and per-event; when the run is over, :meth:`final_state` hands it
    over once, as a plain :class:`~gridsim.model.records.EngineState`, for the tables.
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
    ):
        self.scenario = scenario
        self.county = county
        self.issues = issues
        self.arrivals = arrivals
        self.rngs = rngs
        self.horizon = horizon
        self.env = simpy.Environment()
        self.log = EventLog(log_events)
        self.policy = make_policy(scenario)
        n_cat = len(scenario.categories)
        if settle is None:  # every unit settles everything (a textbook network)
            settle = np.ones((county.n_units, n_cat))
        # P(unit settles category), per unit a plain list: read on every handling.
        self.settle = settle.tolist()
        self._setup_units()
        self._setup_categories()
        # Plain Python lists: numpy scalars are several times slower in per-event code.
        self.arr_time = arrivals.time.tolist()
        self.arr_filed = arrivals.filed.tolist()
        self.arr_issue = arrivals.issue.tolist()
        self.arr_channel = arrivals.channel.tolist()
        self.arr_no_phone = arrivals.no_smartphone.tolist()
        # Per-issue values as plain lists, filled only for the issues that reach the engine
        # (about half: the others are settled on the spot, fade or are never known).
        seen = np.unique(arrivals.issue)
        (self.iss_work, self.iss_shirk, self.iss_route, self.iss_feedback, self.iss_origin,
         self.iss_category, self.iss_settle, self.iss_callback, self.iss_brush, self.iss_urgent,
         self.iss_joint, self.iss_externality) = issues.lists(
            ("work", "u_shirk", "u_route", "u_feedback", "origin", "category", "u_settle",
             "u_callback", "u_brush", "urgent", "joint", "externality"), seen)  # fmt: skip
        self.grid_of = county.grid_of.tolist()
        self.town_of = county.town_of.tolist()
        n = len(issues)
        self.issue_order: list[Order | None] = [None] * n
        # Issues settled on the spot when found are known and settled before the run sees
        # them (gridsim.model.noticing); every other issue is open until an order settles it.
        spot = np.where(issues.on_spot, issues.found + scenario.visits.hours_per_spot_settlement,
                        np.nan)  # fmt: skip
        self.issue_resolved = spot.tolist()
        self.issue_known = np.where(issues.on_spot, issues.found, np.nan).tolist()
        self.false_closures = 0
        self.orders: list[Order] = []
        # One tuple per appeal: (issue, order, channel, created, no_smartphone, merged).
        self.appeal_rows: list[tuple] = []

    # ------------------------------------------------------------------ set-up

    def _setup_units(self) -> None:
        c, s = self.county, self.scenario
        g = c.graph
        n = c.n_units
        staff = c.staff
        self.free: list[list[tuple[float, int]]] = [[] for _ in range(n)]
        self.queue: list[deque] = [deque() for _ in range(n)]
        self.priority_queue: list[deque] = [deque() for _ in range(n)]
        self.unit_has_woman: list[bool] = []
        self.unit_helpers: list[int] = []
        for u in range(n):
            members = g.nodes[u]["staff"]
            self.free[u] = sorted((staff.speed[m], m) for m in staff.resolvers(members))
            self.unit_helpers.append(sum("help" in staff.duties[m] for m in members))
            self.unit_has_woman.append(any(staff.female[m] for m in members))
        self.servers = [max(len(f), 1) for f in self.free]
        self.help_hours = [0.0] * n
        self.is_centre = [g.nodes[u]["kind"] == "centre" for u in range(n)]
        self.is_merged = [g.nodes[u].get("desk") == "pooled" for u in range(n)]
        calendars = {name: make_calendar(s, name) for name in set(staff.calendar)}
        self.staff_calendar = [calendars[name] for name in staff.calendar]
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

    # ------------------------------------------------------------------ running

    def run(self, progress: Callable[[float], None] | None = None) -> None:
        """Run to the horizon. ``progress`` is an optional callable taking simulated hours."""
        if len(self.arrivals):
            self._schedule_arrival(0)
        day = 24.0
        t = 0.0
        while t < self.horizon:
            t = min(t + day, self.horizon)
            self.env.run(until=t)
            if progress is not None:
                progress(t)

    def _schedule_arrival(self, i: int) -> None:
        ev = Timeout(self.env, self.arr_time[i] - self.env.now, i)
        ev.callbacks.append(self._on_arrival)

    def _on_arrival(self, ev: Timeout) -> None:
        i = ev._value
        if i + 1 < len(self.arr_time):
            self._schedule_arrival(i + 1)
        issue = self.arr_issue[i]
        if self.issue_resolved[issue] == self.issue_resolved[issue]:  # not NaN: already resolved
            return  # the household would not report an issue that is already fixed
        self._file_appeal(issue, self.arr_channel[i], self.arr_filed[i], self.arr_no_phone[i])

    def _file_appeal(self, issue: int, channel: int, filed: float, no_phone: bool) -> None:
        appeal = len(self.appeal_rows)
        open_order = self.issue_order[issue]
        merged = (
            open_order is not None
            and self.merge_enabled
            and filed - open_order.created <= self.merge_window
        )
        if self.issue_known[issue] != self.issue_known[issue]:
            self.issue_known[issue] = filed
        if merged and open_order is not None:
            oid = open_order.id
            open_order.appeals += 1
        else:
            oid = len(self.orders)
        self.appeal_rows.append((issue, oid, channel, filed, no_phone, merged))
        origin = self.iss_origin[issue]
        log = self.log.add
        log((filed, oid, appeal, ARRIVE, -1, origin, -1, channel))
        if merged:
            log((self.env.now, oid, appeal, MERGE, -1, origin, -1, 0.0))
            return
        order = self._new_order(oid, issue, channel, filed, open_order is not None)
        if channel == self.visit_channel:
            order.proactive = True
            finder = int(self.issues.finder[issue])  # rare: once per proactive find
            if finder >= 0:
                self.finds_by[finder] += 1
        if order.proactive or order.priority:
            # What grid staff find starts with the micro-grid; an exclusive grid answers its
            # enterprises itself, at any time.
            level = order.origin_level
        else:
            if self.policy.triages:
                order.settle_level = self._settle_level(order)
            level, order.misrouted = self.policy.first_level(
                order.origin_level, order.settle_level, order.urgent, self.iss_route[issue]
            )
        self._send(order, level)

    def _settle_level(self, order: Order) -> int:
        """The lowest level whose unit would settle the order: what triage aims at.

        Categories routed to their department (conduct complaints, organised-crime clues)
        go to the county; otherwise the platform's judgement is the capability draws.
        """
        if self.cat_to_department[order.category]:
            return COUNTY
        draws = self.iss_settle[order.issue]
        cat = order.category
        for level in range(order.origin_level, COUNTY):
            if draws[level] < self.settle[self._unit_for(order, level)][cat]:
                return level
        return COUNTY

    def _new_order(
        self, oid: int, issue: int, channel: int, created: float, duplicate: bool
    ) -> Order:
        cat = self.iss_category[issue]
        origin = self.iss_origin[issue]
        origin_level = MICROGRID if self.grid_of[origin] != origin else GRID
        desk = self.cat_desk[cat]
        if desk < 0:
            desk = self.channel_desk[min(channel, self.visit_channel)]
        order = Order(oid, issue, cat, channel, desk, origin, origin_level, created)
        order.settle_level = origin_level
        limit = self.channel_limit[channel]
        order.limit = self.cat_limit[cat] if limit is None else limit
        order.urgent = self.iss_urgent[issue]
        order.joint = self.iss_joint[issue]
        order.externality = ext = self.iss_externality[issue]
        order.priority = (
            self.business_priority and self.cat_enterprise[cat] and (origin_level == GRID)
        )
        if ext == MINORITY_NEGATIVE and self.mediate:
            order.desk = MEDIATION_DESK
        order.duplicate = duplicate
        self.orders.append(order)
        if not duplicate:
            self.issue_order[issue] = order
        return order

    def _unit_for(self, order: Order, level: int) -> int:
        if level == MICROGRID:
            return order.origin
        if level == GRID:
            return self.grid_of[order.origin]
        if level == TOWN:
            return self.county.town_desk[self.town_of[order.origin]][order.desk]
        if order.desk == PETITION_DESK or order.desk == MEDIATION_DESK:
            return self.county.county_desk[order.desk]
        return self.county.department[self.cat_department[order.category]]

    def _send(self, order: Order, level: int) -> None:
        """Send an order to the unit at ``level``; a shirking level passes it straight up."""
        if self.shirk > 0:
            draws = self.iss_shirk[order.issue]
            while level < COUNTY and draws[level] < self.shirk:
                unit = self._unit_for(order, level)
                self.log.add((self.env.now, order.id, -1, ESCALATE, level, unit, -1, 1.0))
                order.escalations += 1
                level += 1
        previous, order.level = order.level, level
        if level == COUNTY and order.joint and not order.misrouted:
            order.pending = list(self.cat_joint[order.category])
            self._request(order, order.pending.pop(0))
            return
        unit = self._unit_for(order, level)
        if self.is_centre[unit] and (
            previous != NO_LEVEL
            or order.desk != self.channel_desk[min(order.channel, self.visit_channel)]
        ):
            # Handed over between desks (or up from a grid): the four-party linkage of a
            # merged centre with one leader cuts the time (四方联动).
            merged = self.is_merged[unit] or (self.grid_direct and previous == GRID)
            delay = self.merged_handoff if merged else self.handoff
            if delay > 0:
                order.handoff_hours += delay
                self.log.add((self.env.now, order.id, -1, HANDOFF, level, unit, -1, delay))
                order.token += 1
                ev = Timeout(self.env, delay, (order, order.token, unit))
                ev.callbacks.append(self._on_handed_over)
                return
        self._request(order, unit)

    def _on_handed_over(self, ev: Timeout) -> None:
        order, token, unit = ev._value
        if order.token == token:
            self._request(order, unit)

    def _request(self, order: Order, unit: int) -> None:
        self.log.add((self.env.now, order.id, -1, DISPATCH, order.level, unit, -1, 0.0))
        free = self.free[unit]
        if free:
            self._granted(order, unit, free.pop()[1])
            return
        order.token += 1
        (self.priority_queue if order.priority else self.queue)[unit].append((order, order.token))
        if self.policy.uses_deadlines and order.level < COUNTY:
            ev = Timeout(self.env, self.level_limit[order.level], (order, order.token, unit))
            ev.callbacks.append(self._on_deadline)

    def _on_deadline(self, ev: Timeout) -> None:
        order, token, unit = ev._value
        if order.token != token:
            return  # no longer waiting there
        order.token += 1
        self.log.add((self.env.now, order.id, -1, ESCALATE, order.level, unit, -1, 2.0))
        order.escalations += 1
        self._send(order, order.level + 1)

    def _granted(self, order: Order, unit: int, staff: int) -> None:
        order.token += 1
        order.held.append((unit, staff))
        if order.pending:
            self._request(order, order.pending.pop(0))
            return
        self._start(order, unit, staff)

    def _start(self, order: Order, unit: int, staff: int) -> None:
        now = self.env.now
        level = order.level
        cal = self.staff_calendar[staff]
        if order.first_response != order.first_response:
            order.first_response = cal.next_open(now)
        outcome, work, delay = self._plan(order, unit, level)
        helped = 0.0
        if level == MICROGRID and self.unit_helpers[unit] and self.help_share > 0:
            # The "N" take a share of the work, so the leader finishes sooner.
            helped = work * self.help_share
            work -= helped
        finish = cal.finish(now, work / self.staff_speed[staff])
        # Busy time is work done inside the horizon only: an order still in hand when the run
        # ends counts the working hours up to the horizon, never its whole remaining work.
        end = finish if finish < self.horizon else self.horizon
        busy = self.busy_hours
        handled = self.handled
        for _, member in order.held:
            inside = self._work_inside(member, now, end, work)
            busy[member] += inside
            handled[member] += 1
        if helped:  # the helpers' share, done alongside, counted inside the horizon too
            self.help_hours[unit] += helped * (inside / work if work > 0 else 1.0)
        done = finish + delay
        self.log.add((now, order.id, -1, START, level, unit, staff, work))
        ev = Timeout(self.env, done - now, (order, outcome))
        ev.callbacks.append(self._on_done)

    def _work_inside(self, member: int, start: float, end: float, work: float) -> float:
        """Hours of ``work`` a member does between ``start`` and ``end`` (end <= horizon).

        At most the member's own working hours in that span times their speed: a member
        holds one order at a time, so these spans never overlap and their sum never exceeds
        ``calendar.worked(horizon) * speed``, the available hours; utilisation stays in
        [0, 1] by construction.
        """
        cal = self.staff_calendar[member]
        capacity = (cal.worked(end) - cal.worked(start)) * self.staff_speed[member]
        return work if work <= capacity else max(capacity, 0.0)

    def _plan(self, order: Order, unit: int, level: int) -> tuple[int, float, float]:
        """Decide what the unit will do with the order: (outcome, work hours, extra delay)."""
        base = self.iss_work[order.issue][level] * self.level_factor[level]
        if order.externality == MINORITY_NEGATIVE:
            if self.mediate:
                base *= self.mediate_factor
            elif self.decline:
                order.declined = True
                return RESOLVE_OUTCOME, base * self.attempt, 0.0
        if order.misrouted and level > order.settle_level:
            return RETURN_OUTCOME, self.misroute_hours, 0.0
        cat = order.category
        p = self.settle[unit][cat]
        if level < COUNTY and self.iss_settle[order.issue][level] >= p:
            if self.brush_on and self._brushes_off(order, unit, level, p):
                return BRUSH_OUTCOME, base * self.attempt, 0.0
            return ESCALATE_OUTCOME, base * self.attempt, 0.0
        if self.cat_woman[cat] and not self.unit_has_woman[unit] and level < COUNTY:
            if self.borrow:
                return RESOLVE_OUTCOME, base, self.borrow_delay
            return ESCALATE_OUTCOME, base * self.attempt, 0.0
        return RESOLVE_OUTCOME, base, 0.0

    def _brushes_off(self, order: Order, unit: int, level: int, p: float) -> bool:
        """Whether a unit that cannot settle the order closes it as "not compliant"."""
        waiting = len(self.queue[unit]) / self.servers[unit]
        return self.iss_brush[order.issue][level] < brush_off_probability(self.brush, p, waiting)

    def _on_done(self, ev: Timeout) -> None:
        order, outcome = ev._value
        held, order.held = order.held, []
        level = order.level
        main_unit, main_staff = held[0]
        for unit, staff in held:
            self._release(unit, staff)
        if outcome == RESOLVE_OUTCOME:
            self._resolve(order, level, main_unit, main_staff)
        elif outcome == BRUSH_OUTCOME:
            order.brushed_off = True
            self.log.add((self.env.now, order.id, -1, BRUSH_OFF, level, main_unit, main_staff, 0.0))
            self._resolve(order, level, main_unit, main_staff)
        elif outcome == RETURN_OUTCOME:
            self.log.add((self.env.now, order.id, -1, RETURN, level, main_unit, main_staff, 0.0))
            order.misrouted = False
            self._send(order, order.settle_level)
        else:
            self.log.add((self.env.now, order.id, -1, ESCALATE, level, main_unit, main_staff, 0.0))
            order.escalations += 1
            self._send(order, level + 1 if level < COUNTY else COUNTY)

    def _release(self, unit: int, staff: int) -> None:
        for q in (self.priority_queue[unit], self.queue[unit]):
            while q:
                order, token = q.popleft()
                if order.token == token:
                    self._granted(order, unit, staff)
                    return
        insort(self.free[unit], (self.staff_speed[staff], staff))

    def _resolve(self, order: Order, level: int, unit: int, staff: int) -> None:
        """Close the order. A brushed-off or declined order is closed but the issue stays open."""
        now = self.env.now
        order.resolved = now
        order.resolved_level = level
        elapsed = now - order.created
        on_time = elapsed <= order.limit
        order.on_time = 1.0 if on_time else 0.0
        issue = order.issue
        if self.issue_order[issue] is order:
            self.issue_order[issue] = None
        settled = not (order.brushed_off or order.declined)
        if settled:
            if self.issue_resolved[issue] != self.issue_resolved[issue]:
                self.issue_resolved[issue] = now
            # Points go to settled orders only: a declined or brushed-off order earns none.
            self.resolved_by[staff] += 1
            self.on_time_by[staff] += on_time
        log = self.log.add
        log((now, order.id, -1, RESOLVE, level, unit, staff, 0.0 if settled else 1.0))
        c0, per_hour, per_escalation, c_on_time, c_proactive, c_declined = self.sat
        score = c0 + per_hour * elapsed + per_escalation * order.escalations
        if on_time:
            score += c_on_time
        if order.proactive:
            score += c_proactive
        if not settled:
            score += c_declined
        if order.channel == self.reopen_channel:
            u = self.rngs["feedback"].random()
        else:
            u = self.iss_feedback[issue]
        # u < logistic(score), written so that no exp() can overflow.
        satisfied = u < 1.0 / (1.0 + math.exp(-score)) if score > -700 else False
        order.satisfied = 1.0 if satisfied else 0.0
        self.satisfied_by[staff] += satisfied
        self.feedback_by[staff] += 1
        log((now, order.id, -1, FEEDBACK, level, unit, staff, order.satisfied))
        if order.brushed_off and self.iss_callback[issue] < self.callback:
            # The centre's callback (回访) finds the false closure (责任倒查).
            ev = Timeout(self.env, self.callback_delay, (order, level))
            ev.callbacks.append(self._on_callback)
        elif not satisfied and not order.duplicate and self.reopen_probability > 0:
            if self.rngs["feedback"].random() < self.reopen_probability:
                ev = Timeout(self.env, self.feedback_delay, (order, level))
                ev.callbacks.append(self._on_reopen)

    def _on_callback(self, ev: Timeout) -> None:
        previous, level = ev._value
        if self.issue_order[previous.issue] is not None:
            return  # a new order for the issue is already open
        previous.false_closure_found = True
        self.false_closures += 1
        self.log.add((self.env.now, previous.id, -1, CALLBACK, level, -1, -1, 0.0))
        self._reissue(previous, level)

    def _on_reopen(self, ev: Timeout) -> None:
        previous, level = ev._value
        if self.issue_order[previous.issue] is not None:
            return
        self.log.add((self.env.now, previous.id, -1, REOPEN, level, -1, -1, 0.0))
        self._reissue(previous, level)

    def _reissue(self, previous: Order, level: int) -> None:
        """Open a new order for a reopened issue, one level above the one that closed it."""
        issue = previous.issue
        self.issue_resolved[issue] = math.nan
        now = self.env.now
        appeal = len(self.appeal_rows)
        oid = len(self.orders)
        self.appeal_rows.append((issue, oid, self.reopen_channel, now, False, False))
        self.log.add((now, oid, appeal, ARRIVE, -1, previous.origin, -1, self.reopen_channel))
        order = self._new_order(oid, issue, self.reopen_channel, now, False)
        order.desk = previous.desk
        self._send(order, min(max(level + 1, order.origin_level), COUNTY))

    # ------------------------------------------------------------------ hand-over

    def final_state(self) -> EngineState:
        """The run's bookkeeping, handed over once when it ends, for the tables.

        Called after :meth:`run`; the tables of a :class:`~gridsim.model.records.RunResult`
        are built from this record alone (:func:`gridsim.model.records.assemble_result`).
        """
        return EngineState(
            scenario=self.scenario,
            county=self.county,
            issues=self.issues,
            horizon=self.horizon,
            orders=self.orders,
            appeal_rows=self.appeal_rows,
            issue_resolved=self.issue_resolved,
            issue_known=self.issue_known,
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
