"""The documentation site's generated pages: the KPI reference and the scenario reference.

Both are written from the sources the program itself uses, so they cannot drift from it:
the KPI page from :mod:`gridsim.kpi_registry` (``gridsim/data/kpis.toml``), the scenario
page from the scenario's JSON schema (:func:`gridsim.model.loader.json_schema`, what
``gridsim schema`` prints). ``docs/hooks.py`` adds them to the MkDocs build, in English and
in Chinese (:data:`PAGES`); ``tests/test_docs_site.py`` checks that they cover every KPI and
every section of a scenario file.

Example:
    >>> "`on_time_rate`" in kpi_page("en")
    True
    >>> "## `[grids]`" in scenario_page("zh")
    True
    >>> sorted(PAGES)[0]
    'reference/kpis.md'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gridsim.kpi_registry import FAMILIES, KPI, KPIS, headline_kpis

__all__ = ["PAGES", "figure", "kpi_page", "scenario_page"]

_WORDS: dict[str, dict[str, Any]] = {
    "en": {
        "kpi_title": "KPI reference",
        "kpi_intro": (
            "Every KPI a run computes (`RunResult.kpis`, `kpis.csv` of a run directory, the "
            "`metric` column of a sweep's `tidy.parquet`). This page is generated at build "
            "time from `gridsim/data/kpis.toml` (read by `gridsim.kpi_registry`), the same "
            "records that name, format and rank the KPIs in the run summary, the figures and "
            "the comparison report."
        ),
        "headline": "Headline KPIs",
        "headline_intro": "Reported first in a comparison report, in this order:",
        "all": "All KPIs",
        "families": "Families",
        "families_intro": (
            "KPIs generated per scenario-defined key: `<prefix>_<key>` for every key of the "
            "scenario (for `utilisation`, every role in `[roles]`)."
        ),
        "cols": ("KPI", "Name", "Unit", "Better", "Shown as", "Definition"),
        "better": {1: "higher", -1: "lower", 0: "—"},
        "summary_note": "★ printed in the run summary of `gridsim run`.",
        "scn_title": "Scenario reference: mechanisms and parameters",
        "scn_intro": (
            "Every section and field of a scenario file, generated at build time from the "
            "scenario's JSON schema (`gridsim schema` prints it; editors that read JSON schema "
            "can check a scenario with it). Each section switches on or tunes one mechanism; "
            "[Mechanisms](../mechanisms.md) explains what each represents and why. A field "
            "left out takes its default."
        ),
        "records": "Records used inside sections",
        "fcols": ("Field", "Type", "Default", "Constraints"),
        "required": "required",
        "table": "table",
        "desc_lang": "",
    },
    "zh": {
        "kpi_title": "关键指标（KPI）参考",
        "kpi_intro": (
            "一次运行计算的全部关键指标（`RunResult.kpis`、运行目录中的 `kpis.csv`、"
            "实验结果 `tidy.parquet` 的 `metric` 列）。本页在构建时由 `gridsim/data/kpis.toml`"
            "（`gridsim.kpi_registry` 读取）生成：运行摘要、图表和比较报告中的指标名称、格式"
            "与优劣方向都来自同一份记录。定义为英文原文。"
        ),
        "headline": "核心指标",
        "headline_intro": "比较报告中首先列出，顺序如下：",
        "all": "全部指标",
        "families": "指标族",
        "families_intro": (
            "按情景中定义的键逐一生成的指标：对情景中的每个键生成 `<前缀>_<键>`"
            "（`utilisation` 对应 `[roles]` 中的每个角色）。"
        ),
        "cols": ("指标", "名称", "单位", "越…越好", "显示格式", "定义（英文）"),
        "better": {1: "越高越好", -1: "越低越好", 0: "—"},
        "summary_note": "★ 出现在 `gridsim run` 的运行摘要中。",
        "scn_title": "情景文件参考：机制与参数",
        "scn_intro": (
            "情景文件的全部节与字段，在构建时由情景的 JSON schema 生成（`gridsim schema` "
            "可打印该 schema，支持 JSON schema 的编辑器可用它检查情景文件）。每一节开启或"
            "调节一种机制；各机制的含义与依据见 [机制说明（英文）](../../mechanisms.md)。"
            "省略的字段取默认值。"
        ),
        "records": "各节中使用的记录类型",
        "fcols": ("字段", "类型", "默认值", "约束"),
        "required": "必填",
        "table": "表",
        "desc_lang": "（说明取自代码文档，为英文。）",
    },
}


def _cell(text: str) -> str:
    """``text`` made safe for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _kpi_row(k: KPI, words: dict[str, Any], lang: str) -> str:
    name = f"`{k.name}`" + (" ★" if k.summary else "")
    label = k.label_zh if lang == "zh" else k.label_en
    shown = f"`{k.format}`" + (" (%)" if k.share else "")
    cells = (name, label, k.unit, words["better"][k.direction], shown, k.definition)
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def kpi_page(lang: str = "en") -> str:
    """The KPI reference page in ``lang`` (``"en"`` or ``"zh"``), as Markdown.

    Example:
        >>> page = kpi_page("zh")
        >>> page.splitlines()[0], "按时办结率" in page
        ('# 关键指标（KPI）参考', True)
    """
    words = _WORDS[lang]
    head = "| " + " | ".join(words["cols"]) + " |\n|" + "---|" * len(words["cols"])
    lines = [f"# {words['kpi_title']}", "", words["kpi_intro"], ""]
    lines += [f"## {words['headline']}", "", words["headline_intro"], ""]
    for i, k in enumerate(headline_kpis(), 1):
        label = k.label_zh if lang == "zh" else k.label_en
        lines.append(f"{i}. `{k.name}`: {label}")
    lines += ["", f"## {words['all']}", "", words["summary_note"], "", head]
    lines += [_kpi_row(k, words, lang) for k in KPIS.values()]
    lines += ["", f"## {words['families']}", "", words["families_intro"], "", head]
    lines += [_kpi_row(k, words, lang) for k in FAMILIES.values()]
    return "\n".join(lines) + "\n"


def _prose(text: str) -> str:
    """A docstring in Markdown: reST literals and roles become code spans."""
    text = re.sub(r"``(.+?)``", r"`\1`", text, flags=re.S)
    return re.sub(r":(?:func|class|mod|data|meth|attr):`~?([^`]+)`", r"`\1`", text)


def _ref(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def _type(schema: dict[str, Any], sections: dict[str, str]) -> str:
    """A field's type in words, records linked to their entry."""
    name = _ref(schema)
    if name:
        anchor = sections.get(name, f"record-{name.lower()}")
        return f"[{name}](#{anchor})"
    if "anyOf" in schema:
        return " or ".join(_type(s, sections) for s in schema["anyOf"])
    if "oneOf" in schema:
        return " or ".join(_type(s, sections) for s in schema["oneOf"])
    if "enum" in schema:
        shown = (json.dumps(v, ensure_ascii=False) for v in schema["enum"])
        return "one of " + ", ".join(f"`{v}`" for v in shown)
    if "const" in schema:
        return f"`{json.dumps(schema['const'], ensure_ascii=False)}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}), sections)}"
    if kind == "object":
        values = schema.get("additionalProperties")
        if not isinstance(values, dict):
            patterns = schema.get("patternProperties", {})
            values = next(iter(patterns.values()), None)
        return f"table of {_type(values, sections)}" if isinstance(values, dict) else "table"
    return str(kind)


_LIMITS = (
    ("minimum", "≥ {}"), ("exclusiveMinimum", "> {}"), ("maximum", "≤ {}"),
    ("exclusiveMaximum", "< {}"), ("minLength", "length ≥ {}"), ("maxLength", "length ≤ {}"),
    ("minItems", "items ≥ {}"), ("maxItems", "items ≤ {}"), ("pattern", "matches `{}`"),
)  # fmt: skip


def _constraints(schema: dict[str, Any]) -> str:
    found = [fmt.format(schema[key]) for key, fmt in _LIMITS if key in schema]
    for option in schema.get("anyOf", []):
        found += [fmt.format(option[key]) for key, fmt in _LIMITS if key in option]
    return ", ".join(found)


def _default(field: dict[str, Any], required: bool, words: dict[str, Any]) -> str:
    if required:
        return f"*{words['required']}*"
    if "default" not in field:
        return ""
    text = json.dumps(field["default"], ensure_ascii=False)
    if _ref(field) or len(text) > 40:
        return "(" + words["table"] + ")" if _ref(field) else f"`{text[:37]}…`"
    return f"`{text}`"


def _fields(model: dict[str, Any], sections: dict[str, str], words: dict[str, Any]) -> list[str]:
    props = model.get("properties", {})
    if not props:
        return []
    cols = words["fcols"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    required = set(model.get("required", []))
    for name, field in props.items():
        cells = (
            f"`{name}`",
            _type(field, sections),
            _default(field, name in required, words),
            _constraints(field),
        )
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines + [""]


def scenario_page(lang: str = "en") -> str:
    """The scenario reference page in ``lang`` (``"en"`` or ``"zh"``), as Markdown.

    One section per top-level table of a scenario file, in the schema's order, with its
    description and its fields; then the records the sections use (roles, categories,
    distributions ...), each linked from the fields that hold it.

    Example:
        >>> page = scenario_page("en")
        >>> "## `[county]`" in page and "### Role" in page
        True
    """
    from gridsim.model.loader import json_schema

    words = _WORDS[lang]
    schema = json_schema()
    defs: dict[str, Any] = schema.get("$defs", {})
    top = schema["properties"]
    # A record that is the model of exactly one top-level section is described there.
    owners: dict[str, list[str]] = {}
    for key, field in top.items():
        name = _ref(field)
        if name:
            owners.setdefault(name, []).append(key)
    sections = {name: keys[0] for name, keys in owners.items() if len(keys) == 1}

    lines = [f"# {words['scn_title']}", "", words["scn_intro"], ""]
    required = set(schema.get("required", []))
    for key, field in top.items():
        name = _ref(field)
        title = f"[{key}]" if name or "$defs" in json.dumps(field) else key
        lines += [f"## `{title}` {{#{key}}}", ""]
        if name in sections:
            model = defs[name]
            if model.get("description"):
                lines += [_prose(model["description"]) + " " + words["desc_lang"], ""]
            lines += _fields(model, sections, words)
        else:
            row = _fields({"properties": {key: field}, "required": list(required)},
                          sections, words)  # fmt: skip
            lines += row
    lines += [f"## {words['records']}", ""]
    for name, model in defs.items():
        if name in sections:
            continue
        lines += [f"### {name} {{#record-{name.lower()}}}", ""]
        if model.get("description"):
            lines += [_prose(model["description"]), ""]
        lines += _fields(model, sections, words)
    return "\n".join(lines) + "\n"


#: The generated pages, by their path under ``docs/``.
PAGES: dict[str, Callable[[], str]] = {
    "reference/kpis.md": lambda: kpi_page("en"),
    "reference/scenario.md": lambda: scenario_page("en"),
    "zh/reference/kpis.md": lambda: kpi_page("zh"),
    "zh/reference/scenario.md": lambda: scenario_page("zh"),
}


def figure(run_dir: str | Path, name: str, lang: str = "en") -> str:
    """Draw one figure of a saved run and return it as a Markdown image (inline PNG).

    For the documentation's executed examples: the figure is drawn by
    :func:`gridsim.output.figure_dirs.run_figures` into the run directory and embedded in
    the page itself, so the site needs no file besides its pages.
    """
    import base64

    from gridsim.output.figure_dirs import run_figures

    (path,) = run_figures(run_dir, lang=lang, figures=name)
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"![{name} ({lang})](data:image/png;base64,{data})"
