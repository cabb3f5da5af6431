"""Warm-up detection for simulation output: MSER-5 and Welch's moving average.

Both work on one long output sequence per replication (e.g. the daily backlog) and say how
much of its start to delete before steady-state statistics are taken. They are pure maths;
:mod:`gridsim.analysis.stats` re-exports them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["mser5", "welch_average"]


def _as_1d(values: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def mser5(series: ArrayLike) -> int:
    """MSER-5 warm-up truncation point (White 1997; Franklin & White 2008).

    The series is cut into non-overlapping batches of 5 observations (a trailing partial
    batch is ignored) with batch means ``Z_1..Z_b``. For each candidate number of deleted
    batches ``d`` the marginal standard error is
    ``MSER(d) = sum_{j>d} (Z_j - mean(Z_{d+1..b}))^2 / (b - d)^2``, and ``d`` is searched
    over the first half of the batches only (``d < b / 2``) because the statistic becomes
    erratic when few batches remain. The smallest minimising ``d`` wins.

    A result close to half the series length means no clear steady state was reached:
    lengthen the run rather than trusting the truncation point.

    Args:
        series: One long run's output sequence (e.g. per-order waiting times in order of
            completion), at least 10 observations, no NaN.

    Returns:
        Number of initial observations to delete, in original observations (``5 * d``).

    Raises:
        ValueError: If the series is not one-dimensional, shorter than 10 or contains
            non-finite values.

    Example:
        >>> mser5([10.0] * 10 + [0.0, 1.0] * 45)
        10
    """
    x = _as_1d(series, "series")
    if x.size < 10:
        raise ValueError(f"mser5 needs at least 10 observations (2 batches), got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ValueError("series must not contain NaN or infinite values")
    b = x.size // 5
    z = x[: b * 5].reshape(b, 5).mean(axis=1)
    # Suffix sums give every candidate's mean and sum of squares in O(b).
    tail_sum = np.cumsum(z[::-1])[::-1]
    tail_sq = np.cumsum((z * z)[::-1])[::-1]
    d = np.arange((b + 1) // 2)
    k = b - d
    sse = tail_sq[d] - tail_sum[d] ** 2 / k
    mser = np.maximum(sse, 0.0) / (k * k)
    return int(np.argmin(mser)) * 5


def welch_average(replications: ArrayLike, window: int) -> NDArray[np.float64]:
    """Welch's moving average of the across-replication mean (Law & Kelton, sec. 9.5.1).

    With ``Ybar_i`` the mean over replications of period ``i`` (``i = 1..m``) and window
    ``w``, the smoothed value is the centred average of ``2w + 1`` neighbours for
    ``i > w`` and, near the start where fewer neighbours exist, the centred average of
    ``2i - 1`` values: ``Ybar_i(w) = mean(Ybar_1..Ybar_{2i-1})`` for ``i <= w``. The
    result has ``m - w`` entries. Law & Kelton suggest ``w <= m / 4``; pick the warm-up
    as the period after which the plotted curve looks flat.

    Args:
        replications: Array of shape (replications, periods); a 1-D array is treated as a
            single replication.
        window: Half-window ``w >= 0``; must be smaller than the number of periods.

    Returns:
        The smoothed curve, length ``periods - window``.

    Raises:
        ValueError: On a bad shape or window.

    Example:
        >>> welch_average([[1.0, 4.0, 2.0, 8.0, 5.0, 7.0]], window=2).round(3).tolist()
        [1.0, 2.333, 4.0, 5.2]
    """
    y = np.asarray(replications, dtype=float)
    if y.ndim == 1:
        y = y[np.newaxis, :]
    if y.ndim != 2 or y.shape[0] == 0 or y.shape[1] == 0:
        raise ValueError(f"replications must be a non-empty 2-D array, got shape {y.shape}")
    m = y.shape[1]
    if isinstance(window, bool) or int(window) != window or not 0 <= window < m:
        raise ValueError(f"window must be an integer in [0, {m - 1}], got {window!r}")
    w = int(window)
    ybar = y.mean(axis=0)
    prefix = np.concatenate(([0.0], np.cumsum(ybar)))
    i = np.arange(m - w)
    half = np.minimum(i, w)
    return (prefix[i + half + 1] - prefix[i - half]) / (2 * half + 1)
