"""KPI values and paired differences in words, in English or Chinese.

The unit, the better direction and whether a KPI is a share come from
:mod:`gridsim.kpi_registry`; a share's difference is said in percentage points.

Example:
    >>> format_value("on_time_rate", 0.9123), format_number(1234.5)
    ('91.2 %', '1,234')
    >>> kpi_phrase("response_time_mean_h", "en")
    'mean response time'
"""

from __future__ import annotations

import math

from gridsim.kpi_registry import KPI, kpi
from gridsim.output.i18n import kpi_label, label, value_label

__all__ = [
    "difference_sentence",
    "format_number",
    "format_value",
    "is_share",
    "kpi_phrase",
    "metric_direction",
    "undefined_text",
    "variant_name",
]


def _record(metric: str) -> KPI | None:
    """The KPI's record, or None for a metric the registry does not know."""
    try:
        return kpi(metric)
    except KeyError:
        return None


def metric_direction(metric: str) -> int:
    """Whether a KPI is better low (-1), better high (+1), or neither (0).

    Example:
        >>> metric_direction("response_time_mean_h"), metric_direction("on_time_rate")
        (-1, 1)
        >>> metric_direction("appeals"), metric_direction("my_metric")
        (0, 0)
    """
    record = _record(metric)
    return record.direction if record else 0


def is_share(metric: str) -> bool:
    """Whether a KPI is a share (shown as a percentage); False for an unknown metric."""
    record = _record(metric)
    return record.share if record else False


def _unit(metric: str, lang: str) -> str:
    """The unit of a difference in a sentence: shares differ in percentage points."""
    record = _record(metric)
    unit = record.unit if record else ""
    if unit == "share":
        return " 个百分点" if lang == "zh" else " percentage points"
    if unit == "h":
        return " 小时" if lang == "zh" else " h"
    if unit == "yuan":
        return " 元" if lang == "zh" else " yuan"
    return ""


def format_number(x: float, digits: int | None = None) -> str:
    """A number for a report: thousands separated, a true minus sign, "—" for NaN.

    Without ``digits``, the fewer decimals the larger the number (0 from 100 up).
    """
    if x is None or not math.isfinite(x):
        return "—" if x is None or math.isnan(x) else ("∞" if x > 0 else "−∞")
    if digits is None:
        ax = abs(x)
        digits = 0 if ax >= 100 else 1 if ax >= 10 else 2 if ax >= 1 else 3
    return f"{x:,.{digits}f}".replace("-", "−")


def _digits_for(*values: float) -> int:
    finite = [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]
    if not finite:
        return 2
    ax = max(finite)
    return 0 if ax >= 100 else 1 if ax >= 1 else 2 if ax >= 0.1 else 3


def format_value(metric: str, x: float) -> str:
    """A KPI value for a table: shares as percentages, others with sensible digits."""
    if is_share(metric) and x is not None and math.isfinite(x):
        return f"{100 * x:.1f} %"
    return format_number(x)


def undefined_text(key: str, lang: str, **fields: str) -> str:
    """A report's words for an undefined KPI or comparison, in ``lang``.

    Args:
        key: ``undefined`` (a table cell), ``undefined_difference`` (a comparison's
            sentence: ``variant``, ``kpi``), ``undefined_heading`` or ``undefined_kpis``
            (the section on KPIs undefined everywhere: ``names``).
        lang: ``"en"`` or ``"zh"``.
        **fields: values for the template's ``{...}`` fields.

    Example:
        >>> undefined_text("undefined", "zh")
        '无定义'
        >>> undefined_text("undefined_difference", "en", variant="B", kpi="time saved")
        ... # doctest: +ELLIPSIS
        'B: the difference in time saved is undefined (no replication where both it and ...'
    """
    return label(key, "zh" if lang == "zh" else "en", **fields)


def kpi_phrase(metric: str, lang: str) -> str:
    """The KPI's name inside a sentence: no unit in brackets, lower case in English."""
    name = kpi_label(metric, lang)
    for bracket in (" (", "（"):
        if bracket in name and not name.startswith(bracket):
            name = name.split(bracket, 1)[0]
    if lang == "en" and name[:1].isupper() and not name[1:2].isupper():
        name = name[0].lower() + name[1:]
    return name


def variant_name(name: str, lang: str, names: dict[str, str] | None = None) -> str:
    """A variant's display name: ``names`` (from the manifest) first, else its key."""
    if names and names.get(name):
        return names[name]
    return value_label(name, lang)  # an unknown name is shown as it is


def difference_sentence(
    variant: str,
    metric: str,
    difference: float,
    low: float,
    high: float,
    significant: bool,
    lang: str = "en",
    confidence: float = 0.95,
) -> str:
    """Say a paired difference against the baseline in words.

    Args:
        variant: the variant's display name.
        metric: the KPI key (its unit comes from :mod:`gridsim.kpi_registry`: hours, yuan,
            shares in percentage points).
        difference: mean of ``variant - baseline``.
        low: lower end of the (Bonferroni-adjusted) interval of the difference.
        high: upper end.
        significant: whether the interval excludes 0.
        lang: ``"en"`` or ``"zh"``.
        confidence: the family-wise confidence level.

    Returns:
        One sentence.

    Example:
        >>> difference_sentence("Merged centre", "response_time_mean_h", -3.2, -4.3, -2.1, True)
        'Merged centre lowers mean response time by 3.2 h (95 % CI 2.1–4.3), significant after Bonferroni.'
        >>> difference_sentence("合并中心", "on_time_rate", 0.021, 0.01, 0.032, True, "zh")
        '合并中心使按时办结率提高 2.1 个百分点（95% 置信区间 1.0–3.2），经 Bonferroni 校正后显著。'
    """  # noqa: E501
    scale = 100.0 if is_share(metric) else 1.0
    d, lo, hi = difference * scale, low * scale, high * scale
    if d < 0:
        size, ci_lo, ci_hi = -d, -hi, -lo
    else:
        size, ci_lo, ci_hi = d, lo, hi
    digits = _digits_for(size, ci_lo, ci_hi)
    unit = _unit(metric, lang)
    conf = f"{100 * confidence:g}"
    verdict = label("sig" if significant else "not_sig", lang)
    kpi = kpi_phrase(metric, lang)
    size_s, lo_s, hi_s = (format_number(x, digits) for x in (size, ci_lo, ci_hi))
    if ci_lo < 0:  # an interval across zero reads better with words than with a dash
        between = " 至 " if lang == "zh" else " to "
    else:
        between = "–"
    if lang == "zh":
        verb = "降低" if d < 0 else "提高"
        ci = f"（{conf}% 置信区间 {lo_s}{between}{hi_s}），{verdict}。"
        if d == 0:
            return f"{variant}与基线的{kpi}无差异{ci}"
        return f"{variant}使{kpi}{verb} {size_s}{unit}{ci}"
    if d == 0:
        return f"{variant} leaves {kpi} unchanged ({conf} % CI {lo_s}{between}{hi_s}), {verdict}."
    verb = "lowers" if d < 0 else "raises"
    return (
        f"{variant} {verb} {kpi} by {size_s}{unit} ({conf} % CI {lo_s}{between}{hi_s}), {verdict}."
    )
