"""The county: a networkx hierarchy of units with their staff, built from a Scenario.

county → towns and streets → basic grids → micro-grids, exclusive grids under towns,
county departments and one-stop-centre desks. Every node is an integer unit id with
attributes ``kind``, ``level``, ``name``, ``town``, ``households``, ``population`` and
``staff`` (a list of staff ids). Staff members are rows of :attr:`County.staff` with their
role, home unit, sex, skills, weekly hours budget, task hours, duties, training and the pace
at which they work orders. Units where issues arise also carry their Party group (active or
not, and its members: residents linked to households).

The builder draws only the things the scenario leaves to chance (who on a team is a woman,
who has which skill, each micro-grid's share of residents without a smartphone) from the
``county`` random stream, so a policy change never shifts them.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from gridsim.model.calendar import calendar_hours_per_week
from gridsim.model.guard import check_county
from gridsim.model.scenario import Scenario
from gridsim.model.vocabulary import COUNTY, DESKS, GRID, LEVELS, MICROGRID, TOWN


@dataclass
class StaffTable:
    """Column arrays, one entry per staff member."""

    role: list[str] = field(default_factory=list)
    unit: list[int] = field(default_factory=list)
    female: list[bool] = field(default_factory=list)
    skills: list[frozenset[str]] = field(default_factory=list)
    speed: list[float] = field(default_factory=list)
    calendar: list[str] = field(default_factory=list)
    hours_per_week: list[float] = field(default_factory=list)
    task_hours_per_week: list[float] = field(default_factory=list)
    duties: list[frozenset[str]] = field(default_factory=list)
    training: list[float] = field(default_factory=list)
    visit_hours_per_month: list[float] = field(default_factory=list)
    visits_per_month: list[float] = field(default_factory=list)
    contact_hours_per_month: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.role)

    def add(self, role: str, unit: int, female: bool, skills: frozenset[str], calendar: str) -> int:
        """Append a staff member; returns their id."""
        self.role.append(role)
        self.unit.append(unit)
        self.female.append(female)
        self.skills.append(skills)
        self.speed.append(1.0)
        self.calendar.append(calendar)
        self.hours_per_week.append(0.0)
        self.task_hours_per_week.append(0.0)
        self.duties.append(frozenset())
        self.training.append(0.0)
        self.visit_hours_per_month.append(0.0)
        self.visits_per_month.append(0.0)
        self.contact_hours_per_month.append(0.0)
        return len(self.role) - 1

    def resolvers(self, members: Sequence[int]) -> list[int]:
        """The members who take work orders."""
        return [m for m in members if "resolve" in self.duties[m]]


@dataclass
class County:
    """A built county: the graph plus flat lookups the engine uses in O(1).

    Attributes:
        graph: the networkx DiGraph (edges parent → child).
        staff: the staff table.
        origin_units: unit ids where issues arise (micro-grids, then exclusive grids).
        grid_of, town_of: per unit id, the enclosing grid unit and town index (-1 if none).
        town_desk: ``town_desk[town][desk index]`` → the unit handling that desk.
        county_desk: per desk index, the county centre unit handling it.
        department: department key → unit id.
        no_smartphone: per unit id, share of households without a smartphone.
    """

    graph: nx.DiGraph
    staff: StaffTable
    origin_units: np.ndarray
    grid_of: np.ndarray
    town_of: np.ndarray
    town_desk: list[list[int]]
    county_desk: list[int]
    department: dict[str, int]
    no_smartphone: np.ndarray
    town_names: list[str]
    party_members: np.ndarray = field(default_factory=lambda: np.zeros(0))
    party_active: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    @property
    def n_units(self) -> int:
        """Number of nodes."""
        return self.graph.number_of_nodes()

    def units_of_kind(self, kind: str) -> list[int]:
        """Unit ids of one kind, in id order."""
        return [n for n, k in self.graph.nodes(data="kind") if k == kind]

    def counts(self) -> dict[str, int]:
        """Number of units per kind."""
        out: dict[str, int] = {}
        for _, kind in self.graph.nodes(data="kind"):
            out[kind] = out.get(kind, 0) + 1
        return out


def _split(total: int, parts: int) -> list[int]:
    """Split an integer total into ``parts`` near-equal integers (largest first)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Largest-remainder apportionment of ``total`` items by weight (deterministic)."""
    w = np.asarray(weights, dtype=float)
    quota = total * w / w.sum()
    counts = np.floor(quota).astype(int)
    order = np.argsort(-(quota - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts.tolist()


class _Builder:
    """Adds units and staff to a graph; one instance per build."""

    def __init__(self, scenario: Scenario, rng: np.random.Generator):
        self.scenario = scenario
        # Each unit draws its team from its own generator, keyed by the unit's name, so that
        # hiring more officers elsewhere (a county department, another town's desk) never
        # reshuffles who is on a micro-grid team: common random numbers across staffing.
        self.base = int(rng.integers(2**63))
        self.unit_rngs: dict[int, np.random.Generator] = {}
        self.calendar_hours: dict[str, float] = {}
        self.graph = nx.DiGraph()
        self.staff = StaffTable()

    def team_rng(self, uid: int) -> np.random.Generator:
        """The generator of one unit's team composition."""
        if uid not in self.unit_rngs:
            key = zlib.crc32(self.graph.nodes[uid]["name"].encode("utf-8"))
            self.unit_rngs[uid] = np.random.default_rng([self.base, key])
        return self.unit_rngs[uid]

    def unit(self, kind: str, level: int, name: str, parent: int | None, **attrs: object) -> int:
        uid = self.graph.number_of_nodes()
        attrs.setdefault("town", -1)
        attrs.setdefault("households", 0)
        attrs.setdefault("population", 0)
        self.graph.add_node(uid, kind=kind, level=level, name=name, staff=[], **attrs)
        if parent is not None:
            self.graph.add_edge(parent, uid)
        return uid

    def hire(self, uid: int, role_name: str, count: int, budget_factor: float = 1.0) -> None:
        role = self.scenario.roles[role_name]
        rng = self.team_rng(uid)
        hours = self.calendar_hours  # one calendar built per name, not per hire
        if role.calendar not in hours:
            hours[role.calendar] = calendar_hours_per_week(self.scenario, role.calendar)
        calendar_hours = hours[role.calendar]
        budget = role.hours_per_week or role.availability * calendar_hours
        budget = min(budget * budget_factor, calendar_hours)
        tasks = min(role.task_hours_per_week, budget)
        for _ in range(count):
            female = bool(rng.random() < role.female_share)
            skills = frozenset(k for k, p in role.skills.items() if rng.random() < p)
            sid = self.staff.add(role_name, uid, female, skills, role.calendar)
            # Orders are worked inside the calendar at the pace the budget left after other
            # tasks allows; visits and contacts use the slack (see gridsim.model.attention).
            self.staff.speed[sid] = max((budget - tasks) / calendar_hours, 1e-6)
            self.staff.hours_per_week[sid] = budget
            self.staff.task_hours_per_week[sid] = tasks
            self.staff.duties[sid] = frozenset(role.duties)
            self.staff.training[sid] = role.training
            self.graph.nodes[uid]["staff"].append(sid)

    def embed_party(self, uid: int, urban: bool) -> bool:
        """Decide whether this origin unit has an active party group; place its members.

        The decision uses a generator of its own keyed by the unit's name, so that a higher
        ``active_group_share`` only adds groups (common random numbers across Party knobs).
        """
        party = self.scenario.party
        node = self.graph.nodes[uid]
        key = zlib.crc32(node["name"].encode("utf-8"))
        u = np.random.default_rng([self.base, key, 1]).random()
        active = bool(u < party.active_group_share)
        node["party_active"] = active
        members = node["households"] * party.members_per_100_households / 100 if active else 0.0
        node["party_members"] = members
        return active

    def enforce_woman_rule(self, uid: int) -> None:
        # The practice asks for at least one woman on every micro-grid team; compliance is data.
        members = self.graph.nodes[uid]["staff"]
        if not members or any(self.staff.female[m] for m in members):
            return
        if self.team_rng(uid).random() < self.scenario.staffing.woman_rule_compliance:
            self.staff.female[members[-1]] = True


def build_county(
    scenario: Scenario, rng: np.random.Generator, residents_rng: np.random.Generator
) -> County:
    """Build the county hierarchy and its staff.

    Args:
        scenario: a validated scenario.
        rng: the ``county`` random stream (team composition and skills).
        residents_rng: the ``residents`` stream (each unit's share of households without a
            smartphone); separate, so that a change of head counts never moves it.

    Returns:
        The built :class:`County`.

    Example:
        >>> import numpy as np
        >>> from gridsim import load_scenario
        >>> from gridsim.model.county import build_county
        >>> rng = np.random.default_rng(1)
        >>> c = build_county(load_scenario("scenarios/one_town.toml"), rng, rng)
        >>> c.counts()["town"]
        1
    """
    s = scenario
    check_county(s)  # a county too big for memory is refused before a unit is built
    b = _Builder(s, rng)
    county = b.unit("county", COUNTY, s.county.name, None, population=s.population)
    departments: dict[str, int] = {}
    for dep in s.departments:
        uid = b.unit("department", COUNTY, dep.key, county, department=dep.key)
        b.hire(uid, s.staffing.department_role, max(dep.staff - dep.sunk_staff, 1))
        departments[dep.key] = uid
    county_centre = _centre(b, county, COUNTY, -1, s.centre.merged_county, s.centre.county_desks)
    county_desk = [county_centre[d] for d in DESKS]

    microgrids: list[int] = []
    grids: list[int] = []
    exclusive: list[int] = []
    town_desk: list[list[int]] = []
    ex = s.grids.exclusive
    kinds = [("market", ex.markets), ("enterprise", ex.enterprises)]
    kinds.append(("business_district", ex.business_districts))
    weights = [t.population for t in s.county.towns]
    ex_per_town = {k: _apportion(n, weights) if n else [0] * len(weights) for k, n in kinds}
    for ti, town in enumerate(s.county.towns):
        # a town of fewer residents than a household still has one household
        households = max(1, round(town.population / s.county.persons_per_household))
        tid = b.unit("town", TOWN, town.name, county, town=ti, households=households,
                     population=town.population, urban=town.urban)  # fmt: skip
        per_mg = (
            s.grids.urban_households_per_microgrid
            if town.urban
            else s.grids.rural_households_per_microgrid
        )
        n_grids = max(1, round(households / s.grids.households_per_grid))
        for gi, grid_hh in enumerate(_split(households, n_grids)):
            people = round(grid_hh * s.county.persons_per_household)
            gid = b.unit("grid", GRID, f"{town.name} grid {gi + 1}", tid, town=ti,
                         households=grid_hh, population=people, urban=town.urban)  # fmt: skip
            for role, n in s.staffing.grid.items():
                b.hire(gid, role, n)
            grids.append(gid)
            if not s.grids.microgrids:
                b.embed_party(gid, town.urban)  # before the reform: the grid is the bottom
                microgrids.append(gid)
                continue
            n_mg = max(1, round(grid_hh / per_mg))
            for mi, mg_hh in enumerate(_split(grid_hh, n_mg)):
                mid = b.unit("microgrid", MICROGRID, f"{town.name} grid {gi + 1}.{mi + 1}", gid,
                             town=ti, households=mg_hh, urban=town.urban,
                             population=round(mg_hh * s.county.persons_per_household))  # fmt: skip
                active = b.embed_party(mid, town.urban)
                mobilised = 1.0 + (s.party.volunteer_mobilisation if active else 0.0)
                for role, n in s.staffing.microgrid.items():
                    factor = mobilised if role in s.party.mobilised_roles else 1.0
                    b.hire(mid, role, n, factor)
                if active and town.urban:
                    extra = round(s.party.in_service_members_per_urban_microgrid)
                    b.hire(mid, s.party.in_service_role, extra)
                b.enforce_woman_rule(mid)
                microgrids.append(mid)
        for kind, _ in kinds:
            for k in range(ex_per_town[kind][ti]):
                xid = b.unit("exclusive_grid", GRID, f"{town.name} {kind} {k + 1}", tid, town=ti,
                             exclusive_kind=kind)  # fmt: skip
                b.hire(xid, s.staffing.exclusive_grid_role, ex.workers_per_grid)
                exclusive.append(xid)
        desks = {d: round(n * town.population / 100_000) for d, n in
                 s.centre.town_desks_per_100k_residents.items()}  # fmt: skip
        if all(v == 0 for v in desks.values()):
            desks["grid_management"] = 1
        units = _centre(b, tid, TOWN, ti, s.centre.merged_town, desks)
        town_desk.append([units[d] for d in DESKS])

    _sink_department_staff(b, s, grids)
    n = b.graph.number_of_nodes()
    grid_of = np.full(n, -1, dtype=np.int64)
    town_of = np.full(n, -1, dtype=np.int64)
    for uid, data in b.graph.nodes(data=True):
        town_of[uid] = data["town"]
        if data["kind"] in ("grid", "exclusive_grid"):
            grid_of[uid] = uid
        elif data["kind"] == "microgrid":
            grid_of[uid] = next(iter(b.graph.predecessors(uid)))
    no_phone = _smartphone_gap(s, residents_rng, n, np.asarray(microgrids + exclusive))
    nodes = b.graph.nodes
    return County(
        graph=b.graph,
        staff=b.staff,
        origin_units=np.asarray(microgrids + exclusive, dtype=np.int64),
        grid_of=grid_of,
        town_of=town_of,
        town_desk=town_desk,
        county_desk=county_desk,
        department=departments,
        no_smartphone=no_phone,
        town_names=[t.name for t in s.county.towns],
        party_members=np.array([nodes[u].get("party_members", 0.0) for u in range(n)]),
        party_active=np.array([nodes[u].get("party_active", False) for u in range(n)]),
    )


def _centre(
    b: _Builder, parent: int, level: int, town: int, merged: bool, desks: Mapping[str, float]
) -> dict[str, int]:
    """Create one pooled centre or one unit per staffed desk; map every desk to a unit."""
    staffing = b.scenario.staffing
    role = staffing.town_desk_role if level == TOWN else staffing.county_desk_role
    counts = {d: int(desks.get(d, 0)) for d in DESKS}
    where = LEVELS[level]
    if merged:
        uid = b.unit("centre", level, f"{where} centre {town}", parent, town=town, desk="pooled")
        b.hire(uid, role, max(1, sum(counts.values())))
        return dict.fromkeys(DESKS, uid)
    units: dict[str, int] = {}
    for desk in DESKS:
        if counts[desk] > 0:
            uid = b.unit(
                "centre", level, f"{where} {desk} desk {town}", parent, town=town, desk=desk
            )
            b.hire(uid, role, counts[desk])
            units[desk] = uid
    # An unstaffed desk's orders go to the largest staffed desk of the same centre.
    fallback = max(units, key=lambda d: counts[d])
    return {d: units.get(d, units[fallback]) for d in DESKS}


def _sink_department_staff(b: _Builder, s: Scenario, grids: list[int]) -> None:
    """Sunk department officers join evenly spaced grids, bringing their department's skill."""
    for dep in s.departments:
        n = min(dep.sunk_staff, len(grids))
        if n == 0:
            continue
        chosen = np.linspace(0, len(grids) - 1, n).round().astype(int)
        for i in chosen:
            gid = grids[i]
            b.hire(gid, s.staffing.department_role, 1)
            sid = b.graph.nodes[gid]["staff"][-1]
            b.staff.skills[sid] = b.staff.skills[sid] | {f"department:{dep.key}"}
            b.graph.nodes[gid].setdefault("sunk", []).append(dep.key)


def _smartphone_gap(
    s: Scenario, rng: np.random.Generator, n_units: int, origins: np.ndarray
) -> np.ndarray:
    """Per unit id, the share of households without a smartphone (drawn for origin units).

    Drawn in the order of the origin units, not of unit ids, so that merging a centre (which
    renumbers units) leaves every micro-grid with the same share.
    """
    mean = s.residents.no_smartphone_share
    share = np.full(n_units, mean)
    if 0 < mean < 1:
        conc = s.residents.no_smartphone_concentration
        share[origins] = rng.beta(mean * conc, (1 - mean) * conc, size=len(origins))
    return share
