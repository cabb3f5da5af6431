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


class Rows:
    """The rows of a table that pass a mask, one column at a time.

    Filtering a whole table copies every column; the KPIs read a few, so each is taken (and
    copied) only when asked for. Categorical columns are compared by their codes.
    """

    def __init__(self, table: pd.DataFrame, mask: np.ndarray | None):
        self.table = table
        self.mask = mask
        self.n = len(table) if mask is None else int(np.count_nonzero(mask))
        self._columns: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return self.n

    def __contains__(self, name: str) -> bool:
        return name in self.table

    def __getitem__(self, name: str) -> np.ndarray:
        """One column of the rows, as a numpy array (taken once, then cached)."""
        if name not in self._columns:
            values = self.table[name].to_numpy()
            self._columns[name] = values if self.mask is None else values[self.mask]
        return self._columns[name]

    def isin(self, name: str, values: tuple[str, ...]) -> np.ndarray:
        """Which rows have one of ``values`` in column ``name``."""
        column = self.table[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            # one test per category, then a lookup by code (code -1, missing, is never in)
            hit = np.append(column.cat.categories.isin(values), False)
            found = hit[column.cat.codes.to_numpy()]
        else:
            found = column.isin(values).to_numpy()
        return found if self.mask is None else found[self.mask]


def mean(values: np.ndarray) -> float:
    """The mean of a float column as ``pandas.Series.mean`` gives it, to the last bit.

    NaN is skipped: summed as 0 (so the pairwise sum runs over the same positions) and not
    counted; NaN when nothing is left.
    """
    nan = np.isnan(values)
    count = len(values) - int(np.count_nonzero(nan))
    if not count:
        return float("nan")
    return float((np.where(nan, 0.0, values) if count < len(values) else values).sum() / count)


def total(values: np.ndarray) -> float:
    """The sum of a float column as ``pandas.Series.sum`` gives it (NaN counts as 0)."""
    nan = np.isnan(values)
    return float((np.where(nan, 0.0, values) if nan.any() else values).sum())


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
    a = Rows(result.appeals, result.appeals["created"].to_numpy() >= w)
    o = Rows(result.orders, result.orders["created"].to_numpy() >= w)
    i = Rows(result.issues, result.issues["arose"].to_numpy() >= w)
    created, resolved = o["created"], o["resolved"]
    is_done = ~np.isnan(resolved)
    resolution = resolved[is_done] - created[is_done]
    is_responded = ~np.isnan(o["first_response"])
    response = o["first_response"][is_responded] - created[is_responded]
    merged = float(np.sum(a["merged"]))
    out: dict[str, float] = {
        "appeals": float(len(a)),
        "orders": float(len(o)),
        "issues": float(len(i)),
        "merged_appeals": merged,
        "merge_ratio": len(a) / len(o) if len(o) else float("nan"),
        "duplicate_orders": float(np.sum(o["duplicate"])),
        "appeals_per_resident_per_year": len(a) / population / span_years,
        "response_time_mean_h": float(response.mean()) if len(response) else float("nan"),
        "response_time_p90_h": _q(response, 0.9),
        "resolution_time_mean_h": float(resolution.mean()) if len(resolution) else float("nan"),
        "resolution_time_median_h": _q(resolution, 0.5),
        "resolution_time_p90_h": _q(resolution, 0.9),
        "report_resolution_time_mean_h": _report_resolution(o, is_done, resolution),
        "on_time_rate": mean(o["on_time"][is_done]),
        "resolved_rate": _share(is_done),
    }
    settled = is_done & ~o["brushed_off"] & ~o["declined"]
    out["true_resolution_rate"] = _share(settled)
    out["resolution_gap"] = out["resolved_rate"] - out["true_resolution_rate"]
    out["brush_off_rate"] = _share(o["brushed_off"])
    out["false_closures_found"] = float(np.sum(o["false_closure_found"]))
    out["handoff_hours_per_order"] = mean(o["handoff_hours"])
    levels = o["resolved_level"][is_done]
    for k, name in enumerate(LEVELS):
        out[f"resolved_share_{name}"] = _share(levels == k)
    out["share_resolved_in_grid"] = _share(levels <= GRID)
    out["share_resolved_in_town"] = _share(levels <= TOWN)
    out["escalation_rate"] = _share(o["escalations"] > 0)
    out["open_at_end"] = float(np.isnan(result.orders["resolved"].to_numpy()).sum())
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
    satisfied = o["satisfied"]
    feedback = satisfied[~np.isnan(satisfied)]
    out["satisfaction_rate"] = float(feedback.mean()) if len(feedback) else float("nan")
    out["reopen_rate"] = _share(a.isin("channel", (REOPEN_CHANNEL,)))
    out["proactive_share"] = _share(o["proactive"])
    first = ~o["duplicate"] & ~o.isin("channel", (REOPEN_CHANNEL,))
    delay = created[first] - o["arose"][first]
    out["report_delay_mean_h"] = float(delay.mean()) if len(delay) else float("nan")
    out["proactive_time_saved_mean_h"] = _time_saved(o, i, result.horizon_hours)
    unknown = np.isnan(i["first_known"])
    out["unreported_issues"] = float(unknown.sum())
    out["unreported_share"] = _share(unknown)
    out["no_smartphone_appeal_share"] = _share(a["no_smartphone"])
    out.update(_noticing(i, result.horizon_hours))
    out["finds_per_visit"] = _finds_per_visit(result)
    out.update(_settling(o, i, settled))
    out["incidents"] = float(np.sum(i["incident"]))
    out["incidents_per_100k_per_year"] = (
        out["incidents"] / population * 1e5 / span_years if span_years > 0 else float("nan")
    )
    out["expected_incidents"] = total(i["incident_probability"])
    out["declined_share"] = _share(o["declined"])
    harmed = total(o["harmed_households"]) if "harmed_households" in o else 0.0
    out["households_harmed_per_year"] = float(harmed) / span_years if span_years > 0 else 0.0
    points = float(staff["points"].sum())
    out["points_total"] = points
    wages = float(staff["wage_yuan"].sum())
    cost = wages + points * yuan_per_point
    out["points_cost_yuan"] = points * yuan_per_point
    out["cost_total_yuan"] = cost
    out["cost_per_resolved_yuan"] = cost / len(resolution) if len(resolution) else float("nan")
    # Integration saves the work a merged appeal would have cost as an order of its own.
    busy = float(staff["busy_hours"].sum())
    out["workload_saved_hours"] = merged * busy / len(o) if len(o) else 0.0
    return out


def _report_resolution(o: Rows, done: np.ndarray, resolution: np.ndarray) -> float:
    """Mean hours to resolve the orders residents' own reports opened.

    Staff finds and reopened issues are left out, so that a policy which adds orders of
    another kind (visits turn hard latent issues into orders) is compared on the same appeals.
    """
    reported = ~o.isin("channel", (VISIT_CHANNEL, REOPEN_CHANNEL))[done]
    hours = resolution[reported]
    return float(hours.mean()) if len(hours) else float("nan")


def _time_saved(o: Rows, i: Rows, horizon: float) -> float:
    """Mean hours between a proactive find and the first report it pre-empted.

    Only finds of issues a household would have reported before the horizon count: a find of
    an issue nobody would ever have reported saves no waiting for a report (it is counted by
    ``unreported_share`` instead), and counting it up to the horizon would measure the run's
    length, not the practice.
    """
    pro = o["proactive"]
    if not pro.any():
        return float("nan")
    issue = o["issue"][pro]
    # The first report of each proactive order's issue, NaN for an issue that arose in the
    # warm-up (it is not among the rows of ``i``): a lookup by issue id, not a join.
    ids = i["issue"]
    size = int(max(ids.max(initial=-1), issue.max(initial=-1))) + 1
    report = np.full(size, np.nan)
    report[ids] = i["first_report"]
    would_report = report[issue]
    saved = would_report - o["created"][pro]
    saved = saved[np.isfinite(saved) & (would_report < horizon)]
    return float(np.clip(saved, 0, None).mean()) if len(saved) else float("nan")


def _noticing(i: Rows, horizon: float) -> dict[str, float]:
    """How soon issues are noticed, by whom, and what visits find (the noticing race)."""
    out: dict[str, float] = {}
    first_known, arose = i["first_known"], i["arose"]
    known = ~np.isnan(first_known)
    by_staff = i.isin("found_by", STAFF_FINDS) & known
    out["proactive_issue_share"] = _share(by_staff, known)
    complete = arose <= horizon - NOTICE_WINDOW_H
    wait = first_known[complete] - arose[complete]
    for days in (7, 30):
        out[f"noticed_{days}d_share"] = _share(wait <= days * 24.0) if len(wait) else float("nan")
    phone = i["no_smartphone"][complete].astype(bool, copy=False)
    within = wait <= NOTICE_WINDOW_H
    out["notice_gap_no_smartphone"] = _share(within[~phone]) - _share(within[phone])
    spot = i["on_spot"]
    out["settled_on_spot"] = float(np.sum(spot))
    visited = i.isin("found_by", ("visit", "screening"))
    out["on_spot_share"] = _share(spot & visited, visited)
    out["lapsed_share"] = _share(i["lapsed"])
    return out


def _finds_per_visit(result: RunResult) -> float:
    """Finds by visits after the warm-up over the visits made after it.

    A find counts whenever its issue arose: the stock of unnoticed issues, built up before
    the warm-up ended too, is what a visit finds.
    """
    w, horizon = result.warmup_hours, result.horizon_hours
    issues = Rows(result.issues, None)
    found = issues.isin("found_by", ("visit",)) & (issues["first_known"] >= w)
    visits = float(result.staff["visits"].sum()) * (horizon - w) / horizon
    return float(found.sum()) / visits if visits > 0 else float("nan")


def _settling(o: Rows, i: Rows, settled: np.ndarray) -> dict[str, float]:
    """Where issues are truly settled: on the spot, in the grid, in the town (小事不出网格).

    An issue counts once, at the level of the order that truly settled it first (a
    brushed-off or declined order does not), or at the micro-grid when it was settled on the
    spot.
    """
    issue = o["issue"][settled]
    order = np.argsort(o["resolved"][settled], kind="stable")
    # np.unique's return_index is each issue's first row in resolution order.
    _, first = np.unique(issue[order], return_index=True)
    level = o["resolved_level"][settled][order[first]]
    levels = np.concatenate([level, np.full(int(np.sum(i["on_spot"])), MICROGRID)])
    return {
        "issues_settled": float(len(levels)),
        "share_settled_in_grid": _share(levels <= GRID),
        "share_settled_in_town": _share(levels <= TOWN),
    }


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")
