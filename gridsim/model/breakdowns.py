"""KPIs by group: channel, level, category, role, externality class, town, age group.

Like ``gridsim.model.kpis``, these read only a run's tables, so a loaded run directory
gets the same breakdowns as a fresh run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
    o = result.orders[result.orders["created"] >= result.warmup_hours].copy()
    o["resolution_h"] = o["resolved"] - o["created"]
    o["response_h"] = o["first_response"] - o["created"]
    o["report_delay_h"] = (o["created"] - o["arose"]).where(~o["duplicate"])
    o["is_resolved"] = o["resolved"].notna().astype(float)
    o["was_escalated"] = (o["escalations"] > 0).astype(float)
    agg = {
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
    out = {}
    for group in ("channel", "category", "externality", "town_name"):
        out[group] = o.groupby(group, observed=True).agg(**agg).reset_index()
    # The household's own smartphone status, whoever noticed the issue (a visit's find too).
    o["age_group"] = np.where(o["no_smartphone"].to_numpy(dtype=bool), "no_smartphone",
                              "smartphone")  # fmt: skip
    out["age_group"] = o.groupby("age_group").agg(**agg).reset_index()
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
    level = o[o["resolved_level"] >= 0].groupby("resolved_level").agg(**agg).reset_index()
    level["level"] = [LEVELS[k] for k in level["resolved_level"]]
    out["level"] = level
    out["ten_best"] = ten_best(st, ranking_role)
    return out
