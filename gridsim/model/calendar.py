"""Working calendars: when staff work, and how long a piece of work takes on the clock.

Work is preemptive-resume over a weekly calendar: an order started at 17:00 with two hours of
work left and an office closing at 17:30 is finished at 10:00 the next working morning. A
calendar answers that in O(log k) for k working intervals per week, with no simulation events
for shift changes. Hour 0 of a run is Monday 00:00.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

from gridsim.model.scenario import Scenario

WEEK = 168.0
#: Hours in a year and an average month: the conversions every rate and wage uses.
HOURS_PER_YEAR = 8760.0
HOURS_PER_MONTH = HOURS_PER_YEAR / 12


class AlwaysOn:
    """A calendar with no closed hours (the 24/7 case, and queueing-theory checks)."""

    hours_per_week = WEEK

    def finish(self, t: float, work: float) -> float:
        """Clock time at which ``work`` working hours started at ``t`` are done."""
        return t + work

    def next_open(self, t: float) -> float:
        """The first working instant at or after ``t``."""
        return t

    def worked(self, t: float) -> float:
        """Working hours between time 0 and ``t``."""
        return t


class WeeklyCalendar:
    """The same working hours on each listed weekday.

    Example:
        >>> cal = WeeklyCalendar([0, 1, 2, 3, 4], 8.5, 17.5)
        >>> cal.finish(17.0, 2.0)  # Monday 17:00 + 2 h of work -> Tuesday 10:00
        34.0
    """

    def __init__(self, workdays: Sequence[int], start_hour: float, end_hour: float):
        days = sorted(set(workdays))
        self.starts = [d * 24 + start_hour for d in days]
        self.lengths = [end_hour - start_hour] * len(days)
        self.cum = [sum(self.lengths[:i]) for i in range(len(days))]
        self.hours_per_week = sum(self.lengths)

    def worked(self, t: float) -> float:
        """Working hours between time 0 and ``t``."""
        weeks, r = divmod(t, WEEK)
        i = bisect_right(self.starts, r) - 1
        within = 0.0 if i < 0 else self.cum[i] + min(r - self.starts[i], self.lengths[i])
        return weeks * self.hours_per_week + within

    def time_at(self, w: float) -> float:
        """The earliest clock time by which ``w`` working hours have elapsed."""
        weeks, r = divmod(w, self.hours_per_week)
        j = bisect_right(self.cum, r) - 1
        return weeks * WEEK + self.starts[j] + (r - self.cum[j])

    def finish(self, t: float, work: float) -> float:
        """Clock time at which ``work`` working hours started at ``t`` are done."""
        if work <= 0:
            return t
        if work == math.inf:
            return math.inf  # never done (a huge handling sigma can draw infinite work)
        return self.time_at(self.worked(t) + work)

    def next_open(self, t: float) -> float:
        """The first working instant at or after ``t``."""
        return max(t, self.time_at(self.worked(t) + 1e-9) - 1e-9)


def make_calendar(scenario: Scenario, name: str) -> AlwaysOn | WeeklyCalendar:
    """The calendar called ``name`` in the scenario (``always`` is built in)."""
    if name == "always":
        return AlwaysOn()
    c = scenario.calendars[name]
    if len(set(c.workdays)) == 7 and c.start_hour == 0 and c.end_hour == 24:
        return AlwaysOn()
    return WeeklyCalendar(c.workdays, c.start_hour, c.end_hour)


def calendar_hours_per_week(scenario: Scenario, name: str) -> float:
    """Working hours per week of a named calendar."""
    return make_calendar(scenario, name).hours_per_week
