"""The Dask executor: runs on a ``dask.distributed`` cluster, local or at an address.

Dask is optional (``pip install 'gridsim[dask]'``) and is imported only when the executor
is entered, so importing this module (and gridsim) never imports Dask.

Example:
    >>> DaskExecutor(workers=2).workers
    2
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

from gridsim.experiment.executor_base import (
    DASK_RETRIES,
    ExecutorUnavailableError,
    WorkerLostError,
    WorkerMismatchError,
    check_workers,
)
from gridsim.version import provenance

T = TypeVar("T")
R = TypeVar("R")

#: The names of :func:`worker_provenance`'s values, in order (for error messages).
_PROVENANCE_FIELDS = ("gridsim_version", "lock_hash", "python")


class DaskExecutor:
    """Run specs on a ``dask.distributed`` cluster.

    Without ``address`` a ``LocalCluster(n_workers=workers, threads_per_worker=1,
    processes=True)`` is started on entry and closed on exit; with ``address``
    (``tcp://host:8786``) the executor connects to a running scheduler whose workers must be
    able to ``import gridsim``.

    Every worker must run the client's gridsim version, lockfile hash and Python
    ``major.minor`` (else the results would not be the client's): the workers present are
    asked on entry, and every result travels back with its worker's values, so a worker
    that joins later is checked too. A run whose worker dies is computed again: by
    ``retries`` when it raised, by the scheduler when its worker was lost (a local cluster
    allows ``DASK_RETRIES + 1`` such losses per run; a remote scheduler its own
    ``distributed.scheduler.allowed-failures``).

    Args:
        workers: local worker processes (ignored with ``address``); default
            :func:`default_workers`.
        address: scheduler address of an existing cluster.
        max_in_flight: submitted but unfinished runs at any time; default ``4 * workers``
            (with ``address``: four per worker thread of the cluster).

    Raises:
        ExecutorUnavailableError: on entry, when Dask is not installed or the scheduler
            cannot be reached.
        WorkerMismatchError: a worker runs another gridsim, lockfile or Python.
        WorkerLostError: a run's worker died more often than the scheduler allows.

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
        self.workers = check_workers(workers)
        self.address = address
        self.max_in_flight = max_in_flight
        self._client: Any = None
        self._cluster: Any = None
        self._config: contextlib.ExitStack | None = None

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` while the executor is entered (``None`` outside)."""
        return self._client

    def __enter__(self) -> DaskExecutor:
        distributed = _import_distributed()
        import dask

        # The scheduler reads allowed-failures when it starts, so the setting is held for
        # the executor's life (a local cluster's scheduler runs in this process).
        allowed = max(DASK_RETRIES + 1, dask.config.get("distributed.scheduler.allowed-failures"))
        self._config = contextlib.ExitStack()
        self._config.enter_context(
            dask.config.set({"distributed.scheduler.allowed-failures": allowed})
        )
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
        try:
            expected = worker_provenance()
            for address, found in self._client.run(worker_provenance).items():
                _check_worker(address, expected, tuple(found))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        if self._config is not None:
            self._config.close()
            self._config = None

    def run(self, fn: Callable[[T], R], specs: Iterable[T]) -> Iterator[R]:
        """Submit specs (bounded in flight) and yield results with ``as_completed``."""
        if self._client is None:
            raise RuntimeError("use the executor as a context manager: `with executor: ...`")
        distributed = _import_distributed()
        expected = worker_provenance()
        wrapped = _WithProvenance(fn)
        limit = self.max_in_flight or 4 * self.workers
        pending_specs = iter(specs)
        specs_of: dict[Any, Any] = {}

        def submit(spec: Any) -> Any:
            future = self._client.submit(wrapped, spec, pure=False, retries=DASK_RETRIES)
            specs_of[future] = spec
            return future

        queue = distributed.as_completed([submit(s) for s in islice(pending_specs, limit)])
        try:
            for future in queue:
                spec = specs_of.pop(future)
                try:
                    address, found, result = future.result()
                except getattr(distributed, "KilledWorker", ()) as exc:
                    # The scheduler gave up: the run's worker died more than allowed-failures.
                    tries = getattr(exc, "allowed_failures", _allowed_failures()) + 1
                    raise WorkerLostError(spec, tries) from exc
                _check_worker(address, expected, found)
                yield result
                for nxt in islice(pending_specs, 1):  # refill: one out, one in
                    queue.add(submit(nxt))
        finally:
            queue.clear()


def worker_provenance() -> tuple[str, str, str]:
    """What must agree between the client and every Dask worker: gridsim, lockfile, Python.

    Example:
        >>> version, lock, python = worker_provenance()
        >>> python == "{}.{}".format(*sys.version_info[:2])
        True
    """
    found = provenance()
    return (
        str(found["gridsim_version"]),
        str(found["lock_hash"]),
        "{}.{}".format(*sys.version_info[:2]),
    )


class _WithProvenance:
    """Call ``fn(spec)`` on a Dask worker; return its address and provenance with the result.

    Module level and tiny, so it pickles by reference and costs a tuple per result.
    """

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, spec: Any) -> tuple[str, tuple[str, str, str], Any]:
        result = self.fn(spec)
        try:
            from distributed import get_worker

            address = str(get_worker().address)
        except (ImportError, ValueError):  # called outside a worker (tests, a local client)
            address = "<no worker>"
        return address, worker_provenance(), result


def _check_worker(address: str, expected: tuple, found: tuple) -> None:
    """Refuse a worker whose gridsim version, lock hash or Python differs from the client's."""
    if found == expected:
        return
    for what, mine, theirs in zip(_PROVENANCE_FIELDS, expected, found, strict=True):
        if mine != theirs:
            raise WorkerMismatchError(address, what, mine, theirs)


def _allowed_failures() -> int:
    """The client's ``distributed.scheduler.allowed-failures`` (a local cluster's setting)."""
    import dask

    return int(dask.config.get("distributed.scheduler.allowed-failures"))


def _import_distributed() -> Any:
    """Import Dask only when its executor is used (it is optional and slow to import)."""
    try:
        import dask.distributed as distributed
    except ImportError as exc:
        raise ExecutorUnavailableError(
            "", "--executor dask", "Dask (not installed): pip install 'gridsim[dask]'"
        ) from exc
    return distributed
