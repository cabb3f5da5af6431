"""Staff figures: utilisation by role and town (a heat map) and the points ranking."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from gridsim.output.i18n import Names, label, short
from gridsim.output.style import (
    CMAP,
    PALETTE,
    FigureDataError,
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

__all__ = ["ranking_figure", "utilisation_heatmap"]


# --------------------------------------------------------------------------- utilisation


def utilisation_heatmap(
    staff: pd.DataFrame,
    units: pd.DataFrame | None,
    lang: str,
    scenario: Scenario | Names | None = None,
    no_orders: Iterable[str] | None = None,
) -> Figure:
    """Staff utilisation (hours used ÷ hours budget) by town (rows) and role (columns).

    Each cell pools the hours of every staff member of that role in that town; county-level
    staff (town -1) form the last row. Roles run from the micro-grid up to the county. Hours
    used are order work plus other tasks, visits, contacts and help (``used_hours``; a run
    saved before that column existed shows order work, ``busy_hours``), so a role that takes
    no work orders (a building leader, a volunteer) shows the hours its other duties use and
    is marked ``*`` with a note, rather than looking idle.

    Args:
        staff: the ``staff`` table (``role``, ``level``, ``town``, ``available_hours`` and
            ``used_hours`` or ``busy_hours``).
        units: the ``units`` table, for town names when no scenario is given (may be None).
        lang: ``"zh"`` or ``"en"``.
        scenario: the scenario (or its names) for town and role names.
        no_orders: the roles that take no work orders; by default those whose duties lack
            ``resolve`` when a scenario is given, else those whose members worked on no order.

    Returns:
        The figure.

    Example:
        >>> import pandas as pd
        >>> staff = pd.DataFrame({"role": ["grid_worker", "town_officer"], "level": [1, 2],
        ...     "town": [0, 0], "used_hours": [50.0, 20.0], "available_hours": [100.0, 80.0]})
        >>> float(utilisation_heatmap(staff, None, "en").axes[0].images[0].get_array()[0, 0])
        0.5
    """
    used = "used_hours" if "used_hours" in staff.columns else "busy_hours"
    need_columns(staff, ("role", "level", "town", used, "available_hours"), "staff")
    if staff.empty:
        raise FigureDataError("no staff to draw")
    names = scenario_names(scenario)
    staff = staff.assign(role=staff["role"].astype(str))
    sums = staff.groupby(["town", "role"])[[used, "available_hours"]].sum()
    ratio = sums[used] / sums["available_hours"].where(sums["available_hours"] > 0)
    matrix = ratio.unstack("role")
    roles = staff.groupby("role")["level"].mean().sort_values(kind="stable").index.tolist()
    towns = sorted(t for t in matrix.index if t >= 0) + [t for t in matrix.index if t < 0]
    matrix = matrix.reindex(index=towns, columns=roles)
    town_names = _town_names(units)
    values = matrix.to_numpy(float)
    vmax = max(1.0, float(np.nanmax(values))) if np.isfinite(values).any() else 1.0
    idle = _roles_without_orders(staff, scenario, no_orders)
    with figure_style(lang):
        fig = new_figure((min(2.6 + 0.78 * len(roles), 14), min(2.1 + 0.34 * len(towns), 12)))
        ax = fig.add_subplot()
        cmap = mpl.colormaps[CMAP].with_extremes(bad="#F2F2F2")
        image = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap=cmap, vmin=0, vmax=vmax)
        _annotate_cells(ax, values, image)
        limit = 12 if lang == "zh" else 24
        ax.set_xticks(
            range(len(roles)),
            [short(names.role(r, lang), limit) + ("*" if r in idle else "") for r in roles],
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
        ax.set_title(label("util_title_used" if used == "used_hours" else "util_title", lang))
        if any(r in idle for r in roles):
            fig.supxlabel(label("util_no_orders", lang), fontsize=7.5, color="#444444")
        return finish(fig)


def _roles_without_orders(
    staff: pd.DataFrame, scenario: Scenario | Names | None, given: Iterable[str] | None
) -> set[str]:
    """Roles that take no work orders: given, from the scenario's duties, or from the table."""
    if given is not None:
        return set(given)
    roles = getattr(scenario, "roles", None)
    if roles is not None and not isinstance(scenario, Names):
        return {name for name, role in roles.items() if "resolve" not in role.duties}
    worked = [c for c in ("busy_hours", "orders_handled") if c in staff.columns]
    if not worked:
        return set()
    totals = staff.groupby("role")[worked].sum()
    return {str(r) for r, row in totals.iterrows() if not (row > 0).any()}


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
            color=text_colour(cmap(norm(v))),
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
    need_columns(
        staff,
        ("staff", "role", "town", "points", "orders_handled", "orders_resolved", "on_time"),
        "staff",
    )
    pool = staff[staff["role"].astype(str) == role]
    if pool.empty:
        raise FigureDataError(f"no staff with role {role!r} to rank")
    names = scenario_names(scenario)
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
    with figure_style(lang):
        fig = new_figure((8, 1.2 + 0.38 * len(top)))
        ax = fig.add_subplot()
        ax.barh(range(len(top)), points, color=PALETTE[0], height=0.65)
        ax.set_yticks(range(len(top)), ylabels)
        span = max(points.max(), 1.0)
        for i, row in enumerate(top.itertuples()):
            rate = row.on_time / row.orders_resolved if row.orders_resolved else float("nan")
            note = label(
                "rank_note", lang, orders=int(row.orders_handled), rate=percent(rate, lang)
            )
            ax.text(row.points + span * 0.01, i, note, va="center", fontsize=7.5, color="#333333")
        ax.set_xlim(0, span * 1.45)
        ax.set_xlabel(label("rank_x", lang))
        ax.grid(axis="x")
        ax.set_axisbelow(True)
        ax.set_title(label("rank_title", lang, n=len(top), role=names.role(role, lang)))
        return finish(fig)
