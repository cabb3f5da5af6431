"""Tests for gridsim.output.report: Markdown and HTML reports of an experiment's results."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridsim.errors import UserError
from gridsim.kpi_registry import kpi
from gridsim.output.report import write_report
from gridsim.output.wording import difference_sentence, metric_direction

#: Chinese names and descriptions a manifest written by this version keeps.
ZH = {
    "Separate desks": ("四台分设", "四个窗口分设，各自排队。"),
    "Merged centre": ("综治中心合署", "合署办公，统一排队。"),
    "Tiny change": ("微调", ""),
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def make_results(root: Path, *, with_stats: bool = False, zh: bool = False) -> Path:
    """A results directory whose 'Merged centre' lowers response time by about 3.2 h.

    ``zh``: the manifest lists every variant with its ``name_zh`` and ``description_zh`` (as
    a sweep now writes it); otherwise it is a manifest written before they existed.
    """
    rng = np.random.default_rng(5)
    rows = []
    base_noise = rng.normal(0, 1.0, 10)  # shared by both variants: common random numbers
    wiggle = {
        "Separate desks": np.zeros(10),
        "Merged centre": -3.2 + rng.normal(0, 0.3, 10),
        "Tiny change": np.array([0.3, -0.3] * 5),  # mean difference exactly 0
    }
    for variant, extra in wiggle.items():
        for rep in range(10):
            value = 12.0 + base_noise[rep] + extra[rep]
            rows.append((variant, rep, "response_time_mean_h", value))
            rows.append((variant, rep, "on_time_rate", 0.85 + 0.002 * rng.normal()))
            rows.append((variant, rep, "utilisation_party_member", 0.0))
    tidy = pd.DataFrame(rows, columns=["variant", "replication", "metric", "value"])
    root.mkdir(parents=True, exist_ok=True)
    tidy.to_parquet(root / "tidy.parquet", index=False)
    manifest = {
        "experiment": "One-stop centre (test)",
        "description": "Constructed results with a known difference.",
        "baseline": "Separate desks",
        "confidence": 0.95,
        "days": 365,
        "root_seed": 1,
        "warmup": "fixed",
        "warmup_days": 30,
        "base_scenario": "/x/pingyi_baseline.toml",
        "factor_columns": [],
        "variants": [{"name": "Merged centre", "description": "One pooled queue."}],
    }
    if zh:
        manifest["experiment_zh"] = "综治中心（测试）"
        manifest["description_zh"] = "构造的结果，差异已知。"
        manifest["variants"] = [
            {
                "name": name,
                "variant_id": name.lower().replace(" ", "-"),
                "overrides": {},
                "description": "One pooled queue." if name == "Merged centre" else "",
                "label": name,
                "name_zh": name_zh,
                "description_zh": description_zh,
            }
            for name, (name_zh, description_zh) in ZH.items()
        ]
    (root / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    if with_stats:
        from gridsim.analysis.stats import compare_to_baseline, summarise

        summarise(tidy).to_csv(root / "summary.csv", index=False)
        compare_to_baseline(tidy, "Separate desks").to_csv(root / "comparison.csv", index=False)
    return root


def test_report_states_significant_differences_in_words(tmp_path):
    root = make_results(tmp_path / "res")
    md, html = write_report(root)
    assert md == root / "report.md" and html == root / "report.html"
    text = md.read_text("utf-8")
    assert "Merged centre lowers mean response time by 3." in text
    assert "significant after Holm" in text
    assert "Tiny change" in text and "not significant after Holm" in text
    findings = text.split("## Main findings", 1)[1].split("## ", 1)[0]
    assert "Merged centre lowers mean response time" in findings
    assert "Tiny change" not in findings  # not significant: not a headline finding
    # ranking: lower response time is better, so Merged centre ranks first
    section = text.split("### Mean response time (h)", 1)[1]
    assert section.index("| 1 | Merged centre") < section.index("| 2 |")
    assert "Bonferroni-adjusted over 2 comparison(s)" in section
    assert "KPIs that do not vary" in text and "party" in text.lower()
    assert "![" in text and (root / "figures" / "report_kpis_en.png").is_file()


def test_html_is_self_contained_with_embedded_images(tmp_path):
    root = make_results(tmp_path / "res", with_stats=True)
    _, html = write_report(root)
    page = html.read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('src="data:image/png;base64,') >= 1
    assert 'src="figures/' not in page
    assert "significant after Holm" in page


def test_chinese_report(tmp_path):
    root = make_results(tmp_path / "res")
    md, html = write_report(root, lang="zh")
    assert md.name == "report_zh.md" and html.name == "report_zh.html"
    text = md.read_text("utf-8")
    assert "经霍尔姆（Holm）校正后显著" in text
    assert "平均响应时长降低" in text
    assert 'lang="zh-CN"' in html.read_text("utf-8")


def _capture_kpi_figures(monkeypatch) -> list:
    """Record every KPI comparison figure the report draws."""
    from gridsim.output import comparison_figures

    drawn = []
    original = comparison_figures.kpi_comparison_figure

    def spy(*args, **kwargs):
        fig = original(*args, **kwargs)
        drawn.append(fig)
        return fig

    monkeypatch.setattr(comparison_figures, "kpi_comparison_figure", spy)
    return drawn


def _tick_labels(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_yticklabels()]


def test_chinese_report_uses_the_chinese_variant_names(tmp_path, monkeypatch):
    drawn = _capture_kpi_figures(monkeypatch)
    root = make_results(tmp_path / "res", zh=True)
    md, html = write_report(root, lang="zh")
    text = md.read_text("utf-8")
    # findings, ranking and difference tables, baseline: the Chinese names
    assert "综治中心合署使平均响应时长降低 3." in text
    assert "| 1 | 综治中心合署 |" in text
    assert "基线：“四台分设”" in text and "基线“四台分设”" in text
    assert "| 微调 |" in text
    # the variants table: Chinese descriptions
    assert "| 四台分设 | 四个窗口分设，各自排队。 |" in text
    assert "| 综治中心合署 | 合署办公，统一排队。 |" in text
    for name in ZH:  # no English variant name anywhere in the Chinese report
        assert name not in text, name
        assert name not in html.read_text("utf-8"), name
    # the figure: Chinese names on the axis
    assert _tick_labels(drawn[-1]) == ["四台分设", "综治中心合署", "微调"]


def test_english_report_is_unchanged_by_the_chinese_names(tmp_path, monkeypatch):
    drawn = _capture_kpi_figures(monkeypatch)
    old_md, _ = write_report(make_results(tmp_path / "old"))
    new_md, _ = write_report(make_results(tmp_path / "new", zh=True))
    old, new = old_md.read_text("utf-8"), new_md.read_text("utf-8")
    assert "Merged centre lowers mean response time by 3." in new
    assert not CJK.search(new.replace("Proactive share (未诉先办)", ""))
    assert new == old  # the Chinese names change nothing in English
    assert _tick_labels(drawn[0]) == _tick_labels(drawn[1])
    assert _tick_labels(drawn[1]) == ["Separate desks", "Merged centre", "Tiny change"]


def test_chinese_report_of_results_written_before_chinese_names(tmp_path, monkeypatch):
    drawn = _capture_kpi_figures(monkeypatch)
    root = make_results(tmp_path / "res")  # manifest without name_zh
    md, _ = write_report(root, lang="zh")
    text = md.read_text("utf-8")
    assert "Merged centre使平均响应时长降低 3." in text  # the English name, as before
    assert "| Merged centre | One pooled queue. |" in text  # no description_zh: English
    assert _tick_labels(drawn[-1]) == ["Separate desks", "Merged centre", "Tiny change"]
    assert (root / "figures" / "report_kpis_zh.png").is_file()


def test_difference_sentence_units_and_intervals():
    s = difference_sentence("Merged centre", "response_time_mean_h", -3.2, -4.3, -2.1, True)
    assert s == (
        "Merged centre lowers mean response time by 3.2 h (95 % CI 2.1–4.3), "
        "significant after Bonferroni."
    )
    s = difference_sentence("B", "on_time_rate", 0.021, 0.010, 0.032, True)
    assert "raises on-time rate by 2.1 percentage points (95 % CI 1.0–3.2)" in s
    s = difference_sentence("C", "backlog_mean", 0.5, -1.5, 2.5, False)
    assert "by 0.5 (95 % CI −1.5 to 2.5), not significant" in s
    assert metric_direction("backlog_mean") == -1
    assert metric_direction("satisfaction_rate") == 1


def test_compare_cli(tmp_path, capsys):
    from gridsim.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["compare", str(tmp_path / "nothing")])
    with pytest.raises(UserError) as caught:  # the command line prints it, exit status 2
        args.func(args)
    err = str(caught.value) + "\n"
    assert err.count("\n") == 1 and "tidy.parquet" in err
    root = make_results(tmp_path / "res")
    args = parser.parse_args(["compare", str(root), "--lang", "zh"])
    assert args.func(args) == 0
    assert "report_zh.html" in capsys.readouterr().out


def test_report_of_a_real_sweep_with_warmup_and_factors(tmp_path):
    from gridsim.experiment.runner import run_experiment

    one_town = (Path(__file__).resolve().parents[1] / "scenarios" / "one_town.toml").as_posix()
    exp = tmp_path / "e.toml"
    exp.write_text(
        f"""
[experiment]
name = "real"
base = "{one_town}"
replications = 2
days = 20
seed = 3
warmup = "mser5"

[[factors]]
path = "centre.merged_town"
values = [false, true]
""",
        "utf-8",
    )
    out = tmp_path / "out"
    run_experiment(exp, executor="serial", out=out, progress=False)
    md, html = write_report(out)
    text = md.read_text("utf-8")
    assert "MSER-5" in text and "merged_town=true" in text
    zh = write_report(out, lang="zh")[0].read_text("utf-8")
    assert "镇街综治中心合署办公=是" in zh and "merged_town=true" not in zh
    assert (out / "figures" / "report_welch_en.png").is_file()
    assert any(p.name.startswith("report_tornado_") for p in (out / "figures").iterdir())
    assert html.read_text("utf-8").count("data:image/png;base64,") >= 3


@pytest.fixture(autouse=True)
def _no_pyplot_leak():
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    yield
    assert len(plt.get_fignums()) == before


def test_zh_report_uses_the_experiments_chinese_name_and_description(tmp_path):
    root = make_results(tmp_path / "r", with_stats=True, zh=True)
    md_zh, _ = write_report(root, lang="zh")
    text = md_zh.read_text("utf-8")
    assert text.splitlines()[0] == "# 实验报告：综治中心（测试）"
    assert "构造的结果，差异已知。" in text
    md_en, _ = write_report(root, lang="en")
    english = md_en.read_text("utf-8")
    assert english.splitlines()[0] == "# Experiment report: One-stop centre (test)"
    assert "综治中心" not in english


# ---------------------------------------------------------------- undefined KPIs (issue #12)


def make_undefined_results(root: Path, *, with_stats: bool) -> Path:
    """Results where one KPI is NaN in every run and another in every run of one variant.

    As a sweep without visits (no proactive find: no time saved) or a two-day sweep gives.
    ``with_stats``: summary.csv and comparison.csv are written, as a sweep does, and read back.
    """
    from gridsim.analysis.stats import compare_to_baseline, summarise

    make_results(root)
    tidy = pd.read_parquet(root / "tidy.parquet")
    undefined = tidy[tidy["metric"] == "on_time_rate"].assign(
        metric="proactive_time_saved_mean_h", value=np.nan
    )
    tidy = pd.concat([tidy, undefined], ignore_index=True)
    in_tiny = (tidy["variant"] == "Tiny change") & (tidy["metric"] == "response_time_mean_h")
    tidy.loc[in_tiny, "value"] = np.nan
    tidy.to_parquet(root / "tidy.parquet", index=False)
    if with_stats:
        summarise(tidy).to_csv(root / "summary.csv", index=False)
        compare_to_baseline(tidy, "Separate desks").to_csv(root / "comparison.csv", index=False)
    return root


@pytest.mark.parametrize("with_stats", [False, True])
def test_report_says_undefined_kpis_are_undefined(tmp_path, monkeypatch, with_stats):
    drawn = _capture_kpi_figures(monkeypatch)
    root = make_undefined_results(tmp_path / "res", with_stats=with_stats)
    text = write_report(root)[0].read_text("utf-8")
    section = text.split("### Mean response time (h)", 1)[1].split("### ", 1)[0]
    assert "| — | Tiny change | undefined | — | — | 0 |" in section  # unranked, not 0
    assert "Tiny change: the difference in mean response time is undefined" in section
    # Only the defined comparison counts for Bonferroni.
    assert "Bonferroni-adjusted over 1 comparison(s)" in section
    assert "Merged centre lowers mean response time by 3." in section
    undefined = text.split("## KPIs that are undefined", 1)[1]
    assert "Mean time saved by proactive finds (h)" in undefined
    constant = text.split("## KPIs that do not vary", 1)[1].split("## ", 1)[0]
    assert "proactive" not in constant.lower()  # undefined is not "the same in every run"
    zh = write_report(root, lang="zh")[0].read_text("utf-8")
    assert "| — | 微调 | 无定义 |" in zh or "| — | Tiny change | 无定义 |" in zh
    assert "## 无定义的指标" in zh
    figure_texts = [t.get_text() for fig in drawn for ax in fig.axes for t in ax.texts]
    assert "undefined" in figure_texts and "无定义" in figure_texts


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_comparison_figure_draws_kpis_undefined_in_one_or_every_variant(lang):
    import warnings

    import matplotlib.pyplot as plt

    from gridsim.output.comparison_figures import kpi_comparison_figure

    nan = float("nan")
    summary = pd.DataFrame(
        {
            "variant": ["a", "b"] * 2,
            "metric": ["on_time_rate"] * 2 + ["proactive_time_saved_mean_h"] * 2,
            "mean": [0.8, nan, nan, nan],
            "half_width": [0.05, nan, nan, nan],
            "low": [0.75, nan, nan, nan],
            "high": [0.85, nan, nan, nan],
            "n": [5, 0, 0, 0],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = kpi_comparison_figure(summary, list(pd.unique(summary["metric"])), lang)
        fig.canvas.draw()
    word = "无定义" if lang == "zh" else "undefined"
    assert [t.get_text() for t in fig.axes[0].texts] == [word]
    assert [t.get_text() for t in fig.axes[1].texts] == [word, word]
    assert list(fig.axes[1].get_xticks()) == []  # no invented scale for a KPI never measured
    assert len(fig.axes[0].get_xticks()) > 0
    plt.close(fig)


def test_two_day_sweep_with_an_undefined_kpi_finishes_and_reports(tmp_path):
    """Issue #12: a two-day sweep crashed after every run ("needs at least one pair")."""
    from gridsim.experiment.runner import run_experiment

    one_town = (Path(__file__).resolve().parents[1] / "scenarios" / "one_town.toml").as_posix()
    exp = tmp_path / "e.toml"
    exp.write_text(
        f"""
[experiment]
name = "two days"
base = "{one_town}"
replications = 2
days = 2
seed = 7
baseline = "ladder"

[[variants]]
name = "ladder"
overrides = {{}}

[[variants]]
name = "triage"
overrides = {{ "escalation.policy" = "direct_triage" }}
""",
        "utf-8",
    )
    out = tmp_path / "out"
    run_experiment(exp, executor="serial", out=out, progress=False)
    tidy = pd.read_parquet(out / "tidy.parquet")
    # The case of the issue: a KPI undefined in every replication. Which KPIs a two-day run
    # leaves undefined depends on the model (a proactive find may pre-empt a report within
    # two days, or not); the noticing shares are undefined by construction: they count only
    # issues that arose 30 days or more before the horizon.
    noticed = tidy.loc[tidy["metric"] == "noticed_30d_share", "value"]
    assert len(noticed) == 4 and noticed.isna().all()
    comparison = pd.read_csv(out / "comparison.csv").set_index("metric")
    assert comparison.loc["noticed_30d_share", "n"] == 0
    assert json.loads((out / "manifest.json").read_text("utf-8"))["status"] == "complete"
    text = write_report(out)[0].read_text("utf-8")
    assert "## KPIs that are undefined" in text
    undefined = text.split("## KPIs that are undefined", 1)[1]
    assert kpi("noticed_30d_share").label_en in undefined
