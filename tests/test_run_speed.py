"""`gridsim run` end to end: which figures it draws, in parallel, what it writes and when.

The speed itself is measured by benchmarks/run_end_to_end.py; these tests hold what the
speed-ups must not change: the files (tables identical when read back, figures identical
whether drawn here or in worker processes), the atomic run directory, one-line refusals.
"""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path

import pandas as pd
import pytest

from gridsim.cli import main
from gridsim.errors import UserError
from gridsim.model.records import RUN_TABLES
from gridsim.output.figure_sets import CORE_FIGURES, RUN_FIGURES, parse_figures


@pytest.fixture(scope="module")
def one_town(repo) -> str:
    return str(repo / "scenarios" / "one_town.toml")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, one_town) -> Path:
    """A small run with no figures: the figure tests draw from it."""
    out = tmp_path_factory.mktemp("speed") / "run"
    args = ["run", one_town, "--days", "10", "--seed", "4", "--quiet", "--figures", "none"]
    assert main([*args, "--out", str(out)]) == 0
    return out


# ------------------------------------------------------------------------- the selection


def test_the_selections():
    assert parse_figures("none") == ()
    assert parse_figures("all") == RUN_FIGURES
    assert parse_figures(" Core ") == CORE_FIGURES
    # names keep the usual order, whatever order they are given in
    assert parse_figures("warmup,backlog") == ("backlog", "warmup")
    assert parse_figures(["ranking"]) == ("ranking",)


@pytest.mark.parametrize("text", ["sankey", "", "core,backlog", ","])
def test_a_bad_selection_is_a_user_error(text):
    with pytest.raises(UserError, match="--figures"):
        parse_figures(text)


def test_the_core_figures_are_those_a_run_directory_promises():
    """tests/test_cli.py expects backlog, resolved_where and response_ecdf by default."""
    assert {"backlog", "resolved_where", "response_ecdf", "escalation_flow"} == set(CORE_FIGURES)


@pytest.mark.parametrize("command", [["run", "x.toml"], ["plot", "somewhere"]])
def test_a_bad_figures_option_is_one_line_before_any_work(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--figures", "sankey"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sankey" in err and "escalation_flow" in err


# ------------------------------------------------------------------------- gridsim run


def test_figures_none_writes_no_figures_and_says_so(run_dir):
    assert not (run_dir / "figures").exists()
    assert json.loads((run_dir / "run.json").read_text())["figures"] == []
    for name in RUN_TABLES:
        assert (run_dir / f"{name}.parquet").is_file()


def test_the_default_is_core_and_recorded(one_town, tmp_path):
    out = tmp_path / "run"
    assert main(["run", one_town, "--days", "3", "--quiet", "--lang", "en", "--out", str(out)]) == 0
    drawn = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert drawn == sorted(f"{name}_en.png" for name in CORE_FIGURES)
    assert json.loads((out / "run.json").read_text())["figures"] == list(CORE_FIGURES)


def test_the_summary_is_printed_before_anything_is_written(one_town, tmp_path, monkeypatch, capsys):
    import gridsim.output.run_command as command

    seen = {}
    real = command.save_run

    def save_run(*args, **kwargs):
        seen["stdout"] = capsys.readouterr().out  # what the user had read by then
        return real(*args, **kwargs)

    monkeypatch.setattr(command, "save_run", save_run)
    out = tmp_path / "run"
    assert main(["run", one_town, "--days", "2", "--quiet", "--figures", "none",
                 "--out", str(out)]) == 0  # fmt: skip
    assert "appeals filed" in seen["stdout"] and "satisfied residents" in seen["stdout"]
    assert f"written to {out}/" in capsys.readouterr().out  # said once it is true


def test_a_failing_figure_leaves_no_run_directory(one_town, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a figure broke")

    monkeypatch.setattr("gridsim.output.figure_dirs.run_figures", broken)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="a figure broke"):
        main(["run", one_town, "--days", "1", "--quiet", "--out", str(out)])
    assert sorted(tmp_path.iterdir()) == []  # neither the run nor its temporary directory


def test_the_phases_are_logged(one_town, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="gridsim.run")
    out = tmp_path / "run"
    assert main(["run", one_town, "--days", "1", "--quiet", "--lang", "en",
                 "--figures", "backlog", "--out", str(out)]) == 0  # fmt: skip
    phases = {r.phase: (r.wall, r.cpu) for r in caplog.records if hasattr(r, "phase")}
    assert set(phases) == {"simulate", "garbage", "summary", "write", "figures"}
    assert phases["write"][0] >= phases["figures"][0] >= 0  # the figures are part of writing


def test_tables_read_back_identical(one_town, tmp_path):
    """zstd and dictionaries on text columns only: the same tables, dtypes included."""
    import gridsim
    from gridsim.output.run_dir import load_run, save_run

    result = gridsim.simulate(gridsim.load_scenario(one_town), seed=2, days=5)
    back = load_run(save_run(result, tmp_path / "run"))
    for name in RUN_TABLES:
        mine, theirs = getattr(result, name), getattr(back, name)
        assert mine.dtypes.equals(theirs.dtypes), name
        pd.testing.assert_frame_equal(mine, theirs, check_exact=True)


def test_tables_are_zstd(run_dir):
    import pyarrow.parquet as pq

    meta = pq.read_metadata(run_dir / "orders.parquet")
    assert meta.row_group(0).column(0).compression == "ZSTD"


# ------------------------------------------------------------------------- gridsim plot


def test_plot_redraws_a_selection(run_dir, tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["plot", str(run_dir), "--figures", "ranking,warmup", "--lang", "en",
                 "--out", str(out)]) == 0  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["ranking_en.png", "warmup_en.png"]


def test_plot_figures_is_for_run_directories_only(tmp_path, capsys):
    (tmp_path / "tidy.parquet").write_bytes(b"")  # a sweep directory, as far as plot can tell
    assert main(["plot", str(tmp_path), "--figures", "core"]) == 2
    assert "only for a run directory" in capsys.readouterr().err


# ------------------------------------------------------------------ drawing in parallel


def test_workers_draw_the_same_bytes(run_dir, tmp_path):
    from gridsim.output.figure_dirs import run_figures

    here = run_figures(run_dir, "both", tmp_path / "here", figures="all", workers=1)
    there = run_figures(run_dir, "both", tmp_path / "there", figures="all", workers=2)
    assert [p.name for p in here] == [p.name for p in there]
    assert len(here) == 2 * len(RUN_FIGURES)
    for a, b in zip(here, there, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_a_dead_worker_is_an_error_not_a_hang(run_dir, tmp_path):
    import threading

    from gridsim.output.figure_jobs import FigureWorkerError, FigureWorkers, draw_figures

    with FigureWorkers(1) as workers:
        assert workers.pool is not None
        workers.pool.submit(int).result(timeout=120)  # the worker is up

        def kill() -> None:  # mid-drawing: as the kernel's OOM killer would
            assert workers.pool is not None
            for pid in list(workers.pool._processes):
                os.kill(pid, signal.SIGKILL)

        timer = threading.Timer(1.0, kill)
        timer.start()
        jobs = [(name, lang) for lang in ("en", "zh") for name in RUN_FIGURES]
        try:
            with pytest.raises(FigureWorkerError, match="worker process died"):
                draw_figures(run_dir, jobs, tmp_path / "figs", workers=workers)
        finally:
            timer.cancel()


def test_an_error_in_a_worker_comes_back_naming_the_figure(run_dir, tmp_path):
    import shutil

    from gridsim.output.figure_jobs import draw_figures

    broken = Path(shutil.copytree(run_dir, tmp_path / "broken"))
    (broken / "orders.parquet").write_bytes(b"not parquet")
    jobs = [("escalation_flow", "en"), ("response_ecdf", "en"), ("resolved_where", "en")]
    with pytest.raises(Exception, match="(?i)parquet") as exc:
        draw_figures(broken, jobs, tmp_path / "figs", workers=2)
    notes = " ".join(getattr(exc.value, "__notes__", []))
    assert not notes or "while drawing the figure" in notes  # drawn here: no note needed


def test_a_long_run_streams_its_event_log_into_the_run_directory(one_town, tmp_path, monkeypatch):
    """Past STREAM_EVENTS_DAYS the log goes to disk as the run goes, then into the directory:
    sorted by time it is the log of the same run kept in memory; no temporary file is left."""
    from gridsim.output import run_command as command

    kept = command.run_command(one_town, tmp_path / "kept", days=4, figures="none",
                               progress=False)  # fmt: skip
    monkeypatch.setattr(command, "STREAM_EVENTS_DAYS", 3.0)
    streamed = command.run_command(one_town, tmp_path / "streamed", days=4, figures="none",
                                   progress=False)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept", "streamed"]
    assert json.loads((kept / "run.json").read_text())["events_sorted_by_time"] is True
    assert json.loads((streamed / "run.json").read_text())["events_sorted_by_time"] is False
    in_memory = pd.read_parquet(kept / "events.parquet")
    on_disk = pd.read_parquet(streamed / "events.parquet")
    assert len(on_disk) == len(in_memory) > 100
    by_time = on_disk.sort_values("time", kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(by_time, in_memory)
    for name in ("orders", "appeals", "issues"):
        pd.testing.assert_frame_equal(pd.read_parquet(streamed / f"{name}.parquet"),
                                      pd.read_parquet(kept / f"{name}.parquet"))  # fmt: skip
