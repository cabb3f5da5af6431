"""Figure labels in Chinese and English: KPI, level, event, factor and variant names.

Every string a figure shows (titles, axis labels, legends, KPI names, level names) comes
from :data:`LABELS` through :func:`label`; names that a scenario defines (categories,
channels, towns, roles, departments) come from the scenario's own tables through
:class:`Names`, so a figure in Chinese says 邻里纠纷 where the English one says
"Neighbour dispute".

The fonts that draw these strings are set up by :mod:`gridsim.output.fonts`.

Example:
    >>> from gridsim.output.i18n import label, level_label
    >>> label("backlog_y", "zh"), level_label(1, "en")
    ('在办工单数', 'grid')
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gridsim.experiment.naming import design_point_name, factor_tails
from gridsim.kpi_registry import KPIS, kpi
from gridsim.labels import (
    DEFAULT_CHANNELS,
    DEFAULT_ROLES,
    EVENT_LABELS,
    FACTOR_LABELS,
    KIND_LABELS,
    LABELS,
    LANGS,
    check_lang,
    lookup,
    value_label,
)
from gridsim.model.vocabulary import EVENT_CODES, LEVELS

if TYPE_CHECKING:
    from gridsim.model.scenario import Scenario

__all__ = [
    "LABELS",
    "LANGS",
    "Names",
    "check_lang",
    "design_point_name",
    "event_label",
    "factor_label",
    "factor_tails",
    "kind_label",
    "kpi_label",
    "label",
    "level_label",
    "short",
    "text_width",
    "value_label",
    "variant_label",
    "variant_labels",
]

# --------------------------------------------------------------------------- labels

#: Channel and role names when no scenario is at hand, as ``(en, zh)`` pairs.
_DEFAULT_CHANNELS = {k: (v["en"], v["zh"]) for k, v in DEFAULT_CHANNELS.items()}
_DEFAULT_ROLES = {k: (v["en"], v["zh"]) for k, v in DEFAULT_ROLES.items()}
_LEVEL_KEYS: dict[int, str] = {**dict(enumerate(LEVELS)), -1: "open"}


def label(key: str, lang: str, **fields: Any) -> str:
    """Return the figure string ``key`` in ``lang``, with ``fields`` filled in.

    Args:
        key: a key of :data:`LABELS`, or a KPI name (:data:`gridsim.kpi_registry.KPIS`).
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
    entry = LABELS.get(key)
    if entry is None:
        if key in KPIS:
            return KPIS[key].label(lang)
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
    """Display name of a KPI (:mod:`gridsim.kpi_registry`); unknown ones keep their key.

    A role's utilisation (``utilisation_<role>``) is named after the role.

    Example:
        >>> kpi_label("on_time_rate", "zh")
        '按时办结率'
        >>> kpi_label("utilisation_grid_worker", "en")
        'Utilisation: Grid worker'
        >>> kpi_label("my_metric", "zh")
        'my_metric'
    """
    check_lang(lang)
    try:
        record = kpi(metric)
    except KeyError:
        return metric
    if record.member:
        return record.label(lang, Names().role(record.member, lang))
    return record.label(lang)


def event_label(code: int | str, lang: str) -> str:
    """Name of a lifecycle event, by code (column ``event`` of the log) or by name.

    Example:
        >>> event_label(4, "zh"), event_label("resolve", "en")
        ('上报上级', 'resolved')
    """
    check_lang(lang)
    if not isinstance(code, str):
        code = EVENT_CODES[int(code)]
    return lookup(EVENT_LABELS, code, lang)


def kind_label(kind: str, lang: str) -> str:
    """Name of a kind of handling unit (``grid``, ``microgrid``, ``town_desk`` ...).

    Example:
        >>> kind_label("exclusive_grid", "zh")
        '专属网格'
    """
    check_lang(lang)
    return lookup(KIND_LABELS, kind, lang)


def factor_label(factor: str, lang: str) -> str:
    """Display name of a sweep factor (a dotted override path); unknown ones keep their key.

    Example:
        >>> factor_label("grids.households_per_grid", "zh")
        '每网格户数'
    """
    check_lang(lang)
    return lookup(FACTOR_LABELS, factor, lang)


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
