"""Killing worker processes for real in tests: once per marker, never the test process.

A run that kills its own worker is deterministic and still a real death (SIGKILL). It must
know the test process's pid to spare it, and a module-level ``os.getpid()`` would not do:
a Dask worker is a spawned process that imports the test module afresh, so there it would
be the worker's own pid, and the "kill" would be a failed assertion that Dask retries, a
worker that never died. The pid is therefore kept in an environment variable set by the
test process on import, which every worker inherits.
"""

from __future__ import annotations

import importlib.util
import os
import signal
from pathlib import Path

import pytest

#: Inherited by every process the tests start (pool workers, Dask nannies and workers).
PID_VARIABLE = "GRIDSIM_TEST_PROCESS_PID"
os.environ.setdefault(PID_VARIABLE, str(os.getpid()))

needs_dask = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None,
    reason="dask.distributed is not installed (pip install 'gridsim[dask]')",
)


def test_process_pid() -> int:
    """The pid of the pytest process (not of the worker this runs in)."""
    return int(os.environ[PID_VARIABLE])


test_process_pid.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


def kill_this_worker() -> None:
    """SIGKILL the process running this call (never the test process itself)."""
    assert os.getpid() != test_process_pid(), "a killing run must not run in the test process"
    os.kill(os.getpid(), signal.SIGKILL)


def first_time(marker: Path) -> bool:
    """True once per marker path across all processes (atomic create)."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def gone(pid: int) -> bool:
    """Whether no process has this pid any more (a killed worker, reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
