"""A run's results as plain tables, and the run directory that holds them on disk.

A :class:`RunResult` is what :func:`gridsim.simulate` returns: tidy pandas tables (one row
per appeal, per work order, per latent issue, per staff member, per lifecycle event) plus the
scalar KPIs. :func:`save_run` writes it to a run directory atomically; :func:`load_run` reads
it back, so figures can be redrawn without rerunning the simulation.

Time unit: hours since the start of the run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

#: Lifecycle event codes of the event log (column ``event``).
EVENT_CODES: dict[int, str] = {
    0: "arrive",  # an appeal is filed (or a visit finds an issue)
    1: "merge",  # the appeal joins an open work order of the same issue
    2: "dispatch",  # a work order is sent to a unit
    3: "start",  # a staff member starts working on the order
    4: "escalate",  # the unit passes the order up
    5: "resolve",  # the order is closed with a resolution
    6: "feedback",  # the resident rates the resolution (value = 1 satisfied, 0 not)
    7: "reopen",  # a dissatisfied resident reopens the issue
    8: "incident",  # an unresolved issue turned into a serious incident
    9: "return",  # a misrouted order is sent back down
}

RUN_TABLES: tuple[str, ...] = ("events", "appeals", "orders", "issues", "staff", "units", "backlog")


@dataclass
class RunResult:
    """Everything one simulation run produced.

    Attributes:
        scenario_name: the scenario's ``meta.name``.
        seed: the replication seed's entropy and spawn key, as a JSON-friendly dict.
        horizon_hours: simulated length of the run.
        warmup_hours: observations before this time are left out of the KPIs.
        kpis: scalar KPIs by name (see ``gridsim.metrics``).
        events: the event log, one row per lifecycle event: ``time``, ``order``, ``appeal``,
            ``event`` (code, see :data:`EVENT_CODES`), ``level`` (0 micro-grid .. 3 county,
            -1 none), ``unit`` (row of ``units``), ``staff`` (row of ``staff``, -1 none),
            ``value``.
        appeals: one row per appeal (see ``gridsim.engine``).
        orders: one row per work order.
        issues: one row per latent issue that arose.
        staff: one row per staff member, with their workload and points.
        units: one row per handling unit (micro-grid team, grid, desk, department).
        backlog: open work orders sampled every hour: ``time``, ``open``.
        breakdowns: KPI tables by group (by channel, by level, by role ...), by name.
    """

    scenario_name: str
    seed: dict
    horizon_hours: float
    warmup_hours: float
    kpis: dict[str, float]
    events: pd.DataFrame
    appeals: pd.DataFrame
    orders: pd.DataFrame
    issues: pd.DataFrame
    staff: pd.DataFrame
    units: pd.DataFrame
    backlog: pd.DataFrame
    breakdowns: dict[str, pd.DataFrame] = field(default_factory=dict)

    def kpi_table(self) -> pd.DataFrame:
        """The KPIs as a tidy table with columns ``metric`` and ``value``."""
        return pd.DataFrame({"metric": list(self.kpis), "value": list(self.kpis.values())})


def _atomic_directory(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))


class OutputDirectoryError(ValueError):
    """The chosen output directory holds something other than an earlier gridsim run."""


def check_output_directory(out: str | Path) -> Path:
    """Make sure writing a run to ``out`` can only replace an earlier run, never other files.

    Raises:
        OutputDirectoryError: ``out`` is a file, or a non-empty directory that is not a
            gridsim run directory (no ``run.json``).
    """
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise OutputDirectoryError(f"{out}: exists and is a file (expected a run directory)")
        if any(out.iterdir()) and not (out / "run.json").is_file():
            raise OutputDirectoryError(
                f"{out}: exists and is not a gridsim run directory (no run.json); "
                "choose another --out, or remove it first"
            )
    return out


def publish_directory(tmp: Path, final: Path) -> None:
    """Move a fully written temporary directory into place (replacing an older run)."""
    if final.exists():
        backup = final.with_name(f".{final.name}.old")
        shutil.rmtree(backup, ignore_errors=True)
        os.replace(final, backup)
        os.replace(tmp, final)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(tmp, final)


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Write a file through a temporary name and a rename, so it is never half-written.

    Every file gridsim writes goes through here (or through a run directory's rename).

    Args:
        path: the file to (re)place.
        write: writes the content to the temporary path it is given.

    Example:
        >>> import tempfile
        >>> out = atomic_write(Path(tempfile.mkdtemp()) / "a.txt", lambda t: t.write_text("hi"))
        >>> out.read_text()
        'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, "utf-8"))


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=float))


def save_run(
    result: RunResult,
    out: str | Path,
    extra: dict | None = None,
    finalize: Callable[[Path], None] | None = None,
) -> Path:
    """Write a run's tables (Parquet), KPIs (CSV and JSON) and metadata to ``out``.

    The directory is built under a temporary name and renamed at the end, so a run
    directory is either complete or absent.

    Args:
        result: the run.
        out: the run directory to create (replaced if it exists).
        extra: more files to add before publishing, as ``{relative name: bytes}``.
        finalize: called with the temporary directory once the tables are written (to add
            figures, say) before it is renamed into place.

    Returns:
        The run directory.
    """
    final = check_output_directory(out)
    tmp = _atomic_directory(final)
    try:
        for name in RUN_TABLES:
            getattr(result, name).to_parquet(tmp / f"{name}.parquet", index=False)
        for name, table in result.breakdowns.items():
            table.to_csv(tmp / f"kpis_by_{name}.csv", index=False)
        result.kpi_table().to_csv(tmp / "kpis.csv", index=False)
        write_json(tmp / "kpis.json", result.kpis)
        meta = {
            "gridsim_version": _version(),
            "scenario_name": result.scenario_name,
            "seed": result.seed,
            "horizon_hours": result.horizon_hours,
            "warmup_hours": result.warmup_hours,
            "breakdowns": sorted(result.breakdowns),
        }
        write_json(tmp / "run.json", meta)
        for name, payload in (extra or {}).items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(payload)
        if finalize is not None:
            finalize(tmp)
        publish_directory(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _version() -> str:
    from gridsim import __version__

    return __version__


def load_run(run_dir: str | Path) -> RunResult:
    """Read a run directory written by :func:`save_run` (or ``gridsim run``).

    Raises:
        FileNotFoundError: the directory is not a complete run directory.
    """
    run_dir = Path(run_dir)
    meta_path = run_dir / "run.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{run_dir}: not a gridsim run directory (no run.json)")
    meta = json.loads(meta_path.read_text("utf-8"))
    tables = {name: pd.read_parquet(run_dir / f"{name}.parquet") for name in RUN_TABLES}
    breakdowns = {
        name: pd.read_csv(run_dir / f"kpis_by_{name}.csv") for name in meta.get("breakdowns", [])
    }
    kpis = json.loads((run_dir / "kpis.json").read_text("utf-8"))
    return RunResult(
        scenario_name=meta["scenario_name"],
        seed=meta["seed"],
        horizon_hours=meta["horizon_hours"],
        warmup_hours=meta["warmup_hours"],
        kpis=kpis,
        breakdowns=breakdowns,
        **tables,
    )
