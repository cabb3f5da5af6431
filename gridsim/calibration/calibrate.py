"""Calibrate a scenario to a real request log: rates, profiles, mixes and time to close.

The flow (one module a step)::

    log = read_log("requests.csv")            # logs: one clean table, bad rows listed
    cal = calibrate(log)                       # calibrate: this module
    write_scenario(cal, "calibrated.toml")     # scenario_writer: loads with load_scenario
    write_fit_report(cal, "fit_report/")       # fit_report: Markdown + CSV + figures
    table = validate_log("requests.csv")       # reproduce: calibrate -> simulate -> compare

:func:`calibrate` groups the log by category; categories with fewer than ``min_rows``
closed requests are pooled into one ``other`` category. For each category it takes the
arrival rate (requests per hour over the log's span), the daily and weekly profiles of
created times, the unit that handled most requests, and the time to close
(:func:`gridsim.calibration.fitting.fit_time_to_close`: the AIC-best of lognormal, gamma
and Weibull, or the log's quantile table where that family misses the log's median or p90).

Requests still open in the log count towards arrival rates but not towards time to close
(the log does not say when it was exported, so they cannot be treated as censored).

Time unit: hours.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from gridsim.calibration.fitting import (
    FAMILY_TOLERANCE,
    DurationFit,
    check_fit_options,
    fit_time_to_close,
    percent,
)
from gridsim.calibration.logs import UNKNOWN, LogError, RequestLog
from gridsim.errors import UserError

OTHER = "other"  # key of the pooled category
DEFAULT_POPULATION = 100_000
#: A category gets its own daily (weekly) profile with at least this many rows per bin.
PROFILE_ROWS_PER_BIN = 10
#: A weekly profile is estimated only from requests spread over this many calendar weeks;
#: from fewer, a weekday's rate mostly reflects what happened on one or two dates.
WEEKLY_MIN_WEEKS = 4
#: The largest team (all handlers of the scenario) a simulation of a calibrated scenario is
#: allowed: a handler costs about 1 KB, so this is about 100 MB. The NYC sample needs 2,100.
MAX_SIMULATED_STAFF = 100_000


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
    """Everything :func:`calibrate` fitted to a log.

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

    def staff(self) -> int:
        """Every handler of the calibrated scenario.

        The micro-grid's team, the grid's one handler and each unit's (department's) team.

        Example:
            >>> from gridsim.calibration.logs import read_log, sample_path
            >>> cal = calibrate(read_log(sample_path()))
            >>> cal.staff() > cal.servers()
            True
        """
        units = {c.unit for c in self.categories}
        return self.servers() + 1 + sum(ample(self.offered_load(unit)) for unit in units)

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
        The calibration; see :func:`gridsim.calibration.scenario_writer.write_scenario`
        and :func:`gridsim.calibration.fit_report.write_fit_report`.

    Raises:
        UserError: an option is out of range (named as its command-line option).
        LogError: the log spans less than an hour, has fewer than two closed requests, or
            needs a team no simulation could hold (more than MAX_SIMULATED_STAFF handlers).

    Example:
        >>> from gridsim.calibration.calibrate import calibrate
        >>> from gridsim.calibration.logs import read_log, sample_path
        >>> cal = calibrate(read_log(sample_path()))
        >>> cal.category("street_condition").n_closed, cal.categories[-1].key
        (274, 'other')
        >>> print(cal.category("sidewalk_condition").fit.verdict)  # doctest: +ELLIPSIS
        gamma AIC=..., misses the log's median by 55 % and p90 by 97 %: empirical quantiles used...
    """
    check_fit_options(fit, family_tolerance)
    # Say how many rows were bad and why: that is often why too little is left.
    bad = ", ".join(f"{n} {reason}" for reason, n in log.bad_counts().items())
    left = f" ({log.n_clean} usable rows; bad rows: {bad})" if bad else ""
    if log.span_hours < 1:
        raise LogError(log.path, "", f"the log must span at least an hour of created times{left}")
    if log.n_closed < 2:
        raise LogError(log.path, "", f"calibration needs at least 2 closed requests{left}")
    population = DEFAULT_POPULATION if population is None else int(population)
    if population <= 0:
        raise UserError("", "--population", f"a positive integer, got {population}")
    if min_rows < 1:
        raise UserError("", "--min-rows", f"a positive integer, got {min_rows}")

    category_keys, groups = _group_categories(log.data, min_rows)
    fit_options = {"fit": fit, "family_tolerance": family_tolerance, "min_table_rows": min_rows}
    categories = [_category_fit(log, *group, fit_options) for group in groups]
    daily, weekly = _profiles(log.data["created"], log.start, log.end)
    weekly_reliable = _weekly_reliable(log.data["created"])
    notes = _log_notes(log, weekly_reliable)
    notes += _category_notes(categories, min_rows, fit, family_tolerance)
    channel_keys, channels, channel_labels = _channel_mix(log.data["channel"])
    cal = Calibration(
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
    _check_staff(log, cal)
    return cal


def _check_staff(log: RequestLog, cal: Calibration) -> None:
    """Refuse a calibration whose team no simulation could hold (dates far apart, say)."""
    if cal.staff() <= MAX_SIMULATED_STAFF:
        return
    rate = log.n_clean / log.span_hours
    mean = cal.offered_load() / sum(c.rate_per_hour for c in cal.categories)
    raise LogError(
        log.path,
        "",
        f"a log whose calibrated team a simulation can hold (at most {MAX_SIMULATED_STAFF:,} "
        f"handlers); its {rate:.3g} requests an hour, taking {mean:.3g} h on average to close, "
        f"need {cal.staff():,}: check its created and closed dates",
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
    keys = assign_keys(own, reserved={OTHER} if pooled else set(), fallback="category")
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
        f"{percent(tolerance)}",
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


def assign_keys(labels: list[str], reserved: set[str], fallback: str) -> dict[str, str]:
    """Give each label its own key (:func:`make_key`), none of them in ``reserved``.

    Example:
        >>> assign_keys(["Noise", "noise!"], {"other"}, fallback="category")
        {'Noise': 'noise', 'noise!': 'noise_2'}
    """
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


def summary_lines(cal: Calibration) -> list[str]:
    """The facts both the scenario header and the fit report start with.

    Example:
        >>> from gridsim.calibration.logs import read_log, sample_path
        >>> summary_lines(calibrate(read_log(sample_path())))[1]
        'Rows: 2000 in the file, 1999 used; bad rows: 1 closed before created'
    """
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
