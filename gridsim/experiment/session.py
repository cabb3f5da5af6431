"""One invocation of a sweep: compute the missing runs, choose the warm-up, add replications.

:class:`Session` owns the executor and the progress bar and streams every finished run to
the :class:`~gridsim.experiment.store.ResultsStore` as it arrives. :func:`choose_warmup`
runs the MSER-5 pilot (cached in ``warmup.json``); :func:`extend_for_precision` adds
replications to every variant alike until each meets the experiment's precision target
(the sequential algorithm of Hoad, Robinson & Davies 2010).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gridsim.analysis.stats import replications_needed
from gridsim.analysis.warmup import mser5
from gridsim.experiment.executors import Executor
from gridsim.experiment.runs import RunOutcome, RunSpec, SimulateFn, build_specs, execute_run
from gridsim.experiment.spec import Experiment, Variant
from gridsim.experiment.store import ResultsStore
from gridsim.model.scenario import ScenarioError
from gridsim.version import provenance


class _NeedReplication(Exception):
    """The precision check asked for a replication not computed yet (compute, then retry)."""

    def __init__(self, replication: int):
        super().__init__(replication)
        self.replication = replication


class _NaNReplication(Exception):
    """A replication's KPI is NaN, so the variant's precision cannot be judged."""

    def __init__(self, replication: int):
        super().__init__(f"run({replication}) returned NaN")


@dataclass
class Session:
    """One invocation of :func:`run_experiment`: executor, progress bar, counters."""

    experiment: Experiment
    store: ResultsStore
    executor: Executor
    simulate: SimulateFn | None
    progress: bool
    computed: int = 0
    skipped: int = 0
    removed: int = 0
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _entered: bool = False
    _bar: Any = None

    def close(self) -> None:
        """Close the progress bar and the executor (if it was started)."""
        if self._bar is not None:
            self._bar.close()
        self._stack.close()

    def _ensure_executor(self) -> Executor:
        """Start the executor on first use (a fully resumed sweep never starts workers)."""
        if not self._entered:
            self._stack.enter_context(self.executor)
            self._entered = True
        return self.executor

    def _ensure_bar(self, extra: int) -> Any:
        """One progress bar for the whole invocation, grown as more runs are planned."""
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=extra, desc=self.experiment.name, unit="run", disable=not self.progress
            )
        else:
            self._bar.total += extra
            self._bar.refresh()
        if self.skipped:
            self._bar.set_postfix(skipped=self.skipped)
        return self._bar

    def stream(self, specs: list[RunSpec]) -> Iterator[RunOutcome]:
        """Compute specs on the executor, yielding outcomes as they complete."""
        if not specs:
            return
        bar = self._ensure_bar(len(specs))
        executor = self._ensure_executor()
        for outcome in executor.run(execute_run, specs):
            yield outcome
            bar.update(1)

    def execute(self, plan: list[tuple[Variant, int]], warmup_days: float) -> None:
        """Compute every planned run that has no readable file; stream each to disk."""
        todo = []
        for variant, rep in plan:
            path = self.store.run_file(variant.variant_id, rep)
            existed = path.exists()
            if self.store.finished(variant.variant_id, rep):
                self.skipped += 1
            else:
                self.removed += existed
                todo.append((variant, rep))
        # Replication-major order: an interrupted sweep leaves whole replications behind.
        todo.sort(key=lambda run: run[1])
        specs = build_specs(self.experiment, todo, warmup_days, self.simulate)
        for outcome in self.stream(specs):
            self.store.write_run(outcome)
            self.computed += 1


def plan_runs(experiment: Experiment, replications: Iterable[int]) -> list[tuple[Variant, int]]:
    """Every (variant, replication) pair, variant-major (the order of the tidy table).

    Example:
        >>> from gridsim.experiment.loading import load_experiment
        >>> exp = load_experiment("scenarios/experiments/one_stop_centre.toml")
        >>> plan = plan_runs(exp, range(2))
        >>> len(plan) == 2 * len(exp.variants), [r for _, r in plan[:3]]
        (True, [0, 1, 0])
    """
    reps = list(replications)
    return [(v, r) for v in experiment.variants for r in reps]


def choose_warmup(session: Session) -> tuple[float, dict | None]:
    """MSER-5 on the baseline's daily backlog (pilot runs without warm-up), cached on disk."""
    exp, store = session.experiment, session.store
    if exp.warmup != "mser5":
        return exp.warmup_days, None
    info_path = store.root / "warmup.json"
    if info_path.exists():
        info = json.loads(info_path.read_text("utf-8"))
        same = info.get("fingerprint") == exp.fingerprint() and all(
            info.get(key) == value for key, value in provenance().items()
        )
        if same and info.get("pilot_replications", 0) >= 2:
            return float(info["warmup_days"]), info
    baseline = exp.variant(exp.baseline)
    reps = max(2, exp.replications)
    runs = [(baseline, r) for r in range(reps)]
    specs = build_specs(exp, runs, 0.0, session.simulate, collect_backlog=True)
    series: dict[int, list[float]] = {}
    for outcome in session.stream(specs):
        series[outcome.replication] = outcome.backlog or []
    session.computed += len(specs)
    matrix = np.array([series[r] for r in sorted(series)], dtype=float)
    truncation = mser5(matrix.mean(axis=0)) if matrix.shape[1] >= 10 else 0
    periods = matrix.shape[1]
    info = {
        "fingerprint": exp.fingerprint(),
        **provenance(),
        "method": "mser5",
        "series": "daily mean open work orders of the baseline variant",
        "variant": baseline.name,
        "pilot_replications": reps,
        "periods": periods,
        "warmup_days": float(truncation),
        "welch_window": max(1, periods // 20),
        "steady_state_doubtful": bool(truncation >= 0.4 * periods),
    }
    long = pd.DataFrame(
        [
            {"replication": r, "day": d, "backlog": v}
            for r in sorted(series)
            for d, v in enumerate(series[r])
        ]
    )
    store.write_table(long, "warmup", csv=False)
    store.write_json("warmup", info)
    return float(truncation), info


def _read_metric(store: ResultsStore, variant: Variant, reps: int, metric: str) -> dict[int, float]:
    """One KPI of a variant's first ``reps`` replications, read back from the run files."""
    values = {}
    for r in range(reps):
        rows, _ = store.read_run(store.run_file(variant.variant_id, r))
        hit = rows.loc[rows["metric"] == metric, "value"]
        values[r] = float(hit.iloc[0]) if len(hit) else math.nan
    return values


def extend_for_precision(session: Session, n: int, warmup_days: float) -> tuple[int, dict]:
    """Add replications (to every variant alike) until each meets the precision target."""
    exp, p = session.experiment, session.experiment.precision
    assert p is not None
    min_reps = min(max(3, exp.replications), p.max_replications)
    status: dict[str, dict] = {}
    while True:
        want = n
        for v in exp.variants:
            values = _read_metric(session.store, v, n, p.metric)
            if all(math.isnan(x) for x in values.values()):
                raise ScenarioError(
                    exp.source,
                    "experiment.precision.metric",
                    f"a KPI the runs report, not {p.metric!r}",
                )

            def lookup(rep: int, values: dict[int, float] = values) -> float:
                if rep not in values:
                    raise _NeedReplication(rep)
                if math.isnan(values[rep]):
                    raise _NaNReplication(rep)
                return values[rep]

            try:
                res = replications_needed(
                    lookup,
                    p.target_relative_half_width,
                    exp.confidence,
                    min_replications=min_reps,
                    max_replications=p.max_replications,
                    k_limit=p.k_limit,
                )
            except _NeedReplication as need:
                want = max(want, need.replication + 1)
                continue
            except _NaNReplication as nan:
                status[v.name] = {"converged": False, "note": str(nan)}
                continue
            status[v.name] = {
                "converged": res.converged,
                "n_required": res.n_required,
                "relative_half_width": res.history[-1] if res.history else math.inf,
            }
        if want == n:
            return n, status
        session.execute(plan_runs(exp, range(n, want)), warmup_days)
        n = want
