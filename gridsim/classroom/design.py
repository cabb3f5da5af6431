"""The classroom page's design file: controls, their levels, the KPIs shown, the texts.

The shipped design is ``gridsim/classroom/design.toml``. Each control (micro-grid size,
full-time grid workers, Party embedding, visits, escalation rule, one-stop centre) has
levels, and each level is a set of scenario overrides (dotted paths, as in an experiment
file). The page's baseline for a control is the level the scenario already has; when no
level matches, a level "as in the scenario" (no overrides) is added and is the baseline.

Example:
    >>> from gridsim.model.loader import load_scenario
    >>> design = load_design()
    >>> [c.key for c in design.controls][:3]
    ['microgrid', 'workers', 'party']
    >>> scenario = load_scenario("scenarios/one_town.toml")
    >>> [c.levels[c.baseline_index(scenario)].key for c in design.controls]
    ['medium', 'one', 'partial', 'on', 'triage', 'separate']
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gridsim.errors import UserError
from gridsim.kpi_registry import kpi
from gridsim.model.scenario import Scenario

__all__ = ["DESIGN_FILE", "Control", "Design", "Level", "load_design", "scenario_value"]

#: The shipped design file.
DESIGN_FILE = Path(__file__).with_name("design.toml")

#: Designs the builder knows.
DESIGNS = ("ofat", "factorial")


@dataclass(frozen=True)
class Level:
    """One level of a control.

    Attributes:
        key: short key (``"small"``), unique in its control.
        label: display text by language (``{"zh": ..., "en": ...}``).
        overrides: ``{dotted scenario path: value}``.
    """

    key: str
    label: dict[str, str]
    overrides: dict[str, Any]


@dataclass(frozen=True)
class Control:
    """One control of the page (a factor of the sweep).

    Attributes:
        key: short key (``"visits"``).
        label: display name by language.
        help: one-sentence explanation by language.
        levels: the levels, in display order.
    """

    key: str
    label: dict[str, str]
    help: dict[str, str]
    levels: tuple[Level, ...]

    def baseline_index(self, scenario: Scenario) -> int:
        """Index of the level whose every override the scenario already has (-1: none).

        Example:
            >>> from gridsim.model.loader import load_scenario
            >>> s = load_scenario("scenarios/one_town.toml")
            >>> load_design().control("escalation").baseline_index(s)
            1
        """
        data = scenario.model_dump(mode="json")
        for i, level in enumerate(self.levels):
            if all(_same(scenario_value(data, p), v) for p, v in level.overrides.items()):
                return i
        return -1

    def with_scenario_level(self, scenario: Scenario) -> Control:
        """The control with an "as in the scenario" level first when no level matches.

        Example:
            >>> from gridsim.model.loader import load_scenario, with_overrides
            >>> s = with_overrides(load_scenario("scenarios/one_town.toml"),
            ...                    {"grids.rural_households_per_microgrid": 45})
            >>> c = load_design().control("microgrid").with_scenario_level(s)
            >>> c.levels[0].key, c.baseline_index(s)
            ('scenario', 0)
        """
        if self.baseline_index(scenario) >= 0:
            return self
        own = Level("scenario", {"zh": "本情景原值", "en": "As in the scenario"}, {})
        return replace(self, levels=(own, *self.levels))


@dataclass(frozen=True)
class Design:
    """The whole design file.

    Attributes:
        path: where it was read from.
        design: ``"ofat"`` or ``"factorial"``.
        days: simulated days per run.
        warmup_days: days left out of the KPIs.
        replications: replications per variant.
        seed: root seed (replication ``r`` of every variant shares its random numbers).
        reform_experiment: experiment file holding the before-the-reform variant.
        reform_variant: that variant's name.
        controls: the controls.
        cards: KPIs of the cards.
        figures: KPI lists by figure name.
        concepts: explanations (``title_zh``, ``title_en``, ``text_zh``, ``text_en``).
    """

    path: Path
    design: str
    days: float
    warmup_days: float
    replications: int
    seed: int
    reform_experiment: str
    reform_variant: str
    controls: tuple[Control, ...]
    cards: tuple[str, ...]
    figures: dict[str, tuple[str, ...]]
    concepts: tuple[dict[str, str], ...]

    def control(self, key: str) -> Control:
        """The control with this key (``KeyError`` if none)."""
        for c in self.controls:
            if c.key == key:
                return c
        raise KeyError(key)

    def kpi_names(self) -> list[str]:
        """Every KPI the page shows, cards first, without repeats."""
        names = list(self.cards)
        for group in self.figures.values():
            names.extend(n for n in group if n not in names)
        return names


def scenario_value(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of a dumped scenario (keyed lists by key); None if absent.

    Example:
        >>> scenario_value({"grids": {"households_per_grid": 400}}, "grids.households_per_grid")
        400
        >>> scenario_value({"channels": [{"key": "app", "share": 0.4}]}, "channels.app.share")
        0.4
    """
    node: Any = data
    for part in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list):
            node = next(
                (
                    x
                    for x in node
                    if isinstance(x, Mapping) and part in (x.get("key"), x.get("name"))
                ),
                None,
            )
        else:
            return None
    return node


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def _need(table: Mapping[str, Any], name: str, kind: type | tuple[type, ...], where: str,
          source: Path, what: str) -> Any:  # fmt: skip
    value = table.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise UserError(source, f"{where}{name}", what)
    return value


def _texts(table: Mapping[str, Any], stem: str, where: str, source: Path) -> dict[str, str]:
    return {
        lang: _need(table, f"{stem}_{lang}", str, where, source, "a text") for lang in ("zh", "en")
    }


def _levels(control: Mapping[str, Any], where: str, source: Path) -> tuple[Level, ...]:
    raw = control.get("levels")
    if not isinstance(raw, list) or len(raw) < 2:
        raise UserError(source, f"{where}levels", "at least two [[controls.levels]] tables")
    levels = []
    for j, lv in enumerate(raw):
        at = f"{where}levels[{j}]."
        overrides = _need(lv, "overrides", dict, at, source, "a table of scenario overrides")
        key = _need(lv, "key", str, at, source, "a short key")
        levels.append(Level(key, _texts(lv, "label", at, source), dict(overrides)))
    if len({lv.key for lv in levels}) != len(levels):
        raise UserError(source, f"{where}levels", "distinct level keys")
    return tuple(levels)


def load_design(path: str | Path | None = None) -> Design:
    """Read and check a design file (default: the shipped one).

    Raises:
        UserError: the file is missing, not TOML, or a field is missing or of the wrong
            kind; one line naming the file, the field and the expectation.

    Example:
        >>> load_design().design, load_design().replications >= 2
        ('ofat', True)
    """
    source = Path(path) if path is not None else DESIGN_FILE
    try:
        data = tomllib.loads(source.read_text("utf-8"))
    except FileNotFoundError:
        raise UserError(source, "", "an existing classroom design file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(source, "", f"a TOML file ({exc})") from None
    page = _need(data, "page", dict, "", source, "a [page] table")
    design = _need(page, "design", str, "page.", source, f"one of {', '.join(DESIGNS)}")
    if design not in DESIGNS:
        raise UserError(source, "page.design", f"one of {', '.join(DESIGNS)}, got {design!r}")
    controls = []
    for i, c in enumerate(_need(data, "controls", list, "", source, "[[controls]] tables")):
        at = f"controls[{i}]."
        controls.append(
            Control(
                key=_need(c, "key", str, at, source, "a short key"),
                label=_texts(c, "label", at, source),
                help=_texts(c, "help", at, source),
                levels=_levels(c, at, source),
            )
        )
    cards = tuple(_need(_need(data, "cards", dict, "", source, "a [cards] table"), "kpis",
                        list, "cards.", source, "a list of KPI names"))  # fmt: skip
    figures = {
        str(k): tuple(v)
        for k, v in _need(data, "figures", dict, "", source, "a [figures] table").items()
    }
    for name in [*cards, *(n for v in figures.values() for n in v)]:
        try:
            kpi(str(name))
        except KeyError:
            raise UserError(source, "cards/figures", f"KPI names of kpis.toml ({name!r})") from None
    concepts = tuple(
        {
            f"{k}_{lang}": _need(c, f"{k}_{lang}", str, f"concepts[{i}].", source, "a text")
            for k in ("title", "text")
            for lang in ("zh", "en")
        }  # fmt: skip
        for i, c in enumerate(data.get("concepts", []))
    )
    num = (int, float)
    return Design(
        path=source,
        design=design,
        days=float(_need(page, "days", num, "page.", source, "a number of days")),
        warmup_days=float(_need(page, "warmup_days", num, "page.", source, "a number of days")),
        replications=_need(page, "replications", int, "page.", source, "an integer"),
        seed=_need(page, "seed", int, "page.", source, "an integer seed"),
        reform_experiment=_need(page, "reform_experiment", str, "page.", source, "a file"),
        reform_variant=_need(page, "reform_variant", str, "page.", source, "a variant name"),
        controls=tuple(controls),
        cards=tuple(str(c) for c in cards),
        figures=figures,
        concepts=concepts,
    )
