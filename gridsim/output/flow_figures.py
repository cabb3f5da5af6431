"""Where issues and work orders go: who notices an issue, where an order is resolved.

:func:`escalation_flow_figure` draws the flow of orders as bands; :func:`resolved_where_figure`
the share resolved at each level against the targets ("小事不出网格，大事不出镇街"), marked as
illustrative unless the scenario names their source; :func:`noticing_figure` who noticed
issues first (a household's report, a visit, a building leader, a linked party member, a
screening, nobody) and what came of it (settled on the spot, a work order, faded unnoticed).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator, PercentFormatter

from gridsim.model.vocabulary import FOUND_BY, GRID, MICROGRID, NO_LEVEL, TOWN
from gridsim.output.i18n import Names, label, level_label, short
from gridsim.output.style import (
    LEVEL_CODES,
    LEVEL_COLOURS,
    PALETTE,
    FigureDataError,
    channel_colours,
    channel_order,
    figure_style,
    finish,
    need_columns,
    new_figure,
    percent,
    scenario_names,
    text_colour,
)

if TYPE_CHECKING:
    from gridsim.model.scenario import Scenario

__all__ = ["escalation_flow_figure", "noticing_figure", "resolved_where_figure"]


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
    need_columns(orders, ("channel", "resolved_level"), "orders")
    if orders.empty:
        raise FigureDataError("no work orders to draw")
    names = scenario_names(scenario)
    channel = orders["channel"].astype(str).rename("channel")
    table = pd.crosstab(channel, orders["resolved_level"].astype(int))
    counts = table.sum(axis=1)
    left = channel_order(table.index, counts)
    right = [lvl for lvl in (*LEVEL_CODES, NO_LEVEL) if lvl in table.columns]
    table = table.reindex(index=left, columns=right, fill_value=0)
    total = int(table.to_numpy().sum())
    colours = channel_colours(left)
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
    with figure_style(lang):
        fig = new_figure((9, 5.6))
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
        return finish(fig)


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
        text = f"{texts[i]}  {int(sizes[k]):,} ({percent(share, lang)})"
        ax.text(x, y, text, ha=ha, va="center")
        if abs(y - centres[i]) > 0.01:
            edge = x + (0.012 if ha == "right" else -0.012)
            ax.plot(
                [edge, edge + (0.01 if ha == "right" else -0.01)],
                [y, centres[i]],
                color="#888888",
                lw=0.6,
            )


# --------------------------------------------------------------------------- resolved where


def resolved_where_figure(
    orders: pd.DataFrame,
    lang: str,
    grid_target: float | None = None,
    town_target: float | None = None,
    target_source: str = "",
) -> Figure:
    """Share of resolved work orders closed at each level, and against the two targets.

    Left: micro-grid, grid, town, county shares of resolved orders. Right: the cumulative
    shares behind "小事不出网格，大事不出镇街" (within the grid = micro-grid + grid; within
    the town = up to the town), each with its target as a dashed line. A target is labelled
    illustrative ("target (illustrative)", "目标（示意）") unless ``target_source`` names
    where it comes from; the source is then shown with it.

    Args:
        orders: the ``orders`` table (``resolved_level``; -1 = still open).
        lang: ``"zh"`` or ``"en"``.
        grid_target: target share resolved within the grid (None to omit); runs take it
            from the scenario's ``[targets]``.
        town_target: target share resolved within the town (None to omit).
        target_source: the targets' source (the scenario's ``targets.source``); empty when
            the targets are illustrative.

    Returns:
        The figure.

    Example:
        >>> import pandas as pd
        >>> orders = pd.DataFrame({"resolved_level": [0, 0, 1, 2, 3, -1]})
        >>> fig = resolved_where_figure(orders, "en")
        >>> [round(float(p.get_height()), 2) for p in fig.axes[0].patches]
        [0.4, 0.2, 0.2, 0.2]
    """
    need_columns(orders, ("resolved_level",), "orders")
    level = orders["resolved_level"].astype(int)
    resolved = level[level >= 0]
    if resolved.empty:
        raise FigureDataError("no resolved work orders to draw")
    shares = resolved.value_counts(normalize=True).reindex(LEVEL_CODES, fill_value=0.0)
    within = [shares[MICROGRID] + shares[GRID], shares[MICROGRID] + shares[GRID] + shares[TOWN]]
    targets = [grid_target, town_target]
    with figure_style(lang):
        fig = new_figure((8, 4.4))
        left, right = fig.subplots(1, 2, sharey=True, width_ratios=[4, 2.4])
        bars = left.bar(
            [level_label(lvl, lang) for lvl in LEVEL_CODES],
            shares.to_numpy(),
            color=[LEVEL_COLOURS[lvl] for lvl in LEVEL_CODES],
            width=0.65,
        )
        _label_bars(left, bars, shares.to_numpy(), lang)
        left.set_title(label("where_by_level", lang), fontsize=9)
        left.set_ylabel(label("where_y", lang))
        names = [label("within_grid", lang), label("within_town", lang)]
        bars = right.bar(names, within, color=[LEVEL_COLOURS[GRID], LEVEL_COLOURS[TOWN]], width=0.6)
        _label_bars(right, bars, np.asarray(within), lang, middle=True)
        for i, target in enumerate(targets):
            if target is None:
                continue
            right.hlines(target, i - 0.4, i + 0.4, colors="#222222", linestyles="--", lw=1.2)
            right.annotate(
                _target_label(target, target_source, lang),
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
        n_open = int((level < 0).sum())  # NO_LEVEL: still open
        note = label("where_note", lang, n=f"{resolved.size:,}", open=f"{n_open:,}")
        if any(target is not None for target in targets):
            note += "\n" + _targets_note(target_source, lang)
        fig.supxlabel(note, fontsize=8, color="#444444")
        return finish(fig)


#: Characters the Latin fallback font cannot draw (an English figure shows no CJK text).
_WIDE = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def _source_text(source: str, lang: str, limit: int) -> str:
    """The targets' source as a figure shows it: one line, shortened, legible in ``lang``."""
    text = " ".join(source.split())
    if lang == "en" and _WIDE.search(text):
        return "targets.source"  # written in Chinese: the Chinese figure shows it
    return short(text, limit)


def _target_label(target: float, source: str, lang: str) -> str:
    """A target line's label: illustrative unless the scenario names the source."""
    v = percent(target, lang)
    if not source.strip():
        return label("target_illustrative", lang, v=v)
    return label("target_sourced", lang, v=v, source=_source_text(source, lang, 24))


def _targets_note(source: str, lang: str) -> str:
    """The footnote on the targets: their source, or that they are illustrative."""
    if not source.strip():
        return label("targets_note_illustrative", lang)
    return label("targets_note_sourced", lang, source=_source_text(source, lang, 90))


def _label_bars(ax: Axes, bars: Any, values: np.ndarray, lang: str, middle: bool = False) -> None:
    """Write each bar's percentage inside it (top or middle), or above it when it is short.

    ``middle`` keeps the labels clear of target lines drawn near the bars' tops.
    """
    for bar, value in zip(bars, values, strict=True):
        inside = value >= 0.12
        y = value / 2 if middle and inside else value
        ax.annotate(
            percent(float(value), lang),
            (bar.get_x() + bar.get_width() / 2, y),
            xytext=(0, 0 if middle else (-3 if inside else 2)),
            textcoords="offset points",
            ha="center",
            va=("center" if middle else "top") if inside else "bottom",
            fontsize=8,
            color=text_colour(bar.get_facecolor()) if inside else "black",
        )


# --------------------------------------------------------------------------- noticing


#: Who noticed issues first, in the order the figure draws them (top to bottom).
FINDERS: tuple[str, ...] = ("report", "visit", "building_leader", "party_member", "screening",
                            "none")  # fmt: skip
#: The segments of a bar: what came of an issue once noticed (or not).
_SEGMENTS: tuple[tuple[str, str], ...] = (
    ("found_on_spot", PALETTE[2]),
    ("found_order", PALETTE[0]),
    ("found_lapsed", "#9A9A9A"),
    ("found_unknown", "#D9D9D9"),
)


def noticing_figure(issues: pd.DataFrame, lang: str) -> Figure:
    """Who noticed issues first, and what came of them (the noticing race).

    One bar per first noticer, as a share of every issue that arose: a household's report,
    a household visit, a building or lane leader, a linked party member, a screening, or
    nobody. A find is settled on the spot or becomes a work order; a report always opens
    an order; an issue nobody noticed faded (the household coped) or is still unknown at
    the horizon.

    Args:
        issues: the ``issues`` table (``found_by``, ``first_known``, ``on_spot``, ``lapsed``).
        lang: ``"zh"`` or ``"en"``.

    Returns:
        The figure.

    Example:
        >>> import pandas as pd
        >>> issues = pd.DataFrame({"found_by": ["report", "visit", "visit", "none"],
        ...     "first_known": [5.0, 2.0, 3.0, float("nan")],
        ...     "on_spot": [False, True, False, False], "lapsed": [False, False, False, True]})
        >>> fig = noticing_figure(issues, "en")
        >>> [round(float(p.get_width()), 2) for p in fig.axes[0].patches if p.get_width() > 0]
        [0.25, 0.25, 0.25, 0.25]
    """
    need_columns(issues, ("found_by", "first_known", "on_spot", "lapsed"), "issues")
    if issues.empty:
        raise FigureDataError("no issues to draw")
    found = issues["found_by"].astype(str).to_numpy()
    known = issues["first_known"].notna().to_numpy()
    spot = issues["on_spot"].to_numpy(dtype=bool)
    lapsed = issues["lapsed"].to_numpy(dtype=bool)
    finders = [f for f in FINDERS if f in FOUND_BY]
    finders += sorted(set(found) - set(finders))  # a code a later model adds
    n = len(issues)
    shares = np.zeros((len(finders), len(_SEGMENTS)))
    for row, who in enumerate(finders):
        mine = found == who
        if who == "none":
            shares[row, 2] = np.sum(mine & lapsed)
            shares[row, 3] = np.sum(mine & ~lapsed)
        else:
            shares[row, 0] = np.sum(mine & spot)
            shares[row, 1] = np.sum(mine & ~spot)
    shares /= n
    ys = np.arange(len(finders))[::-1]  # the first finder on top
    with figure_style(lang):
        fig = new_figure((8, 1.6 + 0.42 * len(finders)))
        ax = fig.add_subplot()
        left = np.zeros(len(finders))
        for k, (key, colour) in enumerate(_SEGMENTS):
            ax.barh(ys, shares[:, k], left=left, color=colour, height=0.62, label=label(key, lang))
            left += shares[:, k]
        for y, total in zip(ys, left, strict=True):
            count = int(round(total * n))
            ax.text(
                total + 0.005, y, f"{count:,} ({percent(total, lang)})", va="center", fontsize=7.5
            )
        names = [label(f"found_by_{w}", lang) if w in FOUND_BY else w for w in finders]
        ax.set_yticks(ys, names)
        upper = float(left.max()) * 1.35 + 0.05  # room for the counts right of the bars
        ax.set_xlim(0, upper)
        ticks = MaxNLocator(6).tick_values(0, min(upper, 1.0))
        ax.set_xticks([x for x in ticks if 0 <= x <= min(upper, 1.0)])
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlabel(label("found_x", lang))
        ax.grid(axis="x")
        ax.set_axisbelow(True)
        ax.legend(loc="best", fontsize=7.5)
        ax.set_title(label("found_title", lang))
        fig.supxlabel(
            label("found_note", lang, n=f"{n:,}", known=f"{int(known.sum()):,}"),
            fontsize=8,
            color="#444444",
        )
        return finish(fig)
