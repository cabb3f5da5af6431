"""The classroom page's numbers: a common-random-number sweep over the controls' levels.

:func:`plan_variants` turns a design into variants (one factor at a time around the
baseline, or every combination), each keyed by its level indices (``"1-0-1-1-1-0"``), plus
the county before the reform (the ``before the reform`` variant of the shipped
``before_after_reform.toml``, applied to the same scenario). :func:`run_sweep` runs them as
an in-memory experiment (:mod:`gridsim.experiment`): replication ``r`` of every variant uses
``replication_seed(seed, r)``, so variants are compared on the same random numbers, and
returns the mean and 95 % confidence interval of every KPI the page shows, and the paired
before-minus-after differences.

Example:
    >>> from gridsim.model.loader import load_scenario
    >>> from gridsim.classroom.design import load_design
    >>> design = load_design()
    >>> plan = plan_variants(design, load_scenario("scenarios/one_town.toml"))
    >>> len(plan.variants), plan.baseline_key
    (11, '1-0-1-1-1-0')
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gridsim.analysis.stats import mean_ci, paired_comparison
from gridsim.classroom.design import Control, Design
from gridsim.errors import UserError
from gridsim.experiment.executors import make_executor
from gridsim.experiment.loading import experiment_from_dict, load_experiment
from gridsim.experiment.runs import build_specs, execute_run
from gridsim.model.loader import load_scenario
from gridsim.model.scenario import Scenario

__all__ = ["BEFORE_KEY", "Plan", "plan_variants", "run_sweep"]

#: Key of the before-the-reform variant in the page's data.
BEFORE_KEY = "before"


@dataclass(frozen=True)
class Plan:
    """The variants to run.

    Attributes:
        controls: the controls (with an "as in the scenario" level where needed).
        variants: ``{key: overrides}``; a key is the level indices joined by ``-``, or
            :data:`BEFORE_KEY`.
        baseline_key: the key of the scenario as it is.
        reform: the before-the-reform variant's description by language.
    """

    controls: tuple[Control, ...]
    variants: dict[str, dict[str, Any]]
    baseline_key: str
    reform: dict[str, str]


def _key(indices: tuple[int, ...]) -> str:
    return "-".join(str(i) for i in indices)


def _reform_overrides(design: Design, reform: str | Path | None) -> tuple[dict, dict[str, str]]:
    """The before-the-reform overrides and description, from the shipped experiment file."""
    path = Path(reform) if reform is not None else Path(design.reform_experiment)
    if not path.is_file():
        raise UserError(path, "--reform", "the before/after-reform experiment file (no such file)")
    exp = load_experiment(path)
    try:
        v = exp.variant(design.reform_variant)
    except KeyError:
        raise UserError(path, "variants", f"a variant named {design.reform_variant!r}") from None
    return dict(v.overrides), {"zh": v.description_zh or v.description, "en": v.description}


def plan_variants(design: Design, scenario: Scenario, reform: str | Path | None = None) -> Plan:
    """The variants of the page: the design's level combinations and the before-reform side.

    Args:
        design: the design.
        scenario: the base scenario (its own levels are the baseline).
        reform: the experiment file with the before-the-reform variant (default: the
            design's ``reform_experiment``, relative to the working directory).

    Example:
        >>> from gridsim.classroom.design import load_design
        >>> d = load_design()
        >>> s = load_scenario("scenarios/one_town.toml")
        >>> p = plan_variants(d, s)
        >>> BEFORE_KEY in p.variants, p.variants[p.baseline_key]["escalation.policy"]
        (True, 'direct_triage')
    """
    controls = tuple(c.with_scenario_level(scenario) for c in design.controls)
    base = tuple(c.baseline_index(scenario) for c in controls)
    if design.design == "factorial":
        combos = list(itertools.product(*(range(len(c.levels)) for c in controls)))
    else:
        combos = [base]
        for i, c in enumerate(controls):
            combos += [
                base[:i] + (j,) + base[i + 1 :] for j in range(len(c.levels)) if j != base[i]
            ]
    variants: dict[str, dict[str, Any]] = {}
    for combo in combos:
        overrides: dict[str, Any] = {}
        for c, j in zip(controls, combo, strict=True):
            overrides.update(c.levels[j].overrides)
        variants[_key(combo)] = overrides
    before, text = _reform_overrides(design, reform)
    variants[BEFORE_KEY] = before
    return Plan(controls, variants, _key(base), text)


def _round(x: float) -> float | None:
    """Four significant digits (the page shows three); None for NaN or infinity."""
    if not math.isfinite(x):
        return None
    return float(f"{x:.4g}")


def _summary(values: list[float]) -> list[float | None]:
    """``[mean, low, high]`` of the 95 % CI; a single or missing value gives no interval."""
    arr = np.asarray(values, dtype=float)
    if np.isnan(arr).all():
        return [None, None, None]
    ci = mean_ci(arr)
    return [_round(ci.mean), _round(ci.low), _round(ci.high)]


def _paired(
    variant: dict[str, list[float]], baseline: dict[str, list[float]], names: list[str]
) -> dict[str, list[float | None]]:
    """Paired (common random numbers) variant-minus-baseline ``[mean, low, high]`` by KPI."""
    out: dict[str, list[float | None]] = {}
    for n in names:
        v, b = np.asarray(variant[n], dtype=float), np.asarray(baseline[n], dtype=float)
        if np.isnan(v).all() or np.isnan(b).all() or variant is baseline:
            out[n] = [None, None, None]
            continue
        pc = paired_comparison(v, b)
        out[n] = [_round(pc.mean_difference), _round(pc.low), _round(pc.high)]
    return out


def run_sweep(
    scenario_path: str | Path,
    design: Design,
    *,
    days: float | None = None,
    replications: int | None = None,
    workers: int | None = None,
    executor: str = "processes",
    reform: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the page's sweep and summarise it for the page.

    Args:
        scenario_path: the base scenario file.
        design: the design (levels, KPIs, default horizon and replications).
        days: simulated days per run (default: the design's); time unit days.
        replications: replications per variant (default: the design's; at least 2).
        workers: worker processes (default: every core).
        executor: ``"processes"`` or ``"serial"``.
        reform: the before/after-reform experiment file (default: the design's).
        progress: called with (runs done, runs in all) after each run.

    Returns:
        ``{"controls", "baseline", "variants", "reform", "runs", "seconds", ...}``: for each
        variant key, ``{kpi: [mean, low, high]}``; for the reform, the before side and the
        paired before-minus-after differences ``{kpi: [mean, low, high]}``.

    Raises:
        UserError: a bad option, scenario, override or reform file (one line).

    Example:
        >>> from gridsim.classroom.design import load_design
        >>> data = run_sweep("scenarios/one_town.toml", load_design(), days=3,
        ...                  replications=2, executor="serial")  # doctest: +SKIP
        >>> sorted(data["variants"])[:2]  # doctest: +SKIP
        ['0-0-1-1-1-0', '1-0-0-1-1-0']
    """
    days = design.days if days is None else float(days)
    reps = design.replications if replications is None else int(replications)
    if not math.isfinite(days) or days <= 0 or days > 3650:
        raise UserError("", "--days", f"a number of days in (0, 3650], got {days:g}")
    if reps < 2 or reps > 100:
        raise UserError("", "--replications", f"an integer from 2 to 100, got {reps}")
    path = Path(scenario_path)
    scenario = load_scenario(path)
    plan = plan_variants(design, scenario, reform)
    warmup = min(design.warmup_days, days / 4)
    exp = experiment_from_dict(
        {
            "experiment": {
                "name": "classroom",
                "base": str(path.resolve()),
                "seed": design.seed,
                "days": days,
                "warmup_days": warmup,
                "replications": reps,
                "baseline": plan.baseline_key,
            },  # fmt: skip
            "variants": [{"name": k, "overrides": o} for k, o in plan.variants.items()],
        },
        source=design.path,
    )
    runs = [(v, r) for r in range(reps) for v in exp.variants]
    specs = build_specs(exp, runs)
    names = design.kpi_names()
    values: dict[str, dict[str, list[float]]] = {
        k: {n: [math.nan] * reps for n in names} for k in plan.variants
    }
    start = time.perf_counter()
    with make_executor(executor, workers) as pool:
        for done, out in enumerate(pool.run(execute_run, specs), start=1):
            for n in names:
                values[out.variant][n][out.replication] = out.kpis.get(n, math.nan)
            if progress is not None:
                progress(done, len(specs))
    seconds = time.perf_counter() - start
    summary = {k: {n: _summary(v[n]) for n in names} for k, v in values.items()}
    after = values[plan.baseline_key]
    diffs = {k: _paired(v, after, names) for k, v in values.items()}
    return {
        "controls": plan.controls,
        "baseline": plan.baseline_key,
        "variants": {k: v for k, v in summary.items() if k != BEFORE_KEY},
        "diffs": {k: v for k, v in diffs.items() if k != BEFORE_KEY},
        "reform": {"before": summary[BEFORE_KEY], "diff": diffs[BEFORE_KEY], "text": plan.reform},
        "scenario": scenario,
        "days": days,
        "warmup_days": warmup,
        "replications": reps,
        "seed": design.seed,
        "runs": len(specs),
        "seconds": seconds,
    }
