# ruff: noqa: E501  (the bilingual figure texts read best on one line each)
"""The lecture figure pack: five figures for a lecture, PNG and SVG, Chinese and English.

Drawn from the classroom sweep (:func:`gridsim.classroom.page.page_data`) and the scenario:

* ``hierarchy`` — county → towns → basic grids ("1+1+1+N") → micro-grids ("1+N"), with the
  staffing and the Party organisation, every count from the scenario;
* ``settled`` — where orders are settled, before and after the reform;
* ``proactive`` — 未诉先办: the proactive share and how early issues are known, by visit policy;
* ``reform`` — before and after the reform on the headline shares, with 95 % CIs;
* ``technology_gap`` — the noticing gap of households without a smartphone, by visit policy.

Large type, the Okabe–Ito palette and the level colours of :mod:`gridsim.output.style`, so the
figures read when projected.

Example:
    >>> sorted(FIGURES)
    ['hierarchy', 'proactive', 'reform', 'settled', 'technology_gap']
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from gridsim.files import sign_png
from gridsim.model.scenario import Scenario
from gridsim.output.i18n import Names, level_label
from gridsim.output.style import LEVEL_CODES, LEVEL_COLOURS, PALETTE, figure_style, new_figure
from gridsim.output.style import save_figure as _save

__all__ = ["FIGURES", "write_figure_pack"]

#: Type sizes for projection (points).
BIG, MID, SMALL = 20, 16, 14

Data = Mapping[str, Any]


def _t(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def _label(data: Data, name: str, lang: str) -> str:
    return str(data["kpis"][name]["label"][lang])


def _axes(fig: Figure, title: str) -> Any:
    ax = fig.add_subplot()
    fig.suptitle(title, fontsize=BIG, x=0.01, ha="left")
    ax.tick_params(labelsize=SMALL)
    return ax


def _visit_rows(data: Data, lang: str) -> list[tuple[str, Mapping[str, Any]]]:
    """(level label, KPIs) for each visit level, the other controls at the baseline."""
    keys = [c["key"] for c in data["controls"]]
    if "visits" not in keys:
        return []
    i = keys.index("visits")
    base = data["baseline"].split("-")
    rows = []
    for j, level in enumerate(data["controls"][i]["levels"]):
        key = "-".join(base[:i] + [str(j)] + base[i + 1 :])
        if key in data["variants"]:
            rows.append((str(level["label"][lang]), data["variants"][key]))
    return rows


def _errbar(ax: Any, x: float, v: Sequence[float | None], horizontal: bool, scale: float) -> None:
    if v[1] is None or v[2] is None or v[0] is None:
        return
    lo, hi = (v[0] - v[1]) * scale, (v[2] - v[0]) * scale
    kw = {"fmt": "none", "ecolor": "black", "elinewidth": 2, "capsize": 5}
    if horizontal:
        ax.errorbar(v[0] * scale, x, xerr=[[lo], [hi]], **kw)
    else:
        ax.errorbar(x, v[0] * scale, yerr=[[lo], [hi]], **kw)


def hierarchy(data: Data, scenario: Scenario, lang: str) -> Figure:
    """County → towns → basic grids → micro-grids, with staffing and the Party."""
    names = Names.from_scenario(scenario)
    fig = new_figure((13, 8))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_xlim(0, 13)
    ax.set_ylim(0, 8.4)
    g, m = scenario.staffing.grid, scenario.staffing.microgrid
    hh = sum(t.population for t in scenario.county.towns) / scenario.county.persons_per_household
    grids = hh / scenario.grids.households_per_grid

    def team(staff: Mapping[str, int]) -> str:
        sep = "、" if lang == "zh" else ", "
        return sep.join(f"{names.role(r, lang)} × {n}" for r, n in staff.items() if n)

    rows = [
        (_t(lang, "县（县综治中心、县直部门）", "County (county centre, departments)"),
         _t(lang, f"{len(scenario.departments)}个县直部门；部分人员下沉网格",
            f"{len(scenario.departments)} departments; some staff sunk into grids")),
        (_t(lang, f"镇街（{len(scenario.county.towns)}个）· 综治中心",
            f"Towns and streets ({len(scenario.county.towns)}) · one-stop centre"),
         _t(lang, "网格管理、12345热线、信访、调解四个窗口",
            "grid management, 12345 hotline, petitions, mediation")),
        (_t(lang, f"基础网格 “1+1+1+N”（约{grids:,.0f}个，每格约{scenario.grids.households_per_grid:,.0f}户）",
            f"Basic grid \"1+1+1+N\" (~{grids:,.0f}, ~{scenario.grids.households_per_grid:,.0f} households each)"),
         team(g) + _t(lang, " + N名微网格长", " + N micro-grid leaders")),
        (_t(lang, f"微网格 “1+N”（农村约{scenario.grids.rural_households_per_microgrid:,.0f}户、城市约{scenario.grids.urban_households_per_microgrid:,.0f}户）",
            f"Micro-grid \"1+N\" (~{scenario.grids.rural_households_per_microgrid:,.0f} rural / ~{scenario.grids.urban_households_per_microgrid:,.0f} urban households)"),
         team(m)),
    ]  # fmt: skip
    colours = [LEVEL_COLOURS[c] for c in reversed(LEVEL_CODES)]
    for i, ((head, body), colour) in enumerate(zip(rows, colours, strict=True)):
        y = 7.0 - i * 2.0
        dark = i < 2
        ax.add_patch(_box(0.2, y - 0.75, 8.6, 1.5, colour))
        ink = "white" if dark else "black"
        ax.text(0.45, y + 0.25, head, fontsize=MID, color=ink, va="center")
        ax.text(0.45, y - 0.35, body, fontsize=SMALL - 1, color=ink, va="center")
        if i:
            ax.annotate("", (4.5, y + 0.78), (4.5, y + 1.22),
                        arrowprops={"arrowstyle": "<->", "lw": 2})  # fmt: skip
    p = scenario.party
    party = [
        _t(lang, "党组织嵌入网格", "The Party in the grids"),
        _t(lang, f"党小组覆盖{p.active_group_share:.0%}的微网格", f"Party groups in {p.active_group_share:.0%} of micro-grids"),
        _t(lang, f"每百户约{p.members_per_100_households:g}名党员", f"~{p.members_per_100_households:g} members per 100 households"),
        _t(lang, f"党员联户：每人联系约{p.households_per_member:g}户", f"each linked to ~{p.households_per_member:g} households"),
        _t(lang, f"在职党员任楼长：每个城市微网格{p.in_service_members_per_urban_microgrid:g}名", f"in-service building leaders: {p.in_service_members_per_urban_microgrid:g} per urban micro-grid"),
    ]  # fmt: skip
    ax.add_patch(_box(9.2, 0.25, 3.6, 5.5, "#FFFFFF", edge=PALETTE[5]))
    ax.text(9.4, 5.3, party[0], fontsize=MID, color=PALETTE[5], va="center")
    ax.text(9.4, 4.6, "\n\n".join(party[1:]), fontsize=SMALL - 1, va="top", wrap=True)
    fig.suptitle(_t(lang, "网格化治理的层级与人员配置", "The hierarchy and its staffing"),
                 fontsize=BIG, x=0.02, ha="left")  # fmt: skip
    return fig


def _box(x: float, y: float, w: float, h: float, colour: str, edge: str = "none") -> Any:
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc=colour, ec=edge, lw=2)


def settled(data: Data, scenario: Scenario, lang: str) -> Figure:
    """Where orders are settled, before and after the reform (stacked shares)."""
    names = data["figures"]["settled_levels"]
    rows = [(_t(lang, "改革前", "Before"), data["reform"]["before"]),
            (_t(lang, "改革后", "After"), data["variants"][data["baseline"]])]  # fmt: skip
    fig = new_figure((12, 4.6))
    ax = _axes(fig, _t(lang, "工单在哪一级办结：小事不出网格、大事不出镇街",
                       "Where orders are settled: small matters in the grid, big ones in the town"))  # fmt: skip
    for y, (_, v) in enumerate(rows):
        left = 0.0
        for j, name in enumerate(names):
            share = v[name][0] or 0.0
            colour = LEVEL_COLOURS[LEVEL_CODES[j]]
            ax.barh(y, share * 100, left=left, color=colour, edgecolor="white",
                    label=level_label(LEVEL_CODES[j], lang) if y == 0 else None)  # fmt: skip
            if share > 0.05:
                ax.text(left + share * 50, y, f"{share:.0%}", ha="center", va="center",
                        fontsize=MID, color="white" if j >= 2 else "black")  # fmt: skip
            left += share * 100
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=MID)
    ax.set_xlim(0, 100)
    ax.set_xlabel(_t(lang, "办结工单占比（%）", "Share of settled orders (%)"), fontsize=SMALL)
    ax.invert_yaxis()
    ax.legend(ncols=4, fontsize=SMALL, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    return fig


def _grouped(ax: Any, rows: list[tuple[str, Mapping[str, Any]]], metrics: list[str],
             data: Data, lang: str, scale: float = 100.0) -> None:  # fmt: skip
    width = 0.8 / max(1, len(rows))
    x = np.arange(len(metrics))
    for j, (label, v) in enumerate(rows):
        xs = x - 0.4 + width * (j + 0.5)
        vals = [(v[m][0] or 0.0) * scale for m in metrics]
        ax.bar(xs, vals, width * 0.95, color=PALETTE[j % len(PALETTE)], label=label)
        for xi, m in zip(xs, metrics, strict=True):
            _errbar(ax, xi, v[m], horizontal=False, scale=scale)
    # English KPI names run long: wrapped, so that neighbouring labels never overlap.
    names = [_label(data, m, lang) for m in metrics]
    if lang == "en":
        names = [textwrap.fill(n, 16) for n in names]
    ax.set_xticks(x, names, fontsize=SMALL)
    ax.legend(fontsize=SMALL, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def proactive(data: Data, scenario: Scenario, lang: str) -> Figure:
    """未诉先办: proactive share and how early issues are known, by visit policy."""
    fig = new_figure((13, 5.5))
    ax = _axes(fig, _t(lang, "未诉先办：入户走访发现了什么、早了多少",
                       "Handling before the appeal: what visits find, and how early"))  # fmt: skip
    _grouped(ax, _visit_rows(data, lang), ["proactive_share", "noticed_7d_share",
             "noticed_30d_share", "unreported_share"], data, lang)  # fmt: skip
    ax.set_ylabel("%", fontsize=SMALL)
    ax.set_ylim(0, 100)
    return fig


def reform(data: Data, scenario: Scenario, lang: str) -> Figure:
    """Before and after the reform on the headline shares, with 95 % CIs."""
    fig = new_figure((13, 5.5))
    ax = _axes(fig, _t(lang, "改革前后（同一组随机数，竖线为95%置信区间）",
                       "Before and after the reform (same random numbers; 95% CIs)"))  # fmt: skip
    rows = [(_t(lang, "改革前", "Before the reform"), data["reform"]["before"]),
            (_t(lang, "改革后", "After the reform"), data["variants"][data["baseline"]])]  # fmt: skip
    metrics = [m for m in data["figures"]["reform"] if data["kpis"][m]["share"]]
    _grouped(ax, rows, metrics, data, lang)
    ax.set_ylabel("%", fontsize=SMALL)
    ax.set_ylim(0, 100)
    return fig


def technology_gap(data: Data, scenario: Scenario, lang: str) -> Figure:
    """The noticing gap of households without a smartphone, by visit policy."""
    fig = new_figure((12, 5))
    ax = _axes(fig, _t(lang, "技术鸿沟：无智能手机家庭的问题更晚被知晓吗？",
                       "The technology gap: are issues of households without a smartphone known later?"))  # fmt: skip
    rows = _visit_rows(data, lang)
    for y, (_, v) in enumerate(rows):
        g = v["notice_gap_no_smartphone"]
        ax.barh(y, (g[0] or 0.0) * 100, color=PALETTE[y % len(PALETTE)], height=0.6)
        _errbar(ax, y, g, horizontal=True, scale=100.0)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=MID)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=1)
    ax.set_xlabel(_t(lang, "30天内知晓占比之差（有手机 − 无手机，百分点；0 = 无差距）",
                     "Known within 30 days: with minus without a smartphone (points; 0 = no gap)"),
                  fontsize=SMALL)  # fmt: skip
    share = scenario.residents.no_smartphone_share
    ax.text(1.0, -0.2, _t(lang, f"情景中{share:.0%}的家庭没有智能手机",
                          f"{share:.0%} of households have no smartphone in the scenario"),
            transform=ax.transAxes, ha="right", fontsize=SMALL)  # fmt: skip
    return fig


FIGURES: dict[str, Callable[[Data, Scenario, str], Figure]] = {
    "hierarchy": hierarchy,
    "settled": settled,
    "proactive": proactive,
    "reform": reform,
    "technology_gap": technology_gap,
}


def write_figure_pack(data: Data, scenario: Scenario, out: str | Path) -> list[Path]:
    """Write every figure as ``<name>_<lang>.png`` and ``.svg`` (zh and en) under ``out``.

    Returns:
        The files written.
    """
    out = Path(out)
    written = []
    for lang in ("zh", "en"):
        with figure_style(lang):
            for name, draw in FIGURES.items():
                fig = draw(data, scenario, lang)
                written.append(sign_png(_save(fig, out / f"{name}_{lang}.png")))
                written.append(_save(fig, out / f"{name}_{lang}.svg"))
    return written
