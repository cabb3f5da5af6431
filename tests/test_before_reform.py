"""The county before the reform: the scenario file, its experiment, and the direction of the reform.

``scenarios/pingyi_before_reform.toml`` is the baseline county before the Party-led grid
reform; ``scenarios/experiments/before_after_reform.toml`` reproduces it as the overrides of
its "before the reform" variant on top of the baseline. These tests check that the two agree,
that the county built from the file has large grids and no micro-grids, and that a short
paired run (common random numbers, a scaled-down copy of the county) shows the direction the
practice claims: after the reform issues are noticed sooner and more of them are settled
inside the grid. Bounds are directions with a minimum size, not calibrated values.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

import numpy as np
import pytest

import gridsim
from gridsim.model.county import build_county
from gridsim.model.loader import with_overrides

ROOT = Path(__file__).resolve().parents[1]
BEFORE_FILE = ROOT / "scenarios" / "pingyi_before_reform.toml"
EXPERIMENT_FILE = ROOT / "scenarios" / "experiments" / "before_after_reform.toml"
#: The scaled-down county of the paired run: the urban street and one rural town, as in the
#: baseline (about 256,000 residents), for 60 days.
TOWNS = ("Pingyi Street", "Bailin")
DAYS = 60
REPS = 2


def _experiment() -> dict:
    with EXPERIMENT_FILE.open("rb") as f:
        return tomllib.load(f)


def _variant(name: str) -> dict:
    for variant in _experiment()["variants"]:
        if variant["name"] == name:
            return variant
    raise AssertionError(f"{EXPERIMENT_FILE.name} has no variant {name!r}")


@functools.cache
def _scenarios() -> tuple[gridsim.Scenario, gridsim.Scenario, gridsim.Scenario]:
    """The before-reform file, the baseline, and the baseline with the "before" overrides."""
    base = (EXPERIMENT_FILE.parent / _experiment()["experiment"]["base"]).resolve()
    baseline = gridsim.load_scenario(base)
    from_overrides = with_overrides(baseline, _variant("before the reform")["overrides"])
    return gridsim.load_scenario(BEFORE_FILE), baseline, from_overrides


def _differences(a: object, b: object, where: str = "") -> list[str]:
    """Dotted paths where two dumped scenarios differ (records named by key or name)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            path = f"{where}.{k}" if where else str(k)
            if k not in a or k not in b:
                out.append(f"{path} (only in one)")
            else:
                out.extend(_differences(a[k], b[k], path))
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            name = x.get("key") or x.get("name") if isinstance(x, dict) else None
            out.extend(_differences(x, y, f"{where}.{name if name else i}"))
        return out
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def test_the_before_reform_file_loads_and_differs_from_the_baseline():
    before, baseline, _ = _scenarios()
    assert before.meta.name != baseline.meta.name
    assert not before.grids.microgrids and before.grids.households_per_grid == 1000
    assert before.escalation.policy == "strict_ladder"
    shares = {c.key: c.share for c in before.channels}
    assert shares["app"] == 0 and all(shares[k] > 0 for k in shares if k != "app")
    assert sum(c.share for c in before.channels) == pytest.approx(1, abs=1e-6)
    assert before.party.active_group_share == 0 and before.capability.quanke_grid == 0
    assert before.supervision.callback_rate == 0
    assert "grid_instructor" not in before.staffing.grid
    assert all(d.sunk_staff == 0 for d in before.departments)


def test_the_experiments_before_variant_reproduces_the_before_reform_file():
    before, _, from_overrides = _scenarios()
    a = before.model_dump(mode="json", exclude={"meta"})
    b = from_overrides.model_dump(mode="json", exclude={"meta"})
    assert a == b, "the file and the experiment's overrides differ at " + "; ".join(
        _differences(a, b)
    )


def test_the_experiments_after_variant_is_the_baseline():
    experiment = _experiment()["experiment"]
    assert experiment["baseline"] in ("before the reform", "after the reform")
    assert _variant("after the reform").get("overrides", {}) == {}


def test_the_county_before_the_reform_has_large_grids_and_no_microgrids():
    before, _, _ = _scenarios()
    county = build_county(before, np.random.default_rng(1), np.random.default_rng(2))
    counts = county.counts()
    assert counts.get("microgrid", 0) == 0
    households = before.population / before.county.persons_per_household
    assert counts["grid"] == pytest.approx(households / 1000, rel=0.05)
    nodes = county.graph.nodes
    grids = county.units_of_kind("grid")
    households = np.array([nodes[u]["households"] for u in grids])
    assert households.min() >= 900 and households.max() <= 1100
    # Issues arise in the grids themselves (and the exclusive grids): the grid is the bottom.
    assert set(grids) <= set(county.origin_units.tolist())
    roles = {county.staff.role[m] for u in grids for m in nodes[u]["staff"]}
    assert roles == {"grid_leader", "grid_worker"}  # no instructor, no sunk officers
    assert county.party_members.sum() == 0 and not county.party_active.any()


@functools.cache
def _paired_runs() -> list[tuple[dict[str, float], dict[str, float]]]:
    """(before, after) KPIs of a scaled-down county, on the same replication seeds."""
    _, baseline, before = _scenarios()
    towns = [t.model_dump(mode="json") for t in baseline.county.towns if t.name in TOWNS]
    small = {"county.towns": towns}
    before, after = with_overrides(before, small), with_overrides(baseline, small)
    entropy = _experiment()["experiment"]["seed"]
    out = []
    for r in range(REPS):
        seed = np.random.SeedSequence(entropy, spawn_key=(r,))
        out.append(
            (
                gridsim.simulate(before, seed=seed, days=DAYS, log_events=False).kpis,
                gridsim.simulate(after, seed=seed, days=DAYS, log_events=False).kpis,
            )
        )
    return out


def test_after_the_reform_issues_are_noticed_sooner():
    for before, after in _paired_runs():
        assert 0 <= before["noticed_7d_share"] <= 1 and 0 <= after["noticed_7d_share"] <= 1
        assert after["noticed_7d_share"] > before["noticed_7d_share"] + 0.05


def test_after_the_reform_more_issues_are_settled_inside_the_grid():
    for before, after in _paired_runs():
        assert 0 <= before["share_settled_in_grid"] <= 1
        assert 0 <= after["share_settled_in_grid"] <= 1
        assert after["share_settled_in_grid"] > before["share_settled_in_grid"] + 0.05
