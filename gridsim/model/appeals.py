"""Latent issues and the appeals that report them, drawn up front with numpy.

Everything that does not depend on how the hierarchy handles an order is drawn here, in
vectorised form, before the simulation starts: when and where issues arise (a
non-homogeneous Poisson process per category with daily and weekly profiles), how many
households they affect, which of those households report, through which channel and after
what delay (the technology gap included), when a visit or a screening would find the issue
first (未诉先办), the work each level would need, and when an unresolved issue would turn into
an incident. Each purpose has its own random stream, so switching a policy never shifts the
arrival stream (common random numbers).

Time unit: hours; hour 0 is Monday 00:00.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gridsim.model.calendar import HOURS_PER_MONTH, HOURS_PER_YEAR
from gridsim.model.county import County, visits_per_household_month
from gridsim.model.scenario import Scenario
from gridsim.model.vocabulary import (
    COUNTY,
    GRID,
    LEVELS,
    MICROGRID,
    MINORITY_NEGATIVE,
    NO_EXTERNALITY,
    POSITIVE,
)

#: Households affected from which an issue counts as serving many (positive externality).
MANY_HOUSEHOLDS = 3


def rate_profile(
    scenario: Scenario, daily: Sequence[float] | None, weekly: Sequence[float] | None
) -> np.ndarray:
    """Hour-of-week rate multipliers (168 values, mean 1)."""
    d = np.asarray(daily or scenario.arrivals.daily_profile, dtype=float)
    w = np.asarray(weekly or scenario.arrivals.weekly_profile, dtype=float)
    profile = (w[:, None] / w.mean() * (d[None, :] / d.mean())).ravel()
    return profile / profile.mean()


@dataclass
class Issues:
    """Per-issue arrays (one entry per latent issue, in order of arising)."""

    arose: np.ndarray
    category: np.ndarray
    origin: np.ndarray
    households: np.ndarray
    urgent: np.ndarray
    joint: np.ndarray
    authority: np.ndarray
    externality: np.ndarray
    incident_budget: np.ndarray  # Exp(1) hazard budget; inf where the category has no hazard
    incident_scale: np.ndarray  # Weibull scale (hours) of the incident hazard
    incident_shape: np.ndarray  # Weibull shape
    work: np.ndarray  # (n, len(LEVELS)): work hours at each level, before level factors
    u_shirk: np.ndarray  # (n, len(LEVELS)): uniform draws, one per level, for shirking
    u_route: np.ndarray
    u_feedback: np.ndarray
    finder: np.ndarray  # staff id credited with a proactive find, -1 if none
    first_report: np.ndarray  # first household report (inf if none), set by draw_arrivals

    def __len__(self) -> int:
        return len(self.arose)


@dataclass
class Arrivals:
    """Appeals in the order the platform sees them (sorted by ``time``).

    ``time`` is when the order reaches the platform's dispatcher (filed + channel's dispatch
    delay); ``filed`` is when the resident filed it. ``channel`` indexes the scenario's
    channels; ``len(channels)`` means a proactive visit find.
    """

    time: np.ndarray
    filed: np.ndarray
    issue: np.ndarray
    channel: np.ndarray
    no_smartphone: np.ndarray

    def __len__(self) -> int:
        return len(self.time)


def draw_issues(
    s: Scenario, county: County, horizon: float, rngs: dict[str, np.random.Generator]
) -> Issues:
    """Draw every latent issue that arises before ``horizon`` hours."""
    rng = rngs["issues"]
    origin_units = county.origin_units
    graph = county.graph
    is_exclusive = np.array([graph.nodes[u]["kind"] == "exclusive_grid" for u in origin_units])
    population = np.array([graph.nodes[u]["population"] for u in origin_units], dtype=float)
    hours = np.arange(int(np.ceil(horizon)))
    residential = np.where(is_exclusive, 0.0, population)
    residential = residential / residential.sum()
    parts = []
    for k, cat in enumerate(s.categories):
        per_hour = cat.issues_per_1000_residents_per_year * s.population / 1000 / HOURS_PER_YEAR
        if per_hour == 0:
            continue
        profile = rate_profile(s, cat.daily_profile, cat.weekly_profile)[hours % 168]
        counts = rng.poisson(per_hour * profile)
        times = np.repeat(hours, counts) + rng.random(counts.sum())
        times = times[times < horizon]
        if cat.origin == "exclusive":
            pool = origin_units[is_exclusive]
            where = pool[rng.integers(0, len(pool), len(times))]
        else:
            where = origin_units[rng.choice(len(origin_units), len(times), p=residential)]
        parts.append((times, np.full(len(times), k), where))
    arose = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
    category = np.concatenate([p[1] for p in parts]).astype(np.int64) if parts else np.zeros(0, int)
    origin = np.concatenate([p[2] for p in parts]).astype(np.int64) if parts else np.zeros(0, int)
    order = np.argsort(arose, kind="stable")
    arose, category, origin = arose[order], category[order], origin[order]
    return _issue_attributes(s, county, arose, category, origin, rngs)


def _issue_attributes(
    s: Scenario,
    county: County,
    arose: np.ndarray,
    category: np.ndarray,
    origin: np.ndarray,
    rngs: dict[str, np.random.Generator],
) -> Issues:
    rng = rngs["issues"]
    n = len(arose)
    cats = s.categories
    mean_hh = np.array([c.households_affected_mean for c in cats])[category]
    households = rng.geometric(1.0 / mean_hh) if n else np.zeros(0, int)
    urgent = rng.random(n) < np.array([c.urgent_share for c in cats])[category]
    joint = rng.random(n) < np.array([c.joint.share for c in cats])[category]
    auth_cdf = np.cumsum([[c.authority.get(lvl, 0.0) for lvl in LEVELS] for c in cats], axis=1)
    authority = (rng.random(n)[:, None] > auth_cdf[category]).sum(axis=1).clip(MICROGRID, COUNTY)
    # An exclusive grid has no micro-grids below it: its issues start at grid level.
    origin_level = np.where(county.grid_of[origin] == origin, GRID, MICROGRID)
    authority = np.maximum(authority, origin_level)
    minority = rng.random(n) < np.array([c.negative_externality_share for c in cats])[category]
    externality = np.where(
        minority,
        MINORITY_NEGATIVE,
        np.where(households >= MANY_HOUSEHOLDS, POSITIVE, NO_EXTERNALITY),
    )
    work = _draw_work(s, rngs["handling"], category, n)
    budget, scale, shape = _draw_incident_hazards(s, rngs["incidents"], category)
    rr = rngs["routing"]
    return Issues(
        arose=arose,
        category=category,
        origin=origin,
        households=households.astype(np.int64),
        urgent=urgent,
        joint=joint,
        authority=authority.astype(np.int64),
        externality=externality.astype(np.int64),
        incident_budget=budget,
        incident_scale=scale,
        incident_shape=shape,
        work=work,
        u_shirk=rr.random((n, len(LEVELS))),
        u_route=rr.random(n),
        u_feedback=rngs["feedback"].random(n),
        finder=np.full(n, -1, dtype=np.int64),
        first_report=np.full(n, np.inf),
    )


def _draw_work(s: Scenario, rng: np.random.Generator, category: np.ndarray, n: int) -> np.ndarray:
    columns = len(LEVELS) if s.escalation.redraw_handling else 1
    work = np.empty((n, columns))
    for k, cat in enumerate(s.categories):
        idx = np.flatnonzero(category == k)
        for col in range(columns):
            work[idx, col] = cat.handling.sample(rng, len(idx))
    return np.repeat(work, len(LEVELS), axis=1) if columns == 1 else work


def _draw_incident_hazards(
    s: Scenario, rng: np.random.Generator, category: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per issue: an Exp(1) hazard budget and the Weibull scale and shape of its hazard.

    An unresolved issue becomes an incident when its cumulative hazard, (t / scale)^shape
    hours after it arose, uses up the budget. Drawing the budget rather than the incident
    time lets :func:`incident_times` apply a hazard that changes once the issue is known
    (mediation) exactly, after the run.
    """
    n = len(category)
    budget = np.full(n, np.inf)
    scale = np.ones(n)
    shape = np.ones(n)
    draws = rng.exponential(1.0, n)
    for k, cat in enumerate(s.categories):
        inc = cat.incident
        if inc is None or inc.probability_within_scale == 0:
            continue
        idx = category == k
        # Weibull scale chosen so that P(incident before scale_days) = probability_within_scale.
        p = min(inc.probability_within_scale, 0.999999)
        scale[idx] = inc.scale_days * 24 / (-np.log1p(-p)) ** (1 / inc.shape)
        shape[idx] = inc.shape
        budget[idx] = draws[idx]
    return budget, scale, shape


def incident_times(
    issues: Issues, known: np.ndarray, mediated: np.ndarray, factor: float
) -> np.ndarray:
    """When each issue would become an incident if it stayed unresolved (inf: never).

    Args:
        issues: the issues, with their hazard budgets.
        known: when each issue became known to the platform (NaN: never).
        mediated: issues whose hazard is multiplied by ``factor`` from the moment they are
            known (minority-interest appeals sent to mediation).
        factor: the hazard multiplier under mediation (0 stops the clock).
    """
    lam, k, budget = issues.incident_scale, issues.incident_shape, issues.incident_budget
    with np.errstate(invalid="ignore", over="ignore"):
        unmediated = issues.arose + lam * budget ** (1 / k)
        since = np.nan_to_num(known - issues.arose, nan=np.inf)
        used = (since / lam) ** k  # hazard used up before mediation began
        left = budget - used
        later = np.inf if factor == 0 else lam * (used + left / max(factor, 1e-300)) ** (1 / k)
        mediated_time = issues.arose + later
    switch = mediated & np.isfinite(since) & (left > 0)
    return np.where(switch, mediated_time, unmediated)


def draw_arrivals(
    s: Scenario,
    county: County,
    issues: Issues,
    horizon: float,
    rngs: dict[str, np.random.Generator],
) -> Arrivals:
    """Draw every report of every issue, and the proactive finds that come first."""
    rng = rngs["reports"]
    n_ch = len(s.channels)
    hh_issue = np.repeat(np.arange(len(issues)), issues.households)
    m = len(hh_issue)
    origin = issues.origin[hh_issue]
    no_phone = rng.random(m) < county.no_smartphone[origin]
    reports = (
        rng.random(m)
        < np.array([c.report_probability for c in s.categories])[issues.category[hh_issue]]
    )
    shares = np.array([c.share for c in s.channels])
    channel = rng.choice(n_ch, m, p=shares)
    needs_phone = np.array([c.needs_smartphone for c in s.channels])
    blocked = needs_phone[channel] & no_phone
    # Without a smartphone the app is out of reach: some turn to another channel, others
    # never report.
    switch = blocked & (rng.random(m) < s.residents.no_smartphone_report_factor)
    other = np.flatnonzero(~needs_phone)
    channel[switch] = other[
        rng.choice(len(other), switch.sum(), p=shares[other] / shares[other].sum())
    ]
    reports &= ~(blocked & ~switch)
    delay = np.empty(m)
    for c, ch in enumerate(s.channels):
        idx = np.flatnonzero(channel == c)
        delay[idx] = ch.delay.sample(rng, len(idx))
    filed = issues.arose[hh_issue] + delay
    keep = reports & (filed < horizon)
    filed, issue_of, channel, no_phone = filed[keep], hh_issue[keep], channel[keep], no_phone[keep]

    first_report = np.full(len(issues), np.inf)
    np.minimum.at(first_report, issue_of, filed)
    issues.first_report = first_report
    found = _proactive_finds(s, county, issues, rngs["proactive"])
    proactive = np.flatnonzero((found < first_report) & (found < horizon))
    _credit_finders(s, county, issues, proactive, rngs["proactive"])

    filed = np.concatenate([filed, found[proactive]])
    issue_of = np.concatenate([issue_of, proactive])
    channel = np.concatenate([channel, np.full(len(proactive), n_ch)])
    no_phone = np.concatenate([no_phone, np.zeros(len(proactive), bool)])
    dispatch = np.array([c.dispatch_hours for c in s.channels] + [0.0])
    time = filed + dispatch[channel]
    order = np.lexsort((np.arange(len(time)), time))
    keep = order[time[order] < horizon]
    return Arrivals(
        time=time[keep],
        filed=filed[keep],
        issue=issue_of[keep],
        channel=channel[keep],
        no_smartphone=no_phone[keep],
    )


def _proactive_finds(
    s: Scenario, county: County, issues: Issues, rng: np.random.Generator
) -> np.ndarray:
    """When a household visit or a periodic screening would first find each issue."""
    n = len(issues)
    if not s.proactive.enabled or n == 0:
        return np.full(n, np.inf)
    detect = np.array([c.visit_detectability for c in s.categories])[issues.category]
    per_unit = np.zeros(county.n_units)
    for uid in county.origin_units:
        per_unit[uid] = visits_per_household_month(county, uid)
    rate = issues.households * per_unit[issues.origin] * s.proactive.find_probability * detect
    rate = rate / HOURS_PER_MONTH
    with np.errstate(divide="ignore"):
        by_visit = issues.arose + rng.exponential(1.0, n) / rate
    by_screening = np.full(n, np.inf)
    q = s.proactive.screening_find_probability * detect
    if s.proactive.screening_find_probability > 0:
        period = s.proactive.screening_interval_days * 24
        phase = (county.origin_units * 0.618034 % 1.0) * period  # fixed per-unit offsets
        phase_of = np.zeros(county.n_units)
        phase_of[county.origin_units] = phase
        offset = phase_of[issues.origin]
        first = offset + np.ceil((issues.arose - offset) / period) * period
        tries = rng.geometric(np.clip(q, 1e-12, 1.0))
        by_screening = np.where(q > 0, first + (tries - 1) * period, np.inf)
    return np.minimum(by_visit, by_screening)


def _credit_finders(
    s: Scenario, county: County, issues: Issues, found: np.ndarray, rng: np.random.Generator
) -> None:
    """Pick the staff member credited with each proactive find (a visiting role's member)."""
    visiting = set(s.proactive.visits_per_household_per_month)
    staff_of = county.graph.nodes
    for i in found:
        origin = issues.origin[i]
        team = [m for m in staff_of[origin]["staff"] if county.staff.role[m] in visiting]
        grid = county.grid_of[origin]
        if grid != origin:
            team += [m for m in staff_of[grid]["staff"] if county.staff.role[m] in visiting]
        team = team or staff_of[origin]["staff"]
        if team:
            issues.finder[i] = team[int(rng.integers(len(team)))]
