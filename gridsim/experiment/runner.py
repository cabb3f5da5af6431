"""Run an experiment: every (variant, replication), streamed to disk, collected and analysed.

:func:`run_experiment` is the room's entry point. It loads the experiment
(:mod:`gridsim.experiment.loading`), opens its results directory
(:mod:`gridsim.experiment.store`), computes the runs that have no file yet on an executor
(serial, local processes or Dask, :mod:`gridsim.experiment.executors`), then reads every
run file back into the tidy table ``variant, <factor columns>, replication, metric, value``
and writes the summary and the paired comparison against the baseline.

Seeding: replication ``r`` of every variant uses ``replication_seed(root_seed, r)``
(common random numbers), so any run can be rebuilt alone
(:func:`gridsim.experiment.runs.run_one`) and the variants are compared with paired-t
intervals (:func:`gridsim.analysis.stats.compare_to_baseline`).

Variant names are keys (of the tidy table, the run files and the baseline). Chinese
display names (``name_zh``) are kept in ``manifest.json`` and left out of the fingerprint,
so adding them keeps results valid.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from gridsim.analysis.stats import TIDY_KEYS, compare_to_baseline, summarise
from gridsim.experiment.executors import (
    Executor,
    make_executor,
)
from gridsim.experiment.loading import load_experiment
from gridsim.experiment.runs import SimulateFn, variant_scenario
from gridsim.experiment.session import (
    Session,
    choose_warmup,
    extend_for_precision,
    plan_runs,
)
from gridsim.experiment.spec import Experiment, default_results_dir, format_value
from gridsim.experiment.store import ResultsStore
from gridsim.model.guard import check_run
from gridsim.version import provenance


@dataclass(frozen=True, eq=False)
class ExperimentResult:
    """What :func:`run_experiment` returns: the tidy table and what this invocation did.

    Compare two results by their tables (``a.tidy.equals(b.tidy)``); the record itself has
    no ``==`` beyond identity, since the counts differ between a first run and a resume.

    Attributes:
        tidy: columns ``variant``, one per factor (dotted path), ``replication``,
            ``metric``, ``value``; sorted by variant (experiment order), replication, then
            KPI order (also written to ``tidy.parquet``).
        results_dir: the results directory.
        computed: runs computed by this invocation (the MSER-5 pilot runs included).
        skipped: runs skipped because their file was already there (a resume).
        replications: replications per variant in the table (more than the file's
            ``replications`` when the precision target asked for more).
        warmup_days: the warm-up used (chosen by MSER-5 when the experiment asks for it).
    """

    tidy: pd.DataFrame
    results_dir: Path
    computed: int
    skipped: int
    replications: int
    warmup_days: float


def _column_values(values: list[Any]) -> pd.Series:
    """A factor column's dtype: bool, float, else text (mixed levels are written as text)."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="boolean" if len(present) < len(values) else bool)
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pd.Series(values, dtype=float)
    return pd.Series(["" if v is None else format_value(v) for v in values], dtype=str)


def _collect(
    experiment: Experiment, store: ResultsStore, replications: int
) -> tuple[pd.DataFrame, list[dict]]:
    """Read the tidy table and the runs manifest from the run files, in plan order."""
    frames, runs = [], []
    for variant, rep in plan_runs(experiment, range(replications)):
        path = store.run_file(variant.variant_id, rep)
        rows, meta = store.read_run(path)
        frames.append(rows)
        runs.append({**meta, "file": path.relative_to(store.root).as_posix()})
    tidy = pd.concat(frames, ignore_index=True)
    by_variant = {v.name: v for v in experiment.variants}
    position = 1
    for col in experiment.factor_columns:
        values = [by_variant[name].factors.get(col) for name in tidy["variant"]]
        tidy.insert(position, col, _column_values(values))
        position += 1
    tidy["replication"] = tidy["replication"].astype("int64")
    tidy["value"] = tidy["value"].astype("float64")
    return tidy.reset_index(drop=True), runs


def _analyse(experiment: Experiment, store: ResultsStore, tidy: pd.DataFrame) -> None:
    """Write ``summary.csv`` (mean and interval) and ``comparison.csv`` (paired, vs baseline)."""
    summary = summarise(tidy, experiment.confidence)
    store.write_csv(summary, "summary")
    if len(experiment.variants) > 1:
        comparison = compare_to_baseline(
            tidy[list(TIDY_KEYS)], experiment.baseline, experiment.confidence
        )
    else:
        comparison = pd.DataFrame(columns=["variant", "metric"])
    store.write_csv(comparison, "comparison")


def _manifest(experiment: Experiment, session: Session, **extra: Any) -> dict[str, Any]:
    """The manifest: the definition, its fingerprint, provenance, variants, executor, ``extra``.

    Provenance is ``gridsim_version`` and ``lock_hash`` (:func:`gridsim.version.provenance`):
    kept beside the definition's fingerprint, so that a resume by another version or another
    locked environment is refused naming which of the two changed.
    """
    return {
        "experiment": experiment.name,
        "experiment_zh": experiment.name_zh,
        "description": experiment.description,
        "description_zh": experiment.description_zh,
        "slug": experiment.slug,
        "fingerprint": experiment.fingerprint(),
        **provenance(),  # gridsim_version, lock_hash: a resume with others is refused
        "experiment_file": str(experiment.path.resolve()) if experiment.path else None,
        "base_scenario": str(experiment.base_path.resolve()),
        "root_seed": experiment.seed,
        "seeding": "replication r: numpy.random.SeedSequence(entropy=root_seed, spawn_key=(r,))",
        "days": experiment.days,
        "warmup": experiment.warmup,
        "baseline": experiment.baseline,
        "confidence": experiment.confidence,
        "factor_columns": list(experiment.factor_columns),
        "factor_paths": [f.path for f in experiment.factors],
        "design": experiment.design_kind,
        "range_factors": experiment.range_bounds,
        "variants": [
            {
                "name": v.name,
                "variant_id": v.variant_id,
                "overrides": v.overrides,
                "factors": v.factors,
                "description": v.description,
                "label": v.label,
                "name_zh": v.name_zh,
                "description_zh": v.description_zh,
                "point": v.point,
            }
            for v in experiment.variants
        ],
        "executor": {"name": session.executor.name, "workers": session.executor.workers},
        **extra,
    }


def run_experiment(
    experiment_or_path: Experiment | str | Path,
    *,
    executor: str | Executor = "processes",
    workers: int | None = None,
    address: str | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    simulate: SimulateFn | None = None,
    fresh: bool = False,
) -> ExperimentResult:
    """Run every (variant, replication) of an experiment; return the tidy KPI table and counts.

    Each finished run is written to ``out/runs/`` as it arrives, so an interrupted sweep
    resumes where it stopped (finished runs are skipped). The tidy table is the same,
    row for row, whatever the executor and the number of workers.

    Args:
        experiment_or_path: an :class:`Experiment` or its TOML file.
        executor: ``"serial"``, ``"processes"``, ``"dask"``, or an executor object
            (see :mod:`gridsim.experiment.executors`).
        workers: worker processes (default: CPU count).
        address: Dask scheduler address (``tcp://host:8786``) for ``executor="dask"``.
        out: results directory (default ``results/experiments/<slug>/``).
        progress: show a progress bar with an ETA (tqdm; works in Jupyter).
        simulate: the simulate function, ``simulate(scenario, seed, days) -> RunResult``
            (default ``gridsim.model.simulate.simulate``); must be picklable for parallel executors.
        fresh: discard earlier results in ``out`` instead of resuming.

    Returns:
        The tidy table with the results directory, the runs computed and skipped, the
        replications and the warm-up (see :class:`ExperimentResult`).

    Raises:
        ScenarioError: the experiment file is invalid.
        ResultsConflictError: ``out`` holds results of a different definition, or made by
            another gridsim version or locked environment (use ``fresh=True``), or files
            gridsim did not write.
        ResultsLockedError: another sweep is writing ``out``.
        ExecutorOptionError: an unknown executor, a bad worker count, or an address
            without the Dask executor.
        ExecutorUnavailableError: the Dask executor without Dask installed, or its
            scheduler out of reach.

        All five are :class:`~gridsim.errors.UserError` (one line). An error inside a run
        (the simulation itself) propagates with its traceback; finished runs stay on disk.

    Example:
        >>> result = run_experiment("scenarios/experiments/one_stop_centre.toml",
        ...                         executor="processes", workers=2)  # doctest: +SKIP
        >>> sorted(result.tidy.columns)[:2]  # doctest: +SKIP
        ['centre.merged_county', 'centre.merged_town']
    """
    started = time.time()
    exp = (
        experiment_or_path
        if isinstance(experiment_or_path, Experiment)
        else load_experiment(experiment_or_path)
    )
    for variant in exp.variants:  # refuse what would not fit before anything is written
        check_run(variant_scenario(exp, variant), exp.days)
    ex = make_executor(executor, workers, address) if isinstance(executor, str) else executor
    store = ResultsStore(out if out is not None else default_results_dir(exp))
    with store.locked():  # one sweep at a time in a directory; --fresh cannot pull the rug
        return _run_locked(exp, store, ex, simulate, progress, fresh, started)


def _run_locked(
    exp: Experiment,
    store: ResultsStore,
    ex: Executor,
    simulate: SimulateFn | None,
    progress: bool,
    fresh: bool,
    started: float,
) -> ExperimentResult:
    """The body of :func:`run_experiment`, run while this process holds the directory's lock."""
    store.prepare(exp, fresh=fresh)
    session = Session(exp, store, ex, simulate, progress)
    manifest = _manifest(exp, session, status="running", replications=exp.replications)
    store.write_manifest(manifest)
    try:  # compute: the warm-up pilot, the planned replications, more until precise
        warmup_days, warmup_info = choose_warmup(session)
        n = exp.replications
        session.execute(plan_runs(exp, range(n)), warmup_days)
        precision_status = None
        if exp.precision:
            n, precision_status = extend_for_precision(session, n, warmup_days)
    finally:
        session.close()
    # collect: every run file back into one table (whichever invocation computed it)
    tidy, runs = _collect(exp, store, n)
    store.write_table(tidy, "tidy")
    store.write_csv(pd.DataFrame(runs).drop(columns=["seed"], errors="ignore"), "runs")
    _analyse(exp, store, tidy)
    manifest.update(
        status="complete",
        replications=n,
        warmup_days=warmup_days,
        warmup_info=warmup_info,
        precision=(
            None
            if exp.precision is None
            else {**exp.precision.__dict__, "variants": precision_status}
        ),
        last_invocation={
            "computed": session.computed,
            "skipped": session.skipped,
            "recomputed_unreadable": session.removed,
            "wall_time_s": round(time.time() - started, 3),
        },
        runs=runs,
    )
    store.write_manifest(manifest)
    return ExperimentResult(
        tidy=tidy,
        results_dir=store.root,
        computed=session.computed,
        skipped=session.skipped,
        replications=n,
        warmup_days=warmup_days,
    )


# --------------------------------------------------------------------------- command line
