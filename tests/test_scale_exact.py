"""Issue 13 (speed with ten times more micro-grids): the per-unit work done on whole columns
gives the same numbers, bit for bit, as the unit-by-unit code it replaced.

The references below are that code (commit a8526f2): the capability log-odds and the
attention plan, unit by unit, and a generator per unit for the team draws.
"""

from __future__ import annotations

import copy
import zlib
from pathlib import Path

import numpy as np
import pytest

import gridsim
from gridsim.model.attention import (
    _plan_contacts,
    _plan_visits,
    _visit_hours,
    effort_multiplier,
    linked_contacts,
    plan_attention,
)
from gridsim.model.capability import CERTAIN, capability_logits
from gridsim.model.county import _Builder, build_county
from gridsim.model.loader import with_overrides
from gridsim.model.seeds import keyed_uniforms
from gridsim.model.vocabulary import COUNTY, GRID, LEVELS, MICROGRID

ROOT = Path(__file__).resolve().parents[1]


def _scenarios() -> list[gridsim.Scenario]:
    one = gridsim.load_scenario(ROOT / "scenarios" / "one_town.toml")
    busy = with_overrides(one, {
        "departments.civil_affairs.sunk_staff": 3,
        "departments.justice.sunk_staff": 2,
        "party.active_group_share": 0.6,
        "party.in_service_members_per_urban_microgrid": 2,
        "capability.quanke_grid": 0.5,
        "capability.helpers": 0.2,
        "party.capability": 0.4,
    })  # fmt: skip
    names = ("one_town", "pingyi_before_reform", "chayekou")
    return [gridsim.load_scenario(ROOT / "scenarios" / f"{n}.toml") for n in names] + [busy]


SCENARIOS = _scenarios()


def _county(s: gridsim.Scenario, seed: int):
    return build_county(s, np.random.default_rng(seed), np.random.default_rng(seed + 1))


# ------------------------------------------------------------------ references


def _capability_unit_by_unit(s, county) -> np.ndarray:
    g = county.graph.nodes
    staff = county.staff
    cap = s.capability
    cats = s.categories
    complexity = np.array([c.complexity for c in cats])
    needs = [frozenset(c.skills) for c in cats]
    departments = [c.department for c in cats]
    out = np.zeros((county.n_units, len(cats)))
    for uid in range(county.n_units):
        node = g[uid]
        level = node["level"]
        members = node["staff"]
        base = cap.level_base.get(LEVELS[level], 0.0)
        resolvers = staff.resolvers(members)
        base += max((staff.training[m] for m in resolvers), default=0.0)
        has = frozenset().union(*(staff.skills[m] for m in members)) if members else frozenset()
        if level == GRID:
            base += cap.quanke_grid
        if node.get("party_active", False):
            base += s.party.capability
        if level == MICROGRID and any("help" in staff.duties[m] for m in members):
            base += cap.helpers
        sunk = frozenset(node.get("sunk", ()))
        for k in range(len(cats)):
            value = base - complexity[k]
            if needs[k]:
                value += cap.skill_match if needs[k] <= has else cap.skill_missing
            if departments[k] in sunk:
                value += cap.sunk_department
            out[uid, k] = value
        if level == COUNTY:
            out[uid, :] = CERTAIN
    return out


def _attention_unit_by_unit(s, county):
    g = county.graph.nodes
    staff = county.staff
    n = county.n_units
    visits = np.zeros(n)
    visit_hours = np.full(n, s.proactive.hours_per_visit)
    contacts = np.zeros(n)
    visitors: list[list[int]] = [[] for _ in range(n)]
    effort = effort_multiplier(s)
    grid_visits: dict[int, float] = {}
    origins = set(county.origin_units.tolist())
    grids = set(county.grid_of[county.origin_units].tolist())
    for uid in sorted(origins | grids):
        node = g[uid]
        covered = max(node["households"], 1)
        hours = _visit_hours(s, covered, node.get("urban", False))
        visit_hours[uid] = hours
        per_household = 0.0
        for sid in node["staff"]:
            if "visit" in staff.duties[sid] and s.proactive.enabled:
                per_household += _plan_visits(s, staff, sid, covered, hours, effort)
                visitors[uid].append(sid)
            if "notice" in staff.duties[sid]:
                contacts[uid] += _plan_contacts(s, staff, sid, covered)
        if uid not in origins:
            grid_visits[uid] = per_household
        else:
            visits[uid] += per_household
    for uid in county.origin_units:
        grid = int(county.grid_of[uid])
        if grid != uid:
            visits[uid] += grid_visits.get(grid, 0.0)
            visitors[uid] = visitors[uid] + visitors[grid]
    p = s.party
    households = np.array([max(g[u]["households"], 1) for u in range(n)], dtype=float)
    coverage = np.clip(county.party_members * p.households_per_member / households, 0, 1)
    party_contacts = np.where(coverage > 0, linked_contacts(s), 0.0)
    return visits, visit_hours, contacts, coverage, party_contacts, visitors, effort


# ------------------------------------------------------------------ tests


@pytest.mark.parametrize("s", SCENARIOS, ids=["one_town", "before", "chayekou", "busy"])
def test_capability_log_odds_are_the_unit_by_unit_ones(s):
    county = _county(s, 7)
    assert capability_logits(s, county).tobytes() == _capability_unit_by_unit(s, county).tobytes()


@pytest.mark.parametrize("s", SCENARIOS, ids=["one_town", "before", "chayekou", "busy"])
def test_the_attention_plan_is_the_unit_by_unit_one(s):
    county = _county(s, 8)
    ref_county = copy.deepcopy(county)
    got = plan_attention(s, county)
    ref = _attention_unit_by_unit(s, ref_county)
    for name, a, b in zip(("visits", "visit_hours", "contacts", "party_coverage",
                           "party_contacts"), (got.visits, got.visit_hours, got.contacts,
                           got.party_coverage, got.party_contacts), ref, strict=False):  # fmt: skip
        assert a.tobytes() == b.tobytes(), name
    assert got.visitors == ref[5]
    assert got.effort == ref[6]
    for column in ("visit_hours_per_month", "visits_per_month", "contact_hours_per_month"):
        assert getattr(county.staff, column) == getattr(ref_county.staff, column), column


@pytest.mark.parametrize("base", [0, 1, 2**32 - 1, 2**32, 12345, 2**62 + 99, 2**63 - 1])
@pytest.mark.parametrize("tail", [(), (1,), (2**40,)])
def test_keyed_uniforms_are_numpys_default_rng(base, tail):
    keys = [0, 1, 2**32 - 1] + [zlib.crc32(f"unit {i}".encode()) for i in range(60)]
    counts = [(7 * i) % 26 for i in range(len(keys))]  # 0 to 25, ragged
    drawn = keyed_uniforms(base, keys, counts, *tail)
    assert drawn.shape == (len(keys), max(counts))
    for key, n, row in zip(keys, counts, drawn, strict=True):
        assert row[:n].tolist() == np.random.default_rng([base, key, *tail]).random(n).tolist()
        assert np.isnan(row[n:]).all()


def test_a_unit_drawing_past_its_numbers_drawn_ahead_goes_on_with_its_generator():
    s = SCENARIOS[0]
    b = _Builder(s, np.random.default_rng(3))
    uid = b.unit("grid", GRID, "a grid", None)
    b.plan.append(("hire", uid, "grid_worker", 2, 1.0))
    b._draw_ahead({})
    ahead = len(b.drawn[uid])
    ref = np.random.default_rng([b.base, zlib.crc32(b"a grid")]).random(ahead + 8).tolist()
    got = b.uniforms(uid, ahead - 1) + b.uniforms(uid, 3) + b.uniforms(uid, 1)
    got += b.uniforms(uid, 5)
    assert got == ref
