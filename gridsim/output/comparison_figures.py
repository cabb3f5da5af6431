"""Figures of a sweep: KPI means across variants, factor sensitivity, the Welch plot.

:func:`kpi_comparison_figure` shows each KPI's mean and confidence interval per variant,
:func:`tornado_figure` how much each sweep factor moves one KPI, :func:`welch_figure` the
warm-up. Whether a KPI is drawn as a percentage comes from :mod:`gridsim.kpi_registry`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import cast

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from gridsim.analysis.stats import TIDY_KEYS
from gridsim.analysis.warmup import mser5, welch_average
from gridsim.kpi_registry import headline_kpis, kpi
from gridsim.output.i18n import factor_label, kpi_label, label, short, text_width, value_label
from gridsim.output.style import (
    PALETTE,
    FigureDataError,
    PercentTicks,
    duration_text,
    figure_style,
    finish,
    need_columns,
    new_figure,
    note_in_row,
)
from gridsim.output.wording import undefined_text

__all__ = [
    "default_metrics",
    "factor_columns",
    "kpi_comparison_figure",
    "sensitivity_figure",
    "tornado_figure",
    "welch_figure",
]


# --------------------------------------------------------------------------- sweeps


def kpi_comparison_figure(
    summary: pd.DataFrame,
    metrics: Sequence[str] | None,
    lang: str,
    variant_labels: dict[str, str] | None = None,
    *,
    names: Mapping[str, str] | None = None,
) -> Figure:
    """KPI means with confidence-interval error bars across variants, one panel per metric.

    Args:
        summary: the output of :func:`gridsim.analysis.stats.summarise` (``variant``, ``metric``,
            ``mean``, ``low``, ``high``, ``n``).
        metrics: the metrics to show, one panel each (None: the usual KPIs present).
        lang: ``"zh"`` or ``"en"``.
        variant_labels: display names of variants (default: the names, with policy names
            translated).
        names: the variants' names in ``lang`` (say the Chinese ``name_zh`` a results
            directory's ``manifest.json`` keeps, see :func:`gridsim.output.i18n.variant_labels`),
            shown wherever a variant's own name would be; the summary keeps the keys.

    Returns:
        The figure.

    Example:
        >>> import pandas as pd
        >>> summary = pd.DataFrame({"variant": ["a", "b"], "metric": ["on_time_rate"] * 2,
        ...     "mean": [0.8, 0.9], "half_width": [0.05, 0.04], "low": [0.75, 0.86],
        ...     "high": [0.85, 0.94], "n": [5, 5]})
        >>> kpi_comparison_figure(summary, ["on_time_rate"], "en").axes[0].get_title()
        'On-time rate'
    """
    need_columns(summary, ("variant", "metric", "mean", "low", "high", "n"), "summary")
    metrics = list(metrics) if metrics else default_metrics(summary["metric"].unique())
    metrics = [m for m in metrics if m in set(summary["metric"])]
    if not metrics:
        raise FigureDataError("none of the requested metrics is in the summary")
    variants = list(dict.fromkeys(summary["variant"]))
    shown, factors_text = _variant_names(summary, variants, lang, variant_labels, names)
    ncols = min(3, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    height = nrows * (0.9 + 0.32 * len(variants)) + 0.6
    with figure_style(lang):
        fig = new_figure((3.4 * ncols + 1.2, height))
        axes = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, squeeze=False)).ravel()
        for ax, metric in zip(axes, metrics, strict=False):
            _kpi_panel(ax, summary[summary["metric"] == metric], variants, lang)
            ax.set_title(kpi_label(metric, lang), fontsize=9)
            if _is_share(metric):
                ax.xaxis.set_major_formatter(PercentTicks())
        for ax in axes[len(metrics) :]:
            ax.set_visible(False)
        axes[0].set_yticks(range(len(variants)), _tick_names(shown))
        axes[0].set_ylim(len(variants) - 0.5, -0.5)
        if factors_text:
            for ax in axes[::ncols]:
                ax.set_ylabel(factors_text)
        fig.suptitle(label("kpi_title", lang))
        return finish(fig)


def _variant_names(
    summary: pd.DataFrame,
    variants: list[str],
    lang: str,
    given: dict[str, str] | None,
    names: Mapping[str, str] | None = None,
) -> tuple[list[str], str]:
    """Display names of variants, and the factor names they list (or "").

    Explicit labels win; short variant names are kept (``names`` in ``lang`` where given,
    else the keys with policy names translated; a CJK character counts as two); long
    generated names (``households_per_grid=300,policy=...``) are replaced by the values of
    the factors that vary, in the factors' order, which the y-axis label then names.
    """
    names = names or {}
    own = [names.get(v) or value_label(v, lang) for v in variants]
    if given:
        return [given.get(v) or name for v, name in zip(variants, own, strict=True)], ""
    stats = {"variant", "metric", "mean", "half_width", "low", "high", "n"}
    factors = [c for c in summary.columns if c not in stats]
    per_variant = summary.drop_duplicates("variant").set_index("variant")
    varying = [f for f in factors if per_variant[f].nunique(dropna=False) > 1]
    if not varying or max(text_width(str(v)) for v in own) <= 24:
        return own, ""
    sep = label("list_sep", lang)
    levels = [sep.join(value_label(per_variant.loc[v, f], lang) for f in varying) for v in variants]
    return levels, sep.join(factor_label(f, lang) for f in varying)


def _tick_names(shown: list[str], limit: int = 40) -> list[str]:
    """Variant names for ticks: without a parenthetical, unless it tells two variants apart.

    Example:
        >>> _tick_names(["逐级上报", "逐级上报（推诿上交多）"])
        ['逐级上报', '逐级上报（推诿上交多）']
        >>> _tick_names(["merged (pooled queue)", "separate"])
        ['merged', 'separate']
    """
    ticks = [short(s, limit) for s in shown]
    if len(set(ticks)) < len(set(shown)):
        ticks = [s if len(s) <= limit else s[: limit - 1].rstrip() + "…" for s in shown]
    return ticks


def _is_share(metric: str) -> bool:
    try:
        return kpi(metric).share
    except KeyError:  # a metric the registry does not know is drawn as a plain number
        return False


def default_metrics(available: Iterable[str]) -> list[str]:
    """The first six headline KPIs present (else the first six metrics)."""
    available = list(available)
    chosen = [k.name for k in headline_kpis() if k.name in available]
    return chosen[:6] if chosen else available[:6]


def _kpi_panel(ax: Axes, rows: pd.DataFrame, variants: list[str], lang: str) -> None:
    rows = rows.set_index("variant").reindex(variants)
    for i, (_, row) in enumerate(rows.iterrows()):
        if not np.isfinite(row["mean"]):
            # No value to place: say "undefined" in the middle of the row, not a point at 0.
            note_in_row(ax, i, undefined_text("undefined", lang))
            continue
        colour = PALETTE[i % len(PALETTE)]
        bounded = np.isfinite(row["low"]) and np.isfinite(row["high"])
        if bounded:
            err = [[row["mean"] - row["low"]], [row["high"] - row["mean"]]]
            ax.errorbar(row["mean"], i, xerr=err, fmt="o", color=colour, capsize=3, ms=5, lw=1.4)
        else:
            ax.plot(row["mean"], i, "o", color=colour, ms=5)
            ax.annotate(
                label("kpi_n1", lang),
                (row["mean"], i),
                xytext=(0, 7),
                textcoords="offset points",
                ha="center",
                fontsize=6.5,
                color="#555555",
            )
    if not np.isfinite(rows["mean"]).any():  # nothing measured: an axis would invent a scale
        ax.set_xticks([])
        return
    ax.grid(axis="x")
    ax.set_axisbelow(True)
    ax.margins(x=0.15)
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(4))


def factor_columns(tidy: pd.DataFrame) -> list[str]:
    """Columns besides the tidy keys that are constant within each variant."""
    extra = [c for c in tidy.columns if c not in TIDY_KEYS]
    if not extra:
        return []
    per_variant = tidy.groupby("variant")[extra].nunique(dropna=False).max()
    return [c for c in extra if per_variant[c] <= 1]


def tornado_figure(tidy: pd.DataFrame, metric: str, lang: str) -> Figure:
    """Sensitivity of one metric to each sweep factor, as a tornado chart.

    For each factor column of the tidy table, the metric's mean is taken at each of the
    factor's levels (averaging over replications and the other factors); the bar spans
    the lowest to the highest of those means, labelled with the levels that give them.
    Factors are sorted by the width of that range, widest on top.

    Args:
        tidy: a sweep's tidy table: ``variant``, factor columns, ``replication``,
            ``metric``, ``value``.
        metric: the metric.
        lang: ``"zh"`` or ``"en"``.

    Returns:
        The figure.

    Raises:
        ValueError: the metric is absent, or no factor takes two levels.

    Example:
        >>> import pandas as pd
        >>> tidy = pd.DataFrame({"variant": ["a", "a", "b", "b"], "hh": [300, 300, 500, 500],
        ...     "replication": [0, 1, 0, 1], "metric": ["m"] * 4, "value": [1.0, 2.0, 4.0, 5.0]})
        >>> [float(p.get_width()) for p in tornado_figure(tidy, "m", "en").axes[0].patches]
        [3.0]
    """
    need_columns(tidy, TIDY_KEYS, "tidy results")
    rows = tidy[tidy["metric"] == metric]
    if rows.empty:
        raise FigureDataError(f"metric {metric!r} is not in the results")
    ranges = []
    for factor in factor_columns(tidy):
        means = rows.groupby(factor, dropna=False)["value"].mean().dropna()
        if len(means) < 2:
            continue
        ranges.append((factor, means.idxmin(), means.min(), means.idxmax(), means.max()))
    if not ranges:
        raise FigureDataError("no factor column takes two or more levels; nothing to rank")
    ranges.sort(key=lambda r: r[4] - r[2])
    overall = float(rows["value"].mean())
    metric_text = kpi_label(metric, lang)
    with figure_style(lang):
        fig = new_figure((8, 1.4 + 0.5 * len(ranges)))
        ax = fig.add_subplot()
        ys = range(len(ranges))
        ax.barh(
            ys,
            [r[4] - r[2] for r in ranges],
            left=[r[2] for r in ranges],
            color=PALETTE[4],
            edgecolor=PALETTE[0],
            height=0.55,
        )
        ax.axvline(overall, color="#222222", lw=1, ls="--", label=label("tornado_mean", lang))
        for y, (_, lo_level, lo, hi_level, hi) in zip(ys, ranges, strict=True):
            ax.annotate(
                value_label(lo_level, lang),
                (lo, y),
                xytext=(-4, 0),
                textcoords="offset points",
                ha="right",
                va="center",
                fontsize=7.5,
            )
            ax.annotate(
                value_label(hi_level, lang),
                (hi, y),
                xytext=(4, 0),
                textcoords="offset points",
                ha="left",
                va="center",
                fontsize=7.5,
            )
        ax.set_yticks(list(ys), [short(factor_label(r[0], lang), 28) for r in ranges])
        low = min(r[2] for r in ranges)
        high = max(r[4] for r in ranges)
        pad = 0.22 * (high - low or abs(high) or 1.0)
        ax.set_xlim(low - pad, high + pad)
        if _is_share(metric):
            ax.xaxis.set_major_formatter(PercentTicks())
        ax.set_xlabel(label("tornado_x", lang, metric=metric_text))
        ax.legend(loc="lower right")
        ax.grid(axis="x")
        ax.set_axisbelow(True)
        ax.set_title(label("tornado_title", lang, metric=metric_text))
        return finish(fig)


def sensitivity_figure(
    indices: pd.DataFrame, metrics: Sequence[str], lang: str, confidence: float = 0.95
) -> Figure:
    """Global sensitivity indices with their bootstrap intervals: one panel per KPI.

    Args:
        indices: :func:`gridsim.analysis.sensitivity.sensitivity_indices` output.
        metrics: the KPIs to draw (those without indices are skipped).
        lang: ``"zh"`` or ``"en"``.
        confidence: the intervals' level (for the axis label).

    Returns:
        The figure: per factor a bar per index (``S1``, ``ST`` or ``delta``) with whiskers.

    Raises:
        FigureDataError: no index for any of the metrics.

    Example:
        >>> idx = pd.DataFrame({"metric": ["m", "m"], "factor": ["a", "b"], "method": "sobol",
        ...     "index": "S1", "value": [0.9, 0.01], "low": [0.8, -0.02], "high": [1.0, 0.04],
        ...     "n": 64})
        >>> fig = sensitivity_figure(idx, ["m"], "en")
        >>> [round(float(p.get_width()), 2) for p in fig.axes[0].patches]
        [0.9, 0.01]
    """
    need_columns(indices, ("metric", "factor", "index", "value", "low", "high"), "indices")
    shown = [m for m in metrics if (indices["metric"] == m).any()]
    if not shown:
        raise FigureDataError("no sensitivity index for these KPIs")
    kinds = list(dict.fromkeys(indices["index"]))
    factors = list(dict.fromkeys(indices["factor"]))
    height = 0.8 / len(kinds)
    with figure_style(lang):
        fig = new_figure((8, 1.2 + len(shown) * (0.5 + 0.45 * len(factors))))
        axes = fig.subplots(len(shown), 1, squeeze=False)[:, 0]
        for ax, metric in zip(axes, shown, strict=True):
            rows = indices[indices["metric"] == metric]
            for k, kind in enumerate(kinds):
                part = rows[rows["index"] == kind].set_index("factor").reindex(factors)
                ys = np.arange(len(factors))[::-1] + (k - (len(kinds) - 1) / 2) * height
                values = part["value"].to_numpy(dtype=float)
                err = np.vstack([values - part["low"].to_numpy(dtype=float),
                                 part["high"].to_numpy(dtype=float) - values])  # fmt: skip
                ax.barh(ys, values, height=height * 0.9, color=PALETTE[(2 * k + 1) % len(PALETTE)],
                        xerr=np.clip(err, 0, None), capsize=3, label=kind,
                        error_kw={"elinewidth": 1, "ecolor": "#222222"})  # fmt: skip
            ax.set_yticks(list(range(len(factors)))[::-1],
                          [short(factor_label(f, lang), 28) for f in factors])  # fmt: skip
            ax.axvline(0, color="#222222", lw=0.8)
            ax.set_xlim(min(-0.05, float(rows["low"].min()) - 0.02),
                        max(1.05, float(rows["high"].max()) + 0.02))  # fmt: skip
            ax.set_title(label("sens_title", lang, metric=kpi_label(metric, lang)), fontsize=10)
            ax.grid(axis="x")
            ax.set_axisbelow(True)
        axes[0].legend(loc="lower right", fontsize=8)
        axes[-1].set_xlabel(label("sens_x", lang, conf=f"{100 * confidence:g}"))
        return finish(fig)


# --------------------------------------------------------------------------- Welch plot


def _as_matrix(series_by_rep: ArrayLike | Sequence[ArrayLike]) -> np.ndarray:
    if isinstance(series_by_rep, pd.DataFrame):
        return series_by_rep.to_numpy(float).T
    try:
        matrix = np.asarray(series_by_rep, dtype=float)
    except ValueError:  # ragged: cut every replication to the shortest
        reps = [np.asarray(s, dtype=float) for s in cast("Sequence[ArrayLike]", series_by_rep)]
        length = min(len(s) for s in reps)
        matrix = np.vstack([s[:length] for s in reps])
    if matrix.ndim == 1:
        matrix = matrix[np.newaxis, :]
    if matrix.ndim != 2 or matrix.shape[1] < 10:
        raise FigureDataError("a Welch plot needs replications × at least 10 periods")
    return matrix


def welch_figure(
    series_by_rep: ArrayLike | Sequence[ArrayLike],
    lang: str,
    truncation: int | None = None,
    window: int | None = None,
    period_hours: float = 1.0,
    ylabel: str | None = None,
) -> Figure:
    """Welch plot for choosing a warm-up period, with the MSER-5 truncation point.

    Thin lines are the replications, the thick line Welch's moving average of their
    mean (:func:`gridsim.analysis.stats.welch_average`); the dashed vertical line is the
    truncation point (given, or MSER-5 of the across-replication mean).

    Args:
        series_by_rep: replications × periods (a 2-D array, a list of 1-D arrays, cut to
            the shortest, or a DataFrame with one column per replication).
        lang: ``"zh"`` or ``"en"``.
        truncation: observations to delete (None: :func:`gridsim.analysis.stats.mser5`).
        window: the moving average's half-window in periods (None: about 2 % of the run).
        period_hours: length of one period in hours (the x axis is in days).
        ylabel: the y-axis label (None: "output per period").

    Returns:
        The figure.

    Example:
        >>> import numpy as np
        >>> series = np.vstack([np.r_[np.linspace(0, 10, 50), np.full(150, 10.0)]] * 3)
        >>> fig = welch_figure(series, "en", period_hours=24)
        >>> len(fig.axes[0].lines) >= 3
        True
    """
    matrix = _as_matrix(series_by_rep)
    reps, periods = matrix.shape
    w = window if window is not None else max(1, min(periods // 4, round(periods / 50)))
    smooth = welch_average(matrix, w)
    mean = np.nanmean(matrix, axis=0)
    cut = truncation if truncation is not None else mser5(mean)
    days = np.arange(periods) * period_hours / 24.0
    with figure_style(lang):
        fig = new_figure((8, 4.2))
        ax = fig.add_subplot()
        for i, series in enumerate(matrix):
            ax.plot(
                days,
                series,
                color="#AAAAAA",
                lw=0.5,
                alpha=0.6,
                label=label("welch_reps" if reps > 1 else "backlog_one", lang) if i == 0 else None,
            )
        if reps > 1:
            ax.plot(days, mean, color=PALETTE[4], lw=0.8, label=label("welch_mean", lang, n=reps))
        ax.plot(
            days[: smooth.size],
            smooth,
            color=PALETTE[0],
            lw=2,
            label=label("welch_ma", lang, w=duration_text(w * period_hours, lang)),
        )
        ax.axvline(
            cut * period_hours / 24.0,
            color=PALETTE[5],
            ls="--",
            lw=1.3,
            label=label("welch_cut", lang, d=cut * period_hours / 24.0),
        )
        ax.set_xlim(days[0], days[-1])
        ax.set_xlabel(label("time_days", lang))
        ax.set_ylabel(ylabel or label("welch_y", lang))
        ax.grid(axis="y")
        ax.legend(loc="best")
        ax.set_title(label("welch_title", lang))
        return finish(fig)
