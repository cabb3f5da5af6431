"""Executors: where an experiment's runs are computed (strategy objects, one interface).

Every executor takes a picklable function and an iterable of picklable run specs, and yields
the results *as they complete* (not in submission order), so the caller can stream them to
disk. Results must be small (a run's KPI dict, never its event log).

* :class:`SerialExecutor` — in this process, one run after another (debugging, notebooks).
* :class:`LocalProcessesExecutor` — a :class:`concurrent.futures.ProcessPoolExecutor`.
* :class:`DaskExecutor` — a ``dask.distributed`` cluster: a ``LocalCluster`` of worker
  processes, or an existing scheduler at ``address``. Dask is optional
  (``pip install 'gridsim[dask]'``) and is imported only when this executor is entered.

Parallel executors keep a bounded number of runs in flight (``max_in_flight``), so a sweep of
many thousand runs never holds all its specs and results in memory at once.

Example:
    >>> with make_executor("serial") as ex:
    ...     sorted(ex.run(abs, [-2, 1, -3]))
    [1, 2, 3]
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from itertools import islice
from typing import Any, Protocol, TypeVar, runtime_checkable

from gridsim.errors import UserError

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS: tuple[str, ...] = ("serial", "processes", "dask")
#: How often a pool worker checks that the sweep that started it is still alive (seconds).
PARENT_POLL_S = 0.5
#: How often Dask recomputes a run whose worker died before it finished.
DASK_RETRIES = 2


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


@runtime_checkable
class Executor(Protocol):
    """What every executor offers: a context manager with a streaming ``run``."""

    name: str
    workers: int

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def run(self, fn: Callable[[T], R], specs: Iterable[T]) -> Iterator[R]:
        """Apply ``fn`` to every spec; yield the results as they complete."""
        ...


def default_workers() -> int:
    """Worker processes used when none are asked for: ``os.cpu_count()`` (at least 1).

    Example:
        >>> default_workers() >= 1
        True
    """
    return max(1, os.cpu_count() or 1)


class SerialExecutor:
    """Run every spec in this process, in order.

    Example:
        >>> with SerialExecutor() as ex:
        ...     list(ex.run(str.upper, ["a", "b"]))
        ['A', 'B']
    """

    name = "serial"

    def __init__(self) -> None:
        self.workers = 1

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, fn: Callable[[T], R], specs: Iterable[T]) -> Iterator[R]:
        """Apply ``fn`` to each spec in turn and yield its result."""
        for spec in specs:
            yield fn(spec)


class LocalProcessesExecutor:
    """Run specs in a pool of local worker processes.

    Args:
        workers: pool size; ``None`` means :func:`default_workers`.
        max_in_flight: submitted but unfinished runs at any time; default ``4 * workers``.

    Example:
        >>> with LocalProcessesExecutor(workers=2) as ex:
        ...     sorted(ex.run(abs, [-2, 1, -3]))
        [1, 2, 3]
    """

    name = "processes"

    def __init__(self, workers: int | None = None, max_in_flight: int | None = None) -> None:
        self.workers = _check_workers(workers)
        self.max_in_flight = max_in_flight or 4 * self.workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalProcessesExecutor:
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers, initializer=watch_parent, initargs=(os.getpid(),)
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def run(self, fn: Callable[[T], R], specs: Iterable[T]) -> Iterator[R]:
        """Submit specs (at most ``max_in_flight`` pending) and yield results as they finish."""
        if self._pool is None:
            raise RuntimeError("use the executor as a context manager: `with executor: ...`")
        pool = self._pool
        pending_specs = iter(specs)
        first = islice(pending_specs, self.max_in_flight)
        in_flight: set[Future] = {pool.submit(fn, s) for s in first}
        try:
            while in_flight:
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                failed = [f for f in done if f.exception() is not None]
                for future in done:
                    if future.exception() is None:
                        yield future.result()  # finished results first, then the failure
                        for nxt in islice(pending_specs, 1):  # refill: one out, one in
                            in_flight.add(pool.submit(fn, nxt))
                if failed:
                    failed[0].result()
        finally:
            for future in in_flight:
                future.cancel()


class DaskExecutor:
    """Run specs on a ``dask.distributed`` cluster.

    Without ``address`` a ``LocalCluster(n_workers=workers, threads_per_worker=1,
    processes=True)`` is started on entry and closed on exit; with ``address``
    (``tcp://host:8786``) the executor connects to a running scheduler whose workers must be
    able to ``import gridsim``.

    Args:
        workers: local worker processes (ignored with ``address``); default
            :func:`default_workers`.
        address: scheduler address of an existing cluster.
        max_in_flight: submitted but unfinished runs at any time; default ``4 * workers``
            (with ``address``: four per worker thread of the cluster).

    Raises:
        ExecutorUnavailableError: on entry, when Dask is not installed or the scheduler
            cannot be reached.

    Example:
        >>> with DaskExecutor(workers=2) as ex:  # doctest: +SKIP
        ...     sorted(ex.run(abs, [-2, 1, -3]))
        [1, 2, 3]
    """

    name = "dask"

    def __init__(
        self,
        workers: int | None = None,
        address: str | None = None,
        max_in_flight: int | None = None,
    ) -> None:
        self.workers = _check_workers(workers)
        self.address = address
        self.max_in_flight = max_in_flight
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> DaskExecutor:
        distributed = _import_distributed()
        try:
            if self.address:
                self._client = distributed.Client(self.address, timeout="20s")
                threads = sum(self._client.nthreads().values()) or 1
                self.workers = threads
            else:
                self._cluster = distributed.LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
                self._client = distributed.Client(self._cluster)
        except OSError as exc:
            self.__exit__()
            option = "--address" if self.address else "--executor dask"
            where = self.address or "a local cluster"
            raise ExecutorUnavailableError(
                "", option, f"a reachable Dask scheduler (cannot reach {where}: {exc})"
            ) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def run(self, fn: Callable[[T], R], specs: Iterable[T]) -> Iterator[R]:
        """Submit specs (bounded in flight) and yield results with ``as_completed``."""
        if self._client is None:
            raise RuntimeError("use the executor as a context manager: `with executor: ...`")
        distributed = _import_distributed()
        limit = self.max_in_flight or 4 * self.workers
        pending_specs = iter(specs)
        first = [
            self._client.submit(fn, s, pure=False, retries=DASK_RETRIES)
            for s in islice(pending_specs, limit)
        ]
        queue = distributed.as_completed(first)
        try:
            for future in queue:
                yield future.result()
                for nxt in islice(pending_specs, 1):  # refill: one out, one in
                    queue.add(self._client.submit(fn, nxt, pure=False, retries=DASK_RETRIES))
        finally:
            queue.clear()


def watch_parent(parent_pid: int, poll_s: float = PARENT_POLL_S) -> None:
    """Make this worker process exit soon after the process that started it dies.

    A :class:`~concurrent.futures.ProcessPoolExecutor` worker whose parent was killed
    (``kill -9`` of a sweep) would otherwise block on its task queue, or finish a long run
    nobody will read. Used as the pool's initializer: a daemon thread polls whether the
    sweep's pid still exists (signal 0) and ends the worker with ``os._exit``. The sweep is
    not always the worker's parent (the ``forkserver`` start method forks workers from a
    server process), so its pid is passed in rather than read from ``getppid``. Polling
    works on Linux and macOS alike, without ``prctl``; on Windows (where signal 0 would
    terminate the process) the watch is off.

    Example:
        >>> watch_parent(os.getpid(), poll_s=60)  # this process is alive: nothing happens
    """
    if os.name == "nt":
        return
    forked_by_sweep = os.getppid() == parent_pid  # then adoption tells, even of a zombie

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if forked_by_sweep and os.getppid() != parent_pid:
                os._exit(1)
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os._exit(1)  # the sweep is gone: nobody will read this run
            except PermissionError:  # the pid was reused by another user's process
                os._exit(1)

    threading.Thread(target=watch, name="gridsim-parent-watch", daemon=True).start()


def _check_workers(workers: int | None) -> int:
    """The worker count asked for, or :func:`default_workers`; refuse anything but n >= 1."""
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or int(workers) != workers or workers < 1:
        raise ExecutorOptionError("", "workers", f"a positive integer, got {workers!r}")
    return int(workers)


def _import_distributed() -> Any:
    """Import Dask only when its executor is used (it is optional and slow to import)."""
    try:
        import dask.distributed as distributed
    except ImportError as exc:
        raise ExecutorUnavailableError(
            "", "--executor dask", "Dask (not installed): pip install 'gridsim[dask]'"
        ) from exc
    return distributed


def make_executor(
    kind: str = "processes", workers: int | None = None, address: str | None = None
) -> Executor:
    """Build an executor by name: ``serial``, ``processes`` or ``dask``.

    Args:
        kind: the strategy.
        workers: worker processes for ``processes`` and local ``dask`` (default: CPU count).
        address: Dask scheduler address; only valid with ``kind="dask"``.

    Returns:
        An executor, to be used as a context manager.

    Raises:
        ExecutorOptionError: unknown kind, bad worker count, or an address for a non-Dask
            executor (a :class:`ValueError` and a :class:`~gridsim.errors.UserError`).

    Example:
        >>> make_executor("serial").name
        'serial'
    """
    if kind not in EXECUTORS:
        known = ", ".join(EXECUTORS)
        raise ExecutorOptionError("", "executor", f"one of {known} (unknown executor {kind!r})")
    if address and kind != "dask":
        raise ExecutorOptionError(
            "", "address", f"none with the {kind!r} executor (an address needs the dask executor)"
        )
    if kind == "serial":
        return SerialExecutor()
    if kind == "processes":
        return LocalProcessesExecutor(workers)
    return DaskExecutor(workers, address)
