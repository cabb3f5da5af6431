"""Calibrate a scenario to a real request log, and check that the simulation reproduces it.

The pipeline is::

    log = read_log("requests.csv")            # gridsim.logs
    cal = calibrate(log)                       # fit rates, profiles, time to close, mixes
    write_scenario(cal, "calibrated.toml")     # a scenario that loads with load_scenario
    write_fit_report(cal, "fit_report/")       # Markdown + figures
    table = validate_log("requests.csv")       # calibrate -> simulate -> compare_to_log

Per category the calibration fits the arrival rate (requests per hour over the log's span),
the daily and weekly profiles of created times, and the time to close (maximum likelihood
among lognormal, gamma and Weibull with the location fixed at 0, chosen by AIC). Categories
with too few closed requests are pooled into one ``other`` category.

The calibrated scenario is deliberately plain: one town, one grid, one micro-grid whose team
is large enough that no order ever queues, every category resolved at the micro-grid, no
reopening, merging, proactive finds or incidents. In it, the time from an order's creation
to its resolution is a draw from the fitted time-to-close distribution, so the simulated
quantiles should match the fitted ones; :func:`compare_to_log` measures how far they (and
the category and channel mixes) are from the log's.

Time unit: hours.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from gridsim.logs import RequestLog, read_log
from gridsim.scenario import load_scenario, scenario_from_dict

#: Time-to-close families, in the order they are reported; names as in scenario files.
FAMILIES: tuple[str, ...] = ("lognormal", "gamma", "weibull")
_SCIPY = {"lognormal": stats.lognorm, "gamma": stats.gamma, "weibull": stats.weibull_min}

OTHER = "other"  # key of the pooled category
DEFAULT_POPULATION = 100_000
HOURS_PER_YEAR = 365 * 24
#: A category gets its own daily (weekly) profile with at least this many rows per bin.
PROFILE_ROWS_PER_BIN = 10
#: A weekly profile is estimated only if every weekday has requests on this many dates;
#: with fewer weeks, a weekday's rate mostly reflects what happened on one or two dates.
WEEKLY_MIN_DATES = 4
ROLE = "calibrated_handler"
#: Time limits of the calibrated scenario: ten years, so that no deadline ever binds.
GENEROUS_LIMIT_HOURS = 10 * HOURS_PER_YEAR
CHANNEL_DELAY_HOURS = 0.001
TIME_TOLERANCE = 0.10  # relative error allowed on median and p90 time to close
MIX_TOLERANCE = 0.02  # absolute error allowed on a category or channel share
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SMARTPHONE_CHANNEL = re.compile(r"mobile|\bapps?\b|smartphone|wechat", re.IGNORECASE)


# --------------------------------------------------------------------------- records


@dataclass
class DurationFit:
    """The time-to-close distribution of one category, fitted by maximum likelihood.

    Attributes:
        family: the family with the lowest AIC (``lognormal``, ``gamma`` or ``weibull``).
        params: its parameters as a scenario ``Distribution`` takes them: lognormal
            ``median``, ``sigma``; gamma ``mean``, ``cv``; Weibull ``shape``, ``scale``.
        aic: the AIC of every family (``inf`` if its fit failed).
        candidates: the parameters of every family that could be fitted.
        hours: the durations it was fitted to (hours, all > 0).
    """

    family: str
    params: dict[str, float]
    aic: dict[str, float]
    candidates: dict[str, dict[str, float]]
    hours: NDArray[np.float64] = field(repr=False)

    @property
    def n(self) -> int:
        """Durations fitted."""
        return len(self.hours)

    def frozen(self, family: str | None = None) -> Any:
        """The fitted scipy distribution (of ``family``, default the chosen one)."""
        family = family or self.family
        return _frozen(family, self.candidates[family])

    def quantile(self, q: float, family: str | None = None) -> float:
        """Fitted quantile ``q`` in hours."""
        return float(self.frozen(family).ppf(q))

    def empirical_quantile(self, q: float) -> float:
        """Quantile ``q`` of the fitted durations (linear interpolation)."""
        return float(np.quantile(self.hours, q))

    def to_distribution(self) -> dict[str, Any]:
        """The fit as a scenario ``handling`` table, e.g. ``{"distribution": "gamma", ...}``."""
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
        fit: the time-to-close fit.
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
        bad_counts: bad rows by reason (see :class:`gridsim.logs.RequestLog`).
        start: first created time.
        end: last created time.
        span_hours: hours from ``start`` to ``end``.
        min_rows: closed rows a category needs to keep its own time-to-close fit.
        population: residents of the calibrated town (a scale for the per-1000 rates).
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
        """The category with this key (KeyError if absent)."""
        for cat in self.categories:
            if cat.key == key:
                return cat
        raise KeyError(key)

    def offered_load(self) -> float:
        """Mean number of orders in handling at once: sum of rate x mean time to close."""
        return sum(c.rate_per_hour * c.fit.frozen().mean() for c in self.categories)

    def servers(self) -> int:
        """Team size of the micro-grid: 10 x the offered load + 10, so nobody ever queues.

        With ample servers the team is an M/G/infinity queue: the number busy is Poisson
        with mean equal to the offered load, so ten times that is never reached.
        """
        return math.ceil(10 * self.offered_load() + 10)

    def validation_days(self, min_rows: int = 30, sim_rows: int = 2000) -> float:
        """Days to simulate so that every compared category gets about ``sim_rows`` orders.

        At least five times the log's span. Categories with fewer than ``min_rows`` closed
        rows in the log are not compared, so they do not set the length.

        Example:
            >>> from gridsim.calibrate import calibrate
            >>> from gridsim.logs import read_log, sample_path
            >>> cal = calibrate(read_log(sample_path()))
            >>> cal.validation_days() >= 5 * cal.span_hours / 24
            True
        """
        rates = [c.rate_per_hour for c in self.categories if c.n_closed >= min_rows]
        needed = sim_rows / min(rates) / 24 if rates else 0.0
        return float(math.ceil(max(5 * self.span_hours / 24, needed)))

    def to_scenario_dict(self) -> dict[str, Any]:
        """A scenario mapping whose simulated time to close is the fitted one.

        One town, one grid and one micro-grid; a team of :meth:`servers` handlers who are
        always on duty; every category resolved at the micro-grid with the fitted
        handling-time distribution; one issue, one report, one order; no reopening,
        merging, proactive work, incidents or binding deadlines. Validate it with
        :func:`gridsim.scenario.scenario_from_dict`.

        Example:
            >>> from gridsim.calibrate import calibrate
            >>> from gridsim.logs import read_log, sample_path
            >>> from gridsim.scenario import scenario_from_dict
            >>> data = calibrate(read_log(sample_path())).to_scenario_dict()
            >>> scenario_from_dict(data).categories[0].authority
            {'microgrid': 1.0}
        """
        return _scenario_dict(self)


# --------------------------------------------------------------------------- fitting


def fit_time_to_close(hours: ArrayLike) -> DurationFit:
    """Fit lognormal, gamma and Weibull (location 0) by maximum likelihood; pick by AIC.

    Args:
        hours: positive durations (non-positive or non-finite values are an error: the log
            reader reports such rows as bad).

    Returns:
        The fit, with the AIC of all three families.

    Raises:
        ValueError: fewer than two durations, or a value that is not positive.

    Example:
        >>> import numpy as np
        >>> from gridsim.calibrate import fit_time_to_close
        >>> x = np.random.default_rng(1).lognormal(np.log(24.0), 0.8, size=2000)
        >>> fit = fit_time_to_close(x)
        >>> fit.family, round(fit.params["median"] / 24, 1), round(fit.params["sigma"], 1)
        ('lognormal', 1.0, 0.8)
    """
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
    return DurationFit(best, candidates[best], aic, candidates, x)


def _fit_family(family: str, x: NDArray[np.float64]) -> tuple[dict[str, float] | None, float]:
    dist = _SCIPY[family]
    try:
        with warnings.catch_warnings():
            # The optimiser's intermediate overflows are harmless; the final
            # log-likelihood is checked for finiteness below.
            warnings.simplefilter("ignore", RuntimeWarning)
            shape, _, scale = dist.fit(x, floc=0)
    except (ValueError, RuntimeError, FloatingPointError):
        return None, -math.inf
    params = _scenario_params(family, float(shape), float(scale))
    loglik = float(np.sum(_frozen(family, params).logpdf(x)))
    return params, loglik


def _scenario_params(family: str, shape: float, scale: float) -> dict[str, float]:
    """scipy's (shape, scale) -> the parameters a scenario ``Distribution`` takes."""
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


# --------------------------------------------------------------------------- calibrate


def calibrate(log: RequestLog, *, min_rows: int = 30, population: int | None = None) -> Calibration:
    """Fit rates, profiles, time to close and mixes to a request log.

    Args:
        log: a log from :func:`gridsim.logs.read_log`.
        min_rows: closed requests a category needs for its own time-to-close fit; the
            categories with fewer are pooled into one ``other`` category.
        population: residents of the calibrated town (default 100,000). It only scales the
            per-1000-residents issue rates, which are set so that the scenario files the
            log's number of requests per year.

    Returns:
        The calibration; see :meth:`Calibration.to_scenario_dict`, :func:`write_scenario`
        and :func:`write_fit_report`.

    Raises:
        ValueError: the log spans less than an hour, or has fewer than two closed requests.

    Example:
        >>> from gridsim.calibrate import calibrate
        >>> from gridsim.logs import read_log, sample_path
        >>> cal = calibrate(read_log(sample_path()))
        >>> cal.category("street_condition").n_closed, cal.categories[-1].key
        (274, 'other')
    """
    data = log.data
    if log.span_hours < 1:
        raise ValueError(f"{log.path}: the log must span at least an hour of created times")
    closed = data["hours_to_close"].notna()
    if closed.sum() < 2:
        raise ValueError(f"{log.path}: calibration needs at least 2 closed requests")
    population = DEFAULT_POPULATION if population is None else int(population)
    if population <= 0:
        raise ValueError(f"population must be positive, got {population}")

    closed_counts = data.loc[closed, "category"].value_counts()
    row_counts = data["category"].value_counts()
    own = [c for c in row_counts.index if closed_counts.get(c, 0) >= min_rows]
    pooled = [c for c in row_counts.index if c not in own]
    category_keys = _assign_keys(own, reserved={OTHER} if pooled else set(), fallback="category")
    category_keys.update({c: OTHER for c in pooled})
    daily, weekly = _profiles(data["created"], log.start, log.end)
    notes = _coverage_notes(log)
    if not _weekly_reliable(data["created"]):
        weekly = [1.0] * 7
        notes.append(
            f"Weekly profile left flat: some weekday has requests on fewer than "
            f"{WEEKLY_MIN_DATES} dates, too few to tell a weekday effect from a date effect."
        )

    categories = [
        _category_fit(log, category_keys[name], name, [name], daily, weekly) for name in own
    ]
    if pooled:
        label = f"Other ({len(pooled)} pooled categories)"
        other = _category_fit(log, OTHER, label, pooled, daily, weekly)
        categories.append(other)
        notes.append(
            f"{len(pooled)} categories with fewer than {min_rows} closed requests were pooled "
            f"into '{OTHER}' ({other.n_rows} requests, {other.n_closed} closed)."
        )
        if other.fit.n < min_rows:
            notes.append(
                f"'{OTHER}' itself has only {other.fit.n} durations; its fit is rough."
            )
    channel_keys, channels, channel_labels = _channel_mix(data["channel"])
    own_profiles = [c.key for c in categories if c.daily_profile or c.weekly_profile]
    notes.append(
        f"Daily (weekly) profiles are per category with at least {24 * PROFILE_ROWS_PER_BIN} "
        f"({7 * PROFILE_ROWS_PER_BIN}) requests, else pooled over all categories; "
        f"own profiles: {', '.join(own_profiles) or 'none'}."
    )
    if log.n_open:
        notes.append(
            f"{log.n_open} requests still open in the log count towards arrival rates but not "
            "towards time to close; the scenario resolves every order."
        )
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
        categories=categories,
        channels=channels,
        channel_labels=channel_labels,
        daily_profile=daily,
        weekly_profile=weekly,
        category_keys=category_keys,
        channel_keys=channel_keys,
        notes=notes,
    )


def _category_fit(
    log: RequestLog,
    key: str,
    label: str,
    members: list[str],
    pooled_daily: list[float],
    pooled_weekly: list[float],
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
        fit=fit_time_to_close(hours),
        daily_profile=daily if own_daily else None,
        weekly_profile=weekly if own_weekly else None,
    )


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
    weekly = _normalised_rate(np.bincount(created.dayofweek, minlength=7), hours.dayofweek, 7)
    return daily, weekly


def _weekly_reliable(created: pd.Series) -> bool:
    dates = pd.DataFrame({"date": created.dt.normalize(), "weekday": created.dt.weekday})
    per_weekday = dates.drop_duplicates().groupby("weekday").size()
    return len(per_weekday) == 7 and bool((per_weekday >= WEEKLY_MIN_DATES).all())


def _coverage_notes(log: RequestLog) -> list[str]:
    """Warn when the created times cover only a few days of the span (an extract)."""
    days = log.data["created"].dt.normalize()
    span_days = (log.end.normalize() - log.start.normalize()).days + 1
    active = days.nunique()
    if active >= 0.5 * span_days:
        return []
    busiest = days.value_counts()
    top = busiest.head(3)
    share = top.sum() / len(days)
    shown = ", ".join(f"{d:%Y-%m-%d}" for d in sorted(top.index))
    return [
        f"Requests were created on only {active} of the {span_days} days of the span; "
        f"{share:.1%} of them on {shown}. Arrival rates are averages over the whole span "
        "(the log looks like an extract, not a continuous record), so use their ratios, "
        "not their levels."
    ]


def _normalised_rate(counts: NDArray, exposure_bins: ArrayLike, size: int) -> list[float]:
    exposure = np.bincount(np.asarray(exposure_bins), minlength=size).astype(float)
    seen = exposure > 0
    rate = np.zeros(size)
    rate[seen] = counts[seen] / exposure[seen]
    # Bins the span never covers (a log shorter than a week) get the average rate.
    rate[~seen] = rate[seen].mean()
    mean = rate.mean()
    return [float(v) for v in (rate / mean if mean > 0 else np.ones(size))]


def make_key(label: str, taken: set[str], fallback: str = "key") -> str:
    """A scenario key for a label: lowercase ``[a-z0-9_]``, a letter first, unique, <= 40.

    Example:
        >>> from gridsim.calibrate import make_key
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
    names = channels.fillna("").astype(str)
    keys: dict[str, str] = {}
    taken: set[str] = set()
    for name in names.value_counts().index:
        slug = make_key(name, set(), fallback="channel")
        if slug in ("", "unknown", "channel") or name.strip().lower() in ("", "unknown"):
            keys[name] = "unknown"  # blank and "unknown" channels are one channel
            continue
        keys[name] = slug if slug not in taken else make_key(name, taken, "channel")
        taken.add(keys[name])
    mapped = names.map(keys)
    shares = mapped.value_counts(normalize=True)
    labels = {k: " / ".join(sorted({n for n, v in keys.items() if v == k})) for k in shares.index}
    return keys, {str(k): float(v) for k, v in shares.items()}, labels


# --------------------------------------------------------------------------- scenario


def _sig(value: float, digits: int = 6) -> float:
    """Round to significant digits, to keep generated TOML readable."""
    return float(f"{value:.{digits}g}")


def _scenario_dict(cal: Calibration) -> dict[str, Any]:
    servers = cal.servers()
    units = sorted({c.unit for c in cal.categories})
    unit_keys = _assign_keys(units, reserved=set(), fallback="unit")
    per_year = cal.population / 1000
    channels_need_phone = {k: bool(_SMARTPHONE_CHANNEL.search(cal.channel_labels[k])) for k in cal.channels}
    if all(channels_need_phone.values()):
        # The schema needs one channel usable without a smartphone; with nobody lacking a
        # phone (no_smartphone_share = 0) the flag changes nothing in the simulation.
        channels_need_phone = dict.fromkeys(channels_need_phone, False)
    departments = []
    for unit in units:
        load = sum(
            c.rate_per_hour * c.fit.frozen().mean() for c in cal.categories if c.unit == unit
        )
        departments.append(
            {"key": unit_keys[unit], "label_en": unit, "staff": math.ceil(10 * load + 10)}
        )
    categories = []
    for cat in cal.categories:
        entry: dict[str, Any] = {
            "key": cat.key,
            "label_en": cat.label,
            "issues_per_1000_residents_per_year": _sig(
                cat.rate_per_hour * HOURS_PER_YEAR / per_year
            ),
            "households_affected_mean": 1.0,
            "report_probability": 1.0,
            "visit_detectability": 0.0,
            "authority": {"microgrid": 1.0},
            "handling": cat.fit.to_distribution(),
            "time_limit_hours": float(GENEROUS_LIMIT_HOURS),
            "department": unit_keys[cat.unit],
        }
        if cat.daily_profile is not None:
            entry["daily_profile"] = [round(v, 4) for v in cat.daily_profile]
        if cat.weekly_profile is not None:
            entry["weekly_profile"] = [round(v, 4) for v in cat.weekly_profile]
        categories.append(entry)
    channels = [
        {
            "key": key,
            "label_en": cal.channel_labels[key],
            "share": share,
            "needs_smartphone": channels_need_phone[key],
            "delay": {"distribution": "fixed", "mean": CHANNEL_DELAY_HOURS},
            "desk": "grid_management",
            "dispatch_hours": 0.0,
        }
        for key, share in cal.channels.items()
    ]
    name = Path(cal.source).name
    return {
        "schema_version": 1,
        "meta": {
            "name": f"Calibrated to {name}",
            "description": (
                f"Generated by gridsim calibrate from {name} ({cal.schema}): one town, one "
                "grid, one micro-grid with an uncongested team; handling times are the "
                "log's fitted time to close."
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
            "microgrid": {ROLE: servers},
            "exclusive_grid_role": ROLE,
            "town_desk_role": ROLE,
            "county_desk_role": ROLE,
            "department_role": ROLE,
        },
        "departments": departments,
        "residents": {"no_smartphone_share": 0.0},
        "arrivals": {
            "daily_profile": [round(v, 4) for v in cal.daily_profile],
            "weekly_profile": [round(v, 4) for v in cal.weekly_profile],
        },
        "channels": channels,
        "categories": categories,
        "levels": {
            "handling_factor": {"microgrid": 1.0, "grid": 1.0, "town": 1.0, "county": 1.0},
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
        # The log says nothing about satisfaction. A zero time effect also keeps the logistic
        # score bounded for the very long closures of heavy-tailed categories.
        "satisfaction": {"reopen_probability": 0.0, "per_day_to_resolve": 0.0},
        "incentives": {"ranking_role": ROLE},
    }


def _provenance(cal: Calibration) -> str:
    bad = ", ".join(f"{n} {reason}" for reason, n in cal.bad_counts.items()) or "none"
    lines = [
        "Calibrated scenario generated by gridsim calibrate (gridsim.calibrate.write_scenario).",
        f"Source: {cal.source} (schema {cal.schema})",
        f"Rows: {cal.n_rows} in the file, {cal.n_used} used; bad rows: {bad}",
        f"Created from {cal.start:%Y-%m-%d %H:%M} to {cal.end:%Y-%m-%d %H:%M} "
        f"({cal.span_hours / 24:.1f} days)",
        f"Population {cal.population}: a scale; per-1000 rates reproduce the log's requests "
        "per year.",
        f"Micro-grid team of {cal.servers()} handlers (10 x offered load "
        f"{cal.offered_load():.1f} + 10), so no order waits.",
        "Time to close: maximum likelihood (location 0), family chosen by lowest AIC:",
    ]
    for cat in cal.categories:
        aics = ", ".join(f"{f} {cat.fit.aic[f]:.1f}" for f in FAMILIES)
        lines.append(
            f"  {cat.key} ({cat.label}, {cat.fit.n} closed): {cat.fit.family}; AIC {aics}"
        )
    if cal.pooled:
        lines.append(f"Pooled into '{OTHER}' (< {cal.min_rows} closed rows): {len(cal.pooled)}")
    return "\n".join("# " + _printable(line) for line in lines) + "\n"


def _printable(text: str) -> str:
    # A log's labels may hold control characters, which a TOML comment may not.
    return re.sub(r"[\x00-\x1f\x7f]", " ", text)


def write_scenario(calibration: Calibration, out_path: str | Path) -> Path:
    """Write the calibrated scenario as TOML, atomically, with a provenance header.

    The file is written to a temporary name, checked with
    :func:`gridsim.scenario.load_scenario`, then renamed into place.

    Args:
        calibration: from :func:`calibrate`.
        out_path: the ``.toml`` file to write (replaced if it exists).

    Returns:
        The path written.

    Example:
        >>> import tempfile, pathlib
        >>> from gridsim.calibrate import calibrate, write_scenario
        >>> from gridsim.logs import read_log, sample_path
        >>> from gridsim.scenario import load_scenario
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "nyc.toml"
        >>> path = write_scenario(calibrate(read_log(sample_path())), out)
        >>> load_scenario(path).categories[-1].key
        'other'
    """
    import tomli_w

    out = Path(out_path)
    data = calibration.to_scenario_dict()
    scenario_from_dict(data, str(out))  # fail before touching the disk
    text = _provenance(calibration) + "\n" + tomli_w.dumps(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, "utf-8")
        load_scenario(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


# --------------------------------------------------------------------------- fit report


def fit_table(calibration: Calibration) -> pd.DataFrame:
    """One row per category: counts, rate, unit, chosen family, parameters, AICs, quantiles.

    Example:
        >>> from gridsim.calibrate import calibrate, fit_table
        >>> from gridsim.logs import read_log, sample_path
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
        }
        row.update({f"aic_{f}": fit.aic[f] for f in FAMILIES})
        for q, name in ((0.5, "median"), (0.9, "p90")):
            row[f"log_{name}_h"] = fit.empirical_quantile(q)
            row[f"fit_{name}_h"] = fit.quantile(q)
            row[f"fit_{name}_error"] = fit.quantile(q) / fit.empirical_quantile(q) - 1
        rows.append(row)
    return pd.DataFrame(rows)


def write_fit_report(calibration: Calibration, out_dir: str | Path) -> Path:
    """Write a Markdown fit report with figures (PNG) into ``out_dir``.

    Files: ``fit_report.md``, ``fit_table.csv``, ``time_to_close_cdf.png`` (empirical vs
    fitted CDF per category, log-x), ``arrival_profiles.png`` (daily and weekly profiles)
    and ``mix.png`` (channel and category mix).

    Args:
        calibration: from :func:`calibrate`.
        out_dir: directory to create (files in it are replaced).

    Returns:
        The path of ``fit_report.md``.

    Example:
        >>> import tempfile
        >>> from gridsim.calibrate import calibrate, write_fit_report
        >>> from gridsim.logs import read_log, sample_path
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
    path = out / "fit_report.md"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(_report_markdown(calibration, table), "utf-8")
    os.replace(tmp, path)
    return path


def _report_markdown(cal: Calibration, table: pd.DataFrame) -> str:
    bad = ", ".join(f"{n} {reason}" for reason, n in cal.bad_counts.items()) or "none"
    lines = [
        f"# Calibration fit report: {Path(cal.source).name}",
        "",
        f"- Source: `{cal.source}` (schema `{cal.schema}`)",
        f"- Rows: {cal.n_rows} in the file, {cal.n_used} used; bad rows: {bad}",
        f"- Created from {cal.start:%Y-%m-%d %H:%M} to {cal.end:%Y-%m-%d %H:%M} "
        f"({cal.span_hours / 24:.1f} days)",
        f"- Categories: {len(cal.categories)} "
        f"({len(cal.pooled)} of the log's categories pooled into `{OTHER}`)",
        f"- Scenario scale: population {cal.population}, micro-grid team of "
        f"{cal.servers()} (offered load {cal.offered_load():.1f} orders in handling)",
        "",
        "## Time to close",
        "",
        "Maximum likelihood with the location fixed at 0; the family with the lowest AIC is "
        "used. `log` quantiles are the closed requests' empirical ones; `error` is fitted / "
        "log - 1. A simulation of the calibrated scenario reproduces the *fitted* quantiles, "
        f"so a category whose error exceeds {TIME_TOLERANCE:.0%} cannot pass the round-trip "
        "check however good the simulator is.",
        "",
        "| key | requests | closed | per year | unit | family | parameters | AIC lognormal "
        "| AIC gamma | AIC Weibull | log median h | fit median h (error) | log p90 h "
        "| fit p90 h (error) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        aics = [row.aic_lognormal, row.aic_gamma, row.aic_weibull]
        best = min(aics)
        shown = [f"**{a:.1f}**" if a == best else f"{a:.1f}" for a in aics]
        lines.append(
            f"| `{row.key}` | {row.requests} | {row.closed} | {row.per_year:.1f} | {row.unit} "
            f"| {row.family} | {row.params} | {' | '.join(shown)} "
            f"| {row.log_median_h:.1f} | {row.fit_median_h:.1f} ({row.fit_median_error:+.0%}) "
            f"| {row.log_p90_h:.1f} | {row.fit_p90_h:.1f} ({row.fit_p90_error:+.0%}) |"
        )
    misfits = table[
        (table["fit_median_error"].abs() > TIME_TOLERANCE)
        | (table["fit_p90_error"].abs() > TIME_TOLERANCE)
    ]
    if len(misfits):
        lines += [
            "",
            f"Fitted median or p90 more than {TIME_TOLERANCE:.0%} from the log's: "
            + ", ".join(f"`{k}`" for k in misfits["key"])
            + ". Their durations are not well described by any of the three families "
            "(several modes, or a deadline that piles closures at one time).",
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
    ]
    for key, share in cal.channels.items():
        lines.append(f"| `{key}` | {cal.channel_labels[key]} | {share:.1%} |")
    lines += ["", "![mix](mix.png)", ""]
    if cal.pooled:
        lines += [f"## Pooled into `{OTHER}`", "", ", ".join(cal.pooled), ""]
    lines += ["## Notes", "", *[f"- {note}" for note in cal.notes], ""]
    return "\n".join(lines)


def _plot_cdfs(cal: Calibration, path: Path) -> None:
    import matplotlib.pyplot as plt

    n = len(cal.categories)
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.6 * ncols, 2.9 * nrows), squeeze=False, sharey=True
    )
    for ax, cat in zip(axes.flat, cal.categories, strict=False):
        hours = np.sort(cat.fit.hours)
        ecdf = np.arange(1, len(hours) + 1) / len(hours)
        grid = np.geomspace(hours[0] / 2, hours[-1] * 2, 200)
        ax.step(hours, ecdf, where="post", color="black", lw=1.2, label="log")
        for family in cat.fit.candidates:
            chosen = family == cat.fit.family
            ax.plot(
                grid,
                cat.fit.frozen(family).cdf(grid),
                lw=1.8 if chosen else 0.8,
                ls="-" if chosen else ":",
                label=f"{family} (AIC best)" if chosen else family,
            )
        ax.set_xscale("log")
        title = cat.label if len(cat.label) <= 32 else cat.label[:31] + "..."
        ax.set_title(f"{title}\nn={cat.fit.n}, {cat.fit.family}", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=6, loc="lower right")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("share closed", fontsize=9)
    for ax in axes[-1, :]:
        ax.set_xlabel("hours to close (log scale)", fontsize=9)
    fig.suptitle("Time to close: log (step) vs fitted CDFs", fontsize=11)
    fig.tight_layout()
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
    ax_w.set_title("Weekly profile")
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
    keys = list(cal.channels)
    ax_c.barh(keys[::-1], [cal.channels[k] * 100 for k in keys[::-1]], color="tab:green")
    ax_c.set_xlabel("share of requests (%)")
    ax_c.set_title("Channel mix")
    cats = list(mix)
    ax_k.barh(cats[::-1], [mix[k] * 100 for k in cats[::-1]], color="tab:purple")
    ax_k.set_xlabel("share of requests (%)")
    ax_k.set_title("Category mix")
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
        >>> from gridsim.calibrate import km_quantiles
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
    """The validation table: does a simulation of the calibrated scenario match the log?

    Rows of three kinds (column ``check``):

    - ``time_to_close`` (metrics ``median_h`` and ``p90_h``), per category with at least
      ``min_rows`` closed requests: the log's empirical quantile, the fitted one and the
      simulated one (from ``resolved - created`` of that category's orders); passes if the
      simulated quantile is within 10 % of the log's.
    - ``category_mix`` and ``channel_mix`` (metric ``share``): the log's share vs the
      share of simulated appeals; passes if within 2 percentage points.

    Columns: ``check, key, label, metric, log, fitted, sim, error, fit_error, tolerance,
    passed, n_log, n_sim``. ``error`` is sim / log - 1 for times and sim - log for shares;
    ``fit_error`` is fitted / log - 1 (how much of the error the fitted family explains).

    Args:
        log: the log that was calibrated.
        run_result_orders: ``RunResult.orders`` (several runs may be concatenated).
        run_result_appeals: ``RunResult.appeals``.
        min_rows: as given to :func:`calibrate` (it decides the pooling into ``other``).
        calibration: the calibration simulated (default: ``calibrate(log, min_rows=...)``).
        horizon_hours: the runs' horizon. If given, orders still open at the horizon count
            as censored (Kaplan-Meier) instead of being left out, which would bias the
            simulated quantiles of long-tailed categories down.

    Returns:
        The table; see :func:`passed`.

    Example:
        >>> import pandas as pd
        >>> from gridsim.calibrate import compare_to_log
        >>> from gridsim.logs import read_log, sample_path
        >>> log = read_log(sample_path())
        >>> empty = pd.DataFrame(columns=["category", "channel", "created", "resolved"])
        >>> table = compare_to_log(log, empty, empty)
        >>> sorted(table["check"].unique())
        ['category_mix', 'channel_mix', 'time_to_close']
    """
    cal = calibration or calibrate(log, min_rows=min_rows)
    rows = [*_time_rows(cal, run_result_orders, min_rows, horizon_hours)]
    appeals = run_result_appeals[~run_result_appeals["channel"].isin(["visit", "reopen"])]
    labels = {c.key: c.label for c in cal.categories}
    rows += _mix_rows("category_mix", cal.category_mix, appeals["category"], labels)
    rows += _mix_rows("channel_mix", cal.channels, appeals["channel"], cal.channel_labels)
    return pd.DataFrame(rows)


def _time_rows(
    cal: Calibration, orders: pd.DataFrame, min_rows: int, horizon: float | None
) -> list[dict[str, Any]]:
    rows = []
    for cat in cal.categories:
        if cat.n_closed < min_rows:
            continue
        mine = orders[orders["category"] == cat.key]
        resolved = mine["resolved"].notna().to_numpy()
        if horizon is None:
            hours = (mine["resolved"] - mine["created"])[resolved].to_numpy(dtype=float)
            ended = np.ones(len(hours), dtype=bool)
        else:
            end = mine["resolved"].where(resolved, horizon)
            hours, ended = (end - mine["created"]).to_numpy(dtype=float), resolved
        sim = km_quantiles(hours, ended, [0.5, 0.9]) if len(hours) else [np.nan, np.nan]
        for i, (q, metric) in enumerate(((0.5, "median_h"), (0.9, "p90_h"))):
            observed = cat.fit.empirical_quantile(q)
            fitted = cat.fit.quantile(q)
            error = sim[i] / observed - 1
            rows.append(
                {
                    "check": "time_to_close",
                    "key": cat.key,
                    "label": cat.label,
                    "metric": metric,
                    "log": observed,
                    "fitted": fitted,
                    "sim": float(sim[i]),
                    "error": error,
                    "fit_error": fitted / observed - 1,
                    "tolerance": TIME_TOLERANCE,
                    "passed": bool(abs(error) <= TIME_TOLERANCE),
                    "n_log": cat.fit.n,
                    "n_sim": int(resolved.sum()),
                }
            )
    return rows


def _mix_rows(
    check: str, log_shares: dict[str, float], sim_keys: pd.Series, labels: dict[str, str]
) -> list[dict[str, Any]]:
    counts = sim_keys.value_counts()
    total = int(counts.sum())
    rows = []
    for key in sorted(set(log_shares) | set(counts.index), key=lambda k: -log_shares.get(k, 0)):
        observed = log_shares.get(key, 0.0)
        sim = counts.get(key, 0) / total if total else np.nan
        rows.append(
            {
                "check": check,
                "key": key,
                "label": labels.get(key, key),
                "metric": "share",
                "log": observed,
                "fitted": np.nan,
                "sim": sim,
                "error": sim - observed,
                "fit_error": np.nan,
                "tolerance": MIX_TOLERANCE,
                "passed": bool(abs(sim - observed) <= MIX_TOLERANCE),
                "n_log": np.nan,
                "n_sim": int(counts.get(key, 0)),
            }
        )
    return rows


def passed(table: pd.DataFrame, check: str | None = None) -> bool:
    """True if every row of a :func:`compare_to_log` table (or of one ``check``) passed.

    Example:
        >>> import pandas as pd
        >>> from gridsim.calibrate import passed
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
    sim_rows: int = 2000,
    columns: dict[str, str] | None = None,
    date_format: str | None = None,
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
        columns: column mapping for :func:`gridsim.logs.read_log`.
        date_format: date format for :func:`gridsim.logs.read_log`.

    Returns:
        The :func:`compare_to_log` table; ``table.attrs`` holds ``days``, ``replications``,
        ``orders`` and ``appeals``.

    Example:
        >>> from gridsim.calibrate import passed, validate_log
        >>> from gridsim.logs import sample_path
        >>> table = validate_log(sample_path(), days=400)  # doctest: +SKIP
        >>> passed(table, "channel_mix")  # doctest: +SKIP
        True
    """
    from gridsim.engine import simulate

    log = read_log(path, schema, columns, date_format)
    cal = calibrate(log, min_rows=min_rows)
    scenario = scenario_from_dict(cal.to_scenario_dict(), f"<calibrated from {log.path}>")
    if days is None:
        total = cal.validation_days(min_rows=min_rows, sim_rows=sim_rows)
        days = max(total / replications, 5 * cal.span_hours / 24)
    orders, appeals, horizon = [], [], None
    for i in range(replications):
        result = simulate(scenario, seed=seed + i, days=days)
        orders.append(result.orders)
        appeals.append(result.appeals)
        horizon = result.horizon_hours
    table = compare_to_log(
        log,
        pd.concat(orders, ignore_index=True),
        pd.concat(appeals, ignore_index=True),
        min_rows,
        calibration=cal,
        horizon_hours=horizon,
    )
    table.attrs.update(
        days=days,
        replications=replications,
        orders=int(sum(len(o) for o in orders)),
        appeals=int(sum(len(a) for a in appeals)),
    )
    return table
