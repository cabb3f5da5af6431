"""The published Chayekou visit figures, reproduced by the noticing race (issue 10).

[cyk] Chayekou town (Laiwu, 2024): 1,026 household visits found 234 issues (22.8 % per
visit), 201 of them solved on the spot (85.9 %). ``scenarios/chayekou.toml`` sizes a town
like it (37,000 residents, 64 grids, one full-time grid worker each, the grid workers'
visits only); the finds per visit come out of the stock of unnoticed issues that the race
leaves, and the share solved on the spot out of the finders' capability. Both must be
within 10 % of the published figures.
"""

from __future__ import annotations

import numpy as np
import pytest

import gridsim

PUBLISHED = {"finds_per_visit": 234 / 1026, "on_spot_share": 201 / 234}


@pytest.fixture(scope="module")
def runs() -> list[dict[str, float]]:
    s = gridsim.load_scenario("scenarios/chayekou.toml")
    return [gridsim.simulate(s, seed=seed, log_events=False).kpis for seed in (1, 2)]


@pytest.mark.parametrize("kpi", sorted(PUBLISHED))
def test_chayekou_visit_figures_within_ten_percent(runs: list[dict[str, float]], kpi: str):
    value = float(np.mean([r[kpi] for r in runs]))
    assert value == pytest.approx(PUBLISHED[kpi], rel=0.10), f"{kpi} = {value:.3f}"


def test_chayekou_is_sized_like_the_source():
    s = gridsim.load_scenario("scenarios/chayekou.toml")
    county = gridsim.model.county.build_county(
        s, np.random.default_rng(1), np.random.default_rng(2)
    )
    counts = county.counts()
    assert counts["grid"] == 64
    assert county.staff.role.count("grid_worker") == 64  # [cyk]: 60 full-time workers, 64 grids
