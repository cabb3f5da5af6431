"""Latent issues and the appeals that report them, drawn up front with numpy.

Everything that does not depend on how the hierarchy handles an order is drawn here, in
vectorised form, before the simulation starts: when and where issues arise (a
non-homogeneous Poisson process per category with daily and weekly profiles), how many
households they affect, which of those households report, through which channel and after
what delay (the technology gap included), the work each level would need, and when an
unresolved issue would turn into an incident. Who notices an issue first (a report, a visit,
a building leader, a linked party member) is a race drawn in ``gridsim.model.noticing``.
Each purpose has its own random stream, so switching a policy never shifts the
arrival stream (common random numbers).

Time unit: hours; hour 0 is Monday 00:00.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gridsim.model.attention import Attention
from gridsim.model.calendar import HOURS_PER_YEAR
from gridsim.model.county import County
from gridsim.model.scenario import Scenario
from gridsim.model.vocabulary import (
    LEVELS,
    MINORITY_NEGATIVE,
    NO_EXTERNALITY,
    NOT_FOUND,
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


@dataclass(frozen=True)
class LaterDraws:
    """Uniform draws made when they are read, from a copy of their stream as it was when due.

    The stream itself is moved past them at once (``advance``: a PCG64 jumps ahead without
    drawing), so every later draw from it is the one it would have been. The draws are made
    again, identical, each time they are read, and never kept: only the engine's set-up
    reads them, once, so a run does not hold them (about 110 bytes an issue).
    """

    rng: np.random.Generator  # a copy of the stream where the first of the draws was due
    offset: int  # draws from there to these ones
    shape: tuple[int, ...]

    def draw(self) -> np.ndarray:
        """The draws, as ``rng.random(shape)`` would have made them when they were due."""
        rng = copy.deepcopy(self.rng)
        rng.bit_generator.advance(self.offset)  # type: ignore[attr-defined]
        return rng.random(self.shape)


def later_draws(rng: np.random.Generator, *shapes: tuple[int, ...]) -> list[LaterDraws]:
    """Put off consecutive ``rng.random(shape)`` draws; moves ``rng`` past them now."""
    saved = copy.deepcopy(rng)
    out, offset = [], 0
    for shape in shapes:
        out.append(LaterDraws(saved, offset, shape))
        offset += math.prod(shape)
    rng.bit_generator.advance(offset)  # type: ignore[attr-defined]
    return out


#: A column per-event code reads by index: a ``memoryview`` of a numpy array (``None`` for
#: one a run does not draw). Typed ``Any``: typeshed types a view's items as ``int``, where
#: these are the array's floats, ints and bools.
Column = Any


def column(values: np.ndarray) -> Column:
    """A :data:`Column` over ``values``: reads (and writes) the array's items, no copy."""
    return memoryview(values)  # type: ignore[arg-type]  # numpy arrays are buffers


@dataclass
class Issues:
    """Per-issue arrays (one entry per latent issue, in order of arising)."""

    arose: np.ndarray
    category: np.ndarray
    origin: np.ndarray
    households: np.ndarray
    urgent: np.ndarray
    joint: np.ndarray
    externality: np.ndarray
    incident_budget: np.ndarray  # Exp(1) hazard budget; inf where the category has no hazard
    incident_scale: np.ndarray  # Weibull scale (hours) of the incident hazard
    incident_shape: np.ndarray  # Weibull shape
    work: np.ndarray  # (n, len(LEVELS)): work hours at each level, before level factors
    u_settle: np.ndarray  # (n, len(LEVELS)): a unit at that level settles if u < P(settle)
    # Draws only the engine's set-up reads (see the properties of the same names below).
    later_shirk: LaterDraws  # (n, len(LEVELS)): one per level, for shirking
    later_route: LaterDraws
    later_feedback: LaterDraws
    later_brush: LaterDraws  # (n, len(LEVELS)): a unit brushes the order off if u < P(brush-off)
    later_callback: LaterDraws  # a callback finds a false closure if u < rate × detection
    finder: np.ndarray  # staff id credited with a proactive find, -1 if none
    # Set by gridsim.model.noticing.draw_arrivals (the noticing race):
    first_report: np.ndarray  # first household report (inf if none)
    no_smartphone: np.ndarray  # the first affected household has no smartphone
    found_by: np.ndarray  # code in FOUND_BY of whoever noticed it first
    found: np.ndarray  # when staff or a party member noticed it first (inf if not first)
    lapse: np.ndarray  # when it fades unnoticed (inf: never)
    on_spot: np.ndarray  # settled on the spot when found (no work order)

    def __len__(self) -> int:
        return len(self.arose)

    @property
    def u_shirk(self) -> np.ndarray:
        """(n, len(LEVELS)) uniforms: a level passes the order up if u < P(shirk)."""
        return self.later_shirk.draw()

    @property
    def u_route(self) -> np.ndarray:
        """Uniforms of the platform's routing judgement."""
        return self.later_route.draw()

    @property
    def u_feedback(self) -> np.ndarray:
        """Uniforms of the resident's feedback."""
        return self.later_feedback.draw()

    @property
    def u_brush(self) -> np.ndarray:
        """(n, len(LEVELS)) uniforms: a unit brushes the order off if u < P(brush-off)."""
        return self.later_brush.draw()

    @property
    def u_callback(self) -> np.ndarray:
        """Uniforms: a callback finds a false closure if u < callback rate × detection."""
        return self.later_callback.draw()

    def columns(self, names: Sequence[str | None]) -> list[Column]:
        """Columns as memoryviews that per-event code indexes by issue id.

        A 1-D column is read as ``column[issue]``, a 2-D one as ``column[issue, level]``;
        each read makes a plain Python ``float``, ``int`` or ``bool`` with the array's value.
        The views share the arrays' memory (nothing is copied: a Python list of the same
        values would take four to twelve times the bytes, a ten-year run's gigabytes), and
        reading one costs about 10-30 ns more than a list's item. A name of a later draw
        (``u_shirk`` ...) makes those draws here, once; ``None`` gives ``None`` (a column
        the run does not use is not drawn).

        Example:
            >>> from gridsim.model.appeals import Issues
            >>> import numpy as np
            >>> iss = Issues.__new__(Issues)
            >>> iss.origin, iss.work = np.array([7, 9]), np.array([[1.0, 2.0], [3.0, 4.0]])
            >>> origin, work, unused = iss.columns(["origin", "work", None])
            >>> origin[1], work[1, 0], unused
            (9, 3.0, None)
        """
        out: list[Column] = []
        for name in names:
            out.append(None if name is None else column(getattr(self, name)))
        return out


def draw_issues(
    s: Scenario,
    county: County,
    attention: Attention,
    horizon: float,
    rngs: dict[str, np.random.Generator],
) -> Issues:
    """Draw every latent issue that arises before ``horizon`` hours.

    Issues of a ``preventable`` category arise less often where households are visited
    more (诉源治理): each is kept with probability ``exp(-prevention_per_visit × visits per
    household per month)``, one uniform draw per issue from the ``noticing`` stream, so a
    denser visiting plan only removes issues (common random numbers).
    """
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
    u = rngs["noticing"].random(len(arose))
    preventable = np.array([c.preventable for c in s.categories], dtype=bool)
    if len(arose) and s.visits.prevention_per_visit > 0 and preventable.any():
        keep_p = np.exp(-s.visits.prevention_per_visit * attention.visits[origin])
        keep = ~preventable[category] | (u < keep_p)
        arose, category, origin = arose[keep], category[keep], origin[keep]
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
    minority = rng.random(n) < np.array([c.negative_externality_share for c in cats])[category]
    externality = np.where(
        minority,
        MINORITY_NEGATIVE,
        np.where(households >= MANY_HOUSEHOLDS, POSITIVE, NO_EXTERNALITY),
    )
    work = _draw_work(s, rngs["handling"], category, n)
    budget, scale, shape = _draw_incident_hazards(s, rngs["incidents"], category)
    rr = rngs["routing"]
    levels = (n, len(LEVELS))
    # In the streams' order: shirking and routing, then settling, from ``routing``.
    later_shirk, later_route = later_draws(rr, levels, (n,))
    u_settle = rr.random(levels)
    later_brush, later_callback = later_draws(rngs["settling"], levels, (n,))
    (later_feedback,) = later_draws(rngs["feedback"], (n,))
    return Issues(
        arose=arose,
        category=category,
        origin=origin,
        households=households.astype(np.int64),
        urgent=urgent,
        joint=joint,
        externality=externality.astype(np.int64),
        incident_budget=budget,
        incident_scale=scale,
        incident_shape=shape,
        work=work,
        u_settle=u_settle,
        later_shirk=later_shirk,
        later_route=later_route,
        later_feedback=later_feedback,
        later_brush=later_brush,
        later_callback=later_callback,
        finder=np.full(n, -1, dtype=np.int64),
        first_report=np.full(n, np.inf),
        no_smartphone=np.zeros(n, dtype=bool),
        found_by=np.full(n, NOT_FOUND, dtype=np.int64),
        found=np.full(n, np.inf),
        lapse=np.full(n, np.inf),
        on_spot=np.zeros(n, dtype=bool),
    )


def _draw_work(s: Scenario, rng: np.random.Generator, category: np.ndarray, n: int) -> np.ndarray:
    columns = len(LEVELS) if s.escalation.redraw_handling else 1
    work = np.empty((n, columns))
    for k, cat in enumerate(s.categories):
        idx = np.flatnonzero(category == k)
        for col in range(columns):
            work[idx, col] = cat.handling.sample(rng, len(idx))
    # One draw for every level: a read-only view repeats it, rather than four copies.
    return np.broadcast_to(work, (n, len(LEVELS))) if columns == 1 else work


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


#: Issues per slice in the incident computations: their temporaries stay a few MB each
#: however long the run (elementwise, so slicing changes no value).
INCIDENT_CHUNK = 1 << 18


def _by_slices(n: int, compute: Callable[[slice], np.ndarray]) -> np.ndarray:
    """``compute`` applied to consecutive slices of ``range(n)``, gathered in one array."""
    out = np.empty(n)
    for lo in range(0, n, INCIDENT_CHUNK):
        part = slice(lo, min(lo + INCIDENT_CHUNK, n))
        out[part] = compute(part)
    return out


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

    def times(p: slice) -> np.ndarray:
        lam, k = issues.incident_scale[p], issues.incident_shape[p]
        budget, arose = issues.incident_budget[p], issues.arose[p]
        with np.errstate(invalid="ignore", over="ignore"):
            unmediated = arose + lam * budget ** (1 / k)
            since = np.nan_to_num(known[p] - arose, nan=np.inf)
            used = (since / lam) ** k  # hazard used up before mediation began
            left = budget - used
            later = np.inf if factor == 0 else lam * (used + left / max(factor, 1e-300)) ** (1 / k)
            mediated_time = arose + later
        switch = mediated[p] & np.isfinite(since) & (left > 0)
        return np.where(switch, mediated_time, unmediated)

    return _by_slices(len(issues), times)


def incident_probabilities(
    issues: Issues, known: np.ndarray, mediated: np.ndarray, factor: float, until: np.ndarray
) -> np.ndarray:
    """P(each issue turns into an incident before ``until``): ``1 - exp(-cumulative hazard)``.

    The same hazard as :func:`incident_times`, integrated up to when the issue was truly
    settled (or the horizon): its sum is the expected number of incidents, which varies
    smoothly with a policy where the rare count does not, so comparisons have power.
    """

    def probabilities(p: slice) -> np.ndarray:
        lam, k, arose = issues.incident_scale[p], issues.incident_shape[p], issues.arose[p]
        has_hazard = np.isfinite(issues.incident_budget[p])
        with np.errstate(invalid="ignore", over="ignore"):
            total = (np.clip(until[p] - arose, 0, None) / lam) ** k
            since = np.nan_to_num(known[p] - arose, nan=np.inf)
            used = (np.clip(np.minimum(since, until[p] - arose), 0, None) / lam) ** k
            switch = mediated[p] & np.isfinite(since)
            hazard = np.where(switch, used + factor * (total - used), total)
        return np.where(has_hazard, -np.expm1(-hazard), 0.0)

    return _by_slices(len(issues), probabilities)
