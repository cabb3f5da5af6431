"""Experiment reports: Markdown and self-contained HTML, in English or Chinese.

:func:`write_report` reads an experiment's results directory (see :mod:`gridsim.experiment.runner`)
and writes ``report.md`` and ``report.html`` (``report_zh.*`` for Chinese). For every KPI
the report ranks the variants by their mean with a confidence interval, lists the paired
differences against the baseline with Bonferroni-adjusted intervals (common random numbers:
replication ``r`` of every variant shares seed ``r``), and says in words which differences
are significant, e.g. "merged centres lowers mean resolution time by 3.2 h (95 % CI
2.1–4.3), significant after Bonferroni". The HTML embeds its figures as base64 PNG, so the
single file can be mailed or archived. The Chinese report names the variants by the
``name_zh`` (and describes them by the ``description_zh``) that ``manifest.json`` keeps,
falling back to the English name for results written without them.

Example:
    >>> md, html = write_report("results/experiments/one-stop-centre")  # doctest: +SKIP
    >>> html.name  # doctest: +SKIP
    'report.html'
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from gridsim.analysis import sensitivity
from gridsim.analysis.multiple import benjamini_hochberg, holm
from gridsim.analysis.stats import compare_to_baseline, summarise
from gridsim.errors import UserError
from gridsim.files import (
    MARKER,
    atomic_write,
    atomic_write_text,
    foreign_file,
    read_csv,
    signed_png,
)
from gridsim.kpi_registry import headline_kpis
from gridsim.labels import check_lang
from gridsim.output.document import Document
from gridsim.output.i18n import factor_label, kpi_label, label, value_label
from gridsim.output.wording import (
    difference_sentence,
    format_number,
    format_value,
    is_share,
    kpi_phrase,
    metric_direction,
    undefined_text,
    variant_name,
)

__all__ = [
    "build_document",
    "difference_sentence",
    "metric_direction",
    "write_report",
]


_RANK_HEADERS = {
    "en": ["Rank", "Variant", "Mean", "CI low", "CI high", "n"],
    "zh": ["排名", "方案", "均值", "区间下限", "区间上限", "n"],
}
_DIFF_HEADERS = {
    "en": ["Variant", "Difference", "CI low", "CI high", "p (unadjusted)", "{p_adj}",
           "Significant"],  # fmt: skip
    "zh": ["方案", "差值", "区间下限", "区间上限", "p 值（未校正）", "{p_adj}", "显著"],
}
_SENS_HEADERS = {
    "en": ["KPI", "Factor", "Index", "Value", "CI low", "CI high"],
    "zh": ["指标", "因素", "指数", "值", "区间下限", "区间上限"],
}
#: Multiple-comparison corrections of compare reports (the first is the default).
CORRECTIONS = ("holm", "bh")
_VARIANT_HEADERS = {"en": ["Variant", "Description"], "zh": ["方案", "说明"]}


# --------------------------------------------------------------------------- inputs


@dataclass
class _Inputs:
    root: Path
    manifest: dict
    tidy: pd.DataFrame
    summary: pd.DataFrame
    comparison: pd.DataFrame
    baseline: str
    confidence: float
    warmup: pd.DataFrame | None
    correction: str = "holm"
    _names: dict[str, dict[str, str]] = field(default_factory=dict)

    def names(self, lang: str) -> dict[str, str]:
        """Display names of the variants in ``lang``, by key (from ``manifest.json``)."""
        if lang not in self._names:
            from gridsim.output.i18n import variant_labels

            self._names[lang] = variant_labels(self.manifest, lang)
        return self._names[lang]

    def variant(self, name: str, lang: str) -> str:
        """One variant's display name in ``lang`` (its key if the manifest has none)."""
        return variant_name(name, lang, self.names(lang))


def _adjust(comparison: pd.DataFrame, correction: str, alpha: float) -> pd.DataFrame:
    """Adjust each KPI's p-values (Holm or Benjamini–Hochberg); ``significant`` follows.

    Example:
        >>> comp = pd.DataFrame({"variant": list("abc"), "metric": "m",
        ...     "p_value": [0.01, 0.02, 0.04], "significant": False, "n": 5})
        >>> _adjust(comp, "holm", 0.05)["p_adjusted"].round(3).tolist()
        [0.03, 0.04, 0.04]
        >>> _adjust(comp, "bh", 0.05)["significant"].tolist()
        [True, True, True]
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r} (one of {', '.join(CORRECTIONS)})")
    out = comparison.copy()
    if out.empty or "p_value" not in out:
        return out
    adjust = holm if correction == "holm" else benjamini_hochberg
    out["p_adjusted"] = float("nan")
    out["significant"] = False
    for _, idx in out.groupby("metric", sort=False).groups.items():
        res = adjust(out.loc[idx, "p_value"].to_numpy(dtype=float), alpha)
        out.loc[idx, "p_adjusted"] = res.p_adjusted
        out.loc[idx, "significant"] = res.reject
    return out


def _load(results_dir: Path) -> _Inputs:
    tidy_path = results_dir / "tidy.parquet"
    if not tidy_path.is_file():
        raise UserError(
            results_dir,
            "",
            "not an experiment results directory (no tidy.parquet; run `gridsim sweep` first)",
        )
    tidy = pd.read_parquet(tidy_path)
    manifest_path = results_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8")) if manifest_path.is_file() else {}
    variants = list(dict.fromkeys(tidy["variant"]))
    baseline = manifest.get("baseline") or variants[0]
    confidence = float(manifest.get("confidence", 0.95))
    keys = ["variant", "replication", "metric", "value"]
    summary_path = results_dir / "summary.csv"
    if summary_path.is_file():
        summary = read_csv(summary_path)
    else:
        summary = summarise(tidy[keys], confidence)
    comparison_path = results_dir / "comparison.csv"
    if comparison_path.is_file() and comparison_path.stat().st_size > 1:
        comparison = read_csv(comparison_path)
    elif len(variants) > 1:
        comparison = compare_to_baseline(tidy[keys], baseline, confidence)
    else:
        comparison = pd.DataFrame(columns=["variant", "metric"])
    warmup_path = results_dir / "warmup.parquet"
    warmup = pd.read_parquet(warmup_path) if warmup_path.is_file() else None
    return _Inputs(results_dir, manifest, tidy, summary, comparison, baseline, confidence, warmup)


def _method_name(inputs: _Inputs, lang: str) -> str:
    return label(f"correction_{inputs.correction}", lang)


# --------------------------------------------------------------------------- figures


def _png(fig: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _save_png(path: Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def _short_labels(manifest: dict, lang: str) -> tuple[dict[str, str], str]:
    """Figure labels of design-point variants (their factor values) and a caption note.

    In Chinese, policy names and true/false among the values are translated.
    """
    paths = manifest.get("factor_paths") or []
    labels = {}
    for v in manifest.get("variants", []):
        if not v.get("label") or v["label"] == v["name"]:
            continue
        point = v.get("overrides") or {}
        if lang == "zh" and point and set(point) <= set(paths):
            labels[v["name"]] = ", ".join(value_label(x, lang) for x in point.values())
        else:
            labels[v["name"]] = v["label"]
    if not labels or not paths:
        return {}, ""
    names = ", ".join(factor_label(p, lang) for p in paths)
    return labels, label("labels_note", lang, names=names)


def _figures(inputs: _Inputs, metrics: list[str], lang: str) -> list[tuple[str, bytes, str]]:
    """Draw the report's figures: (file name, PNG bytes, caption)."""
    # Figures load matplotlib; imported here so that `import gridsim` (which offers
    # write_report) stays light.
    from gridsim.output import comparison_figures
    from gridsim.output.fonts import FontNotFoundError
    from gridsim.output.style import FigureDataError

    conf = f"{100 * inputs.confidence:g}"
    out: list[tuple[str, bytes, str]] = []
    labels, legend = _short_labels(inputs.manifest, lang)
    caption = label("kpi_caption", lang, conf=conf) + legend
    draw_lang = lang
    try:
        fig = comparison_figures.kpi_comparison_figure(
            inputs.summary, metrics[:6], draw_lang, labels, names=inputs.names(draw_lang)
        )
    except FontNotFoundError:
        draw_lang = "en"
        labels = _short_labels(inputs.manifest, draw_lang)[0]
        fig = comparison_figures.kpi_comparison_figure(
            inputs.summary, metrics[:6], draw_lang, labels, names=inputs.names(draw_lang)
        )
    out.append((f"report_kpis_{lang}.png", _png(fig), caption))
    kind = sensitivity.design_kind(inputs.manifest, inputs.tidy)
    if kind == "factorial":  # a sampled design has unique values: bars of level means mislead
        for metric in metrics[:3]:
            try:
                fig = comparison_figures.tornado_figure(inputs.tidy, metric, draw_lang)
            except FigureDataError:  # the KPI does not vary with any factor
                continue
            caption = label("tornado_caption", lang, kpi=kpi_phrase(metric, lang))
            out.append((f"report_tornado_{metric}_{lang}.png", _png(fig), caption))
    indices = _indices(inputs)
    if isinstance(indices, pd.DataFrame) and not indices.empty:
        try:
            fig = comparison_figures.sensitivity_figure(
                indices, metrics[:4], draw_lang, inputs.confidence
            )
        except FigureDataError:
            pass
        else:
            method = label(f"method_{indices['method'].iloc[0]}", lang)
            caption = label("sens_caption", lang, method=method, conf=conf)
            out.append((f"report_sensitivity_{lang}.png", _png(fig), caption))
    if inputs.warmup is not None and not inputs.warmup.empty:
        wide = inputs.warmup.pivot(index="day", columns="replication", values="backlog")
        info = inputs.manifest.get("warmup_info") or {}
        fig = comparison_figures.welch_figure(
            wide.to_numpy().T,
            draw_lang,
            truncation=int(round(float(inputs.manifest.get("warmup_days", 0)))),
            window=info.get("welch_window"),
            period_hours=24.0,
            ylabel=kpi_label("backlog_mean", draw_lang),
        )
        out.append((f"report_welch_{lang}.png", _png(fig), label("welch_caption", lang)))
    return out


# --------------------------------------------------------------------------- sensitivity


def _indices(inputs: _Inputs) -> pd.DataFrame | str | None:
    """The sweep's sensitivity indices, a reason there are none, or ``None`` (no ranges)."""
    cached = inputs.__dict__.get("_indices")
    if cached is not None or "_indices" in inputs.__dict__:
        return cached
    result = sensitivity.sweep_indices(inputs.manifest, inputs.tidy, inputs.confidence)
    inputs.__dict__["_indices"] = result
    return result


def _sensitivity(doc: Document, inputs: _Inputs, metrics: list[str], lang: str) -> None:
    """The indices table, what they mean, and why there is no tornado chart."""
    indices = _indices(inputs)
    if indices is None:
        return
    doc.add("h2", label("sensitivity", lang))
    kind = sensitivity.design_kind(inputs.manifest, inputs.tidy)
    if isinstance(indices, str) or indices.empty:
        reason = indices if isinstance(indices, str) else "no KPI varies"
        doc.add("p", label("sens_unavailable", lang, reason=reason))
    else:
        method = label(f"method_{indices['method'].iloc[0]}", lang)
        conf = f"{100 * inputs.confidence:g}"
        intro = label("sens_intro", lang, method=method, n=int(indices["n"].iloc[0]), conf=conf)
        ranges = sensitivity.range_factors(inputs.manifest, inputs.tidy)
        if set(inputs.manifest.get("factor_paths") or []) - set(ranges):
            intro += label("sens_levels", lang)
        doc.add("p", intro)
        order = {m: i for i, m in enumerate(metrics)}
        shown = indices[indices["metric"].isin(order)].sort_values(
            "metric", key=lambda c: c.map(order), kind="stable"
        )
        rows = [
            [kpi_label(r["metric"], lang), factor_label(r["factor"], lang), r["index"],
             f"{r['value']:.2f}", f"{r['low']:.2f}", f"{r['high']:.2f}"]
            for _, r in shown.iterrows()
        ]  # fmt: skip
        doc.table(_SENS_HEADERS[lang], rows)
    doc.add("p", label("sens_no_tornado", lang, design=label(f"design_{kind}", lang)))


# --------------------------------------------------------------------------- sections


def _ordered_metrics(summary: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(summary["metric"]))
    head = [k.name for k in headline_kpis() if k.name in present]
    return head + [m for m in present if m not in head]


def _kind(tidy: pd.DataFrame, metric: str) -> str:
    """``undefined`` (NaN in every run), ``constant`` (one value, never NaN) or ``varying``.

    A KPI undefined in some runs only is ``varying``: where it is undefined is news.
    """
    values = tidy.loc[tidy["metric"] == metric, "value"]
    if values.isna().all():
        return "undefined"
    if values.notna().all() and values.nunique() <= 1:
        return "constant"
    return "varying"


def _setup(doc: Document, inputs: _Inputs, lang: str) -> None:
    m = inputs.manifest
    variants = list(dict.fromkeys(inputs.tidy["variant"]))
    reps = int(inputs.tidy["replication"].nunique())
    warm_days = format_number(float(m.get("warmup_days", 0) or 0), 0)
    warm_key = "warmup_mser5" if m.get("warmup") == "mser5" else "warmup_fixed"
    doc.add("h2", label("setup", lang))
    description = (lang == "zh" and m.get("description_zh")) or m.get("description")
    if description:
        doc.add("p", description)
    doc.add(
        "p",
        label(
            "setup_lines",
            lang,
            base=Path(m.get("base_scenario", "?")).name,
            variants=len(variants),
            reps=reps,
            days=format_number(float(m.get("days", math.nan)), 0),
            warmup=label(warm_key, lang, days=warm_days),
            seed=m.get("root_seed", "?"),
            baseline=inputs.variant(inputs.baseline, lang),
            conf=f"{100 * inputs.confidence:g}",
            k=max(1, len(variants) - 1),
        ),
    )
    described = {v["name"]: v for v in m.get("variants", [])}
    rows = []
    for name in variants:
        info = described.get(name, {})
        text = (lang == "zh" and info.get("description_zh")) or info.get("description")
        rows.append([inputs.variant(name, lang), text or _overrides_text(info, lang)])
    doc.add("h3", label("variants", lang))
    doc.table(_VARIANT_HEADERS[lang], rows)


def _overrides_text(info: dict, lang: str) -> str:
    """A variant's overrides in words: ``path = value`` (factor labels and levels in Chinese)."""
    overrides = (info.get("overrides") or {}).items()
    if lang != "zh":
        return ", ".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in overrides)
    return "，".join(f"{factor_label(k, lang)} = {value_label(v, lang)}" for k, v in overrides)


def _findings(doc: Document, inputs: _Inputs, metrics: list[str], lang: str) -> None:
    doc.add("h2", label("findings", lang))
    comp = inputs.comparison
    if comp.empty:
        doc.add("p", label("no_comparison", lang))
        return
    sentences = []
    method = _method_name(inputs, lang)
    for metric in metrics:
        rows = comp[(comp["metric"] == metric) & comp["significant"].astype(bool)]
        for _, r in rows.iterrows():
            sentences.append(
                difference_sentence(
                    inputs.variant(r["variant"], lang),
                    metric,
                    r["mean_difference"],
                    r["low"],
                    r["high"],
                    True,
                    lang,
                    inputs.confidence,
                ).replace(label("sig", lang), label("sig_m", lang, method=method))
            )
    if sentences:
        doc.add("ul", items=sentences)
    else:
        doc.add("p", label("none_significant_m", lang, method=_method_name(inputs, lang)))


def _kpi_section(doc: Document, inputs: _Inputs, metric: str, lang: str) -> None:
    doc.add("h3", kpi_label(metric, lang))
    conf = f"{100 * inputs.confidence:g}"
    rows = inputs.summary[inputs.summary["metric"] == metric].copy()
    direction = metric_direction(metric)
    ascending = direction < 0
    rows = rows.sort_values("mean", ascending=ascending, na_position="last", kind="stable")
    n = int(rows["n"].max()) if len(rows) else 0
    if direction:
        better = label("lower" if direction < 0 else "higher", lang)
        doc.add("p", label("ranking_best", lang, direction=better, conf=conf, n=n))
    else:
        doc.add("p", label("ranking_plain", lang, conf=conf, n=n))
    doc.table(_RANK_HEADERS[lang], _ranking_rows(inputs, rows, metric, lang))
    comp = inputs.comparison
    comp = comp[comp["metric"] == metric] if not comp.empty else comp
    if comp.empty:
        return
    # Bonferroni counts the defined comparisons only (gridsim.analysis.stats); say the same k.
    k = int((comp["n"] > 0).sum())
    if k:
        baseline = inputs.variant(inputs.baseline, lang)
        doc.add("p", label("diff_intro", lang, baseline=baseline, conf=conf, k=k))
        aim = label(f"aim_{inputs.correction}", lang)
        alpha = f"{1 - inputs.confidence:.3g}"
        method = _method_name(inputs, lang)
        doc.add("p", label("correction_note", lang, method=method, k=k, aim=aim, alpha=alpha))
    table = []
    sentences = []
    for _, r in comp.iterrows():
        row, sentence = _difference(inputs, r, metric, lang)
        table.append(row)
        sentences.append(sentence)
    p_adj = label("p_adjusted", lang, method=_method_name(inputs, lang))
    doc.table([h.format(p_adj=p_adj) for h in _DIFF_HEADERS[lang]], table)
    doc.add("ul", items=sentences)


def _ranking_rows(inputs: _Inputs, rows: pd.DataFrame, metric: str, lang: str) -> list[list]:
    """The ranking table; a variant whose KPI is undefined is named so, unranked, last."""
    table: list[list] = []
    for rank, (_, r) in enumerate(rows.iterrows(), start=1):
        name = inputs.variant(r["variant"], lang)
        if int(r["n"]) == 0:
            table.append(["—", name, undefined_text("undefined", lang), "—", "—", 0])
            continue
        low, high = format_value(metric, r["low"]), format_value(metric, r["high"])
        table.append([rank, name, format_value(metric, r["mean"]), low, high, int(r["n"])])
    return table


def _difference(inputs: _Inputs, r: pd.Series, metric: str, lang: str) -> tuple[list, str]:
    """One comparison's table row and sentence (an undefined one says so in words)."""
    name = inputs.variant(r["variant"], lang)
    if int(r["n"]) == 0:
        sentence = undefined_text(
            "undefined_difference", lang, variant=name, kpi=kpi_phrase(metric, lang)
        )
        return [name, undefined_text("undefined", lang), "—", "—", "—", "—", "—"], sentence
    scale = 100.0 if is_share(metric) else 1.0
    sig = bool(r["significant"])
    p, q = r["p_value"], r.get("p_adjusted", float("nan"))
    row = [
        name,
        format_number(scale * r["mean_difference"]),
        format_number(scale * r["low"]),
        format_number(scale * r["high"]),
        "—" if pd.isna(p) else (f"{p:.2g}" if p >= 0.001 else "<0.001"),
        "—" if pd.isna(q) else (f"{q:.2g}" if q >= 0.001 else "<0.001"),
        label("yes" if sig else "no", lang),
    ]
    sentence = difference_sentence(
        name, metric, r["mean_difference"], r["low"], r["high"], sig, lang, inputs.confidence
    )
    key = "sig" if sig else "not_sig"
    sentence = sentence.replace(
        label(key, lang), label(f"{key}_m", lang, method=_method_name(inputs, lang))
    )
    return row, sentence


# --------------------------------------------------------------------------- entry points


def build_document(
    results_dir: str | Path, lang: str = "en", correction: str = "holm"
) -> Document:
    """Build the report of a results directory as a :class:`Document` (nothing written).

    ``correction`` is the multiple-comparison adjustment of each KPI's p-values: ``"holm"``
    (family-wise error rate, the default) or ``"bh"`` (Benjamini–Hochberg, false discovery
    rate); the report names it.

    Example:
        >>> doc = build_document("results/experiments/one-stop-centre")  # doctest: +SKIP
        >>> doc.title  # doctest: +SKIP
        'Experiment report: One-stop centre'
    """
    check_lang(lang)
    inputs = _load(Path(results_dir))
    inputs.correction = correction
    inputs.comparison = _adjust(inputs.comparison, correction, 1 - inputs.confidence)
    m = inputs.manifest
    name = (
        (lang == "zh" and m.get("experiment_zh")) or m.get("experiment") or Path(results_dir).name
    )
    doc = Document(label("title", lang, name=name), lang=lang)
    metrics = _ordered_metrics(inputs.summary)
    kinds = {m: _kind(inputs.tidy, m) for m in metrics}
    varying = [m for m in metrics if kinds[m] == "varying"]
    constant = [m for m in metrics if kinds[m] == "constant"]
    undefined = [m for m in metrics if kinds[m] == "undefined"]
    headline_names = {k.name for k in headline_kpis()}
    headline = [m for m in varying if m in headline_names]
    _setup(doc, inputs, lang)
    _findings(doc, inputs, headline or varying[:6], lang)
    doc.add("h2", label("figures", lang))
    for file, data, caption in _figures(inputs, headline or varying, lang):
        doc.add("img", caption, image=data, path=f"figures/{file}")
    _sensitivity(doc, inputs, headline or varying, lang)
    doc.add("h2", label("per_kpi", lang))
    for metric in varying:
        _kpi_section(doc, inputs, metric, lang)
    if constant:
        doc.add("h2", label("constant", lang))
        names = ", ".join(kpi_label(m, lang) for m in constant)
        doc.add("p", label("constant_text", lang, names=names))
    if undefined:
        doc.add("h2", undefined_text("undefined_heading", lang))
        names = ", ".join(kpi_label(m, lang) for m in undefined)
        doc.add("p", undefined_text("undefined_kpis", lang, names=names))
    return doc


def write_report(
    results_dir: str | Path, lang: str = "en", correction: str = "holm"
) -> tuple[Path, Path]:
    """Write the Markdown and self-contained HTML report of an experiment's results.

    Reads ``tidy.parquet``, ``summary.csv``, ``comparison.csv`` (computed with
    :mod:`gridsim.analysis.stats` when missing), ``manifest.json`` and ``warmup.parquet``; writes
    ``report.md`` + ``report.html`` (``report_zh.md`` + ``report_zh.html`` for Chinese)
    and the figures under ``figures/``. Every file is written atomically.

    Args:
        results_dir: an experiment's results directory (``gridsim sweep`` output).
        lang: ``"en"`` or ``"zh"``.
        correction: ``"holm"`` (default) or ``"bh"`` (see :func:`build_document`).

    Returns:
        The Markdown and HTML paths.

    Raises:
        UserError: the directory has no ``tidy.parquet``.
        ValueError: unknown language.

    Example:
        >>> md, html = write_report("results/experiments/one-stop-centre")  # doctest: +SKIP
        >>> md.name, html.name  # doctest: +SKIP
        ('report.md', 'report.html')
    """
    root = Path(results_dir)
    stem = "report" if lang == "en" else f"report_{lang}"
    md_path, html_path = root / f"{stem}.md", root / f"{stem}.html"
    # Replace only a report gridsim wrote (signed; unsigned ones only in a 0.1 directory).
    legacy = not (root / MARKER).is_file()
    for path in (md_path, html_path):
        reason = foreign_file(path)
        if reason is not None and not (legacy and path.is_file()):
            raise UserError(path, "", reason)
    doc = build_document(root, lang, correction)
    for block in doc.blocks:
        if block.kind == "img":
            _save_png(root / block.path, signed_png(block.image))
    for path, text in ((md_path, doc.to_markdown()), (html_path, doc.to_html())):
        atomic_write_text(path, text)
    return md_path, html_path
