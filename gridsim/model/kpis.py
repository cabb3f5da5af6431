"""Tables in, KPIs out: the scalar KPIs of a run, computed from its tables alone.

:func:`kpis` works on a loaded run directory just as on a fresh run, because it reads only
the :class:`~gridsim.model.records.RunResult` tables. KPIs by group are in
``gridsim.model.breakdowns``.

Time unit: hours. KPIs with ``_h`` are in hours; shares are fractions in [0, 1].
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridsim.analysis.queueing import littles_law_error
from gridsim.model.calendar import HOURS_PER_YEAR
from gridsim.model.records import RunResult
from gridsim.model.vocabulary import GRID, LEVELS, MICROGRID, REOPEN_CHANNEL, TOWN, VISIT_CHANNEL

#: Issues that arose within this many hours of the horizon are left out of the noticing
#: shares, whose window (at most 30 days) they could not complete.
NOTICE_WINDOW_H = 30 * 24.0
#: Who noticed an issue that counts as proactive (未诉先办).
STAFF_FINDS = ("visit", "building_leader", "party_member", "screening")


def littles_law_gap(result: RunResult) -> float:
    """Relative gap between time-average backlog and (order rate × mean time in system).

    Both sides are measured over the whole run with time in system censored at the horizon,
    so the gap is only the discretisation of the hourly backlog series: a bookkeeping check
    that runs on every run (KPI ``littles_law_gap``).
    """
    o = result.orders
    horizon = result.horizon_hours
    if not len(o) or horizon <= 0:
        return float("nan")
    end = o["resolved"].fillna(horizon).clip(upper=horizon)
    sojourn = (end - o["created"]).to_numpy()
    b = result.backlog
    # Trapezoid over the hourly samples: the time-average number of open orders.
    mean_open = float(np.trapezoid(b["open"], b["time"]) / horizon)
    if mean_open <= 0:
        return float("nan")
    return littles_law_error(mean_open, len(o) / horizon, float(sojourn.mean()))


def _share(mask: pd.Series | np.ndarray, of: pd.Series | np.ndarray | None = None) -> float:
    n = len(mask) if of is None else int(np.sum(of))
    return float(np.sum(mask)) / n if n else float("nan")


def _q(values: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q)) if len(values) else float("nan")


def kpis(result: RunResult, population: int, yuan_per_point: float = 0.0) -> dict[str, float]:
    """Scalar KPIs of a run (after the warm-up), by name (see docs/data_model.md).

    Example:
        >>> import gridsim
        >>> r = gridsim.simulate(gridsim.load_scenario("scenarios/one_town.toml"), seed=1, days=5)
        >>> 0 <= r.kpis["on_time_rate"] <= 1
        True
    """
    w = result.warmup_hours
    span_years = (result.horizon_hours - w) / HOURS_PER_YEAR
    a = result.appeals[result.appeals["created"] >= w]
    o = result.orders[result.orders["created"] >= w]
    i = result.issues[result.issues["arose"] >= w]
    done = o[o["resolved"].notna()]
    resolution = (done["resolved"] - done["created"]).to_numpy()
    responded = o[o["first_response"].notna()]
    response = (responded["first_response"] - responded["created"]).to_numpy()
    out: dict[str, float] = {
        "appeals": float(len(a)),
        "orders": float(len(o)),
        "issues": float(len(i)),
        "merged_appeals": float(a["merged"].sum()),
        "merge_ratio": len(a) / len(o) if len(o) else float("nan"),
        "duplicate_orders": float(o["duplicate"].sum()),
        "appeals_per_resident_per_year": len(a) / population / span_years,
        "response_time_mean_h": float(response.mean()) if len(response) else float("nan"),
        "response_time_p90_h": _q(response, 0.9),
        "resolution_time_mean_h": float(resolution.mean()) if len(resolution) else float("nan"),
        "resolution_time_median_h": _q(resolution, 0.5),
        "resolution_time_p90_h": _q(resolution, 0.9),
        "report_resolution_time_mean_h": _report_resolution(done),
        "on_time_rate": float(done["on_time"].mean()) if len(done) else float("nan"),
        "resolved_rate": _share(o["resolved"].notna()),
    }
    settled = o["resolved"].notna() & ~o["brushed_off"] & ~o["declined"]
    out["true_resolution_rate"] = _share(settled)
    out["resolution_gap"] = out["resolved_rate"] - out["true_resolution_rate"]
    out["brush_off_rate"] = _share(o["brushed_off"])
    out["false_closures_found"] = float(o["false_closure_found"].sum())
    out["handoff_hours_per_order"] = float(o["handoff_hours"].mean()) if len(o) else float("nan")
    levels = done["resolved_level"].to_numpy()
    for k, name in enumerate(LEVELS):
        out[f"resolved_share_{name}"] = _share(levels == k)
    out["share_resolved_in_grid"] = _share(levels <= GRID)
    out["share_resolved_in_town"] = _share(levels <= TOWN)
    out["escalation_rate"] = _share(o["escalations"] > 0)
    out["open_at_end"] = float(result.orders["resolved"].isna().sum())
    b = result.backlog[result.backlog["time"] >= w]["open"]
    out["backlog_mean"] = float(b.mean()) if len(b) else float("nan")
    out["backlog_max"] = float(b.max()) if len(b) else float("nan")
    out["littles_law_gap"] = littles_law_gap(result)
    staff = result.staff
    for role, g in staff.groupby("role", observed=True):
        out[f"utilisation_{role}"] = _ratio(g["used_hours"].sum(), g["available_hours"].sum())
    for k, name in enumerate(LEVELS):
        g = staff[staff["level"] == k]
        out[f"utilisation_{name}"] = _ratio(g["used_hours"].sum(), g["available_hours"].sum())
    units = result.units
    out["utilisation_party_member"] = _ratio(
        units["party_hours_used"].sum(), units["party_hours_budget"].sum()
    )
    fb = o["satisfied"].dropna()
    out["satisfaction_rate"] = float(fb.mean()) if len(fb) else float("nan")
    out["reopen_rate"] = _share(a["channel"] == REOPEN_CHANNEL)
    out["proactive_share"] = _share(o["proactive"])
    first = o[~o["duplicate"] & (o["channel"] != REOPEN_CHANNEL)]
    delay = (first["created"] - first["arose"]).to_numpy()
    out["report_delay_mean_h"] = float(delay.mean()) if len(delay) else float("nan")
    out["proactive_time_saved_mean_h"] = _time_saved(o, i, result.horizon_hours)
    out["unreported_issues"] = float(i["first_known"].isna().sum())
    out["unreported_share"] = _share(i["first_known"].isna())
    out["no_smartphone_appeal_share"] = _share(a["no_smartphone"])
    out.update(_noticing(i, result.horizon_hours))
    out["finds_per_visit"] = _finds_per_visit(result)
    out.update(_settling(o, i))
    out["incidents"] = float(i["incident"].sum())
    out["incidents_per_100k_per_year"] = (
        out["incidents"] / population * 1e5 / span_years if span_years > 0 else float("nan")
    )
    out["expected_incidents"] = float(i["incident_probability"].sum())
    out["declined_share"] = _share(o["declined"])
    harmed = o["harmed_households"].sum() if "harmed_households" in o else 0.0
    out["households_harmed_per_year"] = float(harmed) / span_years if span_years > 0 else 0.0
    points = float(staff["points"].sum())
    out["points_total"] = points
    wages = float(staff["wage_yuan"].sum())
    cost = wages + points * yuan_per_point
    out["points_cost_yuan"] = points * yuan_per_point
    out["cost_total_yuan"] = cost
    out["cost_per_resolved_yuan"] = cost / len(done) if len(done) else float("nan")
    # Integration saves the work a merged appeal would have cost as an order of its own.
    busy = float(staff["busy_hours"].sum())
    out["workload_saved_hours"] = out["merged_appeals"] * busy / len(o) if len(o) else 0.0
    return out


def _report_resolution(done: pd.DataFrame) -> float:
    """Mean hours to resolve the orders residents' own reports opened.

    Staff finds and reopened issues are left out, so that a policy which adds orders of
    another kind (visits turn hard latent issues into orders) is compared on the same appeals.
    """
    reported = done[~done["channel"].isin((VISIT_CHANNEL, REOPEN_CHANNEL))]
    hours = (reported["resolved"] - reported["created"]).to_numpy()
    return float(hours.mean()) if len(hours) else float("nan")


def _time_saved(o: pd.DataFrame, issues: pd.DataFrame, horizon: float) -> float:
    """Mean hours between a proactive find and the first report it pre-empted.

    Only finds of issues a household would have reported before the horizon count: a find of
    an issue nobody would ever have reported saves no waiting for a report (it is counted by
    ``unreported_share`` instead), and counting it up to the horizon would measure the run's
    length, not the practice.
    """
    pro = o[o["proactive"]]
    if not len(pro):
        return float("nan")
    would_report = issues.set_index("issue")["first_report"].reindex(pro["issue"]).to_numpy()
    saved = would_report - pro["created"].to_numpy()
    saved = saved[np.isfinite(saved) & (would_report < horizon)]
    return float(np.clip(saved, 0, None).mean()) if len(saved) else float("nan")


def _noticing(i: pd.DataFrame, horizon: float) -> dict[str, float]:
    """How soon issues are noticed, by whom, and what visits find (the noticing race)."""
    out: dict[str, float] = {}
    known = i["first_known"].notna()
    by_staff = i["found_by"].isin(STAFF_FINDS) & known
    out["proactive_issue_share"] = _share(by_staff, known)
    complete = i[i["arose"] <= horizon - NOTICE_WINDOW_H]
    wait = (complete["first_known"] - complete["arose"]).to_numpy()
    for days in (7, 30):
        out[f"noticed_{days}d_share"] = _share(wait <= days * 24.0) if len(wait) else float("nan")
    phone = complete["no_smartphone"].to_numpy(dtype=bool)
    within = wait <= NOTICE_WINDOW_H
    out["notice_gap_no_smartphone"] = _share(within[~phone]) - _share(within[phone])
    spot = i["on_spot"]
    out["settled_on_spot"] = float(spot.sum())
    visited = i["found_by"].isin(("visit", "screening"))
    out["on_spot_share"] = _share(spot & visited, visited)
    out["lapsed_share"] = _share(i["lapsed"])
    return out


def _finds_per_visit(result: RunResult) -> float:
    """Finds by visits after the warm-up over the visits made after it.

    A find counts whenever its issue arose: the stock of unnoticed issues, built up before
    the warm-up ended too, is what a visit finds.
    """
    w, horizon = result.warmup_hours, result.horizon_hours
    issues = result.issues
    found = (issues["found_by"] == "visit") & (issues["first_known"] >= w)
    visits = float(result.staff["visits"].sum()) * (horizon - w) / horizon
    return float(found.sum()) / visits if visits > 0 else float("nan")


def _settling(o: pd.DataFrame, i: pd.DataFrame) -> dict[str, float]:
    """Where issues are truly settled: on the spot, in the grid, in the town (小事不出网格).

    An issue counts once, at the level of the order that truly settled it (a brushed-off or
    declined order does not), or at the micro-grid when it was settled on the spot.
    """
    good = o[o["resolved"].notna() & ~o["brushed_off"] & ~o["declined"]]
    first = good.sort_values("resolved", kind="stable").drop_duplicates("issue")
    level = first.set_index("issue")["resolved_level"]
    levels = np.concatenate([level.to_numpy(), np.full(int(i["on_spot"].sum()), MICROGRID)])
    return {
        "issues_settled": float(len(levels)),
        "share_settled_in_grid": _share(levels <= GRID),
        "share_settled_in_town": _share(levels <= TOWN),
    }


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")
