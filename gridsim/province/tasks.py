"""What a worker does for one county: simulate it, write its tables, send back a summary.

A county's tables go to ``<out>/tables/<table>/county=<key>/part-0.parquet`` (Hive-style
partitions: ``pyarrow.dataset`` and ``pandas.read_parquet`` read the whole province's table
as one, with a ``county`` column), on a local path or any fsspec URL the workers can reach.
Each file is written under a temporary name and renamed into place, and the county's
summary (``<out>/counties/<key>.json``) is written last: a county whose summary exists is
complete, and a county retried after its worker died rewrites the same files with the same
bytes. Only the summary (KPIs, counts, costs: a few kB) travels back to the client.

Example:
    >>> from gridsim.province.run import plan_counties
    >>> from gridsim.province.file import load_province
    >>> import tempfile
    >>> p = load_province("scenarios/provinces/synthetic_20.toml")
    >>> task = plan_counties(p, tempfile.mkdtemp(), days=3)[0]
    >>> summary = run_county(task)
    >>> summary["key"], summary["appeals"] == summary["kpis"]["appeals"]
    ('north-dongcheng', True)
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import resource
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import fsspec

from gridsim.model.loader import scenario_from_dict
from gridsim.model.records import RUN_TABLES
from gridsim.model.simulate import simulate
from gridsim.output.run_dir import write_table
from gridsim.province.derive import county_seed
from gridsim.version import provenance

#: The tables a county writes (every run table; ``events`` can be left out).
TABLES: tuple[str, ...] = RUN_TABLES
#: Where a county's summary goes, under the output location.
SUMMARY_DIR = "counties"


@dataclass(frozen=True)
class CountyTask:
    """Everything a worker needs for one county; small to pickle (the scenario is a dict).

    Attributes:
        key: the county's key (its partition name).
        city: its city's key.
        scenario: the derived scenario, as ``Scenario.model_dump()``.
        province_seed: the province's root seed (the county's is keyed from it).
        days: simulated days.
        out: the output location (a local path or an fsspec URL).
        tables: the tables to write.
        identity: the county's row and derived figures, copied into its summary.
    """

    key: str
    city: str
    scenario: dict
    province_seed: int
    days: float
    out: str
    tables: tuple[str, ...] = TABLES
    identity: dict = field(default_factory=dict)

    def fingerprint(self) -> str:
        """A hash of what decides the county's results: a resumed run reuses a match only."""
        text = json.dumps(
            [self.scenario, self.province_seed, self.days, self.tables, self.key,
             *provenance().values()],  # the code and its locked environment
            sort_keys=True, default=str,
        )  # fmt: skip
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_county(task: CountyTask) -> dict[str, Any]:
    """Simulate one county, write its partitions and summary, and return the summary.

    The summary holds the county's identity, its scalar KPIs, the CPU and wall seconds of
    the simulation and the writing, and the worker's peak resident memory during it.
    """
    reset_peak_memory()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    scenario = scenario_from_dict(task.scenario, f"county {task.key}")
    seed = county_seed(task.province_seed, task.key)
    fs, root = fsspec.core.url_to_fs(task.out)
    with tempfile.TemporaryDirectory(prefix=f"gridsim-{task.key}-") as scratch:
        events = Path(scratch) / "events.parquet" if "events" in task.tables else None
        result = simulate(scenario, seed=seed, days=task.days, log_events=events is not None,
                          events_path=events)  # fmt: skip
        simulated = time.process_time() - cpu0, time.perf_counter() - wall0
        for name in task.tables:
            local = Path(scratch) / f"{name}.parquet"
            if name != "events":
                write_table(getattr(result, name), local)
            target = f"{root}/tables/{name}/county={task.key}/part-0.parquet"
            _publish(fs, target, functools.partial(fs.put_file, str(local)))
    kpis = {k: float(v) for k, v in result.kpis.items()}
    summary = {
        **task.identity,
        "key": task.key,
        "city": task.city,
        "appeals": int(kpis.get("appeals", 0)),
        "kpis": kpis,
        "seed": result.seed,
        "fingerprint": task.fingerprint(),
        "cpu_s": time.process_time() - cpu0,
        "wall_s": time.perf_counter() - wall0,
        "simulate_cpu_s": simulated[0],
        "simulate_wall_s": simulated[1],
        "peak_rss_mb": peak_memory_mb(),
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        **provenance(),
    }
    payload = json.dumps(summary, indent=1).encode()
    _publish(
        fs, f"{root}/{SUMMARY_DIR}/{task.key}.json", lambda partial: fs.pipe_file(partial, payload)
    )
    return summary


def _publish(fs: Any, target: str, write: Callable[[str], object]) -> None:
    """Write ``target`` under a temporary name (``write(partial)``), then rename it into place."""
    parent = target.rsplit("/", 1)[0]
    fs.makedirs(parent, exist_ok=True)
    partial = f"{parent}/.{uuid.uuid4().hex}.partial"
    write(partial)
    fs.mv(partial, target)


def reset_peak_memory() -> bool:
    """Reset this process's peak resident memory (Linux ``clear_refs``); ``False`` elsewhere.

    A worker runs many counties: without the reset, each county's "peak" would be the
    largest of all before it.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_memory_mb() -> float:
    """Peak resident memory since the last reset, in MiB (``VmHWM``; ``ru_maxrss`` elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def task_record(task: CountyTask) -> dict[str, Any]:
    """The task as plain data (for the manifest), without its scenario."""
    record = asdict(task)
    record.pop("scenario")
    return record
