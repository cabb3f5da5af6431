"""Issue 13 (speed and memory) around the engine: the faster code gives the same numbers.

The county builder, the noticing race's choice tables, the engine's per-issue sequences, the
KPIs and the breakdowns were rewritten for speed and memory without changing a result: the
golden digests below were computed with the code before the rewrite (commit 94ce5c3).
"""

from __future__ import annotations

import hashlib
import json
import zlib

import numpy as np
import pandas as pd
import pytest

import gridsim
from gridsim.model.appeals import Issues, later_draws
from gridsim.model.county import build_county
from gridsim.model.kpis import Rows, mean, total
from gridsim.model.noticing import _choice_table, _ragged
from gridsim.model.seeds import keyed_generators, make_streams, seed_sequence

# ------------------------------------------------------------------ golden results


def _county_digest(s: gridsim.Scenario) -> str:
    rngs = make_streams(seed_sequence(3, s.meta.seed))
    c = build_county(s, rngs["county"], rngs["residents"])
    st = c.staff
    parts = [st.role, st.unit, st.female, [sorted(k) for k in st.skills], st.speed,
             st.hours_per_week, st.task_hours_per_week, [sorted(d) for d in st.duties],
             st.training, c.party_members.tolist(), c.party_active.tolist(),
             c.no_smartphone.tolist()]  # fmt: skip
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _run_digest(r: gridsim.RunResult) -> str:
    h = hashlib.sha256()
    for name in ("events", "appeals", "orders", "issues", "staff", "units", "backlog"):
        df = getattr(r, name)
        h.update(str(list(df.dtypes.astype(str).items())).encode())
        h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    h.update(json.dumps({k: repr(v) for k, v in r.kpis.items()}).encode())
    for name, df in r.breakdowns.items():
        h.update(name.encode())
        h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize(
    ("scenario", "digest"),
    [("one_town.toml", "90c87c3ec808ee16"), ("pingyi_before_reform.toml", "d68ffce80575148b")],
)
def test_the_county_is_built_as_before(repo, scenario, digest):
    """Teams, skills, Party groups and paces as the generator-per-unit builder drew them."""
    assert _county_digest(gridsim.load_scenario(repo / "scenarios" / scenario)) == digest


def test_a_run_gives_the_same_tables_kpis_and_breakdowns_as_before(one_town):
    assert _run_digest(gridsim.simulate(one_town, seed=5, days=30)) == "03e8397f550dfcde"


# ------------------------------------------------------------------ seeds


@pytest.mark.parametrize("base", [0, 1, 2**32 - 1, 2**32, 12345, 2**62 + 99, 2**63 - 1])
@pytest.mark.parametrize("tail", [(), (1,), (0,), (2**40,)])
def test_keyed_generators_are_numpys_default_rng(base, tail):
    keys = [0, 1, 2**32 - 1] + [zlib.crc32(f"unit {i}".encode()) for i in range(50)]
    for key, g in zip(keys, keyed_generators(base, keys, *tail), strict=True):
        ref = np.random.default_rng([base, key, *tail])
        assert g.bit_generator.state == ref.bit_generator.state
        assert g.random(5).tolist() == ref.random(5).tolist()


# ------------------------------------------------------------------ noticing


def _choice_table_one_by_one(teams, weights):
    """The team-by-team construction the vectorised one replaced."""
    width = max((len(t) for t in teams), default=0) or 1
    members = np.full((len(teams), width), -1, dtype=np.int64)
    cdf = np.ones((len(teams), width))
    for x, team in enumerate(teams):
        if not team:
            continue
        w = np.ones(len(team)) if weights is None else weights[team]
        members[x, : len(team)] = team
        cdf[x, : len(team)] = np.cumsum(w) / w.sum()
    return members, cdf


def test_choice_tables_are_bit_for_bit_the_team_by_team_ones():
    rng = np.random.default_rng(0)
    for _ in range(100):
        teams = [
            sorted(rng.choice(60, rng.integers(0, 14), replace=False).tolist())
            for _ in range(rng.integers(1, 30))
        ]
        for weights in (None, rng.random(60) * rng.choice([1e-3, 1.0, 1e3])):
            got = _choice_table(*_ragged(teams), weights)
            want = _choice_table_one_by_one(teams, weights)
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    members, cdf = _choice_table(*_ragged([[], []]), None)
    assert members.shape == (2, 1) and (members == -1).all() and (cdf == 1).all()


# ------------------------------------------------------------------ the engine's sequences


def test_issue_columns_read_the_arrays_values_as_python_numbers(one_town):
    from gridsim.model.attention import plan_attention
    from gridsim.model.capability import settle_probabilities
    from gridsim.model.noticing import draw_arrivals

    rngs = make_streams(seed_sequence(2, 0))
    county = build_county(one_town, rngs["county"], rngs["residents"])
    att = plan_attention(one_town, county)
    settle = settle_probabilities(one_town, county)
    issues: Issues = gridsim.model.appeals.draw_issues(one_town, county, att, 240.0, rngs)
    draw_arrivals(one_town, county, att, settle, issues, 240.0, rngs)
    names = ("work", "u_shirk", "u_route", "origin", "category", "urgent", "externality", None)
    columns = issues.columns(names)
    assert columns[-1] is None
    for name, column in zip(names[:-1], columns[:-1], strict=True):
        values = getattr(issues, name)
        assert len(column) == len(issues)
        want = values.tolist()  # Python numbers, the values of the arrays
        if values.ndim == 2:
            got = [[column[i, j] for j in range(values.shape[1])] for i in range(len(issues))]
        else:
            got = [column[i] for i in range(len(issues))]
        assert got == want
        flat = np.ravel(want).tolist() if values.ndim == 2 else want
        assert {type(v) for v in np.ravel(got).tolist()} == {type(v) for v in flat}
        assert all(type(column[i] if values.ndim == 1 else column[i, 0]) in (int, float, bool)
                   for i in range(5))  # fmt: skip


# ------------------------------------------------------------------ KPIs


@pytest.mark.parametrize("nan_share", [0.0, 0.3, 1.0])
def test_mean_and_total_are_pandas_to_the_last_bit(nan_share):
    rng = np.random.default_rng(4)
    for n in (0, 1, 7, 8, 9, 1000, 100_003):
        x = rng.lognormal(0, 3, n)
        x[rng.random(n) < nan_share] = np.nan
        want_mean = pd.Series(x).mean()
        assert mean(x) == want_mean or (np.isnan(mean(x)) and np.isnan(want_mean))
        assert total(x) == float(pd.Series(x).sum())


def test_rows_isin_matches_pandas_on_categorical_and_plain_columns():
    cats = pd.Categorical.from_codes([0, 1, 2, -1, 1, 0], ["a", "b", "c"])
    table = pd.DataFrame({"cat": cats, "plain": ["a", "b", "c", "d", "b", "a"]})
    mask = np.array([True, False, True, True, True, False])
    for name in ("cat", "plain"):
        want = table[name].isin(("b", "c")).to_numpy()
        assert (Rows(table, None).isin(name, ("b", "c")) == want).all()
        assert (Rows(table, mask).isin(name, ("b", "c")) == want[mask]).all()


def test_draws_put_off_are_the_ones_that_were_due_and_the_stream_moves_past_them():
    rng = np.random.default_rng(9)
    eager = np.random.default_rng(9)
    shirk, route = later_draws(rng, (1000, 4), (1000,))
    settle = rng.random((1000, 4))
    assert np.array_equal(shirk.draw(), eager.random((1000, 4)))
    assert np.array_equal(route.draw(), eager.random(1000))
    assert np.array_equal(settle, eager.random((1000, 4)))
    assert rng.bit_generator.state == eager.bit_generator.state
    assert np.array_equal(shirk.draw(), shirk.draw())  # the same every time they are read


def test_the_first_clock_is_argmins_pick_with_ties_and_nan():
    """noticing._staff_clocks picks the first clock to fire without stacking the four."""
    from gridsim.model import noticing

    rng = np.random.default_rng(0)
    for _ in range(200):
        clocks = [np.where(rng.random(40) < 0.2, np.inf, rng.integers(0, 5, 40) * 1.0)
                  for _ in range(4)]  # fmt: skip
        for c in clocks:
            c[rng.random(40) < 0.1] = np.nan
        want = np.argmin(np.stack(clocks), axis=0)
        assert np.array_equal(noticing._first_clock(clocks)[1], want)
