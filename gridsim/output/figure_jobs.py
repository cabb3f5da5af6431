"""Draw a saved run's figures, in worker processes when there are several to draw.

Each figure in each language is one job: ``(figure name, language)``. A job reads what it
needs from the run directory itself (:class:`SavedRun`: only the tables that figure uses,
each at most once per process), so nothing but two short strings crosses a process
boundary, and the workers are safe under the ``spawn`` start method (the only one on
Windows and macOS, and the one used here everywhere: forking a process that has run
pyarrow's thread pools can deadlock). Drawing is the same code in a worker and in this
process, from the same bytes on disk, so the files are identical either way.

:func:`draw_figures` draws here, or, asked for ``workers``, here and in spawned worker
processes at once, all taking from one queue, the dearest figures first. A worker that
raises hands its exception back (the drawing stops with it, naming the figure); a worker
that dies (killed, out of memory) ends the pool at once with :class:`FigureWorkerError`
rather than a hang.

Example:
    >>> draw_figures("no/such/run", [("backlog", "en")], Path("figs"))
    Traceback (most recent call last):
    ...
    FileNotFoundError: no/such/run: not a gridsim run directory (no run.json)
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from functools import cached_property
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gridsim.errors import GridsimError
from gridsim.experiment.executors import watch_parent
from gridsim.files import sign_png
from gridsim.model.loader import load_scenario
from gridsim.model.scenario import Scenario, ScenarioError
from gridsim.output.comparison_figures import welch_figure
from gridsim.output.figure_sets import FIGURE_COST, FIGURE_TABLES
from gridsim.output.flow_figures import (
    escalation_flow_figure,
    noticing_figure,
    resolved_where_figure,
)
from gridsim.output.fonts import setup_fonts
from gridsim.output.hierarchy_figure import hierarchy_figure
from gridsim.output.i18n import Names, label
from gridsim.output.staff_figures import ranking_figure, utilisation_heatmap
from gridsim.output.style import FigureDataError, save_figure
from gridsim.output.time_figures import backlog_figure, response_ecdf_figure

__all__ = ["FigureWorkerError", "FigureWorkers", "SavedRun", "draw_figures", "draw_run_figure"]

log = logging.getLogger(__name__)

#: A job: which figure, in which language.
Job = tuple[str, str]


class FigureWorkerError(GridsimError, RuntimeError):
    """A figure worker process died (killed, out of memory) before finishing its figure."""


# --------------------------------------------------------------------------- the saved run


class SavedRun:
    """A run directory read lazily: each table at most once, and only when a figure asks.

    Example:
        >>> SavedRun("no/such/run")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no/such/run: not a gridsim run directory (no run.json)
    """

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(run_dir)
        if not (self.dir / "run.json").is_file():
            raise FileNotFoundError(f"{self.dir}: not a gridsim run directory (no run.json)")
        self._tables: dict[str, pd.DataFrame] = {}

    def table(self, name: str) -> pd.DataFrame:
        """One of the run's tables (``orders``, ``staff`` ...), read on first use."""
        if name not in self._tables:
            self._tables[name] = pd.read_parquet(self.dir / f"{name}.parquet")
        return self._tables[name]

    @cached_property
    def scenario(self) -> Scenario | None:
        """The scenario the run used (None when the directory has no readable copy)."""
        path = self.dir / "scenario.toml"
        if not path.is_file():
            return None
        try:
            return load_scenario(path)
        except ScenarioError as exc:  # an old copy costs only display names: degrade, warn
            log.warning("%s: names left as keys, no targets (%s)", path, exc)
            return None

    @cached_property
    def names(self) -> Names:
        """Display names from the scenario (keys when there is none)."""
        return Names.from_scenario(self.scenario) if self.scenario is not None else Names()

    @cached_property
    def ranking_role(self) -> str:
        """The role the ranking figure ranks: the scenario's, else the commonest present."""
        scenario = self.scenario
        role = scenario.incentives.ranking_role if scenario is not None else "grid_worker"
        staff = self.table("staff")
        if role not in set(staff["role"]) and not staff.empty:
            role = str(staff["role"].mode().iloc[0])
        return role


def _resolved_where(run: SavedRun, lang: str) -> Figure:
    targets = run.scenario.targets if run.scenario is not None else None
    return resolved_where_figure(
        run.table("orders"),
        lang,
        grid_target=targets.share_resolved_in_grid if targets else None,
        town_target=targets.share_resolved_in_town if targets else None,
        target_source=targets.source if targets else "",
    )


def _utilisation(run: SavedRun, lang: str) -> Figure:
    scenario = run.scenario
    no_orders = (
        [name for name, r in scenario.roles.items() if "resolve" not in r.duties]
        if scenario is not None
        else None
    )
    return utilisation_heatmap(
        run.table("staff"), run.table("units"), lang, scenario=run.names, no_orders=no_orders
    )


def _warmup(run: SavedRun, lang: str) -> Figure:
    backlog = run.table("backlog")
    hours = float(np.median(np.diff(backlog["time"]))) if len(backlog) > 1 else 1.0
    return welch_figure(
        backlog["open"].to_numpy(float), lang, period_hours=hours, ylabel=label("backlog_y", lang)
    )


def _hierarchy(run: SavedRun, lang: str) -> Figure:
    return hierarchy_figure(run.table("units"), run.table("orders"), lang, scenario=run.names)


def _escalation_flow(run: SavedRun, lang: str) -> Figure:
    return escalation_flow_figure(run.table("orders"), lang, scenario=run.names)


def _backlog(run: SavedRun, lang: str) -> Figure:
    return backlog_figure(run.table("backlog"), lang)


def _response_ecdf(run: SavedRun, lang: str) -> Figure:
    return response_ecdf_figure(run.table("orders"), lang, scenario=run.names)


def _noticing(run: SavedRun, lang: str) -> Figure:
    return noticing_figure(run.table("issues"), lang)


def _ranking(run: SavedRun, lang: str) -> Figure:
    return ranking_figure(
        run.table("staff"), lang, role=run.ranking_role, units=run.table("units"),
        scenario=run.names,
    )  # fmt: skip


#: How each run figure is drawn from a saved run (see :data:`FIGURE_TABLES` for its tables).
_MAKERS: dict[str, Callable[[SavedRun, str], Figure]] = {
    "hierarchy": _hierarchy,
    "escalation_flow": _escalation_flow,
    "backlog": _backlog,
    "response_ecdf": _response_ecdf,
    "resolved_where": _resolved_where,
    "noticing": _noticing,
    "utilisation": _utilisation,
    "ranking": _ranking,
    "warmup": _warmup,
}
assert set(_MAKERS) == set(FIGURE_TABLES), "every run figure needs a maker and its tables"


def draw_run_figure(run: SavedRun, name: str, lang: str) -> Figure:
    """Draw one run figure (``"backlog"`` ...) in ``lang`` from a saved run.

    Raises:
        FigureDataError: the run lacks what the figure needs (no resolved order, say).
    """
    return _MAKERS[name](run, lang)


# --------------------------------------------------------------------------- the jobs


#: The saved run a worker process has open (one run per pool, read once per process).
_OPEN: dict[str, SavedRun] = {}


def _draw_job(run_dir: str, name: str, lang: str, out: str) -> tuple[str | None, str | None]:
    """Draw and write one figure: ``(file written, None)`` or ``(None, why it was skipped)``.

    Runs in a worker process (or in this one); a skipped figure's reason comes back as a
    value so that the warning is logged where the user sees it.
    """
    run = _OPEN.get(run_dir)
    if run is None:
        _OPEN.clear()  # one run at a time: let the previous one's tables go
        run = _OPEN[run_dir] = SavedRun(run_dir)
    try:
        fig = draw_run_figure(run, name, lang)
    except FigureDataError as exc:  # data the run lacks, e.g. no resolved orders
        return None, str(exc)
    # signed, so that a later `plot --out` knows the file is gridsim's to replace
    path = sign_png(save_figure(fig, Path(out) / f"{name}_{lang}.png"))
    fig.clear()
    return str(path), None


#: From about this many latent issues (a town-year has some 30,000; the Pingyi county-year
#: 470,000) drawing a run's figures takes long enough that a worker process pays for its
#: start (some two seconds of importing); smaller runs are drawn in one process.
PARALLEL_FROM_ISSUES = 50_000


def _warm() -> None:
    """A worker's first job: load the fonts, so that its first figure starts drawing at once."""
    setup_fonts("en")  # registers the CJK font too, when there is one


class FigureWorkers:
    """Worker processes for drawing figures, started ahead of need (a context manager).

    ``gridsim run`` starts them before it simulates, so that they import matplotlib and
    gridsim on a spare core meanwhile; :func:`draw_figures` then shares its jobs between
    them and the calling process. Closing stops them (queued work is dropped).

    Example:
        >>> with FigureWorkers(0) as workers:  # no spare core: nothing is started
        ...     workers.count
        0
    """

    def __init__(self, count: int) -> None:
        self.count = max(0, count)
        self.pool: ProcessPoolExecutor | None = None
        #: One warm-up job per worker; a worker is handed figures once its warm-up is done.
        self.warm: list[Future] = []
        if self.count:
            self.pool = ProcessPoolExecutor(
                max_workers=self.count, mp_context=get_context("spawn"),
                initializer=watch_parent, initargs=(os.getpid(),),
            )  # fmt: skip
            for _ in range(self.count):  # a process is spawned per job submitted
                self.warm.append(self.pool.submit(_warm))

    @classmethod
    def for_drawing(cls, jobs: int, issues: float) -> FigureWorkers:
        """As many workers as are worth it (:func:`spare_cores`); none for a small run.

        Example:
            >>> FigureWorkers.for_drawing(jobs=8, issues=1_000).count
            0
        """
        if jobs < 2 or issues < PARALLEL_FROM_ISSUES:
            return cls(0)
        return cls(spare_cores(jobs))

    def close(self) -> None:
        """Stop the workers (a figure being drawn is finished first)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def __enter__(self) -> FigureWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def spare_cores(jobs: int) -> int:
    """Worker processes worth starting for ``jobs`` figures besides this process.

    One per usable core but this process's, fewer on a busy machine: each worker costs some
    two seconds of CPU to start and then halves the drawing only if a core is idle for it
    (on a shared, saturated machine it made the drawing slower, not faster). Idle cores are
    read from the load average of the last minute where the system has one.

    Example:
        >>> 0 <= spare_cores(8) < usable_cores()
        True
    """
    cores = usable_cores()
    try:
        idle = cores - os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows: no load average; assume the cores are free
        idle = float(cores)
    return max(0, min(jobs, cores, round(idle)) - 1)  # this process takes one


def draw_figures(
    run_dir: str | os.PathLike[str],
    jobs: Sequence[Job],
    out: Path,
    workers: int | FigureWorkers | None = 1,
) -> list[Path]:
    """Draw ``jobs`` (figure, language) of a saved run into ``out``; the files written.

    Files are ``out/<name>_<lang>.png``, listed in the order of ``jobs``; a figure whose
    data the run lacks is skipped with a logged warning.

    Args:
        run_dir: a run directory (complete: tables, ``run.json``, ``scenario.toml``).
        jobs: what to draw.
        out: the folder to write into.
        workers: processes drawing at once, this one included: 1 (the default) draws
            everything here; ``None`` means one per idle core (:func:`spare_cores`);
            or :class:`FigureWorkers` already started (left running for their owner).

    Raises:
        FigureWorkerError: a worker process died; whatever a figure raised is re-raised.

    Example:
        >>> draw_figures("no/such/run", [("backlog", "en")], Path("figs"))
        Traceback (most recent call last):
        ...
        FileNotFoundError: no/such/run: not a gridsim run directory (no run.json)
    """
    SavedRun(run_dir)  # refuse a directory that is not a run before starting anything
    where = str(Path(run_dir).resolve())
    if isinstance(workers, FigureWorkers):
        pool, own = workers, False
    else:
        extra = spare_cores(len(jobs)) if workers is None else min(len(jobs), workers) - 1
        pool, own = FigureWorkers(extra), True
    try:
        if pool.pool is None or len(jobs) < 2:
            results = {i: _draw_job(where, *job, str(out)) for i, job in enumerate(jobs)}
        else:
            results = _with_workers(where, list(jobs), str(out), pool)
    finally:
        _OPEN.clear()  # the tables read here are the caller's memory: let them go
        if own:
            pool.close()
    written = []
    for i, (name, _lang) in enumerate(jobs):
        path, skipped = results[i]
        if skipped is not None:
            log.warning("figure %s skipped: %s", name, skipped)
        elif path is not None:
            written.append(Path(path))
    return written


def _with_workers(
    run_dir: str, jobs: list[Job], out: str, workers: FigureWorkers
) -> dict[int, tuple[str | None, str | None]]:
    """Draw in this process and in the worker processes, all taking from one queue.

    This process starts drawing at once; a worker, once started (two seconds or so to import
    matplotlib and gridsim, unless :class:`FigureWorkers` started it earlier), has one
    figure in hand at a time and takes the next as soon as it finishes (a callback, not
    this process's loop, hands it over). The dearest figures go first, so that the last to
    finish is a cheap one.
    """
    pending = deque(sorted(range(len(jobs)), key=lambda i: -FIGURE_COST.get(jobs[i][0], 1.0)))
    lock = threading.Lock()
    futures: dict[int, Future] = {}
    pool = workers.pool
    assert pool is not None

    def take() -> int | None:
        with lock:
            return pending.popleft() if pending else None

    def hand_over(done: Future | None = None) -> None:
        if done is not None and (done.cancelled() or done.exception() is not None):
            return  # a failure stops the hand-over; this process raises it
        with lock:  # taken and registered at once: this process never misses a figure
            if not pending:
                return
            i = pending.popleft()
            try:
                future = pool.submit(_draw_job, run_dir, *jobs[i], out)
            except RuntimeError:  # a worker died, or shutting down: drawn here instead
                pending.appendleft(i)
                return
            futures[i] = future
        future.add_done_callback(hand_over)  # outside the lock: it may run at once

    results: dict[int, tuple[str | None, str | None]] = {}
    try:
        # A worker gets its first figure once it has started (imported matplotlib): handed
        # over earlier, a figure would wait behind the start-up while this process, done
        # with everything else, waited for it.
        for warm in workers.warm:
            warm.add_done_callback(hand_over)
        while (i := take()) is not None:
            results[i] = _draw_job(run_dir, *jobs[i], out)
            _raise_failures(futures, lock, jobs)
        while True:  # what the workers still hold; a hand-over adds to it while we wait
            with lock:
                left = [f for f in futures.values() if not f.done()]
            if not left:
                break
            wait(left, return_when=FIRST_EXCEPTION)
            _raise_failures(futures, lock, jobs)
        results.update({i: f.result() for i, f in futures.items()})
        return results
    finally:
        with lock:
            pending.clear()  # nothing more is handed over
        for future in futures.values():  # on a failure: what is queued is not drawn
            future.cancel()
        wait(list(futures.values()))


def _raise_failures(futures: dict[int, Future], lock: threading.Lock, jobs: list[Job]) -> None:
    """Re-raise what a worker raised, naming the figure (its traceback is chained)."""
    with lock:
        done = [(i, f) for i, f in futures.items() if f.done() and not f.cancelled()]
    for i, future in done:
        exc = future.exception()
        if exc is None:
            continue
        name, lang = jobs[i]
        if isinstance(exc, BrokenProcessPool):
            raise FigureWorkerError(
                f"a figure worker process died while drawing {name} ({lang}): killed, out of "
                "memory, or started from a script of yours that lacks the "
                "`if __name__ == '__main__':` guard the spawn start method needs"
            ) from exc
        exc.add_note(f"(while drawing the figure {name} in {lang} in a worker process)")
        raise exc
