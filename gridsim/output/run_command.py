"""What ``gridsim run`` does: simulate, print the summary, write the run directory.

The phases, in order, each timed (wall and CPU, worker processes included) and logged at
DEBUG level on the ``gridsim.run`` logger, which ``benchmarks/run_end_to_end.py`` reads:

``simulate``
    the run itself;
``garbage``
    one pass of the cyclic garbage collector, which rested during the run;
``summary``
    the headline KPIs on stdout, as soon as they are known;
``write``
    the run directory's tables, KPIs and metadata under a temporary name, then
``figures`` (logged apart, and inside ``write``)
    the selected figures (``--figures``, default :data:`DEFAULT_FIGURES`) drawn from the
    tables just written; then the directory is renamed into place: complete or absent.

``--set path=value`` overrides are applied to the scenario and validated like the file
before anything runs; the run directory's ``scenario.toml`` is the overridden scenario and
``run.json`` lists the overrides (``overrides``).

With ``--replications N``, :func:`replications_command` runs the scenario ``N`` times instead
(replication ``r`` on ``replication_seed(seed, r)``) through the experiment runner, prints
every summary KPI with its confidence interval and writes a sweep's results directory
(:mod:`gridsim.experiment.inline`), which ``gridsim compare`` reads.

A run longer than :data:`STREAM_EVENTS_DAYS` streams its event log to Parquet row groups
as it goes (``gridsim.simulate(..., events_path=...)``), next to the run directory, and the
file is moved in with the tables: the log of a many-year run is never held in memory. Its
rows are then in the order the engine wrote them (``run.json``: ``events_sorted_by_time``
is false); sorted by time (stable) they are the log a shorter run keeps.

For a large run, figure workers (:class:`~gridsim.output.figure_jobs.FigureWorkers`) are
started before the simulation, so that they have imported matplotlib on a spare core by
the time the tables are written.

Example:
    >>> summary_line("  appeals filed", "1,234", 30)
    '  appeals filed                      1,234'
"""

from __future__ import annotations

import gc
import logging
import os
import resource
import sys
import time
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridsim.errors import UserError
from gridsim.kpi_registry import summary_kpis
from gridsim.model.guard import check_run
from gridsim.model.loader import load_with_sets
from gridsim.model.records import RunResult
from gridsim.model.scenario import Scenario
from gridsim.output.figure_sets import RUN_DEFAULT, parse_figures
from gridsim.output.run_dir import check_output_directory, save_run

if TYPE_CHECKING:
    from gridsim.output.figure_jobs import FigureWorkers

__all__ = ["DEFAULT_FIGURES", "replications_command", "run_command", "summary_text"]

#: What ``gridsim run`` draws unless told otherwise (``--figures``): the core figures.
DEFAULT_FIGURES = RUN_DEFAULT
#: Runs longer than this stream their event log to disk as they go (two simulated years).
STREAM_EVENTS_DAYS = 730.0

log = logging.getLogger("gridsim.run")


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the figure workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Time a phase of the command and log it on ``gridsim.run`` at DEBUG level.

    The record carries ``phase``, ``wall`` and ``cpu`` (seconds, worker processes included).

    Example:
        >>> with phase("nothing"):
        ...     pass
    """
    wall, cpu = time.perf_counter(), _cpu_seconds()
    yield
    wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
    log.debug("%s: %.2f s wall, %.2f s CPU", name, wall, cpu,
              extra={"phase": name, "wall": wall, "cpu": cpu})  # fmt: skip


def run_command(
    scenario_path: str | Path,
    out: str | Path | None = None,
    *,
    seed: int | None = None,
    days: float | None = None,
    langs: Sequence[str] = ("zh", "en"),
    figures: str | Sequence[str] = DEFAULT_FIGURES,
    progress: bool = True,
    sets: Mapping[str, Any] | None = None,
) -> Path:
    """Simulate a scenario, print its summary, and write its run directory with figures.

    Args:
        scenario_path: the scenario file.
        out: the run directory (default ``results/<scenario file stem>``).
        seed: the seed (default ``meta.seed``).
        days: simulated days (default ``meta.horizon_days``).
        langs: languages of the figures.
        figures: which figures (:func:`~gridsim.output.figure_sets.parse_figures`).
        progress: show a progress bar and say where the files go (on stderr).
        sets: ``{dotted path: value}`` overrides (``--set``), validated like the file.

    Returns:
        The run directory.

    Raises:
        UserError: a bad scenario, option or output directory: refused before anything
            is simulated or written.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "run"
        >>> run_command("scenarios/one_town.toml", out, days=1, figures="none",
        ...             progress=False) == out  # doctest: +ELLIPSIS
        One Pingyi-like town: 1 days, seed ...
        written to .../run/ (event log, tables, KPIs)
        True
    """
    names = parse_figures(figures)
    scenario = load_with_sets(scenario_path, sets)
    final = Path(out) if out else Path("results") / Path(scenario_path).stem
    check_output_directory(final)  # before the run, not after it
    expected = check_run(scenario, days)  # a run too large is refused before workers start
    horizon = days if days is not None else scenario.meta.horizon_days
    stream = None
    if horizon > STREAM_EVENTS_DAYS:  # a name of this process's own: no user file is touched
        stream = final.parent / f".{final.name}.events-{os.getpid()}.parquet"
    with _workers(len(names) * len(langs), expected.issues) as workers, _removed(stream):
        result = _simulate(scenario, seed, days, progress, stream)
        with phase("summary"):
            print(summary_text(result), flush=True)  # the answer first; files follow
        if progress:
            print(f"writing tables and figures to {final}/ ...", file=sys.stderr, flush=True)

        def add_figures(directory: Path) -> None:
            from gridsim.output.figure_dirs import run_figures

            with phase("figures"):
                lang = langs[0] if len(langs) == 1 else "both"
                run_figures(directory, lang=lang, figures=names, workers=workers)
                if workers is not None:
                    workers.close()  # done with them (and their CPU time is counted here)

        extra = {"scenario.toml": scenario.to_toml().encode("utf-8")}
        with phase("write"):  # tables, then figures (logged apart too), then the rename
            meta = {"figures": list(names), "overrides": dict(sets or {})}
            save_run(result, final, extra=extra, meta=meta,
                     finalize=add_figures if names else None)  # fmt: skip
    what = "event log, tables, KPIs" + (", figures" if names else "")
    print(f"\nwritten to {final}/ ({what})")
    return final


def replications_command(
    scenario_path: str | Path,
    out: str | Path | None = None,
    *,
    replications: int,
    seed: int | None = None,
    days: float | None = None,
    sets: Mapping[str, Any] | None = None,
    workers: int | None = None,
    fresh: bool = False,
    progress: bool = True,
) -> Path:
    """``gridsim run --replications N``: N replications, KPIs with confidence intervals.

    The runs go through :func:`gridsim.experiment.runner.run_experiment` (one variant, the
    scenario with ``sets``; replication ``r`` on ``replication_seed(seed, r)``), so the
    results directory is a sweep's: ``tidy.parquet``, ``summary.csv`` (mean, half-width,
    low, high, n per KPI), ``manifest.json``; rerunning the command resumes.

    Args:
        scenario_path: the scenario file.
        out: the results directory (default ``results/experiments/<stem>-replications-<hash>``).
        replications: how many (at least 2: an interval needs two).
        seed: the root seed (default ``meta.seed``).
        days: simulated days (default ``meta.horizon_days``).
        sets: ``--set`` overrides.
        workers: worker processes (default: CPU count; 1 runs them here).
        fresh: discard earlier results in ``out``.
        progress: progress bar and the closing line.

    Returns:
        The results directory.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "reps"
        >>> replications_command("scenarios/one_town.toml", out, replications=2, days=1,
        ...                      workers=1, progress=False) == out  # doctest: +ELLIPSIS
        one_town: 2 replications, mean and 95 % confidence interval
        ...
        True
    """
    import pandas as pd

    from gridsim.experiment.inline import (
        default_inline_dir,
        replications_experiment,
        replications_text,
    )
    from gridsim.experiment.runner import run_experiment

    if replications < 2:
        raise UserError("", "--replications",
                        f"at least 2 (an interval needs two), not {replications}")
    exp = replications_experiment(scenario_path, sets=sets, replications=replications,
                                  days=days, seed=seed)  # fmt: skip
    result = run_experiment(
        exp, executor="serial" if workers == 1 else "processes", workers=workers,
        out=out if out is not None else default_inline_dir(exp), progress=progress, fresh=fresh,
    )  # fmt: skip
    summary = pd.read_csv(result.results_dir / "summary.csv")
    print(replications_text(summary, exp.confidence))
    print(f"\nwritten to {result.results_dir}/ (tidy.parquet, summary.csv; "
          f"{result.computed} runs computed, {result.skipped} already there)")  # fmt: skip
    return result.results_dir


def _workers(jobs: int, issues: float) -> AbstractContextManager[FigureWorkers | None]:
    """Figure workers for a large run, started now; nothing (not even matplotlib) for none."""
    if not jobs:
        return nullcontext()
    from gridsim.output.figure_jobs import FigureWorkers

    return FigureWorkers.for_drawing(jobs, issues)


@contextmanager
def _removed(path: Path | None) -> Iterator[None]:
    """Remove ``path`` (a streamed event log not moved into a run directory) on the way out."""
    try:
        yield
    finally:
        if path is not None:
            path.unlink(missing_ok=True)


def _simulate(
    scenario: Scenario,
    seed: int | None,
    days: float | None,
    progress: bool,
    events_path: Path | None = None,
) -> RunResult:
    """Simulate (phase ``simulate``), then collect the engine's garbage (phase ``garbage``).

    The engine rests the cyclic garbage collector while it runs, so every object the run
    made is still in the collector's youngest generation when it ends; re-enabled, the
    collector would scan them at whatever allocation came next. Kept resting until then,
    they are scanned here, once, and timed apart. Since the engine lets go of its state
    itself (``Engine.discard``) little is left to free: the phase stays in the log so that a
    regression shows (it took seconds for a county-year in 0.3.0).
    """
    from gridsim.model.simulate import simulate

    collecting = gc.isenabled()
    gc.disable()
    try:
        with phase("simulate"):
            if events_path is not None:
                events_path.parent.mkdir(parents=True, exist_ok=True)
            result = simulate(
                scenario, seed=seed, days=days, progress=progress, events_path=events_path
            )
        with phase("garbage"):
            gc.collect()
    finally:
        if collecting:
            gc.enable()
    return result


def summary_text(result: RunResult) -> str:
    """The headline KPIs of a run, one per line (what ``gridsim run`` prints first)."""
    k = result.kpis
    days = result.horizon_hours / 24
    lines = [f"{result.scenario_name}: {days:g} days, seed {result.seed['entropy']}", ""]
    for kpi in summary_kpis():
        shown = kpi.show(k.get(kpi.name, float("nan")))
        lines.append(summary_line(f"  {kpi.summary_label}", shown, 48))
    return "\n".join(lines)


def summary_line(label: str, value: str, width: int) -> str:
    """``label`` padded to a display width, then ``value`` right-aligned in 12 columns.

    A Chinese character takes two columns.
    """
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in label)
    return label + " " * max(width - used, 1) + f"{value:>12}"
