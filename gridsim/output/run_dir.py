"""The run directory: a run's tables, KPIs and metadata on disk, written atomically.

:func:`save_run` writes a :class:`~gridsim.model.records.RunResult` to a run directory;
:func:`load_run` reads it back, so figures can be redrawn without rerunning the simulation.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from gridsim.errors import UserError
from gridsim.files import (
    MARKER,
    foreign_directory,
    owned_by_patterns,
    publish_directory,
    read_csv,
    temporary_directory,
    write_csv,
    write_json,
    write_marker,
)
from gridsim.model.records import RUN_TABLES, RunResult
from gridsim.version import provenance


class OutputDirectoryError(UserError):
    """The chosen output directory holds something other than an earlier gridsim run."""


#: What gridsim writes in a run directory; a rerun replaces these and carries the rest over.
RUN_FILES: tuple[str, ...] = (
    MARKER,
    "run.json",
    "kpis.json",
    "kpis.csv",
    "kpis_by_*.csv",
    "scenario.toml",
    *(f"{name}.parquet" for name in RUN_TABLES),
    "figures",
    "figures/*_en.png",
    "figures/*_zh.png",
)


#: The Parquet codec of a run's tables. zstd writes the county-year's seven tables in about
#: the time snappy (pandas' default) took and a third smaller (43 MB instead of 62 MB), and
#: every Parquet reader of the last years reads it; lz4 writes ~25 % faster but as large as
#: snappy. Measured in benchmarks/run_end_to_end.py's notes (docs/running.md).
PARQUET_CODEC = "zstd"


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write one table to Parquet (:data:`PARQUET_CODEC`); read back, it is the same table.

    Only text and categorical columns are dictionary-encoded: on numbers (times, ids)
    Parquet's dictionary is tried, overflows and is dropped, which took half the writing
    time of a county-year for no smaller file.

    Example:
        >>> import tempfile
        >>> t = pd.DataFrame({"time": [0.5, 1.5], "channel": pd.Categorical(["app", "visit"])})
        >>> path = write_table(t, Path(tempfile.mkdtemp()) / "t.parquet")
        >>> pd.read_parquet(path).equals(t)
        True
    """
    numeric = {c for c in table.columns if pd.api.types.is_numeric_dtype(table[c].dtype)
               and not isinstance(table[c].dtype, pd.CategoricalDtype)}  # fmt: skip
    dictionary = [str(c) for c in table.columns if c not in numeric]
    table.to_parquet(path, index=False, compression=PARQUET_CODEC, use_dictionary=dictionary)
    return Path(path)


def check_output_directory(out: str | Path) -> Path:
    """Make sure writing a run to ``out`` can only replace an earlier run, never other files.

    Raises:
        OutputDirectoryError: ``out`` is a file, or a non-empty directory that gridsim did
            not write as a run directory (no ``.gridsim`` marker, nor a 0.1 ``run.json``).
    """
    out = Path(out)
    reason = foreign_directory(out, "run")
    if reason is not None:
        raise OutputDirectoryError(out, "", reason)
    return out


def save_run(
    result: RunResult,
    out: str | Path,
    extra: dict | None = None,
    finalize: Callable[[Path], None] | None = None,
    meta: dict | None = None,
) -> Path:
    """Write a run's tables (Parquet), KPIs (CSV and JSON) and metadata to ``out``.

    The directory is built under a temporary name and renamed at the end, so a run
    directory is either complete or absent. Rerunning into a run directory replaces only
    the files gridsim writes (:data:`RUN_FILES`): the user's notes and folders in it stay.

    Args:
        result: the run.
        out: the run directory to create (replaced if it exists).
        extra: more files to add before publishing, as ``{relative name: bytes}``.
        finalize: called with the temporary directory once the tables are written (to add
            figures, say) before it is renamed into place.
        meta: more fields for ``run.json`` (``gridsim run`` adds ``figures``, the names of
            the figures it drew).

    Returns:
        The run directory.
    """
    final = check_output_directory(out)
    tmp = temporary_directory(final)
    try:
        for name in RUN_TABLES:
            if name == "events" and result.events_path is not None:
                # Streamed while the run went on (a long horizon): moved in, not rewritten.
                shutil.move(result.events_path, tmp / "events.parquet")
                continue
            write_table(getattr(result, name), tmp / f"{name}.parquet")
        for name, table in result.breakdowns.items():
            write_csv(table, tmp / f"kpis_by_{name}.csv")
        write_csv(result.kpi_table(), tmp / "kpis.csv")
        write_json(tmp / "kpis.json", result.kpis)
        fields = {
            **provenance(),  # gridsim_version and lock_hash: the code and its environment
            "scenario_name": result.scenario_name,
            "seed": result.seed,
            "horizon_hours": result.horizon_hours,
            "warmup_hours": result.warmup_hours,
            "breakdowns": sorted(result.breakdowns),
            # A streamed log is in the order the engine wrote it (gridsim.model.event_file).
            "events_sorted_by_time": result.events_path is None,
            **(meta or {}),
        }
        write_json(tmp / "run.json", fields)
        for name, payload in (extra or {}).items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(payload)
        if finalize is not None:
            finalize(tmp)
        write_marker(tmp, "run")
        publish_directory(tmp, final, owned_by_patterns(RUN_FILES))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


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
        name: read_csv(run_dir / f"kpis_by_{name}.csv") for name in meta.get("breakdowns", [])
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
