"""A province run survives a worker's death: the county is retried, the tables are identical.

Each case runs the synthetic province twice: once undisturbed on local processes, once on an
executor whose worker is killed (SIGKILL, a real death) while it holds a county, either
before the county has written anything or after it has written everything but before its
summary reached the client. The county is then computed again on another (or a restarted)
worker, and every table of the province must come out the same as the undisturbed run's.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from killing import first_time, gone, kill_this_worker, needs_dask

from gridsim.experiment.executors import DaskExecutor, LocalProcessesExecutor
from gridsim.province.run import run_province
from gridsim.province.tasks import TABLES, CountyTask

ROOT = Path(__file__).resolve().parents[1]
PROVINCE = ROOT / "scenarios" / "provinces" / "synthetic_20.toml"
#: The county whose worker dies, and how many days each county runs.
VICTIM, DAYS = "north-xicheng", 4
#: Columns of the counties table that measure the machine, not the model.
COST = ["cpu_s", "wall_s", "simulate_cpu_s", "simulate_wall_s", "peak_rss_mb", "worker"]

def dying(fn: Callable[[CountyTask], Any], folder: str, when: str, task: CountyTask) -> Any:
    """Run ``fn(task)``, but the first time the victim comes, kill this worker ``when`` says.

    Every try leaves a file named after the county and the process that tried it.
    """
    Path(folder, f"try-{task.key}-{os.getpid()}-{os.urandom(4).hex()}").touch()
    kill = task.key == VICTIM and first_time(Path(folder, f"killed-{task.key}"))
    if kill and when == "before":
        kill_this_worker()
    result = fn(task)
    if kill and when == "after":  # everything written, the summary never sent
        kill_this_worker()
    return result


class Dying:
    """An executor that hands its runs to ``inner`` through :func:`dying`."""

    def __init__(self, inner: Any, folder: Path, when: str) -> None:
        self.inner, self.folder, self.when = inner, str(folder), when
        self.name, self.workers = inner.name, inner.workers

    def __enter__(self) -> Dying:
        self.inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.__exit__(*exc)

    def run(self, fn: Callable[[Any], Any], specs: Iterable[Any]) -> Iterator[Any]:
        return self.inner.run(functools.partial(dying, fn, self.folder, self.when), specs)


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("undisturbed")
    run_province(PROVINCE, out, executor="processes", workers=2, days=DAYS, figures=False)
    return out


def _same_province(a: Path, b: Path) -> None:
    ca, cb = (pd.read_parquet(d / "counties.parquet").drop(columns=COST) for d in (a, b))
    pd.testing.assert_frame_equal(ca, cb)
    for table in TABLES:
        ta, tb = (pd.read_parquet(d / "tables" / table) for d in (a, b))
        assert len(ta) > 0
        pd.testing.assert_frame_equal(ta, tb, obj=table)
    # No half-written file is left behind by the dead worker.
    assert not list(b.rglob("*.partial"))


CASES = [
    pytest.param("processes", "before", id="processes-killed-before-writing"),
    pytest.param("processes", "after", id="processes-killed-after-writing"),
    pytest.param("dask", "before", id="dask-killed-before-writing", marks=needs_dask),
    pytest.param("dask", "after", id="dask-killed-after-writing", marks=needs_dask),
]


@pytest.mark.parametrize(("kind", "when"), CASES)
def test_a_killed_worker_leaves_the_province_identical(
    kind: str, when: str, undisturbed: Path, tmp_path: Path
) -> None:
    inner = LocalProcessesExecutor(workers=2) if kind == "processes" else DaskExecutor(workers=2)
    out = tmp_path / "out"
    result = run_province(
        PROVINCE, out, executor=Dying(inner, tmp_path, when), days=DAYS, figures=False
    )
    assert (tmp_path / f"killed-{VICTIM}").exists(), "the victim's worker was never killed"
    tries = list(tmp_path.glob(f"try-{VICTIM}-*"))
    assert len(tries) == 2  # died once, then ran through
    pids = {int(t.name.split("-")[-2]) for t in tries}
    assert len(pids) == 2 and any(gone(pid) for pid in pids), "no worker process died"
    assert result.computed == 20
    _same_province(undisturbed, out)
