"""Names of an experiment's variants: generated design-point names in English and Chinese.

A factor design's variant is named after its factor levels, ``households_per_grid=300,...``
(the key every table uses); its Chinese display name uses the factors' Chinese labels.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gridsim.labels import FACTOR_LABELS, check_lang, value_label


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
