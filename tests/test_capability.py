"""What a unit can settle (``gridsim.model.capability``): hand-computed log-odds, and the runs.

A unit settles an order of a category with probability ``logistic(level base + best training
among its resolvers + skills + sunk department + 全科 (grids) + Party group + helpers −
complexity)``; the county always decides. The cases below set every term to a round number and
compare the model with the sum worked out by hand.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import gridsim
from gridsim.model.capability import (
    CERTAIN,
    brush_off_probability,
    capability_logits,
    settle_probabilities,
)
from gridsim.model.county import build_county
from gridsim.model.loader import with_overrides
from gridsim.model.vocabulary import COUNTY, MICROGRID, TOWN

ROOT = Path(__file__).resolve().parents[1]
BASE = gridsim.load_scenario(ROOT / "scenarios" / "one_town.toml")
CAT = "household_needs"  # no skills needed; department civil_affairs (nothing sunk there)

#: Round numbers for every term; every grid and micro-grid role's training and skills fixed.
ROUND = {
    "capability.level_base": {"microgrid": 0.3, "grid": 1.0, "town": 2.0, "county": 30.0},
    "capability.quanke_grid": 0.5,
    "capability.helpers": 0.2,
    "capability.skill_match": 1.0,
    "capability.skill_missing": -2.0,
    "capability.sunk_department": 1.5,
    "party.capability": 0.4,
    "party.active_group_share": 1.0,
    "roles.microgrid_leader.training": 0.5,
    "roles.grid_worker.training": 1.0,
    "roles.grid_leader.training": 0.3,
    "roles.grid_instructor.training": 0.2,
    "roles.town_officer.training": 0.5,
    "roles.department_officer.training": 0.25,
    "departments.civil_affairs.sunk_staff": 0,
    f"categories.{CAT}.complexity": 1.0,
    f"categories.{CAT}.skills": [],
}
for _role in ("microgrid_leader", "grid_assistant", "volunteer", "grid_worker", "grid_leader",
              "grid_instructor", "department_officer"):  # fmt: skip
    ROUND[f"roles.{_role}.skills"] = {}


def logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def built(overrides: dict):
    s = with_overrides(BASE, {**ROUND, **overrides})
    county = build_county(s, np.random.default_rng(1), np.random.default_rng(2))
    return s, county


def first(county, kind: str, where=lambda node: True) -> int:
    return next(u for u in county.units_of_kind(kind) if where(county.graph.nodes[u]))


@pytest.mark.parametrize(
    ("overrides", "kind", "logit"),
    [
        # micro-grid: base 0.3 + leader's training 0.5 + party 0.4 + helpers 0.2 - complexity 1
        ({}, "microgrid", 0.3 + 0.5 + 0.4 + 0.2 - 1.0),
        # no party group, no helpers (the leader alone)
        (
            {"party.active_group_share": 0.0, "staffing.microgrid": {"microgrid_leader": 1}},
            "microgrid",
            0.3 + 0.5 - 1.0,
        ),
        # a team that has the skill the category needs, and one that lacks it
        (
            {f"categories.{CAT}.skills": ["mediator"], "roles.volunteer.skills": {"mediator": 1}},
            "microgrid",
            0.3 + 0.5 + 0.4 + 0.2 + 1.0 - 1.0,
        ),
        (
            {f"categories.{CAT}.skills": ["mediator"]},
            "microgrid",
            0.3 + 0.5 + 0.4 + 0.2 - 2.0 - 1.0,
        ),
        # grid: base 1 + the best training (the grid worker's 1.0) + 全科 0.5 - complexity 1
        ({}, "grid", 1.0 + 1.0 + 0.5 - 1.0),
        # without the grid worker the best training is the leader's 0.3
        (
            {"staffing.grid": {"grid_instructor": 1, "grid_leader": 1}},
            "grid",
            1.0 + 0.3 + 0.5 - 1.0,
        ),
        # town desk: base 2 + officer's training 0.5 - complexity 1
        ({}, "town_desk", 2.0 + 0.5 - 1.0),
    ],
    ids=["microgrid", "leader-alone", "skill-match", "skill-missing", "grid", "no-worker", "town"],
)
def test_settle_probability_is_the_logistic_of_the_summed_log_odds(overrides, kind, logit):
    s, county = built(overrides)
    k = [c.key for c in s.categories].index(CAT)
    if kind == "town_desk":
        unit = first(county, "centre", lambda n: n["level"] == TOWN)
    else:
        unit = first(county, kind)
    assert capability_logits(s, county)[unit, k] == pytest.approx(logit, abs=1e-12)
    assert settle_probabilities(s, county)[unit, k] == pytest.approx(logistic(logit), rel=1e-12)


def test_a_sunk_officer_adds_the_department_term_for_its_departments_categories_only():
    s, county = built({"departments.civil_affairs.sunk_staff": 1})
    cats = [c.key for c in s.categories]
    k = cats.index(CAT)
    other = next(i for i, c in enumerate(s.categories) if c.department != "civil_affairs"
                 and not c.skills)  # fmt: skip
    sunk = first(county, "grid", lambda n: "civil_affairs" in n.get("sunk", ()))
    plain = first(county, "grid", lambda n: not n.get("sunk"))
    logits = capability_logits(s, county)
    assert logits[sunk, k] - logits[plain, k] == pytest.approx(1.5)
    assert logits[sunk, other] == pytest.approx(logits[plain, other])
    assert logits[sunk, k] == pytest.approx(1.0 + 1.0 + 0.5 + 1.5 - 1.0)


def test_the_county_always_decides():
    # Even a category far beyond the county's base (complexity 50 > base 30) is settled there.
    s, county = built({f"categories.{CAT}.complexity": 50.0})
    p = settle_probabilities(s, county)
    county_units = [u for u, lvl in county.graph.nodes(data="level") if lvl == COUNTY]
    assert len(county_units) > 10
    assert (p[county_units] == 1.0).all()
    below = [u for u, lvl in county.graph.nodes(data="level") if lvl < COUNTY]
    k = [c.key for c in s.categories].index(CAT)
    assert (p[below, k] == 0.0).all()  # log-odds beyond -CERTAIN are exactly 0


def test_probabilities_are_the_logistic_of_the_logits_everywhere_below_the_county():
    county = build_county(BASE, np.random.default_rng(3), np.random.default_rng(4))
    p = settle_probabilities(BASE, county)
    logits = capability_logits(BASE, county)
    inside = np.abs(logits) < CERTAIN
    np.testing.assert_allclose(p[inside], 1 / (1 + np.exp(-logits[inside])), rtol=1e-12)
    assert ((p >= 0) & (p <= 1)).all()


@pytest.mark.parametrize(
    ("brush", "p", "waiting", "expected"),
    [
        # no gap (p >= 1/2), no queue: logistic(-3)
        ((-3.0, 0.5, 0.3), 0.5, 0.0, logistic(-3.0)),
        ((-3.0, 0.5, 0.3), 0.9, 0.0, logistic(-3.0)),
        # gap -logit(0.2) = ln 4, two orders waiting per handler: -3 + 0.5 ln 4 + 0.6
        ((-3.0, 0.5, 0.3), 0.2, 2.0, logistic(-3.0 + 0.5 * math.log(4) + 0.6)),
        # accountability moves the intercept down: -3 - 2 = -5
        ((-5.0, 0.5, 0.3), 0.2, 2.0, logistic(-5.0 + 0.5 * math.log(4) + 0.6)),
        # an order the unit can never settle: the gap is CERTAIN
        ((-3.0, 0.1, 0.0), 0.0, 0.0, logistic(-3.0 + 0.1 * CERTAIN)),
        # brush-offs switched off
        ((-50.0, 0.0, 0.0), 0.2, 0.0, logistic(-50.0)),
    ],
)
def test_brush_off_probability_is_hand_computed(brush, p, waiting, expected):
    assert brush_off_probability(brush, p, waiting) == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------ where orders are settled


def settled_levels(overrides: dict, category: str, seed: int = 1, days: int = 30) -> np.ndarray:
    """Levels of the orders of a category that were truly settled (fresh orders only)."""
    r = gridsim.simulate(with_overrides(BASE, overrides), seed=seed, days=days)
    o = r.orders
    good = (
        (o["category"] == category)
        & o["resolved"].notna()
        & ~o["brushed_off"]
        & ~o["declined"]
        & (o["channel"] != "reopen")
    )
    return o.loc[good, "resolved_level"].to_numpy()


@pytest.mark.parametrize("policy", ["strict_ladder", "direct_triage"])
def test_an_easy_category_is_settled_at_the_microgrid(policy):
    levels = settled_levels(
        {f"categories.{CAT}.complexity": -30.0, "escalation.policy": policy}, CAT
    )
    assert len(levels) > 100
    assert (levels == MICROGRID).all()


@pytest.mark.parametrize("policy", ["strict_ladder", "direct_triage"])
def test_a_hard_category_is_settled_only_at_the_county(policy):
    # Brush-offs off: a unit facing an order far beyond it would otherwise close it almost
    # surely (the gap term grows without bound), and few would reach the county in a month.
    key = "problem_reports"
    overrides = {
        f"categories.{key}.complexity": 30.0,
        "escalation.policy": policy,
        "supervision.brush_off_intercept": -50.0,
    }
    levels = settled_levels(overrides, key)
    assert len(levels) > 30
    assert (levels == COUNTY).all()
