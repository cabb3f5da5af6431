"""Figures over time: the backlog of open orders and the time to first response by channel.

Time unit: hours in the tables; axes show hours or days as labelled.

Example:
    >>> import pandas as pd
    >>> backlog = pd.DataFrame({"time": [0.0, 1.0, 2.0], "open": [0, 3, 2]})
    >>> fig = backlog_figure(backlog, "en")
    >>> fig.axes[0].get_ylabel()
    'Open work orders'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator, PercentFormatter

from gridsim.output.i18n import Names, label
from gridsim.output.style import (
    PALETTE,
    FigureDataError,
    channel_colours,
    channel_order,
    duration_text,
    figure_style,
    finish,
    need_columns,
    new_figure,
    scenario_names,
)

if TYPE_CHECKING:
    from gridsim.model.scenario import Scenario

__all__ = ["backlog_figure", "response_ecdf_figure"]


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
        raise FigureDataError("no backlog samples to draw")
    for t in tables:
        need_columns(t, ("time", "open"), "backlog")
    grid = np.asarray(max(tables, key=len)["time"], dtype=float)
    values = np.vstack(
        [np.interp(grid, t["time"].to_numpy(float), t["open"].to_numpy(float)) for t in tables]
    )
    days = grid / 24.0
    with figure_style(lang):
        fig = new_figure((8, 4.2))
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
        return finish(fig)


# --------------------------------------------------------------------------- response ECDF

_DURATION_TICKS_H = (0.25, 1, 4, 24, 72, 168, 336, 720, 2160, 4320)


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
    need_columns(orders, ("channel", "created", "first_response"), "orders")
    if orders.empty:
        raise FigureDataError("no work orders to draw")
    names = scenario_names(scenario)
    wait = (orders["first_response"] - orders["created"]).clip(lower=floor_hours)
    channel = orders["channel"].astype(str)
    counts = channel.value_counts()
    channels = channel_order(channel, counts)
    colours = channel_colours(channels)
    top = float(np.nanmax(wait.to_numpy(float))) if wait.notna().any() else 24.0
    with figure_style(lang):
        fig = new_figure((8, 4.6))
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
            FuncFormatter(lambda v, _: duration_text(v, lang, floor=floor_hours))
        )
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.grid(True)
        ax.set_xlabel(label("ecdf_x", lang))
        ax.set_ylabel(label("ecdf_y", lang))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.set_title(label("ecdf_title", lang))
        return finish(fig)
