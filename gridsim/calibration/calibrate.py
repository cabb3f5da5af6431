"""Calibrate a scenario to a real request log, and check that the simulation reproduces it.

The flow::

    log = read_log("requests.csv")            # one clean table, bad rows listed
    cal = calibrate(log)                       # rates, profiles, mixes, time to close
    write_scenario(cal, "calibrated.toml")     # a scenario that loads with load_scenario
    write_fit_report(cal, "fit_report/")       # Markdown + CSV + figures
    table = validate_log("requests.csv")       # calibrate -> simulate -> compare_to_log

:func:`calibrate` groups the log by category; categories with fewer than ``min_rows``
closed requests are pooled into one ``other`` category. For each category it takes the
arrival rate (requests per hour over the log's span), the daily and weekly profiles of
created times, the unit that handled most requests, and the time to close:

1. :func:`fit_time_to_close` fits lognormal, gamma and Weibull (location 0) by maximum
   likelihood to the closed requests' durations and picks the family with the lowest AIC.
2. It then checks the chosen family against the log's own median and p90. With
   ``fit="auto"`` (the default) the scenario uses the family if both are within
   ``family_tolerance`` (5 %), and otherwise an ``empirical`` quantile table of the log's
   durations (:func:`quantile_table`). ``fit="parametric"`` or ``fit="empirical"`` forces
   one or the other. The choice and its reason are one line per category
   (``DurationFit.verdict``) in the scenario's header and in the fit report.

Requests still open in the log count towards arrival rates but not towards time to close
(the log does not say when it was exported, so they cannot be treated as censored).

The calibrated scenario is deliberately plain: one town, one grid, one micro-grid whose team
is large enough that no order ever queues, every category resolved at the micro-grid, no
reopening, merging, proactive finds or incidents. In it, the time from an order's creation to
its resolution is a draw from the category's time-to-close distribution, so a simulation
reproduces the log's median and p90 up to the calibration's own error (``fit_error``) and
sampling noise (``engine_error``); :func:`compare_to_log` measures both, and the category
and channel mixes.

Time unit: hours.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from gridsim.calibration.logs import UNKNOWN, RequestLog, read_log
from gridsim.errors import UserError
from gridsim.files import atomic_write, atomic_write_text
from gridsim.model.calendar import HOURS_PER_YEAR
from gridsim.model.scenario import load_scenario, scenario_from_dict

#: Time-to-close families, in the order they are reported; names as in scenario files.
FAMILIES: tuple[str, ...] = ("lognormal", "gamma", "weibull")
#: ``fit`` modes: check the AIC-best family and fall back to a quantile table if it misses
#: the log (auto), or always use the family (parametric), or always the table (empirical).
FIT_MODES: tuple[str, ...] = ("auto", "parametric", "empirical")
#: The quantiles a calibration must reproduce: (probability, name).
TARGETS: tuple[tuple[float, str], ...] = ((0.5, "median"), (0.9, "p90"))
#: Default relative error of the chosen family on the log's median and p90 (``fit="auto"``).
FAMILY_TOLERANCE = 0.05
#: Knots of a quantile table, at probabilities 0, 0.01, ..., 1: the median and p90 are knots.
TABLE_KNOTS = 101
#: Around the median and p90, knots within this probability are held within PIN_BAND of them.
PIN_WIDTH = 0.02
PIN_BAND = 0.05

OTHER = "other"  # key of the pooled category
DEFAULT_POPULATION = 100_000
#: A category gets its own daily (weekly) profile with at least this many rows per bin.
PROFILE_ROWS_PER_BIN = 10
#: A weekly profile is estimated only from requests spread over this many calendar weeks;
#: from fewer, a weekday's rate mostly reflects what happened on one or two dates.
WEEKLY_MIN_WEEKS = 4
ROLE = "calibrated_handler"
#: Time limits of the calibrated scenario: ten years, so that no deadline ever binds.
GENEROUS_LIMIT_HOURS = 10 * HOURS_PER_YEAR
CHANNEL_DELAY_HOURS = 0.001
TIME_TOLERANCE = 0.10  # relative error allowed on median and p90 time to close
MIX_TOLERANCE = 0.02  # absolute error allowed on a category or channel share
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SMARTPHONE_CHANNEL = re.compile(r"mobile|\bapps?\b|smartphone|wechat", re.IGNORECASE)
_PROBS = np.linspace(0.0, 1.0, TABLE_KNOTS)


# --------------------------------------------------------------------------- records


@dataclass
class DurationFit:
    """The time-to-close model of one category: the AIC-best family and what the scenario uses.

    Attributes:
        family: the family with the lowest AIC (``lognormal``, ``gamma`` or ``weibull``).
        params: its parameters as a scenario ``Distribution`` takes them: lognormal
            ``median``, ``sigma``; gamma ``mean``, ``cv``; Weibull ``shape``, ``scale``.
        aic: the AIC of every family (``inf`` if its fit failed).
        candidates: the parameters of every family that could be fitted.
        hours: the durations it was fitted to (hours, all > 0).
        knots: the quantile table the scenario uses instead of ``family`` (knot ``i`` at
            probability ``i / (len - 1)``), or None if it uses ``family``.
        verdict: one line: the family, how it matches the log's median and p90, and what
            the scenario uses.
    """

    family: str
    params: dict[str, float]
    aic: dict[str, float]
    candidates: dict[str, dict[str, float]]
    hours: NDArray[np.float64] = field(repr=False)
    knots: list[float] | None = field(default=None, repr=False)
    verdict: str = ""

    @property
    def n(self) -> int:
        """Durations fitted."""
        return len(self.hours)

    @property
    def used(self) -> str:
        """The scenario's distribution: the family's name, or ``empirical``."""
        return self.family if self.knots is None else "empirical"

    def frozen(self, family: str | None = None) -> Any:
        """Return the fitted scipy distribution (of ``family``, default the AIC-best one)."""
        family = family or self.family
        return _frozen(family, self.candidates[family])

    def family_quantile(self, q: float, family: str | None = None) -> float:
        """Quantile ``q`` (hours) of a fitted family (default the AIC-best one)."""
        return float(self.frozen(family).ppf(q))

    def log_quantile(self, q: float) -> float:
        """Quantile ``q`` of the log's durations (linear interpolation)."""
        return float(np.quantile(self.hours, q))

    def family_errors(self) -> dict[str, float]:
        """Relative error of the AIC-best family on the log's median and p90 (by name)."""
        return {name: self.family_quantile(q) / self.log_quantile(q) - 1 for q, name in TARGETS}

    def quantile(self, q: float) -> float:
        """Quantile ``q`` (hours) of the scenario's distribution (family or table)."""
        if self.knots is None:
            return self.family_quantile(q)
        return float(np.interp(q, np.linspace(0, 1, len(self.knots)), self.knots))

    def mean(self) -> float:
        """Mean (hours) of the scenario's distribution."""
        if self.knots is None:
            return float(self.frozen().mean())
        return _table_mean(self.knots)

    def to_distribution(self) -> dict[str, Any]:
        """Return the scenario's ``handling`` table (``{"distribution": ..., ...}``)."""
        if self.knots is not None:
            return {"distribution": "empirical", "quantiles": list(self.knots)}
        return {"distribution": self.family, **{k: float(v) for k, v in self.params.items()}}


@dataclass
class CategoryFit:
    """One category of the calibrated scenario.

    Attributes:
        key: scenario key (lowercase ``[a-z0-9_]``, at most 40 characters).
        label: the log's category name (for ``other``: "Other (N pooled categories)").
        members: the log's category names it covers (one, or the pooled ones).
        n_rows: usable requests (open ones included).
        n_closed: requests with a time to close.
        rate_per_hour: ``n_rows`` over the log's span.
        unit: the unit (agency) that handled most of its requests.
        fit: the time-to-close model.
        daily_profile: its own 24-value profile (mean 1), or None to use the pooled one.
        weekly_profile: its own 7-value profile (Monday first, mean 1), or None.
    """

    key: str
    label: str
    members: list[str]
    n_rows: int
    n_closed: int
    rate_per_hour: float
    unit: str
    fit: DurationFit
    daily_profile: list[float] | None = None
    weekly_profile: list[float] | None = None


@dataclass
class Calibration:
    """Everything :func:`calibrate` fitted to a log, and how to turn it into a scenario.

    Attributes:
        source: the log file.
        schema: its schema (``nyc311`` or ``generic``).
        n_rows: data rows in the file.
        n_used: usable rows (the others are ``bad_counts``).
        bad_counts: bad rows by reason (see :class:`gridsim.calibration.logs.RequestLog`).
        start: first created time.
        end: last created time.
        span_hours: hours from ``start`` to ``end``.
        min_rows: closed rows a category needs to keep its own time-to-close fit.
        population: residents of the calibrated town (a scale for the per-1000 rates).
        fit_mode: ``auto``, ``parametric`` or ``empirical`` (see :func:`calibrate`).
        family_tolerance: the tolerance of ``auto`` mode.
        categories: one per scenario category, most frequent first, ``other`` last.
        channels: channel key -> share of requests.
        channel_labels: channel key -> the log's channel name(s).
        daily_profile: 24 values, mean 1: created times by hour of day, all categories.
        weekly_profile: 7 values (Monday first), mean 1.
        category_keys: the log's category name -> scenario key.
        channel_keys: the log's channel name -> scenario key.
        notes: remarks for the report (pooling, profiles, assumptions).
    """

    source: str
    schema: str
    n_rows: int
    n_used: int
    bad_counts: dict[str, int]
    start: pd.Timestamp
    end: pd.Timestamp
    span_hours: float
    min_rows: int
    population: int
    fit_mode: str
    family_tolerance: float
    categories: list[CategoryFit]
    channels: dict[str, float]
    channel_labels: dict[str, str]
    daily_profile: list[float]
    weekly_profile: list[float]
    category_keys: dict[str, str]
    channel_keys: dict[str, str]
    notes: list[str] = field(default_factory=list)

    @property
    def category_mix(self) -> dict[str, float]:
        """Category key -> share of requests."""
        total = sum(c.n_rows for c in self.categories)
        return {c.key: c.n_rows / total for c in self.categories}

    @property
    def pooled(self) -> list[str]:
        """The log's categories pooled into ``other`` (empty if none)."""
        return next((c.members for c in self.categories if c.key == OTHER), [])

    def category(self, key: str) -> CategoryFit:
        """Return the category with this key (KeyError if absent)."""
        for cat in self.categories:
            if cat.key == key:
                return cat
        raise KeyError(key)

    def offered_load(self, unit: str | None = None) -> float:
        """Mean number of orders in handling at once (of one unit): sum of rate x mean time."""
        return sum(
            c.rate_per_hour * c.fit.mean()
            for c in self.categories
            if unit is None or c.unit == unit
        )

    def servers(self) -> int:
        """Team size of the micro-grid, large enough that nobody ever queues (:func:`ample`)."""
        return ample(self.offered_load())

    def validation_days(self, sim_rows: int = 5000) -> float:
        """Days to simulate so that every compared category gets about ``sim_rows`` orders.

        At least five times the log's span. Categories with fewer than ``min_rows`` closed
        rows in the log are not compared, so they do not set the length.

        Example:
            >>> from gridsim.calibration.calibrate import calibrate
            >>> from gridsim.calibration.logs import read_log, sample_path
            >>> cal = calibrate(read_log(sample_path()))
            >>> cal.validation_days() >= 5 * cal.span_hours / 24
            True
        """
        rates = [c.rate_per_hour for c in self.categories if c.n_closed >= self.min_rows]
        needed = sim_rows / min(rates) / 24 if rates else 0.0
        return float(math.ceil(max(5 * self.span_hours / 24, needed)))

    def to_scenario_dict(self) -> dict[str, Any]:
        """Build a scenario mapping whose simulated time to close is the calibrated one.

        One town, one grid and one micro-grid; a team of :meth:`servers` handlers who are
        always on duty; every category resolved at the micro-grid with its time-to-close
        distribution as handling time; one issue, one report, one order; no reopening,
        merging, proactive work, incidents or binding deadlines. Validate it with
        :func:`gridsim.model.scenario.scenario_from_dict`.

        Example:
            >>> from gridsim.calibration.calibrate import calibrate
            >>> from gridsim.calibration.logs import read_log, sample_path
            >>> from gridsim.model.scenario import scenario_from_dict
            >>> data = calibrate(read_log(sample_path())).to_scenario_dict()
            >>> scenario_from_dict(data).categories[0].authority
            {'microgrid': 1.0}
        """
        return _scenario_dict(self)


def ample(load: float) -> int:
    """Servers for an offered load such that none ever queues: 10 x the load + 10.

    With ample servers a team is an M/G/infinity queue: the number busy is Poisson with
    mean equal to the offered load, so ten times that is never reached.

    Example:
        >>> from gridsim.calibration.calibrate import ample
        >>> ample(2.5)
        35
    """
    return math.ceil(10 * load + 10)


# --------------------------------------------------------------------------- time to close


def fit_time_to_close(
    hours: ArrayLike,
    *,
    fit: str = "auto",
    family_tolerance: float = FAMILY_TOLERANCE,
    min_table_rows: int = 2,
) -> DurationFit:
    """Fit lognormal, gamma and Weibull (location 0) by maximum likelihood; pick by AIC.

    Then decide what a scenario should use. ``fit="auto"``: the AIC-best family if its
    median and p90 are both within ``family_tolerance`` of the durations' own, else a
    :func:`quantile_table` of the durations (if there are at least ``min_table_rows`` of
    them; from fewer, a table would be too coarse and the family is kept). ``"parametric"``
    always uses the family, ``"empirical"`` always the table.

    Args:
        hours: positive durations (non-positive or non-finite values are an error: the log
            reader reports such rows as bad).
        fit: ``auto``, ``parametric`` or ``empirical``.
        family_tolerance: relative error allowed on the median and p90 (``auto``).
        min_table_rows: fewest durations for a quantile table (``auto``).

    Returns:
        The fit, with the AIC of all three families and the choice in ``verdict``.

    Raises:
        ValueError: fewer than two durations, a value that is not positive, or a bad
            ``fit`` or ``family_tolerance``.

    Example:
        >>> import numpy as np
        >>> from gridsim.calibration.calibrate import fit_time_to_close
        >>> x = np.random.default_rng(1).lognormal(np.log(24.0), 0.8, size=2000)
        >>> fit = fit_time_to_close(x)
        >>> fit.family, round(fit.params["median"] / 24, 1), round(fit.params["sigma"], 1)
        ('lognormal', 1.0, 0.8)
        >>> print(fit.verdict)  # doctest: +ELLIPSIS
        lognormal AIC=..., within 5 % of the log's median (+0.8 %) and p90 (+0.2 %): lognormal used
    """
    _check_fit_options(fit, family_tolerance)
    x = np.asarray(hours, dtype=float)
    if x.size < 2:
        raise ValueError(f"fit_time_to_close needs at least 2 durations, got {x.size}")
    if not np.all(np.isfinite(x) & (x > 0)):
        raise ValueError("fit_time_to_close needs positive, finite durations (hours)")
    aic: dict[str, float] = {}
    candidates: dict[str, dict[str, float]] = {}
    for family in FAMILIES:
        params, loglik = _fit_family(family, x)
        aic[family] = 4.0 - 2.0 * loglik if np.isfinite(loglik) else math.inf
        if params is not None and np.isfinite(loglik):
            candidates[family] = params
    if not candidates:
        raise ValueError("none of lognormal, gamma or Weibull could be fitted to these durations")
    best = min(candidates, key=lambda f: aic[f])
    result = DurationFit(best, candidates[best], aic, candidates, x)
    _choose_handling(result, fit, family_tolerance, min_table_rows)
    return result


def _check_fit_options(fit: str, family_tolerance: float) -> None:
    if fit not in FIT_MODES:
        raise ValueError(f"fit must be one of {', '.join(FIT_MODES)}, not {fit!r}")
    if not 0 < family_tolerance < 1:
        raise ValueError(f"family tolerance must be between 0 and 1, got {family_tolerance}")


def _fit_family(family: str, x: NDArray[np.float64]) -> tuple[dict[str, float] | None, float]:
    dist = {"lognormal": stats.lognorm, "gamma": stats.gamma, "weibull": stats.weibull_min}
    try:
        with warnings.catch_warnings():
            # The optimiser's intermediate overflows are harmless; the final
            # log-likelihood is checked for finiteness by the caller.
            warnings.simplefilter("ignore", RuntimeWarning)
            shape, _, scale = dist[family].fit(x, floc=0)
    except (ValueError, RuntimeError, FloatingPointError):
        return None, -math.inf
    params = _scenario_params(family, float(shape), float(scale))
    return params, float(np.sum(_frozen(family, params).logpdf(x)))


def _scenario_params(family: str, shape: float, scale: float) -> dict[str, float]:
    """Convert scipy's (shape, scale) to the parameters a scenario ``Distribution`` takes."""
    if family == "lognormal":
        return {"median": scale, "sigma": shape}
    if family == "gamma":
        return {"mean": shape * scale, "cv": 1 / math.sqrt(shape)}
    return {"shape": shape, "scale": scale}


def _frozen(family: str, params: dict[str, float]) -> Any:
    if family == "lognormal":
        return stats.lognorm(params["sigma"], scale=params["median"])
    if family == "gamma":
        a = params["cv"] ** -2
        return stats.gamma(a, scale=params["mean"] / a)
    return stats.weibull_min(params["shape"], scale=params["scale"])


def quantile_table(hours: ArrayLike) -> list[float]:
    """Return an ``empirical`` quantile table of durations: 101 knots, pinned at median and p90.

    Knot ``i`` is the durations' quantile at probability ``i / 100`` (linear interpolation
    between order statistics), so the first knot is the shortest duration, the last the
    longest (the tail is not extrapolated), and knots 50 and 90 are exactly the median and
    p90 that :func:`compare_to_log` compares with. Sampling the table by inverse transform
    reproduces them, but where the table is steep around one of them (at a gap in the
    durations, say 37 of 41 requests closed within 29 hours and the next after 396, or in a
    long tail) a simulated quantile moves far with a little sampling noise. So the knots
    within ``PIN_WIDTH`` (2 points) of probability of the median and p90 are held within
    ``PIN_BAND`` (5 %) of them ("pinned"). Where the durations rise by less than that there,
    nothing changes; elsewhere at most 2 % of the probability mass on either side moves
    towards the quantile.

    Example:
        >>> from gridsim.calibration.calibrate import quantile_table
        >>> knots = quantile_table([1.0] * 36 + [29.0, 396, 398, 403, 503])
        >>> len(knots), knots[0], knots[50], knots[90], knots[-1]
        (101, 1.0, 1.0, 29.0, 503.0)
        >>> knots[87:94]  # knots 88, 89, 91 and 92 were 6.6, 17.8, 175.8 and 322.6
        [1.0, 27.55, 27.55, 29.0, 30.45, 30.45, 396.4]
    """
    return [_sig(v) for v in _knots(hours)[1]]


def _knots(hours: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return the raw quantile table of :func:`quantile_table` and the pinned one."""
    raw = np.quantile(np.asarray(hours, dtype=float), _PROBS)
    pinned = raw.copy()
    for q, _ in TARGETS:
        value = raw[round(q * (TABLE_KNOTS - 1))]
        near = _near(q)
        pinned[near] = np.clip(raw[near], value * (1 - PIN_BAND), value * (1 + PIN_BAND))
    return raw, pinned


def _near(q: float) -> NDArray[np.bool_]:
    """The knots within ``PIN_WIDTH`` of probability ``q``."""
    return np.abs(_PROBS - q) <= PIN_WIDTH + 1e-9


def _table_mean(knots: ArrayLike) -> float:
    """Mean of a quantile table sampled with linear interpolation (the trapezoid rule)."""
    k = np.asarray(knots, dtype=float)
    return float(np.mean((k[1:] + k[:-1]) / 2))


def _choose_handling(fit: DurationFit, mode: str, tolerance: float, min_table_rows: int) -> None:
    """Set ``fit.knots`` and ``fit.verdict`` (see :func:`fit_time_to_close`)."""
    errors = fit.family_errors()
    misses = {name: e for name, e in errors.items() if abs(e) > tolerance}
    if misses:
        match = "misses the log's " + " and ".join(f"{n} by {_pct(e)}" for n, e in misses.items())
    else:
        shown = " and ".join(f"{n} ({_pct(e, signed=True)})" for n, e in errors.items())
        match = f"within {_pct(tolerance)} of the log's {shown}"
    head = f"{fit.family} AIC={fit.aic[fit.family]:.1f}, {match}"
    if mode != "auto":
        use_table, why = mode == "empirical", f" (fit={mode})"
    elif misses and fit.n < min_table_rows:
        use_table, why = False, f" (only {fit.n} durations, too few for a quantile table)"
    else:
        use_table, why = bool(misses), ""
    if not use_table:
        fit.verdict = f"{head}: {fit.family} used{why}"
        return
    raw, pinned = _knots(fit.hours)
    fit.knots = [_sig(v) for v in pinned]
    fit.verdict = f"{head}: empirical quantiles used{why}{_pin_remark(raw, pinned)}"


def _pin_remark(raw: NDArray[np.float64], pinned: NDArray[np.float64]) -> str:
    """Say where :func:`quantile_table` pinned the table, and how that moved the mean."""
    where = [name for q, name in TARGETS if np.any(raw[_near(q)] != pinned[_near(q)])]
    if not where:
        return ""
    shift = _table_mean(pinned) / _table_mean(raw) - 1
    return f"; {' and '.join(where)} pinned (mean {_pct(shift, True)})"


def _pct(value: float, signed: bool = False) -> str:
    """Format a relative error as a percentage: ``0.231`` -> ``23 %``, ``-0.051`` -> ``5.1 %``.

    Without ``signed`` the sign and a trailing ``.0`` are dropped; below 10 % one decimal
    is shown.
    """
    digits = 1 if abs(value) < 0.095 else 0
    if signed:
        return f"{value * 100:+.{digits}f} %"
    return f"{abs(value) * 100:.{digits}f}".removesuffix(".0") + " %"


# --------------------------------------------------------------------------- calibrate


def calibrate(
    log: RequestLog,
    *,
    min_rows: int = 30,
    population: int | None = None,
    fit: str = "auto",
    family_tolerance: float = FAMILY_TOLERANCE,
) -> Calibration:
    """Fit rates, profiles, time to close and mixes to a request log.

    Args:
        log: a log from :func:`gridsim.calibration.logs.read_log`.
        min_rows: closed requests a category needs for its own time-to-close fit; the
            categories with fewer are pooled into one ``other`` category. It is also the
            fewest durations from which ``fit="auto"`` builds a quantile table.
        population: residents of the calibrated town (default 100,000). It only scales the
            per-1000-residents issue rates, which are set so that the scenario files the
            log's number of requests per year.
        fit: time to close: ``auto`` (the AIC-best family where it matches the log's median
            and p90 within ``family_tolerance``, else an empirical quantile table),
            ``parametric`` (always the family) or ``empirical`` (always the table).
        family_tolerance: relative error allowed on the median and p90 in ``auto`` mode.

    Returns:
        The calibration; see :meth:`Calibration.to_scenario_dict`, :func:`write_scenario`
        and :func:`write_fit_report`.

    Raises:
        ValueError: the log spans less than an hour, has fewer than two closed requests, or
            an option is out of range.

    Example:
        >>> from gridsim.calibration.calibrate import calibrate
        >>> from gridsim.calibration.logs import read_log, sample_path
        >>> cal = calibrate(read_log(sample_path()))
        >>> cal.category("street_condition").n_closed, cal.categories[-1].key
        (274, 'other')
        >>> print(cal.category("sidewalk_condition").fit.verdict)  # doctest: +ELLIPSIS
        gamma AIC=..., misses the log's median by 55 % and p90 by 97 %: empirical quantiles used...
    """
    _check_fit_options(fit, family_tolerance)
    if log.span_hours < 1:
        raise ValueError(f"{log.path}: the log must span at least an hour of created times")
    if log.n_closed < 2:
        raise ValueError(f"{log.path}: calibration needs at least 2 closed requests")
    population = DEFAULT_POPULATION if population is None else int(population)
    if population <= 0:
        raise ValueError(f"population must be positive, got {population}")

    category_keys, groups = _group_categories(log.data, min_rows)
    fit_options = {"fit": fit, "family_tolerance": family_tolerance, "min_table_rows": min_rows}
    categories = [_category_fit(log, *group, fit_options) for group in groups]
    daily, weekly = _profiles(log.data["created"], log.start, log.end)
    weekly_reliable = _weekly_reliable(log.data["created"])
    notes = _log_notes(log, weekly_reliable)
    notes += _category_notes(categories, min_rows, fit, family_tolerance)
    channel_keys, channels, channel_labels = _channel_mix(log.data["channel"])
    return Calibration(
        source=str(log.path),
        schema=log.schema,
        n_rows=log.n_rows,
        n_used=log.n_clean,
        bad_counts=log.bad_counts(),
        start=log.start,
        end=log.end,
        span_hours=log.span_hours,
        min_rows=min_rows,
        population=population,
        fit_mode=fit,
        family_tolerance=family_tolerance,
        categories=categories,
        channels=channels,
        channel_labels=channel_labels,
        daily_profile=daily,
        weekly_profile=weekly if weekly_reliable else [1.0] * 7,
        category_keys=category_keys,
        channel_keys=channel_keys,
        notes=notes,
    )


def _group_categories(
    data: pd.DataFrame, min_rows: int
) -> tuple[dict[str, str], list[tuple[str, str, list[str]]]]:
    """Return the log's category -> key, and the scenario's (key, label, log categories).

    Categories with at least ``min_rows`` closed requests keep their own key, most requests
    first; the others are pooled into ``other``, last.
    """
    closed_counts = data.loc[data["hours_to_close"].notna(), "category"].value_counts()
    row_counts = data["category"].value_counts()
    own = [c for c in row_counts.index if closed_counts.get(c, 0) >= min_rows]
    pooled = [c for c in row_counts.index if c not in own]
    keys = _assign_keys(own, reserved={OTHER} if pooled else set(), fallback="category")
    groups = [(keys[name], name, [name]) for name in own]
    if pooled:
        groups.append((OTHER, f"Other ({len(pooled)} pooled categories)", pooled))
    return keys | dict.fromkeys(pooled, OTHER), groups


def _category_fit(
    log: RequestLog, key: str, label: str, members: list[str], fit_options: dict[str, Any]
) -> CategoryFit:
    rows = log.data[log.data["category"].isin(members)]
    hours = rows["hours_to_close"].dropna().to_numpy()
    if len(hours) < 2:
        # Too few closed requests even when pooled: borrow the whole log's durations.
        hours = log.data["hours_to_close"].dropna().to_numpy()
    daily, weekly = _profiles(rows["created"], log.start, log.end)
    own_daily = len(rows) >= 24 * PROFILE_ROWS_PER_BIN
    own_weekly = len(rows) >= 7 * PROFILE_ROWS_PER_BIN and _weekly_reliable(rows["created"])
    return CategoryFit(
        key=key,
        label=label,
        members=list(members),
        n_rows=len(rows),
        n_closed=int(rows["hours_to_close"].notna().sum()),
        rate_per_hour=len(rows) / log.span_hours,
        unit=str(rows["unit"].value_counts().index[0]),
        fit=fit_time_to_close(hours, **fit_options),
        daily_profile=daily if own_daily else None,
        weekly_profile=weekly if own_weekly else None,
    )


def _category_notes(
    categories: list[CategoryFit], min_rows: int, fit: str, tolerance: float
) -> list[str]:
    notes = []
    other = next((c for c in categories if c.key == OTHER), None)
    if other is not None:
        notes.append(
            f"{len(other.members)} categories with fewer than {min_rows} closed requests were "
            f"pooled into '{OTHER}' ({other.n_rows} requests, {other.n_closed} closed)."
        )
        if other.n_closed < 2:
            notes.append(
                f"'{OTHER}' has no closed requests of its own; its fit uses the whole log."
            )
        elif other.fit.n < min_rows:
            notes.append(f"'{OTHER}' itself has only {other.fit.n} durations; its fit is rough.")
    tables = [c.key for c in categories if c.fit.knots is not None]
    rule = {
        "auto": f"where the AIC-best family misses the log's median or p90 by more than "
        f"{_pct(tolerance)}",
        "parametric": "nowhere (fit=parametric)",
        "empirical": "everywhere (fit=empirical)",
    }[fit]
    notes.append(
        f"Time to close uses an empirical quantile table {rule}: "
        f"{len(tables)} of {len(categories)} categories ({', '.join(tables) or 'none'})."
    )
    own_profiles = [c.key for c in categories if c.daily_profile or c.weekly_profile]
    notes.append(
        f"Daily (weekly) profiles are per category with at least {24 * PROFILE_ROWS_PER_BIN} "
        f"({7 * PROFILE_ROWS_PER_BIN}) requests, else pooled over all categories; "
        f"own profiles: {', '.join(own_profiles) or 'none'}."
    )
    return notes


def _profiles(
    created: pd.Series, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[list[float], list[float]]:
    """Hour-of-day and day-of-week rates of created times, each normalised to mean 1.

    Counts are divided by exposure (the hours of each kind in the span) because a span of
    38.6 weeks holds 39 of some weekdays and 38 of others.
    """
    hours = pd.date_range(start.floor("h"), end.floor("h"), freq="h")
    created = pd.DatetimeIndex(created)
    daily = _normalised_rate(np.bincount(created.hour, minlength=24), hours.hour, 24)
    weekly = _normalised_rate(np.bincount(created.day_of_week, minlength=7), hours.day_of_week, 7)
    return daily, weekly


def _normalised_rate(counts: NDArray, exposure_bins: ArrayLike, size: int) -> list[float]:
    exposure = np.bincount(np.asarray(exposure_bins), minlength=size).astype(float)
    seen = exposure > 0
    rate = np.zeros(size)
    rate[seen] = counts[seen] / exposure[seen]
    # Bins the span never covers (a log shorter than a week) get the average rate.
    rate[~seen] = rate[seen].mean()
    mean = rate.mean()
    return [float(v) for v in (rate / mean if mean > 0 else np.ones(size))]


def _weekly_reliable(created: pd.Series) -> bool:
    # Monday-based week numbers counted from the epoch (1970-01-05 was a Monday).
    weeks = (created - pd.Timestamp("1970-01-05")).dt.days // 7
    return weeks.nunique() >= WEEKLY_MIN_WEEKS


def _log_notes(log: RequestLog, weekly_reliable: bool) -> list[str]:
    """Remarks on the log as a whole: an extract, a flat weekly profile, open requests."""
    notes = []
    days = log.data["created"].dt.normalize()
    span_days = (log.end.normalize() - log.start.normalize()).days + 1
    active = days.nunique()
    if active < 0.5 * span_days:
        top = days.value_counts().head(3)
        shown = ", ".join(f"{d:%Y-%m-%d}" for d in sorted(top.index))
        notes.append(
            f"Requests were created on only {active} of the {span_days} days of the span; "
            f"{top.sum() / len(days):.1%} of them on {shown}. Arrival rates are averages over "
            "the whole span (the log looks like an extract, not a continuous record), so use "
            "their ratios, not their levels."
        )
    if not weekly_reliable:
        notes.append(
            f"Weekly profile left flat: requests fall in fewer than {WEEKLY_MIN_WEEKS} "
            "calendar weeks, too few to tell a weekday effect from a date effect."
        )
    if log.n_open:
        notes.append(
            f"Requests still open in the log ({log.n_open}) count towards arrival rates but "
            "not towards time to close (the log does not say when it was exported, so they "
            "cannot be treated as censored); the scenario resolves every order."
        )
    return notes


def make_key(label: str, taken: set[str], fallback: str = "key") -> str:
    """Make a scenario key of a label: lowercase ``[a-z0-9_]``, letter first, unique, <= 40.

    Example:
        >>> from gridsim.calibration.calibrate import make_key
        >>> make_key("DHS Advantage -Landlord/Broker", set())
        'dhs_advantage_landlord_broker'
        >>> make_key("Noise", {"noise"})
        'noise_2'
    """
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    if not base or not base[0].isalpha():
        base = f"{fallback}_{base}".strip("_")
    base = base[:40].rstrip("_")
    key, i = base, 2
    while key in taken:
        suffix = f"_{i}"
        key = base[: 40 - len(suffix)].rstrip("_") + suffix
        i += 1
    return key


def _assign_keys(labels: list[str], reserved: set[str], fallback: str) -> dict[str, str]:
    taken = set(reserved)
    keys = {}
    for label in labels:
        keys[label] = make_key(label, taken, fallback)
        taken.add(keys[label])
    return keys


def _channel_mix(channels: pd.Series) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """Return the log's channel name -> key, key -> share and key -> the log's name(s)."""
    names = channels.fillna("").astype(str)
    keys: dict[str, str] = {}
    taken = {UNKNOWN}
    for name in names.value_counts().index:
        if name.strip().lower() in ("", UNKNOWN):
            keys[name] = UNKNOWN  # blank and "unknown" channels are one channel
        else:
            keys[name] = make_key(name, taken, fallback="channel")
            taken.add(keys[name])
    shares = names.map(keys).value_counts(normalize=True)
    labels = {k: " / ".join(sorted({n for n, v in keys.items() if v == k})) for k in shares.index}
    return keys, {str(k): float(v) for k, v in shares.items()}, labels


# --------------------------------------------------------------------------- scenario


def _sig(value: float, digits: int = 6) -> float:
    """Round to significant digits, to keep generated TOML readable."""
    return float(f"{value:.{digits}g}")


def _scenario_dict(cal: Calibration) -> dict[str, Any]:
    unit_keys = _assign_keys(sorted({c.unit for c in cal.categories}), set(), fallback="unit")
    name = Path(cal.source).name
    return {
        "schema_version": 1,
        "meta": {
            "name": f"Calibrated to {name}",
            "description": (
                f"Generated by gridsim calibrate from {name} ({cal.schema}): one town, one "
                "grid, one micro-grid with an uncongested team; handling times reproduce the "
                "log's time to close (fitted family or empirical quantile table)."
            ),
            "horizon_days": float(math.ceil(cal.span_hours / 24)),
            "warmup_days": 0.0,
        },
        "county": {
            "name": "Calibrated county",
            "towns": [{"name": "Calibrated town", "population": cal.population}],
        },
        # Grids as large as the town, so the town is one grid of one micro-grid.
        "grids": {
            "households_per_grid": float(cal.population),
            "rural_households_per_microgrid": float(cal.population),
            "urban_households_per_microgrid": float(cal.population),
            "exclusive": {"markets": 0, "enterprises": 0, "business_districts": 0},
        },
        "roles": {ROLE: {"calendar": "always", "availability": 1.0}},
        "staffing": {
            "grid": {ROLE: 1},
            "microgrid": {ROLE: cal.servers()},
            "exclusive_grid_role": ROLE,
            "town_desk_role": ROLE,
            "county_desk_role": ROLE,
            "department_role": ROLE,
        },
        "departments": [
            {"key": key, "label_en": unit, "staff": ample(cal.offered_load(unit))}
            for unit, key in unit_keys.items()
        ],
        "residents": {"no_smartphone_share": 0.0},
        "arrivals": {
            "daily_profile": [round(v, 4) for v in cal.daily_profile],
            "weekly_profile": [round(v, 4) for v in cal.weekly_profile],
        },
        "channels": _channel_entries(cal),
        "categories": [_category_entry(cal, cat, unit_keys[cat.unit]) for cat in cal.categories],
        "levels": {
            "handling_factor": dict.fromkeys(("microgrid", "grid", "town", "county"), 1.0),
            "time_limit_hours": dict.fromkeys(
                ("microgrid", "grid", "town", "county"), float(GENEROUS_LIMIT_HOURS)
            ),
        },
        "escalation": {
            "policy": "strict_ladder",
            "misclassification_rate": 0.0,
            "shirking_probability": 0.0,
        },
        "integration": {"enabled": False},
        "proactive": {"enabled": False},
        # The log says nothing about satisfaction, and with no reopening it feeds back into
        # nothing; a zero time effect keeps the model from inventing a trend with closure time.
        "satisfaction": {"reopen_probability": 0.0, "per_day_to_resolve": 0.0},
        "incentives": {"ranking_role": ROLE},
    }


def _category_entry(cal: Calibration, cat: CategoryFit, department: str) -> dict[str, Any]:
    per_year = cat.rate_per_hour * HOURS_PER_YEAR / (cal.population / 1000)
    entry: dict[str, Any] = {
        "key": cat.key,
        "label_en": cat.label,
        "issues_per_1000_residents_per_year": _sig(per_year),
        "households_affected_mean": 1.0,
        "report_probability": 1.0,
        "visit_detectability": 0.0,
        "authority": {"microgrid": 1.0},
        "handling": cat.fit.to_distribution(),
        "time_limit_hours": float(GENEROUS_LIMIT_HOURS),
        "department": department,
    }
    if cat.daily_profile is not None:
        entry["daily_profile"] = [round(v, 4) for v in cat.daily_profile]
    if cat.weekly_profile is not None:
        entry["weekly_profile"] = [round(v, 4) for v in cat.weekly_profile]
    return entry


def _channel_entries(cal: Calibration) -> list[dict[str, Any]]:
    needs_phone = {k: bool(_SMARTPHONE_CHANNEL.search(cal.channel_labels[k])) for k in cal.channels}
    if all(needs_phone.values()):
        # The schema needs one channel usable without a smartphone; with nobody lacking a
        # phone (no_smartphone_share = 0) the flag changes nothing in the simulation.
        needs_phone = dict.fromkeys(needs_phone, False)
    return [
        {
            "key": key,
            "label_en": cal.channel_labels[key],
            "share": share,
            "needs_smartphone": needs_phone[key],
            "delay": {"distribution": "fixed", "mean": CHANNEL_DELAY_HOURS},
            "desk": "grid_management",
            "dispatch_hours": 0.0,
        }
        for key, share in cal.channels.items()
    ]


def _summary_lines(cal: Calibration) -> list[str]:
    """The facts both the scenario header and the fit report start with."""
    bad = ", ".join(f"{n} {reason}" for reason, n in cal.bad_counts.items()) or "none"
    return [
        f"Source: {cal.source} (schema {cal.schema})",
        f"Rows: {cal.n_rows} in the file, {cal.n_used} used; bad rows: {bad}",
        f"Created from {cal.start:%Y-%m-%d %H:%M} to {cal.end:%Y-%m-%d %H:%M} "
        f"({cal.span_hours / 24:.1f} days)",
        f"Categories: {len(cal.categories)} ({len(cal.pooled)} of the log's categories pooled "
        f"into '{OTHER}', fewer than {cal.min_rows} closed rows each)",
        f"Population {cal.population}: a scale; per-1000 rates reproduce the log's requests "
        "per year.",
        f"Micro-grid team of {cal.servers()} handlers (10 x offered load "
        f"{cal.offered_load():.1f} + 10), so no order waits.",
    ]


def _provenance(cal: Calibration) -> str:
    lines = [
        "Calibrated scenario generated by gridsim calibrate (write_scenario).",
        *_summary_lines(cal),
        f"Time to close (fit={cal.fit_mode}, family tolerance {_pct(cal.family_tolerance)}): "
        "maximum likelihood (location 0), family by lowest AIC, checked against the log's "
        "median and p90:",
    ]
    for cat in cal.categories:
        lines.append(f"  {cat.key} ({cat.label}, {cat.fit.n} closed): {cat.fit.verdict}")
    return "\n".join("# " + _printable(line) for line in lines) + "\n"


def _printable(text: str) -> str:
    # A log's labels may hold control characters, which a TOML comment may not.
    return re.sub(r"[\x00-\x1f\x7f]", " ", text)


def _compact_arrays(text: str, per_line: int = 10) -> str:
    """Put the numbers of tomli_w's one-per-line arrays ``per_line`` to a line."""

    def compact(match: re.Match[str]) -> str:
        name, values = match.group(1), match.group(2).split()  # each value ends with ","
        note = "  # at probabilities 0, 0.01, ..., 1" if name == "quantiles" else ""
        lines = [" ".join(values[i : i + per_line]) for i in range(0, len(values), per_line)]
        return f"{name} = [{note}\n" + "".join(f"    {line}\n" for line in lines) + "]"

    return re.sub(r"(\w+) = \[\n((?:    [-+0-9.eE]+,\n)+)\]", compact, text)


def write_scenario(calibration: Calibration, out_path: str | Path) -> Path:
    """Write the calibrated scenario as TOML, atomically, with a provenance header.

    The file is written to a temporary name, checked with
    :func:`gridsim.model.scenario.load_scenario`, then renamed into place.

    Args:
        calibration: from :func:`calibrate`.
        out_path: the ``.toml`` file to write (replaced if it exists).

    Returns:
        The path written.

    Example:
        >>> import tempfile, pathlib
        >>> from gridsim.calibration.calibrate import calibrate, write_scenario
        >>> from gridsim.calibration.logs import read_log, sample_path
        >>> from gridsim.model.scenario import load_scenario
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "nyc.toml"
        >>> path = write_scenario(calibrate(read_log(sample_path())), out)
        >>> load_scenario(path).categories[-1].key
        'other'
    """
    import tomli_w

    out = Path(out_path)
    data = calibration.to_scenario_dict()
    scenario_from_dict(data, str(out))  # fail before touching the disk
    text = _provenance(calibration) + "\n" + _compact_arrays(tomli_w.dumps(data))

    def write_checked(tmp: Path) -> None:
        tmp.write_text(text, "utf-8")
        load_scenario(tmp)  # what we publish must load

    return atomic_write(out, write_checked)


# --------------------------------------------------------------------------- fit report


def fit_table(calibration: Calibration) -> pd.DataFrame:
    """One row per category: counts, rate, unit, AIC-best family and its check, what is used.

    Columns ``fit_median_h``/``fit_p90_h`` and their errors are the AIC-best family's;
    ``used`` is what the scenario samples (the family or ``empirical``) and ``verdict``
    says why.

    Example:
        >>> from gridsim.calibration.calibrate import calibrate, fit_table
        >>> from gridsim.calibration.logs import read_log, sample_path
        >>> table = fit_table(calibrate(read_log(sample_path())))
        >>> list(table.columns[:4])
        ['key', 'label', 'requests', 'closed']
    """
    rows = []
    for cat in calibration.categories:
        fit = cat.fit
        row = {
            "key": cat.key,
            "label": cat.label,
            "requests": cat.n_rows,
            "closed": cat.n_closed,
            "per_year": cat.rate_per_hour * HOURS_PER_YEAR,
            "unit": cat.unit,
            "family": fit.family,
            "params": ", ".join(f"{k}={v:.4g}" for k, v in fit.params.items()),
            **{f"aic_{f}": fit.aic[f] for f in FAMILIES},
        }
        errors = fit.family_errors()
        for q, name in TARGETS:
            row[f"log_{name}_h"] = fit.log_quantile(q)
            row[f"fit_{name}_h"] = fit.family_quantile(q)
            row[f"fit_{name}_error"] = errors[name]
        row.update(used=fit.used, mean_h=fit.mean(), verdict=fit.verdict)
        rows.append(row)
    return pd.DataFrame(rows)


def write_fit_report(calibration: Calibration, out_dir: str | Path) -> Path:
    """Write a Markdown fit report with figures (PNG) into ``out_dir``.

    Files: ``fit_report.md``, ``fit_table.csv``, ``time_to_close_cdf.png`` (the log's CDF
    vs the fitted families and any quantile table, per category, log-x),
    ``arrival_profiles.png`` (daily and weekly profiles) and ``mix.png`` (channel and
    category mix).

    Args:
        calibration: from :func:`calibrate`.
        out_dir: directory to create (files in it are replaced).

    Returns:
        The path of ``fit_report.md``.

    Example:
        >>> import tempfile
        >>> from gridsim.calibration.calibrate import calibrate, write_fit_report
        >>> from gridsim.calibration.logs import read_log, sample_path
        >>> report = write_fit_report(calibrate(read_log(sample_path())), tempfile.mkdtemp())
        >>> report.name
        'fit_report.md'
    """
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = fit_table(calibration)
    table.to_csv(out / "fit_table.csv", index=False)
    _plot_cdfs(calibration, out / "time_to_close_cdf.png")
    _plot_profiles(calibration, out / "arrival_profiles.png")
    _plot_mix(calibration, out / "mix.png")
    return atomic_write_text(out / "fit_report.md", _report_markdown(calibration, table))


def _report_markdown(cal: Calibration, table: pd.DataFrame) -> str:
    lines = [
        f"# Calibration fit report: {Path(cal.source).name}",
        "",
        *[f"- {line}" for line in _summary_lines(cal)],
        "",
        "## Time to close",
        "",
        "Lognormal, gamma and Weibull are fitted by maximum likelihood (location 0) to each "
        "category's closed requests, and the family with the lowest AIC (bold) is checked "
        "against the log's own median and p90 (linear interpolation between order "
        f"statistics); `error` is family / log - 1. With fit={cal.fit_mode}, "
        + {
            "auto": "the scenario uses the family where both errors are within "
            f"{_pct(cal.family_tolerance)}, and an empirical quantile table of the log's "
            "durations elsewhere.",
            "parametric": "the scenario uses the family everywhere, so a category whose "
            f"error exceeds {TIME_TOLERANCE:.0%} cannot pass the round-trip check.",
            "empirical": "the scenario uses an empirical quantile table everywhere.",
        }[cal.fit_mode],
        "",
        "| key | requests | closed | per year | unit | family | parameters | AIC lognormal "
        "| AIC gamma | AIC Weibull | log median h | family median h (error) | log p90 h "
        "| family p90 h (error) | used |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        aics = [row.aic_lognormal, row.aic_gamma, row.aic_weibull]
        shown = [f"**{a:.1f}**" if a == min(aics) else f"{a:.1f}" for a in aics]
        lines.append(
            f"| `{row.key}` | {row.requests} | {row.closed} | {row.per_year:.1f} | {row.unit} "
            f"| {row.family} | {row.params} | {' | '.join(shown)} "
            f"| {row.log_median_h:.1f} | {row.fit_median_h:.1f} "
            f"({_pct(row.fit_median_error, signed=True)}) "
            f"| {row.log_p90_h:.1f} | {row.fit_p90_h:.1f} ({_pct(row.fit_p90_error, signed=True)}) "
            f"| {row.used} |"
        )
    lines += ["", "Per category:", ""]
    lines += [f"- `{row.key}`: {row.verdict}" for row in table.itertuples()]
    if (table["used"] == "empirical").any():
        lines += [
            "",
            f"A quantile table has {TABLE_KNOTS} knots, the log's durations at probabilities "
            "0, 1 %, ..., 100 %: the shortest and the longest duration, and the median and "
            "p90 exactly. Where the table is steep around the median or p90 (a gap between "
            "groups of closures, or a long tail), a simulated quantile would move far with a "
            f"little sampling noise, so the knots within {PIN_WIDTH * 100:.0f} points of "
            f"probability either side are held within {_pct(PIN_BAND)} of it ('pinned'); the "
            "verdict says where, and how much that moved the mean.",
        ]
    lines += [
        "",
        "![time to close](time_to_close_cdf.png)",
        "",
        "## Arrivals",
        "",
        "Created times by hour of day and day of week, divided by the hours of each kind in "
        "the span and normalised to mean 1 (all categories pooled).",
        "",
        "![profiles](arrival_profiles.png)",
        "",
        "## Channel and category mix",
        "",
        "| channel | log name | share |",
        "|---|---|---|",
        *[f"| `{k}` | {cal.channel_labels[k]} | {s:.1%} |" for k, s in cal.channels.items()],
        "",
        "![mix](mix.png)",
        "",
    ]
    if cal.pooled:
        lines += [f"## Pooled into `{OTHER}`", "", ", ".join(cal.pooled), ""]
    lines += ["## Notes", "", *[f"- {note}" for note in cal.notes], ""]
    return "\n".join(lines)


_FAMILY_COLOURS = {"lognormal": "tab:blue", "gamma": "tab:orange", "weibull": "tab:green"}


def _plot_cdfs(cal: Calibration, path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    n = len(cal.categories)
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.6 * ncols, 2.7 * nrows + 0.6), squeeze=False, sharey=True
    )
    for ax, cat in zip(axes.flat, cal.categories, strict=False):
        fit = cat.fit
        hours = np.sort(fit.hours)
        grid = np.geomspace(hours[0] / 2, hours[-1] * 2, 200)
        ax.step(hours, np.arange(1, len(hours) + 1) / len(hours), where="post", color="black")
        for family in fit.candidates:
            best = family == fit.family
            ax.plot(
                grid,
                fit.frozen(family).cdf(grid),
                color=_FAMILY_COLOURS[family],
                lw=1.8 if best else 0.9,
                ls="-" if best else ":",
            )
        if fit.knots is not None:
            ax.plot(fit.knots, np.linspace(0, 1, len(fit.knots)), color="tab:red", lw=1.4, ls="--")
        ax.set_xscale("log")
        title = cat.label if len(cat.label) <= 32 else cat.label[:31] + "..."
        used = f"{fit.family} -> empirical" if fit.knots is not None else fit.family
        ax.set_title(f"{title}\nn={fit.n}, {used}", fontsize=9)
        ax.tick_params(labelsize=8)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("share closed", fontsize=9)
    for col in range(ncols):  # the lowest panel of each column
        axes[(n - 1 - col) // ncols, col].set_xlabel("hours to close (log scale)", fontsize=9)
    handles = [Line2D([], [], color="black", drawstyle="steps-post", label="log")]
    handles += [Line2D([], [], color=c, lw=1.5, label=f) for f, c in _FAMILY_COLOURS.items()]
    handles.append(Line2D([], [], color="tab:red", ls="--", lw=1.4, label="quantile table"))
    fig.legend(
        handles=handles,
        loc="upper center",
        ncols=5,
        fontsize=9,
        frameon=False,
        bbox_to_anchor=(0.5, 1 - 0.4 / fig.get_figheight()),
    )
    fig.suptitle(
        "Time to close: the log's CDF vs the fitted families (solid: lowest AIC) "
        "and, where used, the quantile table",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.55 / fig.get_figheight()))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_profiles(cal: Calibration, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, (ax_d, ax_w) = plt.subplots(1, 2, figsize=(11, 3.5), width_ratios=[3, 1.3])
    ax_d.bar(range(24), cal.daily_profile, color="tab:blue")
    ax_d.set_xticks(range(0, 24, 2))
    ax_d.set_xlabel("hour of day (created)")
    ax_d.set_ylabel("relative rate (mean 1)")
    ax_d.set_title("Daily profile")
    ax_w.bar(WEEKDAYS, cal.weekly_profile, color="tab:orange")
    ax_w.set_xlabel("day of week (created)")
    flat = any(note.startswith("Weekly profile left flat") for note in cal.notes)
    ax_w.set_title("Weekly profile" + (" (left flat: too few weeks)" if flat else ""))
    for ax in (ax_d, ax_w):
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_mix(cal: Calibration, path: Path) -> None:
    import matplotlib.pyplot as plt

    mix = cal.category_mix
    height = max(3.0, 0.28 * len(mix) + 1)
    fig, (ax_c, ax_k) = plt.subplots(1, 2, figsize=(12, height), width_ratios=[1, 1.6])
    for ax, shares, colour, title in (
        (ax_c, cal.channels, "tab:green", "Channel mix"),
        (ax_k, mix, "tab:purple", "Category mix"),
    ):
        keys = list(shares)[::-1]  # largest at the top
        ax.barh(keys, [shares[k] * 100 for k in keys], color=colour)
        ax.set_xlabel("share of requests (%)")
        ax.set_title(title)
    ax_k.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- validation


def km_quantiles(hours: ArrayLike, observed: ArrayLike, qs: ArrayLike) -> NDArray[np.float64]:
    """Quantiles of a duration from right-censored data (Kaplan-Meier estimator).

    Args:
        hours: durations, or for censored items the time they were observed for.
        observed: True where the duration ended (resolved), False where censored (open).
        qs: probabilities in (0, 1).

    Returns:
        The smallest duration at which the estimated CDF reaches each ``q`` (NaN if it
        never does). Without censoring this is the inverse empirical CDF.

    Example:
        >>> from gridsim.calibration.calibrate import km_quantiles
        >>> km_quantiles([1, 2, 3, 4], [True, True, True, True], [0.5]).tolist()
        [2.0]
    """
    t = np.asarray(hours, dtype=float)
    e = np.asarray(observed, dtype=bool)
    order = np.lexsort((~e, t))  # by time; at ties, endings before censorings
    t, e = t[order], e[order]
    at_risk = len(t) - np.arange(len(t))
    cdf = 1 - np.cumprod(np.where(e, 1 - 1 / at_risk, 1.0))
    out = []
    for q in np.atleast_1d(np.asarray(qs, dtype=float)):
        idx = int(np.searchsorted(cdf, q - 1e-12, side="left"))
        out.append(t[idx] if idx < len(t) else np.nan)
    return np.array(out, dtype=float)


def compare_to_log(
    log: RequestLog,
    run_result_orders: pd.DataFrame,
    run_result_appeals: pd.DataFrame,
    min_rows: int = 30,
    *,
    calibration: Calibration | None = None,
    horizon_hours: float | None = None,
) -> pd.DataFrame:
    """Build the validation table: how closely a run of the calibrated scenario matches the log.

    Rows of three kinds (column ``check``):

    - ``time_to_close`` (metrics ``median_h`` and ``p90_h``), per category with at least
      ``min_rows`` closed requests: the log's quantile, the calibrated scenario's (of the
      family or the quantile table it uses, column ``handling``) and the simulated one
      (from ``resolved - created`` of that category's orders); passes if the simulated
      quantile is within 10 % of the log's.
    - ``category_mix`` and ``channel_mix`` (metric ``share``): the log's share vs the
      share of simulated appeals; passes if within 2 percentage points.

    Columns: ``check, key, metric, handling, log, scenario, sim, error, fit_error,
    engine_error, tolerance, passed, n_log, n_sim``. ``error`` is sim / log - 1 for times
    and sim - log for shares. It splits into ``fit_error`` = scenario / log - 1 (the
    calibration misses the log's quantile) and ``engine_error`` = sim / scenario - 1 (the
    simulation misses the scenario's distribution, by sampling noise or by a flaw in the
    scenario or the engine). ``table.attrs["labels"]`` maps keys to the log's names.

    Args:
        log: the log that was calibrated.
        run_result_orders: ``RunResult.orders`` (several runs may be concatenated).
        run_result_appeals: ``RunResult.appeals``.
        min_rows: as given to :func:`calibrate` (used only without ``calibration``).
        calibration: the calibration simulated (default: ``calibrate(log, min_rows=...)``).
        horizon_hours: the runs' horizon. If given, orders still open at the horizon count
            as censored (Kaplan-Meier) instead of being left out, which would bias the
            simulated quantiles of long-tailed categories down.

    Returns:
        The table; see :func:`passed`.

    Example:
        >>> import pandas as pd
        >>> from gridsim.calibration.calibrate import compare_to_log
        >>> from gridsim.calibration.logs import read_log, sample_path
        >>> log = read_log(sample_path())
        >>> empty = pd.DataFrame(columns=["category", "channel", "created", "resolved"])
        >>> table = compare_to_log(log, empty, empty)
        >>> sorted(table["check"].unique())
        ['category_mix', 'channel_mix', 'time_to_close']
    """
    cal = calibration or calibrate(log, min_rows=min_rows)
    appeals = run_result_appeals[~run_result_appeals["channel"].isin(["visit", "reopen"])]
    rows = _time_rows(cal, run_result_orders, horizon_hours)
    rows += _mix_rows("category_mix", cal.category_mix, appeals["category"])
    rows += _mix_rows("channel_mix", cal.channels, appeals["channel"])
    table = pd.DataFrame(rows)
    table.attrs["labels"] = {c.key: c.label for c in cal.categories} | cal.channel_labels
    return table


def _time_rows(
    cal: Calibration, orders: pd.DataFrame, horizon: float | None
) -> list[dict[str, Any]]:
    rows = []
    for cat in cal.categories:
        if cat.n_closed < cal.min_rows:
            continue
        hours, ended = _simulated_durations(orders[orders["category"] == cat.key], horizon)
        sim = km_quantiles(hours, ended, [q for q, _ in TARGETS]) if len(hours) else [np.nan] * 2
        for (q, name), simulated in zip(TARGETS, sim, strict=True):
            observed, scenario = cat.fit.log_quantile(q), cat.fit.quantile(q)
            rows.append(
                _row(
                    check="time_to_close",
                    key=cat.key,
                    metric=f"{name}_h",
                    handling=cat.fit.used,
                    log=observed,
                    scenario=scenario,
                    sim=float(simulated),
                    error=simulated / observed - 1,
                    fit_error=scenario / observed - 1,
                    engine_error=simulated / scenario - 1,
                    tolerance=TIME_TOLERANCE,
                    n_log=cat.fit.n,
                    n_sim=int(ended.sum()),
                )
            )
    return rows


def _simulated_durations(
    orders: pd.DataFrame, horizon: float | None
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Hours from creation to resolution, and which ended (the others are censored)."""
    resolved = orders["resolved"].notna().to_numpy()
    if horizon is None:  # open orders left out
        orders, resolved = orders[resolved], resolved[resolved]
    else:  # open orders censored at the horizon
        orders = orders.assign(resolved=orders["resolved"].fillna(horizon))
    hours = (orders["resolved"] - orders["created"]).to_numpy(dtype=float)
    return hours, resolved


def _mix_rows(check: str, log_shares: dict[str, float], sim_keys: pd.Series) -> list[dict]:
    counts = sim_keys.astype(str).value_counts()
    counts = counts[counts > 0]  # a categorical column lists unused keys with a count of 0
    total = int(counts.sum())
    rows = []
    for key in sorted(set(log_shares) | set(counts.index), key=lambda k: -log_shares.get(k, 0)):
        observed = log_shares.get(key, 0.0)
        sim = counts.get(key, 0) / total if total else np.nan
        rows.append(
            _row(
                check=check,
                key=key,
                metric="share",
                log=observed,
                sim=sim,
                error=sim - observed,
                tolerance=MIX_TOLERANCE,
                n_sim=int(counts.get(key, 0)),
            )
        )
    return rows


_COLUMNS = (
    "check", "key", "metric", "handling", "log", "scenario", "sim", "error", "fit_error",
    "engine_error", "tolerance", "passed", "n_log", "n_sim",
)  # fmt: skip


def _row(**values: Any) -> dict[str, Any]:
    """One row of the :func:`compare_to_log` table; values not given are NaN."""
    values["passed"] = bool(abs(values["error"]) <= values["tolerance"])
    return {c: values.get(c, "" if c == "handling" else np.nan) for c in _COLUMNS}


def passed(table: pd.DataFrame, check: str | None = None) -> bool:
    """Return True if every row of a :func:`compare_to_log` table (or one ``check``) passed.

    Example:
        >>> import pandas as pd
        >>> from gridsim.calibration.calibrate import passed
        >>> passed(pd.DataFrame({"check": ["channel_mix"], "passed": [True]}))
        True
    """
    rows = table if check is None else table[table["check"] == check]
    return bool(len(rows)) and bool(rows["passed"].all())


def validate_log(
    path: str | Path,
    schema: str = "nyc311",
    seed: int = 1,
    days: float | None = None,
    replications: int = 1,
    *,
    min_rows: int = 30,
    sim_rows: int = 5000,
    columns: dict[str, str] | None = None,
    date_format: str | None = None,
    fit: str = "auto",
    family_tolerance: float = FAMILY_TOLERANCE,
) -> pd.DataFrame:
    """Calibrate a scenario to a log, simulate it and compare the run with the log.

    Args:
        path: the log (CSV).
        schema: ``"nyc311"`` or ``"generic"`` (then give ``columns``).
        seed: seed of the first replication; replication ``i`` uses ``seed + i``.
        days: simulated days per replication. Default: long enough that every compared
            category has about ``sim_rows`` orders over all replications, and at least five
            times the log's span (:meth:`Calibration.validation_days`).
        replications: independent runs, pooled.
        min_rows: see :func:`calibrate`.
        sim_rows: simulated orders wanted in the rarest compared category.
        columns: column mapping for :func:`gridsim.calibration.logs.read_log`.
        date_format: date format for :func:`gridsim.calibration.logs.read_log`.
        fit: ``auto``, ``parametric`` or ``empirical``; see :func:`calibrate`.
        family_tolerance: see :func:`calibrate`.

    Returns:
        The :func:`compare_to_log` table; ``table.attrs`` also holds ``days``,
        ``replications``, ``orders``, ``appeals`` and ``fit``.

    Example:
        >>> from gridsim.calibration.calibrate import passed, validate_log
        >>> from gridsim.calibration.logs import sample_path
        >>> table = validate_log(sample_path(), days=400)  # doctest: +SKIP
        >>> passed(table, "channel_mix")  # doctest: +SKIP
        True
    """
    from gridsim.model.engine import simulate

    log = read_log(path, schema, columns, date_format)
    cal = calibrate(log, min_rows=min_rows, fit=fit, family_tolerance=family_tolerance)
    scenario = scenario_from_dict(cal.to_scenario_dict(), f"<calibrated from {log.path}>")
    if days is None:
        days = max(cal.validation_days(sim_rows) / replications, 5 * cal.span_hours / 24)
    runs = [simulate(scenario, seed=seed + i, days=days) for i in range(replications)]
    table = compare_to_log(
        log,
        pd.concat([r.orders for r in runs], ignore_index=True),
        pd.concat([r.appeals for r in runs], ignore_index=True),
        calibration=cal,
        horizon_hours=runs[-1].horizon_hours,
    )
    table.attrs.update(
        days=days,
        replications=replications,
        orders=sum(len(r.orders) for r in runs),
        appeals=sum(len(r.appeals) for r in runs),
        fit=fit,
    )
    return table


# --------------------------------------------------------------------------- command line


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``calibrate LOG`` subcommand to a CLI's sub-parsers.

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser(prog="gridsim")
        >>> _ = register(parser.add_subparsers())
        >>> args = parser.parse_args(["calibrate", "log.csv", "--out", "cal.toml"])
        >>> args.out, args.schema, args.fit, args.func.__name__
        ('cal.toml', 'nyc311', 'auto', 'calibrate_command')
    """
    p = subparsers.add_parser(
        "calibrate",
        help="fit a scenario to a request log (CSV) and write it with a fit report",
        description="Read a request log, fit arrival rates, profiles, time to close (lognormal, "
        "gamma or Weibull by AIC, or the log's quantiles where the best family misses its "
        "median or p90) and channel and category mixes, and write a scenario that reproduces "
        "them plus a Markdown fit report with figures.",
    )
    p.add_argument("log", help="request log (CSV)")
    p.add_argument("--schema", choices=["nyc311", "generic"], default="nyc311")
    p.add_argument(
        "--columns",
        help="generic schema: field=column pairs, e.g. "
        "'created=opened,closed=done,category=type,channel=via,unit=office'",
    )
    p.add_argument("--date-format", help="strftime format of both date columns")
    p.add_argument("--min-rows", type=int, default=30, help="closed rows for an own category")
    p.add_argument("--population", type=int, help="residents of the calibrated town")
    p.add_argument(
        "--fit",
        choices=FIT_MODES,
        default="auto",
        help="time to close: the AIC-best family where it matches the log's median and p90, "
        "else the log's quantiles (auto, default); always the family (parametric); always "
        "the quantiles (empirical)",
    )
    p.add_argument(
        "--family-tolerance",
        type=float,
        default=FAMILY_TOLERANCE,
        help="auto: relative error of the family on median and p90 that is accepted "
        f"(default {FAMILY_TOLERANCE})",
    )
    p.add_argument("--out", default="calibrated.toml", help="scenario file to write")
    p.add_argument("--report", help="fit report directory (default: <out stem>_fit/)")
    p.set_defaults(func=calibrate_command)
    return p


def _parse_columns(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError(
            f"--columns: expected field=column pairs separated by commas, not {text!r}"
        )
    return {field.strip(): column.strip() for field, column in pairs}


def calibrate_command(args: argparse.Namespace) -> int:
    """Run ``gridsim calibrate``; user mistakes are one line on stderr and exit code 2."""
    out = Path(args.out)
    report_dir = Path(args.report) if args.report else out.with_name(f"{out.stem}_fit")
    try:
        log = read_log(args.log, args.schema, _parse_columns(args.columns), args.date_format)
        cal = calibrate(
            log,
            min_rows=args.min_rows,
            population=args.population,
            fit=args.fit,
            family_tolerance=args.family_tolerance,
        )
        write_scenario(cal, out)
        report = write_fit_report(cal, report_dir)
    except (UserError, ValueError) as exc:  # bad options are ValueErrors
        print(f"gridsim calibrate: {exc}", file=sys.stderr)
        return 2
    print(log.summary())
    tables = sum(c.fit.knots is not None for c in cal.categories)
    print(
        f"time to close: {len(cal.categories) - tables} categories use their AIC-best family, "
        f"{tables} an empirical quantile table (--fit {args.fit})"
    )
    print(f"wrote {out} ({len(cal.categories)} categories) and {report}")
    return 0
