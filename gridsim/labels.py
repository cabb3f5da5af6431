"""Every string gridsim shows, in Chinese and English, read from ``gridsim/data/labels.toml``.

The strings are data: a translator edits the TOML file, not the code. Each table maps a key
to ``{en = ..., zh = ...}``; the tables are read-only mappings.

Example:
    >>> LABELS["level_town"]["zh"]
    '镇街'
    >>> value_label("strict_ladder", "zh")
    '逐级上报'
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

#: Languages every figure, report and page can be written in.
LANGS: tuple[str, ...] = ("zh", "en")

LabelTable = MappingProxyType  # {key: {"en": ..., "zh": ...}}, read-only

_DATA = tomllib.loads((Path(__file__).parent / "data" / "labels.toml").read_text("utf-8"))


def _table(name: str) -> MappingProxyType:
    return MappingProxyType({k: MappingProxyType(v) for k, v in _DATA[name].items()})


#: Figure and report strings by key; templates use ``str.format`` fields.
LABELS = _table("labels")
#: Lifecycle events of the event log by name (see ``gridsim.model.vocabulary.EVENT_CODES``).
EVENT_LABELS = _table("events")
#: Kinds of handling unit (``grid``, ``microgrid``, ``town_desk`` ...).
KIND_LABELS = _table("kinds")
#: Sweep factors by dotted override path.
FACTOR_LABELS = _table("factors")
#: Factor levels and variant names that are translated (policy names, true/false).
VALUE_LABELS = _table("values")
#: Channel and role names used when no scenario is at hand.
DEFAULT_CHANNELS = _table("channels")
DEFAULT_ROLES = _table("roles")
#: Strings of the claims table (``gridsim validate --claims``): figure, Markdown, printout.
CLAIM_LABELS = _table("claims")


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is a supported figure language, else raise ValueError.

    Example:
        >>> check_lang("zh")
        'zh'
    """
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
    return lang


def lookup(table: Mapping[str, Mapping[str, str]], key: str, lang: str) -> str:
    """The entry ``key`` of a label table in ``lang``; a key the table lacks stays as it is.

    Example:
        >>> lookup(VALUE_LABELS, "baseline", "zh"), lookup(VALUE_LABELS, "my_variant", "zh")
        ('基线', 'my_variant')
    """
    entry = table.get(key)
    return entry[lang] if entry else key


def value_label(value: Any, lang: str) -> str:
    """Display form of a factor level or variant name (policy names are translated).

    Example:
        >>> value_label("strict_ladder", "zh"), value_label(0.25, "en")
        ('逐级上报', '0.25')
    """
    check_lang(lang)
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return lookup(VALUE_LABELS, text, lang)
