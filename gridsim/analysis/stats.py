"""Output analysis for simulation experiments, following Law & Kelton's conventions.

Confidence intervals are Student-t intervals across independent replications; comparisons
against a baseline use paired-t intervals on per-replication differences, which is the
right analysis when replication ``r`` of every variant shares random-number seed ``r``
(common random numbers). Multiple comparisons are Bonferroni-adjusted. A KPI that is
undefined (NaN) in every replication of a variant is reported as undefined (NaN with
``n = 0``), never an error. The sequential choice of the number
of replications (Hoad, Robinson & Davies 2010) is here too; warm-up detection (MSER-5,
Welch's procedure) is in :mod:`gridsim.analysis.warmup`.

Nothing here touches a global random state; callers seed their own generators.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

# The warm-up procedures live in their own module; they are re-exported here, where callers
# have always found them.

__all__ = [
    "ConfidenceInterval",
    "PairedComparison",
    "ReplicationsResult",
    "compare_to_baseline",
    "mean_ci",
    "TIDY_KEYS",
    "paired_comparison",
    "replications_needed",
    "summarise",
]

#: The key columns of a tidy results table (one row per variant, replication and metric;
#: factor columns may stand between them).
TIDY_KEYS: tuple[str, ...] = ("variant", "replication", "metric", "value")
_SUMMARY_STATS = ("mean", "half_width", "low", "high", "n")
_COMPARISON_COLUMNS = (
    "variant",
    "metric",
    "baseline_mean",
    "variant_mean",
    "mean_difference",
    "half_width",
    "low",
    "high",
    "p_value",
    "significant",
    "n",
)


@dataclass(frozen=True)
class ConfidenceInterval:
    """Student-t confidence interval for a mean.

    Attributes:
        mean: Sample mean of the non-NaN values.
        half_width: Half-width ``t_{n-1, 1-alpha/2} * s / sqrt(n)``; ``inf`` when ``n == 1``.
        low: ``mean - half_width``.
        high: ``mean + half_width``.
        n: Number of values used (NaNs excluded).
        confidence: Confidence level, e.g. 0.95.
        n_missing: Number of NaN values that were dropped.
    """

    mean: float
    half_width: float
    low: float
    high: float
    n: int
    confidence: float
    n_missing: int = 0


@dataclass(frozen=True)
class PairedComparison:
    """Paired-t comparison of a variant against a baseline (``variant - baseline``).

    Attributes:
        mean_difference: Mean of the per-replication differences.
        half_width: Half-width of the interval at ``adjusted_confidence``.
        low: Lower end of the interval for the mean difference.
        high: Upper end of the interval for the mean difference.
        p_value: Two-sided p-value of the paired t-test, not Bonferroni-adjusted (it equals
            ``scipy.stats.ttest_rel``'s); compare it with ``1 - adjusted_confidence``.
        significant: Whether the interval excludes 0.
        n: Number of complete pairs used; 0 when the comparison is undefined.
        adjusted_confidence: Bonferroni-adjusted level ``1 - (1 - confidence) / comparisons``.
    """

    mean_difference: float
    half_width: float
    low: float
    high: float
    p_value: float
    significant: bool
    n: int
    adjusted_confidence: float

    @property
    def defined(self) -> bool:
        """Whether at least one pair had a value on both sides (else every number is NaN)."""
        return self.n > 0


@dataclass(frozen=True)
class ReplicationsResult:
    """Outcome of the sequential replication-number procedure.

    Attributes:
        n_required: Recommended number of replications, or ``None`` if not converged.
        replications_run: How many replications were actually run (including look-ahead).
        values: The output of every replication, in order.
        history: Relative half-width after each replication (``inf`` while undefined).
        converged: Whether the precision target was met and held through the look-ahead.
    """

    n_required: int | None
    replications_run: int
    values: tuple[float, ...]
    history: tuple[float, ...]
    converged: bool



def _student_t() -> Any:
    """Student's t from scipy, imported on first use.

    ``import scipy.stats`` takes about a second; ``import gridsim`` (every command, every
    figure worker, every sweep worker) should not pay it before a confidence interval is
    needed.
    """
    from scipy import stats

    return stats.t

def _check_confidence(confidence: float) -> float:
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    return confidence


def _as_1d(values: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _t_half_width(sample: NDArray[np.float64], confidence: float) -> float:
    n = sample.size
    if n < 2:
        # One observation says nothing about spread; an infinite interval is the honest answer.
        return math.inf
    sd = float(np.std(sample, ddof=1))
    return float(_student_t().ppf(0.5 + confidence / 2.0, n - 1)) * sd / math.sqrt(n)


def mean_ci(values: ArrayLike, confidence: float = 0.95) -> ConfidenceInterval:
    """Student-t confidence interval for the mean of independent replication outputs.

    NaN values are dropped before computing anything and reported in ``n_missing``; they
    do not count towards ``n``. With a single value the half-width is ``inf`` (and the
    interval is ``(-inf, inf)``) because the variance cannot be estimated.

    Args:
        values: One output per replication.
        confidence: Two-sided confidence level in (0, 1).

    Returns:
        The interval.

    Raises:
        ValueError: If ``values`` is not one-dimensional, has no non-NaN value, or
            ``confidence`` is outside (0, 1).

    Example:
        >>> ci = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
        >>> ci.mean, round(ci.half_width, 4), ci.n
        (3.0, 1.9632, 5)
        >>> mean_ci([7.0, float("nan")]).half_width
        inf
    """
    confidence = _check_confidence(confidence)
    arr = _as_1d(values, "values")
    finite_mask = ~np.isnan(arr)
    sample = arr[finite_mask]
    if sample.size == 0:
        raise ValueError("mean_ci needs at least one non-NaN value")
    mean = float(sample.mean())
    half = _t_half_width(sample, confidence)
    return ConfidenceInterval(
        mean=mean,
        half_width=half,
        low=mean - half,
        high=mean + half,
        n=int(sample.size),
        confidence=confidence,
        n_missing=int(arr.size - sample.size),
    )


def paired_comparison(
    values: ArrayLike,
    baseline_values: ArrayLike,
    confidence: float = 0.95,
    comparisons: int = 1,
) -> PairedComparison:
    """Paired-t interval and test for the mean of ``values - baseline_values``.

    Element ``r`` of both inputs must come from the same replication (same seed), so that
    common random numbers cancel in the difference. Pairs where either side is NaN are
    dropped. The interval uses the Bonferroni-adjusted level
    ``1 - (1 - confidence) / comparisons`` so that ``comparisons`` simultaneous intervals
    hold jointly with probability at least ``confidence``.

    With fewer than two pairs the half-width is ``inf`` and the p-value NaN. If all
    differences are equal the half-width is 0 and the p-value is 0 (or NaN when every
    difference is 0, as a t statistic of 0/0 is undefined). With no complete pair at all
    (a KPI that is NaN in every replication of either side, such as a time saved by visits
    in a run without visits) the comparison is undefined: ``n`` is 0, every number is NaN
    and ``significant`` is False (see :attr:`PairedComparison.defined`).

    Args:
        values: Output of the variant, one per replication.
        baseline_values: Output of the baseline for the same replications.
        confidence: Family-wise confidence level in (0, 1).
        comparisons: Number of simultaneous comparisons for the Bonferroni adjustment.

    Returns:
        The comparison record.

    Raises:
        ValueError: If lengths differ, ``confidence`` is outside (0, 1) or ``comparisons``
            is not a positive integer.

    Example:
        >>> pc = paired_comparison([5.1, 6.3, 5.8, 6.0], [4.9, 5.6, 5.5, 5.4])
        >>> round(pc.mean_difference, 3), round(pc.p_value, 4), pc.significant
        (0.45, 0.0324, True)
        >>> undefined = paired_comparison([float("nan")] * 2, [1.0, 2.0])
        >>> undefined.defined, undefined.n, undefined.mean_difference
        (False, 0, nan)
    """
    confidence = _check_confidence(confidence)
    if isinstance(comparisons, bool) or int(comparisons) != comparisons or comparisons < 1:
        raise ValueError(f"comparisons must be a positive integer, got {comparisons!r}")
    a = _as_1d(values, "values")
    b = _as_1d(baseline_values, "baseline_values")
    if a.shape != b.shape:
        raise ValueError(
            f"values and baseline_values must pair up, got lengths {a.size} and {b.size}"
        )
    diff = (a - b)[~(np.isnan(a) | np.isnan(b))]
    n = int(diff.size)
    adjusted = 1.0 - (1.0 - confidence) / int(comparisons)
    if n == 0:
        nan = math.nan
        return PairedComparison(nan, nan, nan, nan, nan, False, 0, adjusted)
    mean = float(diff.mean())
    half = _t_half_width(diff, adjusted)
    if n < 2:
        p_value = math.nan
    else:
        se = float(np.std(diff, ddof=1)) / math.sqrt(n)
        if se > 0:
            p_value = float(2.0 * _student_t().sf(abs(mean) / se, n - 1))
        else:
            p_value = 0.0 if mean != 0 else math.nan
    low, high = mean - half, mean + half
    return PairedComparison(
        mean_difference=mean,
        half_width=half,
        low=low,
        high=high,
        p_value=p_value,
        significant=bool(low > 0 or high < 0),
        n=n,
        adjusted_confidence=adjusted,
    )


def _check_tidy(df: pd.DataFrame) -> None:
    missing = [c for c in TIDY_KEYS if c not in df.columns]
    if missing:
        raise ValueError(f"results table is missing column(s) {missing}; need {TIDY_KEYS}")
    dup = df.duplicated(["variant", "metric", "replication"], keep=False)
    if dup.any():
        first = df.loc[dup, ["variant", "metric", "replication"]].iloc[0].tolist()
        raise ValueError(
            f"each (variant, metric, replication) must appear once; duplicated e.g. {tuple(first)}"
        )


def summarise(df: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per-(variant, metric) confidence intervals from a tidy results table.

    The input has one row per (variant, replication, metric) with columns ``variant``,
    ``replication``, ``metric`` and ``value``. Any other columns are treated as factors
    describing the variant (e.g. number of grids, staffing policy) and are copied to the
    output unchanged; they must therefore be constant within each (variant, metric).
    NaN values are dropped; a group with no value left gets NaN statistics and ``n = 0``.

    Args:
        df: Tidy results table.
        confidence: Two-sided confidence level in (0, 1).

    Returns:
        One row per (variant, metric) in order of first appearance, with the factor
        columns followed by ``mean``, ``half_width``, ``low``, ``high`` and ``n``.

    Raises:
        ValueError: If key columns are missing, a (variant, metric, replication) appears
            more than once, or a factor column varies within a (variant, metric).

    Example:
        >>> df = pd.DataFrame({"variant": ["a"] * 3, "replication": [0, 1, 2],
        ...                    "metric": ["wait"] * 3, "value": [1.0, 2.0, 3.0]})
        >>> summarise(df)[["variant", "metric", "mean", "n"]].to_dict("records")
        [{'variant': 'a', 'metric': 'wait', 'mean': 2.0, 'n': 3}]
    """
    confidence = _check_confidence(confidence)
    _check_tidy(df)
    factors = [c for c in df.columns if c not in TIDY_KEYS]
    rows: list[dict[str, object]] = []
    for (variant, metric), group in df.groupby(["variant", "metric"], sort=False, dropna=False):
        row: dict[str, object] = {"variant": variant, "metric": metric}
        for col in factors:
            if group[col].nunique(dropna=False) > 1:
                raise ValueError(
                    f"column {col!r} varies within variant={variant!r}, metric={metric!r}; "
                    "extra columns must be per-variant factors (drop per-replication ones)"
                )
            row[col] = group[col].iloc[0]
        values = pd.to_numeric(group["value"]).to_numpy(dtype=float)
        if np.isnan(values).all():
            row.update(mean=math.nan, half_width=math.nan, low=math.nan, high=math.nan, n=0)
        else:
            ci = mean_ci(values, confidence)
            row.update(mean=ci.mean, half_width=ci.half_width, low=ci.low, high=ci.high, n=ci.n)
        rows.append(row)
    columns = ["variant", "metric", *factors, *_SUMMARY_STATS]
    out = pd.DataFrame(rows, columns=columns)
    return out.astype({"n": "int64"})


def compare_to_baseline(df: pd.DataFrame, baseline: str, confidence: float = 0.95) -> pd.DataFrame:
    """Paired comparison of every variant against a baseline, metric by metric.

    Rows are paired on ``replication`` (common random numbers: replication ``r`` of every
    variant uses seed ``r``). For each metric the confidence level is Bonferroni-adjusted
    over the number of non-baseline variants whose comparison is defined for that metric,
    so the intervals for a metric hold jointly at ``confidence``. Differences are
    ``variant - baseline``; ``baseline_mean`` and ``variant_mean`` are taken over the pairs
    actually used (pairs with a NaN on either side are dropped), so ``mean_difference`` is
    their difference. ``p_value`` is the unadjusted paired-t p-value (see
    :class:`PairedComparison`).

    A comparison with no complete pair (the KPI is NaN in every replication of the variant
    or of the baseline) is undefined: its row has ``n = 0``, NaN numbers and
    ``significant`` False, and it does not count towards the Bonferroni adjustment (an
    undefined comparison can make no error).

    Args:
        df: Tidy results table as for :func:`summarise`; extra columns are ignored.
        baseline: Name of the baseline variant.
        confidence: Family-wise confidence level per metric.

    Returns:
        One row per (non-baseline variant, metric) with columns ``variant``, ``metric``,
        ``baseline_mean``, ``variant_mean``, ``mean_difference``, ``half_width``, ``low``,
        ``high``, ``p_value``, ``significant`` and ``n``.

    Raises:
        ValueError: If the baseline is absent, lacks a metric another variant reports, the
            replication ids of a variant and the baseline differ for some metric, or the
            table is malformed (see :func:`summarise`).

    Example:
        >>> df = pd.DataFrame({
        ...     "variant": ["base"] * 3 + ["fast"] * 3, "replication": [0, 1, 2] * 2,
        ...     "metric": ["wait"] * 6, "value": [2.0, 3.0, 4.0, 1.5, 2.4, 3.6]})
        >>> row = compare_to_baseline(df, "base").iloc[0]
        >>> row["variant"], round(float(row["mean_difference"]), 3), int(row["n"])
        ('fast', -0.5, 3)
        >>> undefined = compare_to_baseline(df.assign(value=float("nan")), "base").iloc[0]
        >>> int(undefined["n"]), bool(undefined["significant"]), float(undefined["low"])
        (0, False, nan)
    """
    confidence = _check_confidence(confidence)
    _check_tidy(df)
    variants = list(pd.unique(df["variant"]))
    if baseline not in variants:
        raise ValueError(f"baseline variant {baseline!r} not found; variants are {variants}")
    rows: list[dict[str, object]] = []
    for metric in pd.unique(df["metric"]):
        pairs = _metric_pairs(df[df["metric"] == metric], baseline, metric)
        # Bonferroni over the comparisons that can be made: an undefined one has no interval.
        defined = sum(bool((~(np.isnan(v) | np.isnan(b))).any()) for v, b in pairs.values())
        for variant, (v, b) in pairs.items():
            pc = paired_comparison(v, b, confidence, comparisons=max(1, defined))
            used = ~(np.isnan(v) | np.isnan(b))
            rows.append(
                {
                    "variant": variant,
                    "metric": metric,
                    "baseline_mean": _mean_or_nan(b[used]),
                    "variant_mean": _mean_or_nan(v[used]),
                    "mean_difference": pc.mean_difference,
                    "half_width": pc.half_width,
                    "low": pc.low,
                    "high": pc.high,
                    "p_value": pc.p_value,
                    "significant": pc.significant,
                    "n": pc.n,
                }
            )
    return pd.DataFrame(rows, columns=list(_COMPARISON_COLUMNS))


def _metric_pairs(
    in_metric: pd.DataFrame, baseline: str, metric: object
) -> dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Each non-baseline variant's values and the baseline's, aligned on replication."""
    per_variant = {
        v: g.set_index("replication")["value"]
        for v, g in in_metric.groupby("variant", sort=False, dropna=False)
    }
    others = [v for v in per_variant if v != baseline]
    if not others:
        return {}
    if baseline not in per_variant:
        # A KPI the baseline does not have (a staff role it lacks): the comparison is
        # undefined, reported as NaN like any other undefined KPI.
        return {
            v: (pd.to_numeric(per_variant[v]).to_numpy(dtype=float),
                np.full(len(per_variant[v]), np.nan))
            for v in others
        }  # fmt: skip
    base = pd.to_numeric(per_variant[baseline])
    pairs = {}
    for variant in others:
        vals = pd.to_numeric(per_variant[variant])
        only_base = sorted(set(base.index) - set(vals.index))
        only_var = sorted(set(vals.index) - set(base.index))
        if only_base or only_var:
            raise ValueError(
                f"replications of {variant!r} and baseline {baseline!r} do not match for "
                f"metric {metric!r}: only in baseline {only_base}, only in variant {only_var}"
            )
        b = base.to_numpy(dtype=float)
        pairs[variant] = (vals.reindex(base.index).to_numpy(dtype=float), b)
    return pairs


def _mean_or_nan(values: NDArray[np.float64]) -> float:
    """The mean, or NaN for no value (numpy would warn about an empty slice)."""
    return float(values.mean()) if values.size else math.nan


def replications_needed(
    run: Callable[[int], float],
    target_relative_half_width: float = 0.05,
    confidence: float = 0.95,
    min_replications: int = 3,
    max_replications: int = 100,
    k_limit: int = 5,
) -> ReplicationsResult:
    """Choose the number of replications sequentially (Hoad, Robinson & Davies 2010).

    Replications ``0, 1, 2, ...`` are run by calling ``run(rep)``; ``run`` should seed its
    own generator from ``rep`` (e.g. ``numpy.random.default_rng(rep)``) so that the result
    is reproducible. After each replication the relative precision
    ``half_width / |mean|`` is computed. The first ``n >= min_replications`` at which it is
    at most the target becomes the candidate ``N_sol``; the procedure then keeps running
    for a look-ahead of ``f(N_sol)`` further replications, where ``f(N) = k_limit`` for
    ``N <= 100`` and ``ceil(k_limit * N / 100)`` beyond. If the precision stays within
    target throughout, ``N_sol`` is recommended; if it is lost, the candidate is discarded
    and the search continues. Relative precision is undefined for a zero mean, so such
    outputs count as imprecise.

    Args:
        run: Maps a replication index to that replication's scalar output.
        target_relative_half_width: Desired ``half_width / |mean|``, e.g. 0.05 for 5%.
        confidence: Confidence level of the intervals.
        min_replications: Replications to run before testing precision (at least 2).
        max_replications: Hard cap on replications run, look-ahead included.
        k_limit: Look-ahead length ``kLimit`` (0 accepts the first precise ``n``).

    Returns:
        The recommendation, the outputs and the precision history.

    Raises:
        ValueError: On invalid settings or if ``run`` returns NaN.

    Example:
        >>> res = replications_needed(lambda rep: 100.0 + (-1.0) ** rep, k_limit=2)
        >>> res.converged, res.n_required, res.replications_run
        (True, 3, 5)
    """
    confidence = _check_confidence(confidence)
    target = float(target_relative_half_width)
    if not target > 0:
        raise ValueError(f"target_relative_half_width must be positive, got {target}")
    if min_replications < 2:
        raise ValueError("min_replications must be at least 2 to estimate a variance")
    if max_replications < min_replications:
        raise ValueError("max_replications must be at least min_replications")
    if k_limit < 0:
        raise ValueError("k_limit must be non-negative")

    def look_ahead(n_sol: int) -> int:
        return k_limit if n_sol <= 100 else math.ceil(k_limit * n_sol / 100)

    values: list[float] = []
    history: list[float] = []
    n_sol: int | None = None
    converged = False
    for rep in range(max_replications):
        value = float(run(rep))
        if math.isnan(value):
            raise ValueError(f"run({rep}) returned NaN")
        values.append(value)
        n = len(values)
        if n < 2:
            history.append(math.inf)
            continue
        ci = mean_ci(values, confidence)
        rel = ci.half_width / abs(ci.mean) if ci.mean != 0 else math.inf
        history.append(rel)
        if n < min_replications:
            continue
        if rel <= target:
            if n_sol is None:
                n_sol = n
            if n >= n_sol + look_ahead(n_sol):
                converged = True
                break
        else:
            n_sol = None
    return ReplicationsResult(
        n_required=n_sol if converged else None,
        replications_run=len(values),
        values=tuple(values),
        history=tuple(history),
        converged=converged,
    )
