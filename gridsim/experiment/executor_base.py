"""What every executor shares: its errors, its worker count, its retry limits.

A module of its own so that :mod:`gridsim.experiment.executors` (which re-exports all of
it) and :mod:`gridsim.experiment.dask_executor` both import it without importing each other.

Example:
    >>> print(WorkerLostError(7, 3))
    run 7: a run its worker process survives (the worker died in each of 3 tries)
"""

from __future__ import annotations

import os
from typing import Any

from gridsim.errors import UserError

#: How often a run whose pool worker died while running it is tried again (processes).
PROCESS_RETRIES = 2
#: How often Dask recomputes a run whose worker died before it finished.
DASK_RETRIES = 2
#: Characters of a run's ``repr`` kept in an error message (a RunSpec holds its scenario).
SPEC_REPR_CHARS = 120


class ExecutorUnavailableError(UserError):
    """An executor cannot be used here (an optional dependency is missing, no scheduler).

    Example:
        >>> print(ExecutorUnavailableError("", "--address", "a reachable Dask scheduler"))
        --address: a reachable Dask scheduler
    """


class ExecutorOptionError(UserError, ValueError):
    """An executor asked for with options that do not fit (kind, workers, address).

    Also a :class:`ValueError`: a bad argument to :func:`make_executor` or an executor's
    constructor, whether it came from the command line or from Python.

    Example:
        >>> print(ExecutorOptionError("", "workers", "a positive integer, got 0"))
        workers: a positive integer, got 0
    """


class WorkerLostError(UserError):
    """A run whose worker process died in every try (it crashes or exhausts memory).

    Args:
        spec: the run (its ``repr`` is shown, cut to :data:`SPEC_REPR_CHARS`).
        tries: how many times it was tried.

    Example:
        >>> print(WorkerLostError(-3, 3))
        run -3: a run its worker process survives (the worker died in each of 3 tries)
    """

    def __init__(self, spec: Any, tries: int):
        self.tries = tries
        super().__init__(
            "",
            f"run {short_repr(spec)}",
            f"a run its worker process survives (the worker died in each of {tries} tries)",
        )


class WorkerMismatchError(UserError):
    """A Dask worker runs another gridsim version, lockfile or Python than the client.

    Args:
        address: the worker's address.
        what: ``gridsim_version``, ``lock_hash`` or ``python``.
        client: the client's value.
        worker: the worker's value.

    Example:
        >>> print(WorkerMismatchError("tcp://10.0.0.2:4000", "python", "3.11", "3.12"))
        Dask worker tcp://10.0.0.2:4000: python '3.11' as on the client, got '3.12'
    """

    def __init__(self, address: str, what: str, client: str, worker: str):
        super().__init__(
            "", f"Dask worker {address}", f"{what} {client!r} as on the client, got {worker!r}"
        )


def short_repr(spec: Any) -> str:
    """``repr(spec)`` cut to :data:`SPEC_REPR_CHARS` characters (an ellipsis when cut).

    Example:
        >>> short_repr("x" * 200).endswith("...")
        True
    """
    text = repr(spec)
    return text if len(text) <= SPEC_REPR_CHARS else text[: SPEC_REPR_CHARS - 3] + "..."


def default_workers() -> int:
    """Worker processes used when none are asked for: ``os.cpu_count()`` (at least 1).

    Example:
        >>> default_workers() >= 1
        True
    """
    return max(1, os.cpu_count() or 1)


def check_workers(workers: int | None) -> int:
    """The worker count asked for, or :func:`default_workers`; refuse anything but n >= 1.

    Example:
        >>> check_workers(3), check_workers(None) >= 1
        (3, True)
    """
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or int(workers) != workers or workers < 1:
        raise ExecutorOptionError("", "workers", f"a positive integer, got {workers!r}")
    return int(workers)
