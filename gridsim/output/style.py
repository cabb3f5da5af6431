"""The one style of every gridsim figure, and the helpers the figure modules share.

Okabe–Ito colour-blind-safe palette, the cividis colour map, 150 dpi, constrained layout.
Figures are made with :func:`new_figure` (outside pyplot's registry, so drawing hundreds
of figures leaks nothing), drawn inside :func:`figure_style` and written by
:func:`save_figure`, atomically.

Example:
    >>> with figure_style("en"):
    ...     fig = new_figure((2, 2))
    >>> fig.dpi
    150
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.rcsetup import cycler
from matplotlib.typing import RcKeyType

from gridsim.files import atomic_write
from gridsim.model.vocabulary import COUNTY, GRID, MICROGRID, NO_LEVEL, TOWN
from gridsim.output.fonts import setup_fonts
from gridsim.output.i18n import Names, check_lang, label

if TYPE_CHECKING:
    from gridsim.model.scenario import Scenario

__all__ = [
    "FigureDataError",
    "CHANNEL_ORDER",
    "CMAP",
    "DPI",
    "LEVEL_CODES",
    "LEVEL_COLOURS",
    "PALETTE",
    "STYLE",
    "save_figure",
]


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
    MICROGRID: "#C9C7E4",
    GRID: "#9E9AC8",
    TOWN: "#756BB1",
    COUNTY: "#4A1C86",
    NO_LEVEL: "#BBBBBB",
}

#: The level codes, bottom up (see :data:`gridsim.model.vocabulary.LEVELS`).
LEVEL_CODES: tuple[int, ...] = (MICROGRID, GRID, TOWN, COUNTY)

#: Colour map for continuous values (perceptually uniform, readable with colour blindness).
CMAP = "cividis"

#: The rc settings every figure is drawn and saved with.
STYLE: dict[RcKeyType, Any] = {
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
    "axes.prop_cycle": cycler(color=PALETTE),
    "axes.grid": False,
    "grid.color": "#DDDDDD",
    "grid.linewidth": 0.6,
    "image.cmap": CMAP,
    "figure.titlesize": 11,
    "figure.titleweight": "normal",
}

#: The usual order of entry channels in figures; others follow by volume.
CHANNEL_ORDER: tuple[str, ...] = ("app", "hotline", "walk_in", "petition", "visit", "reopen")


# --------------------------------------------------------------------------- style


class FigureDataError(ValueError):
    """The tables lack what a figure needs (no resolved order yet, a missing column ...).

    Directory redraws skip such a figure with a warning; any other error is a bug and
    propagates.
    """


@contextmanager
def figure_style(lang: str) -> Iterator[None]:
    """Fonts for ``lang`` plus the figure style, for drawing and for saving."""
    check_lang(lang)
    setup_fonts(lang)
    with mpl.rc_context(STYLE):
        yield


def new_figure(figsize: tuple[float, float]) -> Figure:
    """Make a figure outside pyplot's registry (no leaks), constrained layout, 150 dpi."""
    return Figure(figsize=figsize, dpi=DPI, layout="constrained")


def finish(fig: Figure) -> Figure:
    """Lay the figure out and build its ticks inside the style context."""
    fig.draw_without_rendering()
    return fig


def scenario_names(scenario: Scenario | Names | None) -> Names:
    """The display names a figure uses: given, read from a scenario, or the built-in ones."""
    if isinstance(scenario, Names):
        return scenario
    return Names.from_scenario(scenario)


def percent(value: float, lang: str = "en") -> str:
    """Format a share as a percentage ("37 %" in English, "37%" in Chinese)."""
    if not np.isfinite(value):
        return "–"
    return f"{100 * value:.0f}%" if lang == "zh" else f"{100 * value:.0f} %"


class PercentTicks(mpl.ticker.Formatter):
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


def text_colour(colour: Any) -> str:
    """Pick black or white, whichever reads better on ``colour``."""
    r, g, b, _ = mpl.colors.to_rgba(colour)
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.55 else "black"


def note_in_row(ax: Any, y: float, text: str) -> None:
    """Write ``text`` (e.g. "undefined") in the middle of row ``y``, where no point can go."""
    ax.text(0.5, y, text, transform=ax.get_yaxis_transform(), ha="center", va="center",
            fontsize=7.5, color="#555555")  # fmt: skip


def need_columns(table: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`FigureDataError` naming the ``columns`` that ``table`` lacks."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise FigureDataError(f"{what} lacks column(s) {', '.join(missing)}")


def channel_order(channels: Iterable[str], counts: pd.Series) -> list[str]:
    """Order channels: the usual ones in their usual order, then others by volume."""
    present = list(dict.fromkeys(channels))
    known = [c for c in CHANNEL_ORDER if c in present]
    rest = sorted((c for c in present if c not in CHANNEL_ORDER), key=lambda c: -counts.get(c, 0))
    return known + rest


def channel_colours(channels: Sequence[str]) -> dict[str, str]:
    """One colour per channel: the usual channels keep theirs, others take spare ones."""
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
        >>> import tempfile
        >>> with figure_style("en"):
        ...     fig = new_figure((2, 2))
        ...     _ = fig.add_subplot().plot([0, 1], [1, 2])
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


def duration_text(hours: float, lang: str, floor: float | None = None) -> str:
    """A duration in the unit that reads best (min, h, d); ``floor`` is shown as "≤ floor".

    Example:
        >>> duration_text(0.5, "en"), duration_text(36, "zh")
        ('30 min', '1.5天')
    """
    if floor is not None and abs(hours - floor) < 1e-9:
        return "≤" + duration_text(hours, lang)
    if hours < 1:
        return label("unit_min", lang, v=f"{round(hours * 60, 1):g}")
    if hours < 24:
        return label("unit_hour", lang, v=f"{round(hours, 1):g}")
    return label("unit_day", lang, v=f"{round(hours / 24, 1):g}")
