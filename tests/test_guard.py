"""The resource guard: accepted runs stay under the estimate, absurd ones are refused at once."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import gridsim
from gridsim.cli import main
from gridsim.model import county, guard, simulate
from gridsim.model.loader import with_overrides
from gridsim.model.scenario import ScenarioError


@pytest.fixture(autouse=True)
def default_bound(monkeypatch):
    """Every test starts from the default bound, and no bound leaks out of a test: the option
    sets an environment variable, which setenv records so that teardown restores it."""
    monkeypatch.setenv(guard.MEMORY_ENV, "8")
    monkeypatch.delenv(guard.MEMORY_ENV)


@pytest.fixture()
def nothing_is_built(monkeypatch):
    """Refusals must come before the county or the issues are built: that is what makes
    them instant, so the test checks the order instead of a clock."""

    def built(*args, **kwargs):
        raise AssertionError("built before the guard refused")

    monkeypatch.setattr(county, "_Builder", built)
    monkeypatch.setattr(simulate, "draw_issues", built)


def _rngs() -> tuple[np.random.Generator, np.random.Generator]:
    return np.random.default_rng(1), np.random.default_rng(2)


# ------------------------------------------------------------------ accepted sizes


@pytest.mark.parametrize(
    ("overrides", "days"),
    [
        ({}, 2.0),
        ({"county.towns.*.population": 100_000}, 1.0),
        ({"categories.*.issues_per_1000_residents_per_year": 2000.0}, 2.0),
        (
            {
                "county.towns.*.population": 10_000,
                "grids.households_per_grid": 40,
                "grids.rural_households_per_microgrid": 5,
            },
            1.0,
        ),
        # everyday household needs: many issues, few orders (found and settled on the spot)
        ({"categories.household_needs.issues_per_1000_residents_per_year": 3000.0}, 3.0),
        # every household reports: as many appeals as the estimate's reports
        (
            {"categories.*.report_probability": 1.0, "categories.*.households_affected_mean": 3.0},
            3.0,
        ),
    ],
    ids=[
        "one-town",
        "five-times-the-residents",
        "ten-times-the-rates",
        "tiny-grids",
        "household-needs",
        "every-household-reports",
    ],
)
def test_peak_memory_stays_under_the_estimate(one_town, overrides, days):
    s = with_overrides(one_town, overrides)
    estimate = guard.estimate(s, days)
    tracemalloc.start()
    try:
        result = gridsim.simulate(s, seed=3, days=days)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < estimate.memory_bytes
    # the counts behind it are close to what the run built (issues are a Poisson draw)
    assert len(result.staff) <= estimate.staff
    assert len(result.units) <= estimate.units
    assert len(result.issues) < 2 * estimate.issues + 50


@pytest.mark.parametrize(
    "overrides",
    [{}, {"categories.household_needs.issues_per_1000_residents_per_year": 1800.0}],
    ids=["ten-times-the-town", "and-five-times-the-household-needs"],
)
def test_the_estimate_is_an_upper_bound_but_not_a_loose_one(one_town, overrides):
    """Past the fixed part, the estimate is about twice the peak: never under it, and not so
    far over it that a run the machine could hold is refused (a two-year sweep of the
    baseline county fits the default bound, tests/test_user_files.py)."""
    s = with_overrides(one_town, {"county.towns.*.population": 300_000, **overrides})
    estimate = guard.estimate(s, 10.0)
    tracemalloc.start()
    try:
        gridsim.simulate(s, seed=3, days=10.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < estimate.memory_bytes
    assert estimate.memory_bytes - guard.BYTES_FIXED < 4 * peak


def test_the_baseline_county_runs_ten_years_under_the_default_bound(repo, monkeypatch):
    """A ten-year run peaks at 1.8 GiB with its log streamed, 3.0 GiB with it in memory
    (``benchmarks/long_horizon.py``): the default bound of 8 GB lets it run; twenty do not."""
    monkeypatch.setattr(guard, "available_memory", lambda: 64e9)  # whatever the machine has now
    baseline = gridsim.load_scenario(repo / "scenarios" / "pingyi_baseline.toml")
    assert guard.check_run(baseline, 3650).memory_bytes < guard.DEFAULT_MAX_MEMORY_GB * 1e9
    with pytest.raises(ScenarioError, match="--max-memory"):
        guard.check_run(baseline, 7300)


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("overrides", "days", "field"),
    [
        ({"county.towns.*.population": 100_000_000}, None, "county.population"),
        (
            {"meta.horizon_days": 36_000, "county.towns.*.population": 10**6},
            None,
            "meta.horizon_days",
        ),
        ({"county.towns.*.population": 10**6}, 36_000, "--days"),
        (
            {"categories.*.issues_per_1000_residents_per_year": 8_000_000.0},
            None,
            "categories[0:conduct_supervision].issues_per_1000_residents_per_year",
        ),
        (  # before: a segmentation fault, np.repeat over 9e18 households per issue
            {"categories.*.households_affected_mean": 1_000_000},
            10,
            "categories[0:conduct_supervision].households_affected_mean",
        ),
    ],
    ids=["population", "horizon", "days-option", "rate", "households-affected"],
)
def test_absurd_runs_are_refused_before_anything_is_built(
    one_town, nothing_is_built, overrides, days, field
):
    s = with_overrides(one_town, overrides)
    with pytest.raises(ScenarioError) as info:
        gridsim.simulate(s, seed=1, days=days)
    err = info.value
    assert err.field == field
    assert "--max-memory" in err.expected and "GB" in err.expected
    assert "\n" not in str(err)


def test_a_county_of_one_household_grids_is_refused_by_describe_too(one_town, nothing_is_built):
    s = with_overrides(
        one_town,
        {
            "county.towns.*.population": 100_000_000,
            "grids.households_per_grid": 1,
            "grids.rural_households_per_microgrid": 1,
        },
    )
    with pytest.raises(ScenarioError) as info:
        county.build_county(s, *_rngs())
    assert info.value.field == "grids.households_per_grid"


def test_huge_departments_are_named(one_town, nothing_is_built, monkeypatch):
    monkeypatch.setenv(guard.MEMORY_ENV, "1")
    s = with_overrides(one_town, {"departments.*.staff": 1_000_000})
    with pytest.raises(ScenarioError) as info:
        gridsim.simulate(s, seed=1, days=1)
    assert info.value.field.startswith("departments[") and info.value.field.endswith(".staff")


def test_the_bound_can_be_raised_and_lowered(one_town, monkeypatch):
    e = guard.estimate(one_town, 2)
    monkeypatch.setenv(guard.MEMORY_ENV, repr(e.memory_bytes / 2e9))
    with pytest.raises(ScenarioError):
        guard.check_run(one_town, 2)
    monkeypatch.setenv(guard.MEMORY_ENV, repr(e.memory_bytes * 2 / 1e9))
    assert guard.check_run(one_town, 2) == e


@pytest.mark.parametrize("text", ["x", "0", "-1", "nan", "inf"])
def test_a_bad_bound_in_the_environment_is_one_line(monkeypatch, text):
    monkeypatch.setenv(guard.MEMORY_ENV, text)
    with pytest.raises(ScenarioError, match=guard.MEMORY_ENV):
        guard.memory_bound()


def test_the_machine_memory_caps_the_bound(monkeypatch):
    monkeypatch.setenv(guard.MEMORY_ENV, "1e9")  # an exabyte
    assert guard.memory_bound() <= guard.available_memory()
    assert guard.available_memory() > 0


@pytest.mark.parametrize("days", [math.nan, math.inf, -1.0, 0.0, 1e300])
def test_insane_days_are_one_line(one_town, nothing_is_built, days):
    with pytest.raises(ScenarioError) as info:
        gridsim.simulate(one_town, seed=1, days=days)
    assert info.value.field == "--days"


def test_warmup_not_shorter_than_days_is_one_line(one_town, nothing_is_built):
    """Before: ZeroDivisionError in the KPIs after the whole run."""
    s = with_overrides(one_town, {"meta.warmup_days": 5})
    with pytest.raises(ScenarioError) as info:
        gridsim.simulate(s, seed=1, days=3)
    assert info.value.field == "meta.warmup_days" and "--days 3" in info.value.expected


# ------------------------------------------------------------------ the command line


@pytest.mark.parametrize("days", ["nan", "inf", "-inf", "NaN"])
def test_days_nan_and_inf_are_refused_by_the_parser(repo, tmp_path, capsys, days):
    """Before: ValueError / OverflowError tracebacks."""
    with pytest.raises(SystemExit) as info:
        main(["run", str(repo / "scenarios/one_town.toml"), "--days", days, "--out", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--days" in err.splitlines()[-1]
    assert not any(tmp_path.iterdir())


def test_days_past_memory_is_one_line_and_writes_nothing(repo, tmp_path, capsys):
    out = tmp_path / "run"
    scenario = str(repo / "scenarios/one_town.toml")
    assert main(["run", scenario, "--days", "100000", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--days" in err
    assert not out.exists()


def test_max_memory_option_lowers_the_bound(repo, tmp_path, capsys, monkeypatch):
    scenario = str(repo / "scenarios/pingyi_baseline.toml")
    args = ["run", scenario, "--days", "30", "--out", str(tmp_path / "r"), "--quiet"]
    assert main([*args, "--max-memory", "0.05"]) == 2
    err = capsys.readouterr().err.strip()
    assert "over the bound of 0.05 GB" in err and err.count("\n") == 0
