"""Every KPI gridsim computes, described once: unit, direction, display format and names.

The records live in ``gridsim/data/kpis.toml``; this module reads them into frozen
:class:`KPI` records. The report, the figures and the run summary take a KPI's name, unit,
format and "better" direction from here, so one edit of the TOML file changes them all.

KPIs computed per scenario-defined key come in *families*: a name ``<prefix>_<what>``
that is not a record of its own belongs to the family ``<prefix>`` (today only
``utilisation_<role>``; the four levels have records of their own). :func:`kpi` returns a
record for such a member too, with ``member`` set to ``<what>``.

Example:
    >>> kpi("on_time_rate").direction, kpi("on_time_rate").share
    (1, True)
    >>> kpi("on_time_rate").show(0.9123)
    '91.2%'
    >>> member = kpi("utilisation_grid_worker")
    >>> member.member, member.label("en", "Grid worker")
    ('grid_worker', 'Utilisation: Grid worker')
    >>> [k.name for k in headline_kpis()][:3]
    ['response_time_mean_h', 'resolution_time_mean_h', 'on_time_rate']
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = ["FAMILIES", "KPI", "KPIS", "headline_kpis", "kpi", "summary_kpis"]


@dataclass(frozen=True)
class KPI:
    """One KPI's description.

    Attributes:
        name: the key in ``RunResult.kpis`` (and the ``metric`` column of sweep tables).
        unit: what the value counts (``"h"``, ``"share"``, ``"count"``, ``"yuan"`` ...).
        direction: +1 higher is better, -1 lower is better, 0 neither.
        share: a fraction in [0, 1], shown as a percentage.
        format: a Python format spec for display (``".1%"``, ``",.0f"``).
        label_en: English display name (for a family member, a template with ``{what}``).
        label_zh: Chinese display name (likewise).
        definition: one English sentence.
        summary: position in the run summary, 0 when not shown there.
        summary_label: the run summary's wording (defaults to ``label_en``).
        headline: position among the report's headline KPIs, 0 when not one.
        member: for a family member (``utilisation_<what>``), the ``<what>``; else ``""``.
    """

    name: str
    unit: str
    direction: int
    share: bool
    format: str
    label_en: str
    label_zh: str
    definition: str
    summary: int = 0
    summary_label: str = ""
    headline: int = 0
    member: str = ""

    def label(self, lang: str, what: str | None = None) -> str:
        """Display name in ``lang`` (``"en"`` or ``"zh"``); ``what`` names a family member.

        Example:
            >>> kpi("backlog_mean").label("zh")
            '平均积压工单'
        """
        text = self.label_zh if lang == "zh" else self.label_en
        return text.format(what=what or self.member) if self.member else text

    def show(self, value: float) -> str:
        """``value`` in the KPI's display format; ``"n/a"`` for NaN.

        Example:
            >>> kpi("appeals").show(12345.0), kpi("appeals").show(float("nan"))
            ('12,345', 'n/a')
        """
        return "n/a" if math.isnan(value) else format(value, self.format)


def _records(table: Mapping[str, Any]) -> dict[str, KPI]:
    """Records from a TOML table; ``summary_label`` defaults to ``label_en``."""
    return {
        name: KPI(name=name, **{"summary_label": fields["label_en"], **fields})
        for name, fields in table.items()
    }


_DATA = tomllib.loads((Path(__file__).parent / "data" / "kpis.toml").read_text("utf-8"))

#: Every KPI with a record of its own, by name, in the file's order.
KPIS: Mapping[str, KPI] = MappingProxyType(_records(_DATA["kpis"]))
#: Families of generated KPIs by prefix; their labels are templates with ``{what}``.
FAMILIES: Mapping[str, KPI] = MappingProxyType(_records(_DATA["families"]))


def kpi(name: str) -> KPI:
    """The record of KPI ``name``, a family member's included.

    Raises:
        KeyError: ``name`` is neither a KPI nor ``<family>_<what>``.

    Example:
        >>> kpi("utilisation_volunteer").share
        True
        >>> kpi("no_such_kpi")
        Traceback (most recent call last):
        ...
        KeyError: 'no KPI named no_such_kpi'
    """
    if name in KPIS:
        return KPIS[name]
    prefix, _, what = name.partition("_")
    family = FAMILIES.get(prefix)
    if family is None or not what:
        raise KeyError(f"no KPI named {name}")
    return replace(family, name=name, member=what)


def summary_kpis() -> tuple[KPI, ...]:
    """The KPIs of the run summary (``gridsim run``), in their order.

    Example:
        >>> [(k.name, k.summary_label, k.format) for k in summary_kpis()][0]
        ('appeals', 'appeals filed', ',.0f')
    """
    shown = [k for k in KPIS.values() if k.summary]
    return tuple(sorted(shown, key=lambda k: k.summary))


def headline_kpis() -> tuple[KPI, ...]:
    """The report's headline KPIs (reported first, drawn by default), in their order."""
    chosen = [k for k in KPIS.values() if k.headline]
    return tuple(sorted(chosen, key=lambda k: k.headline))
