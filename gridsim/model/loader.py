"""Reading scenario files: TOML, dotted overrides, cross-field checks, one-line errors.

:func:`load_scenario` reads a TOML file; :func:`scenario_from_dict` validates a parsed
mapping against the schema (``gridsim.model.scenario``) and then checks what a schema cannot
express (every name used is defined, shares sum to one ...); :func:`with_overrides` makes a
changed copy of a scenario from dotted paths, and :func:`parse_assignment` and
:func:`load_with_sets` read the command line's ``--set path=value``. Every problem is a
:class:`~gridsim.model.scenario.ScenarioError` with a one-line message naming the file, the
field and what was expected.
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from gridsim.errors import UserError
from gridsim.model.calendar import calendar_hours_per_week
from gridsim.model.scenario import Scenario, ScenarioError
from gridsim.model.vocabulary import DESKS, LEVELS

#: A dotted scenario path as ``--set`` and experiment factors accept it.
DOTTED_PATH = re.compile(r"^[A-Za-z0-9_*]+(\.[A-Za-z0-9_*]+)*$")

#: The schema version this gridsim reads (``schema_version`` of a scenario file).
SCHEMA_VERSION = 2
#: What changed from version 1 to 2, said once where a version-1 file is refused.
VERSION_1_CHANGES = (
    "a version-1 file; gridsim 0.3 settles orders by capability (categories' "
    "`complexity` and the [capability] section replace `authority` shares), gives roles an "
    "hours budget and duties (`hours_per_week`, `task_hours_per_week`, `duties`), makes Party "
    "members residents ([party], not a staff role) and adds [visits], [noticing] and "
    "[supervision]; update the file and set schema_version = 2 "
    "(scenarios/pingyi_baseline.toml shows every field)"
)
#: Fields of version 1 that version 2 no longer reads: (record list, field) -> what to use.
REMOVED_FIELDS: dict[tuple[str, str], str] = {
    ("categories", "authority"): (
        "no longer a field: gridsim 0.3 settles by capability: use `complexity` (log-odds "
        "subtracted from a unit's capability, see [capability] level_base) instead of "
        "authority shares"
    ),
}
#: Per-level tables, by section: their keys must be levels.
LEVEL_TABLES: dict[str, tuple[str, ...]] = {
    "levels": ("handling_factor", "time_limit_hours"),
    "capability": ("level_base",),
}
#: A role name that version 2 keeps for the Party: its members are [party], not staff.
PARTY_ROLE = "party_member"


def with_overrides(
    scenario: Scenario, overrides: dict[str, Any], source: str = "<overrides>"
) -> Scenario:
    """A new scenario with dotted-path fields replaced, validated like a file.

    A list of keyed records (``categories``, ``channels``, ``departments``,
    ``county.towns``) is addressed by key or name: ``categories.land_dispute.urgent_share``.
    ``*`` addresses every element: ``categories.*.report_probability``.

    Example:
        >>> s = load_scenario("scenarios/one_town.toml")
        >>> with_overrides(s, {"grids.households_per_grid": 300}).grids.households_per_grid
        300.0
    """
    data = scenario.model_dump(mode="json")  # plain lists and dicts, ready to edit
    for path, value in overrides.items():
        _set_dotted(data, path, value, source)
    return scenario_from_dict(data, source)


def _set_dotted(data: dict, path: str, value: Any, source: str) -> None:
    parts = path.split(".")
    targets: list[Any] = [data]
    for i, part in enumerate(parts[:-1]):
        nxt: list[Any] = []
        for node in targets:
            nxt.extend(_step(node, part, ".".join(parts[: i + 1]), source))
        targets = nxt
    last = parts[-1]
    for node in targets:
        if isinstance(node, list):
            if not isinstance(value, dict):
                raise ScenarioError(source, path, "a table (a whole record), not a single value")
            for item in _step(node, last, path, source):
                item.clear()
                item.update(value)
            continue
        if not isinstance(node, dict) or (last not in node and not _is_open_mapping(node)):
            raise ScenarioError(source, path, "a field that exists in the scenario schema")
        node[last] = copy.deepcopy(value)


def _is_open_mapping(node: dict) -> bool:
    # Free-form tables (skills, head counts, desks) may gain new keys; records may not.
    return "key" not in node and "name" not in node and "distribution" not in node


def _step(node: Any, part: str, where: str, source: str) -> list[Any]:
    if isinstance(node, dict):
        if part not in node:
            raise ScenarioError(source, where, "a field that exists in the scenario schema")
        return [node[part]]
    if isinstance(node, list):
        if part == "*":
            return list(node)
        for item in node:
            if isinstance(item, dict) and part in (item.get("key"), item.get("name")):
                return [item]
        raise ScenarioError(source, where, f"a key of one of the listed records, not {part!r}")
    raise ScenarioError(source, where, "a table, not a single value")


def _format_location(loc: tuple[int | str, ...], data: Any) -> str:
    out = ""
    node = data
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("distribution") == part:
            continue  # the family pydantic chose by the table's tag, not a field of the file
        if isinstance(part, int):
            name = None
            if isinstance(node, list) and part < len(node) and isinstance(node[part], dict):
                name = node[part].get("key") or node[part].get("name")
            out += f"[{part}]" if name is None else f"[{part}:{name}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
        else:
            out += ("." if out else "") + str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def describe_validation_error(err: ErrorDetails, data: Any) -> tuple[str, str]:
    """The field (dotted, records named by key) and the expectation of a pydantic error.

    Example:
        >>> try:
        ...     scenario_from_dict({"meta": {"name": "x", "horizon_dayz": 1}})
        ... except ScenarioError as err:
        ...     print(err.field, "|", err.expected)
        meta.horizon_dayz | unknown field (check its spelling against `gridsim schema`)
    """
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
    field = _format_location(loc, data)
    kind = err["type"]
    msg = err["msg"].removeprefix("Value error, ")
    ctx = err.get("ctx", {})
    removed = _removed_field(loc)
    if kind == "extra_forbidden" and removed:
        return field, removed
    if kind == "value_error" and len(loc) == 1 and loc[0] in LEVEL_TABLES:
        unknown = _unknown_level(data, str(loc[0]))
        if unknown:
            return unknown, f"a level among {', '.join(LEVELS)}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        # A distribution's family is its tag: report it as the field it is in the file.
        field += "." + str(ctx.get("discriminator", "")).strip("'")
        if kind == "union_tag_not_found":
            return field, "required field is missing"
        return field, f"expected: input should be {ctx['expected_tags']} (got {ctx['tag']!r})"
    if kind == "missing":
        return field, "required field is missing"
    if kind == "extra_forbidden":
        return field, "unknown field (check its spelling against `gridsim schema`)"
    given = err.get("input")
    shown = "" if isinstance(given, (dict, list)) else f" (got {given!r})"
    return field, f"expected: {msg[0].lower() + msg[1:]}{shown}"


def _removed_field(loc: tuple[int | str, ...]) -> str:
    """What to use instead, when ``loc`` is a field of a record that version 2 removed."""
    if len(loc) == 3 and isinstance(loc[1], int):
        return REMOVED_FIELDS.get((str(loc[0]), str(loc[2])), "")
    return ""


def _unknown_level(data: Any, section: str) -> str:
    """The dotted path of the first key of a per-level table of ``section`` that is no level."""
    node = data.get(section) if isinstance(data, dict) else None
    for table in LEVEL_TABLES[section]:
        values = node.get(table) if isinstance(node, dict) else None
        for key in values if isinstance(values, dict) else ():
            if key not in LEVELS:
                return f"{section}.{table}.{key}"
    return ""


def _first_error(errors: list[ErrorDetails]) -> ErrorDetails:
    """The error to report: a field version 2 removed (it explains the most), else the first."""
    for err in errors:
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        if err["type"] == "extra_forbidden" and _removed_field(loc):
            return err
    return errors[0]


def _check_version(data: dict, source: str) -> None:
    """Refuse a version-1 file with what changed (any other wrong version: the schema's words)."""
    version = data.get("schema_version")
    if type(version) is int and version == 1:
        raise ScenarioError(
            source, "schema_version", f"expected {SCHEMA_VERSION}, got 1: {VERSION_1_CHANGES}"
        )


def _check_references(s: Scenario, source: str) -> None:
    """Cross-field checks that a schema cannot express: every name used must be defined."""
    keyed = (
        ("categories", [c.key for c in s.categories]),
        ("channels", [c.key for c in s.channels]),
        ("departments", [d.key for d in s.departments]),
        ("county.towns", [t.name for t in s.county.towns]),
    )
    for kind, keys in keyed:
        dup = {k for k in keys if keys.count(k) > 1}
        if dup:
            raise ScenarioError(source, kind, f"unique keys, but {sorted(dup)} repeat")
    departments = {d.key for d in s.departments}
    for name, role in s.roles.items():
        if role.calendar not in s.calendars and role.calendar != "always":
            raise ScenarioError(
                source,
                f"roles.{name}.calendar",
                f"one of the calendars defined ({', '.join(s.calendars)}, always), "
                f"not {role.calendar!r}",
            )
        _check_budget(s, name, source)
    staff_roles: list[tuple[str, str]] = [(f"staffing.grid.{r}", r) for r in s.staffing.grid]
    staff_roles += [(f"staffing.microgrid.{r}", r) for r in s.staffing.microgrid]
    for name in ("exclusive_grid_role", "town_desk_role", "county_desk_role", "department_role"):
        staff_roles.append((f"staffing.{name}", getattr(s.staffing, name)))
    for where, staff_role in staff_roles:
        if staff_role not in s.roles:
            raise ScenarioError(source, where, f"a role defined under [roles], not {staff_role!r}")
    for i, cat in enumerate(s.categories):
        where = f"categories[{i}:{cat.key}]"
        if cat.department not in departments:
            raise ScenarioError(
                source,
                f"{where}.department",
                f"one of {', '.join(sorted(departments))}, not {cat.department!r}",
            )
        for dep in cat.joint.departments:
            if dep not in departments:
                raise ScenarioError(
                    source,
                    f"{where}.joint.departments",
                    f"departments among {', '.join(sorted(departments))}, not {dep!r}",
                )
    for centre_field in ("town_desks_per_100k_residents", "county_desks"):
        desks = getattr(s.centre, centre_field)
        for desk in desks:
            if desk not in DESKS:
                raise ScenarioError(
                    source, f"centre.{centre_field}.{desk}", f"a desk among {', '.join(DESKS)}"
                )
        if sum(desks.values()) == 0:
            raise ScenarioError(source, f"centre.{centre_field}", "at least one staffed desk")
    for visitor, planned in s.proactive.visits_per_household_per_month.items():
        where = f"proactive.visits_per_household_per_month.{visitor}"
        if visitor not in s.roles:
            raise ScenarioError(source, where, "a defined role")
        if planned > 0 and "visit" not in s.roles[visitor].duties:
            raise ScenarioError(
                source, where, f"a role with the visit duty (roles.{visitor}.duties lacks visit)"
            )
    _check_party(s, source)
    total = sum(c.share for c in s.channels)
    if abs(total - 1) > 1e-6:
        raise ScenarioError(
            source, "channels.share", f"shares summing to 1 (they sum to {total:g})"
        )
    if not any(not c.needs_smartphone for c in s.channels):
        raise ScenarioError(source, "channels", "at least one channel usable without a smartphone")
    if s.meta.warmup_days >= s.meta.horizon_days:
        raise ScenarioError(source, "meta.warmup_days", "a warm-up shorter than horizon_days")
    if s.staffing.grid.get(s.incentives.ranking_role) is None and (
        s.incentives.ranking_role not in s.roles
    ):
        raise ScenarioError(source, "incentives.ranking_role", "a defined role")
    if any(c.origin == "exclusive" for c in s.categories):
        ex = s.grids.exclusive
        if ex.markets + ex.enterprises + ex.business_districts == 0:
            raise ScenarioError(
                source, "grids.exclusive", "at least one exclusive grid for exclusive categories"
            )


def _check_budget(s: Scenario, name: str, source: str) -> None:
    """A role's hours budget fits its calendar, and its other tasks fit the budget."""
    role = s.roles[name]
    week = calendar_hours_per_week(s, role.calendar)
    if role.hours_per_week is not None and role.hours_per_week > week + 1e-9:
        raise ScenarioError(
            source,
            f"roles.{name}.hours_per_week",
            f"at most the {week:g} hours a week of the calendar {role.calendar!r} "
            f"(got {role.hours_per_week:g})",
        )
    budget = role.availability * week if role.hours_per_week is None else role.hours_per_week
    if role.task_hours_per_week > budget + 1e-9:
        raise ScenarioError(
            source,
            f"roles.{name}.task_hours_per_week",
            f"at most the role's hours budget of {budget:g} a week "
            f"(availability {role.availability:g} of the calendar's {week:g} hours; "
            f"got {role.task_hours_per_week:g})",
        )


def _check_party(s: Scenario, source: str) -> None:
    """The Party's members are [party], not a role; the roles it names exist."""
    if PARTY_ROLE in s.roles:
        raise ScenarioError(
            source,
            f"roles.{PARTY_ROLE}",
            "no staff role of that name: gridsim 0.3 models party members as residents linked "
            "to households, set by [party] (members_per_100_households, hours_per_month)",
        )
    p = s.party
    if p.in_service_members_per_urban_microgrid > 0 and p.in_service_role not in s.roles:
        raise ScenarioError(
            source,
            "party.in_service_role",
            f"a role defined under [roles], not {p.in_service_role!r}",
        )
    if p.volunteer_mobilisation > 0:
        for role in p.mobilised_roles:
            if role not in s.roles:
                raise ScenarioError(
                    source, "party.mobilised_roles", f"roles defined under [roles], not {role!r}"
                )


def scenario_from_dict(data: dict, source: str = "<scenario>") -> Scenario:
    """Validate a parsed scenario mapping; raise :class:`ScenarioError` on the first problem.

    Example:
        >>> import tomllib
        >>> with open("scenarios/one_town.toml", "rb") as f:
        ...     s = scenario_from_dict(tomllib.load(f))
        >>> s.meta.name != ""
        True
    """
    if isinstance(data, dict):
        _check_version(data, source)
    try:
        scenario = Scenario.model_validate(data, strict=True)
    except ValidationError as exc:
        field, expected = describe_validation_error(_first_error(exc.errors()), data)
        raise ScenarioError(source, field, expected) from None
    _check_references(scenario, source)
    return scenario


def read_toml(
    path: Path,
    error: type[UserError] = ScenarioError,
    what: str = "scenario",
    too_deep: str = "TOML nested at most a few levels deep",
) -> tuple[dict[str, Any], str]:
    """A user's TOML file as a dict and its text, or one line saying what is wrong with it.

    The scenario, experiment and claims readers share it: a missing file, bytes that are not
    UTF-8, bad TOML and nesting deep enough to exhaust the parser's recursion each raise
    ``error(path, "", expected)``, never a traceback.

    Example:
        >>> data, text = read_toml(Path("scenarios/one_town.toml"))
        >>> data["meta"]["name"], text.startswith("#")
        ('One Pingyi-like town', True)
    """
    if not path.is_file():
        raise error(path, "", f"no such file (expected a TOML {what} file)")
    try:
        text = path.read_bytes().decode("utf-8")
        return tomllib.loads(text), text
    except UnicodeDecodeError:
        raise error(path, "", "a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(path, "", f"valid TOML ({exc})") from None
    except RecursionError:  # tomllib recurses once per level of nesting
        raise error(path, "", too_deep) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a TOML scenario file.

    Args:
        path: the ``.toml`` file.

    Returns:
        The validated, immutable scenario.

    Raises:
        ScenarioError: the file is missing, not TOML, or does not fit the schema. The
            message names the file, the field and what was expected, on one line.

    Example:
        >>> s = load_scenario("scenarios/one_town.toml")
        >>> len(s.county.towns)
        1
    """
    path = Path(path)
    data, text = read_toml(path)
    if not text.strip():
        raise ScenarioError(path, "", "the file is empty (expected a TOML scenario)")
    if not data:
        raise ScenarioError(path, "", "the file has no settings (expected a TOML scenario)")
    return scenario_from_dict(data, str(path))


def json_schema() -> dict:
    """The JSON schema of scenario files (what ``gridsim schema`` prints).

    Example:
        >>> sorted(json_schema()["$defs"]["Lognormal"]["required"])
        ['median', 'sigma']
    """
    return Scenario.model_json_schema()


# ------------------------------------------------------------------ command-line overrides


def parse_value(text: str) -> Any:
    """A command-line value read as a TOML value; a bare word that is no TOML value is text.

    Numbers, booleans, quoted strings, arrays and inline tables are TOML's; ``strict_ladder``
    (not TOML without quotes) is the string it spells. Anything else that starts like an
    array, table or quoted string but does not parse is refused (``ValueError``).

    Example:
        >>> parse_value("30"), parse_value("0.5"), parse_value("true"), parse_value("[1, 2]")
        (30, 0.5, True, [1, 2])
        >>> parse_value("strict_ladder"), parse_value('"a b"'), parse_value("{a = 1}")
        ('strict_ladder', 'a b', {'a': 1})
    """
    stripped = text.strip()
    try:
        return tomllib.loads(f"v = {stripped}")["v"]
    except tomllib.TOMLDecodeError as exc:
        if not stripped or stripped[0] in "[{\"'" or "\n" in stripped:
            raise ValueError(f"a TOML value ({exc})") from None
        return stripped


def parse_assignment(text: str, option: str = "--set") -> tuple[str, Any]:
    """``path=value`` from the command line: a dotted scenario path and a TOML value.

    Raises:
        UserError: no ``=``, a malformed path or value; one line naming ``option``.

    Example:
        >>> parse_assignment("grids.rural_households_per_microgrid=30")
        ('grids.rural_households_per_microgrid', 30)
        >>> try:
        ...     parse_assignment("grids.x")
        ... except UserError as err:
        ...     print(err.field, "|", err.expected)
        --set 'grids.x' | expected path=value, e.g. grids.households_per_grid=300
    """
    path, eq, value = text.partition("=")
    path = path.strip()
    if not eq:
        raise UserError("", f"{option} {text!r}",
                        "expected path=value, e.g. grids.households_per_grid=300")  # fmt: skip
    if not DOTTED_PATH.match(path):
        raise UserError("", f"{option} {text!r}",
                        "expected a dotted scenario path before '=' (letters, digits, _ and .)")
    try:
        return path, parse_value(value)
    except ValueError as exc:
        raise UserError("", f"{option} {path}", f"expected {exc}") from None


def parse_assignments(texts: Sequence[str], option: str = "--set") -> dict[str, Any]:
    """Several ``path=value`` as one override mapping; a path given twice is refused.

    Example:
        >>> parse_assignments(["meta.seed=3", "grids.microgrids=false"])
        {'meta.seed': 3, 'grids.microgrids': False}
    """
    out: dict[str, Any] = {}
    for text in texts:
        path, value = parse_assignment(text, option)
        if path in out:
            raise UserError("", f"{option} {path}", "expected each path once (it is given twice)")
        out[path] = value
    return out


def apply_sets(
    scenario: Scenario, sets: Mapping[str, Any], source: str | Path, option: str = "--set"
) -> Scenario:
    """The scenario with command-line overrides, validated like the file.

    A refusal names the scenario file and the option: ``FILE: --set PATH: expected ...``.

    Example:
        >>> s = load_scenario("scenarios/one_town.toml")
        >>> apply_sets(s, {"grids.households_per_grid": 300}, "x.toml").grids.households_per_grid
        300.0
        >>> try:
        ...     apply_sets(s, {"grids.nope": 3}, "one_town.toml")
        ... except ScenarioError as err:
        ...     print(err.file, "|", err.field)
        one_town.toml | --set grids.nope
    """
    if not sets:
        return scenario
    try:
        return with_overrides(scenario, dict(sets), source=str(source))
    except ScenarioError as err:
        raise ScenarioError(source, f"{option} {err.field}".rstrip(), err.expected) from None


def load_with_sets(path: str | Path, sets: Mapping[str, Any] | None = None) -> Scenario:
    """:func:`load_scenario`, then :func:`apply_sets` (``gridsim run SCENARIO --set ...``).

    Example:
        >>> s = load_with_sets("scenarios/one_town.toml", {"grids.microgrids": False})
        >>> s.grids.microgrids
        False
    """
    return apply_sets(load_scenario(path), sets or {}, path)
