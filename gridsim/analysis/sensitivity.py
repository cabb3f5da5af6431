"""Global sensitivity indices of a sweep's KPIs to its range factors (SALib).

A sweep with range factors (``range = {low, high}``) samples them, and the question is how
much of each KPI's variation each factor explains. Three estimators of SALib are offered,
each with a bootstrap confidence interval:

``sobol``
    Sobol' first-order (``S1``) and total (``ST``) indices. Needs a Saltelli design (the
    sweep's ``design = "saltelli"``): blocks of ``D + 2`` points ``A, AB_1 … AB_D, B`` where
    ``AB_i`` is ``A`` with factor ``i`` taken from ``B``. :func:`is_saltelli` checks that.
``rbd_fast``
    Random-balance-design FAST first-order index (``S1``), estimated on any sample, here
    the Latin hypercube a sweep already has (Plischke 2010: the sample is sorted by each
    factor in turn).
``delta``
    Borgonovo's moment-independent ``delta`` (how far the KPI's whole distribution moves
    when the factor is fixed; 0 for an irrelevant factor) and a first-order ``S1`` from the
    same sample.

The KPI is first averaged over replications at each design point, so the indices describe
the factors' effect on the mean KPI; replication noise lowers every index a little. A
levels factor (``values = [...]``) crossed with the range factors is not an input here: its
effect is counted with the rest as unexplained variation.

Pure computation: no plotting, no file writing.

References:
    Saltelli, A. et al. (2010). Variance based sensitivity analysis of model output. Computer
    Physics Communications 181(2), 259–270.
    Plischke, E. (2010). An effective algorithm for computing global sensitivity indices
    (EASI). Reliability Engineering & System Safety 95(4), 354–360.
    Borgonovo, E. (2007). A new uncertainty importance measure. Reliability Engineering &
    System Safety 92(6), 771–784.
    Herman, J. & Usher, W. (2017). SALib: An open-source Python library for sensitivity
    analysis. Journal of Open Source Software 2(9), 97.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "METHODS",
    "MIN_POINTS",
    "default_method",
    "design_kind",
    "design_order",
    "design_table",
    "is_saltelli",
    "range_factors",
    "sensitivity_indices",
    "sweep_indices",
]

#: The estimators, by name.
METHODS = ("sobol", "rbd_fast", "delta")
#: Fewest design points an index is estimated from (fewer give intervals wider than [0, 1]).
MIN_POINTS = 20
_RBD_HARMONICS = 4


def design_table(
    tidy: pd.DataFrame, factors: Sequence[str], order: Sequence[str] | None = None
) -> tuple[np.ndarray, pd.DataFrame]:
    """Design points in sample order: their factor values and each KPI's replication mean.

    With ``order`` (the design points' variants in sample order, :func:`design_order`), only
    those variants, in that order; without, table order, and rows without a value of every
    factor (an explicit variant beside the design) are left out.

    Args:
        tidy: a sweep's tidy table (``variant``, factor columns, ``replication``,
            ``metric``, ``value``).
        factors: the factor columns to use as inputs.
        order: the design points' variant names in sample order (``None``: table order).

    Returns:
        ``X`` (points × factors) and a frame of KPI means (points × metrics), same row order.

    Example:
        >>> tidy = pd.DataFrame({"variant": ["a", "a", "b", "b"], "x": [1.0, 1.0, 2.0, 2.0],
        ...     "replication": [0, 1, 0, 1], "metric": ["m"] * 4, "value": [1.0, 3.0, 5.0, 7.0]})
        >>> X, Y = design_table(tidy, ["x"])
        >>> X.tolist(), Y["m"].tolist()
        ([[1.0], [2.0]], [2.0, 6.0])
    """
    missing = [f for f in factors if f not in tidy.columns]
    if missing:
        raise ValueError(f"no factor column {missing[0]!r} in the results")
    rows = tidy.dropna(subset=list(factors))
    if order is not None:
        rows = rows[rows["variant"].isin(set(order))]
        order = [v for v in order if v in set(rows["variant"])]
    else:
        order = list(dict.fromkeys(rows["variant"]))
    means = rows.groupby(["variant", "metric"], sort=False)["value"].mean().unstack("metric")
    means = means.reindex(order)
    points = rows.drop_duplicates("variant").set_index("variant").reindex(order)
    X = points[list(factors)].to_numpy(dtype=float)
    metrics = list(dict.fromkeys(rows["metric"]))
    return X, means[metrics].reset_index(drop=True)


def is_saltelli(X: np.ndarray) -> bool:
    """Whether the rows form a Saltelli sample (first-order and total indices only).

    Example:
        >>> A, B = np.array([0.1, 0.2]), np.array([0.7, 0.9])
        >>> is_saltelli(np.array([A, [0.7, 0.2], [0.1, 0.9], B]))
        True
        >>> is_saltelli(np.array([A, [0.7, 0.3], [0.1, 0.9], B]))
        False
    """
    n, d = X.shape
    if d == 0 or n == 0 or n % (d + 2):
        return False
    blocks = X.reshape(n // (d + 2), d + 2, d)
    a, b = blocks[:, 0, :], blocks[:, -1, :]
    for i in range(d):
        expected = a.copy()
        expected[:, i] = b[:, i]
        if not np.allclose(blocks[:, i + 1, :], expected, equal_nan=False):
            return False
    return True


def range_factors(
    manifest: Mapping[str, Any], tidy: pd.DataFrame
) -> dict[str, tuple[float, float]]:
    """The sweep's range factors and their bounds: ``{column: (low, high)}``.

    Read from ``manifest["range_factors"]``; results written before it was recorded are
    inferred: a numeric factor column with more than half as many distinct values as there
    are design points (and more than 6) was sampled, and its observed extremes stand for
    its bounds.

    Example:
        >>> range_factors({"range_factors": {"x": [0, 1]}}, pd.DataFrame())
        {'x': (0.0, 1.0)}
    """
    recorded = manifest.get("range_factors")
    if recorded is not None:
        return {str(k): (float(v[0]), float(v[1])) for k, v in recorded.items()}
    found: dict[str, tuple[float, float]] = {}
    columns = [c for c in manifest.get("factor_paths") or [] if c in tidy.columns]
    points = tidy.dropna(subset=columns).drop_duplicates("variant") if columns else tidy
    for col in columns:
        values = points[col]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        if values.nunique() > max(6, len(points) // 2):
            found[col] = (float(values.min()), float(values.max()))
    return found


def design_kind(manifest: Mapping[str, Any], tidy: pd.DataFrame) -> str:
    """``"factorial"``, ``"lhs"``, ``"saltelli"`` or ``"none"`` (no factor varies).

    A sweep with a range factor is sampled (``lhs`` or ``saltelli``, as the manifest says;
    ``lhs`` when it does not); one whose factors all have levels is ``factorial``.

    Example:
        >>> design_kind({"design": "saltelli", "range_factors": {"x": [0, 1]}}, pd.DataFrame())
        'saltelli'
        >>> tidy = pd.DataFrame({"variant": ["a", "b"], "x": [1, 2]})
        >>> design_kind({"factor_paths": ["x"]}, tidy)
        'factorial'
    """
    if range_factors(manifest, tidy):
        return "saltelli" if manifest.get("design") == "saltelli" else "lhs"
    listed = [*(manifest.get("factor_columns") or []), *(manifest.get("factor_paths") or [])]
    columns = [c for c in dict.fromkeys(listed) if c in tidy.columns]
    if any(tidy[c].nunique() > 1 for c in columns):
        return "factorial"
    return "none"


def default_method(kind: str) -> str:
    """The estimator for a design: Sobol' on a Saltelli design, else RBD-FAST.

    Example:
        >>> default_method("saltelli"), default_method("lhs")
        ('sobol', 'rbd_fast')
    """
    return "sobol" if kind == "saltelli" else "rbd_fast"


def _problem(factors: Sequence[str], bounds: Mapping[str, tuple[float, float]] | None,
             X: np.ndarray) -> dict[str, Any]:  # fmt: skip
    limits = []
    for j, f in enumerate(factors):
        if bounds and f in bounds:
            limits.append([float(bounds[f][0]), float(bounds[f][1])])
        else:
            limits.append([float(np.min(X[:, j])), float(np.max(X[:, j]))])
    return {"num_vars": len(factors), "names": list(factors), "bounds": limits}


def _analyse(
    method: str, problem: dict[str, Any], X: np.ndarray, y: np.ndarray,
    confidence: float, resamples: int, seed: int,
) -> dict[str, tuple[Any, Any]]:  # fmt: skip
    """One KPI's indices: ``{index name: (values, half-widths)}``."""
    if method == "sobol":
        from SALib.analyze import sobol

        r = sobol.analyze(problem, y, calc_second_order=False, num_resamples=resamples,
                          conf_level=confidence, seed=seed)  # fmt: skip
        return {"S1": (r["S1"], r["S1_conf"]), "ST": (r["ST"], r["ST_conf"])}
    if method == "rbd_fast":
        from SALib.analyze import rbd_fast

        r = rbd_fast.analyze(problem, X, y, M=_RBD_HARMONICS, num_resamples=resamples,
                             conf_level=confidence, seed=seed)  # fmt: skip
        return {"S1": (r["S1"], r["S1_conf"])}
    from SALib.analyze import delta

    r = delta.analyze(problem, X, y, num_resamples=resamples, conf_level=confidence,
                      seed=seed, method="all")  # fmt: skip
    key = "delta_balanced" if "delta_balanced" in r else "delta"
    return {"delta": (r[key], r[f"{key}_conf"]), "S1": (r["S1"], r["S1_conf"])}


def sensitivity_indices(
    tidy: pd.DataFrame,
    factors: Sequence[str],
    method: str = "rbd_fast",
    *,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    confidence: float = 0.95,
    resamples: int = 200,
    seed: int = 0,
    order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Global sensitivity indices of every KPI to the range factors, with bootstrap CIs.

    Args:
        tidy: a sweep's tidy table (see :func:`design_table`).
        factors: the range-factor columns (the inputs).
        method: ``"sobol"`` (needs a Saltelli design), ``"rbd_fast"`` or ``"delta"``.
        bounds: each factor's ``(low, high)`` (the observed extremes where absent).
        confidence: level of the bootstrap intervals.
        resamples: bootstrap resamples.
        seed: seed of the bootstrap (the same seed gives the same intervals).
        order: the design points' variants in sample order (see :func:`design_table`).

    Returns:
        One row per (metric, factor, index): columns ``metric``, ``factor``, ``method``,
        ``index`` (``S1``, ``ST`` or ``delta``), ``value``, ``low``, ``high`` (the bootstrap
        interval, as SALib gives it: not clipped to [0, 1]) and ``n`` (design points). A KPI
        that is constant, or undefined at some design point, has no rows.

    Raises:
        ValueError: an unknown method, no factor, fewer than :data:`MIN_POINTS` design
            points, or ``sobol`` on a sample that is not a Saltelli design.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> x1, x2 = rng.uniform(0, 1, 200), rng.uniform(0, 1, 200)
        >>> tidy = pd.DataFrame({"variant": [f"p{i}" for i in range(200)], "x1": x1,
        ...     "x2": x2, "replication": 0, "metric": "y", "value": 10 * x1})
        >>> res = sensitivity_indices(tidy, ["x1", "x2"], "rbd_fast", seed=1)
        >>> (res.set_index("factor")["value"].round(1) + 0.0).to_dict()
        {'x1': 1.0, 'x2': 0.0}
    """
    if method not in METHODS:
        raise ValueError(f"unknown sensitivity method {method!r} (one of {', '.join(METHODS)})")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    if not factors:
        raise ValueError("no range factor: sensitivity indices need range = {low, high}")
    X, Y = design_table(tidy, factors, order)
    if len(X) < MIN_POINTS:
        raise ValueError(f"{len(X)} design points; sensitivity indices need at least {MIN_POINTS}")
    if method == "sobol" and not is_saltelli(X):
        raise ValueError("Sobol' indices need a Saltelli design (design = \"saltelli\")")
    problem = _problem(factors, bounds, X)
    rows: list[dict[str, Any]] = []
    for metric in Y.columns:
        y = Y[metric].to_numpy(dtype=float)
        if not np.isfinite(y).all() or np.ptp(y) == 0:
            continue
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            found = _analyse(method, problem, X, y, confidence, resamples, seed)
        for index, (values, halves) in found.items():
            for f, v, h in zip(factors, np.asarray(values), np.asarray(halves), strict=True):
                rows.append({
                    "metric": metric, "factor": f, "method": method, "index": index,
                    "value": float(v), "low": float(v - h), "high": float(v + h),
                    "n": len(X),
                })  # fmt: skip
    columns = ["metric", "factor", "method", "index", "value", "low", "high", "n"]
    return pd.DataFrame(rows, columns=columns)


def design_order(manifest: Mapping[str, Any]) -> list[str] | None:
    """The design points' variant names in sample order, from ``manifest.json``.

    Every design point's variant records its row of the design (``point``); explicit
    variants have none. Results written before ``point`` was recorded give ``None`` (then
    the table's order stands for the sample's).

    Example:
        >>> design_order({"variants": [{"name": "base", "point": None},
        ...     {"name": "x=2 #1", "point": 1}, {"name": "x=1 #0", "point": 0}]})
        ['x=1 #0', 'x=2 #1']
        >>> design_order({"variants": [{"name": "a"}]}) is None
        True
    """
    points = [
        (int(v["point"]), str(v["name"]))
        for v in manifest.get("variants") or []
        if isinstance(v, Mapping) and v.get("point") is not None
    ]
    return [name for _, name in sorted(points)] if points else None


def sweep_indices(
    manifest: Mapping[str, Any], tidy: pd.DataFrame, confidence: float = 0.95
) -> pd.DataFrame | str | None:
    """A sweep's indices as the report and ``gridsim plot`` show them.

    The estimator suits the design (:func:`default_method`), the bounds and the sample
    order come from the manifest (inferred for older results), the bootstrap is seeded with
    the sweep's root seed.

    Returns:
        The indices (:func:`sensitivity_indices`), the reason there are none (a sampled
        design that is too small, say), or ``None`` when the design samples no range factor.

    Example:
        >>> tidy = pd.DataFrame({"variant": ["a", "b"], "x": [1, 2], "replication": 0,
        ...     "metric": "m", "value": [1.0, 2.0]})
        >>> sweep_indices({"factor_paths": ["x"], "range_factors": {}}, tidy) is None
        True
        >>> sweep_indices({"design": "lhs", "range_factors": {"x": [0, 3]}}, tidy)
        '2 design points; sensitivity indices need at least 20'
    """
    kind = design_kind(manifest, tidy)
    if kind not in ("lhs", "saltelli"):
        return None
    bounds = range_factors(manifest, tidy)
    try:
        return sensitivity_indices(
            tidy, list(bounds), default_method(kind), bounds=bounds, confidence=confidence,
            seed=int(manifest.get("root_seed", 0) or 0), order=design_order(manifest),
        )  # fmt: skip
    except ValueError as exc:
        return str(exc)
