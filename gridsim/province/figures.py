"""The province figures: counties ranked, the spread within each city, the computing cost.

Three figures, each as ``<name>_<lang>.png`` (Chinese and English), drawn from the counties
table of a province run (:func:`gridsim.province.summary.counties_table`):

* ``counties_ranked`` — every county ranked by one headline KPI (default
  ``share_settled_in_grid``, 小事不出网格), best at the top, coloured by city, with the
  resident-weighted province mean as a vertical line;
* ``kpi_by_city`` — four headline KPIs across the counties of each city: a box per city and a
  point per county (its area in proportion to the residents), cities ordered by their median;
* ``cost_per_county`` — CPU seconds and peak memory of each county against its residents,
  with the least-squares line through the origin: the scaling evidence the benchmarks cite.

PNG only, like a run's figures (:mod:`gridsim.output.figure_dirs`): these are a run's output,
looked at on screen; the lecture and claims figures add SVG for print.

Example:
    >>> import tempfile
    >>> from gridsim.province.file import load_province
    >>> p = load_province("scenarios/provinces/synthetic_20.toml")
    >>> t = pd.DataFrame({"key": [c.key for c in p.counties], "name": [c.name for c in p.counties],
    ...                   "city": [c.city for c in p.counties],
    ...                   "population": [c.population for c in p.counties],
    ...                   "share_settled_in_grid": np.linspace(0.8, 0.9, len(p.counties)),
    ...                   "cpu_s": 0.1, "peak_rss_mb": 120.0})
    >>> paths = draw_province_figures(t, p, Path(tempfile.mkdtemp()), langs=("en",))
    >>> sorted(path.name for path in paths)
    ['cost_per_county_en.png', 'counties_ranked_en.png', 'kpi_by_city_en.png']
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gridsim.files import sign_png
from gridsim.kpi_registry import KPIS
from gridsim.output.i18n import kpi_label, label
from gridsim.output.style import (
    PALETTE,
    FigureDataError,
    PercentTicks,
    figure_style,
    finish,
    need_columns,
    new_figure,
    save_figure,
)
from gridsim.province.file import Province
from gridsim.province.summary import weighted_mean

__all__ = [
    "CITY_KPIS",
    "FIGURES",
    "HEADLINE",
    "city_styles",
    "cost_per_county",
    "counties_ranked",
    "draw_province_figures",
    "kpi_by_city",
]

log = logging.getLogger("gridsim.province")

#: The KPI the counties are ranked by unless told otherwise (小事不出网格).
HEADLINE = "share_settled_in_grid"
#: The four KPIs of ``kpi_by_city``: settled in the grid, found proactively, response, satisfied.
CITY_KPIS: tuple[str, ...] = (
    "share_settled_in_grid",
    "proactive_issue_share",
    "response_time_mean_h",
    "satisfaction_rate",
)
#: The province figures, in the order they are drawn.
FIGURES: tuple[str, ...] = ("counties_ranked", "kpi_by_city", "cost_per_county")

# Okabe–Ito without its yellow (too faint for a small marker on white); past seven cities
# the marker shape changes, so 16 cities (Shandong) stay apart without a rainbow palette.
_COLOURS = tuple(c for c in PALETTE if c != "#F0E442")
_MARKERS = ("o", "s", "^", "D", "v")
_NOTE = "#555555"


# --------------------------------------------------------------------------- names


def _province_name(province: Province | None, lang: str) -> str:
    if province is None:
        return label("province_unnamed", lang)
    s = province.settings
    return s.name_zh if lang == "zh" and s.name_zh else s.name


def _column(table: pd.DataFrame, name: str, fallback: pd.Series) -> pd.Series:
    """``table[name]`` where it holds text, else ``fallback`` (a missing Chinese name)."""
    if name not in table:
        return fallback.astype(str)
    values = table[name].astype("string").fillna("").str.strip()
    return values.where(values != "", fallback.astype(str)).astype(str)


def county_names(counties: pd.DataFrame, lang: str) -> pd.Series:
    """Each county's name in ``lang``; a name two cities share gets its city in brackets.

    Shandong has a 市中区 in four cities: without the city the ranking would be ambiguous.

    Example:
        >>> t = pd.DataFrame({"key": ["a-x", "b-x", "b-y"], "name": ["Shizhong"] * 2 + ["Y"],
        ...                   "city": ["a", "b", "b"], "city_name": ["Jinan", "Zibo", "Zibo"]})
        >>> county_names(t, "en").tolist()
        ['Shizhong (Jinan)', 'Shizhong (Zibo)', 'Y']
    """
    en = _column(counties, "name", counties["key"])
    names = _column(counties, "name_zh", en) if lang == "zh" else en
    cities = city_names(counties, lang)
    twice = names.duplicated(keep=False)
    left, right = ("（", "）") if lang == "zh" else (" (", ")")
    return names.where(~twice, names + left + cities + right)


def city_names(counties: pd.DataFrame, lang: str) -> pd.Series:
    """Each county's city name in ``lang`` (the city's key if the table names none)."""
    en = _column(counties, "city_name", counties["city"])
    return _column(counties, "city_name_zh", en) if lang == "zh" else en


def city_styles(counties: pd.DataFrame, province: Province | None = None) -> dict[str, dict]:
    """Colour and marker of each city: the province file's order, then the table's.

    Example:
        >>> s = city_styles(pd.DataFrame({"city": [f"c{i}" for i in range(9)]}))
        >>> s["c0"], s["c7"]["marker"]
        ({'color': '#0072B2', 'marker': 'o'}, 's')
    """
    order = [c.key for c in province.cities] if province is not None else []
    present = list(dict.fromkeys(counties["city"].astype(str)))
    keys = [k for k in order if k in present] + [k for k in present if k not in order]
    return {
        k: {"color": _COLOURS[i % len(_COLOURS)], "marker": _MARKERS[i // len(_COLOURS) % 5]}
        for i, k in enumerate(keys)
    }


def _values(counties: pd.DataFrame, metric: str) -> pd.Series | None:
    """The KPI column as floats, or None if the table lacks it or it holds no number."""
    if metric not in counties:
        return None
    values = pd.to_numeric(counties[metric], errors="coerce").astype(float)
    return values if values.notna().any() else None


def _show(metric: str, value: float, lang: str) -> str:
    record = KPIS.get(metric)
    if record is None:
        return f"{value:.3g}"
    text = record.show(value)
    return text.replace(" %", "%") if lang == "zh" else text


def _axis_format(ax: Any, metric: str, axis: str = "x") -> None:
    record = KPIS.get(metric)
    if record is not None and record.share:
        (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(PercentTicks())


def spread_text(metric: str, values: pd.Series, lang: str) -> str:
    """How far apart the counties are: a share's range in percentage points, else its ends.

    Read beside an axis that zooms onto the counties' values: without it, a 0.2-point
    spread drawn across the whole plot looks like a large difference.

    Example:
        >>> spread_text("share_settled_in_grid", pd.Series([0.914, 0.916]), "en")
        'counties span 0.2 percentage points'
    """
    v = values.dropna().astype(float)
    if v.empty:
        return ""
    record = KPIS.get(metric)
    if record is not None and record.share:
        span = label("province_points", lang, n=f"{(v.max() - v.min()) * 100:.1f}")
    else:
        span = f"{_show(metric, v.min(), lang)}–{_show(metric, v.max(), lang)}"
    return label("province_spread", lang, span=span)


def _residents(n: float, lang: str) -> str:
    # Chinese counts residents in 万 (ten thousands), as the census bulletins do
    return label("province_residents", lang, n=f"{n / 1e4:.1f}" if lang == "zh" else f"{n:,.0f}")


def _city_handles(counties: pd.DataFrame, styles: dict[str, dict], lang: str) -> list[Line2D]:
    names = dict(zip(counties["city"].astype(str), city_names(counties, lang), strict=True))
    return [
        Line2D([], [], linestyle="none", markersize=6, label=names[k], **style)
        for k, style in styles.items()
    ]


def _city_legend(fig: Figure, counties: pd.DataFrame, styles: dict[str, dict], lang: str) -> None:
    """The cities under the panels (beside them, the legend's title met the figure's)."""
    fig.legend(handles=_city_handles(counties, styles, lang), loc="outside lower center",
               ncols=min(len(styles), 6), title=label("province_city", lang))  # fmt: skip


# --------------------------------------------------------------------------- figures


def counties_ranked(
    counties: pd.DataFrame, province: Province | None, lang: str, metric: str = HEADLINE
) -> Figure:
    """Every county ranked by ``metric``, the best at the top, one marker per county.

    The height grows with the counties (a 136-county province is about 16 inches tall at
    5.5-point names); the value axis is labelled at the top and the bottom so that a reader
    in the middle of the list has one near. Counties without a value are listed last.

    Raises:
        FigureDataError: the table lacks ``metric`` or has no value of it.
    """
    need_columns(counties, ("key", "city", "population"), "the counties table")
    values = _values(counties, metric)
    if values is None:
        raise FigureDataError(f"the counties table has no value of {metric}")
    direction = KPIS[metric].direction if metric in KPIS else 1
    # best first; the rows are then drawn top down, so the first is at the top
    ranked = counties.assign(_v=values * direction, _name=county_names(counties, lang))
    ranked = ranked.sort_values(["_v", "_name"], ascending=[False, True], na_position="last")
    n = len(ranked)
    size = 8.0 if n <= 30 else 7.0 if n <= 60 else 6.0
    row = max(size * 1.5 / 72, 0.16)
    fig = new_figure((7.2, 1.6 + n * row))
    ax = fig.add_subplot()
    y = np.arange(n)
    styles = city_styles(counties, province)
    v = ranked["_v"].to_numpy(dtype=float) * direction
    for city, style in styles.items():
        mine = (ranked["city"].astype(str) == city).to_numpy() & np.isfinite(v)
        ax.scatter(v[mine], y[mine], s=18 if n <= 60 else 11, zorder=3, linewidths=0,
                   c=style["color"], marker=style["marker"])  # fmt: skip
    for i in np.flatnonzero(~np.isfinite(v)):
        ax.text(0.02, y[i], label("no_data", lang), transform=ax.get_yaxis_transform(),
                fontsize=size, va="center", color=_NOTE)  # fmt: skip
    ax.set_yticks(y, ranked["_name"], fontsize=size)
    ax.set_ylim(n - 0.4, -0.6)
    ax.grid(axis="y", linewidth=0.4, color="#EEEEEE")
    ax.grid(axis="x")
    ax.set_axisbelow(True)
    mean = weighted_mean(values, counties["population"].astype(float))
    ax.axvline(mean, color="black", lw=1, zorder=2)
    # a tall list gets the value axis at the top too, near whoever reads its first rows
    ax.tick_params(axis="x", labeltop=n > 30, top=n > 30)
    _axis_format(ax, metric)
    ax.set_xlabel(kpi_label(metric, lang))
    pop = float(counties["population"].sum())
    fig.suptitle(label("province_ranked_title", lang, province=_province_name(province, lang),
                       kpi=kpi_label(metric, lang)) + "\n"
                 + label("province_counties_note", lang, n=n, residents=_residents(pop, lang))
                 + label("province_separator", lang) + spread_text(metric, values, lang),
                 x=0.01, ha="left")  # fmt: skip
    # inside the axes, where the ranking leaves room (a corner the best and worst avoid):
    # beside it the legend narrowed the plot, above it the mean's label met the ticks
    mean_text = label("province_mean", lang, value=_show(metric, mean, lang))
    mean_line = Line2D([], [], color="black", lw=1, label=mean_text)
    ax.legend(handles=[mean_line, *_city_handles(counties, styles, lang)], loc="best",
              title=label("province_city", lang), alignment="left", framealpha=0.9,
              frameon=True, edgecolor="none")  # fmt: skip
    return finish(fig)


def kpi_by_city(
    counties: pd.DataFrame,
    province: Province | None,
    lang: str,
    metrics: Sequence[str] = CITY_KPIS,
) -> Figure:
    """Each KPI across the counties of each city: a 2x2 grid of box-and-point panels.

    A panel whose KPI the table lacks (or holds no value of) says so instead.

    Raises:
        FigureDataError: no KPI of ``metrics`` has a value.
    """
    need_columns(counties, ("key", "city", "population"), "the counties table")
    if all(_values(counties, m) is None for m in metrics):
        raise FigureDataError(f"the counties table has no value of {', '.join(metrics)}")
    styles = city_styles(counties, province)
    cities = city_names(counties, lang)
    names = dict(zip(counties["city"].astype(str), cities, strict=True))
    n_cities = len(styles)
    cols = 2 if len(metrics) > 1 else 1
    rows = -(-len(metrics) // cols)
    fig = new_figure((4.1 * cols + 1.4, rows * (0.9 + 0.24 * max(n_cities, 3))))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    pop = counties["population"].astype(float)
    area = 6 + 70 * pop / max(float(pop.max()), 1.0)
    jitter = np.random.default_rng(0).uniform(-0.18, 0.18, len(counties))  # fixed: same figure
    for ax, metric in zip(axes, metrics, strict=False):
        values = _values(counties, metric)
        ax.set_title(kpi_label(metric, lang), loc="left")
        if values is not None:  # how far apart the counties are, beside the zoomed axis
            ax.set_title(spread_text(metric, values, lang), loc="right", fontsize=8,
                         color=_NOTE)  # fmt: skip
        if values is None:
            note = label("province_missing_kpi", lang, kpi=kpi_label(metric, lang))
            ax.text(0.5, 0.5, note, ha="center", va="center", transform=ax.transAxes,
                    color=_NOTE, wrap=True)  # fmt: skip
            ax.set_axis_off()
            continue
        direction = KPIS[metric].direction if metric in KPIS else 1
        medians = values.groupby(counties["city"].astype(str)).median()
        # best median at the top, as in the ranking; a city with no value at the bottom
        order = sorted(styles, key=lambda c: -direction * medians.get(c, np.nan)
                       if np.isfinite(medians.get(c, np.nan)) else np.inf)  # fmt: skip
        where = {c: i for i, c in enumerate(order)}
        ypos = counties["city"].astype(str).map(where).to_numpy(dtype=float)
        boxes = [values[(counties["city"].astype(str) == c).to_numpy()].dropna() for c in order]
        ax.boxplot([b.to_numpy() for b in boxes], positions=range(len(order)),
                   orientation="horizontal", widths=0.6, showfliers=False, whis=(0, 100),
                   patch_artist=True, boxprops={"facecolor": "#F2F2F2", "edgecolor": "#999999"},
                   medianprops={"color": "black"}, whiskerprops={"color": "#999999"},
                   capprops={"color": "#999999"})  # fmt: skip
        for city, style in styles.items():
            mine = (counties["city"].astype(str) == city).to_numpy() & values.notna().to_numpy()
            ax.scatter(values[mine], ypos[mine] + jitter[mine], s=area[mine], alpha=0.8,
                       linewidths=0, zorder=3, **style)  # fmt: skip
        ax.set_yticks(range(len(order)), [names[c] for c in order],
                      fontsize=8 if n_cities <= 10 else 7)  # fmt: skip
        ax.set_ylim(len(order) - 0.5, -0.5)
        ax.grid(axis="x")
        ax.set_axisbelow(True)
        _axis_format(ax, metric)
    for ax in axes[len(metrics) :]:
        ax.set_axis_off()
    fig.suptitle(label("province_city_title", lang, province=_province_name(province, lang))
                 + "\n" + label("province_city_note", lang), x=0.01, ha="left")  # fmt: skip
    _city_legend(fig, counties, styles, lang)
    return finish(fig)


def cost_fit(population: pd.Series, cpu_s: pd.Series) -> float:
    """CPU seconds per 100,000 residents: least squares through the origin, ``Σxy / Σx²``.

    Through the origin because a county of no residents costs nothing to simulate; the
    fixed cost of a worker (imports, start-up) is outside the counties' ``cpu_s``.

    Example:
        >>> cost_fit(pd.Series([100_000, 200_000]), pd.Series([1.0, 2.0]))
        1.0
    """
    ok = population.notna() & cpu_s.notna()
    x, y = population[ok].to_numpy(dtype=float), cpu_s[ok].to_numpy(dtype=float)
    denominator = float(np.sum(x * x))
    return float(np.sum(x * y) / denominator * 1e5) if denominator > 0 else float("nan")


def cost_per_county(counties: pd.DataFrame, province: Province | None, lang: str) -> Figure:
    """CPU seconds and peak memory of each county against its residents (two panels).

    Raises:
        FigureDataError: the table has no ``cpu_s`` values.
    """
    need_columns(counties, ("key", "city", "population"), "the counties table")
    cpu = _values(counties, "cpu_s")
    if cpu is None:
        raise FigureDataError("the counties table has no cpu_s values")
    styles = city_styles(counties, province)
    pop = counties["population"].astype(float)
    scale = 1e4 if lang == "zh" else 1e3  # 万人 in Chinese, thousands in English
    x = pop / scale
    fig = new_figure((9.2, 3.6))
    left, right = fig.subplots(1, 2)
    memory = _values(counties, "peak_rss_mb")
    for ax, values, ylabel in ((left, cpu, "province_cost_cpu"),
                               (right, memory, "province_cost_memory")):  # fmt: skip
        ax.set_xlabel(label("province_residents_x", lang))
        ax.set_ylabel(label(ylabel, lang))
        if values is None:
            ax.text(0.5, 0.5, label("no_data", lang), ha="center", va="center",
                    transform=ax.transAxes, color=_NOTE)  # fmt: skip
            continue
        for city, style in styles.items():
            mine = (counties["city"].astype(str) == city).to_numpy()
            ax.scatter(x[mine], values[mine], s=20, linewidths=0, alpha=0.85, zorder=3, **style)
        ax.set_xlim(0, float(x.max()) * 1.05)
        ax.set_ylim(0, float(values.max()) * 1.12)
        ax.grid(True)
        ax.set_axisbelow(True)
    slope = cost_fit(pop, cpu)
    if np.isfinite(slope):
        end = float(pop.max()) * 1.05
        left.plot([0, end / scale], [0, slope * end / 1e5], color="black", lw=1, zorder=2)
        left.set_title(label("province_cost_slope", lang, slope=f"{slope:.3g}"),
                       loc="left", fontsize=8)  # fmt: skip
    fig.suptitle(label("province_cost_title", lang, province=_province_name(province, lang))
                 + "\n" + label("province_counties_note", lang, n=len(counties),
                                residents=_residents(float(pop.sum()), lang)),
                 x=0.01, ha="left")  # fmt: skip
    _city_legend(fig, counties, styles, lang)
    return finish(fig)


_MAKERS: dict[str, Callable[..., Figure]] = {
    "counties_ranked": counties_ranked,
    "kpi_by_city": kpi_by_city,
    "cost_per_county": cost_per_county,
}


def draw_province_figures(
    counties: pd.DataFrame,
    province: Province | None,
    out: str | Path,
    langs: Sequence[str] = ("en", "zh"),
    headline: str = HEADLINE,
) -> list[Path]:
    """Write the province figures as ``<name>_<lang>.png`` under ``out``; return the files.

    A figure the table cannot feed (no value of the headline KPI, no CPU times) is left
    out with a warning, as a run's figure without data is.

    Args:
        counties: the counties table (``counties.parquet`` of a province run).
        province: the province (its name and city order); ``None`` for a bare table.
        out: the figures directory (created).
        langs: languages to draw, ``"en"`` and/or ``"zh"``.
        headline: the KPI ``counties_ranked`` ranks by.
    """
    out = Path(out)
    written = []
    for lang in langs:
        with figure_style(lang):
            for name, make in _MAKERS.items():
                extra = {"metric": headline} if name == "counties_ranked" else {}
                try:
                    fig = make(counties, province, lang, **extra)
                except FigureDataError as exc:
                    log.warning("province figure %s skipped: %s", name, exc)
                    continue
                # signed, so that a later run knows the file is gridsim's to replace
                written.append(sign_png(save_figure(fig, out / f"{name}_{lang}.png")))
                fig.clear()
    return written
