"""KPIs by group: channel, level, category, role, externality class, town, age group.

Like ``gridsim.model.kpis``, these read only a run's tables, so a loaded run directory
gets the same breakdowns as a fresh run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridsim.model.kpis import Rows
from gridsim.model.records import RunResult
from gridsim.model.vocabulary import LEVELS


def ten_best(staff: pd.DataFrame, role: str, n: int = 10) -> pd.DataFrame:
    """The yearly ranking (十佳网格员): the ``n`` staff of a role with the most points."""
    st = staff[staff["role"] == role].copy()
    st["on_time_rate"] = st["on_time"] / st["orders_resolved"].where(st["orders_resolved"] > 0)
    st["satisfaction_rate"] = st["satisfied"] / st["feedback"].where(st["feedback"] > 0)
    cols = ["staff", "role", "unit", "town", "points", "orders_handled", "orders_resolved",
            "on_time_rate", "satisfaction_rate", "proactive_finds"]  # fmt: skip
    best = st.sort_values(["points", "staff"], ascending=[False, True], kind="stable").head(n)
    return best[cols].reset_index(drop=True)


def breakdowns(result: RunResult, ranking_role: str = "grid_worker") -> dict[str, pd.DataFrame]:
    """KPI tables by group: channel, level, category, role, externality class, town, age group.

    Also ``ten_best``: the yearly ranking of ``ranking_role`` by points.

    Example:
        >>> import gridsim
        >>> r = gridsim.simulate(gridsim.load_scenario("scenarios/one_town.toml"), seed=1, days=5)
        >>> tables = breakdowns(r)
        >>> list(tables["level"].columns[:2]), len(tables["ten_best"]) <= 10
        (['resolved_level', 'orders'], True)
    """
    o = _order_values(result)
    out = {key: _aggregate(o, key) for key in ("channel", "category", "externality", "town_name")}
    # Grouped by the flag, then named: a string key column would cost a string per order.
    by_phone = _aggregate(o, "no_smartphone").iloc[::-1]  # "no_smartphone" sorts first
    by_phone.insert(0, "age_group", ["no_smartphone" if k else "smartphone"
                                     for k in by_phone.pop("no_smartphone")])  # fmt: skip
    out["age_group"] = by_phone.reset_index(drop=True)
    st = result.staff
    role = st.groupby(["role", "level"], observed=True).agg(
        staff=("staff", "size"),
        busy_hours=("busy_hours", "sum"),
        used_hours=("used_hours", "sum"),
        available_hours=("available_hours", "sum"),
        orders_handled=("orders_handled", "sum"),
        points=("points", "sum"),
    )
    role["utilisation"] = role["used_hours"] / role["available_hours"].where(
        role["available_hours"] > 0
    )
    out["role"] = role.reset_index()
    i = result.issues
    inc = i.groupby("incident_type").size().rename("incidents").reset_index()
    out["incident_type"] = inc[inc["incident_type"] != ""]
    level = _aggregate(o[o["resolved_level"] >= 0], "resolved_level")
    level["level"] = [LEVELS[k] for k in level["resolved_level"]]
    out["level"] = level
    out["ten_best"] = ten_best(st, ranking_role)
    return out


def _order_values(result: RunResult) -> pd.DataFrame:
    """The orders after the warm-up: only the group keys and the values the KPIs aggregate.

    Built column by column from the rows that pass the warm-up, rather than by copying every
    column of the orders table and adding to it.
    """
    orders = result.orders
    keep = orders["created"].to_numpy() >= result.warmup_hours
    rows = Rows(orders, keep)
    created, resolved = rows["created"], rows["resolved"]
    columns = {key: orders[key].array[keep] for key in ("channel", "category", "externality",
                                                       "town_name")}  # fmt: skip
    columns.update(
        order=rows["order"],
        resolved_level=rows["resolved_level"],
        resolution_h=resolved - created,
        response_h=rows["first_response"] - created,
        report_delay_h=np.where(rows["duplicate"], np.nan, created - rows["arose"]),
        is_resolved=(~np.isnan(resolved)).astype(float),
        was_escalated=(rows["escalations"] > 0).astype(float),
        on_time=rows["on_time"],
        satisfied=rows["satisfied"],
        # The household's own smartphone status, whoever noticed the issue (a visit's find too).
        no_smartphone=rows["no_smartphone"].astype(bool),
    )
    return pd.DataFrame(columns)


#: The KPIs by group: name → (column, aggregation), in the order of the tables' columns.
AGGREGATES: dict[str, tuple[str, str]] = {
    "orders": ("order", "size"),
    "report_delay_mean_h": ("report_delay_h", "mean"),
    "resolved_rate": ("is_resolved", "mean"),
    "response_time_mean_h": ("response_h", "mean"),
    "resolution_time_mean_h": ("resolution_h", "mean"),
    "resolution_time_median_h": ("resolution_h", "median"),
    "on_time_rate": ("on_time", "mean"),
    "satisfaction_rate": ("satisfied", "mean"),
    "escalation_rate": ("was_escalated", "mean"),
}


def _aggregate(o: pd.DataFrame, key: str) -> pd.DataFrame:
    """The KPIs of :data:`AGGREGATES` per value of ``key``, one row per group.

    All the means in one pass over the grouped columns (the same sums, column by column, as
    one ``agg`` per KPI would make), then the counts and the medians.
    """
    groups = o.groupby(key, observed=True)
    means = [(name, col) for name, (col, how) in AGGREGATES.items() if how == "mean"]
    mean = groups[list(dict.fromkeys(col for _, col in means))].mean()
    table = pd.DataFrame(index=mean.index)
    for name, (col, how) in AGGREGATES.items():
        if how == "size":
            table[name] = groups.size()
        elif how == "median":
            table[name] = groups[col].median()
        else:
            table[name] = mean[col]
    return table.reset_index()
