"""The results directory of one experiment: resumable, every file written atomically.

A results directory (default ``results/experiments/<experiment slug>/``) holds::

    experiment.toml          the experiment file as given
    base_scenario.toml       the base scenario it ran (the directory is self-contained)
    manifest.json            definition fingerprint, variants (with their Chinese display
                             names), seeds and wall time of every run
    runs/<variant_id>__r<rep>.parquet   one finished run's KPI rows (written atomically)
    warmup.json, warmup.parquet         MSER-5 truncation and the pilot backlog (if asked)
    tidy.parquet, tidy.csv   the whole tidy table
    summary.csv              per (variant, metric) mean and confidence interval
    comparison.csv           paired differences against the baseline (Bonferroni-adjusted)
    .gridsim, .gridsim.lock  the marker (gridsim wrote this directory) and the sweep's lock

gridsim writes only into a new or empty directory or one with its marker (or, from 0.1, a
``manifest.json``); ``fresh`` deletes only the files listed above (a user's notes, folders
and figures stay). One sweep at a time: a second one is refused at once while the first
holds the lock (see :meth:`ResultsStore.locked`).

A run whose file exists and reads back is finished: rerunning skips it, so a killed sweep
resumes where it stopped. A changed definition (factors, variants, seed, days, warm-up or
base scenario, see :meth:`gridsim.experiment.spec.Experiment.fingerprint`) is refused unless
the directory is cleared first (``fresh``); so is a resume by another gridsim version or from
another locked environment (``gridsim_version`` and ``lock_hash`` in the manifest, see
:func:`gridsim.version.provenance`), since its runs would be mixed with the earlier ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridsim.analysis.stats import TIDY_KEYS
from gridsim.errors import UserError
from gridsim.experiment.runs import RunOutcome
from gridsim.experiment.spec import Experiment
from gridsim.files import (
    atomic_write,
    atomic_write_text,
    directory_kind,
    foreign_directory,
    owned_by_patterns,
    remove_owned,
    write_csv,
    write_marker,
)
from gridsim.model.scenario import Scenario
from gridsim.version import provenance

#: Parquet schema metadata key holding a run's seed, wall time and host.
_RUN_META_KEY = b"gridsim_run"


class ResultsConflictError(UserError):
    """A results directory holds results that cannot be matched to this experiment.

    Example:
        >>> print(ResultsConflictError("out", "manifest.json", "readable JSON"))
        out: manifest.json: readable JSON
    """


class ResultsLockedError(UserError):
    """Another sweep is writing the results directory (its lock file is held)."""


class UnreadableRunError(UserError):
    """A run file that does not read back (truncated by a kill, or not a run file at all)."""


def _write_json(path: Path, data: Any) -> None:
    """Indented UTF-8 JSON (Chinese names stay readable), written atomically."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=_json_default, allow_nan=True)
    atomic_write(path, lambda tmp: tmp.write_text(text + "\n", "utf-8"))


def _shown(value: Any) -> str:
    """A recorded value as a refusal names it (``none recorded`` for a missing one)."""
    return "none recorded" if value is None else repr(value)


def _json_default(value: Any) -> Any:
    """Return numpy scalars as Python numbers; anything else JSON does not know as text."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, np.bool_)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return str(value)


#: What a sweep or a report writes in a results directory (``fresh`` deletes only these;
#: the user's own files, folders and figures stay).
_OWNED = (
    "runs",
    "runs/*__r*.parquet",
    "runs/.*.tmp",
    "manifest.json",
    "experiment.toml",
    "base_scenario.toml",
    "warmup.json",
    "warmup.parquet",
    "tidy.parquet",
    "tidy.csv",
    "runs.csv",
    "summary.csv",
    "comparison.csv",
    "figures",
    "figures/*_en.png",
    "figures/*_zh.png",
    "report.md",
    "report.html",
    "report_zh.md",
    "report_zh.html",
)
#: The lock file a sweep holds while it writes the directory.
LOCK_NAME = ".gridsim.lock"


class ResultsStore:
    """The on-disk results directory of one experiment (see the module docstring).

    Example:
        >>> import tempfile
        >>> store = ResultsStore(tempfile.mkdtemp())
        >>> store.run_file("baseline", 3).name
        'baseline__r3.parquet'
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.runs_dir = self.root / "runs"
        self.manifest_path = self.root / "manifest.json"

    @contextlib.contextmanager
    def locked(self) -> Iterator[ResultsStore]:
        """Hold the directory for one sweep: refuse a foreign directory, mark it, lock it.

        A second sweep into a locked directory is refused at once (one line naming the lock
        and the process holding it) rather than left waiting: a sweep can take hours, and a
        script that wants to wait can retry. The lock is an OS lock (``flock``), so it is
        released when its process ends, even by ``kill -9``; the file itself stays.

        Raises:
            ResultsConflictError: the directory is a file, or holds files gridsim did not
                write (no ``.gridsim`` marker, nor a 0.1 ``manifest.json``).
            ResultsLockedError: another sweep holds the lock.
        """
        reason = foreign_directory(self.root, "experiment")
        if reason is not None:
            raise ResultsConflictError(self.root, "", reason)
        self.root.mkdir(parents=True, exist_ok=True)
        if directory_kind(self.root) is None:  # new or empty: gridsim's from now on
            write_marker(self.root, "experiment")
        with (self.root / LOCK_NAME).open("a+", encoding="utf-8") as handle:
            _lock(handle, self.root / LOCK_NAME)
            yield self

    # ---- lifecycle
    def prepare(self, experiment: Experiment, fresh: bool = False) -> dict:
        """Create or reopen the directory; refuse results of another definition.

        Returns:
            The existing manifest (``{}`` for a new directory).

        Raises:
            ResultsConflictError: the directory holds results of a different definition, or
                made by another gridsim version or locked environment, and ``fresh`` is
                false.
        """
        if fresh:
            self.clear()
        old = self._read_manifest(experiment)
        if old and old.get("fingerprint") != experiment.fingerprint():
            raise ResultsConflictError(
                self.root,
                "",
                "results of this experiment, but it holds those of a different definition of "
                f"{old.get('experiment', '?')!r} (factors, variants, seed, days, warm-up or base "
                "scenario changed); rerun with --fresh (fresh=True) to discard them, "
                "or choose another --out",
            )
        if old:
            self._check_provenance(old)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        for leftover in [*self.runs_dir.glob(".*.tmp"), *self.root.glob(".*.tmp")]:
            with contextlib.suppress(OSError):
                leftover.unlink()
        text = experiment.source_text
        atomic_write(self.root / "experiment.toml", lambda tmp: tmp.write_text(text, "utf-8"))
        self._write_base(experiment.base)
        return old

    def _check_provenance(self, old: dict) -> None:
        """Refuse to add runs to results made by another gridsim or another environment.

        One line naming the manifest, the field (``gridsim_version`` or ``lock_hash``), what
        the results here were made with and what is running now. A manifest from before
        these fields were recorded is refused too: its runs cannot be matched.
        """
        for field, now in provenance().items():
            then = old.get(field)
            if then == now:
                continue
            raise ResultsConflictError(
                self.manifest_path,
                field,
                f"results made with {_shown(now)} (the one running now), but these were made "
                f"with {_shown(then)}; rerun with --fresh (fresh=True) to discard them, "
                "or choose another --out",
            )

    def _read_manifest(self, experiment: Experiment) -> dict:
        """The manifest of earlier results (``{}`` if none); refuse runs without one."""
        if not self.manifest_path.exists():
            if self.runs_dir.is_dir() and any(self.runs_dir.glob("*__r*.parquet")):
                raise ResultsConflictError(
                    self.root,
                    "manifest.json",
                    "present beside runs/ (without it the runs cannot be matched to this "
                    "experiment); rerun with --fresh or choose another --out",
                )
            return {}
        try:
            return json.loads(self.manifest_path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ResultsConflictError(
                self.manifest_path, "", f"a readable manifest ({exc}); rerun with --fresh"
            ) from None

    def _write_base(self, base: Scenario) -> None:
        """Copy the base scenario in, so the directory is self-contained."""
        atomic_write_text(self.root / "base_scenario.toml", base.to_toml())

    def clear(self) -> None:
        """Delete what a sweep or a report wrote here (nothing else; the marker stays)."""
        if self.root.is_dir():
            remove_owned(self.root, owned_by_patterns(_OWNED))

    def write_manifest(self, manifest: dict) -> None:
        """Write ``manifest.json`` atomically."""
        _write_json(self.manifest_path, manifest)

    def write_json(self, name: str, data: dict) -> None:
        """Write ``name.json`` atomically (as the manifest is written)."""
        _write_json(self.root / f"{name}.json", data)

    # ---- runs
    def run_file(self, variant_id: str, replication: int) -> Path:
        """Path of one run's file."""
        return self.runs_dir / f"{variant_id}__r{replication}.parquet"

    def finished(self, variant_id: str, replication: int) -> bool:
        """Whether the run's file exists and reads back; an unreadable file is deleted."""
        path = self.run_file(variant_id, replication)
        if not path.exists():
            return False
        try:
            self.read_run(path)
        except UnreadableRunError:  # damaged, or not a run file: compute it again
            path.unlink()
            return False
        return True

    def write_run(self, outcome: RunOutcome) -> Path:
        """Write one finished run's tidy rows (and its seed and timing) atomically."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        metrics = list(outcome.kpis)
        table = pa.table(
            {
                "variant": pa.array([outcome.variant] * len(metrics), pa.string()),
                "replication": pa.array([outcome.replication] * len(metrics), pa.int64()),
                "metric": pa.array(metrics, pa.string()),
                "value": pa.array([outcome.kpis[m] for m in metrics], pa.float64()),
            }
        )
        meta = {
            "variant": outcome.variant,
            "variant_id": outcome.variant_id,
            "replication": outcome.replication,
            "seed": outcome.seed,
            "wall_time_s": outcome.wall_time_s,
            "host": outcome.host,
            "pid": outcome.pid,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        table = table.replace_schema_metadata({_RUN_META_KEY: json.dumps(meta).encode()})
        path = self.run_file(outcome.variant_id, outcome.replication)
        atomic_write(path, lambda tmp: pq.write_table(table, tmp))
        return path

    @staticmethod
    def read_run(path: Path) -> tuple[pd.DataFrame, dict]:
        """One run file's rows and its metadata (seed, wall time, host).

        Raises:
            UnreadableRunError: the file is not Parquet, lacks a key column or the metadata.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        expected = "a run file written by gridsim sweep"
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            raise UnreadableRunError(path, "", f"{expected} ({exc})") from exc
        missing = [c for c in TIDY_KEYS if c not in table.column_names]
        if missing:
            raise UnreadableRunError(path, "", f"{expected} (missing {missing})")
        raw = (table.schema.metadata or {}).get(_RUN_META_KEY)
        try:
            meta = json.loads(raw) if raw is not None else None
        except json.JSONDecodeError as exc:
            raise UnreadableRunError(path, "", f"{expected} (metadata: {exc})") from exc
        if not isinstance(meta, dict):
            raise UnreadableRunError(path, "", f"{expected} (no {_RUN_META_KEY.decode()} metadata)")
        return table.to_pandas(), meta

    def write_table(self, df: pd.DataFrame, name: str, csv: bool = True) -> None:
        """Write ``name.parquet`` (and ``name.csv``) atomically."""
        atomic_write(self.root / f"{name}.parquet", lambda tmp: df.to_parquet(tmp, index=False))
        if csv:
            self.write_csv(df, name)

    def write_csv(self, df: pd.DataFrame, name: str) -> None:
        """Write ``name.csv`` atomically, spreadsheet-safe (see :func:`gridsim.files.write_csv`)."""
        write_csv(df, self.root / f"{name}.csv")


def _lock(handle: Any, path: Path) -> None:
    """Take the OS lock on an open lock file, or refuse with the holder's process id."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; sweeps there are not guarded against each other
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        raise ResultsLockedError(
            path,
            "",
            f"a free lock (another gridsim sweep, process {holder}, is writing this directory); "
            "wait for it to finish or choose another --out",
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
