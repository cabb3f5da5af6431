"""The engine's simpy clock: a sorted stream of arrivals merged into simpy's event queue.

Every appeal is drawn before the run starts (``gridsim.model.noticing``), so the arrivals are
a sorted list of times known up front. Giving each one a simpy ``Timeout`` would cost an
event object, a heap push and a pop per appeal for nothing: :meth:`Clock.run_merged` walks
the sorted list side by side with simpy's queue instead, and hands each arrival to the
engine directly when its turn comes. Everything else (handling stages, hand-offs,
deadlines, callbacks) stays ordinary simpy events in simpy's queue.

Tie rule (deterministic, and the same order simpy itself gave when each arrival was a
``Timeout``): arrival ``i`` takes its place in the queue as if it were a ``NORMAL`` timeout
scheduled when arrival ``i - 1`` was handled (the first one when the run starts). It draws
its event id from simpy's counter at that moment, and simpy orders equal times by
(priority, event id): so at equal times an arrival comes after the events scheduled before
the previous arrival was handled and before those scheduled after.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.events import NORMAL, Event


class Wake(Event):
    """A simpy event that is triggered at birth and calls one callback: the engine's timers.

    A ``simpy.events.Timeout`` costs a constructor call with five attribute sets and a call
    of ``Environment.schedule``; the engine creates one per handling stage, so
    :meth:`Clock.wake` builds this lighter event in place. It is a real simpy event
    (``callbacks``, ``_value`` and ``_ok``), so ``Environment.step`` processes it like any
    other.
    """

    # Triggered and successful from the start, like a Timeout (a class default: one store
    # fewer per event).
    _ok = True

    def __init__(self, env: simpy.Environment, callback: Callable[[Any], None], value: Any):
        self.env = env
        self.callbacks = [callback]
        self._value = value


class Clock(simpy.Environment):
    """A ``simpy.Environment`` that also runs a sorted stream of arrivals (see the module)."""

    def __init__(self, initial_time: float = 0):
        super().__init__(initial_time)
        # Event id the pending arrival drew (-1: none yet), kept between calls of run_merged.
        self._arrival_eid = -1

    def wake(self, delay: float, callback: Callable[[Any], None], value: Any) -> None:
        """Call ``callback(event)`` after ``delay`` hours; ``event._value`` is ``value``.

        The event's time is ``now + delay``, computed as simpy computes a Timeout's, so the
        clock reads exactly what it would with ``Timeout(env, delay, value)``.
        """
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        event = Wake(self, callback, value)
        heappush(self._queue, (self._now + delay, NORMAL, next(self._eid), event))

    def run_merged(
        self,
        times: Sequence[float],
        arrive: Callable[[int], None],
        until: float,
        start: int = 0,
    ) -> int:
        """Process events and arrivals in time order up to (not including) ``until``.

        Args:
            times: arrival times, sorted ascending.
            arrive: called with the arrival's index when its turn comes, with ``now`` set to
                its time.
            until: stop before anything at or after this time (a later call resumes).
            start: index of the next arrival (what the previous call returned).

        Returns:
            The index of the next arrival not yet handled.
        """
        queue = self._queue
        eid = self._eid
        n = len(times)
        i = start
        # The pending arrival's key, (time, event id), as if it were a NORMAL Timeout.
        if i < n:
            if self._arrival_eid < 0:  # the first arrival is "scheduled" when the run starts
                self._arrival_eid = next(eid)
            at, arrival_eid = times[i], self._arrival_eid
        else:
            at, arrival_eid = until, 0
        while True:
            if queue:
                head = queue[0]
                t = head[0]
                if t < at or (t == at and (head[1] < NORMAL or head[2] < arrival_eid)):
                    if t >= until:
                        break
                    # simpy's Environment.step(), inlined: one call fewer per event.
                    self._now = t
                    event = heappop(queue)[3]
                    callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
                    for callback in callbacks:
                        callback(event)
                    if not event._ok and not hasattr(event, "_defused"):
                        exc = type(event._value)(*event._value.args)
                        exc.__cause__ = event._value
                        raise exc
                    continue
            if i >= n or at >= until:
                break
            self._now = at
            # The next arrival is "scheduled" now, before this one is handled (see the module).
            k = i
            i += 1
            if i < n:
                at = times[i]
                self._arrival_eid = arrival_eid = next(eid)
            else:
                at, arrival_eid = until, 0
            arrive(k)
        self._now = until  # where simpy's run(until) leaves the clock
        return i

