"""Check that a simulation of the calibrated scenario reproduces the log.

:func:`compare_to_log` puts a run (or several, pooled) next to the log: each compared
category's median and p90 time to close, and the category and channel mixes.
:func:`validate_log` does the whole round trip: read the log, calibrate, simulate, compare.
A simulated quantile may miss the log's by the calibration's own error (``fit_error``) and
by the simulation's (``engine_error``: sampling noise, or a flaw in the scenario or engine);
the table shows both.

Time unit: hours.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from gridsim.calibration.calibrate import Calibration, calibrate
from gridsim.calibration.fitting import FAMILY_TOLERANCE, TARGETS, TIME_TOLERANCE
from gridsim.calibration.logs import RequestLog, read_log
from gridsim.calibration.scenario_writer import scenario_dict
from gridsim.errors import UserError
from gridsim.model.loader import scenario_from_dict
from gridsim.model.seeds import replication_seed
from gridsim.model.simulate import simulate

MIX_TOLERANCE = 0.02  # absolute error allowed on a category or channel share
#: Bounds of a validation run, so that it never asks for more memory than a laptop has. A
#: simulated order costs about 3 KB (the NYC sample's default run: 322,000 orders, 1.2 GB),
#: so the orders bound is about 3 GB; the default length is cut to fit it.
MAX_VALIDATION_ORDERS = 1_000_000
MAX_VALIDATION_DAYS = 365_250  # 1,000 years: the NYC sample's default run is 119


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
        >>> from gridsim.calibration.reproduce import km_quantiles
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
        >>> from gridsim.calibration.reproduce import compare_to_log
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
    """The ``time_to_close`` rows: median and p90 of each category with enough closed rows."""
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


def _mix_rows(
    check: str, log_shares: dict[str, float], sim_keys: pd.Series
) -> list[dict[str, Any]]:
    """One ``share`` row per key, the log's most frequent first (keys only simulated last)."""
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
        >>> from gridsim.calibration.reproduce import passed
        >>> passed(pd.DataFrame({"check": ["channel_mix"], "passed": [True]}))
        True
    """
    rows = table if check is None else table[table["check"] == check]
    return bool(len(rows)) and bool(rows["passed"].all())


def _orders_per_day(cal: Calibration) -> float:
    """Simulated orders a day: the log's arrival rate."""
    return 24 * sum(c.rate_per_hour for c in cal.categories)


def _run_days(cal: Calibration, days: float | None, replications: int, sim_rows: int) -> float:
    """Days per replication: as asked (within the bounds), or the default cut to them."""
    per_day = _orders_per_day(cal) * replications
    if days is None:
        wanted = max(cal.validation_days(sim_rows) / replications, 5 * cal.span_hours / 24)
        # The default is a wish for precision: cut it to what memory allows.
        return float(min(wanted, MAX_VALIDATION_DAYS, MAX_VALIDATION_ORDERS / per_day))
    days = float(days)
    if not (math.isfinite(days) and days > 0):
        raise UserError("", "days", f"a positive number of days, not {days!r}")
    if days > MAX_VALIDATION_DAYS or days * per_day > MAX_VALIDATION_ORDERS:
        most = min(MAX_VALIDATION_DAYS, MAX_VALIDATION_ORDERS / per_day)
        raise UserError(
            "",
            "days",
            f"at most {most:,.0f} days for {replications} replication(s) of this log "
            f"({per_day:.3g} orders a day; at most {MAX_VALIDATION_ORDERS:,} orders in all), "
            f"not {days:g}",
        )
    return days


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
    export_date: str | date | None = None,
) -> pd.DataFrame:
    """Calibrate a scenario to a log, simulate it and compare the run with the log.

    Args:
        path: the log (CSV).
        schema: ``"nyc311"`` or ``"generic"`` (then give ``columns``).
        seed: root seed; replication ``i`` uses
            :func:`gridsim.model.seeds.replication_seed` ``(seed, i)``, as experiments do.
        days: simulated days per replication. Default: long enough that every compared
            category has about ``sim_rows`` orders over all replications, and at least five
            times the log's span (:meth:`Calibration.validation_days`), cut to
            :data:`MAX_VALIDATION_DAYS` and to :data:`MAX_VALIDATION_ORDERS` orders in all.
        replications: independent runs, pooled.
        min_rows: see :func:`calibrate`.
        sim_rows: simulated orders wanted in the rarest compared category.
        columns: column mapping for :func:`gridsim.calibration.logs.read_log`.
        date_format: date format for :func:`gridsim.calibration.logs.read_log`.
        fit: ``auto``, ``parametric`` or ``empirical``; see :func:`calibrate`.
        family_tolerance: see :func:`calibrate`.
        export_date: when the log was exported; see :func:`read_log`.

    Returns:
        The :func:`compare_to_log` table; ``table.attrs`` also holds ``days``,
        ``replications``, ``orders``, ``appeals`` and ``fit``.

    Raises:
        LogError: as :func:`read_log` and :func:`calibrate`, and when the calibrated
            scenario needs more than :data:`MAX_SIMULATED_STAFF` handlers.
        UserError: ``days`` or ``replications`` would simulate more than the bounds allow,
            or is not a positive number.

    Example:
        >>> from gridsim.calibration.reproduce import passed, validate_log
        >>> from gridsim.calibration.logs import sample_path
        >>> table = validate_log(sample_path(), days=400)  # doctest: +SKIP
        >>> passed(table, "channel_mix")  # doctest: +SKIP
        True
    """
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise UserError("", "replications", f"a positive integer, not {replications!r}")
    log = read_log(path, schema, columns, date_format, export_date)
    cal = calibrate(log, min_rows=min_rows, fit=fit, family_tolerance=family_tolerance)
    days = _run_days(cal, days, replications, sim_rows)
    scenario = scenario_from_dict(scenario_dict(cal), f"<calibrated from {log.path}>")
    runs = [
        simulate(scenario, seed=replication_seed(seed, i), days=days) for i in range(replications)
    ]
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
