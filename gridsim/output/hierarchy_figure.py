"""The county hierarchy as a treemap: towns, their grids and micro-grids, coloured by a KPI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import PatchCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from gridsim.output.i18n import Names, kpi_label, label, short
from gridsim.output.style import (
    CMAP,
    FigureDataError,
    figure_style,
    finish,
    need_columns,
    new_figure,
    scenario_names,
)

if TYPE_CHECKING:
    from gridsim.model.scenario import Scenario

__all__ = ["hierarchy_figure"]


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
    need_columns(units, ("unit", "kind", "town", "parent", "households"), "units")
    names = scenario_names(scenario)
    n_micro = int((units["kind"] == "microgrid").sum())
    n_grids = int((units["kind"] == "grid").sum())
    if n_grids == 0:
        raise FigureDataError("units has no basic grids (kind == 'grid') to draw")
    micro = 0 < n_micro <= max_microgrid_tiles
    width, height = 1.6, 1.0
    with figure_style(lang):
        fig = new_figure((10, 6.1))
        ax = fig.add_subplot()
        blocks, tiles, tile_rects, grid_rects = _layout_hierarchy(units, micro, width, height)
        key = "microgrid" if micro else "grid"
        values = _tile_kpi(orders, tiles, key, kpi) if len(orders) else np.full(len(tiles), np.nan)
        finite = values[np.isfinite(values)]
        lo, hi = np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0)
        norm = Normalize(vmin=float(lo), vmax=float(hi if hi > lo else lo + 1))
        cmap = mpl.colormaps[CMAP].with_extremes(bad="#E8E8E8")
        tiles_art = PatchCollection(
            [Rectangle((r[0], r[1]), r[2], r[3]) for r in tile_rects],
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
                    [Rectangle((r[0], r[1]), r[2], r[3]) for r in grid_rects],
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
        return finish(fig)


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
