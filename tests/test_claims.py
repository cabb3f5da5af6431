"""The claims table: the claims file, Holm and BH, the decision rule, and `validate --claims`."""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridsim.analysis.multiple import benjamini_hochberg, holm
from gridsim.cli import main
from gridsim.errors import UserError
from gridsim.files import SIGNATURE, is_signed, read_csv
from gridsim.output.claims_figure import claims_figure
from gridsim.output.claims_report import (
    DOC_END,
    DOC_START,
    claims_markdown,
    write_claims_doc,
)
from gridsim.validation.claims import CLAIM_COLUMNS, claim_test, claims_table
from gridsim.validation.claims_file import DEFAULT_CLAIMS, load_claims

ONE_TOWN = "scenarios/one_town.toml"

CLAIM = """
[[claims]]
id = "{id}"
issue = 10
text_en = "Visits leave fewer issues unreported"
text_zh = "走访入户减少未被发现的问题"
kpi = "{kpi}"
expect = "{expect}"
reference = {{ "proactive.enabled" = false }}
variant = {{}}
"""


def claim(id: str = "visits", kpi: str = "unreported_share", expect: str = "decrease") -> str:
    return CLAIM.format(id=id, kpi=kpi, expect=expect)


def write(tmp_path: Path, text: str, name: str = "claims.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


# ------------------------------------------------------------------------- the file


def test_the_shipped_claims_load_with_shared_sides(repo):
    cs = load_claims(DEFAULT_CLAIMS, repo / ONE_TOWN)
    ids = [c.id for c in cs.claims]
    assert len(ids) == len(set(ids)) >= 18
    assert {"visits_unreported", "party_settles_in_grid", "training_in_grid",
            "supervision_brush_offs", "merged_centre_handoffs"} <= set(ids)  # fmt: skip
    assert all(c.issue in (10, 11) and c.text_en and c.text_zh for c in cs.claims)
    by_id = {c.id: c for c in cs.claims}
    # The plain scenario is one side for every claim that uses it, however it is written:
    # direct_triage is the scenario's policy, so {"escalation.policy" = "direct_triage"} is it.
    plain = by_id["visits_unreported"].variant
    assert by_id["merged_centre_handoffs"].reference == plain
    assert by_id["direct_triage_resolution"].variant == plain
    assert by_id["party_notices_early"].variant == by_id["party_settles_in_grid"].variant
    assert len(cs.sides) == 15
    assert by_id["visits_not_slower"].tolerance == 0.05
    assert by_id["visits_not_slower"].direction == -1  # lower is better
    assert cs.confidence == 0.95 and cs.seed == 20250601


def test_the_default_scenario_is_the_pingyi_baseline():
    cs = load_claims()
    assert {c.scenario for c in cs.claims} == {"scenarios/pingyi_baseline.toml"}


def test_unquoted_dotted_keys_mean_the_same_override(tmp_path, repo):
    quoted = claim() + claim("merged", "resolution_time_mean_h").replace(
        '{ "proactive.enabled" = false }', "{}"
    ).replace("variant = {}", 'variant = { "centre.merged_town" = true }')
    nested = quoted.replace('{ "centre.merged_town" = true }', "{ centre.merged_town = true }")
    a = load_claims(write(tmp_path, quoted, "a.toml"), repo / ONE_TOWN)
    b = load_claims(write(tmp_path, nested, "b.toml"), repo / ONE_TOWN)
    assert a.claims[1].variant == b.claims[1].variant
    assert b.claims[1].variant_overrides == {"centre.merged_town": True}


BAD_FILES = [
    # (what is wrong, file text, the field named, words of the expectation)
    ("missing text", claim().replace('text_zh = "走访入户减少未被发现的问题"\n', ""),
     "claims[0:visits].text_zh", "required field is missing"),
    ("unknown expectation", claim(expect="lower"), "claims[0:visits].expect", "increase"),
    ("no_worse without tolerance", claim(expect="no_worse"), "claims[0:visits].tolerance",
     "needs one"),
    ("tolerance without no_worse", claim() + "tolerance = 0.05\n", "claims[0:visits].tolerance",
     "no tolerance"),
    ("tolerance out of range", claim(expect="no_worse") + "tolerance = 2.0\n",
     "claims[0:visits].tolerance", "less than 1"),
    ("issue as text", claim().replace("issue = 10", 'issue = "10"'), "claims[0:visits].issue",
     "integer"),
    ("a misspelt field", claim().replace("kpi =", "kpy = 1\nkpi ="), "claims[0:visits].kpy",
     "unknown field"),
    ("a misspelt top-level field", "confidense = 0.9\n" + claim(), "confidense", "unknown field"),
    ("no claims", "claims = []\n", "claims", "at least 1"),
    ("a bad id", claim(id="two words"), "claims[0:two words].id", "pattern"),
    ("a repeated id", claim() + claim(), "claims[1:visits].id", "unique id"),
    ("an unknown KPI", claim(kpi="unreported_shares"), "claims[0:visits].kpi", "a KPI name"),
    ("a role the scenario lacks", claim(kpi="utilisation_astronaut"), "claims[0:visits].kpi",
     "utilisation_<role>"),
    ("no_worse on a KPI without direction", claim(kpi="orders", expect="no_worse")
     + "tolerance = 0.05\n", "claims[0:visits].expect", "better direction"),
    ("an unknown override path", claim().replace('"proactive.enabled"', '"proactive.enabeld"'),
     "claims[0:visits].reference", "proactive.enabeld"),
    ("a bad override value", claim().replace("= false }", '= "no" }'),
     "claims[0:visits].reference", "boolean"),
    ("both sides the same", claim().replace('{ "proactive.enabled" = false }', "{}"),
     "claims[0:visits].variant", "both sides are the same"),
    ("a missing scenario", claim() + 'scenario = "scenarios/nowhere.toml"\n',
     "claims[0:visits].scenario", "no such file"),
    ("not TOML", "[[claims]\nid = 1\n", "", "valid TOML"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "field", "words"), [c[1:] for c in BAD_FILES],
                         ids=[c[0] for c in BAD_FILES])  # fmt: skip
def test_a_bad_claims_file_is_one_line_naming_the_field(tmp_path, repo, text, field, words):
    path = write(tmp_path, text)
    with pytest.raises(UserError) as info:
        load_claims(path, repo / ONE_TOWN)
    err = info.value
    message = str(err)
    assert "\n" not in message
    assert err.file == str(path) and message.startswith(str(path))
    assert err.field == field, message
    assert words in err.expected, message


def test_a_missing_claims_file_is_one_line(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_claims(tmp_path / "none.toml")


def test_days_shorter_than_a_sides_warm_up_are_refused_before_any_run(tmp_path, repo):
    text = claim().replace("variant = {}", 'variant = { "meta.warmup_days" = 10 }')
    with pytest.raises(UserError) as info:
        load_claims(write(tmp_path, text), repo / ONE_TOWN, days=5)
    assert info.value.field == "meta.warmup_days" and "one_town" in info.value.file


# ------------------------------------------------------------------- Holm and BH


def test_holm_against_hand_computed_values():
    # sorted: 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max
    res = holm([0.01, 0.04, 0.03, 0.005])
    assert res.p_adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert res.reject.tolist() == [True, False, False, True] and res.m == 4
    assert holm([0.001, 0.002, 0.03, 0.5]).p_adjusted == pytest.approx([0.004, 0.006, 0.06, 0.5])
    assert holm([0.3, 0.3, 0.6]).p_adjusted == pytest.approx([0.9, 0.9, 0.9])  # ties, max
    assert holm([0.5, 0.6]).p_adjusted == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.04], alpha=0.05).reject.tolist() == [True]  # one test: no adjustment


def test_benjamini_hochberg_against_hand_computed_values():
    # sorted: 0.005, 0.01, 0.03, 0.04 -> x4/1, x4/2, x4/3, x4/4 = 0.02, 0.02, 0.04, 0.04
    res = benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
    assert res.p_adjusted == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert res.reject.all()
    assert benjamini_hochberg([0.04, 0.5]).p_adjusted == pytest.approx([0.08, 0.5])
    same = benjamini_hochberg([0.01, 0.02, 0.03, 0.04, 0.05]).p_adjusted
    assert same == pytest.approx([0.05] * 5)
    # step-up: a small p-value further up lowers the ones below it (running min from the top)
    assert benjamini_hochberg([0.02, 0.03, 0.031]).p_adjusted == pytest.approx([0.031] * 3)


def test_undefined_tests_do_not_count_and_are_never_rejected():
    for method in (holm, benjamini_hochberg):
        res = method([0.01, math.nan, 0.04])
        assert res.m == 2
        assert res.p_adjusted[0] == pytest.approx(0.02)
        assert math.isnan(res.p_adjusted[1]) and not res.reject[1]
        assert method([]).p_adjusted.size == 0


@pytest.mark.parametrize("bad", [[0.5, 1.5], [-0.1], [[0.1, 0.2]]])
def test_p_values_outside_zero_one_are_refused(bad):
    with pytest.raises(ValueError):
        holm(bad)
    with pytest.raises(ValueError):
        benjamini_hochberg(bad)


def test_holm_sits_between_raw_bh_and_bonferroni():
    rng = np.random.default_rng(3)
    for _ in range(50):
        p = rng.uniform(0, 0.2, size=rng.integers(1, 12))
        h = holm(p).p_adjusted
        assert (h >= p - 1e-12).all()
        assert (h <= np.minimum(len(p) * p, 1) + 1e-12).all()  # never worse than Bonferroni
        assert (h >= benjamini_hochberg(p).p_adjusted - 1e-12).all()  # FWER is stricter


# ------------------------------------------------------------------ the decision rule

REF = np.array([10.0, 11.0, 9.0, 10.5, 10.2])  # mean 10.14; a 5 % margin is 0.507

DECISIONS = [
    # (case, expect, direction, tolerance, variant - reference per replication, holds)
    ("decrease, clearly", "decrease", 0, None, [-2.0, -2.1, -1.9, -2.2, -1.8], True),
    ("decrease, went up", "decrease", 0, None, [2.0, 2.1, 1.9, 2.2, 1.8], False),
    ("decrease, straddles 0", "decrease", 0, None, [-1.0, 1.0, -0.5, 0.6, 0.1], False),
    ("increase, clearly", "increase", 0, None, [1.0, 1.1, 0.9, 1.2, 0.8], True),
    ("increase, went down", "increase", 0, None, [-1.0, -1.1, -0.9, -1.2, -0.8], False),
    ("no worse, lower better, within margin", "no_worse", -1, 0.05,
     [0.1, 0.15, 0.05, 0.12, 0.08], True),
    ("no worse, lower better, better", "no_worse", -1, 0.05, [-1.0, -0.8, -1.2, -0.9, -1.1], True),
    ("no worse, lower better, beyond margin", "no_worse", -1, 0.05,
     [0.6, 0.7, 0.5, 0.65, 0.55], False),
    ("no worse, lower better, CI reaches margin", "no_worse", -1, 0.05,
     [0.0, 0.8, 0.1, 0.6, 0.2], False),
    ("no worse, higher better, within margin", "no_worse", 1, 0.05,
     [-0.1, -0.15, -0.05, -0.12, -0.08], True),
    ("no worse, higher better, beyond margin", "no_worse", 1, 0.05,
     [-0.6, -0.7, -0.5, -0.65, -0.55], False),
    ("no change, decrease", "decrease", 0, None, [0.0] * 5, False),
    ("no change, no worse", "no_worse", -1, 0.05, [0.0] * 5, True),
]  # fmt: skip


@pytest.mark.parametrize(("expect", "direction", "tolerance", "delta", "holds"),
                         [c[1:] for c in DECISIONS], ids=[c[0] for c in DECISIONS])  # fmt: skip
def test_the_decision_rule_on_paired_data(expect, direction, tolerance, delta, holds):
    t = claim_test(REF + np.array(delta), REF, expect, direction, tolerance)
    assert t.ci_holds is holds
    assert t.n == 5 and t.difference == pytest.approx(np.mean(delta))
    assert t.reference_mean == pytest.approx(REF.mean())
    # the p-value and the interval say the same thing
    assert (t.p_value < 0.05) is holds
    if expect == "no_worse":
        assert t.boundary == pytest.approx(-direction * tolerance * REF.mean())
    else:
        assert t.boundary == 0.0


def test_the_p_value_is_the_two_sided_one_on_the_expected_side():
    from scipy import stats as sps

    delta = np.array([-2.0, -2.1, -1.9, -2.2, -1.8])
    t = claim_test(REF + delta, REF, "decrease")
    assert t.p_value == pytest.approx(sps.ttest_rel(REF + delta, REF).pvalue)
    assert claim_test(REF - delta, REF, "decrease").p_value == 1.0  # the wrong side


def test_too_few_pairs_give_no_decision():
    one = claim_test([1.0], [2.0], "decrease")
    assert one.n == 1 and math.isnan(one.p_value) and not one.ci_holds
    none = claim_test([math.nan, math.nan], [1.0, 2.0], "decrease")
    assert none.n == 0 and math.isnan(none.difference) and not none.ci_holds


def test_holds_is_holms_decision_not_the_raw_interval(tmp_path, repo):
    text = "".join(claim(f"c{i}") for i in range(3))
    cs = load_claims(write(tmp_path, text), repo / ONE_TOWN)
    ref, var = cs.claims[0].reference, cs.claims[0].variant
    # every claim has raw p about 0.04: each interval alone excludes 0, Holm's x3 does not
    delta = [-1.0, -0.2, -1.3, -0.1, -0.9]
    values = {}
    for r in range(5):
        values[(ref, r)] = {"unreported_share": float(REF[r])}
        values[(var, r)] = {"unreported_share": float(REF[r] + delta[r])}
    table = claims_table(cs, values, 5)
    assert list(table.columns) == list(CLAIM_COLUMNS)
    assert table["ci_holds"].all() and (table["p_value"] < 0.05).all()
    assert table["p_holm"].tolist() == pytest.approx((3 * table["p_value"]).tolist())
    assert not table["holds"].any()
    assert table["relative_effect"].iloc[0] == pytest.approx(np.mean(delta) / REF.mean())


# --------------------------------------------------------------------- figures, docs


def _table(n_undefined: int = 1) -> pd.DataFrame:
    rows = []
    specs = [("a", "decrease", True, -0.3, 0.0), ("b", "increase", False, 0.01, 0.0),
             ("c", "no_worse", True, 0.004, -0.02)]  # fmt: skip
    for cid, expect, holds, rel, boundary in specs:
        rows.append({
            "claim": cid, "issue": 10, "text_en": f"Claim {cid} says something long enough",
            "text_zh": f"主张{cid}的内容", "kpi": "on_time_rate", "expect": expect,
            "tolerance": 0.02 if expect == "no_worse" else math.nan, "scenario": ONE_TOWN,
            "reference": "(as is)", "variant": "x=1", "n": 3, "reference_mean": 1.0,
            "variant_mean": 1.0 + rel, "difference": rel, "ci_low": rel - 0.05,
            "ci_high": rel + 0.05, "boundary": boundary, "relative_effect": rel,
            "relative_low": rel - 0.05, "relative_high": rel + 0.05, "p_value": 0.01,
            "p_holm": 0.03 if holds else 0.4, "ci_holds": True, "holds": holds,
        })  # fmt: skip
    for i in range(n_undefined):
        rows.append({**rows[0], "claim": f"u{i}", "n": 0, "relative_effect": math.nan,
                     "relative_low": math.nan, "relative_high": math.nan,
                     "difference": math.nan, "p_value": math.nan, "p_holm": math.nan,
                     "holds": False})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_forest_plot_draws_in_both_languages_without_warnings(lang):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph (tofu) fails
        fig = claims_figure(_table(), lang)
        fig.savefig(__import__("io").BytesIO(), format="png")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == 4
    assert ("主张a" in labels[0]) if lang == "zh" else labels[0].startswith("Claim a")


def test_markdown_has_both_languages_and_says_undefined():
    md = claims_markdown(_table(), ["en", "zh"], {"replications": 3, "seed": 1})
    assert md.startswith(f"<!-- {SIGNATURE}")
    assert "# Claims of the practice" in md and "# 实践主张检验" in md
    assert "undefined" in md and "无定义" in md
    assert "2 of 4 claims hold." in md


def test_the_docs_section_is_replaced_between_the_markers_only(tmp_path):
    doc = write(tmp_path, f"# Claims\n\nintro\n\n{DOC_START}\nold table\n{DOC_END}\n\nafter\n",
                "claims.md")  # fmt: skip
    write_claims_doc(_table(0), doc, {"replications": 5, "seed": 2})
    text = doc.read_text("utf-8")
    assert text.startswith("# Claims\n\nintro\n\n" + DOC_START)
    assert text.endswith(f"{DOC_END}\n\nafter\n") and "old table" not in text
    assert "### Claims of the practice" in text
    no_markers = write(tmp_path, "# mine\n", "mine.md")
    with pytest.raises(UserError, match="claims:start"):
        write_claims_doc(_table(0), no_markers)
    assert no_markers.read_text() == "# mine\n"


def test_the_repositorys_claims_doc_has_the_markers(repo):
    text = (repo / "docs" / "claims.md").read_text("utf-8")
    assert text.index(DOC_START) < text.index(DOC_END)


# ------------------------------------------------------------------ the command line


@pytest.fixture(scope="module")
def two_claims(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("claims")
    triage = claim("triage", "resolution_time_mean_h").replace(
        '{ "proactive.enabled" = false }', '{ "escalation.policy" = "strict_ladder" }'
    )
    return write(d, claim() + triage)


def _args(claims: Path, out: Path, *more: str) -> list[str]:
    return ["validate", "--claims", "--claims-file", str(claims), "--scenario", ONE_TOWN,
            "--days", "30", "--replications", "3", "--out", str(out), *more]  # fmt: skip


@pytest.fixture(scope="module")
def claims_run(two_claims, tmp_path_factory) -> tuple[Path, Path, int, str]:
    """`validate --claims` of the two claims (both languages, --doc): out, doc, exit, stdout.

    Shared (the runs and figures take seconds): copy the output directory before changing it.
    """
    tmp = tmp_path_factory.mktemp("claims_run")
    out = tmp / "claims"
    doc = write(tmp, f"# Claims\n{DOC_START}\n{DOC_END}\n", "doc.md")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(_args(two_claims, out, "--workers", "1", "--doc", str(doc)))
    return out, doc, code, printed.getvalue()


def test_validate_claims_writes_its_files_and_exits_0(claims_run):
    out, doc, code, printed = claims_run
    assert code == 0
    assert "✓  visits" in printed and "2 of 2 claims hold." in printed
    table = read_csv(out / "claims.csv")
    assert list(table.columns) == list(CLAIM_COLUMNS)
    assert table["holds"].all() and (table["n"] == 3).all()
    assert table["scenario"].tolist() == [ONE_TOWN] * 2
    md = (out / "claims.md").read_text("utf-8")
    assert "Visits leave fewer issues unreported" in md and "走访入户减少未被发现的问题" in md
    for lang in ("en", "zh"):
        assert is_signed(out / f"claims_{lang}.png")
        assert (out / f"claims_{lang}.svg").stat().st_size > 0
    meta = json.loads((out / "claims.json").read_text("utf-8"))
    assert meta["replications"] == 3 and meta["days"] == 30 and meta["held"] == 2
    assert len(meta["sides"]) == 3  # the plain scenario is shared by both claims
    assert json.loads((out / ".gridsim").read_text())["kind"] == "claims"
    assert "strict_ladder" in doc.read_text("utf-8")


def test_a_failing_claim_exits_1_and_a_rerun_keeps_the_users_files(two_claims, claims_run,
                                                                     tmp_path, capsys):  # fmt: skip
    text = two_claims.read_text("utf-8").replace('expect = "decrease"', 'expect = "increase"', 1)
    failing = write(tmp_path, text, "failing.toml")
    out = tmp_path / "claims"
    shutil.copytree(claims_run[0], out)  # the earlier run: every claim held, both languages
    assert claims_run[2] == 0 and (out / "claims_en.png").is_file()
    (out / "notes.txt").write_text("mine")
    assert main(_args(failing, out, "--workers", "2", "--lang", "zh")) == 1
    printed = capsys.readouterr().out
    assert "✗  visits" in printed and "2 项主张中 1 项成立" in printed
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "claims_zh.png").is_file() and not (out / "claims_en.png").exists()
    earlier = (claims_run[0] / "claims_zh.png").stat().st_mtime_ns  # copytree kept it
    assert (out / "claims_zh.png").stat().st_mtime_ns != earlier  # drawn again
    assert not read_csv(out / "claims.csv")["holds"].iloc[0]


@pytest.mark.parametrize(
    ("more", "words"),
    [
        (["--replications", "1"], "--replications: at least 2"),
        (["--workers", "0"], "--workers: a positive integer"),
        (["--log", "x.csv"], "--log: not with --claims"),
    ],
)
def test_validate_claims_refuses_bad_options_in_one_line(two_claims, tmp_path, capsys, more,
                                                         words):  # fmt: skip
    args = _args(two_claims, tmp_path / "o", *more)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and words in err, err


def test_claims_options_need_claims(capsys):
    assert main(["validate", "--days", "3"]) == 2
    assert "--days: only with --claims" in capsys.readouterr().err


def test_validate_claims_refuses_a_bad_file_and_a_users_folder(two_claims, tmp_path, capsys):
    bad = write(tmp_path, claim(kpi="nope"), "bad.toml")
    assert main(_args(bad, tmp_path / "o")) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"gridsim: {bad}: claims[0:visits].kpi: " + err.split(".kpi: ", 1)[1]
    assert "\n" not in err and "a KPI name" in err
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_text("x")
    assert main(_args(two_claims, mine)) == 2
    assert "not a gridsim claims directory" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["thesis.docx"]
