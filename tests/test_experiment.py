"""Tests for gridsim.experiment: sweeps, seeding, executors, resume, errors."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from gridsim.experiment.executors import (
    DaskExecutor,
    ExecutorUnavailableError,
    LocalProcessesExecutor,
    SerialExecutor,
    make_executor,
)
from gridsim.experiment.loading import load_experiment
from gridsim.experiment.runner import run_experiment
from gridsim.experiment.runs import run_one
from gridsim.experiment.store import ResultsConflictError
from gridsim.model.scenario import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
ONE_TOWN = (ROOT / "scenarios" / "one_town.toml").as_posix()


def write_experiment(
    path: Path,
    *,
    name: str = "tiny",
    replications: int = 2,
    days: float = 5,
    seed: int = 11,
    extra: str = "",
    body: str | None = None,
) -> Path:
    """A small experiment on one_town: two explicit variants by default."""
    if body is None:
        body = """
            [[variants]]
            name = "ladder"
            overrides = { "escalation.policy" = "strict_ladder" }

            [[variants]]
            name = "merged centre"
            overrides = { "escalation.policy" = "direct_triage", "centre.merged_town" = true }
        """
    head = f"""
        [experiment]
        name = "{name}"
        base = "{ONE_TOWN}"
        replications = {replications}
        days = {days}
        seed = {seed}
        {extra}
    """
    path.write_text(textwrap.dedent(head) + textwrap.dedent(body), "utf-8")
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_experiment(tmp_path / "tiny.toml")


def fake_simulate(scenario, seed, days=None):
    """A deterministic stand-in for the engine: KPIs from the seed and two scenario knobs."""
    rng = np.random.default_rng(seed)
    shift = 2.0 if scenario.escalation.policy == "direct_triage" else 0.0
    kpis = {
        "response_time_mean_h": 10.0 - shift + rng.normal(),
        "on_time_rate": 0.8 + 0.01 * shift + 0.01 * rng.normal(),
        "label": "not a number",
    }
    hours = np.arange(int(days * 24), dtype=float)
    backlog = pd.DataFrame(
        {"time": hours, "open": np.minimum(hours / 24, 3) + rng.random(hours.size)}
    )
    return SimpleNamespace(kpis=kpis, backlog=backlog)


# --------------------------------------------------------------------------- executors


def test_serial_and_process_executors_stream_every_result():
    with SerialExecutor() as ex:
        assert list(ex.run(abs, [-1, 2, -3])) == [1, 2, 3]
    with LocalProcessesExecutor(workers=2, max_in_flight=2) as ex:
        assert sorted(ex.run(abs, range(-10, 0))) == list(range(1, 11))


def test_make_executor_rejects_bad_requests():
    with pytest.raises(ValueError, match="unknown executor"):
        make_executor("threads")
    with pytest.raises(ValueError, match="needs the dask executor"):
        make_executor("processes", address="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="positive integer"):
        make_executor("processes", workers=0)


def test_dask_missing_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ExecutorUnavailableError, match=r"pip install 'gridsim\[dask\]'"):
        with DaskExecutor(workers=1):
            pass


def test_importing_gridsim_does_not_import_dask():
    code = (
        "import sys, gridsim, gridsim.experiment.runner, gridsim.experiment.executors,"
        " gridsim.output.report;"
        "print(any(m == 'dask' or m.startswith(('dask.', 'distributed')) for m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- identical tables


def test_executors_give_identical_tidy_tables(tiny, tmp_path):
    pytest.importorskip("dask.distributed")
    serial = run_experiment(tiny, executor="serial", out=tmp_path / "s", progress=False).tidy
    procs = run_experiment(
        tiny, executor="processes", workers=2, out=tmp_path / "p", progress=False
    ).tidy
    dask = run_experiment(tiny, executor="dask", workers=2, out=tmp_path / "d", progress=False).tidy
    pd.testing.assert_frame_equal(serial, procs)
    pd.testing.assert_frame_equal(serial, dask)
    on_disk = pd.read_parquet(tmp_path / "d" / "tidy.parquet")
    pd.testing.assert_frame_equal(serial, on_disk)
    assert list(serial.columns) == [
        "variant",
        "escalation.policy",
        "centre.merged_town",
        "replication",
        "metric",
        "value",
    ]
    assert list(dict.fromkeys(serial["variant"])) == ["ladder", "merged centre"]
    assert set(serial["replication"]) == {0, 1}
    assert serial["value"].dtype == np.float64
    for name in ("tidy.csv", "summary.csv", "comparison.csv", "manifest.json", "runs.csv"):
        assert (tmp_path / "s" / name).is_file()
    comparison = pd.read_csv(tmp_path / "s" / "comparison.csv")
    assert set(comparison["variant"]) == {"merged centre"}


def test_injected_simulate_keeps_scalar_kpis_only(tiny, tmp_path):
    df = run_experiment(
        tiny, executor="serial", out=tmp_path / "f", simulate=fake_simulate, progress=False
    ).tidy
    assert set(df["metric"]) == {"response_time_mean_h", "on_time_rate"}
    assert len(df) == 2 * 2 * 2
    again = run_experiment(
        tiny,
        executor="processes",
        workers=2,
        out=tmp_path / "g",
        simulate=fake_simulate,
        progress=False,
    ).tidy
    pd.testing.assert_frame_equal(df, again)


# --------------------------------------------------------------------------- seeds


def test_common_random_numbers_and_single_run_rebuild(tiny, tmp_path):
    df = run_experiment(
        tiny, executor="processes", workers=2, out=tmp_path / "r", progress=False
    ).tidy
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    seeds: dict[int, set] = {}
    for run in manifest["runs"]:
        seeds.setdefault(run["replication"], set()).add(json.dumps(run["seed"], sort_keys=True))
        assert run["wall_time_s"] > 0
    assert {r: len(s) for r, s in seeds.items()} == {0: 1, 1: 1}
    assert json.loads(seeds[1].pop()) == {"entropy": 11, "spawn_key": [1]}
    assert "wall_time_s" not in df.columns
    exp = load_experiment(tiny)
    alone = run_one(exp, "merged centre", 1).kpis
    inside = df[(df["variant"] == "merged centre") & (df["replication"] == 1)]
    expected = dict(zip(inside["metric"], inside["value"], strict=True))
    assert set(expected) == set(alone)
    for metric, value in expected.items():
        assert value == pytest.approx(float(alone[metric]), nan_ok=True, rel=0, abs=0)


# --------------------------------------------------------------------------- kill and resume


DRIVER = """
import sys, time
from gridsim.model.simulate import simulate
from gridsim.experiment.runner import run_experiment

def slow_simulate(scenario, seed, days=None):
    time.sleep(0.25)
    return simulate(scenario, seed, days)

run_experiment(sys.argv[1], executor="serial", out=sys.argv[2], progress=False,
               simulate=slow_simulate)
"""


def _readable_runs(runs: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for path in runs.glob("*.parquet"):
        pq.read_table(path)  # raises if corrupt
        stat = path.stat()
        out[path.name] = (stat.st_ino, stat.st_mtime_ns)
    return out


def test_killed_sweep_resumes_without_recomputing(tmp_path):
    exp = write_experiment(tmp_path / "kill.toml", name="kill", replications=6, days=5)
    reference = run_experiment(exp, executor="serial", out=tmp_path / "ref", progress=False).tidy
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, "utf-8")
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(driver), str(exp), str(out)], env=env, start_new_session=True
    )
    runs = out / "runs"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if runs.is_dir() and len(list(runs.glob("*.parquet"))) >= 4:
                break
            assert proc.poll() is None, "the driver finished or failed before it was killed"
            time.sleep(0.02)
        else:
            pytest.fail("no run files appeared")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = _readable_runs(runs)
    assert 4 <= len(before) < 12
    assert not (out / "tidy.parquet").exists()
    resumed = run_experiment(exp, executor="processes", workers=2, out=out, progress=False)
    assert resumed.skipped == len(before)
    assert resumed.computed == 12 - len(before)
    after = _readable_runs(runs)
    assert {name: after[name] for name in before} == before  # same inode, same mtime
    assert len(after) == 12
    assert not [p for p in runs.iterdir() if p.name.startswith(".")]
    pd.testing.assert_frame_equal(reference, resumed.tidy)


def test_unreadable_run_file_is_recomputed(tiny, tmp_path):
    out = tmp_path / "c"
    first = run_experiment(tiny, executor="serial", out=out, progress=False).tidy
    victim = next((out / "runs").glob("*.parquet"))
    victim.write_bytes(b"PAR1 truncated")
    (out / "runs" / ".stale.parquet.123.tmp").write_bytes(b"half")
    again = run_experiment(tiny, executor="serial", out=out, progress=False)
    assert (again.computed, again.skipped) == (1, 3)
    pd.testing.assert_frame_equal(first, again.tidy)
    assert not (out / "runs" / ".stale.parquet.123.tmp").exists()


def test_changed_experiment_is_refused_unless_fresh(tmp_path):
    exp = write_experiment(tmp_path / "e.toml")
    out = tmp_path / "o"
    run_experiment(exp, executor="serial", out=out, progress=False)
    write_experiment(exp, seed=12)
    with pytest.raises(ResultsConflictError, match="--fresh"):
        run_experiment(exp, executor="serial", out=out, progress=False)
    result = run_experiment(exp, executor="serial", out=out, progress=False, fresh=True)
    assert result.computed == 4
    # More replications of the same definition extend the existing results.
    write_experiment(exp, seed=12, replications=3)
    result = run_experiment(exp, executor="serial", out=out, progress=False)
    assert (result.computed, result.skipped) == (2, 4)


# --------------------------------------------------------------------------- invalid files


@pytest.mark.parametrize(
    ("extra", "body", "where"),
    [
        (
            "",
            '[[factors]]\npath = "grids.households_per_gird"\nvalues = [300]\n',
            "factors[0:grids.households_per_gird]",
        ),
        (
            "",
            '[[factors]]\npath = "grids.households_per_grid"\nvalues = [300, -5]\n',
            "factors[0:grids.households_per_grid] value -5",
        ),
        (
            "",
            '[[variants]]\nname = "x"\noverrides = { "escalation.policy" = "ladder" }\n',
            "variants[0:x]",
        ),
        ("colour = 1", '[[variants]]\nname = "x"\n', "experiment.colour"),
        ('baseline = "nope"', '[[variants]]\nname = "x"\n', "experiment.baseline"),
        (
            "",
            '[[factors]]\npath = "grids.households_per_grid"\nrange = { low = 300, high = 200 }\n',
            "factors[0].range",
        ),
        (
            "",
            '[[factors]]\npath = "grids.households_per_grid"\nrange = { low = 200, high = 300 }\n',
            "experiment",
        ),
    ],
)
def test_invalid_experiment_is_a_one_line_error(tmp_path, extra, body, where):
    path = write_experiment(tmp_path / "bad.toml", extra=extra, body=body)
    with pytest.raises(ScenarioError) as info:
        load_experiment(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert where in message


def test_missing_base_and_missing_file(tmp_path):
    path = tmp_path / "nobase.toml"
    path.write_text(
        '[experiment]\nname = "x"\nbase = "nowhere.toml"\nseed = 1\n[[variants]]\nname = "a"\n',
        "utf-8",
    )
    with pytest.raises(ScenarioError, match=r"experiment\.base: an existing scenario file"):
        load_experiment(path)
    with pytest.raises(ScenarioError, match="no such file"):
        load_experiment(tmp_path / "absent.toml")


def test_sweep_cli_reports_user_mistakes_on_one_line(tmp_path, capsys):
    from gridsim.cli import main  # the command prints a UserError once, for every subcommand

    bad = write_experiment(
        tmp_path / "bad.toml", body='[[variants]]\nname = "x"\noverrides = { "grids.nope" = 1 }\n'
    )
    argv = ["sweep", str(bad), "--executor", "serial", "--quiet", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "grids.nope" in err and str(bad) in err
    assert main(["sweep", str(bad), "--workers", "0"]) == 2
    good = write_experiment(tmp_path / "good.toml")
    assert main(["sweep", str(good), "--executor", "serial", "--out", str(tmp_path / "g")]) == 0
    assert "4 runs computed, 0 skipped" in capsys.readouterr().out


# --------------------------------------------------------------------------- designs


def test_full_factorial_names_and_columns(tmp_path):
    body = """
        [[factors]]
        path = "grids.households_per_grid"
        values = [300, 500]

        [[factors]]
        path = "centre.merged_town"
        values = [false, true]
    """
    exp = load_experiment(write_experiment(tmp_path / "ff.toml", body=body))
    assert [v.name for v in exp.variants] == [
        "households_per_grid=300,merged_town=false",
        "households_per_grid=300,merged_town=true",
        "households_per_grid=500,merged_town=false",
        "households_per_grid=500,merged_town=true",
    ]
    assert exp.baseline == exp.variants[0].name
    assert exp.variants[1].variant_id == "households_per_grid-300-merged_town-true"
    assert len({v.variant_id for v in exp.variants}) == 4


def test_design_points_get_chinese_names_from_factor_labels(tmp_path):
    from gridsim.output.i18n import design_point_name

    body = """
        [[factors]]
        path = "grids.households_per_grid"
        values = [300, 500]

        [[factors]]
        path = "centre.merged_town"
        values = [false, true]

        [[factors]]
        path = "escalation.shirking_probability"
        values = [0.02]
    """
    exp = load_experiment(write_experiment(tmp_path / "ff.toml", body=body))
    assert exp.variants[1].name == (
        "households_per_grid=300,merged_town=true,shirking_probability=0.02"
    )
    # factor labels where they exist, the same path tail where not; levels translated
    assert (
        exp.variants[1].name_zh
        == "每网格户数=300，镇街综治中心合署办公=是，shirking_probability=0.02"
    )
    paths = [f.path for f in exp.factors]
    for v in exp.variants:  # i18n rebuilds the key exactly (how old manifests are read)
        assert design_point_name(v.overrides, "en", paths) == v.name
        assert v.description_zh == ""


# --------------------------------------------------------------------------- Chinese names

NAMED = """
    [[variants]]
    name = "ladder"
    name_zh = "逐级上报"
    description = "One level at a time."
    description_zh = "逐级上报，每次只上一级。"
    overrides = { "escalation.policy" = "strict_ladder" }

    [[variants]]
    name = "merged centre"
    name_zh = "镇街综治中心合署"
    overrides = { "escalation.policy" = "direct_triage", "centre.merged_town" = true }
"""


def test_chinese_names_are_display_only_and_kept_in_the_manifest(tmp_path):
    plain = load_experiment(write_experiment(tmp_path / "plain.toml"))
    named = load_experiment(write_experiment(tmp_path / "named.toml", body=NAMED))
    # name_zh and description_zh are not part of the definition: old results stay valid
    assert named.fingerprint() == plain.fingerprint()
    assert [v.variant_id for v in named.variants] == [v.variant_id for v in plain.variants]
    assert [(v.name_zh, v.description_zh) for v in named.variants] == [
        ("逐级上报", "逐级上报，每次只上一级。"),
        ("镇街综治中心合署", ""),
    ]
    assert [v.name_zh for v in plain.variants] == ["", ""]
    out = tmp_path / "o"
    run_experiment(
        tmp_path / "plain.toml",
        executor="serial",
        out=out,
        progress=False,
        simulate=fake_simulate,
    )
    # the same results directory, now with Chinese names: nothing recomputed, keys unchanged
    result = run_experiment(
        tmp_path / "named.toml",
        executor="serial",
        out=out,
        progress=False,
        simulate=fake_simulate,
    )
    assert (result.computed, result.skipped) == (0, 4)
    assert list(dict.fromkeys(result.tidy["variant"])) == ["ladder", "merged centre"]
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    entries = {v["name"]: v for v in manifest["variants"]}
    assert entries["ladder"]["name_zh"] == "逐级上报"
    assert entries["ladder"]["description_zh"] == "逐级上报，每次只上一级。"
    assert entries["merged centre"]["name_zh"] == "镇街综治中心合署"
    assert entries["merged centre"]["variant_id"] == "merged-centre"
    assert "逐级上报" in (out / "manifest.json").read_text("utf-8")  # not \u-escaped
    assert "逐级上报" not in set(pd.read_parquet(out / "tidy.parquet")["variant"])


def test_chinese_names_must_not_repeat(tmp_path):
    body = NAMED.replace('name_zh = "镇街综治中心合署"', 'name_zh = "逐级上报"')
    path = write_experiment(tmp_path / "dup.toml", body=body)
    with pytest.raises(ScenarioError) as info:
        load_experiment(path)
    message = str(info.value)
    assert "\n" not in message
    assert "variants[1:merged centre].name_zh" in message and "逐级上报" in message
    bad = write_experiment(
        tmp_path / "typo.toml", body='[[variants]]\nname = "x"\nname_cn = "某方案"\n'
    )
    with pytest.raises(ScenarioError, match=r"variants\[0:x\]\.name_cn: unknown field"):
        load_experiment(bad)


def test_latin_hypercube_in_range_and_reproducible(tmp_path):
    body = """
        [[factors]]
        path = "grids.households_per_grid"
        range = { low = 250, high = 550 }
        integer = true

        [[factors]]
        path = "residents.no_smartphone_share"
        range = { low = 0.1, high = 0.4 }
    """
    path = write_experiment(tmp_path / "lhs.toml", extra="samples = 8", body=body)
    exp = load_experiment(path)
    assert len(exp.variants) == 8
    hh = [v.overrides["grids.households_per_grid"] for v in exp.variants]
    share = [v.overrides["residents.no_smartphone_share"] for v in exp.variants]
    assert all(isinstance(x, int) and 250 <= x <= 550 for x in hh)
    assert all(0.1 <= x <= 0.4 for x in share)
    # one sample per stratum: the 8 shares fall in 8 different eighths of the range
    assert len({int((x - 0.1) / 0.3 * 8) for x in share}) == 8
    again = load_experiment(path)
    assert [v.overrides for v in again.variants] == [v.overrides for v in exp.variants]
    other = load_experiment(
        write_experiment(tmp_path / "lhs2.toml", extra="samples = 8", body=body, seed=12)
    )
    assert [v.overrides for v in other.variants] != [v.overrides for v in exp.variants]


# --------------------------------------------------------------------------- warm-up, precision


def test_mser5_warmup_is_chosen_and_used(tmp_path):
    exp = write_experiment(tmp_path / "w.toml", days=30, extra='warmup = "mser5"')
    out = tmp_path / "w"
    result = run_experiment(exp, executor="serial", out=out, progress=False, simulate=fake_simulate)
    info = json.loads((out / "warmup.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert 0 < manifest["warmup_days"] == info["warmup_days"] < 15
    assert result.warmup_days == manifest["warmup_days"]
    pilot = pd.read_parquet(out / "warmup.parquet")
    assert set(pilot["replication"]) == {0, 1} and pilot["day"].max() == 29
    again = run_experiment(exp, executor="serial", out=out, progress=False, simulate=fake_simulate)
    assert again.computed == 0  # neither the pilot nor the runs are redone


def test_precision_adds_replications_to_every_variant(tmp_path):
    extra = """
        [experiment.precision]
        metric = "response_time_mean_h"
        target_relative_half_width = 0.000001
        max_replications = 4
        k_limit = 0
    """
    exp = write_experiment(tmp_path / "p.toml", extra=extra)
    out = tmp_path / "p"
    df = run_experiment(
        exp, executor="serial", out=out, progress=False, simulate=fake_simulate
    ).tidy
    assert df.groupby("variant")["replication"].nunique().to_dict() == {
        "ladder": 4,
        "merged centre": 4,
    }
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replications"] == 4
    assert manifest["precision"]["variants"]["ladder"]["converged"] is False
    loose = write_experiment(tmp_path / "q.toml", extra=extra.replace("0.000001", "0.5"))
    df = run_experiment(
        loose, executor="serial", out=tmp_path / "q", progress=False, simulate=fake_simulate
    ).tidy
    assert df["replication"].nunique() == 3  # min 3 replications, then precise enough


def test_shipped_experiments_validate():
    names = {}
    for path in sorted((ROOT / "scenarios" / "experiments").glob("*.toml")):
        exp = load_experiment(path)
        names[path.stem] = len(exp.variants)
        assert exp.baseline in [v.name for v in exp.variants]
        zh = [v.name_zh for v in exp.variants]
        assert all(re.search(r"[\u4e00-\u9fff]", n) for n in zh), path.stem
        assert len(set(zh)) == len(zh), path.stem
        for v in exp.variants:
            if v.label == v.name:  # an explicit variant: named and described in Chinese
                assert re.search(r"[\u4e00-\u9fff]", v.description_zh), (path.stem, v.name)
    assert names == {
        "before_after_reform": 2,
        "escalation_rules": 5,
        "grid_granularity": 12,
        "one_stop_centre": 4,
        "staffing_ratios": 8,
    }


def failing_simulate(scenario, seed, days=None):
    if seed.spawn_key == (1,):
        raise RuntimeError("engine failure in replication 1")
    return fake_simulate(scenario, seed, days)


def test_a_failing_run_stops_the_sweep_but_keeps_finished_runs(tiny, tmp_path):
    out = tmp_path / "x"
    with pytest.raises(RuntimeError, match="replication 1"):
        run_experiment(
            tiny,
            executor="serial",
            out=out,
            simulate=failing_simulate,
            progress=False,
        )
    assert sorted(p.name for p in (out / "runs").glob("*.parquet")) == [
        "ladder__r0.parquet",
        "merged-centre__r0.parquet",
    ]
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    result = run_experiment(
        tiny, executor="serial", out=out, simulate=fake_simulate, progress=False
    )
    assert (result.computed, result.skipped) == (2, 2)


def test_dask_executor_submits_runs_with_retries(monkeypatch):
    """A run whose Dask worker dies is computed again (``retries``), not lost."""
    from gridsim.experiment import dask_executor

    submitted: list[dict] = []

    class Done:
        def __init__(self, value):
            self.value = value

        def result(self):
            return self.value

    class Client:
        def submit(self, fn, spec, **kw):
            submitted.append(kw)
            return Done(fn(spec))

    class AsCompleted(list):
        def add(self, future):
            self.append(future)

    monkeypatch.setattr(dask_executor, "_import_distributed",
                        lambda: SimpleNamespace(as_completed=AsCompleted))  # fmt: skip
    ex = DaskExecutor(workers=1)
    ex._client = Client()
    assert sorted(ex.run(abs, [-3, 1, -2, 5, -4, 6])) == [1, 2, 3, 4, 5, 6]
    assert len(submitted) == 6
    assert all(kw.get("retries", 0) >= 1 for kw in submitted)
