"""Experiments from the command line: no experiment file, the scenario and a few overrides.

Two commands build an :class:`~gridsim.experiment.spec.Experiment` here and hand it to the
ordinary runner (:func:`gridsim.experiment.runner.run_experiment`), so their results
directory is a sweep's (``tidy.parquet``, ``summary.csv``, ``comparison.csv``,
``manifest.json``, and an ``experiment.toml`` that reruns it) and ``gridsim compare`` reads
it:

``gridsim run SCENARIO --replications N [--set path=value ...]``
    :func:`replications_experiment`: one variant (the scenario with its ``--set``
    overrides), ``N`` replications; :func:`replications_text` prints every summary KPI with
    its confidence interval.
``gridsim sweep SCENARIO --variant "NAME: path=value, ..." [...]``
    :func:`inline_experiment`: the variant ``baseline`` (the scenario, with any ``--set``)
    and one variant per ``--variant`` (:func:`parse_variant`), each with the ``--set``
    overrides and its own; :func:`comparison_text` prints the paired differences
    (:func:`results_text`, which ``gridsim compare`` prints too).

Seeding is the runner's: replication ``r`` of every variant runs on
``replication_seed(seed, r)`` (common random numbers), with ``seed`` the scenario's
``meta.seed`` unless ``--seed`` is given, so the comparisons are paired. The horizon is the
scenario's unless ``--days`` is given; the warm-up is the scenario's ``meta.warmup_days``.

The default results directory is ``results/experiments/<name>-<fingerprint>``: the
fingerprint (:meth:`~gridsim.experiment.spec.Experiment.fingerprint`, 8 hex digits) changes
with anything that changes the runs, so rerunning the same command resumes and a changed
one starts afresh beside it.

Every mistake is one line naming the scenario file and the option (``--variant fine``,
``--set grids.nope``, ``--days``) with what was expected.

Example:
    >>> exp = inline_experiment("scenarios/one_town.toml",
    ...                         [parse_variant("big: grids.households_per_grid=600")],
    ...                         replications=2, days=5)
    >>> [(v.name, v.overrides) for v in exp.variants]
    [('baseline', {}), ('big', {'grids.households_per_grid': 600})]
    >>> exp.baseline, exp.replications, exp.days
    ('baseline', 2, 5.0)
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from gridsim.errors import UserError
from gridsim.experiment.loading import experiment_from_dict
from gridsim.experiment.spec import Experiment, format_value, slugify
from gridsim.kpi_registry import KPIS, headline_kpis, summary_kpis
from gridsim.model.loader import (
    apply_sets,
    load_scenario,
    parse_assignment,
    parse_assignments,
    read_toml,
)
from gridsim.model.scenario import ScenarioError

__all__ = [
    "BASELINE",
    "comparison_text",
    "default_inline_dir",
    "inline_experiment",
    "parse_variant",
    "replications_experiment",
    "replications_text",
    "results_text",
]

#: The name of the unchanged scenario in an inline comparison.
BASELINE = "baseline"
#: Where an inline experiment's errors come from before they are renamed to options.
_INLINE = "<inline experiment>"
_MAX_NAME = 200


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside brackets, braces and quotes (``a=[1, 2], b=3``: two parts).

    Example:
        >>> _split_top_level('a=[1, 2], b="x, y", c={p = 1, q = 2}')
        ['a=[1, 2]', ' b="x, y"', ' c={p = 1, q = 2}']
    """
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """``"NAME: path=value, path=value"`` (one ``--variant``) as a name and its overrides.

    Values are TOML values (:func:`gridsim.model.loader.parse_value`); commas inside an
    array, inline table or quoted string do not split.

    Raises:
        UserError: no ``NAME:``, no override, a bad name or assignment; one line.

    Example:
        >>> parse_variant("fine: grids.rural_households_per_microgrid=30")
        ('fine', {'grids.rural_households_per_microgrid': 30})
        >>> parse_variant("two: a.b=1, c.d=[1, 2]")
        ('two', {'a.b': 1, 'c.d': [1, 2]})
        >>> try:
        ...     parse_variant("grids.x=3")
        ... except UserError as err:
        ...     print(err.field)
        --variant 'grids.x=3'
    """
    name, colon, rest = text.partition(":")
    name = name.strip()
    if not colon or not name or "=" in name:
        raise UserError(
            "",
            f"--variant {text!r}",
            'expected "NAME: path=value, ..." (a name, a colon, then overrides)',
        )
    if not name.isprintable() or len(name) > _MAX_NAME:
        raise UserError(
            "",
            f"--variant {name!r}",
            f"expected a name of at most {_MAX_NAME} printable characters",
        )
    overrides: dict[str, Any] = {}
    for part in _split_top_level(rest):
        if not part.strip():
            continue
        path, value = parse_assignment(part.strip(), f"--variant {name}:")
        if path in overrides:
            raise UserError("", f"--variant {name}: {path}", "expected each path once")
        overrides[path] = value
    if not overrides:
        raise UserError("", f"--variant {name}",
                        "expected at least one path=value after the colon")  # fmt: skip
    return name, overrides


def inline_experiment(
    scenario_path: str | Path,
    variants: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    sets: Mapping[str, Any] | None = None,
    replications: int = 5,
    days: float | None = None,
    seed: int | None = None,
) -> Experiment:
    """The baseline and ``variants`` of a scenario, paired by common random numbers.

    Args:
        scenario_path: the scenario file (the baseline, with ``sets``).
        variants: ``(name, overrides)`` pairs (:func:`parse_variant`); each variant also
            gets ``sets`` (its own overrides win).
        sets: ``--set`` overrides applied to every variant, the baseline included.
        replications: replications per variant.
        days: simulated days (default the scenario's ``meta.horizon_days``).
        seed: root seed (default the scenario's ``meta.seed``).

    Returns:
        The validated experiment (baseline ``"baseline"``; every variant checked).

    Raises:
        ScenarioError: the scenario, an override or an option is refused; one line naming
            the scenario file and the option.
    """
    entries: list[tuple[str, dict[str, Any]]] = [(BASELINE, {})]
    entries += [(n, dict(o)) for n, o in variants]
    names = ", ".join(n for n, _ in variants)
    stem = Path(scenario_path).stem
    return _build(scenario_path, entries, f"{stem} vs {names}"[:_MAX_NAME],
                  sets or {}, replications, days, seed)  # fmt: skip


def replications_experiment(
    scenario_path: str | Path,
    *,
    sets: Mapping[str, Any] | None = None,
    replications: int = 5,
    days: float | None = None,
    seed: int | None = None,
) -> Experiment:
    """One variant (the scenario with ``sets``) and its replications: ``run --replications``.

    The variant is named after the scenario file (``one_town``).

    Example:
        >>> exp = replications_experiment("scenarios/one_town.toml", replications=3, days=2,
        ...                               sets={"grids.households_per_grid": 300})
        >>> [v.name for v in exp.variants], exp.variants[0].overrides
        (['one_town'], {'grids.households_per_grid': 300})
    """
    stem = Path(scenario_path).stem
    name = f"{stem} replications"[:_MAX_NAME]
    return _build(scenario_path, [(stem, {})], name, sets or {}, replications, days, seed)


def _build(
    scenario_path: str | Path,
    entries: list[tuple[str, dict[str, Any]]],
    name: str,
    sets: Mapping[str, Any],
    replications: int,
    days: float | None,
    seed: int | None,
) -> Experiment:
    """Check the scenario and the sets as typed, then validate the experiment as a file."""
    path = Path(scenario_path)
    base = apply_sets(load_scenario(path), sets, path)  # errors name the file as typed
    section: dict[str, Any] = {
        "name": name,
        "description": _description(path, entries, sets),
        "base": str(path.resolve()),
        "seed": base.meta.seed if seed is None else int(seed),
        "replications": int(replications),
        "baseline": entries[0][0],
    }
    if days is not None:
        section["days"] = float(days)
    data = {
        "experiment": section,
        "variants": [{"name": n, "overrides": {**sets, **o}} for n, o in entries],
    }
    try:
        return experiment_from_dict(data, source=_INLINE, root=".")
    except ScenarioError as err:
        if err.file != _INLINE:
            raise
        raise _as_option_error(err, path, entries, base.meta.warmup_days) from None


def _description(path: Path, entries: list[tuple[str, dict[str, Any]]],
                 sets: Mapping[str, Any]) -> str:  # fmt: skip
    """What the command line asked for, in words (shown in the report)."""

    def shown(overrides: Mapping[str, Any]) -> str:
        return ", ".join(f"{p}={format_value(v)}" for p, v in overrides.items()) or "as is"

    parts = [f"{n}: {shown(o)}" for n, o in entries]
    common = f" (every variant with {shown(sets)})" if sets else ""
    return f"From the command line on {path}{common}: " + "; ".join(parts) + "."


def _as_option_error(
    err: ScenarioError, path: Path, entries: list[tuple[str, dict[str, Any]]], warmup: float
) -> ScenarioError:
    """An error of the in-memory experiment file, renamed to the option that caused it."""
    field, expected = err.field, err.expected
    match = re.match(r"variants\[(\d+)", field)
    if match:
        index = int(match.group(1))
        # the first variant has only the --set overrides; the others are the --variant's
        option = "--set" if index == 0 else f"--variant {entries[index][0]}"
        return ScenarioError(path, option, expected)
    if field == "experiment.warmup_days":
        return ScenarioError(path, "--days",
                             f"more days than the scenario's warm-up (meta.warmup_days = "
                             f"{warmup:g})")  # fmt: skip
    option = {"experiment.days": "--days", "experiment.replications": "--replications",
              "experiment.seed": "--seed"}.get(field, field)  # fmt: skip
    return ScenarioError(path, option, expected)


def experiment_from_options(
    file: str | Path,
    variants: Sequence[str],
    sets: Sequence[str],
    replications: int | None,
    days: float | None,
    seed: int | None,
    out: str | Path | None,
) -> tuple[Experiment, Path]:
    """``gridsim sweep FILE --variant ...``: the inline experiment and its results directory.

    Raises:
        UserError: ``FILE`` is an experiment file, fewer than 2 replications, or any
            mistake :func:`parse_variant` or :func:`inline_experiment` refuses.

    Example:
        >>> exp, out = experiment_from_options("scenarios/one_town.toml", [
        ...     "fine: grids.rural_households_per_microgrid=30"], [], 2, 5, None, "x")
        >>> [v.name for v in exp.variants], out
        (['baseline', 'fine'], PosixPath('x'))
    """
    data, _ = read_toml(Path(file))
    if "experiment" in data:
        raise UserError(file, "--variant", "a scenario file (this is an experiment file: "
                        "its variants are its own)")  # fmt: skip
    replications = 5 if replications is None else replications
    if replications < 2:
        raise UserError("", "--replications",
                        f"at least 2 (a paired interval needs two), not {replications}")
    experiment = inline_experiment(
        file, [parse_variant(v) for v in variants], sets=parse_assignments(sets),
        replications=replications, days=days, seed=seed,
    )  # fmt: skip
    return experiment, Path(out) if out is not None else default_inline_dir(experiment)


def default_inline_dir(experiment: Experiment) -> Path:
    """``results/experiments/<name>-<fingerprint>``: same command, same directory (resumed).

    Example:
        >>> exp = replications_experiment("scenarios/one_town.toml", replications=2, days=2)
        >>> default_inline_dir(exp).as_posix().startswith("results/experiments/one_town-")
        True
    """
    slug = slugify(experiment.name, fallback="inline", max_length=60)
    return Path("results") / "experiments" / f"{slug}-{experiment.fingerprint()[:8]}"


# ------------------------------------------------------------------------------- printing


def _width(text: str) -> int:
    """Display width: a Chinese character takes two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - _width(text), 1)


def _show(metric: str, value: float) -> str:
    """A value in its KPI's format (``n/a`` for NaN, ``inf`` for an unbounded half-width)."""
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    kpi = KPIS.get(metric)
    if kpi is None:
        return "n/a" if math.isnan(value) else f"{value:.4g}"
    return kpi.show(float(value))


def replications_text(summary: pd.DataFrame, confidence: float = 0.95) -> str:
    """The run summary's KPIs with confidence intervals (``gridsim run --replications``).

    Args:
        summary: ``summary.csv`` of a results directory (one variant, or the first is shown).
        confidence: the intervals' level (for the heading).

    Example:
        >>> s = pd.DataFrame({"variant": ["a"], "metric": ["on_time_rate"], "mean": [0.9],
        ...                   "half_width": [0.01], "low": [0.89], "high": [0.91], "n": [3]})
        >>> print(replications_text(s))  # doctest: +NORMALIZE_WHITESPACE
        a: 3 replications, mean and 95 % confidence interval
        <BLANKLINE>
          resolved on time         90.0% ± 1.0%    [89.0%, 91.0%]
    """
    variant = summary["variant"].iloc[0]
    rows = summary[summary["variant"] == variant].set_index("metric")
    shown = [k for k in summary_kpis() if k.name in rows.index]
    n = int(rows["n"].max()) if len(rows) else 0
    level = f"{confidence * 100:g} %"
    lines = [f"{variant}: {n} replications, mean and {level} confidence interval", ""]
    width = max((_width(k.summary_label) for k in shown), default=0) + 4
    for k in shown:
        r = rows.loc[k.name]
        lines.append(
            _pad(f"  {k.summary_label}", width + 2)
            + f"{_show(k.name, r['mean']):>10} ± {_show(k.name, r['half_width']):<8}"
            + f"[{_show(k.name, r['low'])}, {_show(k.name, r['high'])}]"
        )
    return "\n".join(lines)


def comparison_text(
    comparison: pd.DataFrame, baseline: str, confidence: float = 0.95, n_compared: int = 1
) -> str:
    """Paired differences against the baseline on the headline KPIs, with intervals.

    Args:
        comparison: ``comparison.csv`` of a results directory.
        baseline: the baseline variant's name.
        confidence: the family-wise level (the intervals' own level when one variant is
            compared; with more the intervals are adjusted, see the report).
        n_compared: how many variants are compared with the baseline.

    Example:
        >>> c = pd.DataFrame({"variant": ["fine"], "metric": ["on_time_rate"],
        ...     "baseline_mean": [0.9], "variant_mean": [0.92], "mean_difference": [0.02],
        ...     "low": [0.01], "high": [0.03], "significant": [True], "n": [5]})
        >>> print(comparison_text(c, "baseline"))  # doctest: +NORMALIZE_WHITESPACE
        fine − baseline (paired by common random numbers, 5 pairs, 95 % confidence interval)
          KPI               baseline       fine   difference   interval
          On-time rate         90.0%      92.0%        +2.0%   [+1.0%, +3.0%] *
        <BLANKLINE>
        * the interval excludes 0 (differences of shares in percentage points)
    """
    adjusted = " each, adjusted for the comparisons" if n_compared > 1 else ""
    blocks = []
    for variant, rows in comparison.groupby("variant", sort=False):
        by_metric = rows.set_index("metric")
        shown = [k for k in headline_kpis() if k.name in by_metric.index]
        n = int(by_metric["n"].max()) if len(by_metric) else 0
        width = max((_width(k.label_en) for k in shown), default=3) + 4
        lines = [
            f"{variant} − {baseline} (paired by common random numbers, {n} pairs, "
            f"{confidence * 100:g} % confidence interval{adjusted})",
            _pad("  KPI", width + 2) + f"{'baseline':>10} {str(variant)[:10]:>10} "
            f"{'difference':>12}   interval",
        ]
        for k in shown:
            r = by_metric.loc[k.name]
            diff = _signed(k.name, r["mean_difference"])
            star = " *" if bool(r["significant"]) else ""
            lines.append(
                _pad(f"  {k.label_en}", width + 2)
                + f"{_show(k.name, r['baseline_mean']):>10} {_show(k.name, r['variant_mean']):>10} "
                f"{diff:>12}   [{_signed(k.name, r['low'])}, {_signed(k.name, r['high'])}]{star}"
            )
        blocks.append("\n".join(lines))
    note = "* the interval excludes 0 (differences of shares in percentage points)"
    return "\n\n".join(blocks) + "\n\n" + note


def results_text(results: Path) -> str:
    """What ``sweep --variant`` and ``compare`` print: the paired differences with intervals.

    For a results directory with one variant (``run --replications``), its KPIs with
    intervals instead.
    """
    import json

    manifest = json.loads((results / "manifest.json").read_text("utf-8"))
    confidence = float(manifest.get("confidence", 0.95))
    variants = manifest.get("variants", [])
    table = results / ("summary.csv" if len(variants) < 2 else "comparison.csv")
    if not table.is_file():  # results written by hand or by an older gridsim: nothing to add
        return ""
    if len(variants) < 2:
        return replications_text(pd.read_csv(table), confidence)
    comparison = pd.read_csv(table)
    return comparison_text(comparison, manifest["baseline"], confidence, len(variants) - 1)


def _signed(metric: str, value: float) -> str:
    """A difference with its sign (``+2.0%``)."""
    text = _show(metric, value)
    return text if text.startswith(("-", "n/a", "inf")) or math.isnan(value) else f"+{text}"
