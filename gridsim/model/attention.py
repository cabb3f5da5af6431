"""Who notices what, and how often: visits, building leaders and linked party members.

Noticing an issue is a race (``gridsim.model.noticing``); this module computes, for every
unit where issues arise, the rates of the staff-side runners from who is there and how many
hours they have:

* **Visits** (走访入户): a member with the ``visit`` duty plans
  ``proactive.visits_per_household_per_month[role]`` visits to each household they cover
  (their micro-grid, or for grid staff the whole grid), times the effort response to points.
  A visit is travel plus conversation (``proactive.hours_per_visit`` plus
  ``visits.travel_hours_per_visit``, growing with the square root of a rural unit's size);
  the visits must fit in ``proactive.max_visit_time_share`` of the hours their budget leaves
  after other tasks. Orders come first: visits fill the slack, so they do not slow orders
  down; the run reports how much of the plan the slack allowed.
* **Building and lane leaders** (roles with the ``notice`` duty) have ``contacts_per_week``
  contacts with the households of their micro-grid (more for "five elders" who know every
  household, 人熟地熟).
* **Party members linked to households** (党员联户): in a unit with an active party group,
  ``members_per_100_households`` members each look after ``households_per_member``
  households, with ``contacts_per_household_per_month`` contacts each, within their
  ``hours_per_month``.

Rates are per household per month; time unit of the budgets: hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gridsim.model.calendar import HOURS_PER_MONTH
from gridsim.model.county import County, StaffTable
from gridsim.model.scenario import Scenario

#: Weeks in an average month.
WEEKS_PER_MONTH = HOURS_PER_MONTH / 168


@dataclass
class Attention:
    """Per unit id: the rates at which each runner of the noticing race reaches a household.

    Attributes:
        visits: visits per household per month (own team plus the grid's visitors).
        visit_hours: hours one visit takes there (travel plus conversation).
        contacts: building and lane leaders' contacts per household per month.
        party_coverage: share of households linked to a party member.
        party_contacts: a linked household's contacts with its party member per month.
        visitors: per unit id, the staff ids who visit its households (to credit finds).
        effort: the effort multiplier of visits from points (1 when effort does not respond).
    """

    visits: np.ndarray
    visit_hours: np.ndarray
    contacts: np.ndarray
    party_coverage: np.ndarray
    party_contacts: np.ndarray
    visitors: list[list[int]]
    effort: float

    def visits_for(
        self, unit: np.ndarray, no_phone: np.ndarray, share: np.ndarray, w: float
    ) -> np.ndarray:
        """Visits per month to a household, with ``w`` times more to those without a phone.

        ``share`` is each unit's share of households without a smartphone; the unit's visits
        are the same in total, only their order changes (the "old method" for the technology
        gap).
        """
        v = self.visits[unit]
        if w == 1.0:
            return v
        s = share[unit]
        norm = s * w + (1 - s)
        return np.where(no_phone, v * w / norm, v / norm)


def effort_multiplier(s: Scenario) -> float:
    """Visit frequency multiplier from the points' value (1 when effort does not respond).

    Example:
        >>> from gridsim import load_scenario
        >>> effort_multiplier(load_scenario("scenarios/one_town.toml")) >= 1
        True
    """
    inc = s.incentives
    value = inc.points_per_proactive_find * inc.yuan_per_point
    return 1.0 + inc.effort_elasticity * value / inc.effort_reference_yuan


def plan_attention(s: Scenario, county: County) -> Attention:
    """Plan visits and contacts for every unit; record each member's planned hours.

    Writes ``visit_hours_per_month`` and ``contact_hours_per_month`` of ``county.staff``.
    """
    graph = county.graph
    attrs = dict(graph.nodes(data=True))
    staff = county.staff
    n = county.n_units
    visits = np.zeros(n)
    visit_hours = np.full(n, s.proactive.hours_per_visit)
    contacts = np.zeros(n)
    visitors: list[list[int]] = [[] for _ in range(n)]
    effort = effort_multiplier(s)
    grid_visits = np.zeros(n)
    origins = set(county.origin_units.tolist())
    grids = set(county.grid_of[county.origin_units].tolist())
    # Whether a member visits or notices, per distinct duty set (there are few): in a large
    # county most members do neither, and their units need no more than their visit hours.
    visiting = s.proactive.enabled
    duty_flags = {d: (visiting and "visit" in d, "notice" in d) for d in set(staff.duties)}
    flagged = [sid for sid, d in enumerate(staff.duties) if any(duty_flags[d])]
    hours_of: dict[tuple[int, bool], float] = {}  # units of one size share their visit hours

    def hours_at(node: dict) -> float:
        key = (max(node["households"], 1), node.get("urban", False))
        if key not in hours_of:
            hours_of[key] = _visit_hours(s, *key)
        return hours_of[key]

    units = sorted(origins | grids)
    visit_hours[units] = [hours_at(attrs[u]) for u in units]
    # Only units with a member who visits or notices plan anything (the others' sums stay 0).
    for uid in sorted(origins.union(grids).intersection(staff.unit[sid] for sid in flagged)):
        node = attrs[uid]
        covered = max(node["households"], 1)
        hours = hours_at(node)
        per_household = 0.0
        for sid in node["staff"]:
            visit, notice = duty_flags[staff.duties[sid]]
            if visit:
                per_household += _plan_visits(s, staff, sid, covered, hours, effort)
                visitors[uid].append(sid)
            if notice:
                contacts[uid] += _plan_contacts(s, staff, sid, covered)
        if uid not in origins:
            grid_visits[uid] = per_household  # a grid's visitors cover all its micro-grids
        else:
            visits[uid] += per_household
    # Micro-grids add their grid's visits (adding a grid's 0.0 leaves a sum of visits as it
    # is) and its visitors.
    origin = county.origin_units
    grid = county.grid_of[origin]
    below = grid != origin
    visits[origin[below]] += grid_visits[grid[below]]
    for uid, g in zip(origin[below].tolist(), grid[below].tolist(), strict=True):
        if visitors[g]:
            visitors[uid] = visitors[uid] + visitors[g]
    p = s.party
    households = np.array([max(attrs[u]["households"], 1) for u in range(n)], dtype=float)
    coverage = np.clip(county.party_members * p.households_per_member / households, 0, 1)
    party_contacts = np.where(coverage > 0, linked_contacts(s), 0.0)
    return Attention(visits, visit_hours, contacts, coverage, party_contacts, visitors, effort)


def linked_contacts(s: Scenario) -> float:
    """Contacts a month a linked household gets from its party member, within their hours."""
    p = s.party
    affordable = p.hours_per_month / (p.hours_per_contact * p.households_per_member)
    return min(p.contacts_per_household_per_month, affordable)


def _visit_hours(s: Scenario, households: float, urban: bool) -> float:
    """Hours of one visit: conversation plus travel, longer in a larger rural unit."""
    travel = s.visits.travel_hours_per_visit
    if not urban:
        travel *= math.sqrt(households / s.visits.rural_travel_reference_households)
    return s.proactive.hours_per_visit + travel


def _slack_per_month(staff: StaffTable, sid: int) -> float:
    """Hours a month a member's budget leaves after other tasks."""
    return max(staff.hours_per_week[sid] - staff.task_hours_per_week[sid], 0.0) * WEEKS_PER_MONTH


def _plan_visits(
    s: Scenario, staff: StaffTable, sid: int, covered: float, hours: float, effort: float
) -> float:
    """Visits per household per month one member makes; records their visit hours."""
    wanted = s.proactive.visits_per_household_per_month.get(staff.role[sid], 0.0) * effort
    if wanted <= 0:
        return 0.0
    cap = s.proactive.max_visit_time_share * _slack_per_month(staff, sid)
    made = min(wanted, cap / (covered * hours)) if hours > 0 else wanted  # free visits: all
    staff.visit_hours_per_month[sid] = made * covered * hours
    staff.visits_per_month[sid] = made * covered
    return made


def _plan_contacts(s: Scenario, staff: StaffTable, sid: int, covered: float) -> float:
    """Contacts per household per month of one building or lane leader; records hours."""
    per_week = s.roles[staff.role[sid]].contacts_per_week
    if "five_elders" in staff.skills[sid]:
        per_week *= s.noticing.five_elders_factor
    per_month = per_week * WEEKS_PER_MONTH
    # Contacts use what the member's visits leave of the slack.
    left = _slack_per_month(staff, sid) - staff.visit_hours_per_month[sid]
    cap = max(left, 0.0) / s.noticing.hours_per_contact
    made = min(per_month, cap)
    staff.contact_hours_per_month[sid] = made * s.noticing.hours_per_contact
    return made / covered
