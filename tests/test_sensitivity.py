"""Sensitivity indices, the multiple-comparison choice and the tornado's design guard."""

from __future__ import annotations

from pathlib import Path

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


# ------------------------------------------------------------------ the compare report

METRIC = "response_time_mean_h"
X1, X2 = "grids.households_per_grid", "grids.rural_households_per_microgrid"


def _results(root, tidy: pd.DataFrame, manifest: dict, comparison: pd.DataFrame | None = None):
    import json

    root.mkdir(parents=True)
    tidy.to_parquet(root / "tidy.parquet")
    (root / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    if comparison is not None:
        comparison.to_csv(root / "comparison.csv", index=False)
    return root


def _sweep(X: np.ndarray) -> pd.DataFrame:
    tidy = synthetic_tidy(X).rename(columns={"a.x1": X1, "b.x2": X2})
    tidy["metric"] = tidy["metric"].replace({"resolution_time_mean": METRIC})
    return tidy


def test_lhs_report_shows_indices_and_no_tornado(tmp_path):
    from gridsim.output.report import write_report

    tidy = _sweep(_lhs(60, seed=2))
    manifest = {"factor_paths": [X1, X2], "factor_columns": [X1, X2], "baseline": "p0000"}
    root = _results(tmp_path / "lhs", tidy, manifest)  # old manifest: the design is inferred
    md, _ = write_report(root)
    text = md.read_text("utf-8")
    figures = sorted(p.name for p in (root / "figures").iterdir())
    assert not [f for f in figures if "tornado" in f]
    assert "report_sensitivity_en.png" in figures
    assert "No tornado chart" in text and "RBD-FAST on the Latin hypercube" in text
    section = text.split("## Sensitivity to the range factors", 1)[1].split("\n## ", 1)[0]
    assert "| S1 |" in section
    zh = write_report(root, lang="zh")[0].read_text("utf-8")
    assert "未绘制龙卷风图" in zh and (root / "figures" / "report_sensitivity_zh.png").is_file()


def test_factorial_report_keeps_the_tornado(tmp_path):
    from gridsim.output.report import write_report

    rows = []
    for i, level in enumerate((300, 400, 500)):
        for r in range(4):
            rows.append((f"v{i}", level, r, METRIC, 10.0 + level / 100 + 0.1 * r))
    tidy = pd.DataFrame(rows, columns=["variant", X1, "replication", "metric", "value"])
    manifest = {"factor_paths": [X1], "factor_columns": [X1], "baseline": "v0",
                "design": "factorial", "range_factors": {}}  # fmt: skip
    root = _results(tmp_path / "fact", tidy, manifest)
    md, _ = write_report(root)
    assert (root / "figures" / f"report_tornado_{METRIC}_en.png").is_file()
    assert "Sensitivity to the range factors" not in md.read_text("utf-8")


def test_correction_holm_by_default_bh_as_option(tmp_path):
    from gridsim.output.report import write_report

    rows = [(v, r, METRIC, 10.0 + i + 0.3 * r) for i, v in enumerate("abcd") for r in range(5)]
    tidy = pd.DataFrame(rows, columns=["variant", "replication", "metric", "value"])
    # Hand-chosen unadjusted p-values 0.01, 0.03, 0.04 (3 comparisons, alpha 0.05):
    #   Holm: 3 x 0.01 = 0.03; max(0.03, 2 x 0.03) = 0.06; max(0.06, 1 x 0.04) = 0.06
    #   BH:   min(3/1 x 0.01, ...) = 0.03; min(3/2 x 0.03 = 0.045, 0.04) = 0.04; 3/3 x 0.04 = 0.04
    comparison = pd.DataFrame({
        "variant": list("bcd"), "metric": METRIC, "mean_difference": [1.0, 2.0, 3.0],
        "low": [-0.5, -0.5, -0.5], "high": [2.0, 4.0, 6.0], "p_value": [0.01, 0.03, 0.04],
        "significant": False, "n": 5,
    })  # fmt: skip
    root = _results(tmp_path / "mc", tidy, {"baseline": "a"}, comparison)

    def rows_of(text: str) -> dict[str, list[str]]:
        section = text.split("### Mean response time (h)", 1)[1]
        cells = [ln.strip("|").split("|") for ln in section.splitlines() if ln.startswith("| ")]
        return {c[0].strip(): [x.strip() for x in c] for c in cells if c[0].strip() in "bcd"}

    holm_text = write_report(root)[0].read_text("utf-8")
    assert "| p (Holm) |" in holm_text and "adjusted with Holm" in holm_text
    assert "family-wise error rate" in holm_text
    got = rows_of(holm_text)
    assert [got[v][5] for v in "bcd"] == ["0.03", "0.06", "0.06"]
    assert [got[v][6] for v in "bcd"] == ["yes", "no", "no"]
    assert "significant after Holm" in holm_text

    bh_text = write_report(root, correction="bh")[0].read_text("utf-8")
    assert "| p (Benjamini–Hochberg) |" in bh_text and "false discovery rate" in bh_text
    assert "Holm" not in bh_text
    got = rows_of(bh_text)
    assert [got[v][5] for v in "bcd"] == ["0.03", "0.04", "0.04"]
    assert [got[v][6] for v in "bcd"] == ["yes", "yes", "yes"]
    with pytest.raises(ValueError, match="unknown correction"):
        write_report(root, correction="bonferroni")


# ------------------------------------------------------------------ design = "saltelli" sweeps

ONE_TOWN = Path(__file__).resolve().parents[1] / "scenarios" / "one_town.toml"
SALTELLI_FACTORS = [
    {"path": X1, "range": {"low": 200, "high": 600}, "integer": True},
    {"path": X2, "range": {"low": 20, "high": 60}},
]


def _experiment_file(root: Path, design: str, samples: int, **extra: object) -> Path:
    import tomli_w

    section = {"name": f"tiny {design}", "base": str(ONE_TOWN), "seed": 7, "days": 1,
               "replications": 1, "samples": samples, "design": design}  # fmt: skip
    data = {"experiment": section, "factors": SALTELLI_FACTORS, **extra}
    path = root / f"{design}.toml"
    path.write_text(tomli_w.dumps(data), "utf-8")
    return path


def _sweep_cli(path: Path, out: Path) -> None:
    from gridsim.cli import main

    assert main(["sweep", str(path), "--out", str(out), "--executor", "serial", "--quiet"]) == 0


def test_saltelli_design_points_keep_sample_order_and_unique_names(tmp_path: Path) -> None:
    """Whole-number factors repeat points: names get the row, the sample stays a Saltelli one."""
    from gridsim.experiment.loading import experiment_from_dict, load_experiment

    factors = [{"path": X1, "range": {"low": 300, "high": 301}, "integer": True},
               {"path": X2, "range": {"low": 20, "high": 60}}]  # fmt: skip
    exp = load_experiment(_experiment_file(tmp_path, "saltelli", 8))
    assert exp.design == "saltelli" and exp.design_kind == "saltelli"
    assert len(exp.variants) == 8 * 4 and [v.point for v in exp.variants] == list(range(32))
    data = {"experiment": {"name": "x", "base": str(ONE_TOWN), "seed": 7, "days": 1,
                           "samples": 8, "design": "saltelli"}, "factors": factors}  # fmt: skip
    exp = experiment_from_dict(data)
    names = [v.name for v in exp.variants]
    values = [tuple(v.overrides.values()) for v in exp.variants]
    assert len(set(values)) < len(values)  # 300 or 301 only: points repeat...
    assert len(set(names)) == len(names) and names[5].endswith(" #5")  # ...names do not
    assert is_saltelli(np.array(values, dtype=float))


@pytest.fixture(scope="module")
def saltelli_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Saltelli sweep of one_town: 8 base points, 2 factors, one explicit variant."""
    root = tmp_path_factory.mktemp("saltelli")
    path = _experiment_file(root, "saltelli", 8, variants=[{"name": "as is"}])
    out = root / "results"
    _sweep_cli(path, out)
    return out


def test_saltelli_sweep_manifest_records_the_design(saltelli_sweep: Path) -> None:
    import json

    from gridsim.analysis.sensitivity import design_order, design_table

    manifest = json.loads((saltelli_sweep / "manifest.json").read_text("utf-8"))
    assert manifest["design"] == "saltelli"
    assert manifest["range_factors"] == {X1: [200.0, 600.0], X2: [20.0, 60.0]}
    points = [v["point"] for v in manifest["variants"]]
    assert points == [None, *range(32)]  # the explicit variant is no design point
    order = design_order(manifest)
    assert order is not None and "as is" not in order and len(order) == 32
    tidy = pd.read_parquet(saltelli_sweep / "tidy.parquet")
    X, Y = design_table(tidy, [X1, X2], order)
    assert is_saltelli(X) and len(Y) == 32


def test_saltelli_sweep_report_has_sobol_indices(saltelli_sweep: Path) -> None:
    from gridsim.cli import main

    assert main(["compare", str(saltelli_sweep), "--lang", "en"]) == 0
    text = (saltelli_sweep / "report.md").read_text("utf-8")
    section = text.split("## Sensitivity to the range factors", 1)[1].split("\n## ", 1)[0]
    assert "Sobol', Saltelli design" in section and "from 32 design points" in section
    assert "| S1 |" in section and "| ST |" in section
    assert "sampled (a Saltelli design)" in section
    figures = sorted(p.name for p in (saltelli_sweep / "figures").iterdir())
    assert "report_sensitivity_en.png" in figures
    assert not [f for f in figures if "tornado" in f]


def test_plot_of_sampled_sweeps_draws_no_tornado(saltelli_sweep: Path, tmp_path: Path) -> None:
    from gridsim.cli import main

    out = tmp_path / "saltelli_figures"
    assert main(["plot", str(saltelli_sweep), "--lang", "en", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "kpi_comparison_en.png", "sensitivity_en.png"]  # fmt: skip
    lhs = tmp_path / "lhs_results"
    _sweep_cli(_experiment_file(tmp_path, "lhs", 4), lhs)
    assert main(["plot", str(lhs), "--lang", "en"]) == 0
    drawn = sorted(p.name for p in (lhs / "figures").iterdir())
    assert drawn == ["kpi_comparison_en.png"]  # 4 points: too few for indices, and no tornado


def test_sweep_refuses_saltelli_without_range_factor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import tomli_w

    from gridsim.cli import main

    data = {"experiment": {"name": "x", "base": str(ONE_TOWN), "seed": 7, "days": 1,
                           "samples": 8, "design": "saltelli"},
            "factors": [{"path": X1, "values": [300, 400]}]}  # fmt: skip
    path = tmp_path / "levels.toml"
    path.write_text(tomli_w.dumps(data), "utf-8")
    argv = ["sweep", str(path), "--out", str(tmp_path / "out"), "--executor", "serial", "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "experiment.design" in err, err
    assert 'a range factor (range = {low, high}) for design = "saltelli"' in err
    path.write_text(tomli_w.dumps({**data, "factors": SALTELLI_FACTORS}).replace(
        "samples = 8", "samples = 12"), "utf-8")  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "experiment.samples" in err and "power of two" in err, err
    assert "got 12" in err
