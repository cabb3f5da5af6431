"""Executors: where an experiment's runs are computed (strategy objects, one interface).

Every executor takes a picklable function and an iterable of picklable run specs, and yields
the results *as they complete* (not in submission order), so the caller can stream them to
disk. Results must be small (a run's KPI dict, never its event log).

* :class:`SerialExecutor` — in this process, one run after another (debugging, notebooks).
* :class:`LocalProcessesExecutor` — a :class:`concurrent.futures.ProcessPoolExecutor`,
  rebuilt when a worker process dies (the unfinished runs are submitted again).
* :class:`DaskExecutor` — a ``dask.distributed`` cluster: a ``LocalCluster`` of worker
  processes, or an existing scheduler at ``address``. Dask is optional
  (``pip install 'gridsim[dask]'``) and is imported only when this executor is entered
  (:mod:`gridsim.experiment.dask_executor`, re-exported here).

Parallel executors keep a bounded number of runs in flight (``max_in_flight``), so a sweep of
many thousand runs never holds all its specs and results in memory at once. A run whose
worker dies is tried again, at most ``PROCESS_RETRIES`` / ``DASK_RETRIES`` more times; an
exception raised by the run itself is not retried by the processes executor.

Example:
    >>> with make_executor("serial") as ex:
    ...     sorted(ex.run(abs, [-2, 1, -3]))
    [1, 2, 3]
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import count
from typing import Any, Protocol, TypeVar, runtime_checkable

from gridsim.experiment.dask_executor import DaskExecutor, worker_provenance
from gridsim.experiment.executor_base import (
    DASK_RETRIES,
    PROCESS_RETRIES,
    ExecutorOptionError,
    ExecutorUnavailableError,
    WorkerLostError,
    WorkerMismatchError,
    check_workers,
    default_workers,
)

__all__ = [
    "DASK_RETRIES",
    "EXECUTORS",
    "PARENT_POLL_S",
    "PROCESS_RETRIES",
    "DaskExecutor",
    "Executor",
    "ExecutorOptionError",
    "ExecutorUnavailableError",
    "LocalProcessesExecutor",
    "SerialExecutor",
    "WorkerLostError",
    "WorkerMismatchError",
    "default_workers",
    "make_executor",
    "watch_parent",
    "worker_provenance",
]

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS: tuple[str, ...] = ("serial", "processes", "dask")
#: How often a pool worker checks that the sweep that started it is still alive (seconds).
PARENT_POLL_S = 0.5

log = logging.getLogger("gridsim.executors")

#: In a pool worker: the queue on which it says which task it starts (set by the initializer).
_STARTED: Any = None
_NOTHING: Any = object()


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


@dataclass(eq=False)
class _Task:
    """One run of :meth:`LocalProcessesExecutor.run`: its spec, charged tries, last token."""

    spec: Any
    tries: int = 0
    token: int = -1


class _Announce:
    """Call ``fn(spec)`` in a pool worker after saying on the pool's queue that it started.

    So the sweep knows, when a worker dies, which runs were running (and may have killed
    it) and which were only queued.
    """

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, token: int, spec: Any) -> Any:
        if _STARTED is not None:
            _STARTED.put(token)
        return self.fn(spec)


def _init_pool_worker(parent_pid: int, started: Any) -> None:
    """A pool worker's initializer: remember the queue, watch the sweep's process."""
    global _STARTED
    _STARTED = started
    watch_parent(parent_pid)


class LocalProcessesExecutor:
    """Run specs in a pool of local worker processes; a worker that dies is replaced.

    When a worker process dies (killed, out of memory) the pool breaks and every run in
    it fails with :class:`~concurrent.futures.process.BrokenProcessPool`. The executor then
    logs a warning, starts a new pool and submits the unfinished runs again. A run that was
    running when a worker died is charged one try; such runs are retried one at a time
    (beside fresh runs), so a run that kills its worker every time is told apart from the
    runs that merely shared the pool with it, and after ``1 + retries`` tries it ends the
    sweep with :class:`WorkerLostError`. An exception raised by ``fn`` itself is not
    retried: it propagates as it is.

    Args:
        workers: pool size; ``None`` means :func:`default_workers`.
        max_in_flight: submitted but unfinished runs at any time; default ``4 * workers``.
        retries: how many times a run that was running when its worker died is tried again.

    Example:
        >>> with LocalProcessesExecutor(workers=2) as ex:
        ...     sorted(ex.run(abs, [-2, 1, -3]))
        [1, 2, 3]
    """

    name = "processes"

    def __init__(
        self,
        workers: int | None = None,
        max_in_flight: int | None = None,
        retries: int = PROCESS_RETRIES,
    ) -> None:
        self.workers = check_workers(workers)
        self.max_in_flight = max_in_flight or 4 * self.workers
        if isinstance(retries, bool) or int(retries) != retries or retries < 0:
            raise ExecutorOptionError("", "retries", f"an integer >= 0, got {retries!r}")
        self.retries = int(retries)
        self._pool: ProcessPoolExecutor | None = None
        self._started: Any = None  # the pool's queue of "task n started" messages

    def __enter__(self) -> LocalProcessesExecutor:
        self._start_pool()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._started is not None:
            self._started.close()
            self._started = None

    def _start_pool(self) -> None:
        # A fresh queue with every pool: a worker killed while writing to the old one may
        # have died holding its lock.
        context = multiprocessing.get_context()
        self._started = context.SimpleQueue()
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=_init_pool_worker,
            initargs=(os.getpid(), self._started),
        )

    def _restart_pool(self) -> None:
        self.__exit__()
        self._start_pool()

    def _drain_started(self, into: set[int]) -> None:
        """Read every "task n started" message the workers have written so far."""
        queue = self._started
        while queue is not None and not queue.empty():
            into.add(queue.get())

    def run(self, fn: Callable[[T], R], specs: Iterable[T]) -> Iterator[R]:
        """Submit specs (at most ``max_in_flight`` pending) and yield results as they finish."""
        if self._pool is None:
            raise RuntimeError("use the executor as a context manager: `with executor: ...`")
        fresh = iter(specs)
        again: deque[_Task] = deque()  # in the broken pool but never started: not charged
        suspects: deque[_Task] = deque()  # running when a worker died: one at a time
        in_flight: dict[Future, _Task] = {}
        started: set[int] = set()
        tokens = count()
        wrapped = _Announce(fn)

        def refill() -> None:
            while len(in_flight) < self.max_in_flight:
                if suspects and not any(t.tries for t in in_flight.values()):
                    task = suspects.popleft()
                elif again:
                    task = again.popleft()
                else:
                    nxt = next(fresh, _NOTHING)
                    if nxt is _NOTHING:
                        return
                    task = _Task(nxt)
                task.token = next(tokens)
                assert self._pool is not None
                in_flight[self._pool.submit(wrapped, task.token, task.spec)] = task

        refill()
        try:
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                    # Every other run of the broken pool fails too: collect them all.
                    done, _ = wait(in_flight)
                # Read the queue at every step: a full pipe would block the workers' writes.
                self._drain_started(started)
                failed: Future | None = None
                lost: list[_Task] = []
                for future in done:
                    task = in_flight.pop(future)
                    exc = future.exception()
                    if not isinstance(exc, BrokenProcessPool):
                        started.discard(task.token)
                    if exc is None:
                        yield future.result()  # finished results first, then the failure
                    elif isinstance(exc, BrokenProcessPool):
                        lost.append(task)
                    elif failed is None:
                        failed = future
                if failed is not None:
                    failed.result()
                if lost:
                    self._recover(lost, started, again, suspects)
                refill()
        finally:
            for future in in_flight:
                future.cancel()

    def _recover(
        self, lost: list[_Task], started: set[int], again: deque[_Task], suspects: deque[_Task]
    ) -> None:
        """A worker died: charge the runs it may have killed, start a new pool, requeue."""
        ran = [t for t in lost if t.token in started]
        log.warning(
            "a worker process died (%d run(s) running, %d in flight); restarting the pool "
            "and submitting them again",
            len(ran),
            len(lost),
        )
        # A worker that died idle started nothing; charge every run then, so that a pool
        # that keeps breaking still ends.
        for task in ran or lost:
            task.tries += 1
            if task.tries > self.retries:
                raise WorkerLostError(task.spec, task.tries)
        self._restart_pool()
        started.clear()
        for task in sorted(lost, key=lambda t: t.token):
            (suspects if task.tries else again).append(task)


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
