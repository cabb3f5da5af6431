"""The scenario schema: every section of a scenario file, and the immutable :class:`Scenario`.

A scenario is everything that describes a place or a policy: the county's size and grid
granularity, staffing, appeal categories and channels, escalation rules, and the switches
of every governance mechanism. It is validated once, on load (``gridsim.model.loader``), into
an immutable :class:`Scenario`; nothing downstream re-checks it.

Time unit: hours of simulated time, unless a field name says otherwise (``*_days``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from gridsim.errors import UserError
from gridsim.model.distributions import Distribution
from gridsim.model.fields import Count, Key, NonNeg, Pos, Prob, Seq, Strict, Table
from gridsim.model.scenario_sections import (
    Capability,
    Duty,
    Logit,
    Noticing,
    Party,
    Supervision,
    Visits,
    check_levels,
)
from gridsim.model.vocabulary import DESKS, LEVELS, Desk, IncidentType

# Physical upper bounds: a value past them is a typo, not a place (the resource guard,
# gridsim.model.guard, bounds what fits in memory; these bound what can exist).
#: Residents of one town: more than any city on Earth.
MAX_TOWN_POPULATION = 100_000_000
#: A century: no rate stays constant that long.
MAX_HORIZON_DAYS = 36_500
#: Staff of one unit (a grid's, a micro-grid's, a desk's, a department's head count).
MAX_HEADS = 1_000_000
#: Issues per 1,000 residents per year: one per resident per hour.
MAX_RATE = 1000 * 8760
#: Yuan a year for one person's pay: a billion (more would overflow the cost tables' sums).
MAX_WAGE = 1e9
#: Households one issue affects on average: the households of a large county.
MAX_HOUSEHOLDS_AFFECTED = 1_000_000
#: Persons per household.
MAX_HOUSEHOLD = 100
Heads = Annotated[int, Field(ge=0, le=MAX_HEADS)]


def _whole_household(value: float) -> float:
    if value < 1:
        raise ValueError("at least one household")
    return value


#: Households per grid or micro-grid: positive, and at least one whole household.
Households = Annotated[float, Field(gt=0), AfterValidator(_whole_household)]


class ScenarioError(UserError):
    """A user's scenario (or experiment) file is wrong; the message is one readable line.

    Attributes:
        file: the file, or ``"<scenario>"`` for an in-memory dict.
        field: dotted location of the offending field (``""`` for the whole file).
        expected: what was expected there, in words.
    """


def _check_profile(profile: Sequence[float] | None, length: int, name: str) -> None:
    if profile is None:
        return
    if len(profile) != length:
        raise ValueError(f"{name} must have {length} values, got {len(profile)}")
    if sum(profile) <= 0:
        raise ValueError(f"{name} must have a positive sum")


# --------------------------------------------------------------------------- sections


class Meta(Strict):
    """Name, horizon and default seed of a scenario."""

    name: str
    description: str = ""
    horizon_days: Annotated[float, Field(gt=0, le=MAX_HORIZON_DAYS)] = 365
    warmup_days: Annotated[float, Field(ge=0, le=MAX_HORIZON_DAYS)] = 0
    seed: Count = 20240101


class Town(Strict):
    """A town or street (镇街)."""

    name: str
    name_zh: str = ""
    population: Annotated[int, Field(gt=0, le=MAX_TOWN_POPULATION)]
    urban: bool = False


class County(Strict):
    """The county and its towns."""

    name: str
    name_zh: str = ""
    persons_per_household: Annotated[float, Field(ge=1, le=MAX_HOUSEHOLD)] = 2.9
    area_km2: NonNeg = 0
    towns: Annotated[Seq[Town], Field(min_length=1)]


class ExclusiveGrids(Strict):
    """Exclusive grids (专属网格): counts per kind, spread over towns by population."""

    markets: Heads = 0
    enterprises: Heads = 0
    business_districts: Heads = 0
    workers_per_grid: Annotated[int, Field(ge=1, le=MAX_HEADS)] = 2


class Grids(Strict):
    """Grid granularity: the knobs behind 'finer grids'.

    ``microgrids = false`` is the grid before the reform: no micro-grids, issues arise in the
    basic grid and its own staff handle them first.
    """

    # a grid or micro-grid holds at least one household
    microgrids: bool = True
    households_per_grid: Households = 400
    rural_households_per_microgrid: Households = 50
    urban_households_per_microgrid: Households = 40
    exclusive: ExclusiveGrids = ExclusiveGrids()


class Calendar(Strict):
    """A weekly working calendar: the same hours on each listed weekday (Monday = 0)."""

    workdays: Seq[Annotated[int, Field(ge=0, le=6)]] = (0, 1, 2, 3, 4)
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
    """A staff role: when its members can act, their hours budget, their duties, their pay.

    ``hours_per_week`` is a member's budget for grid work; ``task_hours_per_week`` of it goes
    to work that is not appeals (special tasks pushed through the app, patrols, data
    collection). Orders are worked at full pace inside the calendar's hours, so that the rest
    of the budget is spread over it (``availability`` = the budget's share of the calendar,
    used when ``hours_per_week`` is not given). ``duties``: ``resolve`` (takes work orders),
    ``visit`` (household visits, see ``[proactive]``), ``notice`` (building or lane leader:
    notices issues among the households they live with) and ``help`` (helps the micro-grid
    leader with orders and visits). ``training`` is the log-odds a member adds to their
    unit's chance of settling an order (the entrance exam and training of full-time workers).
    """

    label_zh: str = ""
    calendar: str = "office"
    availability: Annotated[float, Field(gt=0, le=1)] = 1.0
    hours_per_week: Annotated[float, Field(gt=0, le=168)] | None = None
    task_hours_per_week: Annotated[float, Field(ge=0, le=168)] = 0.0
    duties: Seq[Duty] = ("resolve",)
    training: Logit = 0.0
    contacts_per_week: Annotated[float, Field(ge=0, le=10_000)] = 0.0
    wage_yuan_per_year: Annotated[float, Field(ge=0, le=MAX_WAGE)] = 0
    female_share: Prob = 0.5
    skills: Table[Key, Prob] = {}

    @model_validator(mode="after")
    def _tasks_fit_budget(self) -> Role:
        if self.hours_per_week is not None and self.task_hours_per_week > self.hours_per_week:
            raise ValueError("task_hours_per_week must not exceed hours_per_week")
        return self


class Staffing(Strict):
    """Head counts: '1+1+1+N' per basic grid, '1+N' per micro-grid, desks, departments."""

    grid: Table[Key, Heads] = {"grid_instructor": 1, "grid_leader": 1, "grid_worker": 1}
    microgrid: Table[Key, Heads] = {"microgrid_leader": 1, "grid_assistant": 2}
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
    staff: Annotated[int, Field(ge=1, le=MAX_HEADS)]
    sunk_staff: Heads = 0


class Centre(Strict):
    """One-stop centres (综治中心): four desks, separate queues or one pooled queue.

    An order that reaches a centre (escalated from a grid, or taken by a desk other than the
    one its category belongs to) is handed over between desks: ``handoff_hours`` with
    separate desks, ``merged_handoff_hours`` in a merged centre with one leader (四方联动).
    ``grid_direct_to_12345``: grid matters go straight onto the 12345 platform (网格事项直报
    12345), so an order escalated from a grid takes the merged hand-off time.
    """

    merged_town: bool = False
    merged_county: bool = False
    handoff_hours: NonNeg = 0.0
    merged_handoff_hours: NonNeg = 0.0
    grid_direct_to_12345: bool = False
    town_desks_per_100k_residents: Table[str, Annotated[float, Field(ge=0, le=100_000)]] = {
        d: 2.0 for d in DESKS
    }  # at most one desk officer per resident
    county_desks: Table[str, Heads] = {d: 4 for d in DESKS}


class Joint(Strict):
    """Joint handling: some county-level orders need several departments at once."""

    share: Prob = 0.0
    departments: Seq[Key] = ()


class Incident(Strict):
    """Hazard of an unresolved issue turning into a serious incident (Weibull in time)."""

    type: IncidentType
    probability_within_scale: Prob = Field(
        description="P(incident) if the issue stays unresolved for scale_days"
    )
    scale_days: Pos = 90
    shape: Pos = 1.5


class Category(Strict):
    """An appeal category: how often its issues arise, how hard they are, who decides.

    ``complexity`` (log-odds) is subtracted from a unit's capability: where an order is
    settled is an outcome of what units have, not a share typed in. ``route = "department"``
    sends triaged orders straight to the category's department (conduct complaints to
    discipline inspection, organised-crime clues to public security). ``lapse_days``: an issue
    nobody notices fades after this mean time (the household copes), instead of waiting
    forever; ``preventable``: visits lower the hazard of such an issue arising (诉源治理).
    ``visit_detectability`` is how visible an issue is to a household visit (a structured
    conversation); ``notice_detectability`` to everyday contacts with building leaders and
    party members (default: the same).
    """

    key: Key
    label_en: str = ""
    label_zh: str = ""
    section: str = ""
    kind: Literal["general", "dispute", "family_dispute", "enterprise"] = "general"
    origin: Literal["residential", "exclusive"] = "residential"
    issues_per_1000_residents_per_year: Annotated[float, Field(ge=0, le=MAX_RATE)]
    households_affected_mean: Annotated[float, Field(ge=1, le=MAX_HOUSEHOLDS_AFFECTED)] = 1.0
    report_probability: Prob = 0.8
    visit_detectability: Prob = 0.5
    notice_detectability: Prob | None = None
    complexity: Logit = 0.0
    route: Literal["ladder", "department"] = "ladder"
    lapse_days: Annotated[float, Field(gt=0, le=MAX_HORIZON_DAYS)] | None = None
    preventable: bool = False
    handling: Distribution
    time_limit_hours: Pos = 168
    department: Key
    desk: Desk | None = None
    needs_woman: bool = False
    skills: Seq[Key] = ()
    urgent_share: Prob = 0.0
    joint: Joint = Joint()
    incident: Incident | None = None
    negative_externality_share: Prob = 0.0
    daily_profile: Seq[NonNeg] | None = None
    weekly_profile: Seq[NonNeg] | None = None

    @model_validator(mode="after")
    def _profiles(self) -> Category:
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
    time_limit_hours: Pos | None = None


class Residents(Strict):
    """The technology gap: residents without a smartphone cannot use the app."""

    no_smartphone_share: Prob = 0.2
    no_smartphone_concentration: Pos = 20
    no_smartphone_report_factor: Prob = 0.6


class Arrivals(Strict):
    """Default daily (24 values) and weekly (7, Monday first) rate profiles."""

    daily_profile: Seq[NonNeg] = (1.0,) * 24
    weekly_profile: Seq[NonNeg] = (1.0,) * 7

    @model_validator(mode="after")
    def _profile_shapes(self) -> Arrivals:
        _check_profile(self.daily_profile, 24, "daily_profile")
        _check_profile(self.weekly_profile, 7, "weekly_profile")
        return self


class Levels(Strict):
    """Per-level handling-time factors and time limits (hours) for deadline escalation."""

    handling_factor: Table[str, Pos] = {lvl: 1.0 for lvl in LEVELS}
    time_limit_hours: Table[str, Pos] = {"microgrid": 24, "grid": 48, "town": 120, "county": 240}

    @model_validator(mode="after")
    def _known_levels(self) -> Levels:
        check_levels(self.handling_factor, "handling_factor")
        check_levels(self.time_limit_hours, "time_limit_hours")
        return self


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
    visits_per_household_per_month: Table[Key, NonNeg] = {}
    hours_per_visit: NonNeg = 0.25
    find_probability: Prob = 0.3
    screening_interval_days: Pos = 30
    screening_find_probability: Prob = 0.0
    max_visit_time_share: Prob = 0.6


class Team(Strict):
    """Team rules: a woman for family disputes; how much the "N" help the micro-grid leader.

    ``help_share``: the share of a micro-grid order's work that helpers (roles with the
    ``help`` duty) take on when the team has any, so the leader finishes sooner.
    """

    no_woman_action: Literal["borrow", "escalate"] = "borrow"
    borrow_delay_hours: NonNeg = 24
    help_share: Annotated[float, Field(ge=0, lt=1)] = 0.0


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
    harmed_households_mean: NonNeg = 0.0
    mediate_harm_factor: Prob = 0.5


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
    source: str = ""


class Scenario(Strict):
    """A validated, immutable scenario.

    Build one with :func:`gridsim.model.loader.load_scenario` (a file) or
    :func:`~gridsim.model.loader.scenario_from_dict`; change one with
    :func:`~gridsim.model.loader.with_overrides`.

    Example:
        >>> from gridsim import load_scenario
        >>> s = load_scenario("scenarios/one_town.toml")
        >>> s.meta.horizon_days > 0
        True
    """

    schema_version: Literal[2] = 2
    meta: Meta
    county: County
    grids: Grids = Grids()
    calendars: Table[Key, Calendar] = {"office": Calendar()}
    roles: Table[Key, Role]
    staffing: Staffing = Staffing()
    departments: Annotated[Seq[Department], Field(min_length=1)]
    centre: Centre = Centre()
    residents: Residents = Residents()
    arrivals: Arrivals = Arrivals()
    channels: Annotated[Seq[Channel], Field(min_length=1)]
    categories: Annotated[Seq[Category], Field(min_length=1)]
    levels: Levels = Levels()
    escalation: Escalation = Escalation()
    integration: Integration = Integration()
    proactive: Proactive = Proactive()
    visits: Visits = Visits()
    noticing: Noticing = Noticing()
    party: Party = Party()
    capability: Capability = Capability()
    supervision: Supervision = Supervision()
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
            >>> from gridsim.model.loader import scenario_from_dict
            >>> scenario_from_dict(tomllib.loads(s.to_toml())) == s
            True
        """
        import tomli_w

        return tomli_w.dumps(self.model_dump(mode="json", exclude_none=True))
