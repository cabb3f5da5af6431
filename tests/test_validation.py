"""gridsim against queueing theory: the same checks `gridsim validate` prints."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gridsim.analysis import queueing as theory
from gridsim.model.capability import CERTAIN, settle_probabilities
from gridsim.model.county import build_county
from gridsim.validation.theory_checks import (
    check_erlang_c,
    check_jackson,
    erlang_c_across_loads,
    level_waits,
    queue_scenario,
)


@pytest.fixture(scope="module")
def mmc_rows():
    """The M/M/3 check (8 replications of 80 days): computed once for the two tests below."""
    return tuple(check_erlang_c(replications=8, days=80))


def test_mmc_reduction_agrees_with_erlang_c(mmc_rows):
    rows = mmc_rows
    by_quantity = {r.quantity: r for r in rows}
    wait = by_quantity["mean wait (h)"]
    assert wait.ci_low <= wait.theory <= wait.ci_high
    # The interval is informative: narrow enough that a wrong model would fall outside it.
    assert wait.ci_high - wait.ci_low < 0.5 * wait.theory
    p = by_quantity["P(wait)"]
    assert p.ci_low <= p.theory <= p.ci_high
    assert all(r.passed for r in rows), rows


def test_three_level_escalation_agrees_with_jackson():
    rows = check_jackson(escalation=(0.4, 0.5), service_rates=(1.0, 0.8, 0.6), servers=(2, 1, 1),
                         microgrids_per_grid=1, grids=1, replications=10, days=120)  # fmt: skip
    assert len(rows) == 3
    assert all(r.passed for r in rows), rows


def test_four_level_hierarchy_with_several_units_agrees_with_jackson():
    rows = check_jackson(replications=10, days=120)
    assert [r.quantity for r in rows][-1] == "mean wait at county (h)"
    assert all(r.passed for r in rows), rows


def test_erlang_c_across_loads_and_server_counts():
    rows = erlang_c_across_loads(replications=6, days=100)
    assert len(rows) == 8
    assert all(r.passed for r in rows), [r for r in rows if not r.passed]


def test_a_wrong_model_would_fail(mmc_rows):
    """The check has power: a 20 % slower service lies outside the interval."""
    wait = mmc_rows[0]
    wrong = theory.erlang_c(2.4, 1.0 / 1.08, 3).mean_wait
    assert not (wait.ci_low <= wrong <= wait.ci_high)


def test_queue_scenario_routes_as_specified():
    s = queue_scenario(1.0, [1.0, 1.0], [1, 1], [0.25], days=40, warmup_days=0)
    # Who settles is capability (log-odds): the micro-grid settles 3 orders in 4, the grid
    # (30 log-odds: certain) the rest; nothing is brushed off.
    base = s.capability.level_base
    assert base["microgrid"] == pytest.approx(math.log(0.75 / 0.25))
    assert base["grid"] >= CERTAIN and s.categories[0].complexity == 0
    county = build_county(s, np.random.default_rng(1), np.random.default_rng(2))
    settle = settle_probabilities(s, county)
    microgrid = county.origin_units[0]
    assert settle[microgrid, 0] == pytest.approx(0.75)
    assert settle[county.grid_of[microgrid], 0] == 1.0
    import gridsim

    r = gridsim.simulate(s, seed=1)
    waits = level_waits(r, r.horizon_hours)
    share = len(waits[1]) / len(waits[0])
    assert share == pytest.approx(0.25, abs=0.04)
