"""The claims table: each claim of the practice as a paired comparison with its interval.

:func:`run_claims` runs every distinct side of a :class:`~gridsim.validation.claims_file.ClaimSet`
for ``R`` replications with common random numbers (replication ``r`` of every side uses
``replication_seed(seed, r)``), on any executor with the interface of
:mod:`gridsim.experiment.executors` (the command line passes one; by default the runs are
made in this process), and returns the tidy claims table (:data:`CLAIM_COLUMNS`).

The decision rule (:func:`claim_test`): the claim is about ``d = variant - reference`` of one
KPI. A claim expects ``d`` on one side ``s`` of a boundary ``b``: ``increase`` is ``s = +1,
b = 0``, ``decrease`` is ``s = -1, b = 0``, and ``no_worse`` with tolerance ``t`` on a KPI
whose better direction is ``k`` is ``s = k, b = -k t |reference mean|`` (the reference mean
is taken as known). Its p-value is that of the one-sided paired t-test of ``s (d - b) <= 0``,
doubled (at most 1): ``p < 1 - confidence`` exactly when the raw two-sided interval lies
entirely on side ``s`` of ``b``. Holm's step-down correction across all claims
(:func:`gridsim.analysis.multiple.holm`) controls the family-wise error rate, and a claim
``holds`` when its Holm-adjusted p-value is below ``1 - confidence``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats as sps

from gridsim.analysis.multiple import holm
from gridsim.analysis.stats import paired_comparison
from gridsim.errors import UserError
from gridsim.model.loader import scenario_from_dict
from gridsim.model.seeds import replication_seed
from gridsim.model.simulate import simulate
from gridsim.validation.claims_file import ClaimSet, describe_overrides

#: The columns of the claims table, in order.
CLAIM_COLUMNS: tuple[str, ...] = (
    "claim",
    "issue",
    "text_en",
    "text_zh",
    "kpi",
    "expect",
    "tolerance",
    "scenario",
    "reference",
    "variant",
    "n",
    "reference_mean",
    "variant_mean",
    "difference",
    "ci_low",
    "ci_high",
    "boundary",
    "relative_effect",
    "relative_low",
    "relative_high",
    "p_value",
    "p_holm",
    "ci_holds",
    "holds",
)

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """What :func:`run_claims` needs of an executor (those of ``gridsim.experiment`` fit)."""

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> Any: ...

    def run(self, fn: Callable[[T], R], specs: Iterable[T]) -> Iterator[R]:
        """Apply ``fn`` to every spec; yield the results (in any order)."""
        ...


@dataclass(frozen=True)
class ClaimTest:
    """The outcome of one claim's paired comparison (see the module's decision rule).

    Attributes:
        n: complete pairs used (0: the KPI is undefined on a side; every number NaN).
        reference_mean: mean of the reference over the pairs used.
        variant_mean: mean of the variant over the pairs used.
        difference: mean of ``variant - reference``.
        low: lower end of the raw interval of the difference.
        high: upper end.
        boundary: the value the interval must stay clear of (0, or the no_worse margin).
        side: +1 if the claim expects the difference above the boundary, -1 below.
        p_value: the claim's p-value (doubled one-sided; NaN with fewer than two pairs).
        ci_holds: whether the raw interval lies entirely on the expected side.
    """

    n: int
    reference_mean: float
    variant_mean: float
    difference: float
    low: float
    high: float
    boundary: float
    side: int
    p_value: float
    ci_holds: bool


def claim_side(expect: str, direction: int) -> int:
    """The side of the boundary a claim expects the difference on (+1 above, -1 below).

    Example:
        >>> claim_side("decrease", 1), claim_side("no_worse", -1)
        (-1, -1)
    """
    if expect == "increase":
        return 1
    if expect == "decrease":
        return -1
    if expect == "no_worse" and direction in (1, -1):
        return direction
    raise ValueError(f"no side for expect={expect!r} with KPI direction {direction}")


def claim_test(
    variant: ArrayLike,
    reference: ArrayLike,
    expect: str,
    direction: int = 0,
    tolerance: float | None = None,
    confidence: float = 0.95,
) -> ClaimTest:
    """Test one claim on paired replication outputs (element ``r`` of both from seed ``r``).

    Args:
        variant: the KPI on the variant side, one value per replication.
        reference: the KPI on the reference side, same replications.
        expect: ``"increase"``, ``"decrease"`` or ``"no_worse"``.
        direction: the KPI's better direction (+1 higher, -1 lower; needed for no_worse).
        tolerance: the relative margin of a no_worse claim.
        confidence: level of the raw interval.

    Returns:
        The comparison and the raw decision.

    Example:
        >>> t = claim_test([8.0, 9.0, 7.5, 8.2], [10.0, 11.0, 9.0, 10.5], "decrease")
        >>> round(t.difference, 3), t.ci_holds, round(t.p_value, 4)
        (-1.95, True, 0.0013)
        >>> claim_test([10.2, 11.1, 9.1, 10.6], [10.0, 11.0, 9.0, 10.5], "no_worse",
        ...            direction=-1, tolerance=0.05).ci_holds
        True
    """
    side = claim_side(expect, direction)
    a = np.asarray(variant, dtype=float)
    b = np.asarray(reference, dtype=float)
    pc = paired_comparison(a, b, confidence)
    used = ~(np.isnan(a) | np.isnan(b))
    if pc.n == 0:
        nan = math.nan
        return ClaimTest(0, nan, nan, nan, nan, nan, nan, side, nan, False)
    ref_mean = float(b[used].mean())
    boundary = 0.0
    if expect == "no_worse":
        boundary = -direction * float(tolerance or 0.0) * abs(ref_mean)
    diff = (a - b)[used]
    shift = side * (pc.mean_difference - boundary)  # > 0: on the expected side
    if pc.n < 2:
        p_value = math.nan
    else:
        se = float(np.std(diff, ddof=1)) / math.sqrt(pc.n)
        if se > 0:
            p_value = min(1.0, float(2.0 * sps.t.sf(shift / se, pc.n - 1)))
        else:
            p_value = 0.0 if shift > 0 else 1.0
    near = pc.low if side > 0 else pc.high  # the end of the interval nearest the boundary
    ci_holds = bool(pc.n >= 2 and side * (near - boundary) > 0)
    return ClaimTest(
        n=pc.n,
        reference_mean=ref_mean,
        variant_mean=float(a[used].mean()),
        difference=pc.mean_difference,
        low=pc.low,
        high=pc.high,
        boundary=boundary,
        side=side,
        p_value=p_value,
        ci_holds=ci_holds,
    )


@dataclass(frozen=True)
class SideRun:
    """One run of one side, as a worker receives it (the scenario as a plain dict)."""

    side: str
    replication: int
    root_seed: int
    days: float | None
    scenario: dict
    source: str


def run_side(spec: SideRun) -> tuple[str, int, dict[str, float]]:
    """Run one side's replication; return its scalar KPIs (runs in a worker process).

    Example:
        >>> from gridsim.model.loader import load_scenario
        >>> s = load_scenario("scenarios/one_town.toml").model_dump(mode="python")
        >>> side, r, kpis = run_side(SideRun("a", 0, 1, 3.0, s, "one_town"))
        >>> side, r, kpis["appeals"] > 0
        ('a', 0, True)
    """
    scenario = scenario_from_dict(spec.scenario, spec.source)
    seed = replication_seed(spec.root_seed, spec.replication)
    result = simulate(scenario, seed, spec.days, log_events=False)
    kpis = {
        str(k): float(v)
        for k, v in result.kpis.items()
        if isinstance(v, (bool, int, float, np.integer, np.floating, np.bool_))
    }
    return spec.side, spec.replication, kpis


def run_claims(
    claim_set: ClaimSet,
    replications: int = 5,
    days: float | None = None,
    executor: Executor | None = None,
    progress: bool = False,
    seed: int | None = None,
) -> pd.DataFrame:
    """Run every distinct side ``replications`` times and test every claim.

    Args:
        claim_set: the loaded claims (:func:`gridsim.validation.claims_file.load_claims`).
        replications: replications per side (at least 2, for an interval).
        days: simulated days (None: each scenario's horizon).
        executor: where runs are computed (any executor of :mod:`gridsim.experiment.executors`;
            None: in this process).
        progress: show a progress bar (tqdm) over runs.
        seed: root seed (None: the claims file's).

    Returns:
        The claims table, one row per claim, columns :data:`CLAIM_COLUMNS`.

    Raises:
        UserError: fewer than two replications.

    Example:
        >>> from gridsim.validation.claims_file import load_claims
        >>> cs = load_claims(scenario="scenarios/one_town.toml", days=4)
        >>> table = run_claims(cs, replications=2, days=4)  # doctest: +SKIP
    """
    if isinstance(replications, bool) or int(replications) != replications or replications < 2:
        raise UserError(
            "",
            "--replications",
            f"at least 2 (an interval needs two replications), got {replications!r}",
        )
    root = claim_set.seed if seed is None else int(seed)
    specs = [
        SideRun(side.key, r, root, days, side.scenario.model_dump(mode="python"), side.label)
        for r in range(int(replications))  # replication-major: early runs pair up
        for side in claim_set.sides.values()
    ]
    values: dict[tuple[str, int], dict[str, float]] = {}
    from tqdm.auto import tqdm

    with (
        executor or nullcontext(),
        tqdm(total=len(specs), unit="run", desc="claims", disable=not progress) as bar,
    ):
        results = executor.run(run_side, specs) if executor is not None else map(run_side, specs)
        for side, r, kpis in results:
            values[(side, r)] = kpis
            bar.update(1)
    return claims_table(claim_set, values, int(replications))


def claims_table(
    claim_set: ClaimSet, values: dict[tuple[str, int], dict[str, float]], replications: int
) -> pd.DataFrame:
    """The claims table from every side's KPIs by replication (``{(side, r): kpis}``).

    A KPI a run did not report counts as undefined (NaN) for that replication.
    """
    alpha = 1.0 - claim_set.confidence
    rows = []
    for claim in claim_set.claims:

        def series(side: str, kpi: str = claim.kpi) -> list[float]:
            return [values[(side, r)].get(kpi, math.nan) for r in range(replications)]

        t = claim_test(
            series(claim.variant),
            series(claim.reference),
            claim.expect,
            claim.direction,
            claim.tolerance,
            claim_set.confidence,
        )
        scale = abs(t.reference_mean)

        def rel(x: float, scale: float = scale) -> float:
            return x / scale if scale > 0 else math.nan

        rows.append(
            {
                "claim": claim.id,
                "issue": claim.issue,
                "text_en": claim.text_en,
                "text_zh": claim.text_zh,
                "kpi": claim.kpi,
                "expect": claim.expect,
                "tolerance": claim.tolerance if claim.tolerance is not None else math.nan,
                "scenario": claim.scenario,
                "reference": describe_overrides(claim.reference_overrides) or "(as is)",
                "variant": describe_overrides(claim.variant_overrides) or "(as is)",
                "n": t.n,
                "reference_mean": t.reference_mean,
                "variant_mean": t.variant_mean,
                "difference": t.difference,
                "ci_low": t.low,
                "ci_high": t.high,
                "boundary": t.boundary,
                "relative_effect": rel(t.difference),
                "relative_low": rel(t.low),
                "relative_high": rel(t.high),
                "p_value": t.p_value,
                "ci_holds": t.ci_holds,
            }
        )
    table = pd.DataFrame(rows)
    adjusted = holm(table["p_value"].to_numpy(dtype=float), alpha)
    table["p_holm"] = adjusted.p_adjusted
    # Strictly below alpha, like the interval that lies strictly on one side.
    table["holds"] = np.nan_to_num(adjusted.p_adjusted, nan=1.0) < alpha
    return table[list(CLAIM_COLUMNS)].astype({"n": "int64", "issue": "int64"})


def claims_settings(
    claim_set: ClaimSet, replications: int, days: float | None, seed: int | None = None
) -> dict[str, Any]:
    """How a claims table was made, for its files (``claims.json``, the Markdown setup line).

    Example:
        >>> from gridsim.validation.claims_file import load_claims
        >>> s = claims_settings(load_claims(scenario="scenarios/one_town.toml"), 5, None)
        >>> s["replications"], s["seed"], s["confidence"]
        (5, 20250601, 0.95)
    """
    return {
        "claims_file": str(claim_set.path),
        "scenarios": sorted({c.scenario for c in claim_set.claims}),
        "replications": int(replications),
        "days": days,
        "seed": claim_set.seed if seed is None else int(seed),
        "confidence": claim_set.confidence,
        "sides": {key: side.label for key, side in claim_set.sides.items()},
    }
