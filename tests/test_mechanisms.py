"""Each governance mechanism moves its KPIs the right way, by a plausible amount.

Every test compares configurations of ``scenarios/one_town.toml`` over the same replication
seeds (common random numbers: ``SeedSequence(ENTROPY, spawn_key=(r,))``), so a difference is
the mechanism's effect and not a different draw of issues. A test sets the parameters it
depends on in both arms, so that a recalibration of the scenario file does not move it. Bounds
are directions with a minimum size, and sizes where the model's arithmetic gives them; a
broken mechanism (switched off, inverted, or running away) violates them. Runs are cached per
scenario, so configurations shared by several tests (or equal to the baseline) run once. See
docs/mechanisms.md for what each mechanism represents; the noticing race and capability have
unit tests of their own (``tests/test_noticing.py``, ``tests/test_capability.py``).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gridsim
from gridsim.model.appeals import draw_issues
from gridsim.model.attention import effort_multiplier, plan_attention
from gridsim.model.capability import settle_probabilities
from gridsim.model.county import build_county
from gridsim.model.loader import with_overrides
from gridsim.model.noticing import draw_arrivals
from gridsim.model.seeds import make_streams
from gridsim.model.vocabulary import COUNTY, EVENT_CODES, GRID, MICROGRID, NO_LEVEL, TOWN

ROOT = Path(__file__).resolve().parents[1]
BASE = gridsim.load_scenario(ROOT / "scenarios" / "one_town.toml")
ENTROPY = 20240101
DAYS = 60
REPS = 3
CODE = {name: code for code, name in EVENT_CODES.items()}

#: Categories that can turn into a serious incident in one_town.toml.
INCIDENT_CATEGORIES = tuple(c.key for c in BASE.categories if c.incident is not None)
MICROGRID_ROLES = tuple(BASE.staffing.microgrid)
PREVENTABLE = tuple(c.key for c in BASE.categories if c.preventable)


def hazards(probability: float, scale_days: float) -> dict:
    """Overrides raising every incident hazard (incidents are rare in one town over 60 days)."""
    out = {}
    for key in INCIDENT_CATEGORIES:
        out[f"categories.{key}.incident.probability_within_scale"] = probability
        out[f"categories.{key}.incident.scale_days"] = scale_days
    return out


#: Raised hazards: half of an unresolved issue's incidents within a week.
HAZARD = hazards(0.5, 7)
#: Raised hazards on a slower clock (externality tests: mediation acts over weeks).
SLOW_HAZARD = hazards(0.6, 20)
#: Fewer town desk officers, so that town desks have queues (both arms of a comparison).
BUSY_TOWN = {
    "centre.town_desks_per_100k_residents": {
        "grid_management": 6.7,
        "hotline": 3.4,
        "petition": 2.0,
        "mediation": 5.0,
    }
}
LADDER = {"escalation.policy": "strict_ladder"}
TRIAGE = {"escalation.policy": "direct_triage"}
#: No brush-offs and no callbacks: where a test needs every order handled on its merits.
NO_BRUSH = {"supervision.brush_off_intercept": -50.0, "supervision.callback_rate": 0.0}


def seed(r: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(ENTROPY, spawn_key=(r,))


#: Scenarios by their JSON: overrides that give the same scenario share their runs.
_SCENARIOS: dict[str, gridsim.Scenario] = {}


@functools.cache
def _run(key: str, days: int, r: int) -> gridsim.RunResult:
    return gridsim.simulate(_SCENARIOS[key], seed=seed(r), days=days)


def runs(overrides: dict | None = None, reps: int = REPS, days: int = DAYS):
    """The replications of one configuration (cached; do not mutate the results)."""
    scenario = with_overrides(BASE, overrides) if overrides else BASE
    key = scenario.model_dump_json()
    _SCENARIOS.setdefault(key, scenario)
    return [_run(key, days, r) for r in range(reps)]


def kpi(results, name: str) -> np.ndarray:
    return np.array([r.kpis[name] for r in results], dtype=float)


def per_run(results, fn) -> np.ndarray:
    return np.array([fn(r) for r in results], dtype=float)


def level_waits(result: gridsim.RunResult) -> pd.DataFrame:
    """One row per dispatch: the order, level, unit and hours it waited for a server.

    The wait ends at the order's next start or escalation (a deadline escalation ends a wait
    too); an order still waiting at the horizon counts its wait so far (censored).
    """
    ev = result.events
    e = ev[ev["event"].isin([CODE["dispatch"], CODE["start"], CODE["escalate"]])]
    e = e.sort_values(["order", "time"], kind="stable")
    end = e["time"].where(e["event"] != CODE["dispatch"]).groupby(e["order"]).bfill()
    d = e[e["event"] == CODE["dispatch"]][["order", "level", "unit", "time"]].copy()
    d["wait"] = end[d.index].fillna(result.horizon_hours) - d["time"]
    return d


def orders_of(result: gridsim.RunResult, *categories: str) -> pd.DataFrame:
    o = result.orders
    return o[o["category"].isin(categories)]


def first_orders(result: gridsim.RunResult, category: str) -> pd.DataFrame:
    """Each issue's first order (not a duplicate, not a reopening), indexed by issue."""
    o = orders_of(result, category)
    o = o[~o["duplicate"] & (o["channel"] != "reopen")].drop_duplicates("issue")
    return o.set_index("issue")


def resolution_hours(o: pd.DataFrame) -> pd.Series:
    done = o[o["resolved"].notna()]
    return done["resolved"] - done["created"]


def found_by(result: gridsim.RunResult, who: str) -> int:
    return int((result.issues["found_by"] == who).sum())


# ------------------------------------------------------------------ 1. channels, technology gap


def test_technology_gap_hides_issues_and_slows_reports():
    base = runs()  # no_smartphone_share 0.22
    gap = runs({"residents.no_smartphone_share": 0.6})
    assert np.all((kpi(gap, "unreported_share") >= 0) & (kpi(gap, "unreported_share") <= 1))
    # Visits still find what households without a phone do not report: a small rise.
    assert np.all(kpi(gap, "unreported_share") > kpi(base, "unreported_share"))
    app = per_run(base, lambda r: (r.appeals["channel"] == "app").sum())
    app_gap = per_run(gap, lambda r: (r.appeals["channel"] == "app").sum())
    # Smartphone owners still use the app: fewer app appeals, but not none.
    assert 0.2 < app_gap.sum() / app.sum() < 0.8
    # Households that switch channel use slower ones (hotline, walk-in, petition).
    delay, delay_gap = kpi(base, "report_delay_mean_h"), kpi(gap, "report_delay_mean_h")
    assert (delay_gap - delay).mean() > 1.0
    assert delay_gap.mean() < 3 * delay.mean()
    assert np.all(kpi(gap, "no_smartphone_appeal_share") > kpi(base, "no_smartphone_appeal_share"))


def test_without_the_technology_gap_no_appeal_is_flagged_no_smartphone():
    base = runs()
    none = runs({"residents.no_smartphone_share": 0.0}, reps=2)
    assert all(not r.appeals["no_smartphone"].any() for r in none)
    assert np.all(kpi(none, "no_smartphone_appeal_share") == 0)
    assert np.all(kpi(base, "no_smartphone_appeal_share") > 0)
    assert kpi(none, "unreported_share").mean() < kpi(base, "unreported_share").mean()


# ------------------------------------------------------------------ 2. appeal integration


def test_integration_off_means_one_order_per_appeal_and_more_work():
    on = runs(reps=2)
    off = runs({"integration.enabled": False}, reps=2)
    assert np.all(kpi(off, "merge_ratio") == 1.0)
    assert np.all(kpi(off, "merged_appeals") == 0)
    assert np.all(kpi(on, "merge_ratio") > 1.0)
    orders_on, orders_off = kpi(on, "orders").sum(), kpi(off, "orders").sum()
    assert 1.1 < orders_off / orders_on < 3.0
    busy_on = per_run(on, lambda r: r.staff["busy_hours"].sum()).sum()
    busy_off = per_run(off, lambda r: r.staff["busy_hours"].sum()).sum()
    assert 1.05 < busy_off / busy_on < 3.0


def test_a_longer_integration_window_merges_more():
    short = kpi(runs({"integration.window_hours": 12}, reps=2), "merge_ratio")
    default = kpi(runs({"integration.window_hours": 72}, reps=2), "merge_ratio")
    long = kpi(runs({"integration.window_hours": 240}, reps=2), "merge_ratio")
    assert np.all(short >= 1.0)
    assert np.all(default > short)
    assert np.all(long >= default)
    assert long.mean() < 5.0


# ------------------------------------------------------------------ 3. noticing: who finds what


def visits(microgrid_leader: float, grid_worker: float) -> dict:
    return {
        "proactive.visits_per_household_per_month.microgrid_leader": microgrid_leader,
        "proactive.visits_per_household_per_month.grid_worker": grid_worker,
    }


FEW_VISITS = visits(0.25, 0.05)
MORE_VISITS = visits(3.0, 1.0)  # the baseline is 1.0 and 0.2
NO_VISITS = {"proactive.visits_per_household_per_month": {}}


def test_more_visits_find_more_and_leave_fewer_issues_unreported():
    few, more = runs(FEW_VISITS), runs(MORE_VISITS)
    share, share_more = kpi(few, "proactive_issue_share"), kpi(more, "proactive_issue_share")
    assert np.all((share_more >= 0) & (share_more <= 1))
    assert (share_more - share).mean() > 0.05
    assert kpi(more, "unreported_share").sum() < 0.8 * kpi(few, "unreported_share").sum()

    def by_visit(r):
        return found_by(r, "visit")

    def credited(r):
        return r.staff["proactive_finds"].sum()

    assert np.all(per_run(more, by_visit) > per_run(few, by_visit))
    assert np.all(per_run(more, credited) > per_run(few, credited))


def test_without_visits_issues_stay_unknown_longer_and_riskier():
    # Incidents are rare in one town: hazards are raised in both arms.
    visited, unvisited = runs(HAZARD), runs({**HAZARD, **NO_VISITS})
    assert all(found_by(r, "visit") == 0 for r in unvisited)
    assert all(r.staff["visit_hours"].sum() == 0 for r in unvisited)
    d_unreported = kpi(unvisited, "unreported_share") - kpi(visited, "unreported_share")
    assert np.all(d_unreported > 0.05)
    assert np.all(kpi(unvisited, "expected_incidents") > kpi(visited, "expected_incidents"))
    # Visits fill slack: orders are not slower for them (the finds are mostly easy issues).
    t_visited = kpi(visited, "resolution_time_mean_h").mean()
    assert t_visited <= 1.05 * kpi(unvisited, "resolution_time_mean_h").mean()


def test_proactive_off_means_no_visits_and_no_screening():
    off = runs({"proactive.enabled": False}, reps=2)
    for r in off:
        assert found_by(r, "visit") == found_by(r, "screening") == 0
        assert r.staff["visit_hours"].sum() == 0 and r.staff["visits"].sum() == 0
        # Building leaders and party members still notice: finds go on, by them only.
        assert found_by(r, "building_leader") > 0
    assert np.all(kpi(off, "unreported_share") > kpi(runs(reps=2), "unreported_share"))


def test_visits_take_staff_time_within_the_cap():
    def leaders(r):
        return r.staff[r.staff["role"] == "microgrid_leader"]

    cap = BASE.proactive.max_visit_time_share
    for r_few, r_more in zip(runs(FEW_VISITS), runs(MORE_VISITS), strict=True):
        v = [leaders(r)["visit_hours"].sum() for r in (r_few, r_more)]
        assert 0 < v[0] < v[1]
        # Visits never take more than the cap of the slack the budget leaves after tasks, and
        # they do not shrink the budget.
        lead = leaders(r_more)
        slack = lead["available_hours"] - lead["task_hours"]
        assert (lead["visit_hours"] <= cap * slack * (1 + 1e-9)).all()
        assert leaders(r_few)["available_hours"].sum() == lead["available_hours"].sum()


def test_free_visits_still_find_issues():
    free = {"proactive.hours_per_visit": 0.0, "visits.travel_hours_per_visit": 0.0}
    cheap = {"proactive.hours_per_visit": 0.001, "visits.travel_hours_per_visit": 0.0}
    f = per_run(runs(free, reps=2, days=30), lambda r: found_by(r, "visit"))
    c = per_run(runs(cheap, reps=2, days=30), lambda r: found_by(r, "visit"))
    assert c.sum() > 0
    assert f.sum() >= 0.9 * c.sum()


#: Micro-grid size in both arms: 100 vs 25 households per micro-grid.
COARSE, FINE = (
    {"grids.rural_households_per_microgrid": 100.0, "grids.urban_households_per_microgrid": 100.0},
    {"grids.rural_households_per_microgrid": 25.0, "grids.urban_households_per_microgrid": 25.0},
)


def test_finer_microgrids_notice_issues_sooner():
    coarse, fine = runs(COARSE), runs(FINE)
    n = [int((r.units["kind"] == "microgrid").sum()) for r in (coarse[0], fine[0])]
    assert 3 < n[1] / n[0] < 5  # four times as many micro-grids
    d7 = kpi(fine, "noticed_7d_share") - kpi(coarse, "noticed_7d_share")
    assert np.all(d7 > 0.01)
    assert np.all(kpi(fine, "noticed_30d_share") > kpi(coarse, "noticed_30d_share"))
    # More building leaders for the same households: more of what they notice.
    leader = per_run(fine, lambda r: found_by(r, "building_leader"))
    assert leader.sum() > 1.5 * per_run(coarse, lambda r: found_by(r, "building_leader")).sum()


#: Party embedding without the trust that raises households' own reports.
PARTY_OFF = {"party.active_group_share": 0.0, "party.trust_report_gain": 0.0}
PARTY_ON = {"party.active_group_share": 1.0, "party.trust_report_gain": 0.0}
PARTY_TRUST = {"party.active_group_share": 1.0, "party.trust_report_gain": 0.3}


def test_party_embedding_notices_more_and_settles_more_in_the_grid():
    off, on = runs(PARTY_OFF), runs(PARTY_ON)
    assert all(r.units["party_active"].sum() == 0 for r in off)
    assert all(found_by(r, "party_member") == 0 for r in off)
    assert all(found_by(r, "party_member") > 20 for r in on)
    assert np.all(kpi(on, "proactive_issue_share") > kpi(off, "proactive_issue_share"))
    assert np.all(kpi(on, "share_settled_in_grid") > kpi(off, "share_settled_in_grid"))
    assert np.all(kpi(on, "unreported_share") < kpi(off, "unreported_share"))


def test_trust_built_by_party_members_raises_households_reports():
    # Trust makes households report: more issues known, a larger share of them by reports.
    on, trust = runs(PARTY_ON), runs(PARTY_TRUST)
    reports = per_run(trust, lambda r: found_by(r, "report"))
    assert np.all(reports > per_run(on, lambda r: found_by(r, "report")))
    assert np.all(kpi(trust, "unreported_share") < kpi(on, "unreported_share"))
    assert np.all(kpi(trust, "proactive_issue_share") < kpi(on, "proactive_issue_share"))


def test_visiting_households_without_a_smartphone_first_closes_the_notice_gap():
    even, targeted = (
        runs({"visits.target_no_smartphone": 1.0}),
        runs({"visits.target_no_smartphone": 3.0}),
    )
    gap, gap_targeted = (
        kpi(even, "notice_gap_no_smartphone"),
        kpi(targeted, "notice_gap_no_smartphone"),
    )
    assert np.all(gap_targeted < gap - 0.05)
    # The same visits, in another order: the visit hours do not change.
    hours = per_run(even, lambda r: r.staff["visit_hours"].sum())
    np.testing.assert_allclose(per_run(targeted, lambda r: r.staff["visit_hours"].sum()), hours)


def test_settling_on_the_spot_removes_orders():
    off = {"visits.on_spot_share": 0.0, "party.mediate_on_spot": 0.0}
    never, spot = runs(off, reps=2), runs({**off, "visits.on_spot_share": 0.9}, reps=2)
    assert np.all(kpi(never, "settled_on_spot") == 0)
    settled = kpi(spot, "settled_on_spot")
    assert np.all(settled > 100)
    # Each issue settled on the spot is an order fewer (give or take the knock-on effects).
    fewer = kpi(never, "orders") - kpi(spot, "orders")
    assert np.all((fewer > 0.8 * settled) & (fewer < 1.2 * settled))
    for r in spot:
        on_spot = r.issues.loc[r.issues["on_spot"], "issue"]
        assert not r.orders["issue"].isin(on_spot).any()
        assert (r.issues.loc[r.issues["on_spot"], "found_by"].isin(["visit", "screening"])).all()


def test_prevention_removes_only_preventable_issues():
    none, prevent = (
        runs({"visits.prevention_per_visit": 0.0}, reps=2),
        runs({"visits.prevention_per_visit": 0.5}, reps=2),
    )
    for a, b in zip(none, prevent, strict=True):
        key = ["arose", "category", "microgrid"]
        ia, ib = a.issues[key], b.issues[key]
        kept = ib["category"].isin(PREVENTABLE)
        # Issues that cannot be prevented are the same; the preventable ones are a subset.
        pd.testing.assert_frame_equal(
            ia[~ia["category"].isin(PREVENTABLE)].reset_index(drop=True),
            ib[~kept].reset_index(drop=True),
            check_categorical=False,
        )
        before = set(map(tuple, ia[ia["category"].isin(PREVENTABLE)].astype(str).to_numpy()))
        after = set(map(tuple, ib[kept].astype(str).to_numpy()))
        assert after <= before
        assert 0.3 < len(after) / len(before) < 0.95
    assert np.all(kpi(prevent, "issues") < kpi(none, "issues"))


def test_issues_that_lapse_are_never_reported():
    short = runs({"categories.*.lapse_days": 3.0}, reps=2)
    long = runs({"categories.*.lapse_days": 365.0}, reps=2)
    assert np.all(kpi(short, "lapsed_share") > kpi(long, "lapsed_share") + 0.05)
    assert np.all(kpi(short, "appeals") < kpi(long, "appeals"))
    for r in short:
        lapsed = r.issues.loc[r.issues["lapsed"], "issue"]
        assert len(lapsed) > 100
        assert not r.appeals["issue"].isin(lapsed).any()


def test_effort_response_raises_visits_and_the_proactive_share():
    still = {"incentives.effort_elasticity": 0.0}
    responsive = {"incentives.effort_elasticity": 1.0}
    s = with_overrides(BASE, responsive)
    inc = s.incentives
    assert effort_multiplier(with_overrides(BASE, still)) == 1.0
    yuan_per_find = inc.points_per_proactive_find * inc.yuan_per_point
    expected = 1 + inc.effort_elasticity * yuan_per_find / inc.effort_reference_yuan
    assert effort_multiplier(s) == pytest.approx(expected)
    assert effort_multiplier(with_overrides(s, {"incentives.yuan_per_point": 0})) == 1.0
    base, eager = runs(still), runs(responsive)
    hours = per_run(base, lambda r: r.staff["visit_hours"].sum())
    hours_eager = per_run(eager, lambda r: r.staff["visit_hours"].sum())
    assert np.all(hours_eager > hours)
    assert np.all(hours_eager <= effort_multiplier(s) * hours + 1e-6)
    assert np.all(kpi(eager, "proactive_issue_share") > kpi(base, "proactive_issue_share"))


# ------------------------------------------------------------------ 4. capability: who settles


JOINT_CATEGORIES = tuple(c.key for c in BASE.categories if c.joint.departments)


def test_joint_handling_slows_county_resolution():
    def joint(share):
        return {f"categories.{key}.joint.share": share for key in JOINT_CATEGORIES}

    def county_hours(r):
        o = orders_of(r, *JOINT_CATEGORIES)
        return resolution_hours(o[o["resolved_level"] == COUNTY]).mean()

    def department_busy(r):
        return r.units.loc[r.units["kind"] == "department", "busy_hours"].sum()

    alone, together = runs(joint(0.0), reps=2), runs(joint(0.5), reps=2)
    assert all(not r.orders["joint"].any() for r in alone)
    assert all(orders_of(r, *JOINT_CATEGORIES)["joint"].any() for r in together)
    t0, t1 = per_run(alone, county_hours), per_run(together, county_hours)
    assert 1.1 < t1.mean() / t0.mean() < 10
    # A joint order's work is charged to every department it holds.
    assert per_run(together, department_busy).sum() > per_run(alone, department_busy).sum()


#: Departments whose officers can be sunk into grids, and their ladder-routed categories.
SINKABLE = ("public_security", "justice")
SUNK_CATEGORIES = tuple(
    c.key for c in BASE.categories if c.department in SINKABLE and c.route == "ladder"
)


def sunk(officers: int) -> dict:
    out: dict = {f"departments.{d}.sunk_staff": officers for d in SINKABLE}
    return {**out, "capability.sunk_department": 1.5}


def n_grids() -> int:
    return int((runs()[0].units["kind"] == "grid").sum())


def test_sunk_staff_settle_their_departments_orders_in_the_grid():
    def in_grid(r):
        o = orders_of(r, *SUNK_CATEGORIES)
        o = o[o["resolved"].notna() & ~o["brushed_off"]]
        return (o["resolved_level"] <= GRID).mean()

    none, every = runs(sunk(0)), runs(sunk(n_grids()))
    assert np.all(per_run(every, in_grid) > per_run(none, in_grid) + 0.03)
    assert np.all(kpi(every, "share_resolved_in_grid") > kpi(none, "share_resolved_in_grid"))


def test_training_grid_workers_settles_more_in_the_grid():
    base, trained = (
        runs({"roles.grid_worker.training": 1.0}),
        runs({"roles.grid_worker.training": 3.0}),
    )
    d = kpi(trained, "share_resolved_in_grid") - kpi(base, "share_resolved_in_grid")
    assert np.all(d > 0.03)
    assert np.all(kpi(trained, "share_settled_in_grid") > kpi(base, "share_settled_in_grid"))


def test_without_the_full_time_grid_worker_less_is_settled_in_the_grid_and_later():
    without = runs({"staffing.grid": {"grid_instructor": 1, "grid_leader": 1}})
    base = runs({"staffing.grid": {"grid_instructor": 1, "grid_leader": 1, "grid_worker": 1}})
    assert np.all(kpi(without, "share_settled_in_grid") < kpi(base, "share_settled_in_grid"))
    slower = kpi(without, "resolution_time_mean_h") / kpi(base, "resolution_time_mean_h")
    assert np.all(slower > 1.1)
    # With no grid worker the grid loses the visits the worker made.
    assert np.all(
        per_run(without, lambda r: r.staff["visit_hours"].sum())
        < per_run(base, lambda r: r.staff["visit_hours"].sum())
    )


#: The "1+N" micro-grid team and its leader alone; the "N" take 30 % of an order's work.
N_HELP = {"team.help_share": 0.3}
LEADER_ALONE = {**N_HELP, "staffing.microgrid": {"microgrid_leader": 1}}
WITH_N = {
    **N_HELP,
    "staffing.microgrid": {"microgrid_leader": 1, "grid_assistant": 2, "volunteer": 1},
}


def test_without_the_n_fewer_issues_are_noticed_and_microgrid_work_is_slower():
    alone, team = runs(LEADER_ALONE), runs(WITH_N)
    assert all(found_by(r, "building_leader") == 0 for r in alone)
    assert np.all(per_run(team, lambda r: found_by(r, "building_leader")) > 50)

    def microgrid_hours(r):
        o = r.orders
        return resolution_hours(o[o["resolved_level"] == MICROGRID]).mean()

    assert np.all(per_run(alone, microgrid_hours) > 1.05 * per_run(team, microgrid_hours))
    assert np.all(kpi(alone, "unreported_share") > kpi(team, "unreported_share"))


def test_microgrid_resolution_is_not_slower_than_grid_resolution_for_the_same_category():
    # Pooled over replications, category by category (the largest ones): the micro-grid's
    # neighbours (人熟地熟) are not slower than the grid for the same kind of issue.
    frames = []
    for r in runs():
        o = r.orders[~r.orders["duplicate"] & (r.orders["channel"] != "reopen")]
        o = o[o["resolved_level"].isin([MICROGRID, GRID])]
        frames.append(o.assign(h=o["resolved"] - o["created"]))
    o = pd.concat(frames)
    t = o.groupby(["category", "resolved_level"], observed=True)["h"].agg(["mean", "size"])
    t = t.unstack()
    big = t[(t["size"] >= 60).all(axis=1)]
    assert len(big) >= 3
    assert (big["mean"][MICROGRID] <= 1.1 * big["mean"][GRID]).all()
    weights = big["size"].min(axis=1)
    gap = ((big["mean"][GRID] - big["mean"][MICROGRID]) * weights).sum() / weights.sum()
    assert gap > 0


# ------------------------------------------------------------------ 5. exclusive grids


def test_exclusive_grids_answer_enterprises_before_any_other_category():
    # Time from reaching the dispatcher (after the channel's own delay) to the first start.
    dispatch = {c.key: c.dispatch_hours for c in BASE.channels} | {"visit": 0.0, "reopen": 0.0}
    answers = []
    for r in runs():
        o = r.orders[r.orders["first_response"].notna()]
        wait = o["first_response"] - o["created"] - o["channel"].astype(str).map(dispatch)
        answers.append(wait.groupby(o["category"], observed=True).mean())
    mean = pd.concat(answers, axis=1).mean(axis=1)
    enterprise = mean.pop("enterprise_appeal")
    assert enterprise < 1.0
    assert enterprise < mean.min()


def test_business_priority_shortens_enterprise_waits_at_busy_desks():
    # Enterprise appeals are rare in one town and its desks have slack: raise the rate and thin
    # the town desks in both arms; the ladder, so that what the exclusive grid cannot settle
    # climbs to the town.
    busy = {
        **BUSY_TOWN,
        **LADDER,
        "categories.enterprise_appeal.issues_per_1000_residents_per_year": 20,
        "categories.enterprise_appeal.complexity": 3.0,
    }

    def town_wait(r):
        w = level_waits(r)
        ent = r.orders.loc[r.orders["category"] == "enterprise_appeal", "order"]
        w = w[(w["level"] == TOWN) & w["order"].isin(ent)]
        return w["wait"].mean()

    first = runs({**busy, "exclusive.business_priority": True})
    fifo = runs({**busy, "exclusive.business_priority": False})
    assert all(not r.orders["priority"].any() for r in fifo)
    assert all(
        (r.orders.loc[r.orders["priority"], "category"] == "enterprise_appeal").all() for r in first
    )
    w_first, w_fifo = per_run(first, town_wait), per_run(fifo, town_wait)
    assert np.all(w_first >= 0)
    assert w_first.mean() < 0.7 * w_fifo.mean()


# ------------------------------------------------------------------ 6. team composition


NO_WOMEN = {f"roles.{role}.female_share": 0.0 for role in MICROGRID_ROLES}


def team(compliance: float, action: str) -> dict:
    return {
        **NO_WOMEN,
        **NO_BRUSH,
        "staffing.woman_rule_compliance": compliance,
        "team.no_woman_action": action,
        "team.borrow_delay_hours": 24.0,
        "satisfaction.reopen_probability": 0.0,
    }


def test_teams_without_a_woman_escalate_family_disputes():
    def escalated(r):
        return (orders_of(r, "family_dispute")["escalations"] > 0).mean()

    with_woman = per_run(runs(team(1.0, "escalate"), reps=2), escalated)
    without = per_run(runs(team(0.0, "escalate"), reps=2), escalated)
    assert np.all((without >= 0) & (without <= 1))
    assert (without - with_woman).mean() > 0.2


def test_borrowing_a_woman_resolves_at_the_same_level_later():
    borrow = 24.0
    extra = []
    for r_with, r_without in zip(runs(team(1.0, "borrow")), runs(team(0.0, "borrow")), strict=True):
        a, b = first_orders(r_with, "family_dispute"), first_orders(r_without, "family_dispute")
        both = a.merge(b, left_index=True, right_index=True, suffixes=("", "_b"))
        both = both[(both["resolved_level"] != NO_LEVEL) & (both["resolved_level_b"] != NO_LEVEL)]
        assert len(both) > 10
        assert (both["resolved_level"] == both["resolved_level_b"]).all()
        later = (both["resolved_b"] - both["created_b"]) - (both["resolved"] - both["created"])
        extra.append(later.mean())
    assert 0.1 * borrow < np.mean(extra) < 1.5 * borrow


# ------------------------------------------------------------------ 7. escalation rules


EXACT_TRIAGE = {**TRIAGE, "escalation.misclassification_rate": 0.0}


def test_triage_escalates_less_and_resolves_sooner_than_the_ladder():
    def county_hours(r):
        return resolution_hours(r.orders[r.orders["resolved_level"] == COUNTY]).mean()

    ladder, triage = runs(LADDER), runs(EXACT_TRIAGE)
    esc_ladder, esc_triage = kpi(ladder, "escalation_rate"), kpi(triage, "escalation_rate")
    assert np.all(esc_ladder - esc_triage > 0.15)
    t_ladder, t_triage = (
        kpi(ladder, "resolution_time_mean_h"),
        kpi(triage, "resolution_time_mean_h"),
    )
    assert np.all(t_triage < t_ladder)
    assert t_triage.sum() < 0.95 * t_ladder.sum()
    assert per_run(triage, county_hours).mean() < 0.9 * per_run(ladder, county_hours).mean()


def test_misclassification_sends_orders_back():
    def returns(r):
        return (r.events["event"] == CODE["return"]).sum()

    sloppy = runs({**TRIAGE, "escalation.misclassification_rate": 0.5}, reps=2)
    assert per_run(runs(EXACT_TRIAGE), returns).sum() == 0
    assert per_run(runs(LADDER), returns).sum() == 0
    back = per_run(sloppy, returns)
    assert np.all(back > 0)
    # Only the quarter sent one level too high come back (not when clipped at the county).
    assert back.sum() < 0.3 * kpi(sloppy, "orders").sum()


def test_skip_level_lets_urgent_orders_escalate_less():
    urgent = {"categories.*.urgent_share": 0.3}  # few urgent orders otherwise (both arms)

    def rate(r, flag):
        o = r.orders[r.orders["urgent"] == flag]
        return (o["escalations"] > 0).mean()

    ladder = runs({**urgent, **LADDER})
    skip = runs({**urgent, "escalation.policy": "skip_level_urgent"})
    u_ladder = per_run(ladder, lambda r: rate(r, True))
    u_skip = per_run(skip, lambda r: rate(r, True))
    assert u_skip.mean() < 0.5 * u_ladder.mean()
    # Non-urgent orders still climb the ladder.
    n_ladder = per_run(ladder, lambda r: rate(r, False))
    n_skip = per_run(skip, lambda r: rate(r, False))
    assert abs(n_skip.mean() - n_ladder.mean()) < 0.05


def test_deadline_caps_queue_waits_at_a_level():
    # Busy town desks and a one-day town limit in both arms, so that the cap binds.
    limit = 24.0
    busy = {**BUSY_TOWN, "levels.time_limit_hours.town": limit}

    def town_max(r):
        w = level_waits(r)
        return w.loc[w["level"] == TOWN, "wait"].max()

    def deadline_escalations(r):
        ev = r.events
        return ((ev["event"] == CODE["escalate"]) & (ev["value"] == 2)).sum()

    ladder = runs({**busy, **LADDER}, reps=2)
    deadline = runs({**busy, "escalation.policy": "deadline"}, reps=2)
    assert np.all(per_run(ladder, town_max) > limit)
    assert np.all(per_run(deadline, town_max) <= limit + 1e-6)
    assert per_run(ladder, deadline_escalations).sum() == 0
    assert np.all(per_run(deadline, deadline_escalations) > 0)


def test_shirking_escalates_more_and_resolves_higher():
    honest = runs({**LADDER, "escalation.shirking_probability": 0.0})
    shirk = runs({**LADDER, "escalation.shirking_probability": 0.2})
    d_esc = kpi(shirk, "escalation_rate") - kpi(honest, "escalation_rate")
    assert np.all((d_esc > 0.01) & (d_esc < 0.4))
    d_grid = kpi(honest, "share_resolved_in_grid") - kpi(shirk, "share_resolved_in_grid")
    assert np.all(d_grid > 0.02)
    assert np.all(kpi(shirk, "resolved_share_county") > kpi(honest, "resolved_share_county"))


# ------------------------------------------------------------------ 8. supervision


#: Brush-offs frequent enough to measure (both arms), neither accountability nor callbacks.
LAX = {
    "supervision.brush_off_intercept": -1.0,
    "supervision.brush_off_per_gap": 0.5,
    "supervision.accountability": 0.0,
    "supervision.callback_rate": 0.0,
    "supervision.callback_detects": 0.8,
}


def test_accountability_curbs_brush_offs():
    lax, accountable = runs(LAX), runs({**LAX, "supervision.accountability": 3.0})
    assert np.all(kpi(lax, "brush_off_rate") > 0.02)
    assert np.all(kpi(accountable, "brush_off_rate") < 0.3 * kpi(lax, "brush_off_rate"))
    assert np.all(kpi(accountable, "resolution_gap") < kpi(lax, "resolution_gap"))
    # A brush-off closes the order without settling the issue: that is the resolution gap.
    for r in lax:
        assert r.kpis["resolution_gap"] == pytest.approx(r.kpis["brush_off_rate"])


def settled_share(r) -> float:
    """Share of the issues the platform knew of that were truly settled by the horizon."""
    known = r.issues[r.issues["first_known"].notna()]
    return float(known["resolved"].notna().mean())


def test_callbacks_find_false_closures_and_settle_the_issues_later():
    def brushed_left_open(r):
        issues = r.orders.loc[r.orders["brushed_off"], "issue"].unique()
        return r.issues.set_index("issue").loc[issues, "resolved"].isna().mean()

    lax, called = runs(LAX), runs({**LAX, "supervision.callback_rate": 1.0})
    assert np.all(kpi(lax, "false_closures_found") == 0)
    found = kpi(called, "false_closures_found")
    brushed = per_run(called, lambda r: r.orders["brushed_off"].sum())
    # Every callback detects with probability callback_detects (those due before the horizon).
    assert np.all((found > 0.5 * 0.8 * brushed) & (found <= brushed))
    assert np.all(per_run(called, brushed_left_open) < per_run(lax, brushed_left_open) - 0.3)
    # More of the issues the platform knew of are truly settled by the end.
    assert np.all(per_run(called, settled_share) > per_run(lax, settled_share))


# ------------------------------------------------------------------ 9. one-stop centres


def test_merged_centres_cut_hand_off_time():
    hours = {"centre.handoff_hours": 8.0, "centre.merged_handoff_hours": 1.0}
    separate = runs({**hours, "centre.merged_town": False, "centre.merged_county": False}, reps=2)
    merged = runs({**hours, "centre.merged_town": True, "centre.merged_county": True}, reps=2)
    assert np.all(kpi(separate, "handoff_hours_per_order") > 0)
    ratio = kpi(merged, "handoff_hours_per_order") / kpi(separate, "handoff_hours_per_order")
    # Every hand-off takes 1 hour instead of 8 (and a grid's orders go to one desk).
    assert np.all(ratio < 2 / 8)
    assert np.all(kpi(merged, "resolution_time_mean_h") < kpi(separate, "resolution_time_mean_h"))


def test_pooled_town_centre_cuts_town_waits():
    def town_wait(r):
        w = level_waits(r)
        return w.loc[w["level"] == TOWN, "wait"].mean()

    def officers(r):
        return (r.staff["role"] == BASE.staffing.town_desk_role).sum()

    separate, pooled = runs(BUSY_TOWN), runs({**BUSY_TOWN, "centre.merged_town": True})
    assert per_run(pooled, officers).tolist() == per_run(separate, officers).tolist()
    w_sep, w_pool = per_run(separate, town_wait), per_run(pooled, town_wait)
    assert np.all(w_pool >= 0)
    assert w_pool.mean() < 0.9 * w_sep.mean()


# ------------------------------------------------------------------ 10. incidents


def test_higher_hazards_mean_more_incidents_on_the_same_issues():
    base, risky = runs(), runs(HAZARD)
    for r_base, r_risky in zip(base, risky, strict=True):
        # Incidents do not feed back into handling, and a higher hazard only brings each
        # issue's incident time forward: the incident set can only grow.
        hit = set(r_base.issues.loc[r_base.issues["incident"], "issue"])
        hit_risky = set(r_risky.issues.loc[r_risky.issues["incident"], "issue"])
        assert hit <= hit_risky
    assert kpi(risky, "incidents").sum() > max(10, 2 * kpi(base, "incidents").sum())
    assert np.all(kpi(risky, "expected_incidents") > kpi(base, "expected_incidents"))
    at_risk = per_run(risky, lambda r: r.issues["category"].isin(INCIDENT_CATEGORIES).sum())
    assert np.all(kpi(risky, "incidents") <= at_risk)
    for r in risky:
        years = DAYS / 365
        expected = r.kpis["incidents"] / BASE.population * 1e5 / years
        assert r.kpis["incidents_per_100k_per_year"] == pytest.approx(expected, rel=1e-9)
        assert r.kpis["incidents"] == (r.events["event"] == CODE["incident"]).sum()


#: Five times the department officers and four times the county desk officers.
MORE_COUNTY_STAFF = {f"departments.{d.key}.staff": 5 * d.staff for d in BASE.departments}
MORE_COUNTY_STAFF["centre.county_desks"] = {k: 4 * v for k, v in BASE.centre.county_desks.items()}


def test_faster_county_resolution_means_no_more_incidents():
    def county_hours(r):
        return resolution_hours(r.orders[r.orders["resolved_level"] == COUNTY]).mean()

    base, fast = runs(HAZARD), runs({**HAZARD, **MORE_COUNTY_STAFF})
    assert per_run(fast, county_hours).mean() < per_run(base, county_hours).mean()
    assert kpi(fast, "expected_incidents").sum() <= kpi(base, "expected_incidents").sum()


# ------------------------------------------------------------------ 11. externality


#: Every issue of an incident-prone category is minority-negative (both arms), so that
#: incidents among them are counted whether or not the issue was ever reported.
ALL_MINORITY = {f"categories.{k}.negative_externality_share": 1.0 for k in INCIDENT_CATEGORIES}


def externality(policy: str, hazard_factor: float | None = None):
    overrides = {**SLOW_HAZARD, **ALL_MINORITY, "externality.minority_negative_policy": policy}
    if hazard_factor is not None:
        overrides["externality.mediate_hazard_factor"] = hazard_factor
    return runs(overrides)


def test_declining_minority_negative_appeals_costs_satisfaction():
    def satisfaction(r):
        o = r.orders[r.orders["externality"] == "minority_negative"]
        return o["satisfied"].mean()

    handle, decline = externality("handle"), externality("decline")
    assert np.all(kpi(handle, "declined_share") == 0)
    share = kpi(decline, "declined_share")
    assert np.all((share > 0) & (share <= 1))
    for r in decline:
        declined = r.orders[r.orders["declined"]]
        assert (declined["externality"] == "minority_negative").all()
    assert (per_run(handle, satisfaction) - per_run(decline, satisfaction)).mean() > 0.1


def test_declining_spares_the_majority_but_leaves_issues_open():
    def open_issues(r):
        i = r.issues
        return int((i["first_known"].notna() & i["resolved"].isna()).sum())

    harm = {"externality.harmed_households_mean": 5.0}
    handle = runs({**harm, "externality.minority_negative_policy": "handle"}, reps=2)
    decline = runs({**harm, "externality.minority_negative_policy": "decline"}, reps=2)
    assert np.all(kpi(decline, "households_harmed_per_year") == 0)
    assert np.all(kpi(handle, "households_harmed_per_year") > 0)
    # Every granted minority-negative order harms harmed_households_mean households.
    for r in handle:
        o = r.orders
        granted = (
            (o["externality"] == "minority_negative") & o["resolved"].notna() & ~o["brushed_off"]
        )
        years = r.horizon_hours / 8760
        assert r.kpis["households_harmed_per_year"] == pytest.approx(5.0 * granted.sum() / years)
    assert np.all(per_run(decline, open_issues) > per_run(handle, open_issues) + 10)


def incidents_at_risk(r) -> int:
    i = r.issues
    return int((i["incident"] & i["category"].isin(INCIDENT_CATEGORIES)).sum())


def test_mediation_means_fewer_incidents_from_minority_negative_issues():
    # Mediation cuts the hazard once an issue is known but takes longer (hours x 1.5, all of
    # these orders at the mediation desk); a hazard factor of 0.25 must win.
    handle, mediate = externality("handle"), externality("mediate", 0.25)
    assert per_run(handle, incidents_at_risk).sum() > 20
    assert kpi(mediate, "expected_incidents").sum() < 0.95 * kpi(handle, "expected_incidents").sum()


def test_mediation_slows_the_incident_clock_once_an_issue_is_known():
    factors = (1.0, 0.25, 0.0)
    arms = [externality("mediate", f) for f in factors]
    for reps in zip(*arms, strict=True):
        # The hazard factor does not feed back into handling: a smaller factor can only remove
        # incidents, issue by issue.
        hit = [set(r.issues.loc[r.issues["incident"], "issue"]) for r in reps]
        assert all(low <= high for low, high in zip(hit[1:], hit[:-1], strict=True))
        # With the clock stopped (factor 0), an incident can only come before anyone knew.
        i = reps[-1].issues
        late = i["incident"] & (i["incident_time"] > i["first_known"])
        assert not late.any()
        p = [r.kpis["expected_incidents"] for r in reps]
        assert p[0] > p[1] > p[2]
    counts = [per_run(arm, incidents_at_risk).sum() for arm in arms]
    assert counts[0] > counts[-1]


def test_mediation_cannot_prevent_incidents_of_unreported_issues():
    for r_handle, r_mediate in zip(
        externality("handle"), externality("mediate", 0.25), strict=True
    ):
        a, b = r_handle.issues, r_mediate.issues
        never = a["first_known"].isna()
        # The same issues stay unknown in both arms (arrivals are common random numbers) ...
        assert never.equals(b["first_known"].isna())
        # ... and nothing the platform does can change what happens to them.
        assert a.loc[never, "incident"].equals(b.loc[never, "incident"])


# ------------------------------------------------------------------ 12. evaluation, incentives


def test_dearer_points_raise_the_cost_per_resolved_order():
    still = {"incentives.effort_elasticity": 0.0}
    cheap, dear = runs(still, reps=2), runs({**still, "incentives.yuan_per_point": 20}, reps=2)
    assert np.all(kpi(dear, "cost_per_resolved_yuan") > kpi(cheap, "cost_per_resolved_yuan"))
    for r_cheap, r_dear in zip(cheap, dear, strict=True):
        # Without an effort response the price of a point changes nothing else.
        assert r_dear.kpis["points_total"] == r_cheap.kpis["points_total"]
        assert r_dear.kpis["points_cost_yuan"] == pytest.approx(20 * r_dear.kpis["points_total"])
        resolved = r_dear.orders["resolved"].notna().sum()
        extra = (20 - BASE.incentives.yuan_per_point) * r_dear.kpis["points_total"] / resolved
        diff = r_dear.kpis["cost_per_resolved_yuan"] - r_cheap.kpis["cost_per_resolved_yuan"]
        assert diff == pytest.approx(extra, rel=1e-9)


def test_points_follow_the_formula_and_the_ten_best_are_ranked_by_points():
    inc = BASE.incentives
    for r in runs():
        st = r.staff
        expected = (
            inc.points_per_resolved * st["orders_resolved"]
            + inc.points_per_on_time * st["on_time"]
            + inc.points_per_proactive_find * st["proactive_finds"]
        )
        np.testing.assert_allclose(st["points"].to_numpy(), expected.to_numpy())
        assert st["proactive_finds"].sum() > 0
        best = r.breakdowns["ten_best"]
        assert 0 < len(best) <= 10
        assert (best["role"] == inc.ranking_role).all()
        assert best["points"].is_monotonic_decreasing
        ranked = st[st["role"] == inc.ranking_role]["points"]
        assert best["points"].min() >= ranked.nlargest(len(best)).min()


def test_dissatisfied_residents_reopen_issues_one_level_up():
    # No callbacks (they reopen false closures on the same channel), in both arms.
    never = runs({**NO_BRUSH, "satisfaction.reopen_probability": 0.0}, reps=2)
    always = runs({**NO_BRUSH, "satisfaction.reopen_probability": 1.0}, reps=2)
    assert np.all(kpi(never, "reopen_rate") == 0)
    assert np.all(kpi(always, "reopen_rate") > 0.005)
    for r in always:
        o = r.orders
        # Every dissatisfied first order (not a duplicate) closed early enough is reopened ...
        delay = BASE.satisfaction.feedback_delay_hours
        due = (o["satisfied"] == 0) & ~o["duplicate"] & (o["resolved"] < r.horizon_hours - delay)
        reopened = o[o["channel"] == "reopen"]
        assert 0.5 * due.sum() <= len(reopened) <= due.sum()
        # ... and goes one level above the level that closed it: never to the micro-grid.
        ev = r.events
        first = ev[ev["event"] == CODE["dispatch"]].groupby("order")["level"].first()
        assert (first.reindex(reopened["order"]).dropna() > MICROGRID).all()


# ------------------------------------------------------------------ common random numbers


def _arrival_times(scenario: gridsim.Scenario, r: int) -> np.ndarray:
    rngs = make_streams(seed(r))
    county = build_county(scenario, rngs["county"], rngs["residents"])
    attention = plan_attention(scenario, county)
    settle = settle_probabilities(scenario, county)
    issues = draw_issues(scenario, county, attention, DAYS * 24.0, rngs)
    return draw_arrivals(scenario, county, attention, settle, issues, DAYS * 24.0, rngs).time


def test_a_county_head_count_change_keeps_the_report_stream():
    more = with_overrides(BASE, {"departments.urban_management.staff": 6})
    for r in range(REPS):
        np.testing.assert_array_equal(_arrival_times(BASE, r), _arrival_times(more, r))


def test_staffing_changes_keep_the_issues_and_the_report_stream():
    # Runs cached by the sunk-staff and faster-county tests: no extra simulation.
    pairs = [
        (runs(sunk(0)), runs(sunk(n_grids()))),
        (runs(HAZARD), runs({**HAZARD, **MORE_COUNTY_STAFF})),
    ]
    for before, after in pairs:
        for a, b in zip(before, after, strict=True):
            np.testing.assert_array_equal(a.issues["arose"], b.issues["arose"])
            np.testing.assert_array_equal(a.issues["first_report"], b.issues["first_report"])


def test_county_head_counts_keep_the_microgrid_teams():
    for a, b in zip(runs(HAZARD), runs({**HAZARD, **MORE_COUNTY_STAFF}), strict=True):
        team_a = a.staff[a.staff["level"] == MICROGRID]
        team_b = b.staff[b.staff["level"] == MICROGRID]
        assert team_a["female"].tolist() == team_b["female"].tolist()
        assert team_a["skills"].tolist() == team_b["skills"].tolist()


def test_merging_the_county_centre_keeps_the_report_stream():
    merged = runs({"centre.merged_county": True}, reps=2, days=30)
    for a, b in zip(runs(reps=2, days=30), merged, strict=True):
        np.testing.assert_array_equal(a.issues["first_report"], b.issues["first_report"])
