"""One run of an experiment: what a worker receives, what it does, what it sends back.

A :class:`RunSpec` is everything a worker needs (the variant's scenario as a plain dict, the
root seed, the replication index), cheap to pickle for a process pool or a Dask cluster.
:func:`execute_run` rebuilds the scenario, seeds it with
``replication_seed(root_seed, r)`` (common random numbers: replication ``r`` of every variant
shares its random numbers) and returns a :class:`RunOutcome` of scalar KPIs, never the event
log. :func:`run_one` rebuilds any single run alone, with its full tables.
"""

from __future__ import annotations

import inspect
import math
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridsim.experiment.loading import apply_overrides, load_experiment
from gridsim.experiment.spec import Experiment, Variant
from gridsim.model.loader import scenario_from_dict
from gridsim.model.scenario import Scenario
from gridsim.model.seeds import replication_seed
from gridsim.model.simulate import simulate as engine_simulate

#: Signature of the function that runs one simulation (``gridsim.model.simulate.simulate``).
SimulateFn = Callable[..., Any]


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs for one run; cheap to pickle (the scenario is a dict).

    Attributes:
        variant: variant name.
        variant_id: variant id.
        replication: replication index ``r``.
        root_seed: the experiment's root seed (the run's seed is
            :func:`~gridsim.model.seeds.replication_seed` ``(root_seed, r)``).
        days: simulated days.
        scenario: the variant's scenario as a plain dict (``Scenario.model_dump()``).
        source: name for error messages.
        simulate: the simulate function; ``None`` means ``gridsim.model.simulate.simulate``.
        collect_backlog: also return the daily mean backlog (for warm-up detection).
    """

    variant: str
    variant_id: str
    replication: int
    root_seed: int
    days: float
    scenario: dict
    source: str = "<experiment>"
    simulate: SimulateFn | None = None
    collect_backlog: bool = False


@dataclass(frozen=True)
class RunOutcome:
    """What travels back from a worker: scalar KPIs and bookkeeping, never event logs.

    Attributes:
        variant: variant name.
        variant_id: variant id.
        replication: replication index.
        kpis: scalar KPIs (floats) by name.
        seed: ``{"entropy": root_seed, "spawn_key": [r]}``.
        wall_time_s: seconds the simulation took.
        host: machine that ran it.
        pid: process that ran it.
        backlog: daily mean open orders (only when asked for).
    """

    variant: str
    variant_id: str
    replication: int
    kpis: dict[str, float]
    seed: dict
    wall_time_s: float
    host: str
    pid: int
    backlog: list[float] | None = None


def _scalar_kpis(kpis: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in kpis.items():
        if isinstance(value, (bool, int, float, np.integer, np.floating, np.bool_)):
            out[str(name)] = float(value)
    return out


def _daily_backlog(backlog: pd.DataFrame, days: float) -> list[float]:
    """Mean open orders per simulated day (the backlog is sampled every hour)."""
    n_days = max(1, int(math.floor(days)))
    day = (backlog["time"].to_numpy(dtype=float) // 24).astype(int)
    keep = (day >= 0) & (day < n_days)
    sums = np.bincount(
        day[keep], weights=backlog["open"].to_numpy(dtype=float)[keep], minlength=n_days
    )
    counts = np.bincount(day[keep], minlength=n_days)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    return [float(x) for x in pd.Series(means).ffill().fillna(0.0)]


def _call_simulate(simulate: SimulateFn, scenario: Scenario, seed: Any, days: float) -> Any:
    """Call ``simulate``; without its event log when it offers ``log_events`` (KPIs agree)."""
    try:
        offers_switch = "log_events" in inspect.signature(simulate).parameters
    except (TypeError, ValueError):  # signature() only: a callable without one (a builtin)
        offers_switch = False
    if offers_switch:
        return simulate(scenario, seed, days, log_events=False)
    return simulate(scenario, seed, days)


def execute_run(spec: RunSpec) -> RunOutcome:
    """Run one (variant, replication) and keep only its scalar KPIs (runs in a worker).

    Example:
        >>> exp = load_experiment("scenarios/experiments/one_stop_centre.toml")
        >>> spec = build_specs(exp, [(exp.variants[0], 0)])[0]
        >>> execute_run(spec).seed  # doctest: +SKIP
        {'entropy': 20250301, 'spawn_key': [0]}
    """
    simulate = spec.simulate or engine_simulate
    scenario = scenario_from_dict(spec.scenario, spec.source)
    seed = replication_seed(spec.root_seed, spec.replication)
    start = time.perf_counter()
    result = _call_simulate(simulate, scenario, seed, spec.days)
    wall = time.perf_counter() - start
    backlog = _daily_backlog(result.backlog, spec.days) if spec.collect_backlog else None
    return RunOutcome(
        variant=spec.variant,
        variant_id=spec.variant_id,
        replication=spec.replication,
        kpis=_scalar_kpis(result.kpis),
        seed={"entropy": spec.root_seed, "spawn_key": [spec.replication]},
        wall_time_s=wall,
        host=socket.gethostname(),
        pid=os.getpid(),
        backlog=backlog,
    )


def variant_scenario(
    experiment: Experiment, variant: Variant | str, warmup_days: float | None = None
) -> Scenario:
    """Build the scenario a variant runs: base + overrides + the experiment's horizon, warm-up.

    Example:
        >>> exp = load_experiment("scenarios/experiments/one_stop_centre.toml")
        >>> s = variant_scenario(exp, exp.variants[-1])
        >>> s.meta.horizon_days == exp.days
        True
    """
    v = experiment.variant(variant) if isinstance(variant, str) else variant
    warm = experiment.warmup_days if warmup_days is None else warmup_days
    overrides = {**v.overrides, "meta.horizon_days": experiment.days, "meta.warmup_days": warm}
    return apply_overrides(experiment.base, overrides, experiment.source, f"variants ({v.name})")


def build_specs(
    experiment: Experiment,
    runs: Iterable[tuple[Variant, int]],
    warmup_days: float | None = None,
    simulate: SimulateFn | None = None,
    collect_backlog: bool = False,
) -> list[RunSpec]:
    """Run specs for (variant, replication) pairs; each variant's scenario is built once.

    Example:
        >>> exp = load_experiment("scenarios/experiments/one_stop_centre.toml")
        >>> specs = build_specs(exp, [(v, 0) for v in exp.variants])
        >>> {s.replication for s in specs}, len(specs) == len(exp.variants)
        ({0}, True)
    """
    cache: dict[str, dict] = {}
    specs = []
    for variant, rep in runs:
        if variant.name not in cache:
            scenario = variant_scenario(experiment, variant, warmup_days)
            cache[variant.name] = scenario.model_dump(mode="python")
        specs.append(
            RunSpec(
                variant=variant.name,
                variant_id=variant.variant_id,
                replication=int(rep),
                root_seed=experiment.seed,
                days=experiment.days,
                scenario=cache[variant.name],
                source=f"{experiment.source} [{variant.name}]",
                simulate=simulate,
                collect_backlog=collect_backlog,
            )
        )
    return specs


def run_one(
    experiment: Experiment | str | Path,
    variant: str,
    replication: int,
    *,
    warmup_days: float | None = None,
    simulate: SimulateFn | None = None,
) -> Any:
    """Rebuild a single run of an experiment alone, with its full tables.

    The seed is the one the sweep used (``replication_seed(experiment.seed, r)``), so
    the KPIs equal the sweep's. For an MSER-5 experiment pass the warm-up the sweep chose
    (``manifest.json`` → ``warmup_days``).

    Args:
        experiment: an experiment or its file.
        variant: variant name or id.
        replication: replication index.
        warmup_days: override the experiment's warm-up (days).
        simulate: the simulate function (default ``gridsim.model.simulate.simulate``).

    Returns:
        The run's :class:`gridsim.model.records.RunResult`.

    Example:
        >>> exp = load_experiment("scenarios/experiments/one_stop_centre.toml")
        >>> result = run_one(exp, exp.baseline, 0)  # doctest: +SKIP
        >>> result.kpis["appeals"] > 0  # doctest: +SKIP
        True
    """
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    scenario = variant_scenario(exp, variant, warmup_days)
    seed = replication_seed(exp.seed, replication)
    return (simulate or engine_simulate)(scenario, seed, exp.days)
