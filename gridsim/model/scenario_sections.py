"""Scenario sections for the people of the grid and where appeals are settled.

These sections describe mechanisms, never outcomes: who is there and with how many hours
(roles' budgets and duties, the Party organisation), how they notice issues (building
leaders, linked party members, visits), what a unit can settle (capability), and how units
behave under pressure and supervision (brush-offs, callbacks). The share settled inside the
grid, the proactive share and the time to notice an issue are measured from a run, never set
here. ``gridsim.model.scenario`` assembles them into the :class:`~gridsim.model.scenario.Scenario`.

Log-odds ("logit") parameters add up: a unit's chance of settling a category is
``logistic(level base + what the unit has − the category's complexity)``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from gridsim.model.fields import Key, NonNeg, Pos, Prob, Seq, Strict, Table
from gridsim.model.vocabulary import LEVELS

#: What a member of a role does in the grid (see docs/mechanisms.md, "The people of the grid").
Duty = Literal["resolve", "notice", "visit", "help"]
#: A log-odds contribution: bounded so that a typo cannot overflow the logistic function.
Logit = Annotated[float, Field(ge=-50, le=50)]


class Party(Strict):
    """The Party organisation embedded in the grids (党建引领).

    Party members are modelled as residents (a member lives among the households linked to
    them, 党员联户), not as order-handling staff: what the practice asks of them is to notice,
    settle minor disputes on the spot, mobilise volunteers and build trust, not to queue for
    work orders. In-service members registered in their residential community (在职党员到居住
    小区报到) serve as building or unit leaders in urban micro-grids: they join the micro-grid
    team in ``in_service_role``.
    """

    active_group_share: Prob = 0.0
    members_per_100_households: Annotated[float, Field(ge=0, le=100)] = 0.0
    hours_per_month: Annotated[float, Field(ge=0, le=744)] = 4.0
    households_per_member: Annotated[float, Field(ge=1, le=10_000)] = 10.0
    contacts_per_household_per_month: Annotated[float, Field(ge=0, le=1000)] = 1.0
    hours_per_contact: Pos = 0.25
    notice_probability: Prob = 0.5
    mediate_on_spot: Prob = 0.0
    hours_per_mediation: NonNeg = 1.0
    trust_report_gain: Prob = 0.0
    volunteer_mobilisation: Annotated[float, Field(ge=0, le=100)] = 0.0
    capability: Logit = 0.0
    in_service_members_per_urban_microgrid: Annotated[float, Field(ge=0, le=1000)] = 0.0
    in_service_role: Key = "grid_assistant"
    mobilised_roles: Seq[Key] = ("volunteer",)


class Noticing(Strict):
    """Informal noticing by building and lane leaders (第一时间发现)."""

    notice_probability: Prob = 0.3
    hours_per_contact: Pos = 0.05
    five_elders_factor: Annotated[float, Field(ge=0, le=100)] = 1.0


class Visits(Strict):
    """Household visits (走访入户) as calendar time, and what they do besides detecting."""

    travel_hours_per_visit: NonNeg = 0.1
    rural_travel_reference_households: Pos = 50
    target_no_smartphone: Annotated[float, Field(ge=1, le=100)] = 1.0
    on_spot_share: Prob = 0.0
    hours_per_spot_settlement: NonNeg = 0.5
    prevention_per_visit: Annotated[float, Field(ge=0, le=10)] = 0.0


class Capability(Strict):
    """What decides whether a unit settles an order (log-odds contributions).

    ``level_base`` is what a level's own authority allows; the rest is what a unit has. A
    category's ``complexity`` is subtracted. At county level the department always decides
    ("there is always a level that can decide").
    """

    level_base: Table[str, Logit] = {"microgrid": 0.0, "grid": 1.0, "town": 2.5, "county": 50.0}
    skill_match: Logit = 1.0
    skill_missing: Logit = -2.0
    sunk_department: Logit = 1.5
    quanke_grid: Logit = 0.0
    helpers: Logit = 0.0

    @model_validator(mode="after")
    def _known_levels(self) -> Capability:
        check_levels(self.level_base, "level_base")
        return self


class Supervision(Strict):
    """Brush-offs (畏难、敷衍了事) and the supervision that curbs them (督考融合, 责任倒查).

    A unit that cannot settle an order passes it up, or brushes it off: declares it not
    compliant and closes it. The log-odds of a brush-off grow with the gap between the
    order's complexity and the unit's capability and with the orders waiting per handler, and
    fall with ``accountability``. A share ``callback_rate`` of closed orders is called back
    (回访); a callback finds a false closure with probability ``callback_detects``, and the
    order is reopened one level up.
    """

    brush_off_intercept: Logit = -50.0
    brush_off_per_gap: Annotated[float, Field(ge=0, le=10)] = 0.0
    brush_off_per_waiting: Annotated[float, Field(ge=0, le=10)] = 0.0
    accountability: Annotated[float, Field(ge=0, le=50)] = 0.0
    callback_rate: Prob = 0.0
    callback_detects: Prob = 1.0
    callback_delay_hours: NonNeg = 72.0


def check_levels(table: dict[str, float], name: str) -> None:
    """Refuse a per-level table with a key that is not a level."""
    unknown = sorted(set(table) - set(LEVELS))
    if unknown:
        raise ValueError(f"{name}: levels among {', '.join(LEVELS)}, not {', '.join(unknown)}")


__all__ = [
    "Capability",
    "Duty",
    "Logit",
    "Noticing",
    "Party",
    "Seq",
    "Supervision",
    "Visits",
]
