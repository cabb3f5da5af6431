"""The claims table on disk and on screen: CSV, Markdown, figures, the docs section.

:func:`write_claims_dir` writes what ``gridsim validate --claims`` leaves behind (``claims.csv``,
``claims.md``, ``claims.json`` and the forest plot in each language, PNG and SVG) into a
directory marked as gridsim's, built under a temporary name and published at the end, so it
is complete or absent and a rerun replaces only gridsim's own files. :func:`claims_text` is
the aligned printout, :func:`claims_markdown` the Markdown table, and
:func:`write_claims_doc` fills the generated section of ``docs/claims.md`` (between
:data:`DOC_START` and :data:`DOC_END`).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from gridsim.errors import UserError
from gridsim.files import (
    MARKER,
    SIGNATURE,
    atomic_write_text,
    foreign_directory,
    owned_by_patterns,
    publish_directory,
    sign_png,
    temporary_directory,
    write_csv,
    write_json,
    write_marker,
)
from gridsim.kpi_registry import kpi as kpi_record
from gridsim.output.claims_figure import claims_figure, claims_label, format_p
from gridsim.output.i18n import kpi_label, text_width
from gridsim.output.run_dir import OutputDirectoryError
from gridsim.output.style import save_figure
from gridsim.output.wording import format_number, undefined_text
from gridsim.version import __version__

__all__ = [
    "CLAIMS_FILES",
    "DOC_END",
    "DOC_START",
    "check_claims_dir",
    "check_claims_doc",
    "claims_markdown",
    "claims_text",
    "write_claims_dir",
    "write_claims_doc",
]

#: What gridsim writes in a claims directory; a rerun replaces these and keeps the rest.
CLAIMS_FILES: tuple[str, ...] = (
    MARKER,
    "claims.csv",
    "claims.md",
    "claims.json",
    "claims_*.png",
    "claims_*.svg",
)
#: The markers of the generated section of ``docs/claims.md``.
DOC_START, DOC_END = "<!-- claims:start -->", "<!-- claims:end -->"


def check_claims_dir(out: str | Path) -> Path:
    """Refuse (one line) an output directory that is not new, empty or an earlier claims one.

    Raises:
        OutputDirectoryError: ``out`` is a file, or holds files gridsim did not write there.
    """
    out = Path(out)
    reason = foreign_directory(out, "claims")
    if reason is not None:
        raise OutputDirectoryError(out, "--out", reason)
    return out


def _sign(value: float) -> str:
    return format_number(value, 1) if value < 0 else "+" + format_number(value, 1)


def _relative(row: Mapping[str, Any], lang: str) -> str:
    """``−28.8 % [−35.0, −22.6]``: the relative effect and its interval in per cent."""
    effect, low, high = (row[c] for c in ("relative_effect", "relative_low", "relative_high"))
    if not math.isfinite(effect):
        return _undefined(lang)
    pct = "%" if lang == "zh" else " %"
    return f"{_sign(100 * effect)}{pct} [{_sign(100 * low)}, {_sign(100 * high)}]"


def _undefined(lang: str) -> str:
    """The word for an undefined comparison (a KPI undefined on a side)."""
    return undefined_text("undefined", lang)


def _value(kpi: str, value: float) -> str:
    """A KPI value in its display format (shares as percentages)."""
    try:
        return kpi_record(kpi).show(value)
    except KeyError:
        return format_number(value)


def _difference(row: Mapping[str, Any], lang: str) -> str:
    """The difference and its interval, a share's in percentage points."""
    d, low, high = row["difference"], row["ci_low"], row["ci_high"]
    if not math.isfinite(d):
        return _undefined(lang)
    try:
        share = kpi_record(str(row["kpi"])).share
    except KeyError:
        share = False
    if share:
        unit = " 个百分点" if lang == "zh" else " pp"
        d, low, high = 100 * d, 100 * low, 100 * high
        return f"{_sign(d)}{unit} [{_sign(low)}, {_sign(high)}]"
    digits = _digits(d, low, high)
    lo, hi = format_number(low, digits), format_number(high, digits)
    return f"{'+' if d >= 0 else ''}{format_number(d, digits)} [{lo}, {hi}]"


def _digits(*values: float) -> int:
    """Decimals for numbers shown together: fewer the larger the largest of them."""
    finite = [abs(v) for v in values if math.isfinite(v)]
    top = max(finite, default=0.0)
    return 0 if top >= 100 else 1 if top >= 10 else 2 if top >= 1 else 3


def _holds(row: Mapping[str, Any], lang: str) -> str:
    return claims_label("yes" if bool(row["holds"]) else "no", lang)


def _expect(row: Mapping[str, Any], lang: str) -> str:
    text = claims_label(f"expect_{row['expect']}", lang)
    tol = row.get("tolerance")
    if row["expect"] == "no_worse" and tol is not None and math.isfinite(tol):
        text += f" (±{100 * tol:g}%)" if lang == "zh" else f" (margin {100 * tol:g} %)"
    return text


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _setup(table: pd.DataFrame, settings: Mapping[str, Any] | None, lang: str) -> str:
    """The sentence that says how the table was made (claims, scenarios, replications ...)."""
    s = dict(settings or {})
    conf = float(s.get("confidence", 0.95))
    days = s.get("days")
    return claims_label(
        "setup",
        lang,
        n=len(table),
        scenarios=", ".join(f"`{x}`" for x in dict.fromkeys(table["scenario"])),
        r=s.get("replications", "?"),
        seed=s.get("seed", "?"),
        days=claims_label("days", lang, days=f"{days:g}") if days else "",
        conf=f"{100 * conf:g}",
        alpha=f"{100 * (1 - conf):g}",
    )


def claims_markdown(
    table: pd.DataFrame,
    langs: Sequence[str] = ("en",),
    settings: Mapping[str, Any] | None = None,
    heading: str = "#",
) -> str:
    """The claims table as Markdown, one section per language (signed as gridsim's).

    Example:
        >>> row = {"claim": "a", "issue": 10, "text_en": "Visits help", "text_zh": "走访有效",
        ...     "kpi": "unreported_share", "expect": "decrease", "tolerance": float("nan"),
        ...     "scenario": "s.toml", "reference": "proactive.enabled=false",
        ...     "variant": "(as is)", "n": 5, "reference_mean": 0.25, "variant_mean": 0.2,
        ...     "difference": -0.05, "ci_low": -0.06, "ci_high": -0.04, "boundary": 0.0,
        ...     "relative_effect": -0.2, "relative_low": -0.24, "relative_high": -0.16,
        ...     "p_value": 0.0001, "p_holm": 0.0001, "ci_holds": True, "holds": True}
        >>> md = claims_markdown(pd.DataFrame([row]), ["en"])
        >>> "| −5.0 pp [−6.0, −4.0] |" in md, "1 of 1 claims hold." in md
        (True, True)
    """
    conf = f"{100 * float((settings or {}).get('confidence', 0.95)):g}"
    parts = [f"<!-- {SIGNATURE} {__version__} -->", ""]
    for lang in langs:
        cols = [
            "col_claim",
            "col_kpi",
            "col_expect",
            "col_reference",
            "col_variant",
            "col_difference",
            "col_relative",
            "col_p",
            "col_p_holm",
            "col_holds",
        ]
        head = [claims_label(c, lang, conf=conf) for c in cols]
        lines = [
            f"{heading} {claims_label('heading', lang)}",
            "",
            _setup(table, settings, lang),
            "",
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
        ]
        for _, r in table.iterrows():
            as_is = claims_label("as_is", lang)
            sides = (f"{r['reference']} → {r['variant']}").replace("(as is)", as_is)
            claim = (
                f"**{_md_cell(r['text_zh'] if lang == 'zh' else r['text_en'])}** "
                f"(`{r['claim']}`, #{r['issue']})<br>{_md_cell(sides)}"
            )
            cells = [
                claim,
                kpi_label(str(r["kpi"]), lang),
                _expect(r, lang),
                _value(str(r["kpi"]), r["reference_mean"]),
                _value(str(r["kpi"]), r["variant_mean"]),
                _difference(r, lang),
                _relative(r, lang),
                format_p(r["p_value"]),
                format_p(r["p_holm"]),
                _holds(r, lang),
            ]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
        held = int(table["holds"].sum())
        lines += ["", claims_label("summary", lang, held=held, n=len(table)), ""]
        parts += lines
    return "\n".join(parts)


def _pad(text: str, width: int, right: bool = False) -> str:
    """Pad to a display width (a Chinese character takes two columns)."""
    space = " " * max(width - text_width(text), 0)
    return space + text if right else text + space


def claims_text(table: pd.DataFrame, lang: str = "en", confidence: float = 0.95) -> str:
    """The claims table for a terminal: aligned columns, ✓/✗, the claim's words below.

    Example:
        >>> row = {"claim": "a", "text_en": "Visits help", "text_zh": "走访有效",
        ...     "kpi": "orders", "expect": "decrease", "tolerance": float("nan"),
        ...     "reference_mean": 500.0, "variant_mean": 400.0, "relative_effect": -0.2,
        ...     "relative_low": -0.3, "relative_high": -0.1, "p_holm": 0.01, "holds": False}
        >>> print(claims_text(pd.DataFrame([row])).splitlines()[1])
        ✗  a      orders  ↓ lower         500      400  −20.0 % [−30.0, −10.0]        0.010
    """
    conf = f"{100 * confidence:g}"
    header = [
        "",
        claims_label("col_claim", lang),
        claims_label("col_kpi", lang),
        claims_label("col_expect", lang),
        claims_label("col_reference", lang),
        claims_label("col_variant", lang),
        claims_label("col_relative", lang, conf=conf),
        claims_label("col_p_holm", lang),
    ]
    rows = []
    for _, r in table.iterrows():
        rows.append(
            [
                "✓" if bool(r["holds"]) else "✗",
                str(r["claim"]),
                str(r["kpi"]),
                _expect(r, lang),
                _value(str(r["kpi"]), r["reference_mean"]),
                _value(str(r["kpi"]), r["variant_mean"]),
                _relative(r, lang),
                format_p(r["p_holm"]),
            ]
        )
    widths = [max(text_width(x[i]) for x in [header, *rows]) for i in range(len(header))]
    numeric = {4, 5, 7}

    def line(cells: list[str]) -> str:
        return "  ".join(
            _pad(c, w, right=i in numeric)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(header)]
    for (_, r), cells in zip(table.iterrows(), rows, strict=True):
        out.append(line(cells))
        out.append("   " + str(r["text_zh"] if lang == "zh" else r["text_en"]))
    held = int(table["holds"].sum())
    out += ["", claims_label("summary", lang, held=held, n=len(table))]
    return "\n".join(out)


def write_claims_dir(
    table: pd.DataFrame,
    out: str | Path,
    langs: Sequence[str] = ("en", "zh"),
    settings: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``claims.csv``, ``claims.md``, ``claims.json`` and the figures into ``out``.

    The directory is built under a temporary name and renamed at the end, with gridsim's
    marker; what else a user keeps in an earlier claims directory stays.

    Returns:
        The directory.

    Raises:
        OutputDirectoryError: ``out`` is not gridsim's to write (see :func:`check_claims_dir`).
    """
    final = check_claims_dir(out)
    confidence = float((settings or {}).get("confidence", 0.95))
    tmp = temporary_directory(final)
    try:
        write_csv(table, tmp / "claims.csv")
        atomic_write_text(tmp / "claims.md", claims_markdown(table, langs, settings))
        held = int(table["holds"].sum())
        meta = {
            "gridsim_version": __version__,
            **dict(settings or {}),
            "claims": len(table),
            "held": held,
            "failed": [str(c) for c in table.loc[~table["holds"], "claim"]],
        }
        write_json(tmp / "claims.json", meta)
        for lang in langs:
            fig = claims_figure(table, lang, confidence)
            sign_png(save_figure(fig, tmp / f"claims_{lang}.png"))
            save_figure(fig, tmp / f"claims_{lang}.svg")
        write_marker(tmp, "claims")
        publish_directory(tmp, final, owned_by_patterns(CLAIMS_FILES))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def check_claims_doc(path: str | Path) -> Path:
    """Make sure ``path`` is a text file with the generated section's markers, in order.

    Raises:
        UserError: no such file, or the markers are missing or out of order.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(path, "--doc", "an existing Markdown file (no such file)")
    text = path.read_text("utf-8")
    start, end = text.find(DOC_START), text.find(DOC_END)
    if start < 0 or end < start:
        raise UserError(
            path,
            "--doc",
            f"a file with the lines {DOC_START} and {DOC_END}, "
            "in that order, around the generated table",
        )
    return path


def write_claims_doc(
    table: pd.DataFrame,
    path: str | Path,
    settings: Mapping[str, Any] | None = None,
    langs: Sequence[str] = ("en",),
) -> Path:
    r"""Replace the generated section of ``docs/claims.md`` (between the markers) by ``table``.

    Everything outside the markers is kept as it is; the file is replaced atomically.

    Example:
        >>> import tempfile
        >>> doc = Path(tempfile.mkdtemp()) / "claims.md"
        >>> _ = doc.write_text(f"# Claims\n{DOC_START}\nold\n{DOC_END}\nend\n")
        >>> row = {"claim": "a", "issue": 10, "text_en": "Fewer orders", "text_zh": "工单减少",
        ...     "kpi": "orders", "expect": "decrease", "tolerance": float("nan"),
        ...     "scenario": "s.toml", "reference": "integration.enabled=false",
        ...     "variant": "(as is)", "n": 5, "reference_mean": 500.0, "variant_mean": 400.0,
        ...     "difference": -100.0, "ci_low": -120.0, "ci_high": -80.0, "boundary": 0.0,
        ...     "relative_effect": -0.2, "relative_low": -0.24, "relative_high": -0.16,
        ...     "p_value": 0.0001, "p_holm": 0.0001, "ci_holds": True, "holds": True}
        >>> text = write_claims_doc(pd.DataFrame([row]), doc).read_text()
        >>> "\nold\n" in text, text.endswith(f"{DOC_END}\nend\n"), "| −100 [−120, −80] |" in text
        (False, True, True)
    """
    path = check_claims_doc(path)
    text = path.read_text("utf-8")
    start = text.index(DOC_START) + len(DOC_START)
    end = text.index(DOC_END)
    body = claims_markdown(table, langs, settings, heading="###")
    return atomic_write_text(path, f"{text[:start]}\n{body}\n{text[end:]}")
