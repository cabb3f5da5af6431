"""Executors survive a worker's death: runs are retried, tables come out identical.

Workers are killed for real (SIGKILL). Where killing from the test would race the run, the
run kills its own worker process, once, remembered by a marker file: deterministic, and
still a real worker death.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from killing import first_time, kill_this_worker, needs_dask

from gridsim.experiment import dask_executor
from gridsim.experiment.executors import (
    DaskExecutor,
    LocalProcessesExecutor,
    SerialExecutor,
    WorkerLostError,
    WorkerMismatchError,
)
from gridsim.experiment.runner import run_experiment
from gridsim.model.simulate import simulate as engine_simulate

ROOT = Path(__file__).resolve().parents[1]
ONE_TOWN = (ROOT / "scenarios" / "one_town.toml").as_posix()

def square(spec: tuple[int, str, str]) -> int:
    """``value**2 + 1``; the spec says whether this run kills its worker (once or always)."""
    value, folder, mode = spec
    Path(folder, f"try-{value}-{uuid.uuid4().hex}").touch()  # every attempt leaves a file
    if mode == "once" and first_time(Path(folder, f"killed-{value}")):
        kill_this_worker()
    if mode == "always":
        kill_this_worker()
    if mode == "raise":
        raise ValueError(f"run {value} failed on its own")
    return value * value + 1


def _tries(folder: Path, value: int) -> int:
    return len(list(folder.glob(f"try-{value}-*")))


def slow_square(value: int) -> int:
    """A run long enough that killing a worker mid-run loses it."""
    time.sleep(0.6)
    return value * value + 1


class KillOnce:
    """The engine's simulate, but the first run of the merged-centre variant kills its worker."""

    def __init__(self, folder: Path) -> None:
        self.marker = folder / "killed"

    def __call__(self, scenario: Any, seed: Any, days: Any = None, log_events: bool = True) -> Any:
        if scenario.centre.merged_town and first_time(self.marker):
            kill_this_worker()
        return engine_simulate(scenario, seed, days, log_events=log_events)


def write_tiny(path: Path) -> Path:
    """Two variants x three replications of one_town over five days (as in test_experiment)."""
    path.write_text(
        f"""
[experiment]
name = "resilient"
base = "{ONE_TOWN}"
replications = 3
days = 5
seed = 11

[[variants]]
name = "ladder"
overrides = {{ "escalation.policy" = "strict_ladder" }}

[[variants]]
name = "merged centre"
overrides = {{ "escalation.policy" = "direct_triage", "centre.merged_town" = true }}
""",
        "utf-8",
    )
    return path


# --------------------------------------------------------------------------- processes


def test_processes_rebuild_the_pool_and_resubmit_after_a_worker_dies(tmp_path, caplog):
    specs = [(v, str(tmp_path), "once" if v in (3, 7) else "") for v in range(12)]
    with SerialExecutor() as ex:
        expected = sorted(ex.run(square, [(v, str(tmp_path), "") for v in range(12)]))
    for attempt in tmp_path.glob("try-*"):
        attempt.unlink()  # count only the pool's attempts below
    caplog.set_level(logging.WARNING, logger="gridsim.executors")
    with LocalProcessesExecutor(workers=2, max_in_flight=4) as ex:
        got = sorted(ex.run(square, specs))
    assert got == expected  # every run once: none lost, none doubled
    assert (tmp_path / "killed-3").exists() and (tmp_path / "killed-7").exists()
    assert _tries(tmp_path, 3) == 2 and _tries(tmp_path, 7) == 2
    lost = [r for r in caplog.records if r.name == "gridsim.executors"]
    assert lost and all(r.levelno == logging.WARNING for r in lost)


def test_a_run_that_always_kills_its_worker_ends_in_a_one_line_error(tmp_path):
    specs = [(v, str(tmp_path), "always" if v == 5 else "") for v in range(10)]
    with LocalProcessesExecutor(workers=2, max_in_flight=4, retries=2) as ex:
        with pytest.raises(WorkerLostError) as err:
            list(ex.run(square, specs))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"run (5, {str(tmp_path)!r}, 'always')")
    assert "each of 3 tries" in message
    assert _tries(tmp_path, 5) == 3


def test_an_exception_of_the_run_itself_is_not_retried(tmp_path):
    specs = [(v, str(tmp_path), "raise" if v == 4 else "") for v in range(8)]
    with LocalProcessesExecutor(workers=2, max_in_flight=4) as ex:
        with pytest.raises(ValueError, match="run 4 failed on its own"):
            list(ex.run(square, specs))
    assert _tries(tmp_path, 4) == 1


# --------------------------------------------------------------------------- dask


@needs_dask
def test_dask_recomputes_the_runs_of_a_worker_killed_mid_run():
    values = list(range(8))
    expected = sorted(map(slow_square, values))  # the serial result, without the sleeps' cost
    got = []
    with DaskExecutor(workers=2) as ex:
        for result in ex.run(slow_square, values):
            if not got:  # both workers are busy with the next runs: kill one of them
                victim = sorted(ex.client.run(os.getpid).values())[0]
                os.kill(victim, signal.SIGKILL)
            got.append(result)
        pids = ex.client.run(os.getpid, on_error="ignore").values()
    assert sorted(got) == expected
    assert victim not in pids


@pytest.mark.parametrize("executor", ["processes", pytest.param("dask", marks=needs_dask)])
def test_sweep_with_a_killed_worker_gives_the_serial_table(tmp_path, executor):
    exp = write_tiny(tmp_path / "tiny.toml")
    serial = run_experiment(exp, executor="serial", out=tmp_path / "s", progress=False)
    parallel = DaskExecutor(workers=2) if executor == "dask" else LocalProcessesExecutor(2)
    killed = run_experiment(
        exp, executor=parallel, out=tmp_path / "k", simulate=KillOnce(tmp_path), progress=False
    )
    assert (tmp_path / "killed").exists()  # a worker did die mid-sweep
    assert killed.computed == serial.computed == 6
    assert serial.tidy.equals(killed.tidy)
    pd.testing.assert_frame_equal(serial.tidy, pd.read_parquet(tmp_path / "k" / "tidy.parquet"))


@needs_dask
def test_dask_refuses_workers_of_another_gridsim(monkeypatch):
    real = dask_executor.provenance()
    other = {**real, "gridsim_version": "9.9.9-client"}
    with DaskExecutor(workers=1) as ex:
        (address,) = ex.client.run(os.getpid)
        # A worker that joined later is caught by the values that come back with its result.
        monkeypatch.setattr(dask_executor, "provenance", lambda: other)
        with pytest.raises(WorkerMismatchError) as late:
            list(ex.run(abs, [-1, -2]))
    assert str(late.value) == (
        f"Dask worker {address}: gridsim_version '9.9.9-client' as on the client,"
        f" got {real['gridsim_version']!r}"
    )
    ex = DaskExecutor(workers=1)
    with pytest.raises(WorkerMismatchError, match=r"^Dask worker tcp://\S+: gridsim_version "):
        ex.__enter__()  # the workers present are asked on entry
    assert ex.client is None  # and the cluster it started is closed again
