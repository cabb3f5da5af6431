"""Quick comparisons from the command line (issue 15, item 1).

`gridsim run --set`, `gridsim run --replications N` and the inline experiment
`gridsim sweep SCENARIO --variant "name: path=value"`, and `gridsim compare` on its results:
overrides validated like the file, a mistake refused as one line with nothing written,
replications seeded by the seeding scheme, variants paired by common random numbers.
"""

from __future__ import annotations

import contextlib
import io
import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridsim.cli import main
from gridsim.experiment.inline import inline_experiment, parse_variant
from gridsim.experiment.loading import load_experiment
from gridsim.model.loader import parse_assignment, parse_value
from gridsim.model.seeds import replication_seed
from gridsim.model.simulate import simulate

DAYS = "4"
FINE = "fine: grids.rural_households_per_microgrid=30"
#: The inline sweep of the tests (arguments separated by |), before its --out.
SWEEP = f"sweep|{{town}}|--variant|{FINE}|--replications|3|--days|{DAYS}|--executor|serial"


def _main(argv: list[str]) -> tuple[int, str, str]:
    """Run the command line; its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def town(repo) -> str:
    return str(repo / "scenarios" / "one_town.toml")


@pytest.fixture(scope="module")
def replications_dir(tmp_path_factory, town) -> tuple[Path, str]:
    """`gridsim run one_town --replications 3`: its results directory and what it printed."""
    out = tmp_path_factory.mktemp("reps") / "reps"
    code, printed, _ = _main(["run", town, "--replications", "3", "--days", DAYS,
                              "--workers", "1", "--quiet", "--out", str(out)])  # fmt: skip
    assert code == 0
    return out, printed


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory, town) -> tuple[Path, str]:
    """The inline comparison: baseline vs fine micro-grids, 3 replications, serial."""
    out = tmp_path_factory.mktemp("inline") / "fine"
    code, printed, _ = _main([*SWEEP.format(town=town).split("|"), "--out", str(out)])
    assert code == 0
    return out, printed


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "value"),
    [("30", 30), ("0.5", 0.5), ("false", False), ('"a, b"', "a, b"), ("[1, 2]", [1, 2]),
     ("{grid_leader = 1}", {"grid_leader": 1}), ("strict_ladder", "strict_ladder")],
)  # fmt: skip
def test_values_are_toml_values(text, value):
    assert parse_value(text) == value


def test_a_variant_splits_at_top_level_commas_only():
    name, overrides = parse_variant('two: a.b=[1, 2], c.d="x, y", e.f=3')
    assert (name, overrides) == ("two", {"a.b": [1, 2], "c.d": "x, y", "e.f": 3})
    assert parse_assignment("x.y = 2") == ("x.y", 2)


# ------------------------------------------------------------------------------- --set


def test_run_with_set_writes_the_overridden_scenario(tmp_path, town):
    out = tmp_path / "run"
    code, printed, _ = _main(["run", town, "--set", "grids.households_per_grid=300",
                              "--set", 'escalation.policy="strict_ladder"', "--days", "2",
                              "--figures", "none", "--quiet", "--out", str(out)])  # fmt: skip
    assert code == 0, printed
    written = tomllib.loads((out / "scenario.toml").read_text("utf-8"))
    assert written["grids"]["households_per_grid"] == 300
    assert written["escalation"]["policy"] == "strict_ladder"
    run = json.loads((out / "run.json").read_text("utf-8"))
    assert run["overrides"] == {"grids.households_per_grid": 300,
                                "escalation.policy": "strict_ladder"}  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "{town}", "--set", "grids.nope=3"],
         "one_town.toml: --set grids.nope: unknown field"),
        (["run", "{town}", "--set", "grids.households_per_grid=abc"],
         "one_town.toml: --set grids.households_per_grid: expected: input should be a valid"),
        (["run", "{town}", "--set", "grids.households_per_grid"],
         "--set 'grids.households_per_grid': expected path=value"),
        (["run", "{town}", "--set", "grids.households_per_grid=[1,"],
         "--set grids.households_per_grid: expected a TOML value"),
        (["run", "{town}", "--set", "a=1", "--set", "a=2"], "--set a: expected each path once"),
        (["run", "{town}", "--replications", "1"], "--replications: at least 2"),
        (["run", "{town}", "--replications", "3", "--figures", "all"],
         "--figures: not with --replications"),
        (["run", "{town}", "--fresh"], "--fresh: only with --replications"),
        (["sweep", "{town}", "--days", "3"], "--days: only with --variant"),
        (["sweep", "{town}", "--variant", "fine"], "--variant 'fine': expected \"NAME: path=value"),
        (["sweep", "{town}", "--variant", "x: grids.nope=1"],
         "one_town.toml: --variant x: grids.nope: unknown field"),
        (["sweep", "{town}", "--variant", "x: grids.households_per_grid=-1"],
         "--variant x: grids.households_per_grid: expected: input should be greater than 0"),
        (["sweep", "{town}", "--variant", "baseline: grids.households_per_grid=300"],
         "--variant baseline: a unique variant name"),
        (["sweep", "{town}", "--variant", FINE, "--set", "grids.nope=1"],
         "--set grids.nope: unknown field"),
        (["sweep", "{repo}/scenarios/pingyi_baseline.toml", "--variant", FINE, "--days", "10"],
         "pingyi_baseline.toml: --days: more days than the scenario's warm-up"),
        (["sweep", "{repo}/scenarios/experiments/grid_granularity.toml", "--variant", FINE],
         "--variant: a scenario file"),
    ],
)  # fmt: skip
def test_a_mistake_is_one_line_and_nothing_is_written(tmp_path, repo, town, argv, expected):
    out = tmp_path / "out"
    argv = [a.format(town=town, repo=repo) for a in argv] + ["--out", str(out), "--quiet"]
    code, printed, err = _main(argv)
    assert code == 2
    assert err.count("\n") == 1 and expected in err, err
    assert not out.exists() and not printed


# ------------------------------------------------------------------------ replications


def test_replications_print_kpis_with_intervals(replications_dir):
    out, printed = replications_dir
    assert "one_town: 3 replications, mean and 95 % confidence interval" in printed
    line = next(x for x in printed.splitlines() if "inside the grid (小事不出网格)" in x)
    assert "±" in line and "[" in line
    summary = pd.read_csv(out / "summary.csv")
    settled = summary.set_index("metric").loc["share_settled_in_grid"]
    assert settled["n"] == 3 and settled["low"] <= settled["mean"] <= settled["high"]


def test_replication_r_is_a_run_on_the_replication_seed(replications_dir, one_town):
    """The seeding scheme: replication 1 is `simulate` on replication_seed(meta.seed, 1)."""
    out, _ = replications_dir
    tidy = pd.read_parquet(out / "tidy.parquet")
    rep = tidy[tidy["replication"] == 1].set_index("metric")["value"]
    alone = simulate(one_town, seed=replication_seed(one_town.meta.seed, 1), days=float(DAYS))
    for metric in ("orders", "share_settled_in_grid", "resolution_time_mean_h"):
        assert rep[metric] == pytest.approx(alone.kpis[metric], nan_ok=True)


# ------------------------------------------------------------------------ inline sweep


def test_the_inline_sweep_is_paired_and_printed(sweep_dir, replications_dir):
    out, printed = sweep_dir
    tidy = pd.read_parquet(out / "tidy.parquet")
    assert list(pd.unique(tidy["variant"])) == ["baseline", "fine"]
    assert sorted(pd.unique(tidy["replication"])) == [0, 1, 2]
    # common random numbers: the baseline is the scenario's replications, seed for seed
    base = tidy[tidy["variant"] == "baseline"].set_index(["replication", "metric"])["value"]
    reps = pd.read_parquet(replications_dir[0] / "tidy.parquet")
    alone = reps.set_index(["replication", "metric"])["value"]
    np.testing.assert_allclose(base.to_numpy(), alone.loc[base.index].to_numpy())
    comparison = pd.read_csv(out / "comparison.csv")
    row = comparison.set_index(["variant", "metric"]).loc[("fine", "share_settled_in_grid")]
    assert row["n"] == 3 and row["low"] <= row["mean_difference"] <= row["high"]
    assert "fine − baseline (paired by common random numbers, 3 pairs" in printed
    assert "Issues settled within the grid" in printed and "Mean resolution time" in printed
    assert f"gridsim compare {out}" in printed


def test_compare_reports_the_inline_sweep(sweep_dir):
    out, _ = sweep_dir
    code, printed, _ = _main(["compare", str(out)])
    assert code == 0
    assert "fine − baseline" in printed and "Mean resolution time (h)" in printed
    assert (out / "report.md").is_file() and "fine" in (out / "report.md").read_text("utf-8")


def test_compare_reads_replications_too(replications_dir):
    out, _ = replications_dir
    code, printed, _ = _main(["compare", str(out)])
    assert code == 0 and "3 replications" in printed and (out / "report.md").is_file()


def test_the_same_command_resumes_and_its_file_reruns_it(sweep_dir, town):
    out, _ = sweep_dir
    code, printed, _ = _main([*SWEEP.format(town=town).split("|"), "--out", str(out)])
    assert code == 0 and "0 runs computed, 6 skipped" in printed
    again = load_experiment(out / "experiment.toml")  # the directory's file is a real one
    same = inline_experiment(town, [parse_variant(FINE)], replications=3, days=float(DAYS))
    assert again.fingerprint() == same.fingerprint()
