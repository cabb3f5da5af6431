"""Multiple testing: Holm's step-down and Benjamini–Hochberg's step-up adjustments.

When several hypotheses are tested at once (the claims of a practice, each a paired
comparison), the chance that at least one true null hypothesis is rejected grows with their
number. :func:`holm` controls that family-wise error rate (FWER) at ``alpha`` under any
dependence between the tests, and is uniformly more powerful than Bonferroni;
:func:`benjamini_hochberg` controls the false discovery rate (FDR), the expected share of
false rejections among the rejections (for independent or positively dependent tests).

Both return adjusted p-values: hypothesis ``i`` is rejected at level ``alpha`` exactly when
its adjusted p-value is at most ``alpha``. A NaN p-value (a test that could not be made, say
a KPI undefined in every replication) stays NaN, is never rejected and does not count
towards the number of hypotheses ``m``, as an undefined comparison can make no error.

Pure numpy; nothing here touches a global random state.

References:
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian
    Journal of Statistics 6(2), 65–70.
    Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate. Journal of
    the Royal Statistical Society B 57(1), 289–300.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Adjusted", "benjamini_hochberg", "holm"]


@dataclass(frozen=True)
class Adjusted:
    """Adjusted p-values and the decisions they give, in the order of the input.

    Attributes:
        p_adjusted: adjusted p-values in [0, 1] (NaN where the input was NaN).
        reject: whether each hypothesis is rejected at ``alpha`` (False for NaN).
        alpha: the level of the family (FWER for Holm, FDR for Benjamini–Hochberg).
        m: the number of hypotheses with a p-value (NaNs excluded).
    """

    p_adjusted: NDArray[np.float64]
    reject: NDArray[np.bool_]
    alpha: float
    m: int


def _prepare(pvalues: ArrayLike, alpha: float) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p-values must be one-dimensional, got shape {p.shape}")
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha}")
    defined = ~np.isnan(p)
    if ((p[defined] < 0) | (p[defined] > 1)).any():
        raise ValueError("p-values must lie in [0, 1] (or be NaN)")
    return p, defined


def _result(
    p: NDArray[np.float64], defined: NDArray[np.bool_], adj: NDArray[np.float64], alpha: float
) -> Adjusted:
    out = np.full(p.shape, np.nan)
    out[defined] = np.minimum(adj, 1.0)
    reject = np.zeros(p.shape, dtype=bool)
    reject[defined] = out[defined] <= alpha
    return Adjusted(p_adjusted=out, reject=reject, alpha=float(alpha), m=int(defined.sum()))


def holm(pvalues: ArrayLike, alpha: float = 0.05) -> Adjusted:
    """Holm's step-down adjustment (family-wise error rate at ``alpha``).

    With the ``m`` defined p-values sorted ascending, ``p_(1) <= ... <= p_(m)``, the adjusted
    value of the ``k``-th smallest is ``max_{j <= k} min(1, (m - j + 1) p_(j))``; rejecting
    where it is at most ``alpha`` is the same as stepping down through the sorted p-values,
    comparing ``p_(k)`` with ``alpha / (m - k + 1)``, and stopping at the first that fails.

    Args:
        pvalues: one p-value per hypothesis, in [0, 1]; NaN for a test that was not made.
        alpha: the family-wise error rate, in (0, 1).

    Returns:
        Adjusted p-values and decisions, in the input's order.

    Raises:
        ValueError: a p-value outside [0, 1], a non-1-D input, or ``alpha`` outside (0, 1).

    Example:
        >>> res = holm([0.01, 0.04, 0.03, 0.005])
        >>> res.p_adjusted.round(4).tolist(), res.reject.tolist()
        ([0.03, 0.06, 0.06, 0.02], [True, False, False, True])
        >>> holm([0.2, float("nan"), 0.01]).p_adjusted.tolist()
        [0.2, nan, 0.02]
    """
    p, defined = _prepare(pvalues, alpha)
    values = p[defined]
    m = values.size
    order = np.argsort(values, kind="stable")
    factors = m - np.arange(m)  # m, m - 1, ..., 1
    stepped = np.maximum.accumulate(np.minimum(factors * values[order], 1.0))
    adj = np.empty(m)
    adj[order] = stepped
    return _result(p, defined, adj, alpha)


def benjamini_hochberg(pvalues: ArrayLike, alpha: float = 0.05) -> Adjusted:
    """Benjamini–Hochberg's step-up adjustment (false discovery rate at ``alpha``).

    With the ``m`` defined p-values sorted ascending, the adjusted value of the ``k``-th
    smallest is ``min_{j >= k} min(1, m p_(j) / j)``; rejecting where it is at most
    ``alpha`` rejects the ``k`` smallest p-values for the largest ``k`` with
    ``p_(k) <= k alpha / m``.

    Args:
        pvalues: one p-value per hypothesis, in [0, 1]; NaN for a test that was not made.
        alpha: the false discovery rate, in (0, 1).

    Returns:
        Adjusted p-values (often called q-values) and decisions, in the input's order.

    Raises:
        ValueError: as for :func:`holm`.

    Example:
        >>> res = benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
        >>> res.p_adjusted.round(4).tolist(), res.reject.tolist()
        ([0.02, 0.04, 0.04, 0.02], [True, True, True, True])
    """
    p, defined = _prepare(pvalues, alpha)
    values = p[defined]
    m = values.size
    order = np.argsort(values, kind="stable")
    ranks = np.arange(1, m + 1)
    scaled = values[order] * m / ranks
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    adj = np.empty(m)
    adj[order] = np.minimum(stepped, 1.0)
    return _result(p, defined, adj, alpha)
