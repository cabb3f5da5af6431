"""Where the baseline lands: the documented plausible ranges of its outcomes (issues 10, 11).

The baseline's headline outcomes are not typed in: they come out of the mechanisms. These
ranges are the plausibility bars they must clear (docs/mechanisms.md, "Where the baseline
lands"); none is a published Pingyi figure (there is none), each is an ASSUMPTION stated
once, here and in the docs. The run is the baseline county's first 60 days (no warm-up:
the backlog settles within a fortnight at this load), one replication.
"""

from __future__ import annotations

import pytest

import gridsim

#: KPI → (low, high, why). Utilisation is hours used (orders, tasks, visits, contacts, help)
#: over each role's own weekly budget.
RANGES: dict[str, tuple[float, float, str]] = {
    "share_settled_in_grid": (0.75, 0.95, "小事不出网格: most settled issues are small"),
    "share_settled_in_town": (0.90, 0.99, "大事不出镇街"),
    "share_resolved_in_grid": (0.60, 0.90, "work orders are the harder part of issues"),
    "proactive_issue_share": (0.40, 0.80, "未诉先办 is the practice's main way of knowing"),
    "appeals_per_resident_per_year": (0.2, 0.5, "[bj12345] reports plus finds"),
    "utilisation_grid_worker": (0.50, 0.90, "full-time: orders, tasks and visits"),
    "utilisation_microgrid_leader": (0.30, 0.80, "part-time village cadre"),
    "utilisation_grid_leader": (0.15, 0.70, "part-time"),
    "utilisation_grid_instructor": (0.30, 0.80, "town cadre: guidance and the party branch"),
    "utilisation_grid_assistant": (0.15, 0.60, "building leaders: contacts and help"),
    "utilisation_volunteer": (0.15, 0.60, "visits and help, a few hours a week"),
    "utilisation_party_member": (0.30, 0.80, "contacts with linked households, mediation"),
    "utilisation_exclusive_grid_worker": (0.30, 0.80, "on call for enterprises, services"),
    "utilisation_town_officer": (0.15, 0.70, "desk officers"),
    "utilisation_county_officer": (0.10, 0.70, "county centre desks"),
    "utilisation_department_officer": (0.10, 0.70, "department officers handling orders"),
}


@pytest.fixture(scope="module")
def baseline() -> gridsim.RunResult:
    s = gridsim.load_scenario("scenarios/pingyi_baseline.toml")
    return gridsim.simulate(s, seed=1, days=60, log_events=False)


@pytest.mark.parametrize("kpi", sorted(RANGES))
def test_baseline_lands_in_its_documented_range(baseline: gridsim.RunResult, kpi: str):
    low, high, why = RANGES[kpi]
    value = baseline.kpis[kpi]
    assert low <= value <= high, f"{kpi} = {value:.3f} ({why})"


def test_exclusive_grids_answer_enterprises_fastest(baseline: gridsim.RunResult):
    by_category = baseline.breakdowns["category"].set_index("category")["response_time_mean_h"]
    assert by_category.idxmin() == "enterprise_appeal", by_category.sort_values().head(3)


def test_microgrid_resolution_is_not_slower_than_grid_for_the_same_category(
    baseline: gridsim.RunResult,
):
    """The "1+N" team settles what it can sooner than the grid would (issue 11)."""
    o = baseline.orders[baseline.orders["resolved"].notna() & ~baseline.orders["brushed_off"]]
    o = o.assign(hours=o["resolved"] - o["created"])
    mean = o[o["resolved_level"] <= 1].groupby(["category", "resolved_level"], observed=True)
    table = mean["hours"].agg(["mean", "size"]).unstack("resolved_level")
    both = table[(table["size"] >= 50).all(axis=1)]
    assert len(both) >= 4, table
    slower = both[both["mean"][0] > both["mean"][1]]
    assert slower.empty, slower
