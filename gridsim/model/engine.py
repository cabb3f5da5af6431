"""The simpy model: dispatch, handle, escalate, resolve, feed back.

The engine knows nothing about files or plots. Its input is a Scenario, a built County and
the appeals drawn up front (``gridsim.model.appeals``); its output is its final state
(:meth:`Engine.final_state`), from which ``gridsim.model.records`` builds the tables of a
:class:`~gridsim.model.records.RunResult`.

Speed is by design: a unit is a multi-server station kept as plain lists, not a simpy
Resource, so an order costs one simpy event per handling stage; the arrivals, drawn and
sorted up front, are merged into simpy's queue without an event each
(``gridsim.model.clock``); lookups are by unit id (no event does work that grows with the
number of units); working hours are a calendar calculation, not shift-change events, and a
24/7 calendar is plain arithmetic. The handling of a stage (dispatch, plan, start) is one
function, not five: at a few microseconds per stage, Python calls are the cost. Time unit:
hours; hour 0 is Monday 00:00.
"""

from __future__ import annotations

import math
from bisect import insort
from collections import deque
from collections.abc import Callable
from typing import Any

from gridsim.model.capability import brush_off_probability
from gridsim.model.engine_setup import EngineSetup
from gridsim.model.orders import Order
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


class Engine(EngineSetup):
    """One run of the model. Build with :func:`gridsim.simulate` rather than directly.

    Its state is private and per-event (set up in :class:`~gridsim.model.engine_setup.
    EngineSetup`); when the run is over, :meth:`final_state` hands it over once, as a plain
    :class:`~gridsim.model.records.EngineState`, for the tables.
    """

    # ------------------------------------------------------------------ running

    def run(self, progress: Callable[[float], None] | None = None) -> None:
        """Run to the horizon. ``progress`` is an optional callable taking simulated hours.

        The run goes a simulated day at a time; after each day a streamed event log
        (``log_sink``) is flushed if it holds enough rows, and ``progress`` is told.
        """
        env, log = self.env, self.log
        times, arrive = self.arr_time, self._arrive
        i = 0
        t = 0.0
        while t < self.horizon:
            t = min(t + 24.0, self.horizon)
            i = env.run_merged(times, arrive, t, i)
            log.flush()
            if progress is not None:
                progress(t)
        log.flush(everything=True)

    def _arrive(self, i: int) -> None:
        """Arrival ``i`` reaches the platform: file it as an appeal, open or merge an order."""
        issue = self.arr_issue[i]
        resolved = self.issue_resolved[issue]
        if resolved == resolved:  # not NaN: already resolved
            return  # the household would not report an issue that is already fixed
        filed = self.arr_filed[i]
        channel = self.arr_channel[i]
        appeal = self.n_appeals
        self.n_appeals = appeal + 1
        open_order = self.issue_order[issue]
        merged = (
            open_order is not None
            and self.merge_enabled
            and filed - open_order.created <= self.merge_window
        )
        known = self.issue_known
        if known[issue] != known[issue]:
            known[issue] = filed
        if merged and open_order is not None:
            oid = open_order.id
            open_order.appeals += 1
        else:
            oid = self.n_orders
        self.appeal_write(self.appeal_pack(issue, oid, channel, filed, self.arr_no_phone[i],
                                           merged))  # fmt: skip
        origin = self.iss_origin[issue]
        log, pack = self.log_write, self.log_pack
        log(pack(filed, oid, appeal, ARRIVE, -1, origin, -1, channel))
        if merged:
            log(pack(self.env._now, oid, appeal, MERGE, -1, origin, -1, 0.0))
            return
        order = self._new_order(oid, issue, channel, filed, open_order is not None)
        if channel == self.visit_channel:
            order.proactive = True
            finder = int(self.issues.finder[issue])  # rare: once per proactive find
            if finder >= 0:
                self.finds_by[finder] += 1
        if order.proactive or order.priority or self.ladder:
            # What grid staff find starts with the micro-grid; an exclusive grid answers its
            # enterprises itself, at any time; a ladder starts every order at the bottom.
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
        draws, issue = self.iss_settle, order.issue
        cat = order.category
        for level in range(order.origin_level, COUNTY):
            if draws[issue, level] < self.settle[self._unit_for(order, level), cat]:
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
        ext = self.iss_externality[issue]
        if ext == MINORITY_NEGATIVE and self.mediate:
            desk = MEDIATION_DESK
        limit = self.channel_limit[channel]
        order = Order(
            oid, issue, cat, channel, desk, origin, origin_level, created,
            self.cat_limit[cat] if limit is None else limit, self.iss_urgent[issue],
            self.iss_joint[issue], ext,
            self.business_priority and self.cat_enterprise[cat] and origin_level == GRID,
            duplicate,
        )  # fmt: skip
        self.open_orders[oid] = order
        self.n_orders = oid + 1
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
            draws, issue = self.iss_shirk, order.issue
            while level < COUNTY and draws[issue, level] < self.shirk:
                unit = self._unit_for(order, level)
                self._note(ESCALATE, order.id, level, unit, -1, 1.0)
                order.escalations += 1
                level += 1
        previous, order.level = order.level, level
        if level == COUNTY and order.joint and not order.misrouted:
            order.pending = list(self.cat_joint[order.category])
            self._dispatch(order, order.pending.pop(0))
            return
        unit = order.origin if level == MICROGRID else self._unit_for(order, level)
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
                self._note(HANDOFF, order.id, level, unit, -1, delay)
                order.token += 1
                self.env.wake(delay, self._on_handed_over, (order, order.token, unit))
                return
        self._dispatch(order, unit)

    def _on_handed_over(self, ev: Any) -> None:
        order, token, unit = ev._value
        if order.token == token:
            self._dispatch(order, unit)

    def _dispatch(self, order: Order, unit: int) -> None:
        """Hand the order to the unit: a free member starts on it, or it waits in line."""
        self.log_write(self.log_pack(self.env._now, order.id, -1, DISPATCH, order.level, unit, -1,
                                     0.0))  # fmt: skip
        free = self.free[unit]
        if free:
            self._granted(order, unit, free.pop()[1])
            return
        order.token += 1
        queues = self.priority_queue if order.priority else self.queue
        line = queues.get(unit)
        if line is None:
            line = queues[unit] = deque()
        line.append((order, order.token))
        if self.policy.uses_deadlines and order.level < COUNTY:
            self.env.wake(self.level_limit[order.level], self._on_deadline,
                          (order, order.token, unit))  # fmt: skip

    def _on_deadline(self, ev: Any) -> None:
        order, token, unit = ev._value
        if order.token != token:
            return  # no longer waiting there
        order.token += 1
        self._note(ESCALATE, order.id, order.level, unit, -1, 2.0)
        order.escalations += 1
        self._send(order, order.level + 1)

    def _granted(self, order: Order, unit: int, staff: int) -> None:
        """A member (free, or freed by another order) takes the order."""
        order.token += 1
        order.held.append((unit, staff))
        if order.pending:  # a joint order: every department takes part
            self._dispatch(order, order.pending.pop(0))
            return
        self._start(order, unit, staff)

    def _start(self, order: Order, unit: int, staff: int) -> None:
        """Decide what the unit will do with the order, book the work, schedule its end."""
        env = self.env
        now = env._now
        level = order.level
        issue = order.issue
        weekly = self.staff_weekly
        cal = weekly[staff]
        if order.first_response != order.first_response:
            order.first_response = now if cal is None else cal.next_open(now)
        # The plan: (outcome, work hours, extra delay).
        work = self.iss_work[issue, level] * self.level_factor[level]
        outcome = RESOLVE_OUTCOME
        delay = 0.0
        if order.externality == MINORITY_NEGATIVE or order.misrouted:
            outcome, work, delay = self._plan_special(order, unit, level, work)
        else:
            cat = order.category
            p = self.settle[unit, cat]
            if level < COUNTY and self.iss_settle[issue, level] >= p:
                outcome = ESCALATE_OUTCOME
                if self.brush_on and self._brushes_off(order, unit, level, p):
                    outcome = BRUSH_OUTCOME
                work = work * self.attempt
            elif self.cat_woman[cat] and not self.unit_has_woman[unit] and level < COUNTY:
                outcome, work, delay = self._plan_no_woman(work)
        helped = 0.0
        if level == MICROGRID and self.unit_helpers[unit] and self.help_share > 0:
            # The "N" take a share of the work, so the leader finishes sooner.
            helped = work * self.help_share
            work -= helped
        speed = self.staff_speed
        w = work / speed[staff]
        if cal is None:
            finish = now + w
        else:  # WeeklyCalendar.finish(now, w), keeping worked(now) for the busy hours below
            worked_now = cal.worked(now)
            finish = now if w <= 0 else math.inf if w == math.inf else cal.time_at(worked_now + w)
        # Busy time is work done inside the horizon only: an order still in hand when the run
        # ends counts the working hours up to the horizon, never its whole remaining work.
        horizon = self.horizon
        end = finish if finish < horizon else horizon
        busy = self.busy_hours
        handled = self.handled
        inside = 0.0
        for _, member in order.held:
            # At most the member's own working hours in the span times their speed: a member
            # holds one order at a time, so these spans never overlap and their sum never
            # exceeds calendar.worked(horizon) × speed, the available hours; utilisation
            # stays in [0, 1] by construction.
            mcal = weekly[member]
            if mcal is None:
                capacity = (end - now) * speed[member]
            elif member == staff:
                capacity = (mcal.worked(end) - worked_now) * speed[member]
            else:
                capacity = (mcal.worked(end) - mcal.worked(now)) * speed[member]
            inside = work if work <= capacity else max(capacity, 0.0)
            busy[member] += inside
            handled[member] += 1
        if helped:  # the helpers' share, done alongside, counted inside the horizon too
            self.help_hours[unit] += helped * (inside / work if work > 0 else 1.0)
        self.log_write(self.log_pack(now, order.id, -1, START, level, unit, staff, work))
        # The clock's time is now + (done - now), as a Timeout of that delay would have it.
        env.wake(finish + delay - now, self._on_done, (order, outcome))

    def _plan_special(
        self, order: Order, unit: int, level: int, base: float
    ) -> tuple[int, float, float]:
        """The plan for a minority-interest or misrouted order: (outcome, work, delay)."""
        if order.externality == MINORITY_NEGATIVE:
            if self.mediate:
                base *= self.mediate_factor
            elif self.decline:
                order.declined = True
                return RESOLVE_OUTCOME, base * self.attempt, 0.0
        if order.misrouted and level > order.settle_level:
            return RETURN_OUTCOME, self.misroute_hours, 0.0
        cat = order.category
        p = self.settle[unit, cat]
        if level < COUNTY and self.iss_settle[order.issue, level] >= p:
            if self.brush_on and self._brushes_off(order, unit, level, p):
                return BRUSH_OUTCOME, base * self.attempt, 0.0
            return ESCALATE_OUTCOME, base * self.attempt, 0.0
        if self.cat_woman[cat] and not self.unit_has_woman[unit] and level < COUNTY:
            return self._plan_no_woman(base)
        return RESOLVE_OUTCOME, base, 0.0

    def _plan_no_woman(self, base: float) -> tuple[int, float, float]:
        """A unit with no woman on an order that needs one: borrow one, or pass it up."""
        if self.borrow:
            return RESOLVE_OUTCOME, base, self.borrow_delay
        return ESCALATE_OUTCOME, base * self.attempt, 0.0

    def _brushes_off(self, order: Order, unit: int, level: int, p: float) -> bool:
        """Whether a unit that cannot settle the order closes it as "not compliant"."""
        line = self.queue.get(unit)
        waiting = (len(line) if line else 0) / self.servers[unit]
        return self.iss_brush[order.issue, level] < brush_off_probability(self.brush, p, waiting)

    def _on_done(self, ev: Any) -> None:
        order, outcome = ev._value
        held = order.held
        order.held = []
        level = order.level
        main_unit, main_staff = held[0]
        for unit, staff in held:
            if unit in self.priority_queue or unit in self.queue:
                self._release(unit, staff)
            else:  # nobody waiting: the member is free again
                insort(self.free[unit], (self.staff_speed[staff], staff))
        if outcome == RESOLVE_OUTCOME:
            self._resolve(order, level, main_unit, main_staff)
        elif outcome == ESCALATE_OUTCOME:
            self.log_write(self.log_pack(self.env._now, order.id, -1, ESCALATE, level, main_unit,
                                         main_staff, 0.0))  # fmt: skip
            order.escalations += 1
            self._send(order, level + 1 if level < COUNTY else COUNTY)
        elif outcome == BRUSH_OUTCOME:
            order.brushed_off = True
            self._note(BRUSH_OFF, order.id, level, main_unit, main_staff, 0.0)
            self._resolve(order, level, main_unit, main_staff)
        else:  # RETURN_OUTCOME
            self._note(RETURN, order.id, level, main_unit, main_staff, 0.0)
            order.misrouted = False
            self._send(order, order.settle_level)

    def _release(self, unit: int, staff: int) -> None:
        """A member is done: the next order waiting at the unit (still there) is theirs."""
        for queues in (self.priority_queue, self.queue):
            line = queues.get(unit)
            if line is None:
                continue
            while line:
                order, token = line.popleft()
                if order.token == token:
                    if not line:
                        del queues[unit]
                    self._granted(order, unit, staff)
                    return
            del queues[unit]  # only orders that had left it (their token moved on)
        insort(self.free[unit], (self.staff_speed[staff], staff))

    def _resolve(self, order: Order, level: int, unit: int, staff: int) -> None:
        """Close the order. A brushed-off or declined order is closed but the issue stays open."""
        now = self.env._now
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
            resolved = self.issue_resolved
            if resolved[issue] != resolved[issue]:
                resolved[issue] = now
            # Points go to settled orders only: a declined or brushed-off order earns none.
            self.resolved_by[staff] += 1
            self.on_time_by[staff] += on_time
        log, pack = self.log_write, self.log_pack
        log(pack(now, order.id, -1, RESOLVE, level, unit, staff, 0.0 if settled else 1.0))
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
        log(pack(now, order.id, -1, FEEDBACK, level, unit, staff, order.satisfied))
        # The order is closed: packed into a row, it is let go (what follows reads only its
        # issue, origin and desk, from the object the callback or reopening holds).
        del self.open_orders[order.id]
        self.order_rows.put(order.id, self.order_values(order))  # row k is order k
        if order.brushed_off and self.iss_callback[issue] < self.callback:
            # The centre's callback (回访) finds the false closure (责任倒查).
            self.env.wake(self.callback_delay, self._on_callback, (order, level))
        elif not satisfied and not order.duplicate and self.reopen_probability > 0:
            if self.rngs["feedback"].random() < self.reopen_probability:
                self.env.wake(self.feedback_delay, self._on_reopen, (order, level))

    def _note(self, event: int, oid: int, level: int, unit: int, staff: int, value: float) -> None:
        """Log an event of an order, now (the rarer events: the hot path writes inline)."""
        self.log_write(self.log_pack(self.env._now, oid, -1, event, level, unit, staff, value))

    def _on_callback(self, ev: Any) -> None:
        previous, level = ev._value
        if self.issue_order[previous.issue] is not None:
            return  # a new order for the issue is already open
        self.found_false.append(previous.id)  # its row is packed already: set at the end
        self.false_closures += 1
        self._note(CALLBACK, previous.id, level, -1, -1, 0.0)
        self._reissue(previous, level)

    def _on_reopen(self, ev: Any) -> None:
        previous, level = ev._value
        if self.issue_order[previous.issue] is not None:
            return
        self._note(REOPEN, previous.id, level, -1, -1, 0.0)
        self._reissue(previous, level)

    def _reissue(self, previous: Order, level: int) -> None:
        """Open a new order for a reopened issue, one level above the one that closed it."""
        issue = previous.issue
        self.issue_resolved[issue] = math.nan
        now = self.env._now
        appeal = self.n_appeals
        self.n_appeals = appeal + 1
        oid = self.n_orders
        self.appeal_write(self.appeal_pack(issue, oid, self.reopen_channel, now, False, False))
        self.log_write(self.log_pack(now, oid, appeal, ARRIVE, -1, previous.origin, -1,
                                     self.reopen_channel))  # fmt: skip
        order = self._new_order(oid, issue, self.reopen_channel, now, False)
        order.desk = previous.desk
        self._send(order, min(max(level + 1, order.origin_level), COUNTY))
