"""Sensitivity indices, the multiple-comparison choice and the tornado's design guard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridsim.analysis.sensitivity import (
    design_kind,
    is_saltelli,
    range_factors,
    sensitivity_indices,
)


def _saltelli_unit(n: int, d: int, seed: int) -> np.ndarray:
    from SALib.sample import sobol

    problem = {"num_vars": d, "names": [f"x{i}" for i in range(d)], "bounds": [[0, 1]] * d}
    return sobol.sample(problem, n, calc_second_order=False, seed=seed)


def synthetic_tidy(
    X: np.ndarray, reps: int = 2, noise: float = 0.05, seed: int = 3
) -> pd.DataFrame:
    """A sweep's tidy table: y = f(x1) + small noise, x2 irrelevant; a second KPI constant."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, (x1, x2) in enumerate(X):
        for r in range(reps):
            y = 5.0 * np.sin(3.0 * x1) + 2.0 * x1 + rng.normal(0.0, noise)
            rows.append((f"p{i:04d}", x1, 300 + 300 * x2, r, "resolution_time_mean", y))
            rows.append((f"p{i:04d}", x1, 300 + 300 * x2, r, "constant_kpi", 1.0))
    return pd.DataFrame(
        rows, columns=["variant", "a.x1", "b.x2", "replication", "metric", "value"]
    )


def _lhs(n: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    return qmc.LatinHypercube(d=2, rng=np.random.default_rng(seed)).random(n)


def _by_factor(res: pd.DataFrame, index: str) -> pd.DataFrame:
    rows = res[(res["metric"] == "resolution_time_mean") & (res["index"] == index)]
    return rows.set_index("factor")


@pytest.mark.parametrize(("method", "points", "resamples", "relevant"),
                         [("rbd_fast", 400, 200, 0.9), ("delta", 300, 20, 0.8)])  # fmt: skip
def test_irrelevant_factor_near_zero_on_lhs(
    method: str, points: int, resamples: int, relevant: float
) -> None:
    tidy = synthetic_tidy(_lhs(points, seed=5))
    res = sensitivity_indices(tidy, ["a.x1", "b.x2"], method, seed=1, resamples=resamples)
    s1 = _by_factor(res, "S1")
    assert s1.loc["a.x1", "value"] > relevant
    assert abs(s1.loc["b.x2", "value"]) < 0.05
    # The bootstrap interval is there and covers the estimate.
    assert (s1["low"] <= s1["value"]).all() and (s1["value"] <= s1["high"]).all()
    assert s1.loc["b.x2", "low"] < 0.05
    if method == "delta":
        # Borgonovo's delta (kernel densities) keeps a small positive bias at 300 points:
        # the irrelevant factor is near zero, the relevant one several times larger.
        d = _by_factor(res, "delta")
        assert d.loc["b.x2", "value"] < 0.15
        assert d.loc["a.x1", "value"] > 3 * d.loc["b.x2", "value"]
    # The constant KPI has no indices (nothing to explain).
    assert set(res["metric"]) == {"resolution_time_mean"}


def test_irrelevant_factor_near_zero_with_sobol_on_saltelli() -> None:
    X = _saltelli_unit(256, 2, seed=2)
    tidy = synthetic_tidy(X)
    assert is_saltelli(tidy.drop_duplicates("variant")[["a.x1", "b.x2"]].to_numpy())
    res = sensitivity_indices(tidy, ["a.x1", "b.x2"], "sobol", seed=1)
    for index in ("S1", "ST"):
        rows = _by_factor(res, index)
        assert rows.loc["a.x1", "value"] == pytest.approx(1.0, abs=0.1)
        assert abs(rows.loc["b.x2", "value"]) < 0.05
        assert rows.loc["b.x2", "high"] - rows.loc["b.x2", "low"] < 0.1


def test_sobol_refused_on_lhs_and_too_few_points() -> None:
    with pytest.raises(ValueError, match="Saltelli"):
        sensitivity_indices(synthetic_tidy(_lhs(100, 1)), ["a.x1", "b.x2"], "sobol")
    with pytest.raises(ValueError, match="at least"):
        sensitivity_indices(synthetic_tidy(_lhs(10, 1)), ["a.x1", "b.x2"], "rbd_fast")
    with pytest.raises(ValueError, match="unknown sensitivity method"):
        sensitivity_indices(synthetic_tidy(_lhs(40, 1)), ["a.x1"], "morris")


def test_design_kind_from_manifest_and_inferred() -> None:
    tidy = synthetic_tidy(_lhs(40, 1))
    manifest = {"factor_paths": ["a.x1", "b.x2"], "factor_columns": ["a.x1", "b.x2"]}
    assert design_kind(manifest, tidy) == "lhs"  # inferred: every value unique
    assert set(range_factors(manifest, tidy)) == {"a.x1", "b.x2"}
    recorded = {**manifest, "range_factors": {}, "design": "factorial"}
    assert design_kind(recorded, tidy) == "factorial"
