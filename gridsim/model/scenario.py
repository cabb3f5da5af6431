"""Scenario files: the TOML schema, its loader and its one-line error messages.

A scenario is everything that describes a place or a policy: the county's size and grid
granularity, staffing, appeal categories and channels, escalation rules, and the switches
of every governance mechanism. It is validated once, on load, into an immutable
:class:`Scenario`; nothing downstream re-checks it.

Time unit: hours of simulated time, unless a field name says otherwise (``*_days``).
"""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gridsim.errors import UserError
from gridsim.model.vocabulary import DESKS, LEVELS, Desk, IncidentType

NonNeg = Annotated[float, Field(ge=0)]
Pos = Annotated[float, Field(gt=0)]
Prob = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]
Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]


class ScenarioError(UserError):
    """A user's scenario (or experiment) file is wrong; the message is one readable line.

    Attributes:
        file: the file, or ``"<scenario>"`` for an in-memory dict.
        field: dotted location of the offending field (``""`` for the whole file).
        expected: what was expected there, in words.
    """


def _check_profile(profile: list[float] | None, length: int, name: str) -> None:
    if profile is None:
        return
    if len(profile) != length:
        raise ValueError(f"{name} must have {length} values, got {len(profile)}")
    if sum(profile) <= 0:
        raise ValueError(f"{name} must have a positive sum")


class FrozenDict(dict):
    """A dict that refuses changes: the tables a frozen scenario holds."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a Scenario is immutable: build a changed copy with with_overrides()")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self):  # pickling and deepcopy rebuild it from a plain dict
        return (FrozenDict, (dict(self),))


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def Seq(item: Any, **constraints: Any) -> Any:  # noqa: N802  (reads like a type)
    """An immutable sequence field: TOML arrays become tuples."""
    return Annotated[tuple[item, ...], BeforeValidator(_as_tuple), Field(**constraints)]


def Table(key: Any, value: Any) -> Any:  # noqa: N802  (reads like a type)
    """An immutable mapping field: TOML tables become FrozenDicts."""
    return Annotated[dict[key, value], AfterValidator(FrozenDict)]


class Strict(BaseModel):
    """Base for every section: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, validate_default=True
    )


# --------------------------------------------------------------------------- sections


class Meta(Strict):
    """Name, horizon and default seed of a scenario."""

    name: str
    description: str = ""
    horizon_days: Pos = 365
    warmup_days: NonNeg = 0
    seed: Count = 20240101


class Town(Strict):
    """A town or street (镇街)."""

    name: str
    name_zh: str = ""
    population: Annotated[int, Field(gt=0)]
    urban: bool = False


class County(Strict):
    """The county and its towns."""

    name: str
    name_zh: str = ""
    persons_per_household: Pos = 2.9
    area_km2: NonNeg = 0
    towns: Seq(Town, min_length=1)


class ExclusiveGrids(Strict):
    """Exclusive grids (专属网格): counts per kind, spread over towns by population."""

    markets: Count = 0
    enterprises: Count = 0
    business_districts: Count = 0
    workers_per_grid: Annotated[int, Field(ge=1)] = 2


class Grids(Strict):
    """Grid granularity: the knobs behind 'finer grids'."""

    households_per_grid: Annotated[float, Field(gt=0)] = 400
    rural_households_per_microgrid: Annotated[float, Field(gt=0)] = 50
    urban_households_per_microgrid: Annotated[float, Field(gt=0)] = 40
    exclusive: ExclusiveGrids = ExclusiveGrids()


class Calendar(Strict):
    """A weekly working calendar: the same hours on each listed weekday (Monday = 0)."""

    workdays: Seq(Annotated[int, Field(ge=0, le=6)]) = (0, 1, 2, 3, 4)
    start_hour: Annotated[float, Field(ge=0, le=24)] = 8.5
    end_hour: Annotated[float, Field(ge=0, le=24)] = 17.5

    @model_validator(mode="after")
    def _start_before_end(self) -> Calendar:
        if self.end_hour <= self.start_hour:
            raise ValueError("end_hour must be after start_hour")
        if not self.workdays:
            raise ValueError("workdays must list at least one weekday (0 = Monday)")
        return self


class Role(Strict):
    """A staff role: when its members work, how much of that time goes to orders, pay."""

    label_zh: str = ""
    calendar: str = "office"
    availability: Annotated[float, Field(gt=0, le=1)] = 1.0
    wage_yuan_per_year: NonNeg = 0
    female_share: Prob = 0.5
    skills: Table(Key, Prob) = {}


class Staffing(Strict):
    """Head counts: '1+1+1+N' per basic grid, '1+N' per micro-grid, desks, departments."""

    grid: Table(Key, Count) = {"grid_instructor": 1, "grid_leader": 1, "grid_worker": 1}
    microgrid: Table(Key, Count) = {"microgrid_leader": 1, "grid_assistant": 2}
    exclusive_grid_role: Key = "exclusive_grid_worker"
    town_desk_role: Key = "town_officer"
    county_desk_role: Key = "county_officer"
    department_role: Key = "department_officer"
    woman_rule_compliance: Prob = 1.0


class Department(Strict):
    """A county department (县直部门) and how many of its staff are sunk into grids."""

    key: Key
    label_en: str = ""
    label_zh: str = ""
    staff: Annotated[int, Field(ge=1)]
    sunk_staff: Count = 0


class Centre(Strict):
    """One-stop centres (综治中心): four desks, separate queues or one pooled queue."""

    merged_town: bool = False
    merged_county: bool = False
    town_desks_per_100k_residents: Table(str, NonNeg) = {d: 2.0 for d in DESKS}
    county_desks: Table(str, Count) = {d: 4 for d in DESKS}


class Distribution(Strict):
    """A positive random quantity, in hours unless stated.

    ``exponential`` uses ``mean``; ``lognormal`` uses ``median`` and ``sigma``;
    ``gamma`` uses ``mean`` and ``cv``; ``weibull`` uses ``shape`` and ``scale``;
    ``fixed`` uses ``mean``; ``empirical`` uses ``quantiles``: the values at evenly spaced
    probabilities 0, 1/(k-1), ..., 1 (a quantile table, as ``gridsim calibrate`` writes for a
    log that no parametric family fits), sampled by inverse transform with linear
    interpolation between the knots.
    """

    distribution: Literal["exponential", "lognormal", "gamma", "weibull", "fixed", "empirical"]
    mean: Pos | None = None
    median: Pos | None = None
    sigma: Pos | None = None
    cv: Pos | None = None
    shape: Pos | None = None
    scale: Pos | None = None
    quantiles: Seq(NonNeg) | None = None

    @model_validator(mode="after")
    def _parameters_present(self) -> Distribution:
        needed = {
            "exponential": ("mean",),
            "fixed": ("mean",),
            "lognormal": ("median", "sigma"),
            "gamma": ("mean", "cv"),
            "weibull": ("shape", "scale"),
            "empirical": ("quantiles",),
        }[self.distribution]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.distribution} distribution needs {', '.join(needed)}")
        q = self.quantiles
        if q is not None and (len(q) < 2 or any(np.diff(q) < 0) or q[-1] <= 0):
            raise ValueError("quantiles: at least two non-decreasing values, the last positive")
        return self

    def expected(self) -> float:
        """Mean of the distribution."""
        if self.distribution in ("exponential", "fixed", "gamma"):
            return float(self.mean)
        if self.distribution == "lognormal":
            return float(self.median) * math.exp(self.sigma**2 / 2)
        if self.distribution == "empirical":
            q = self.quantiles
            return float(np.mean((np.asarray(q[1:]) + np.asarray(q[:-1])) / 2))
        return float(self.scale) * math.gamma(1 + 1 / self.shape)


class Joint(Strict):
    """Joint handling: some county-level orders need several departments at once."""

    share: Prob = 0.0
    departments: Seq(Key) = ()


class Incident(Strict):
    """Hazard of an unresolved issue turning into a serious incident (Weibull in time)."""

    type: IncidentType
    probability_within_scale: Prob = Field(
        description="P(incident) if the issue stays unresolved for scale_days"
    )
    scale_days: Pos = 90
    shape: Pos = 1.5


class Category(Strict):
    """An appeal category: how often its issues arise and who can resolve them."""

    key: Key
    label_en: str = ""
    label_zh: str = ""
    section: str = ""
    kind: Literal["general", "dispute", "family_dispute", "enterprise"] = "general"
    origin: Literal["residential", "exclusive"] = "residential"
    issues_per_1000_residents_per_year: NonNeg
    households_affected_mean: Annotated[float, Field(ge=1)] = 1.0
    report_probability: Prob = 0.8
    visit_detectability: Prob = 0.5
    authority: Table(str, Prob)

    @field_validator("authority")
    @classmethod
    def _authority_levels(cls, authority: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(authority) - set(LEVELS))
        if unknown:
            raise ValueError(f"levels among {', '.join(LEVELS)}, not {', '.join(unknown)}")
        total = sum(authority.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"shares summing to 1 (they sum to {total:g})")
        return authority

    handling: Distribution
    time_limit_hours: Pos = 168
    department: Key
    desk: Desk | None = None
    needs_woman: bool = False
    skills: Seq(Key) = ()
    urgent_share: Prob = 0.0
    joint: Joint = Joint()
    incident: Incident | None = None
    negative_externality_share: Prob = 0.0
    daily_profile: Seq(NonNeg) | None = None
    weekly_profile: Seq(NonNeg) | None = None

    @model_validator(mode="after")
    def _authority_is_a_distribution(self) -> Category:
        _check_profile(self.daily_profile, 24, "daily_profile")
        _check_profile(self.weekly_profile, 7, "weekly_profile")
        return self


class Channel(Strict):
    """A way an issue becomes an appeal: app, 12345 hotline, walk-in, petition."""

    key: Key
    label_en: str = ""
    label_zh: str = ""
    share: Prob
    needs_smartphone: bool = False
    delay: Distribution
    desk: Desk = "grid_management"
    dispatch_hours: NonNeg = 0


class Residents(Strict):
    """The technology gap: residents without a smartphone cannot use the app."""

    no_smartphone_share: Prob = 0.2
    no_smartphone_concentration: Pos = 20
    no_smartphone_report_factor: Prob = 0.6


class Arrivals(Strict):
    """Default daily (24 values) and weekly (7, Monday first) rate profiles."""

    daily_profile: Seq(NonNeg) = (1.0,) * 24
    weekly_profile: Seq(NonNeg) = (1.0,) * 7

    @model_validator(mode="after")
    def _profile_shapes(self) -> Arrivals:
        _check_profile(self.daily_profile, 24, "daily_profile")
        _check_profile(self.weekly_profile, 7, "weekly_profile")
        return self


class Levels(Strict):
    """Per-level handling-time factors and time limits (hours) for deadline escalation."""

    handling_factor: Table(str, Pos) = {lvl: 1.0 for lvl in LEVELS}
    time_limit_hours: Table(str, Pos) = {"microgrid": 24, "grid": 48, "town": 120, "county": 240}


class Escalation(Strict):
    """The escalation rule and its parameters (see ``gridsim.model.policies``)."""

    policy: Literal["strict_ladder", "direct_triage", "skip_level_urgent", "deadline"] = (
        "strict_ladder"
    )
    attempt_fraction: Prob = 0.3
    redraw_handling: bool = False
    misclassification_rate: Prob = 0.0
    misroute_return_hours: NonNeg = 4.0
    shirking_probability: Prob = 0.0


class Integration(Strict):
    """Appeal integration: reports of one issue merge into one work order."""

    enabled: bool = True
    window_hours: NonNeg = 72


class Proactive(Strict):
    """Proactive handling (未诉先办): household visits and periodic screening."""

    enabled: bool = True
    visits_per_household_per_month: Table(Key, NonNeg) = {}
    hours_per_visit: NonNeg = 0.25
    find_probability: Prob = 0.3
    screening_interval_days: Pos = 30
    screening_find_probability: Prob = 0.0
    max_visit_time_share: Prob = 0.6


class Team(Strict):
    """Team composition rules: a woman for family disputes, skills by category."""

    no_woman_action: Literal["borrow", "escalate"] = "borrow"
    borrow_delay_hours: NonNeg = 24


class Exclusive(Strict):
    """Exclusive grids answer business-environment appeals first."""

    business_priority: bool = True


class Satisfaction(Strict):
    """Logistic satisfaction model and reopening after dissatisfaction."""

    intercept: float = 2.5
    per_day_to_resolve: float = -0.15
    per_escalation: float = -0.2
    on_time: float = 0.5
    proactive: float = 0.3
    declined: float = -2.0
    reopen_probability: Prob = 0.3
    feedback_delay_hours: NonNeg = 24


class Externality(Strict):
    """How minority-interest appeals with a negative externality are handled."""

    minority_negative_policy: Literal["handle", "mediate", "decline"] = "handle"
    mediate_hours_factor: Pos = 1.5
    mediate_hazard_factor: NonNeg = 0.5


class Incentives(Strict):
    """Points, the yearly ten-best list, and the effort response of visits to points."""

    points_per_resolved: NonNeg = 1
    points_per_on_time: NonNeg = 1
    points_per_proactive_find: NonNeg = 2
    yuan_per_point: NonNeg = 0
    effort_elasticity: NonNeg = 0
    effort_reference_yuan: Pos = 10
    ranking_role: Key = "grid_worker"


class Targets(Strict):
    """Performance targets that figures and reports draw against (not used by the model)."""

    share_resolved_in_grid: Prob | None = None
    share_resolved_in_town: Prob | None = None


class Scenario(Strict):
    """A validated, immutable scenario. Build one with :func:`load_scenario`.

    Example:
        >>> from gridsim import load_scenario
        >>> s = load_scenario("scenarios/one_town.toml")
        >>> s.meta.horizon_days > 0
        True
    """

    schema_version: Literal[1] = 1
    meta: Meta
    county: County
    grids: Grids = Grids()
    calendars: Table(Key, Calendar) = {"office": Calendar()}
    roles: Table(Key, Role)
    staffing: Staffing = Staffing()
    departments: Seq(Department, min_length=1)
    centre: Centre = Centre()
    residents: Residents = Residents()
    arrivals: Arrivals = Arrivals()
    channels: Seq(Channel, min_length=1)
    categories: Seq(Category, min_length=1)
    levels: Levels = Levels()
    escalation: Escalation = Escalation()
    integration: Integration = Integration()
    proactive: Proactive = Proactive()
    team: Team = Team()
    exclusive: Exclusive = Exclusive()
    satisfaction: Satisfaction = Satisfaction()
    externality: Externality = Externality()
    incentives: Incentives = Incentives()
    targets: Targets = Targets()

    @property
    def population(self) -> int:
        """Residents of the county."""
        return sum(t.population for t in self.county.towns)

    def category(self, key: str) -> Category:
        """The category with this key (KeyError if absent)."""
        for cat in self.categories:
            if cat.key == key:
                return cat
        raise KeyError(key)

    def to_toml(self) -> str:
        """The scenario as a TOML file that loads back to an equal scenario.

        Example:
            >>> import tomllib
            >>> from gridsim import load_scenario
            >>> s = load_scenario("scenarios/one_town.toml")
            >>> scenario_from_dict(tomllib.loads(s.to_toml())) == s
            True
        """
        import tomli_w

        return tomli_w.dumps(self.model_dump(mode="json", exclude_none=True))

    def with_overrides(self, overrides: dict[str, Any], source: str = "<overrides>") -> Scenario:
        """A new scenario with dotted-path fields replaced, validated like a file.

        A list of keyed records (``categories``, ``channels``, ``departments``,
        ``county.towns``) is addressed by key or name: ``categories.land_dispute.urgent_share``.
        ``*`` addresses every element: ``categories.*.report_probability``.

        Example:
            >>> from gridsim import load_scenario
            >>> s = load_scenario("scenarios/one_town.toml")
            >>> s.with_overrides({"grids.households_per_grid": 300}).grids.households_per_grid
            300.0
        """
        data = self.model_dump(mode="json")  # plain lists and dicts, ready to edit
        for path, value in overrides.items():
            _set_dotted(data, path, value, source)
        return scenario_from_dict(data, source)


# --------------------------------------------------------------------------- loading


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


def _format_location(loc: tuple, data: Any) -> str:
    out = ""
    node = data
    for part in loc:
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


def _describe_error(err: dict, data: Any) -> tuple[str, str]:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
    field = _format_location(loc, data)
    kind = err["type"]
    msg = err["msg"].removeprefix("Value error, ")
    if kind == "missing":
        return field, "required field is missing"
    if kind == "extra_forbidden":
        return field, "unknown field (check its spelling against `gridsim schema`)"
    given = err.get("input")
    shown = "" if isinstance(given, (dict, list)) else f" (got {given!r})"
    return field, f"expected: {msg[0].lower() + msg[1:]}{shown}"


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
    for i, role in enumerate(s.roles.values()):
        if role.calendar not in s.calendars and role.calendar != "always":
            name = list(s.roles)[i]
            raise ScenarioError(
                source,
                f"roles.{name}.calendar",
                f"one of the calendars defined ({', '.join(s.calendars)}, always), "
                f"not {role.calendar!r}",
            )
    staff_roles = [(f"staffing.grid.{r}", r) for r in s.staffing.grid]
    staff_roles += [(f"staffing.microgrid.{r}", r) for r in s.staffing.microgrid]
    for name in ("exclusive_grid_role", "town_desk_role", "county_desk_role", "department_role"):
        staff_roles.append((f"staffing.{name}", getattr(s.staffing, name)))
    for where, role in staff_roles:
        if role not in s.roles:
            raise ScenarioError(source, where, f"a role defined under [roles], not {role!r}")
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
    for lvl_field in ("handling_factor", "time_limit_hours"):
        for lvl in getattr(s.levels, lvl_field):
            if lvl not in LEVELS:
                raise ScenarioError(
                    source, f"levels.{lvl_field}.{lvl}", f"a level among {', '.join(LEVELS)}"
                )
    for role in s.proactive.visits_per_household_per_month:
        if role not in s.roles:
            raise ScenarioError(
                source, f"proactive.visits_per_household_per_month.{role}", "a defined role"
            )
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


def scenario_from_dict(data: dict, source: str = "<scenario>") -> Scenario:
    """Validate a parsed scenario mapping; raise :class:`ScenarioError` on the first problem.

    Example:
        >>> import tomllib
        >>> from gridsim.model.scenario import scenario_from_dict
        >>> with open("scenarios/one_town.toml", "rb") as f:
        ...     s = scenario_from_dict(tomllib.load(f))
        >>> s.meta.name != ""
        True
    """
    try:
        scenario = Scenario.model_validate(data, strict=True)
    except ValidationError as exc:
        field, expected = _describe_error(exc.errors()[0], data)
        raise ScenarioError(source, field, expected) from None
    _check_references(scenario, source)
    return scenario


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
        >>> from gridsim import load_scenario
        >>> s = load_scenario("scenarios/one_town.toml")
        >>> len(s.county.towns)
        1
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(path, "", "no such file (expected a TOML scenario file)")
    text = path.read_bytes()
    if not text.strip():
        raise ScenarioError(path, "", "the file is empty (expected a TOML scenario)")
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ScenarioError(path, "", "a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, "", f"valid TOML ({exc})") from None
    if not data:
        raise ScenarioError(path, "", "the file has no settings (expected a TOML scenario)")
    return scenario_from_dict(data, str(path))


def json_schema() -> dict:
    """The JSON schema of scenario files (what ``gridsim schema`` prints)."""
    return Scenario.model_json_schema()
