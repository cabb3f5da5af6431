"""Tests for gridsim.analysis.stats: output analysis of simulation replications."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from gridsim.analysis.stats import (
    compare_to_baseline,
    mean_ci,
    paired_comparison,
    replications_needed,
    summarise,
)
from gridsim.analysis.warmup import mser5, welch_average

# ---------------------------------------------------------------- mean_ci


def test_mean_ci_known_values():
    ci = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0], confidence=0.95)
    expected_hw = sps.t.ppf(0.975, 4) * np.std([1, 2, 3, 4, 5], ddof=1) / math.sqrt(5)
    assert ci.mean == 3.0
    assert ci.half_width == pytest.approx(expected_hw)
    assert (ci.low, ci.high) == pytest.approx((3.0 - expected_hw, 3.0 + expected_hw))
    assert ci.n == 5 and ci.confidence == 0.95 and ci.n_missing == 0
    lo, hi = sps.t.interval(0.9, 4, loc=3.0, scale=sps.sem([1, 2, 3, 4, 5]))
    ci90 = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0], confidence=0.9)
    assert (ci90.low, ci90.high) == pytest.approx((lo, hi))


def test_mean_ci_coverage_is_nominal():
    rng = np.random.default_rng(20240601)
    true_mean, n_samples, n = 7.0, 2000, 10
    samples = rng.normal(true_mean, 3.0, size=(n_samples, n))
    covered = 0
    for row in samples:
        ci = mean_ci(row, 0.95)
        covered += ci.low <= true_mean <= ci.high
    assert 0.93 <= covered / n_samples <= 0.97


def test_mean_ci_drops_nans_and_counts_them():
    ci = mean_ci([1.0, np.nan, 3.0, np.nan])
    assert ci.n == 2 and ci.n_missing == 2 and ci.mean == 2.0
    assert ci.half_width == pytest.approx(sps.t.ppf(0.975, 1) * math.sqrt(2) / math.sqrt(2))


def test_mean_ci_single_value_has_infinite_half_width():
    ci = mean_ci([4.2])
    assert ci.mean == 4.2 and ci.n == 1
    assert math.isinf(ci.half_width) and ci.low == -math.inf and ci.high == math.inf


def test_mean_ci_constant_values_have_zero_width():
    ci = mean_ci([2.5] * 6)
    assert ci.half_width == 0.0 and ci.low == ci.high == 2.5


@pytest.mark.parametrize(
    ("values", "confidence", "match"),
    [
        ([], 0.95, "non-NaN"),
        ([np.nan, np.nan], 0.95, "non-NaN"),
        ([1.0, 2.0], 1.0, "confidence"),
        ([1.0, 2.0], 0.0, "confidence"),
        ([[1.0, 2.0], [3.0, 4.0]], 0.95, "one-dimensional"),
    ],
)
def test_mean_ci_rejects_bad_input(values, confidence, match):
    with pytest.raises(ValueError, match=match):
        mean_ci(values, confidence)


# ---------------------------------------------------------------- paired_comparison


def test_paired_comparison_agrees_with_scipy():
    rng = np.random.default_rng(7)
    base = rng.normal(10, 2, size=15)
    var = base + rng.normal(0.4, 0.5, size=15)
    pc = paired_comparison(var, base)
    ref = sps.ttest_rel(var, base)
    assert pc.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    lo, hi = ref.confidence_interval(0.95)
    assert (pc.low, pc.high) == pytest.approx((lo, hi), rel=1e-10)
    assert pc.mean_difference == pytest.approx(np.mean(var - base))
    assert pc.n == 15 and pc.adjusted_confidence == 0.95
    assert pc.significant == (pc.p_value < 0.05)


def test_paired_comparison_no_difference_not_significant():
    rng = np.random.default_rng(11)
    base = rng.normal(5, 1, size=20)
    var = base + rng.normal(0, 0.3, size=20)
    pc = paired_comparison(var, base)
    assert pc.low < 0 < pc.high and not pc.significant
    assert pc.p_value == pytest.approx(sps.ttest_rel(var, base).pvalue)


def test_bonferroni_widens_interval():
    rng = np.random.default_rng(3)
    base = rng.normal(size=12)
    var = base + rng.normal(0.5, 1.0, size=12)
    one = paired_comparison(var, base, 0.95, comparisons=1)
    four = paired_comparison(var, base, 0.95, comparisons=4)
    assert four.adjusted_confidence == pytest.approx(1 - 0.05 / 4)
    assert four.half_width > one.half_width
    assert four.low < one.low and four.high > one.high
    assert four.mean_difference == one.mean_difference
    # The p-value is the raw paired-t p-value; Bonferroni acts on the threshold.
    assert four.p_value == one.p_value
    assert four.significant == (four.p_value < 0.05 / 4)
    same = paired_comparison(var, base, 1 - 0.05 / 4, comparisons=1)
    assert four.half_width == pytest.approx(same.half_width)


def test_crn_pairing_is_narrower_than_unpaired():
    # Shared per-replication noise (as with common random numbers) cancels in the difference.
    rng = np.random.default_rng(2024)
    n = 20
    common = rng.normal(0, 5, size=n)
    base = 10 + common + rng.normal(0, 0.5, size=n)
    var = 11 + common + rng.normal(0, 0.5, size=n)
    paired = paired_comparison(var, base)
    welch = sps.ttest_ind(var, base, equal_var=False).confidence_interval(0.95)
    unpaired_hw = (welch.high - welch.low) / 2
    assert paired.half_width < unpaired_hw / 3
    assert paired.significant and welch.low < 0 < welch.high


def test_paired_comparison_drops_incomplete_pairs():
    pc = paired_comparison([1.0, 2.0, np.nan, 4.0], [0.5, np.nan, 1.0, 3.0])
    assert pc.n == 2
    assert pc.mean_difference == pytest.approx(0.75)


def test_paired_comparison_degenerate_cases():
    one = paired_comparison([2.0], [1.0])
    assert one.n == 1 and math.isinf(one.half_width) and math.isnan(one.p_value)
    assert not one.significant
    shift = paired_comparison([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    assert shift.half_width == 0.0 and shift.p_value == 0.0 and shift.significant
    same = paired_comparison([1.0, 2.0], [1.0, 2.0])
    assert same.mean_difference == 0.0 and math.isnan(same.p_value) and not same.significant


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"values": [1.0, 2.0, 3.0]}, "pair up"),
        ({"comparisons": 0}, "comparisons"),
        ({"comparisons": 1.5}, "comparisons"),
        ({"confidence": 1.5}, "confidence"),
    ],
)
def test_paired_comparison_rejects_bad_input(kwargs, match):
    args = {"values": [1.0, 2.0], "baseline_values": [0.5, 1.0]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        paired_comparison(**args)


def test_paired_comparison_without_a_complete_pair_is_undefined_not_an_error():
    """Issue #12: a KPI NaN in every replication of one side crashed a finished sweep."""
    pc = paired_comparison([np.nan, 1.0], [1.0, np.nan], comparisons=3)
    assert not pc.defined and pc.n == 0 and not pc.significant
    numbers = (pc.mean_difference, pc.half_width, pc.low, pc.high, pc.p_value)
    assert all(math.isnan(x) for x in numbers)
    assert pc.adjusted_confidence == pytest.approx(1 - 0.05 / 3)
    assert paired_comparison([2.0], [1.0]).defined


# ---------------------------------------------------------------- summarise / compare


def make_results(seed: int = 0, n_reps: int = 10) -> pd.DataFrame:
    """Tidy CRN-style results: variant effect + shared per-replication noise."""
    rng = np.random.default_rng(seed)
    effects = {"base": 0.0, "more_staff": -1.0, "same": 0.0}
    staff = {"base": 10, "more_staff": 12, "same": 10}
    common = {m: rng.normal(0, 2, size=n_reps) for m in ("wait", "backlog")}
    rows = []
    for variant, effect in effects.items():
        for metric, level in (("wait", 5.0), ("backlog", 40.0)):
            noise = rng.normal(0, 0.2, size=n_reps)
            for r in range(n_reps):
                value = level + effect + common[metric][r] + noise[r]
                rows.append(
                    {
                        "variant": variant,
                        "replication": r,
                        "metric": metric,
                        "value": value,
                        "staff": staff[variant],
                    }
                )
    return pd.DataFrame(rows)


def test_summarise_matches_mean_ci_and_carries_factors():
    df = make_results()
    out = summarise(df, confidence=0.9)
    assert list(out.columns) == [
        "variant",
        "metric",
        "staff",
        "mean",
        "half_width",
        "low",
        "high",
        "n",
    ]
    assert len(out) == 6
    assert out[["variant", "metric"]].drop_duplicates().shape[0] == 6
    for row in out.itertuples():
        sel = df[(df.variant == row.variant) & (df.metric == row.metric)]
        ci = mean_ci(sel["value"].to_numpy(), 0.9)
        assert row.mean == pytest.approx(ci.mean)
        assert row.half_width == pytest.approx(ci.half_width)
        assert (row.low, row.high) == pytest.approx((ci.low, ci.high))
        assert row.n == 10
        assert row.staff == sel["staff"].iloc[0]


def test_summarise_nan_values_and_all_nan_group():
    df = pd.DataFrame(
        {
            "variant": ["a", "a", "a", "b", "b"],
            "replication": [0, 1, 2, 0, 1],
            "metric": ["m"] * 5,
            "value": [1.0, np.nan, 3.0, np.nan, np.nan],
        }
    )
    out = summarise(df).set_index("variant")
    assert out.loc["a", "n"] == 2 and out.loc["a", "mean"] == 2.0
    assert out.loc["b", "n"] == 0 and math.isnan(out.loc["b", "mean"])


def test_summarise_rejects_varying_factor_and_duplicates():
    df = make_results(n_reps=3)
    varying = df.assign(seed=df["replication"] * 17)
    with pytest.raises(ValueError, match="'seed' varies"):
        summarise(varying)
    with pytest.raises(ValueError, match="appear once"):
        summarise(pd.concat([df, df.iloc[[0]]]))
    with pytest.raises(ValueError, match="missing column"):
        summarise(df.drop(columns="metric"))


def test_compare_to_baseline_values_and_bonferroni():
    df = make_results(seed=1, n_reps=12)
    out = compare_to_baseline(df, "base", confidence=0.95)
    assert list(out.columns)[:5] == [
        "variant",
        "metric",
        "baseline_mean",
        "variant_mean",
        "mean_difference",
    ]
    assert {"low", "high", "p_value", "significant", "n"} <= set(out.columns)
    assert len(out) == 4 and "base" not in set(out["variant"])
    for row in out.itertuples():
        sel = df[df.metric == row.metric].pivot(index="replication", columns="variant")["value"]
        # Two non-baseline variants per metric -> Bonferroni over 2 comparisons.
        pc = paired_comparison(sel[row.variant], sel["base"], 0.95, comparisons=2)
        assert row.mean_difference == pytest.approx(pc.mean_difference)
        assert (row.low, row.high) == pytest.approx((pc.low, pc.high))
        assert row.p_value == pytest.approx(pc.p_value)
        assert row.significant == pc.significant
        assert row.baseline_mean == pytest.approx(sel["base"].mean())
        assert row.variant_mean == pytest.approx(sel[row.variant].mean())
        assert row.n == 12
    res = out.set_index(["variant", "metric"])
    assert res.loc[("more_staff", "wait"), "significant"]
    assert res.loc[("more_staff", "wait"), "high"] < 0
    assert not res.loc[("same", "wait"), "significant"]


def test_compare_to_baseline_pairs_on_replication_not_row_order():
    df = make_results(seed=2, n_reps=8)
    shuffled = df.sample(frac=1.0, random_state=np.random.default_rng(5).integers(1 << 31))
    a = compare_to_baseline(df, "base").set_index(["variant", "metric"]).sort_index()
    b = compare_to_baseline(shuffled, "base").set_index(["variant", "metric"]).sort_index()
    pd.testing.assert_frame_equal(a, b)


def test_compare_to_baseline_missing_baseline():
    df = make_results(n_reps=3)
    with pytest.raises(ValueError, match="baseline variant 'nope' not found"):
        compare_to_baseline(df, "nope")


def test_compare_to_baseline_mismatched_replications():
    df = make_results(n_reps=4)
    dropped = df[~((df.variant == "same") & (df.replication == 2) & (df.metric == "wait"))]
    with pytest.raises(ValueError, match="do not match"):
        compare_to_baseline(dropped, "base")



def test_compare_to_baseline_metric_the_baseline_lacks_is_undefined():
    """A KPI only the variants have (a staff role the baseline lacks) compares as NaN."""
    df = make_results(n_reps=4)
    no_base_metric = df[~((df.variant == "base") & (df.metric == "backlog"))]
    table = compare_to_baseline(no_base_metric, "base")
    rows = table[table.metric == "backlog"]
    assert len(rows) and rows["baseline_mean"].isna().all() and rows["n"].eq(0).all()
    assert not rows["significant"].any()
    other = table[table.metric != "backlog"]
    assert other["baseline_mean"].notna().all()


def _nan_in(df: pd.DataFrame, metric: str, variants: set[str]) -> pd.DataFrame:
    """``df`` with ``metric`` NaN in every replication of ``variants``."""
    out = df.copy()
    out.loc[(out.metric == metric) & out.variant.isin(variants), "value"] = np.nan
    return out


def test_kpi_undefined_in_one_variant_is_reported_and_left_out_of_bonferroni():
    df = _nan_in(make_results(seed=3, n_reps=6), "wait", {"same"})
    summary = summarise(df).set_index(["variant", "metric"])
    assert summary.loc[("same", "wait"), "n"] == 0
    assert math.isnan(summary.loc[("same", "wait"), "mean"])
    out = compare_to_baseline(df, "base").set_index(["variant", "metric"])
    undefined = out.loc[("same", "wait")]
    assert undefined["n"] == 0 and not undefined["significant"]
    numbers = ["baseline_mean", "variant_mean", "mean_difference", "low", "high", "p_value"]
    assert undefined[numbers].isna().all()
    # One comparison is left for "wait", so its interval is not Bonferroni-widened ...
    sel = df[df.metric == "wait"].pivot(index="replication", columns="variant")["value"]
    alone = paired_comparison(sel["more_staff"], sel["base"], 0.95, comparisons=1)
    assert out.loc[("more_staff", "wait"), "low"] == pytest.approx(alone.low)
    # ... while "backlog", defined everywhere, still counts two.
    sel = df[df.metric == "backlog"].pivot(index="replication", columns="variant")["value"]
    both = paired_comparison(sel["more_staff"], sel["base"], 0.95, comparisons=2)
    assert out.loc[("more_staff", "backlog"), "low"] == pytest.approx(both.low)


@pytest.mark.parametrize("where", [{"base"}, {"base", "more_staff", "same"}])
def test_kpi_undefined_in_the_baseline_or_everywhere(where):
    df = _nan_in(make_results(seed=4, n_reps=3), "wait", where)
    summary = summarise(df)
    assert (summary.loc[summary.metric == "wait", "n"] == (0 if len(where) > 1 else 3)).any()
    out = compare_to_baseline(df, "base")
    wait = out[out.metric == "wait"]
    assert len(wait) == 2 and (wait["n"] == 0).all() and not wait["significant"].any()
    assert (out.loc[out.metric == "backlog", "n"] == 3).all()


def test_compare_to_baseline_only_baseline_gives_empty_table():
    df = make_results(n_reps=3)
    out = compare_to_baseline(df[df.variant == "base"], "base")
    assert out.empty and "mean_difference" in out.columns


# ---------------------------------------------------------------- mser5


def transient_series(seed: int, n: int = 200) -> np.ndarray:
    """Linear decay from 10 to a stationary N(0, 1) process, reached after 50 observations."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10.0 * np.clip(1 - t / 50, 0, None) + rng.normal(size=n)


@pytest.mark.parametrize("seed", range(10))
def test_mser5_detects_initial_transient(seed):
    d = mser5(transient_series(seed))
    assert 25 <= d <= 120
    assert d % 5 == 0


def test_mser5_stationary_data_truncates_little():
    cuts = [mser5(np.random.default_rng(s).normal(size=1000)) for s in range(30)]
    assert np.median(cuts) == 0
    assert max(cuts) < 500


def test_mser5_exact_small_case():
    # Batch means 10, 10, then alternating 0.4/0.6: deleting the two high batches is optimal.
    assert mser5([10.0] * 10 + [0.0, 1.0] * 45) == 10
    assert mser5(np.ones(23)) == 0


def test_mser5_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 10"):
        mser5(np.zeros(9))
    with pytest.raises(ValueError, match="NaN"):
        mser5([1.0] * 12 + [np.nan])


# ---------------------------------------------------------------- welch_average


def test_welch_average_known_array():
    reps = np.array([[0.0, 6.0, 0.0, 10.0, 4.0, 8.0], [2.0, 2.0, 4.0, 6.0, 6.0, 6.0]])
    # Across-replication means: [1, 4, 2, 8, 5, 7].
    out = welch_average(reps, window=2)
    expected = [1.0, (1 + 4 + 2) / 3, (1 + 4 + 2 + 8 + 5) / 5, (4 + 2 + 8 + 5 + 7) / 5]
    np.testing.assert_allclose(out, expected)
    np.testing.assert_allclose(welch_average(reps, window=0), [1, 4, 2, 8, 5, 7])
    np.testing.assert_allclose(welch_average(reps, window=1), [1, 7 / 3, 14 / 3, 5, 20 / 3])


def test_welch_average_matches_naive_loop():
    rng = np.random.default_rng(99)
    reps = rng.exponential(size=(5, 40))
    w = 7
    ybar = reps.mean(axis=0)
    naive = []
    for i in range(1, 40 - w + 1):  # 1-based as in Law & Kelton
        s = i - 1 if i <= w else w
        naive.append(ybar[i - 1 - s : i + s].mean())
    np.testing.assert_allclose(welch_average(reps, w), naive)


def test_welch_average_rejects_bad_window():
    with pytest.raises(ValueError, match="window"):
        welch_average(np.ones((2, 5)), window=5)
    with pytest.raises(ValueError, match="window"):
        welch_average(np.ones((2, 5)), window=-1)
    with pytest.raises(ValueError, match="2-D"):
        welch_average(np.ones((2, 2, 2)), window=0)


# ---------------------------------------------------------------- replications_needed


def test_replications_needed_converges_on_low_variance_output():
    def run(rep: int) -> float:
        return float(np.random.default_rng(rep).normal(100.0, 1.0))

    res = replications_needed(run, target_relative_half_width=0.05, k_limit=5)
    assert res.converged
    assert res.n_required == 3
    assert res.replications_run == 3 + 5
    assert len(res.values) == len(res.history) == res.replications_run
    assert math.isinf(res.history[0])
    assert all(h <= 0.05 for h in res.history[2:])
    assert res.values[4] == run(4)


def test_replications_needed_tighter_target_needs_more():
    def run(rep: int) -> float:
        return float(np.random.default_rng(rep).normal(10.0, 2.0))

    loose = replications_needed(run, 0.2, k_limit=3)
    tight = replications_needed(run, 0.05, k_limit=3)
    assert loose.converged and tight.converged
    assert tight.n_required > loose.n_required
    ci = mean_ci(tight.values[: tight.n_required])
    assert ci.half_width / abs(ci.mean) <= 0.05


def test_replications_needed_resets_when_precision_is_lost():
    seq = [10.0, 10.1, 9.9, 10.0, 12.0] + [10.0] * 60
    res = replications_needed(lambda r: seq[r], 0.05, k_limit=2, max_replications=60)
    assert res.converged
    # Precise at n=3, lost at n=5 by the outlier, regained later.
    assert res.history[2] <= 0.05 and res.history[4] > 0.05
    assert res.n_required > 5
    assert res.replications_run == res.n_required + 2
    assert all(h <= 0.05 for h in res.history[res.n_required - 1 :])
    assert res.history[res.n_required - 2] > 0.05


def test_replications_needed_reports_non_convergence():
    def run(rep: int) -> float:
        return float(np.random.default_rng(rep).normal(1.0, 5.0))

    res = replications_needed(run, 0.01, max_replications=15)
    assert not res.converged and res.n_required is None
    assert res.replications_run == 15


def test_replications_needed_rejects_bad_settings_and_nan():
    with pytest.raises(ValueError, match="min_replications"):
        replications_needed(lambda r: 1.0, min_replications=1)
    with pytest.raises(ValueError, match="max_replications"):
        replications_needed(lambda r: 1.0, min_replications=5, max_replications=4)
    with pytest.raises(ValueError, match="NaN"):
        replications_needed(lambda r: math.nan)
