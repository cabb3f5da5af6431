"""Figures of a run and of a sweep, in Chinese (``lang="zh"``) or English (``lang="en"``).

Every figure function takes tables (see ``docs/data_model.md``) and a language and
returns a :class:`matplotlib.figure.Figure`; it never touches pyplot's global figure list,
so drawing hundreds of figures leaks nothing. One style serves them all: the Okabe–Ito
colour-blind-safe palette, the cividis colour map, 150 dpi, constrained layout.
:func:`save_figure` writes a figure atomically; :func:`run_figures` and
:func:`sweep_figures` redraw every figure from a saved run or sweep directory, which is
what ``gridsim plot RESULTS`` does (see :func:`register`).

Time unit: hours in the tables; axes show hours or days as labelled.

Example:
    >>> import pandas as pd
    >>> from gridsim.output.plots import backlog_figure
    >>> backlog = pd.DataFrame({"time": [0.0, 1.0, 2.0], "open": [0, 3, 2]})
    >>> fig = backlog_figure(backlog, "en")
    >>> fig.axes[0].get_ylabel()
    'Open work orders'
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import PatchCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator, PercentFormatter
from numpy.typing import ArrayLike

from gridsim.errors import UserError
from gridsim.files import atomic_write
from gridsim.kpi_registry import headline_kpis, kpi
from gridsim.output.i18n import (
    LANGS,
    FontNotFoundError,
    Names,
    check_lang,
    factor_label,
    kpi_label,
    label,
    level_label,
    setup_fonts,
    short,
    text_width,
    value_label,
    variant_labels,
)

if TYPE_CHECKING:
    from gridsim.model.scenario import Scenario

__all__ = [
    "DPI",
    "PALETTE",
    "STYLE",
    "backlog_figure",
    "escalation_flow_figure",
    "hierarchy_figure",
    "kpi_comparison_figure",
    "ranking_figure",
    "register",
    "resolved_where_figure",
    "response_ecdf_figure",
    "run_figures",
    "save_figure",
    "sweep_figures",
    "tornado_figure",
    "utilisation_heatmap",
    "welch_figure",
]

log = logging.getLogger(__name__)

#: Resolution of every figure.
DPI = 150

#: Okabe & Ito's colour-blind-safe palette (blue, orange, green, pink, sky, vermilion,
#: yellow, black).
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)

#: One colour per hierarchy level (-1: still open), used wherever levels appear.
#: A sequential purple ramp (lighter = closer to residents), so levels never share a colour
#: with the channel palette in the same figure.
LEVEL_COLOURS: dict[int, str] = {
    0: "#C9C7E4",
    1: "#9E9AC8",
    2: "#756BB1",
    3: "#4A1C86",
    -1: "#BBBBBB",
}

#: Colour map for continuous values (perceptually uniform, readable with colour blindness).
CMAP = "cividis"

#: The rc settings every figure is drawn and saved with.
STYLE: dict[str, Any] = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "normal",
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "axes.grid": False,
    "grid.color": "#DDDDDD",
    "grid.linewidth": 0.6,
    "image.cmap": CMAP,
    "figure.titlesize": 11,
    "figure.titleweight": "normal",
}

#: The usual order of entry channels in figures; others follow by volume.
CHANNEL_ORDER: tuple[str, ...] = ("app", "hotline", "walk_in", "petition", "visit", "reopen")

_LEVELS = (0, 1, 2, 3)
_TIDY_KEYS = ("variant", "replication", "metric", "value")


# --------------------------------------------------------------------------- style


@contextmanager
def _style(lang: str) -> Iterator[None]:
    """Fonts for ``lang`` plus the figure style, for drawing and for saving."""
    check_lang(lang)
    setup_fonts(lang)
    with mpl.rc_context(STYLE):
        yield


def _new_figure(figsize: tuple[float, float]) -> Figure:
    """Make a figure outside pyplot's registry (no leaks), constrained layout, 150 dpi."""
    return Figure(figsize=figsize, dpi=DPI, layout="constrained")


def _finish(fig: Figure) -> Figure:
    """Lay the figure out and build its ticks inside the style context."""
    fig.draw_without_rendering()
    return fig


def _names(scenario: Scenario | Names | None) -> Names:
    if isinstance(scenario, Names):
        return scenario
    return Names.from_scenario(scenario)


def _percent(value: float, lang: str = "en") -> str:
    """Format a share as a percentage ("37 %" in English, "37%" in Chinese)."""
    if not np.isfinite(value):
        return "–"
    return f"{100 * value:.0f}%" if lang == "zh" else f"{100 * value:.0f} %"


class _PercentTicks(mpl.ticker.Formatter):
    """Shares as percentages with just enough decimals for the tick spacing (87.5%, 90%)."""

    def __init__(self) -> None:
        self._ticks = np.array([])

    def set_locs(self, locs: Sequence[float]) -> None:
        """Remember the tick positions, which set the number of decimals."""
        self._ticks = np.asarray(locs, dtype=float)

    def __call__(self, x: float, pos: int | None = None) -> str:
        locs = self._ticks
        step = float(np.min(np.diff(locs))) * 100 if locs.size > 1 else 1.0
        decimals = next((d for d in range(4) if abs(round(step, d) - step) < 1e-6), 4)
        return f"{100 * x:.{decimals}f}%"


def _text_colour(colour: Any) -> str:
    """Pick black or white, whichever reads better on ``colour``."""
    r, g, b, _ = mpl.colors.to_rgba(colour)
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.55 else "black"


def _need(table: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {', '.join(missing)}")


def _channel_order(channels: Iterable[str], counts: pd.Series) -> list[str]:
    """Order channels: the usual ones in their usual order, then others by volume."""
    present = list(dict.fromkeys(channels))
    known = [c for c in CHANNEL_ORDER if c in present]
    rest = sorted((c for c in present if c not in CHANNEL_ORDER), key=lambda c: -counts.get(c, 0))
    return known + rest


def _channel_colours(channels: Sequence[str]) -> dict[str, str]:
    fixed = {c: PALETTE[i] for i, c in enumerate(CHANNEL_ORDER)}
    spare = [p for p in PALETTE if p not in [fixed[c] for c in channels if c in fixed]]
    out: dict[str, str] = {}
    for c in channels:
        out[c] = fixed.get(c) or (spare.pop(0) if spare else "#777777")
    return out


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` to ``path`` atomically (a temporary name, then a rename).

    The format follows the file suffix (``.png``, ``.pdf``, ``.svg``); parent directories
    are created. A reader never sees a half-written file.

    Args:
        fig: the figure.
        path: where to write it.

    Returns:
        The path written.

    Example:
        >>> import tempfile, pandas as pd
        >>> fig = backlog_figure(pd.DataFrame({"time": [0.0, 1.0], "open": [1, 2]}), "en")
        >>> out = save_figure(fig, Path(tempfile.mkdtemp()) / "backlog.png")
        >>> out.stat().st_size > 0
        True
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"

    def draw(tmp: Path) -> None:
        with mpl.rc_context(STYLE):
            fig.savefig(tmp, format=fmt, dpi=DPI, bbox_inches="tight", pad_inches=0.08)

    return atomic_write(path, draw)


# --------------------------------------------------------------------------- hierarchy


def _worst(row: list[float], side: float) -> float:
    total = sum(row)
    return max(
        max(side * side * r / (total * total), total * total / (side * side * r)) for r in row
    )


def _squarify(
    sizes: Sequence[float], x: float, y: float, w: float, h: float
) -> list[tuple[float, float, float, float]]:
    """Squarified treemap (Bruls, Huizing & van Wijk 2000) of ``sizes`` in a rectangle.

    Returns one ``(x, y, width, height)`` per size, in the order given.
    """
    values = np.asarray(sizes, dtype=float)
    if values.size == 0:
        return []
    values = np.where(values > 0, values, 0.0)
    if values.sum() <= 0:
        values = np.ones_like(values)
    order = np.argsort(-values, kind="stable")
    scaled = list(values[order] * (w * h) / values.sum())
    placed: list[tuple[float, float, float, float]] = []
    i = 0
    while i < len(scaled):
        side = max(min(w, h), 1e-12)
        row = [max(scaled[i], 1e-12)]
        i += 1
        while i < len(scaled) and _worst([*row, max(scaled[i], 1e-12)], side) <= _worst(row, side):
            row.append(max(scaled[i], 1e-12))
            i += 1
        total = sum(row)
        if w >= h:
            col_w = total / max(h, 1e-12)
            yy = y
            for r in row:
                placed.append((x, yy, col_w, r / col_w))
                yy += r / col_w
            x, w = x + col_w, max(w - col_w, 0.0)
        else:
            row_h = total / max(w, 1e-12)
            xx = x
            for r in row:
                placed.append((xx, y, r / row_h, row_h))
                xx += r / row_h
            y, h = y + row_h, max(h - row_h, 0.0)
    out: list[tuple[float, float, float, float]] = [(0.0, 0.0, 0.0, 0.0)] * len(placed)
    for rank, idx in enumerate(order):
        out[idx] = placed[rank]
    return out


_HIERARCHY_KPIS = (
    "orders_per_1000_households",
    "resolution_time_mean_h",
    "response_time_mean_h",
    "on_time_rate",
)


def _tile_kpi(orders: pd.DataFrame, tiles: pd.DataFrame, key: str, kpi: str) -> np.ndarray:
    """Compute the KPI per tile (grid or micro-grid) from the orders whose ``key`` it is."""
    by = orders.groupby(key)
    if kpi == "orders_per_1000_households":
        counts = by.size().reindex(tiles["unit"]).fillna(0).to_numpy(float)
        households = tiles["households"].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(households > 0, 1000 * counts / households, np.nan)
    if kpi == "resolution_time_mean_h":
        values = orders["resolved"] - orders["created"]
    elif kpi == "response_time_mean_h":
        values = orders["first_response"] - orders["created"]
    elif kpi == "on_time_rate":
        values = orders["on_time"]
    else:
        raise ValueError(f"kpi must be one of {', '.join(_HIERARCHY_KPIS)}, not {kpi!r}")
    means = values.groupby(orders[key]).mean()
    return means.reindex(tiles["unit"]).to_numpy(float)


def _layout_hierarchy(
    units: pd.DataFrame, micro: bool, width: float, height: float
) -> tuple[list[tuple[int, tuple]], pd.DataFrame, list[tuple[float, ...]], list[tuple[float, ...]]]:
    """Town blocks, then tiles (grids or micro-grids) inside them, sized by households."""
    grids = units[units["kind"] == "grid"]
    micros = units[units["kind"] == "microgrid"]
    towns = grids.groupby("town")["households"].sum()
    towns = towns[towns > 0]
    blocks = list(
        zip(towns.index, _squarify(towns.to_numpy(float), 0, 0, width, height), strict=True)
    )
    tiles: list[pd.Series] = []
    tile_rects: list[tuple[float, ...]] = []
    grid_rects: list[tuple[float, ...]] = []
    pad = 0.004 * min(width, height)
    for town, (x, y, w, h) in blocks:
        in_town = grids[grids["town"] == town]
        inner = (x + pad, y + pad, max(w - 2 * pad, 0), max(h - 2 * pad, 0))
        for (_, grid), rect in zip(
            in_town.iterrows(),
            _squarify(in_town["households"].to_numpy(float), *inner),
            strict=True,
        ):
            grid_rects.append(rect)
            if not micro:
                tiles.append(grid)
                tile_rects.append(rect)
                continue
            kids = micros[micros["parent"] == grid["unit"]]
            if kids.empty:
                tiles.append(grid)
                tile_rects.append(rect)
                continue
            for (_, kid), sub in zip(
                kids.iterrows(), _squarify(kids["households"].to_numpy(float), *rect), strict=True
            ):
                tiles.append(kid)
                tile_rects.append(sub)
    return blocks, pd.DataFrame(tiles), tile_rects, grid_rects


def hierarchy_figure(
    units: pd.DataFrame,
    orders: pd.DataFrame,
    lang: str,
    kpi: str = "orders_per_1000_households",
    scenario: Scenario | Names | None = None,
    max_microgrid_tiles: int = 1500,
) -> Figure:
    """Draw the county as a treemap: town blocks, grid tiles inside, coloured by a KPI.

    Tile area is households. When the county has at most ``max_microgrid_tiles``
    micro-grids they are drawn (and coloured) inside their grids; a county-sized run
    (hundreds of grids, thousands of micro-grids) is coloured per grid instead, so it stays
    readable. Exclusive grids hold no households and are left out (the note says how many).

    Args:
        units: the ``units`` table of a run.
        orders: the ``orders`` table.
        lang: ``"zh"`` or ``"en"``.
        kpi: ``orders_per_1000_households``, ``resolution_time_mean_h``,
            ``response_time_mean_h`` or ``on_time_rate`` (computed per tile).
        scenario: the scenario (or its :class:`~gridsim.output.i18n.Names`) for Chinese town names.
        max_microgrid_tiles: above this many micro-grids, colour per grid.

    Returns:
        The figure.

    Example:
        >>> import pandas as pd
        >>> units = pd.DataFrame({"unit": [0, 1, 2], "kind": ["grid", "microgrid", "microgrid"],
        ...     "level": [1, 0, 0], "town": [0, 0, 0], "town_name": ["A"] * 3,
        ...     "parent": [-1, 0, 0], "households": [100, 60, 40]})
        >>> orders = pd.DataFrame({"grid": [0, 0], "microgrid": [1, 2],
        ...     "created": [0.0, 1.0], "resolved": [5.0, 9.0]})
        >>> len(hierarchy_figure(units, orders, "en").axes)
        2
    """
    _need(units, ("unit", "kind", "town", "parent", "households"), "units")
    names = _names(scenario)
    n_micro = int((units["kind"] == "microgrid").sum())
    n_grids = int((units["kind"] == "grid").sum())
    if n_grids == 0:
        raise ValueError("units has no basic grids (kind == 'grid') to draw")
    micro = 0 < n_micro <= max_microgrid_tiles
    width, height = 1.6, 1.0
    with _style(lang):
        fig = _new_figure((10, 6.1))
        ax = fig.add_subplot()
        blocks, tiles, tile_rects, grid_rects = _layout_hierarchy(units, micro, width, height)
        key = "microgrid" if micro else "grid"
        values = _tile_kpi(orders, tiles, key, kpi) if len(orders) else np.full(len(tiles), np.nan)
        finite = values[np.isfinite(values)]
        lo, hi = np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0)
        norm = Normalize(vmin=float(lo), vmax=float(hi if hi > lo else lo + 1))
        cmap = mpl.colormaps[CMAP].with_extremes(bad="#E8E8E8")
        tiles_art = PatchCollection(
            [Rectangle(r[:2], r[2], r[3]) for r in tile_rects],
            cmap=cmap,
            norm=norm,
            edgecolor="white",
            linewidth=0.15 if micro else 0.25,
        )
        tiles_art.set_array(np.ma.masked_invalid(values))
        ax.add_collection(tiles_art)
        if micro:
            ax.add_collection(
                PatchCollection(
                    [Rectangle(r[:2], r[2], r[3]) for r in grid_rects],
                    facecolor="none",
                    edgecolor="white",
                    linewidth=0.9,
                )
            )
        _draw_town_blocks(ax, blocks, units, names, lang)
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
        ax.set_aspect("equal")
        ax.set_axis_off()
        cbar = fig.colorbar(
            tiles_art, ax=ax, shrink=0.8, extend=_extend(finite, norm), extendfrac=0.03
        )
        tiles_text = label("hierarchy_tiles_micro" if micro else "hierarchy_tiles_grid", lang)
        paren = "（{}）" if lang == "zh" else " ({})"
        cbar.set_label(kpi_label(kpi, lang) + paren.format(tiles_text))
        note = label("hierarchy_note", lang, towns=len(blocks), grids=n_grids, micro=n_micro)
        n_ex = int((units["kind"] == "exclusive_grid").sum())
        if n_ex:
            note += label("hierarchy_note_exclusive", lang, n=n_ex)
        ax.set_title(label("hierarchy_title_micro" if micro else "hierarchy_title", lang))
        fig.supxlabel(note, fontsize=8, color="#444444")
        return _finish(fig)


def _extend(finite: np.ndarray, norm: Normalize) -> str:
    if finite.size == 0:
        return "neither"
    low, high = finite.min() < norm.vmin, finite.max() > norm.vmax
    return {(True, True): "both", (True, False): "min", (False, True): "max"}.get(
        (low, high), "neither"
    )


def _draw_town_blocks(
    ax: Axes, blocks: list[tuple[int, tuple]], units: pd.DataFrame, names: Names, lang: str
) -> None:
    """Town outlines and names; a name is drawn only where its block has room for it."""
    town_names = units.drop_duplicates("town").set_index("town").get("town_name")
    total_w = sum(w * h for _, (_, _, w, h) in blocks) or 1.0
    for town, (x, y, w, h) in blocks:
        ax.add_patch(Rectangle((x, y), w, h, facecolor="none", edgecolor="white", linewidth=2.2))
        default = str(town_names.get(town, town)) if town_names is not None else str(town)
        name = names.town(int(town), lang, default=default)
        if w * h / total_w < 0.004 or w < 0.06 or h < 0.035:
            continue
        size = 8 if w > 0.16 else 6.5
        text = ax.text(
            x + 0.008,
            y + 0.008,
            short(name, 12),
            ha="left",
            va="top",
            fontsize=size,
            fontweight="normal",
            color="#111111",
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.75, "lw": 0},
        )
        text.set_clip_path(Rectangle((x, y), w, h, transform=ax.transData))


# --------------------------------------------------------------------------- escalation flow


def _spread(positions: Sequence[float], gap: float, low: float, high: float) -> list[float]:
    """Move sorted label positions apart so neighbours are at least ``gap`` apart."""
    ys = list(positions)
    for i in range(1, len(ys)):
        ys[i] = max(ys[i], ys[i - 1] + gap)
    overflow = ys[-1] - high if ys else 0.0
    if overflow > 0:
        ys = [y - overflow for y in ys]
        for i in range(len(ys) - 2, -1, -1):
            ys[i] = min(ys[i], ys[i + 1] - gap)
    if ys and ys[0] < low:
        ys = [y + (low - ys[0]) for y in ys]
    return ys


def escalation_flow_figure(
    orders: pd.DataFrame, lang: str, scenario: Scenario | Names | None = None
) -> Figure:
    """Sankey diagram: each work order's entry channel → the level that resolved it.

    Band thickness is the number of orders; the right-hand column has one node per level
    (micro-grid, grid, town, county) and one for orders still open at the horizon.

    Args:
        orders: the ``orders`` table (``channel``, ``resolved_level``).
        lang: ``"zh"`` or ``"en"``.
        scenario: the scenario (or its names) for channel names.

    Returns:
        The figure.

    Example:
        >>> import pandas as pd
        >>> orders = pd.DataFrame({"channel": ["app", "app", "hotline"],
        ...                        "resolved_level": [0, 2, -1]})
        >>> fig = escalation_flow_figure(orders, "en")
        >>> "Resolved at" in [t.get_text() for t in fig.axes[0].texts]
        True
    """
    _need(orders, ("channel", "resolved_level"), "orders")
    if orders.empty:
        raise ValueError("no work orders to draw")
    names = _names(scenario)
    channel = orders["channel"].astype(str).rename("channel")
    table = pd.crosstab(channel, orders["resolved_level"].astype(int))
    counts = table.sum(axis=1)
    left = _channel_order(table.index, counts)
    right = [lvl for lvl in (*_LEVELS, -1) if lvl in table.columns]
    table = table.reindex(index=left, columns=right, fill_value=0)
    total = int(table.to_numpy().sum())
    colours = _channel_colours(left)
    gap, node_w = 0.025, 0.035
    scale = (1 - gap * (max(len(left), len(right)) - 1)) / total

    def stack(sizes: Sequence[float]) -> list[float]:
        height = sum(sizes) * scale + gap * (len(sizes) - 1)
        tops, y = [], 0.5 + height / 2
        for s in sizes:
            tops.append(y)
            y -= s * scale + gap
        return tops

    left_top = dict(zip(left, stack(table.sum(axis=1)), strict=True))
    right_top = dict(zip(right, stack(table.sum(axis=0)), strict=True))
    with _style(lang):
        fig = _new_figure((9, 5.6))
        ax = fig.add_subplot()
        _draw_bands(ax, table, left_top, right_top, scale, node_w, colours)
        for ch in left:
            h = table.loc[ch].sum() * scale
            ax.add_patch(Rectangle((-node_w, left_top[ch] - h), node_w, h, color=colours[ch], lw=0))
        for lvl in right:
            h = table[lvl].sum() * scale
            ax.add_patch(
                Rectangle((1, right_top[lvl] - h), node_w, h, color=LEVEL_COLOURS[lvl], lw=0)
            )
        _flow_labels(
            ax,
            left,
            [names.channel(c, lang) for c in left],
            table.sum(axis=1),
            left_top,
            scale,
            total,
            x=-node_w - 0.015,
            ha="right",
            lang=lang,
        )
        _flow_labels(
            ax,
            right,
            [level_label(lvl, lang) for lvl in right],
            table.sum(axis=0),
            right_top,
            scale,
            total,
            x=1 + node_w + 0.015,
            ha="left",
            lang=lang,
        )
        ax.text(-node_w, 1.04, label("flow_left", lang), ha="right", va="baseline", fontsize=9.5)
        ax.text(1 + node_w, 1.04, label("flow_right", lang), ha="left", va="baseline", fontsize=9.5)
        ax.set_xlim(-0.55, 1.5)
        ax.set_ylim(-0.03, 1.1)
        ax.set_axis_off()
        ax.set_title(label("flow_title", lang))
        fig.supxlabel(label("flow_note", lang, n=f"{total:,}"), fontsize=8, color="#444444")
        return _finish(fig)


def _draw_bands(
    ax: Axes,
    table: pd.DataFrame,
    left_top: dict,
    right_top: dict,
    scale: float,
    node_w: float,
    colours: dict[str, str],
) -> None:
    """One smooth band per (channel, level) pair, stacked in node order at both ends."""
    left_used = dict.fromkeys(table.index, 0.0)
    right_used = dict.fromkeys(table.columns, 0.0)
    xs = np.linspace(0, 1, 60)
    ease = xs * xs * (3 - 2 * xs)
    for ch in table.index:
        for lvl in table.columns:
            n = table.loc[ch, lvl]
            if n <= 0:
                continue
            h = n * scale
            y0 = left_top[ch] - left_used[ch]
            y1 = right_top[lvl] - right_used[lvl]
            left_used[ch] += h
            right_used[lvl] += h
            top = y0 + (y1 - y0) * ease
            ax.fill_between(xs, top - h, top, color=colours[ch], alpha=0.45, lw=0)


def _flow_labels(
    ax: Axes,
    keys: Sequence,
    texts: Sequence[str],
    sizes: pd.Series,
    tops: dict,
    scale: float,
    total: int,
    x: float,
    ha: str,
    lang: str,
) -> None:
    """Node labels ("name  n (share)"), nudged apart with a leader line when moved."""
    centres = [tops[k] - sizes[k] * scale / 2 for k in keys]
    order = np.argsort(centres)
    placed = _spread([centres[i] for i in order], 0.055, 0.0, 1.0)
    for rank, i in enumerate(order):
        k, y = keys[i], placed[rank]
        share = sizes[k] / total
        text = f"{texts[i]}  {int(sizes[k]):,} ({_percent(share, lang)})"
        ax.text(x, y, text, ha=ha, va="center")
        if abs(y - centres[i]) > 0.01:
            edge = x + (0.012 if ha == "right" else -0.012)
            ax.plot(
                [edge, edge + (0.01 if ha == "right" else -0.01)],
                [y, centres[i]],
                color="#888888",
                lw=0.6,
            )


# --------------------------------------------------------------------------- backlog


def backlog_figure(backlogs: pd.DataFrame | Sequence[pd.DataFrame], lang: str) -> Figure:
    """Open work orders over time; with several replications, their median and a band.

    The band spans the minimum and maximum across replications when there are fewer than
    20, else the 5th to 95th percentiles (the legend says which).

    Args:
        backlogs: one ``backlog`` table (``time`` in hours, ``open``) or one per replication.
        lang: ``"zh"`` or ``"en"``.

    Returns:
        The figure.

    Example:
        >>> import pandas as pd
        >>> reps = [pd.DataFrame({"time": [0.0, 1.0, 2.0], "open": [0, k, 1]}) for k in (2, 4)]
        >>> len(backlog_figure(reps, "zh").axes[0].collections)
        1
    """
    tables = [backlogs] if isinstance(backlogs, pd.DataFrame) else list(backlogs)
    if not tables or all(t.empty for t in tables):
        raise ValueError("no backlog samples to draw")
    for t in tables:
        _need(t, ("time", "open"), "backlog")
    grid = np.asarray(max(tables, key=len)["time"], dtype=float)
    values = np.vstack(
        [np.interp(grid, t["time"].to_numpy(float), t["open"].to_numpy(float)) for t in tables]
    )
    days = grid / 24.0
    with _style(lang):
        fig = _new_figure((8, 4.2))
        ax = fig.add_subplot()
        if len(tables) == 1:
            ax.plot(days, values[0], color=PALETTE[0], lw=1.0, label=label("backlog_one", lang))
        else:
            wide = len(tables) >= 20
            lo, hi = (
                np.percentile(values, [5, 95], axis=0)
                if wide
                else (values.min(axis=0), values.max(axis=0))
            )
            ax.fill_between(
                days,
                lo,
                hi,
                color=PALETTE[4],
                alpha=0.35,
                lw=0,
                label=label("band_5_95" if wide else "band_minmax", lang),
            )
            ax.plot(
                days,
                np.median(values, axis=0),
                color=PALETTE[0],
                lw=1.2,
                label=label("backlog_median", lang, n=len(tables)),
            )
        ax.set_xlabel(label("time_days", lang))
        ax.set_ylabel(label("backlog_y", lang))
        ax.set_xlim(days[0], days[-1] if days[-1] > days[0] else days[0] + 1)
        ax.set_ylim(bottom=0)
        ax.grid(axis="y")
        ax.legend(loc="upper left")
        ax.set_title(label("backlog_title", lang))
        return _finish(fig)


# --------------------------------------------------------------------------- response ECDF

_DURATION_TICKS_H = (0.25, 1, 4, 24, 72, 168, 336, 720, 2160, 4320)


def _duration_text(hours: float, lang: str, floor: float | None = None) -> str:
    if floor is not None and abs(hours - floor) < 1e-9:
        return "≤" + _duration_text(hours, lang)
    if hours < 1:
        return label("unit_min", lang, v=f"{round(hours * 60, 1):g}")
    if hours < 24:
        return label("unit_hour", lang, v=f"{round(hours, 1):g}")
    return label("unit_day", lang, v=f"{round(hours / 24, 1):g}")


def response_ecdf_figure(
    orders: pd.DataFrame,
    lang: str,
    scenario: Scenario | Names | None = None,
    floor_hours: float = 0.1,
) -> Figure:
    """ECDF of the time from order creation to first response, one curve per channel.

    The x axis is logarithmic, in hours, with ticks labelled in minutes, hours and days.
    Each curve is the share of *all* the channel's orders responded to within ``t``, so an
    end below 1 means orders never responded to within the run. Times below
    ``floor_hours`` are drawn at the floor.

    Args:
        orders: the ``orders`` table (``channel``, ``created``, ``first_response``).
        lang: ``"zh"`` or ``"en"``.
        scenario: the scenario (or its names) for channel names.
        floor_hours: left end of the axis (hours).

    Returns:
        The figure.

    Example:
        >>> import pandas as pd
        >>> orders = pd.DataFrame({"channel": ["app", "app", "hotline"],
        ...     "created": [0.0, 1.0, 2.0], "first_response": [3.0, 30.0, float("nan")]})
        >>> response_ecdf_figure(orders, "en").axes[0].get_xscale()
        'log'
    """
    _need(orders, ("channel", "created", "first_response"), "orders")
    if orders.empty:
        raise ValueError("no work orders to draw")
    names = _names(scenario)
    wait = (orders["first_response"] - orders["created"]).clip(lower=floor_hours)
    channel = orders["channel"].astype(str)
    counts = channel.value_counts()
    channels = _channel_order(channel, counts)
    colours = _channel_colours(channels)
    top = float(np.nanmax(wait.to_numpy(float))) if wait.notna().any() else 24.0
    with _style(lang):
        fig = _new_figure((8, 4.6))
        ax = fig.add_subplot()
        for ch in channels:
            mask = (channel == ch).to_numpy()
            times = np.sort(wait[mask].dropna().to_numpy(float))
            n = int(mask.sum())
            xs = np.concatenate(([floor_hours], times, [max(top, floor_hours) * 1.2]))
            ys = np.concatenate(([0.0], np.arange(1, times.size + 1) / n, [times.size / n]))
            ax.step(
                xs,
                ys,
                where="post",
                color=colours[ch],
                lw=1.4,
                label=label("ecdf_legend", lang, name=names.channel(ch, lang), n=f"{n:,}"),
            )
        ax.set_xscale("log")
        right = max(top * 1.2, floor_hours * 10)
        ax.set_xlim(floor_hours, right)
        ticks = [t for t in _DURATION_TICKS_H if floor_hours * 2 <= t <= right]
        ax.xaxis.set_major_locator(FixedLocator([floor_hours, *ticks]))
        ax.xaxis.set_major_formatter(
            FuncFormatter(lambda v, _: _duration_text(v, lang, floor=floor_hours))
        )
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.grid(True)
        ax.set_xlabel(label("ecdf_x", lang))
        ax.set_ylabel(label("ecdf_y", lang))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.set_title(label("ecdf_title", lang))
        return _finish(fig)


# --------------------------------------------------------------------------- resolved where


def resolved_where_figure(
    orders: pd.DataFrame,
    lang: str,
    grid_target: float | None = None,
    town_target: float | None = None,
) -> Figure:
    """Share of resolved work orders closed at each level, and against the two targets.

    Left: micro-grid, grid, town, county shares of resolved orders. Right: the cumulative
    shares behind "小事不出网格，大事不出镇街" (within the grid = micro-grid + grid; within
    the town = up to the town), each with its target as a dashed line.

    Args:
        orders: the ``orders`` table (``resolved_level``; -1 = still open).
        lang: ``"zh"`` or ``"en"``.
        grid_target: target share resolved within the grid (None to omit); runs take it
            from the scenario's ``[targets]``.
        town_target: target share resolved within the town (None to omit).

    Returns:
        The figure.

    Example:
        >>> import pandas as pd
        >>> orders = pd.DataFrame({"resolved_level": [0, 0, 1, 2, 3, -1]})
        >>> fig = resolved_where_figure(orders, "en")
        >>> [round(float(p.get_height()), 2) for p in fig.axes[0].patches]
        [0.4, 0.2, 0.2, 0.2]
    """
    _need(orders, ("resolved_level",), "orders")
    level = orders["resolved_level"].astype(int)
    resolved = level[level >= 0]
    if resolved.empty:
        raise ValueError("no resolved work orders to draw")
    shares = resolved.value_counts(normalize=True).reindex(_LEVELS, fill_value=0.0)
    within = [shares[0] + shares[1], shares[0] + shares[1] + shares[2]]
    targets = [grid_target, town_target]
    with _style(lang):
        fig = _new_figure((8, 4.4))
        left, right = fig.subplots(1, 2, sharey=True, width_ratios=[4, 2.4])
        bars = left.bar(
            [level_label(lvl, lang) for lvl in _LEVELS],
            shares.to_numpy(),
            color=[LEVEL_COLOURS[lvl] for lvl in _LEVELS],
            width=0.65,
        )
        _label_bars(left, bars, shares.to_numpy(), lang)
        left.set_title(label("where_by_level", lang), fontsize=9)
        left.set_ylabel(label("where_y", lang))
        names = [label("within_grid", lang), label("within_town", lang)]
        bars = right.bar(names, within, color=[LEVEL_COLOURS[1], LEVEL_COLOURS[2]], width=0.6)
        _label_bars(right, bars, np.asarray(within), lang, middle=True)
        for i, target in enumerate(targets):
            if target is None:
                continue
            right.hlines(target, i - 0.4, i + 0.4, colors="#222222", linestyles="--", lw=1.2)
            right.annotate(
                label("target", lang, v=_percent(target, lang)),
                (i - 0.4, target),
                xytext=(0, 2),
                textcoords="offset points",
                ha="left",
                va="bottom",
                fontsize=7.5,
                bbox={"facecolor": "white", "alpha": 0.85, "lw": 0, "pad": 0.6},
            )
        right.set_title(label("where_cumulative", lang), fontsize=9)
        for ax in (left, right):
            ax.set_ylim(0, 1.1)
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
            ax.grid(axis="y")
            ax.set_axisbelow(True)
        fig.suptitle(f"{label('where_title', lang)}\n{label('where_slogan', lang)}")
        n_open = int((level < 0).sum())
        fig.supxlabel(
            label("where_note", lang, n=f"{resolved.size:,}", open=f"{n_open:,}"),
            fontsize=8,
            color="#444444",
        )
        return _finish(fig)


def _label_bars(ax: Axes, bars: Any, values: np.ndarray, lang: str, middle: bool = False) -> None:
    """Write each bar's percentage inside it (top or middle), or above it when it is short.

    ``middle`` keeps the labels clear of target lines drawn near the bars' tops.
    """
    for bar, value in zip(bars, values, strict=True):
        inside = value >= 0.12
        y = value / 2 if middle and inside else value
        ax.annotate(
            _percent(float(value), lang),
            (bar.get_x() + bar.get_width() / 2, y),
            xytext=(0, 0 if middle else (-3 if inside else 2)),
            textcoords="offset points",
            ha="center",
            va=("center" if middle else "top") if inside else "bottom",
            fontsize=8,
            color=_text_colour(bar.get_facecolor()) if inside else "black",
        )


# --------------------------------------------------------------------------- utilisation


def utilisation_heatmap(
    staff: pd.DataFrame,
    units: pd.DataFrame | None,
    lang: str,
    scenario: Scenario | Names | None = None,
) -> Figure:
    """Staff utilisation (busy ÷ available hours) by town (rows) and role (columns).

    Each cell pools the hours of every staff member of that role in that town; county-level
    staff (town -1) form the last row. Roles run from the micro-grid up to the county.

    Args:
        staff: the ``staff`` table (``role``, ``level``, ``town``, ``busy_hours``,
            ``available_hours``).
        units: the ``units`` table, for town names when no scenario is given (may be None).
        lang: ``"zh"`` or ``"en"``.
        scenario: the scenario (or its names) for town and role names.

    Returns:
        The figure.

    Example:
        >>> import pandas as pd
        >>> staff = pd.DataFrame({"role": ["grid_worker", "town_officer"], "level": [1, 2],
        ...     "town": [0, 0], "busy_hours": [50.0, 20.0], "available_hours": [100.0, 80.0]})
        >>> float(utilisation_heatmap(staff, None, "en").axes[0].images[0].get_array()[0, 0])
        0.5
    """
    _need(staff, ("role", "level", "town", "busy_hours", "available_hours"), "staff")
    if staff.empty:
        raise ValueError("no staff to draw")
    names = _names(scenario)
    staff = staff.assign(role=staff["role"].astype(str))
    sums = staff.groupby(["town", "role"])[["busy_hours", "available_hours"]].sum()
    ratio = sums["busy_hours"] / sums["available_hours"].where(sums["available_hours"] > 0)
    matrix = ratio.unstack("role")
    roles = staff.groupby("role")["level"].mean().sort_values(kind="stable").index.tolist()
    towns = sorted(t for t in matrix.index if t >= 0) + [t for t in matrix.index if t < 0]
    matrix = matrix.reindex(index=towns, columns=roles)
    town_names = _town_names(units)
    values = matrix.to_numpy(float)
    vmax = max(1.0, float(np.nanmax(values))) if np.isfinite(values).any() else 1.0
    with _style(lang):
        fig = _new_figure((min(2.6 + 0.78 * len(roles), 14), min(1.9 + 0.34 * len(towns), 12)))
        ax = fig.add_subplot()
        cmap = mpl.colormaps[CMAP].with_extremes(bad="#F2F2F2")
        image = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap=cmap, vmin=0, vmax=vmax)
        _annotate_cells(ax, values, image)
        ax.set_xticks(
            range(len(roles)),
            [short(names.role(r, lang), 12 if lang == "zh" else 24) for r in roles],
            rotation=35,
            ha="right",
            rotation_mode="anchor",
        )
        ax.set_yticks(
            range(len(towns)),
            [short(names.town(t, lang, default=town_names.get(t, "")), 14) for t in towns],
        )
        ax.tick_params(length=0)
        for side in ("top", "right", "bottom", "left"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel(label("util_x", lang))
        ax.set_ylabel(label("util_y", lang))
        cbar = fig.colorbar(image, ax=ax, shrink=0.9, format=PercentFormatter(1.0, decimals=0))
        cbar.set_label(label("util_cbar", lang))
        ax.set_title(label("util_title", lang))
        return _finish(fig)


def _town_names(units: pd.DataFrame | None) -> dict[int, str]:
    if units is None or "town_name" not in units.columns:
        return {}
    rows = units[units["town"] >= 0].drop_duplicates("town")
    return {int(t): str(n) for t, n in zip(rows["town"], rows["town_name"], strict=True)}


def _annotate_cells(ax: Axes, values: np.ndarray, image: Any) -> None:
    """Write each finite cell's percentage in a colour that stands out from the cell."""
    cmap, norm = image.get_cmap(), image.norm
    small = values.size > 120
    for (i, j), v in np.ndenumerate(values):
        if not np.isfinite(v):
            continue
        ax.text(
            j,
            i,
            f"{100 * v:.0f}%",
            ha="center",
            va="center",
            fontsize=6.5 if small else 7.5,
            color=_text_colour(cmap(norm(v))),
        )


# --------------------------------------------------------------------------- ranking


def ranking_figure(
    staff: pd.DataFrame,
    lang: str,
    role: str = "grid_worker",
    n: int = 10,
    units: pd.DataFrame | None = None,
    scenario: Scenario | Names | None = None,
) -> Figure:
    """Rank the ``n`` staff of ``role`` with the most points (the "ten best grid workers").

    Bars are points; each is annotated with the orders the worker handled and the share of
    their resolutions that were on time. Ties are broken by orders resolved, then staff id.

    Args:
        staff: the ``staff`` table (``staff``, ``role``, ``town``, ``points``,
            ``orders_handled``, ``orders_resolved``, ``on_time``).
        lang: ``"zh"`` or ``"en"``.
        role: the role ranked.
        n: how many to show.
        units: the ``units`` table, for town names when no scenario is given.
        scenario: the scenario (or its names) for town and role names.

    Returns:
        The figure.

    Example:
        >>> import pandas as pd
        >>> staff = pd.DataFrame({"staff": [0, 1], "role": ["grid_worker"] * 2, "town": [0, 0],
        ...     "points": [5.0, 9.0], "orders_handled": [4, 8], "orders_resolved": [3, 6],
        ...     "on_time": [3, 5]})
        >>> [t.get_text() for t in ranking_figure(staff, "en").axes[0].get_yticklabels()]
        ['0 #0', '0 #1']
    """
    _need(
        staff,
        ("staff", "role", "town", "points", "orders_handled", "orders_resolved", "on_time"),
        "staff",
    )
    pool = staff[staff["role"].astype(str) == role]
    if pool.empty:
        raise ValueError(f"no staff with role {role!r} to rank")
    names = _names(scenario)
    top = pool.sort_values(
        ["points", "orders_resolved", "staff"], ascending=[False, False, True], kind="stable"
    ).head(n)
    top = top.iloc[::-1]
    town_names = _town_names(units)
    ylabels = [
        label(
            "rank_staff",
            lang,
            town=short(names.town(t, lang, default=town_names.get(int(t), "")), 16),
            id=int(s),
        )
        for t, s in zip(top["town"], top["staff"], strict=True)
    ]
    points = top["points"].to_numpy(float)
    with _style(lang):
        fig = _new_figure((8, 1.2 + 0.38 * len(top)))
        ax = fig.add_subplot()
        ax.barh(range(len(top)), points, color=PALETTE[0], height=0.65)
        ax.set_yticks(range(len(top)), ylabels)
        span = max(points.max(), 1.0)
        for i, row in enumerate(top.itertuples()):
            rate = row.on_time / row.orders_resolved if row.orders_resolved else float("nan")
            note = label(
                "rank_note", lang, orders=int(row.orders_handled), rate=_percent(rate, lang)
            )
            ax.text(row.points + span * 0.01, i, note, va="center", fontsize=7.5, color="#333333")
        ax.set_xlim(0, span * 1.45)
        ax.set_xlabel(label("rank_x", lang))
        ax.grid(axis="x")
        ax.set_axisbelow(True)
        ax.set_title(label("rank_title", lang, n=len(top), role=names.role(role, lang)))
        return _finish(fig)


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
    _need(summary, ("variant", "metric", "mean", "low", "high", "n"), "summary")
    metrics = list(metrics) if metrics else _default_metrics(summary["metric"].unique())
    metrics = [m for m in metrics if m in set(summary["metric"])]
    if not metrics:
        raise ValueError("none of the requested metrics is in the summary")
    variants = list(dict.fromkeys(summary["variant"]))
    shown, factors_text = _variant_names(summary, variants, lang, variant_labels, names)
    ncols = min(3, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    height = nrows * (0.9 + 0.32 * len(variants)) + 0.6
    with _style(lang):
        fig = _new_figure((3.4 * ncols + 1.2, height))
        axes = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, squeeze=False)).ravel()
        for ax, metric in zip(axes, metrics, strict=False):
            _kpi_panel(ax, summary[summary["metric"] == metric], variants, lang)
            ax.set_title(kpi_label(metric, lang), fontsize=9)
            if _is_share(metric):
                ax.xaxis.set_major_formatter(_PercentTicks())
        for ax in axes[len(metrics) :]:
            ax.set_visible(False)
        axes[0].set_yticks(range(len(variants)), _tick_names(shown))
        axes[0].set_ylim(len(variants) - 0.5, -0.5)
        if factors_text:
            for ax in axes[::ncols]:
                ax.set_ylabel(factors_text)
        fig.suptitle(label("kpi_title", lang))
        return _finish(fig)


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


def _default_metrics(available: Iterable[str]) -> list[str]:
    """The first six headline KPIs present (else the first six metrics)."""
    available = list(available)
    chosen = [k.name for k in headline_kpis() if k.name in available]
    return chosen[:6] if chosen else available[:6]


def _kpi_panel(ax: Axes, rows: pd.DataFrame, variants: list[str], lang: str) -> None:
    rows = rows.set_index("variant").reindex(variants)
    for i, (_, row) in enumerate(rows.iterrows()):
        if not np.isfinite(row["mean"]):
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
    ax.grid(axis="x")
    ax.set_axisbelow(True)
    ax.margins(x=0.15)
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(4))


def _factor_columns(tidy: pd.DataFrame) -> list[str]:
    """Columns besides the tidy keys that are constant within each variant."""
    extra = [c for c in tidy.columns if c not in _TIDY_KEYS]
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
    _need(tidy, _TIDY_KEYS, "tidy results")
    rows = tidy[tidy["metric"] == metric]
    if rows.empty:
        raise ValueError(f"metric {metric!r} is not in the results")
    ranges = []
    for factor in _factor_columns(tidy):
        means = rows.groupby(factor, dropna=False)["value"].mean().dropna()
        if len(means) < 2:
            continue
        ranges.append((factor, means.idxmin(), means.min(), means.idxmax(), means.max()))
    if not ranges:
        raise ValueError("no factor column takes two or more levels; nothing to rank")
    ranges.sort(key=lambda r: r[4] - r[2])
    overall = float(rows["value"].mean())
    metric_text = kpi_label(metric, lang)
    with _style(lang):
        fig = _new_figure((8, 1.4 + 0.5 * len(ranges)))
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
            ax.xaxis.set_major_formatter(_PercentTicks())
        ax.set_xlabel(label("tornado_x", lang, metric=metric_text))
        ax.legend(loc="lower right")
        ax.grid(axis="x")
        ax.set_axisbelow(True)
        ax.set_title(label("tornado_title", lang, metric=metric_text))
        return _finish(fig)


# --------------------------------------------------------------------------- Welch plot


def _as_matrix(series_by_rep: ArrayLike | Sequence[ArrayLike]) -> np.ndarray:
    if isinstance(series_by_rep, pd.DataFrame):
        return series_by_rep.to_numpy(float).T
    try:
        matrix = np.asarray(series_by_rep, dtype=float)
    except ValueError:  # ragged: cut every replication to the shortest
        reps = [np.asarray(s, dtype=float) for s in series_by_rep]
        length = min(len(s) for s in reps)
        matrix = np.vstack([s[:length] for s in reps])
    if matrix.ndim == 1:
        matrix = matrix[np.newaxis, :]
    if matrix.ndim != 2 or matrix.shape[1] < 10:
        raise ValueError("a Welch plot needs replications × at least 10 periods")
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
    from gridsim.analysis.stats import mser5, welch_average

    matrix = _as_matrix(series_by_rep)
    reps, periods = matrix.shape
    w = window if window is not None else max(1, min(periods // 4, round(periods / 50)))
    smooth = welch_average(matrix, w)
    mean = np.nanmean(matrix, axis=0)
    cut = truncation if truncation is not None else mser5(mean)
    days = np.arange(periods) * period_hours / 24.0
    with _style(lang):
        fig = _new_figure((8, 4.2))
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
            label=label("welch_ma", lang, w=_duration_text(w * period_hours, lang)),
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
        return _finish(fig)


# --------------------------------------------------------------------------- directories


def _langs(lang: str) -> tuple[str, ...]:
    return LANGS if lang == "both" else (check_lang(lang),)


def _load_scenario(run_dir: Path):
    """The scenario a run used (None when the run directory has no readable copy)."""
    from gridsim.model.scenario import ScenarioError, load_scenario

    path = run_dir / "scenario.toml"
    if not path.is_file():
        return None
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        log.warning("%s: names left as keys, no targets (%s)", path, exc)
        return None


def _write(
    makers: dict[str, Callable[[str], Figure]], langs: Sequence[str], out: Path
) -> list[Path]:
    written = []
    for lang in langs:
        for name, make in makers.items():
            try:
                fig = make(lang)
            except ValueError as exc:  # data the run does not have, e.g. no resolved orders
                log.warning("figure %s skipped: %s", name, exc)
                continue
            written.append(save_figure(fig, out / f"{name}_{lang}.png"))
            fig.clear()
    return written


def run_figures(
    run_dir: str | os.PathLike[str], lang: str = "both", out: str | os.PathLike[str] | None = None
) -> list[Path]:
    """Draw every single-run figure from a saved run directory.

    Files are ``<out>/<name>_<lang>.png`` for ``hierarchy``, ``escalation_flow``,
    ``backlog``, ``response_ecdf``, ``resolved_where``, ``utilisation``, ``ranking`` and
    ``warmup`` (a Welch plot of the hourly backlog). A figure whose data the run lacks
    (say, no resolved order yet) is skipped with a logged warning.

    Args:
        run_dir: a directory written by :func:`gridsim.output.run_dir.save_run`.
        lang: ``"zh"``, ``"en"`` or ``"both"``.
        out: where to write (default ``run_dir/figures``).

    Returns:
        The files written.

    Example:
        >>> run_figures("no/such/run")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no/such/run: not a gridsim run directory (no run.json)
    """
    from gridsim.output.run_dir import load_run

    run_dir = Path(run_dir)
    langs = _langs(lang)
    run = load_run(run_dir)
    scenario = _load_scenario(run_dir)
    names = Names.from_scenario(scenario) if scenario is not None else Names()
    role = scenario.incentives.ranking_role if scenario is not None else "grid_worker"
    if role not in set(run.staff["role"]) and not run.staff.empty:
        role = str(run.staff["role"].mode().iloc[0])
    targets = scenario.targets if scenario is not None else None
    grid_target = targets.share_resolved_in_grid if targets else None
    town_target = targets.share_resolved_in_town if targets else None
    backlog_hours = float(np.median(np.diff(run.backlog["time"]))) if len(run.backlog) > 1 else 1.0
    makers: dict[str, Callable[[str], Figure]] = {
        "hierarchy": lambda lg: hierarchy_figure(run.units, run.orders, lg, scenario=names),
        "escalation_flow": lambda lg: escalation_flow_figure(run.orders, lg, scenario=names),
        "backlog": lambda lg: backlog_figure(run.backlog, lg),
        "response_ecdf": lambda lg: response_ecdf_figure(run.orders, lg, scenario=names),
        "resolved_where": lambda lg: resolved_where_figure(
            run.orders, lg, grid_target=grid_target, town_target=town_target
        ),
        "utilisation": lambda lg: utilisation_heatmap(run.staff, run.units, lg, scenario=names),
        "ranking": lambda lg: ranking_figure(
            run.staff, lg, role=role, units=run.units, scenario=names
        ),
        "warmup": lambda lg: welch_figure(
            run.backlog["open"].to_numpy(float),
            lg,
            period_hours=backlog_hours,
            ylabel=label("backlog_y", lg),
        ),
    }
    return _write(makers, langs, Path(out) if out else run_dir / "figures")


def _sweep_manifest(results_dir: Path) -> dict:
    """The experiment's ``manifest.json`` (``{}`` when missing or unreadable)."""
    path = results_dir / "manifest.json"
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError, UserError) as exc:
        log.warning("%s: variant names left as keys (%s)", path, exc)
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _sweep_summary(results_dir: Path, tidy: pd.DataFrame) -> pd.DataFrame:
    for name, reader in (("summary.parquet", pd.read_parquet), ("summary.csv", pd.read_csv)):
        if (results_dir / name).is_file():
            return reader(results_dir / name)
    from gridsim.analysis.stats import summarise

    return summarise(tidy[[*_TIDY_KEYS, *_factor_columns(tidy)]])


def sweep_figures(
    results_dir: str | os.PathLike[str],
    lang: str = "both",
    out: str | os.PathLike[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> list[Path]:
    """Draw the sweep figures from an experiment results directory.

    Reads ``tidy.parquet`` (and ``summary.parquet`` or ``summary.csv`` if present, else
    summarises with :func:`gridsim.analysis.stats.summarise`) and the variants' display names from
    ``manifest.json`` (``name_zh`` in Chinese; the key when absent), and writes
    ``kpi_comparison_<lang>.png``, ``tornado_<metric>_<lang>.png`` for up to three
    metrics when the table has factor columns with two or more levels, and
    ``warmup_<lang>.png`` (a Welch plot) when the experiment kept its pilot backlog
    (``warmup.parquet`` and ``warmup.json``).

    Args:
        results_dir: the experiment's results directory.
        lang: ``"zh"``, ``"en"`` or ``"both"``.
        out: where to write (default ``results_dir/figures``).
        metrics: metrics to compare (None: the usual KPIs present).

    Returns:
        The files written.

    Example:
        >>> sweep_figures("no/such/sweep")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no/such/sweep: not a sweep results directory (no tidy.parquet)
    """
    results_dir = Path(results_dir)
    langs = _langs(lang)
    path = results_dir / "tidy.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{results_dir}: not a sweep results directory (no tidy.parquet)")
    tidy = pd.read_parquet(path)
    summary = _sweep_summary(results_dir, tidy)
    chosen = list(metrics) if metrics else _default_metrics(summary["metric"].unique())
    manifest = _sweep_manifest(results_dir)
    makers: dict[str, Callable[[str], Figure]] = {
        "kpi_comparison": lambda lg: kpi_comparison_figure(
            summary, chosen, lg, names=variant_labels(manifest, lg)
        )
    }
    if any(tidy[c].nunique() > 1 for c in _factor_columns(tidy)):
        for metric in chosen[:3]:
            makers[f"tornado_{metric}"] = lambda lg, m=metric: tornado_figure(tidy, m, lg)
    warmup = _sweep_warmup(results_dir)
    if warmup is not None:
        matrix, cut, window = warmup
        makers["warmup"] = lambda lg: welch_figure(
            matrix,
            lg,
            truncation=cut,
            window=window,
            period_hours=24.0,
            ylabel=label("backlog_y", lg),
        )
    return _write(makers, langs, Path(out) if out else results_dir / "figures")


def _sweep_warmup(results_dir: Path) -> tuple[np.ndarray, int | None, int | None] | None:
    """Read the pilot backlog (``warmup.parquet``: replication, day, backlog) if present."""
    path = results_dir / "warmup.parquet"
    if not path.is_file():
        return None
    long = pd.read_parquet(path)
    if not {"replication", "day", "backlog"} <= set(long.columns) or long["day"].nunique() < 10:
        return None
    matrix = long.pivot(index="replication", columns="day", values="backlog").to_numpy(float)
    info_path = results_dir / "warmup.json"
    info = json.loads(info_path.read_text("utf-8")) if info_path.is_file() else {}
    days, window = info.get("warmup_days"), info.get("welch_window")
    cut = int(round(days)) if days is not None else None
    if window is not None and not 0 <= int(window) < matrix.shape[1]:
        window = None
    return matrix, cut, int(window) if window is not None else None


# --------------------------------------------------------------------------- CLI


def _plot_command(args: argparse.Namespace) -> int:
    """``gridsim plot RESULTS``: redraw the figures of a run or a sweep directory."""
    path = Path(args.results)
    try:
        if (path / "run.json").is_file():
            written = run_figures(path, args.lang, args.out)
        elif (path / "tidy.parquet").is_file():
            written = sweep_figures(path, args.lang, args.out)
        else:
            print(
                f"gridsim plot: {path}: expected a run directory (with run.json) or a "
                "sweep results directory (with tidy.parquet)",
                file=sys.stderr,
            )
            return 2
    except FontNotFoundError as exc:
        print(f"gridsim plot: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError, UserError) as exc:
        print(f"gridsim plot: {path}: {exc}", file=sys.stderr)
        return 2
    for file in written:
        print(file)
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``plot RESULTS [--lang zh|en|both] [--out DIR]`` to a CLI's sub-parsers.

    The sub-command redraws the figures of a run directory (``run.json``) or a sweep
    results directory (``tidy.parquet``) without rerunning anything; ``args.func(args)``
    returns the exit code (2 for a missing or unrecognised directory).

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser(prog="gridsim")
        >>> _ = register(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["plot", "results/run1", "--lang", "en"])
        >>> args.lang, args.func.__name__
        ('en', '_plot_command')
    """
    parser = subparsers.add_parser(
        "plot",
        help="redraw the figures of a run or sweep directory",
        description="Redraw the figures of a run directory (run.json) or a sweep results "
        "directory (tidy.parquet) without rerunning the simulation.",
    )
    parser.add_argument("results", metavar="RESULTS", help="run or sweep results directory")
    parser.add_argument(
        "--lang",
        choices=[*LANGS, "both"],
        default="both",
        help="language of the figures (default: both)",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="where to write the figures (default: RESULTS/figures)",
    )
    parser.set_defaults(func=_plot_command)
    return parser
