"""The claims figure: a forest plot of every claim's relative effect with its interval.

One row per claim (its words in the figure's language, and its KPI); the point is the
relative effect ``(variant - reference) / |reference mean|``, the bar its raw confidence
interval, coloured by whether the claim holds after Holm's correction. A no-worse claim's
margin is a dashed tick; the right-hand labels say what was expected and the Holm-adjusted
p-value. The table is the one :func:`gridsim.validation.claims.run_claims` returns.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gridsim.labels import CLAIM_LABELS, lookup
from gridsim.output.i18n import check_lang, kpi_label
from gridsim.output.style import (
    PALETTE,
    FigureDataError,
    PercentTicks,
    figure_style,
    finish,
    need_columns,
    new_figure,
    note_in_row,
)
from gridsim.output.wording import undefined_text

__all__ = ["FIGURE_COLUMNS", "claims_figure", "claims_label", "format_p"]

#: The columns of the claims table the figure reads.
FIGURE_COLUMNS: tuple[str, ...] = (
    "claim",
    "text_en",
    "text_zh",
    "kpi",
    "expect",
    "reference_mean",
    "boundary",
    "relative_effect",
    "relative_low",
    "relative_high",
    "p_holm",
    "holds",
)
#: Colours of a claim that holds and of one that does not (Okabe–Ito green, vermilion).
HOLDS_COLOUR, FAILS_COLOUR = PALETTE[2], PALETTE[5]
#: The axis stops at ±CLIP (as a fraction) when some effect lies beyond it.
CLIP = 1.0


def claims_label(key: str, lang: str, **fields: Any) -> str:
    """A string of the claims table in ``lang``, with ``fields`` filled in.

    Example:
        >>> claims_label("summary", "zh", held=3, n=4)
        '4 项主张中 3 项成立。'
    """
    check_lang(lang)
    if key not in CLAIM_LABELS:
        raise KeyError(f"no claims label {key!r}")
    text = lookup(CLAIM_LABELS, key, lang)
    return text.format(**fields) if fields else text


def format_p(p: float) -> str:
    """A p-value for a table: three decimals, ``<0.001`` below, ``n/a`` for NaN.

    Example:
        >>> format_p(0.04321), format_p(1e-6), format_p(float("nan"))
        ('0.043', '<0.001', 'n/a')
    """
    if p is None or not math.isfinite(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _row_label(row: pd.Series, lang: str) -> str:
    text = str(row["text_zh"] if lang == "zh" else row["text_en"])
    width = 18 if lang == "zh" else 38
    return "\n".join([*textwrap.wrap(text, width), kpi_label(str(row["kpi"]), lang)])


def claims_figure(table: pd.DataFrame, lang: str, confidence: float = 0.95) -> Figure:
    r"""Forest plot of the claims: relative effect and raw interval, one row per claim.

    Args:
        table: the claims table (columns :data:`FIGURE_COLUMNS` at least).
        lang: ``"zh"`` or ``"en"``.
        confidence: the level of the raw intervals (for the axis label).

    Returns:
        The figure.

    Raises:
        FigureDataError: the table lacks a column or has no row.

    Example:
        >>> table = pd.DataFrame({"claim": ["a"], "text_en": ["Visits help"],
        ...     "text_zh": ["走访有效"], "kpi": ["unreported_share"], "expect": ["decrease"],
        ...     "reference_mean": [0.2], "boundary": [0.0], "relative_effect": [-0.3],
        ...     "relative_low": [-0.4], "relative_high": [-0.2], "p_holm": [0.01],
        ...     "holds": [True]})
        >>> claims_figure(table, "en").axes[0].get_yticklabels()[0].get_text()
        'Visits help\nUnreported share'
    """
    need_columns(table, FIGURE_COLUMNS, "claims table")
    if table.empty:
        raise FigureDataError("the claims table has no claim")
    rows = table.reset_index(drop=True)
    n = len(rows)
    height = 1.5 + 0.72 * n
    with figure_style(lang):
        fig = new_figure((8.6, height))
        ax = fig.add_subplot()
        ax.axvline(0.0, color="#444444", lw=0.9, zorder=1)
        has_margin = False
        # A relative effect against a reference near 0 (a gap that closes) can be -1,000 %:
        # drawn to scale it would flatten every other claim, so the axis stops at ±CLIP.
        clip = CLIP if _beyond(rows, CLIP) else math.inf
        for y, (_, row) in enumerate(rows.iterrows()):
            has_margin |= _draw_row(ax, row, y, lang, clip)
        ys = list(range(n))
        ax.set_yticks(ys, [_row_label(r, lang) for _, r in rows.iterrows()])
        ax.set_ylim(n - 0.5, -0.5)
        right = ax.twinx()
        right.set_ylim(n - 0.5, -0.5)
        right.set_yticks(ys, [_verdict(r, lang) for _, r in rows.iterrows()])
        right.tick_params(axis="y", length=0)
        for spine in right.spines.values():
            spine.set_visible(False)
        ax.xaxis.set_major_formatter(PercentTicks())
        ax.margins(x=0.12)
        xlabel = claims_label("x", lang, conf=f"{100 * confidence:g}")
        if math.isfinite(clip):
            ax.set_xlim(-clip * 1.3, clip * 1.3)
            xlabel += "\n" + claims_label("clipped", lang, limit=f"{100 * clip:g}")
        ax.grid(axis="x")
        ax.set_axisbelow(True)
        ax.set_xlabel(xlabel)
        handles = [
            Line2D(
                [], [], color=HOLDS_COLOUR, marker="o", lw=1.4, label=claims_label("holds", lang)
            ),
            Line2D(
                [], [], color=FAILS_COLOUR, marker="D", lw=1.4, label=claims_label("fails", lang)
            ),
        ]
        if has_margin:
            handles.append(
                Line2D([], [], color="#555555", ls="--", lw=1.2, label=claims_label("margin", lang))
            )
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
        fig.suptitle(claims_label("title", lang))
        return finish(fig)


def _beyond(rows: pd.DataFrame, clip: float) -> bool:
    """Whether any finite effect or interval end lies beyond ±clip."""
    values = rows[["relative_effect", "relative_low", "relative_high"]].to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    return bool((np.abs(finite) > clip).any())


def _draw_row(ax: Any, row: pd.Series, y: int, lang: str, clip: float = math.inf) -> bool:
    """Draw one claim's point and interval (or "undefined"); True if it drew a margin."""
    effect, low, high = (
        float(row[c]) for c in ("relative_effect", "relative_low", "relative_high")
    )
    if math.isfinite(effect) and abs(effect) > clip:
        # Beyond the axis: an arrow at the edge and the value written beside it.
        edge = math.copysign(clip * 1.2, effect)
        colour = HOLDS_COLOUR if bool(row["holds"]) else FAILS_COLOUR
        ax.plot(edge, y, "<" if effect < 0 else ">", color=colour, ms=7)
        ax.text(edge - math.copysign(clip * 0.06, effect), y, f"{100 * effect:+,.0f} %",
                ha="left" if effect < 0 else "right", va="center", fontsize=7.5,
                color=colour)  # fmt: skip
        return False
    low, high = max(low, -clip * 1.2), min(high, clip * 1.2)
    holds = bool(row["holds"])
    colour = HOLDS_COLOUR if holds else FAILS_COLOUR
    if not math.isfinite(effect):
        note_in_row(ax, y, undefined_text("undefined", lang))
        return False
    marker = "o" if holds else "D"
    if math.isfinite(low) and math.isfinite(high):
        err = np.array([[effect - low], [high - effect]])
        ax.errorbar(effect, y, xerr=err, fmt=marker, color=colour, capsize=3, ms=5, lw=1.6)
    else:  # one replication pair: no interval to draw
        ax.plot(effect, y, marker, color=colour, ms=5)
    ref = abs(float(row["reference_mean"]))
    if row["expect"] == "no_worse" and ref > 0 and math.isfinite(ref):
        margin = float(row["boundary"]) / ref
        ax.plot([margin, margin], [y - 0.32, y + 0.32], color="#555555", ls="--", lw=1.2)
        return True
    return False


def _verdict(row: pd.Series, lang: str) -> str:
    """The right-hand label: ✓/✗, what was expected, and the Holm-adjusted p-value."""
    mark = "✓" if bool(row["holds"]) else "×"  # the CJK font has no ✗ (U+2717)
    expect = claims_label(f"expect_{row['expect']}", lang)
    p = float(row["p_holm"])
    shown = format_p(p) if math.isfinite(p) else undefined_text("undefined", lang)
    return f"{mark} {expect}\n{claims_label('p_holm', lang, p=shown)}"
