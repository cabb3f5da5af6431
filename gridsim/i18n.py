"""Figure labels in Chinese and English, and the CJK font set-up for matplotlib.

Every string a figure shows (titles, axis labels, legends, KPI names, level names) comes
from :data:`LABELS` through :func:`label`; names that a scenario defines (categories,
channels, towns, roles, departments) come from the scenario's own tables through
:class:`Names`, so a figure in Chinese says 邻里纠纷 where the English one says
"Neighbour dispute".

Chinese text needs a CJK font. :func:`setup_fonts` finds one (the ``noto-cjk-sans-otc``
PyPI package first, then a few well-known system fonts), registers it with matplotlib's
font manager by file path and puts it first in ``font.sans-serif`` with DejaVu Sans as
the Latin fallback.

Example:
    >>> from gridsim.i18n import label, level_label
    >>> label("backlog_y", "zh"), level_label(1, "en")
    ('在办工单数', 'grid')
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridsim.scenario import LEVELS

if TYPE_CHECKING:
    from gridsim.scenario import Scenario

__all__ = [
    "LABELS",
    "LANGS",
    "FontNotFoundError",
    "Names",
    "check_lang",
    "design_point_name",
    "event_label",
    "factor_label",
    "factor_tails",
    "find_cjk_font",
    "kind_label",
    "kpi_label",
    "label",
    "level_label",
    "setup_fonts",
    "short",
    "text_width",
    "value_label",
    "variant_label",
    "variant_labels",
]

#: Languages every figure can be drawn in.
LANGS: tuple[str, ...] = ("zh", "en")

#: What the project's set-up installs so that Chinese renders (see :func:`setup_fonts`).
FONT_REQUIREMENT = "noto-cjk-sans-otc"

#: Preferred family names inside the CJK fonts we know, best first (Simplified Chinese
#: glyph forms before the Japanese, Korean and Traditional ones of the same collection).
_CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Noto Sans CJK KR",
    "Noto Sans CJK HK",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)

#: Well-known system locations (Debian's fonts-noto-cjk and fonts-wqy-microhei).
_SYSTEM_FONT_FILES: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)

_LATIN_FALLBACK: tuple[str, ...] = ("DejaVu Sans",)

# --------------------------------------------------------------------------- labels

#: Every figure string, by key: ``{key: {"en": ..., "zh": ...}}``. Templates use
#: ``str.format`` fields, filled by :func:`label`'s keyword arguments.
LABELS: dict[str, dict[str, str]] = {
    # levels
    "level_microgrid": {"en": "micro-grid", "zh": "微网格"},
    "level_grid": {"en": "grid", "zh": "网格"},
    "level_town": {"en": "town", "zh": "镇街"},
    "level_county": {"en": "county", "zh": "县级"},
    "level_open": {"en": "still open", "zh": "未办结"},
    "county_row": {"en": "County level", "zh": "县级"},
    # hierarchy
    "hierarchy_title": {"en": "County hierarchy: towns → grids", "zh": "县域网格层级：镇街 → 网格"},
    "hierarchy_title_micro": {
        "en": "County hierarchy: towns → grids → micro-grids",
        "zh": "县域网格层级：镇街 → 网格 → 微网格",
    },
    "hierarchy_note": {
        "en": "tile area = households; {towns} towns, {grids} grids, {micro} micro-grids",
        "zh": "色块面积 = 户数；共{towns}个镇街、{grids}个网格、{micro}个微网格",
    },
    "hierarchy_note_exclusive": {
        "en": "; {n} exclusive grids not shown",
        "zh": "；{n}个专属网格未显示",
    },
    "hierarchy_tiles_grid": {"en": "colour per grid", "zh": "按网格着色"},
    "hierarchy_tiles_micro": {"en": "colour per micro-grid", "zh": "按微网格着色"},
    "no_data": {"en": "no data", "zh": "无数据"},
    # escalation flow
    "flow_title": {
        "en": "Where work orders enter and where they are resolved",
        "zh": "工单受理渠道与办结层级",
    },
    "flow_left": {"en": "Entry channel", "zh": "受理渠道"},
    "flow_right": {"en": "Resolved at", "zh": "办结层级"},
    "flow_note": {"en": "{n} work orders", "zh": "共{n}件工单"},
    # backlog
    "backlog_title": {"en": "Backlog of open work orders", "zh": "在办工单积压"},
    "backlog_y": {"en": "Open work orders", "zh": "在办工单数"},
    "time_days": {"en": "Time (days)", "zh": "时间（天）"},
    "backlog_one": {"en": "one run", "zh": "单次运行"},
    "backlog_median": {"en": "median of {n} replications", "zh": "{n}次重复的中位数"},
    "band_minmax": {"en": "min–max across replications", "zh": "各次重复的最小–最大值"},
    "band_5_95": {"en": "5–95 % across replications", "zh": "各次重复的5%–95%分位"},
    # response ECDF
    "ecdf_title": {"en": "Time to first response, by entry channel", "zh": "各渠道首次响应时间"},
    "ecdf_x": {
        "en": "Time from order to first response (log scale)",
        "zh": "从立单到首次响应的时间（对数刻度）",
    },
    "ecdf_y": {"en": "Share of orders responded to", "zh": "已响应工单占比"},
    "ecdf_legend": {"en": "{name} (n = {n})", "zh": "{name}（{n}件）"},
    "unit_min": {"en": "{v} min", "zh": "{v}分钟"},
    "unit_hour": {"en": "{v} h", "zh": "{v}小时"},
    "unit_day": {"en": "{v} d", "zh": "{v}天"},
    # resolved where
    "where_title": {"en": "Where work orders are resolved", "zh": "工单在哪一级办结"},
    "where_slogan": {
        "en": "“Small matters stay in the grid, big matters stay in the town”",
        "zh": "“小事不出网格，大事不出镇街”",
    },
    "where_by_level": {"en": "Resolved at each level", "zh": "各层级办结占比"},
    "where_cumulative": {"en": "Against the targets", "zh": "与目标对照"},
    "where_y": {"en": "Share of resolved orders", "zh": "占已办结工单比例"},
    "within_grid": {"en": "within the grid", "zh": "网格内办结"},
    "within_town": {"en": "within the town", "zh": "镇街内办结"},
    "target": {"en": "target {v}", "zh": "目标 {v}"},
    "where_note": {
        "en": "{n} resolved orders; {open} still open",
        "zh": "已办结{n}件；未办结{open}件",
    },
    # utilisation
    "util_title": {
        "en": "Staff utilisation (busy ÷ available hours)",
        "zh": "人员工作负荷（忙碌工时 ÷ 可用工时）",
    },
    "util_x": {"en": "Role", "zh": "岗位"},
    "util_y": {"en": "Town", "zh": "镇街"},
    "util_cbar": {"en": "Utilisation", "zh": "利用率"},
    # ranking
    "rank_title": {"en": "Top {n} by points: {role}", "zh": "{role}积分排名前{n}名"},
    "rank_x": {"en": "Points", "zh": "积分"},
    "rank_note": {"en": "{orders} orders, {rate} on time", "zh": "办理{orders}件 · 按时率{rate}"},
    "rank_staff": {"en": "{town} #{id}", "zh": "{town} · {id}号"},
    "list_sep": {"en": " / ", "zh": " · "},
    # KPI comparison and sweeps
    "kpi_title": {
        "en": "KPIs by variant (mean and 95 % confidence interval)",
        "zh": "各方案关键指标（均值与95%置信区间）",
    },
    "kpi_n1": {"en": "n = 1: no interval", "zh": "仅1次重复，无区间"},
    "tornado_title": {"en": "Sensitivity of {metric}", "zh": "{metric}的敏感性"},
    "tornado_x": {
        "en": "{metric}: mean over replications at each factor level",
        "zh": "{metric}：各因素水平下的均值",
    },
    "tornado_mean": {"en": "overall mean", "zh": "总体均值"},
    # Welch plot
    "welch_title": {"en": "Warm-up: Welch plot", "zh": "预热期判断：Welch图"},
    "welch_reps": {"en": "replications", "zh": "各次重复"},
    "welch_mean": {"en": "mean across {n} replications", "zh": "{n}次重复的均值"},
    "welch_ma": {"en": "moving average (window ±{w})", "zh": "移动平均（窗口±{w}）"},
    "welch_cut": {"en": "MSER-5 truncation: {d:.1f} days", "zh": "MSER-5截断点：{d:.1f}天"},
    "welch_y": {"en": "Output per period", "zh": "每期输出"},
    # experiment reports (gridsim.report)
    "title": {"en": "Experiment report: {name}", "zh": "实验报告：{name}"},
    "setup": {"en": "Set-up", "zh": "实验设置"},
    "findings": {"en": "Main findings", "zh": "主要结论"},
    "figures": {"en": "Figures", "zh": "图表"},
    "per_kpi": {"en": "Results by KPI", "zh": "分指标结果"},
    "variants": {"en": "Variants", "zh": "方案"},
    "constant": {"en": "KPIs that do not vary", "zh": "无变化的指标"},
    "constant_text": {
        "en": "These KPIs took the same value in every run: {names}.",
        "zh": "以下指标在所有运行中取值相同：{names}。",
    },
    "none_significant": {
        "en": "No difference from the baseline is significant after Bonferroni adjustment "
        "for the headline KPIs.",
        "zh": "经 Bonferroni 校正后，主要指标与基线相比均无显著差异。",
    },
    "no_comparison": {
        "en": "The experiment has a single variant, so there is nothing to compare.",
        "zh": "本实验只有一个方案，无可比较。",
    },
    "ranking_best": {
        "en": "Ranked best first ({direction} is better); mean and {conf} % CI over {n} "
        "replications.",
        "zh": "按优劣排序（{direction}为优）；均值及 {conf}% 置信区间，{n} 次重复。",
    },
    "ranking_plain": {
        "en": "Ranked by mean, highest first; mean and {conf} % CI over {n} replications.",
        "zh": "按均值从高到低排序；均值及 {conf}% 置信区间，{n} 次重复。",
    },
    "lower": {"en": "lower", "zh": "越低"},
    "higher": {"en": "higher", "zh": "越高"},
    "diff_intro": {
        "en": "Paired differences (variant − baseline “{baseline}”), {conf} % family-wise "
        "CIs Bonferroni-adjusted over {k} comparison(s):",
        "zh": "配对差值（方案 − 基线“{baseline}”），{conf}% 族置信区间，"
        "按 {k} 个比较做 Bonferroni 校正：",
    },
    "setup_lines": {
        "en": "Base scenario: {base}\n"
        "Variants: {variants}; replications per variant: {reps}; simulated days per run: "
        "{days}; warm-up: {warmup}\n"
        "Root seed {seed}: replication r of every variant uses "
        "SeedSequence(entropy={seed}, spawn_key=(r,)) (common random numbers).\n"
        "Baseline: “{baseline}”. Intervals: Student-t at {conf} %; differences: paired-t, "
        "Bonferroni-adjusted over {k} comparison(s) per KPI.",
        "zh": "基础情景：{base}\n"
        "方案数：{variants}；每方案重复次数：{reps}；每次运行模拟天数：{days}；预热期：{warmup}\n"
        "根种子 {seed}：各方案第 r 次重复均使用 SeedSequence(entropy={seed}, spawn_key=(r,))"
        "（公共随机数）。\n"
        "基线：“{baseline}”。区间：{conf}% Student-t 置信区间；差值：配对 t 检验，"
        "每个指标按 {k} 个比较做 Bonferroni 校正。",
    },
    "warmup_fixed": {"en": "{days} days (fixed)", "zh": "{days} 天（固定）"},
    "warmup_mser5": {
        "en": "{days} days, chosen by MSER-5 on the baseline's daily backlog",
        "zh": "{days} 天，由基线方案每日积压工单的 MSER-5 方法确定",
    },
    "welch_caption": {
        "en": "Welch plot of the baseline's daily backlog (pilot runs without warm-up); "
        "dashed line: MSER-5 truncation.",
        "zh": "基线方案每日积压工单的 Welch 图（无预热期的试运行）；虚线：MSER-5 截断点。",
    },
    "kpi_caption": {
        "en": "Headline KPIs by variant: means with {conf} % confidence intervals.",
        "zh": "各方案主要指标：均值及 {conf}% 置信区间。",
    },
    "labels_note": {
        "en": " Design points are labelled by their values of: {names}.",
        "zh": "设计点以下列因素的取值标注：{names}。",
    },
    "tornado_caption": {
        "en": "Sensitivity of {kpi} to each factor (range of the factor-level means).",
        "zh": "{kpi}对各因素的敏感性（各因素水平均值的范围）。",
    },
    "sig": {"en": "significant after Bonferroni", "zh": "经 Bonferroni 校正后显著"},
    "not_sig": {"en": "not significant after Bonferroni", "zh": "经 Bonferroni 校正后不显著"},
    "yes": {"en": "yes", "zh": "是"},
    "no": {"en": "no", "zh": "否"},
    "font_note": {
        "en": "",
        "zh": "（未找到中文字体，图表以英文绘制。）",
    },
}

#: KPI names (see docs/data_model.md), used on axes and panel titles.
KPI_LABELS: dict[str, dict[str, str]] = {
    "appeals": {"en": "Appeals", "zh": "诉求数"},
    "orders": {"en": "Work orders", "zh": "工单数"},
    "issues": {"en": "Latent issues", "zh": "潜在问题数"},
    "merged_appeals": {"en": "Merged appeals", "zh": "合并诉求数"},
    "merge_ratio": {"en": "Merge ratio", "zh": "诉求合并率"},
    "appeals_per_resident_per_year": {"en": "Appeals per resident per year", "zh": "人均年诉求数"},
    "response_time_mean_h": {"en": "Mean response time (h)", "zh": "平均响应时长（小时）"},
    "response_time_p90_h": {"en": "90th pct. response time (h)", "zh": "响应时长90分位（小时）"},
    "resolution_time_mean_h": {"en": "Mean resolution time (h)", "zh": "平均办结时长（小时）"},
    "resolution_time_median_h": {
        "en": "Median resolution time (h)",
        "zh": "办结时长中位数（小时）",
    },
    "resolution_time_p90_h": {
        "en": "90th pct. resolution time (h)",
        "zh": "办结时长90分位（小时）",
    },
    "on_time_rate": {"en": "On-time rate", "zh": "按时办结率"},
    "resolved_share_microgrid": {"en": "Resolved at micro-grid", "zh": "微网格办结占比"},
    "resolved_share_grid": {"en": "Resolved at grid", "zh": "网格办结占比"},
    "resolved_share_town": {"en": "Resolved at town", "zh": "镇街办结占比"},
    "resolved_share_county": {"en": "Resolved at county", "zh": "县级办结占比"},
    "share_resolved_in_grid": {"en": "Share resolved within grid", "zh": "网格内办结率"},
    "share_resolved_in_town": {"en": "Share resolved within town", "zh": "镇街内办结率"},
    "escalation_rate": {"en": "Escalation rate", "zh": "上报率"},
    "open_at_end": {"en": "Open at end", "zh": "期末未办结工单"},
    "backlog_mean": {"en": "Mean backlog", "zh": "平均积压工单"},
    "backlog_max": {"en": "Peak backlog", "zh": "最大积压工单"},
    "satisfaction_rate": {"en": "Satisfaction rate", "zh": "满意率"},
    "reopen_rate": {"en": "Reopen rate", "zh": "重办率"},
    "proactive_share": {"en": "Proactive share (未诉先办)", "zh": "未诉先办占比"},
    "unreported_issues": {"en": "Unreported issues", "zh": "未上报问题数"},
    "unreported_share": {"en": "Unreported share", "zh": "未上报问题占比"},
    "incidents": {"en": "Serious incidents", "zh": "重大事件数"},
    "incidents_per_100k_per_year": {
        "en": "Incidents per 100k per year",
        "zh": "每十万人年重大事件数",
    },
    "cost_total_yuan": {"en": "Total cost (yuan)", "zh": "总成本（元）"},
    "cost_per_resolved_yuan": {"en": "Cost per resolved order (yuan)", "zh": "每件办结成本（元）"},
    "points_total": {"en": "Points awarded", "zh": "积分总数"},
    "orders_per_1000_households": {"en": "Work orders per 1,000 households", "zh": "每千户工单数"},
}

#: Lifecycle events of the event log (see ``gridsim.results.EVENT_CODES``).
EVENT_LABELS: dict[str, dict[str, str]] = {
    "arrive": {"en": "appeal filed", "zh": "诉求受理"},
    "merge": {"en": "merged into the order", "zh": "并入已有工单"},
    "dispatch": {"en": "dispatched", "zh": "派单"},
    "start": {"en": "work started", "zh": "开始办理"},
    "escalate": {"en": "escalated", "zh": "上报上级"},
    "resolve": {"en": "resolved", "zh": "办结"},
    "feedback": {"en": "resident's feedback", "zh": "群众评价"},
    "reopen": {"en": "reopened", "zh": "不满意重办"},
    "incident": {"en": "serious incident", "zh": "引发重大事件"},
    "return": {"en": "returned (misrouted)", "zh": "退回（派错）"},
}

#: Kinds of handling unit (column ``kind`` of the ``units`` table).
KIND_LABELS: dict[str, dict[str, str]] = {
    "county": {"en": "county", "zh": "县"},
    "department": {"en": "county department", "zh": "县直部门"},
    "county_desk": {"en": "county centre desk", "zh": "县综治中心窗口"},
    "county_centre": {"en": "county one-stop centre", "zh": "县综治中心（合署）"},
    "town": {"en": "town or street", "zh": "镇街"},
    "town_desk": {"en": "town centre desk", "zh": "镇街综治中心窗口"},
    "town_centre": {"en": "town one-stop centre", "zh": "镇街综治中心（合署）"},
    "grid": {"en": "basic grid", "zh": "基础网格"},
    "exclusive_grid": {"en": "exclusive grid", "zh": "专属网格"},
    "microgrid": {"en": "micro-grid", "zh": "微网格"},
}

#: Level names of ``utilisation_<level>`` KPIs.
_LEVEL_KEYS: dict[int, str] = {**dict(enumerate(LEVELS)), -1: "open"}

#: Labels for sweep factors (dotted scenario override paths) and their string values.
FACTOR_LABELS: dict[str, dict[str, str]] = {
    "grids.households_per_grid": {"en": "Households per grid", "zh": "每网格户数"},
    "grids.rural_households_per_microgrid": {
        "en": "Households per rural micro-grid",
        "zh": "每农村微网格户数",
    },
    "grids.urban_households_per_microgrid": {
        "en": "Households per urban micro-grid",
        "zh": "每城市微网格户数",
    },
    "staffing.grid.grid_worker": {"en": "Grid workers per grid", "zh": "每网格专职网格员数"},
    "staffing.microgrid.grid_assistant": {
        "en": "Assistants per micro-grid",
        "zh": "每微网格网格助理员数",
    },
    "staffing.microgrid.volunteer": {"en": "Volunteers per micro-grid", "zh": "每微网格志愿者数"},
    "escalation.policy": {"en": "Escalation rule", "zh": "上报规则"},
    "centre.merged_town": {"en": "Merged town centre", "zh": "镇街综治中心合署办公"},
    "centre.merged_county": {"en": "Merged county centre", "zh": "县综治中心合署办公"},
    "proactive.enabled": {"en": "Proactive visits", "zh": "未诉先办走访"},
    "proactive.visits_per_household_per_month.microgrid_leader": {
        "en": "Micro-grid leader visits / household / month",
        "zh": "微网格长每户每月走访次数",
    },
    "proactive.visits_per_household_per_month.grid_worker": {
        "en": "Grid worker visits / household / month",
        "zh": "网格员每户每月走访次数",
    },
    "residents.no_smartphone_share": {"en": "Share without smartphone", "zh": "无智能手机比例"},
    "integration.enabled": {"en": "Appeal integration", "zh": "诉求整合"},
    "incentives.effort_elasticity": {"en": "Effort elasticity", "zh": "激励弹性"},
}

_VALUE_LABELS: dict[str, dict[str, str]] = {
    "strict_ladder": {"en": "strict ladder", "zh": "逐级上报"},
    "direct_triage": {"en": "direct triage", "zh": "直接分级派单"},
    "skip_level_urgent": {"en": "skip level if urgent", "zh": "紧急事项越级上报"},
    "deadline": {"en": "deadline-driven", "zh": "超时自动上报"},
    "baseline": {"en": "baseline", "zh": "基线"},
    "True": {"en": "yes", "zh": "是"},
    "False": {"en": "no", "zh": "否"},
}

#: Names used when no scenario is at hand: the usual channel keys, roles and channels.
_DEFAULT_CHANNELS: dict[str, tuple[str, str]] = {
    "app": ("App", "App上报"),
    "hotline": ("12345 hotline", "12345热线"),
    "walk_in": ("Walk-in", "来访"),
    "petition": ("Petition", "信访"),
    "visit": ("Proactive visit", "走访发现"),
    "reopen": ("Reopened", "重新办理"),
}
_DEFAULT_ROLES: dict[str, tuple[str, str]] = {
    "grid_instructor": ("Grid instructor", "网格指导员"),
    "grid_leader": ("Grid leader", "网格长"),
    "grid_worker": ("Grid worker", "专职网格员"),
    "microgrid_leader": ("Micro-grid leader", "微网格长"),
    "grid_assistant": ("Grid assistant", "网格助理员"),
    "party_member": ("Party member", "党员"),
    "volunteer": ("Volunteer", "志愿者"),
    "exclusive_grid_worker": ("Exclusive-grid worker", "专属网格员"),
    "town_officer": ("Town centre officer", "镇街综治中心工作人员"),
    "county_officer": ("County centre officer", "县综治中心工作人员"),
    "department_officer": ("Department officer", "县直部门工作人员"),
}


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is a supported figure language, else raise ValueError.

    Example:
        >>> check_lang("zh")
        'zh'
    """
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
    return lang


def label(key: str, lang: str, **fields: Any) -> str:
    """Return the figure string ``key`` in ``lang``, with ``fields`` filled in.

    Args:
        key: a key of :data:`LABELS` or of the KPI table.
        lang: ``"zh"`` or ``"en"``.
        **fields: values for the template's ``{...}`` fields.

    Raises:
        KeyError: ``key`` is not a known label (a typo in a figure's code).

    Example:
        >>> label("flow_note", "zh", n=12)
        '共12件工单'
        >>> label("level_town", "en")
        'town'
    """
    check_lang(lang)
    entry = LABELS.get(key) or KPI_LABELS.get(key)
    if entry is None:
        raise KeyError(f"no figure label {key!r}")
    return entry[lang].format(**fields) if fields else entry[lang]


def level_label(level: int, lang: str) -> str:
    """Name of a hierarchy level (0 micro-grid .. 3 county, -1 still open).

    Example:
        >>> [level_label(i, "zh") for i in range(4)]
        ['微网格', '网格', '镇街', '县级']
    """
    return label(f"level_{_LEVEL_KEYS[int(level)]}", lang)


def kpi_label(metric: str, lang: str) -> str:
    """Display name of a KPI; unknown ones keep their key (``utilisation_<x>`` understood).

    Example:
        >>> kpi_label("on_time_rate", "zh")
        '按时办结率'
        >>> kpi_label("utilisation_grid_worker", "en")
        'Utilisation: Grid worker'
        >>> kpi_label("my_metric", "zh")
        'my_metric'
    """
    check_lang(lang)
    if metric in KPI_LABELS:
        return KPI_LABELS[metric][lang]
    if metric.startswith("utilisation_"):
        what = metric.removeprefix("utilisation_")
        levels = {v: k for k, v in _LEVEL_KEYS.items()}
        name = level_label(levels[what], lang) if what in levels else Names().role(what, lang)
        return f"{name}利用率" if lang == "zh" else f"Utilisation: {name}"
    return metric


def event_label(code: int | str, lang: str) -> str:
    """Name of a lifecycle event, by code (column ``event`` of the log) or by name.

    Example:
        >>> event_label(4, "zh"), event_label("resolve", "en")
        ('上报上级', 'resolved')
    """
    check_lang(lang)
    if not isinstance(code, str):
        from gridsim.results import EVENT_CODES

        code = EVENT_CODES[int(code)]
    entry = EVENT_LABELS.get(code)
    return entry[lang] if entry else code


def kind_label(kind: str, lang: str) -> str:
    """Name of a kind of handling unit (``grid``, ``microgrid``, ``town_desk`` ...).

    Example:
        >>> kind_label("exclusive_grid", "zh")
        '专属网格'
    """
    check_lang(lang)
    entry = KIND_LABELS.get(kind)
    return entry[lang] if entry else kind


def factor_label(factor: str, lang: str) -> str:
    """Display name of a sweep factor (a dotted override path); unknown ones keep their key.

    Example:
        >>> factor_label("grids.households_per_grid", "zh")
        '每网格户数'
    """
    check_lang(lang)
    entry = FACTOR_LABELS.get(factor)
    return entry[lang] if entry else factor


def value_label(value: Any, lang: str) -> str:
    """Display form of a factor level or variant name (policy names are translated).

    Example:
        >>> value_label("strict_ladder", "zh"), value_label(0.25, "en")
        ('逐级上报', '0.25')
    """
    check_lang(lang)
    text = f"{value:g}" if isinstance(value, float) else str(value)
    entry = _VALUE_LABELS.get(text)
    return entry[lang] if entry else text


def factor_tails(paths: Iterable[str]) -> dict[str, str]:
    """Shortest distinct tails of dotted factor paths (what generated variant names use).

    Example:
        >>> factor_tails(["grids.households_per_grid", "a.x", "b.x"])
        {'grids.households_per_grid': 'households_per_grid', 'a.x': 'a.x', 'b.x': 'b.x'}
    """
    paths = list(paths)
    tails: dict[str, str] = {}
    for depth in range(1, max((p.count(".") + 1 for p in paths), default=1) + 1):
        cut = {p: ".".join(p.split(".")[-depth:]) for p in paths if p not in tails}
        counts: dict[str, int] = {}
        for tail in cut.values():
            counts[tail] = counts.get(tail, 0) + 1
        for p, tail in cut.items():
            if counts[tail] == 1:
                tails[p] = tail
    return {p: tails.get(p, p) for p in paths}


def _level_text(value: Any, lang: str) -> str:
    """A factor level as written in a generated variant name (translated in Chinese)."""
    if isinstance(value, bool):
        return value_label(value, lang) if lang == "zh" else ("true" if value else "false")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value_label(str(value), lang) if lang == "zh" else str(value)


def design_point_name(
    point: Mapping[str, Any], lang: str, paths: Sequence[str] | None = None
) -> str:
    """Name of a factor-design variant: ``households_per_grid=300,...`` / ``每网格户数=300，...``.

    English gives the name the experiment generates (the variant's key). Chinese uses the
    factor's label (:data:`FACTOR_LABELS`) where there is one, else the same path tail, and
    translates policy names and true/false. Display only: the key never changes.

    Args:
        point: ``{dotted path: value}`` of the design point, in factor order.
        lang: ``"zh"`` or ``"en"``.
        paths: every factor path of the experiment (tails are made distinct among them);
            default: the point's own paths.

    Example:
        >>> point = {"grids.households_per_grid": 300, "centre.merged_town": True}
        >>> design_point_name(point, "en")
        'households_per_grid=300,merged_town=true'
        >>> design_point_name(point, "zh")
        '每网格户数=300，镇街综治中心合署办公=是'
        >>> design_point_name({"escalation.shirking_probability": 0.1}, "zh")
        'shirking_probability=0.1'
    """
    check_lang(lang)
    tails = factor_tails(paths if paths is not None else list(point))
    parts = []
    for path, value in point.items():
        tail = tails.get(path) or factor_tails([path])[path]
        name = FACTOR_LABELS[path]["zh"] if lang == "zh" and path in FACTOR_LABELS else tail
        parts.append(f"{name}={_level_text(value, lang)}")
    return ("，" if lang == "zh" else ",").join(parts)


def _is_design_point(variant: Mapping[str, Any], paths: Sequence[str]) -> bool:
    """Whether a manifest's variant entry is a generated design point (not a named one)."""
    overrides = variant.get("overrides") or {}
    return (
        bool(paths)
        and bool(overrides)
        and set(overrides) <= set(paths)
        and variant.get("name") == design_point_name(overrides, "en", paths)
    )


def variant_label(variant: Mapping[str, Any], lang: str, factor_paths: Sequence[str] = ()) -> str:
    """Display name of a variant from its entry in a results directory's ``manifest.json``.

    Chinese: the variant's ``name_zh``; for a design point written before ``name_zh``
    existed, its name rebuilt with Chinese factor labels (:func:`design_point_name`); else
    the name itself (policy names translated, as :func:`value_label` does). English: the
    name (policy names translated). The name stays the variant's key in every table.

    Example:
        >>> variant_label({"name": "separate desks", "name_zh": "四台分设"}, "zh")
        '四台分设'
        >>> variant_label({"name": "separate desks"}, "zh")  # an older manifest
        'separate desks'
        >>> variant_label({"name": "separate desks", "name_zh": "四台分设"}, "en")
        'separate desks'
    """
    check_lang(lang)
    name = str(variant.get("name", ""))
    if lang == "zh":
        if variant.get("name_zh"):
            return str(variant["name_zh"])
        if _is_design_point(variant, factor_paths):
            return design_point_name(variant["overrides"], lang, factor_paths)
    return value_label(name, lang)


def variant_labels(manifest: Mapping[str, Any], lang: str) -> dict[str, str]:
    """Display names of every variant a ``manifest.json`` lists, by variant name (the key).

    Example:
        >>> manifest = {"variants": [{"name": "a", "name_zh": "甲"}, {"name": "b"}]}
        >>> variant_labels(manifest, "zh")
        {'a': '甲', 'b': 'b'}
    """
    paths = list(manifest.get("factor_paths") or [])
    return {
        str(v["name"]): variant_label(v, lang, paths)
        for v in manifest.get("variants") or []
        if isinstance(v, Mapping) and v.get("name")
    }


def text_width(text: str) -> int:
    """Width of a label in Latin characters: CJK and full-width characters count twice.

    Example:
        >>> text_width("grid"), text_width("网格")
        (4, 4)
    """
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def short(text: str, limit: int = 14) -> str:
    """Shorten a label for a tick: drop a parenthetical, then cut to ``limit`` characters.

    Example:
        >>> short("网格助理员（楼长、单元长、街巷长）")
        '网格助理员'
        >>> short("Human resources and social security", 16)
        'Human resources…'
    """
    for bracket in ("（", " ("):
        if bracket in text and not text.startswith(bracket):
            text = text.split(bracket, 1)[0]
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _humanise(key: str) -> str:
    words = key.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


@dataclass(frozen=True)
class Names:
    """Display names of the things a scenario defines, in both languages.

    Each mapping goes from a key (a town's index for towns) to ``(english, chinese)``.
    Missing names fall back to built-in names for the usual channel and role keys, then
    to the key itself (humanised in English).

    Example:
        >>> from gridsim import load_scenario
        >>> names = Names.from_scenario(load_scenario("scenarios/one_town.toml"))
        >>> names.town(0, "zh"), names.channel("hotline", "zh"), names.role("grid_worker", "en")
        ('武台镇', '12345热线', 'Grid worker')
        >>> Names().category("land_dispute", "en")
        'Land dispute'
    """

    categories: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    channels: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    roles: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    towns: Mapping[int, tuple[str, str]] = field(default_factory=dict)
    departments: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def from_scenario(cls, scenario: Scenario | None) -> Names:
        """Collect the names (``label_en``/``label_zh``, ``name``/``name_zh``) of a scenario."""
        if scenario is None:
            return cls()
        return cls(
            categories={c.key: (c.label_en, c.label_zh) for c in scenario.categories},
            channels={c.key: (c.label_en, c.label_zh) for c in scenario.channels},
            roles={k: ("", r.label_zh) for k, r in scenario.roles.items()},
            towns={i: (t.name, t.name_zh) for i, t in enumerate(scenario.county.towns)},
            departments={d.key: (d.label_en, d.label_zh) for d in scenario.departments},
        )

    @staticmethod
    def _pick(key: str, lang: str, *tables: Mapping[str, tuple[str, str]]) -> str:
        check_lang(lang)
        i = 0 if lang == "en" else 1
        for table in tables:
            names = table.get(key)
            if names and names[i]:
                return names[i]
        return _humanise(key) if lang == "en" else key

    def category(self, key: str, lang: str) -> str:
        """Return a category's name (``label_zh``/``label_en``), else its key."""
        return self._pick(key, lang, self.categories)

    def channel(self, key: str, lang: str) -> str:
        """Return a channel's name; ``visit`` and ``reopen`` have built-in names."""
        return self._pick(key, lang, self.channels, _DEFAULT_CHANNELS)

    def role(self, key: str, lang: str) -> str:
        """Return a role's name (``label_zh``; built-in English names for the usual roles)."""
        return self._pick(key, lang, self.roles, _DEFAULT_ROLES)

    def department(self, key: str, lang: str) -> str:
        """Return a county department's name."""
        return self._pick(key, lang, self.departments)

    def town(self, index: int, lang: str, default: str = "") -> str:
        """Return a town's name by index (``name_zh`` in Chinese); -1 is the county level."""
        check_lang(lang)
        if int(index) < 0:
            return label("county_row", lang)
        en, zh = self.towns.get(int(index), ("", ""))
        if lang == "zh" and zh:
            return zh
        return en or default or f"{index}"


# --------------------------------------------------------------------------- fonts


class FontNotFoundError(RuntimeError):
    """No font that can draw Chinese is installed."""


def _package_font() -> Path | None:
    """Find the font file shipped by the ``noto-cjk-sans-otc`` (or ``mplfonts``) package."""
    from importlib import resources
    from importlib.util import find_spec

    for module, name in (
        ("noto_cjk_sans_otc", "NotoSansCJK-Regular.ttc"),
        ("mplfonts", "fonts/NotoSansCJKsc-Regular.otf"),
    ):
        if find_spec(module) is None:
            continue
        try:
            path = Path(os.fspath(resources.files(module).joinpath(name)))
        except (TypeError, ModuleNotFoundError):  # a zipped install has no file path
            continue
        if path.is_file():
            return path
    return None


def _fc_list_font() -> Path | None:
    """Find a Chinese-capable font that fontconfig knows about (if ``fc-list`` exists)."""
    if shutil.which("fc-list") is None:
        return None
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh", "file", "family"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    candidates = []
    for line in out.splitlines():
        path, _, family = line.partition(":")
        rank = next((i for i, f in enumerate(_CJK_FAMILIES) if f in family), len(_CJK_FAMILIES))
        candidates.append((rank, path.strip()))
    for _, path in sorted(candidates):
        if path and Path(path).is_file():
            return Path(path)
    return None


@lru_cache(maxsize=1)
def find_cjk_font() -> Path | None:
    """Path of a font file that can draw Chinese, or None if none is installed.

    Looks, in order, at the ``noto-cjk-sans-otc`` PyPI package (what the project's set-up
    installs), the ``mplfonts`` package, Debian's ``fonts-noto-cjk`` and
    ``fonts-wqy-microhei`` files, and anything ``fc-list :lang=zh`` reports.

    Example:
        >>> find_cjk_font() is None or find_cjk_font().is_file()
        True
    """
    found = _package_font()
    if found is not None:
        return found
    for name in _SYSTEM_FONT_FILES:
        if Path(name).is_file():
            return Path(name)
    return _fc_list_font()


@lru_cache(maxsize=1)
def _register_cjk_font() -> str | None:
    """Add the CJK font file to matplotlib's font manager; its best family name or None."""
    from matplotlib import font_manager

    path = find_cjk_font()
    if path is None:
        return None
    font_manager.fontManager.addfont(str(path))
    target = os.path.realpath(path)
    families = {
        entry.name
        for entry in font_manager.fontManager.ttflist
        if os.path.realpath(os.fspath(entry.fname)) == target
    }
    for family in _CJK_FAMILIES:
        if family in families:
            return family
    return sorted(families)[0] if families else None


def setup_fonts(lang: str = "zh") -> str | None:
    """Register a CJK font with matplotlib and make it the first sans-serif family.

    Sets ``font.family`` to sans-serif, ``font.sans-serif`` to the CJK family followed by
    DejaVu Sans (whose glyphs fill anything the CJK font lacks), and
    ``axes.unicode_minus = False``. The same font list serves both languages, so a figure
    never depends on which language was drawn last. Calling it again is cheap.

    Args:
        lang: the language about to be drawn; ``"zh"`` requires a CJK font.

    Returns:
        The CJK family name in use, or None (possible only for ``lang="en"``).

    Raises:
        FontNotFoundError: ``lang="zh"`` and no CJK font is installed; the message says
            what to install.

    Example:
        >>> family = setup_fonts("en")
        >>> import matplotlib
        >>> matplotlib.rcParams["axes.unicode_minus"]
        False
    """
    import matplotlib

    check_lang(lang)
    family = _register_cjk_font()
    if family is None and lang == "zh":
        raise FontNotFoundError(
            "no font that can draw Chinese was found; install one with "
            f"`pip install {FONT_REQUIREMENT}` (or `apt-get install -y fonts-noto-cjk`)"
        )
    chain = ([family] if family else []) + list(_LATIN_FALLBACK)
    rest = [f for f in matplotlib.rcParams["font.sans-serif"] if f not in chain]
    matplotlib.rcParams["font.family"] = ["sans-serif"]
    matplotlib.rcParams["font.sans-serif"] = chain + rest
    matplotlib.rcParams["axes.unicode_minus"] = False
    return family
