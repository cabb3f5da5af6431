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
from gridsim.model.seeds import keyed_generators, keyed_uniforms
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

    def extend(self, role: str, unit: int, female: list[bool], skills: list[frozenset[str]],
               recipe: _Recipe) -> int:  # fmt: skip
        """Append members of one role and unit, one per entry of ``female``; returns the first id.

        What they share (pace, hours, duties, training) comes from ``recipe``.
        """
        first = len(self.role)
        count = len(female)
        self.role.extend([role] * count)
        self.unit.extend([unit] * count)
        self.female.extend(female)
        self.skills.extend(skills)
        self.speed.extend([recipe.speed] * count)
        self.calendar.extend([recipe.calendar] * count)
        self.hours_per_week.extend([recipe.budget] * count)
        self.task_hours_per_week.extend([recipe.tasks] * count)
        self.duties.extend([recipe.duties] * count)
        self.training.extend([recipe.training] * count)
        zeros = [0.0] * count
        self.visit_hours_per_month.extend(zeros)
        self.visits_per_month.extend(zeros)
        self.contact_hours_per_month.extend(zeros)
        return first

    def resolvers(self, members: Sequence[int]) -> list[int]:
        """The members who take work orders."""
        return [m for m in members if "resolve" in self.duties[m]]


@dataclass(frozen=True)
class _Recipe:
    """What every member of one role, hired with one budget factor, has in common."""

    calendar: str
    budget: float
    tasks: float
    speed: float
    duties: frozenset[str]
    training: float
    skills: tuple[tuple[str, float], ...]
    female_share: float


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
    """Adds units and staff to a graph; one instance per build.

    Units are added as the hierarchy is walked; their staffing is planned then and carried
    out in the same order by :meth:`staff_units`, once every unit exists, so that the
    numbers of all teams and Party groups are drawn in one go (see
    :func:`gridsim.model.seeds.keyed_uniforms`). Staff ids follow the order of the plan,
    exactly as if each unit had been staffed as soon as it was added.
    """

    #: A unit planned to draw more numbers than this gets a numpy generator of its own;
    #: below, its numbers are drawn for all such units at once (a micro-grid takes a few).
    PREFETCH = 24

    def __init__(self, scenario: Scenario, rng: np.random.Generator):
        self.scenario = scenario
        # Each unit draws its team from its own generator, keyed by the unit's name, so that
        # hiring more officers elsewhere (a county department, another town's desk) never
        # reshuffles who is on a micro-grid team: common random numbers across staffing.
        self.base = int(rng.integers(2**63))
        self.unit_rngs: dict[int, np.random.Generator] = {}
        # Per unit, the first numbers of its generator drawn ahead, and how many are used:
        # the same numbers, without a generator per unit (see :meth:`uniforms`).
        self.drawn: dict[int, list[float]] = {}
        self.used: dict[int, int] = {}
        self.names: list[str] = []  # per unit id, its name (the key of its generators)
        self.calendar_hours: dict[str, float] = {}
        self.graph = nx.DiGraph()
        self.staff = StaffTable()
        # Planned staffing steps, in order: (what, unit, role, count, budget factor).
        self.plan: list[tuple[str, int, str, int, float]] = []
        self.planning = True
        self.recipes: dict[tuple[str, float], _Recipe] = {}
        self.skill_sets: dict[frozenset[str], frozenset[str]] = {}

    def key(self, uid: int) -> int:
        """The 32-bit key of a unit's generators: the crc32 of its name."""
        return zlib.crc32(self.names[uid].encode("utf-8"))

    def team_rng(self, uid: int) -> np.random.Generator:
        """The generator of one unit's team composition, past the numbers already used."""
        if uid not in self.unit_rngs:
            bits = np.random.PCG64([self.base, self.key(uid)])  # default_rng's generator
            # One 64-bit output per double drawn (Generator.random): skip those used.
            bits.advance(self.used.pop(uid, 0))
            self.drawn.pop(uid, None)
            self.unit_rngs[uid] = np.random.Generator(bits)
        return self.unit_rngs[uid]

    def uniforms(self, uid: int, n: int) -> list[float]:
        """The next ``n`` numbers of a unit's team generator (``team_rng(uid).random(n)``)."""
        row = self.drawn.get(uid)
        if row is not None:
            used = self.used[uid]
            if used + n <= len(row):
                self.used[uid] = used + n
                return row[used : used + n]
        return self.team_rng(uid).random(n).tolist()

    def unit(self, kind: str, level: int, name: str, parent: int | None, **attrs: object) -> int:
        uid = self.graph.number_of_nodes()
        attrs.setdefault("town", -1)
        attrs.setdefault("households", 0)
        attrs.setdefault("population", 0)
        self.graph.add_node(uid, kind=kind, level=level, name=name, staff=[], **attrs)
        self.names.append(name)
        if parent is not None:
            self.graph.add_edge(parent, uid)
        return uid

    def hire(self, uid: int, role_name: str, count: int, budget_factor: float = 1.0) -> None:
        """Staff a unit with ``count`` members of a role (planned while units are added)."""
        if self.planning:
            self.plan.append(("hire", uid, role_name, count, budget_factor))
        else:
            self._hire(uid, role_name, count, budget_factor)

    def microgrid(self, uid: int) -> None:
        """Plan a micro-grid's Party group, its team and the rule of a woman on the team."""
        self.plan.append(("microgrid", uid, "", 0, 1.0))

    def embed_party(self, uid: int) -> None:
        """Plan the Party group of a unit at the bottom of the hierarchy (no team change)."""
        self.plan.append(("party", uid, "", 0, 1.0))

    def staff_units(self) -> None:
        """Carry out the plan, in order; later hires are carried out at once."""
        party_units = [uid for what, uid, *_ in self.plan if what != "hire"]
        # Whether a unit has an active Party group: one draw from a generator of its own,
        # keyed by the unit's name, so a higher ``active_group_share`` only adds groups
        # (common random numbers across Party knobs).
        keys = [self.key(uid) for uid in party_units]
        party = keyed_uniforms(self.base, keys, [1] * len(keys), 1).tolist()
        draws = {uid: row[0] for uid, row in zip(party_units, party, strict=True)}
        self._draw_ahead(draws)
        self.planning = False
        for what, uid, role, count, factor in self.plan:
            if what == "hire":
                self._hire(uid, role, count, factor)
                continue
            active = self._party(uid, draws[uid])
            if what == "microgrid":
                self._staff_microgrid(uid, active)
        self.plan.clear()

    def _draw_ahead(self, party_draws: Mapping[int, float]) -> None:
        """Draw the numbers each unit's plan will take from its team generator, for all at once.

        Per member of a role one number for being a woman and one per skill (:meth:`_hire`);
        a micro-grid takes one more when the rule of a woman on the team is enforced. Units
        that will draw many numbers get their generator instead; a unit that later draws
        past what was drawn ahead (sunk department staff) gets its generator then, moved on
        past the numbers used (:meth:`team_rng`).
        """
        s = self.scenario
        width = {name: 1 + len(role.skills) for name, role in s.roles.items()}
        microgrid = sum(n * width[role] for role, n in s.staffing.microgrid.items())
        in_service = round(s.party.in_service_members_per_urban_microgrid)
        in_service *= width.get(s.party.in_service_role, 1)
        share = s.party.active_group_share
        wanted: dict[int, int] = {}
        for what, uid, role, count, _ in self.plan:
            if what == "hire":
                n = count * width[role]
            elif what == "microgrid":
                n = microgrid + 1
                if party_draws[uid] < share and self.graph.nodes[uid]["urban"]:
                    n += in_service
            else:
                continue
            wanted[uid] = wanted.get(uid, 0) + n
        many = [uid for uid, n in wanted.items() if n > self.PREFETCH]
        keys = [self.key(uid) for uid in many]
        self.unit_rngs.update(zip(many, keyed_generators(self.base, keys), strict=True))
        few = [uid for uid, n in wanted.items() if 0 < n <= self.PREFETCH]
        counts = [wanted[uid] for uid in few]
        drawn = keyed_uniforms(self.base, [self.key(uid) for uid in few], counts).tolist()
        # Each row ends where its unit's numbers do (the NaN padding after is not drawn).
        self.drawn.update((u, row[:n]) for u, row, n in zip(few, drawn, counts, strict=True))
        self.used.update(dict.fromkeys(few, 0))

    def _hire(self, uid: int, role_name: str, count: int, budget_factor: float = 1.0) -> None:
        recipe = self._recipe(role_name, budget_factor)
        skills = recipe.skills
        width = 1 + len(skills)
        # Per member: one draw for being a woman, then one per skill, in that order: the
        # draws one call per member would make, taken in one call.
        u = self.uniforms(uid, count * width)
        rows = [u[i : i + width] for i in range(0, len(u), width)]
        female = [row[0] < recipe.female_share for row in rows]
        # One frozenset per combination of skills, shared by everyone who has it.
        has = [self._skill_set(frozenset(k for (k, p), x in zip(skills, row[1:], strict=True)
                                         if x < p)) for row in rows]  # fmt: skip
        first = self.staff.extend(role_name, uid, female, has, recipe)
        self.graph.nodes[uid]["staff"].extend(range(first, first + count))

    def _recipe(self, role_name: str, budget_factor: float) -> _Recipe:
        """What every member of a role hired with a budget factor shares (computed once)."""
        key = (role_name, budget_factor)
        if key not in self.recipes:
            role = self.scenario.roles[role_name]
            hours = self.calendar_hours  # one calendar built per name, not per hire
            if role.calendar not in hours:
                hours[role.calendar] = calendar_hours_per_week(self.scenario, role.calendar)
            calendar_hours = hours[role.calendar]
            budget = role.hours_per_week or role.availability * calendar_hours
            budget = min(budget * budget_factor, calendar_hours)
            tasks = min(role.task_hours_per_week, budget)
            self.recipes[key] = _Recipe(
                calendar=role.calendar,
                budget=budget,
                tasks=tasks,
                # Orders are worked inside the calendar at the pace the budget left after
                # other tasks allows; visits and contacts use the slack (gridsim.model.attention).
                speed=max((budget - tasks) / calendar_hours, 1e-6),
                duties=frozenset(role.duties),
                training=role.training,
                skills=tuple(role.skills.items()),
                female_share=role.female_share,
            )
        return self.recipes[key]

    def _skill_set(self, skills: frozenset[str]) -> frozenset[str]:
        return self.skill_sets.setdefault(skills, skills)

    def _party(self, uid: int, u: float) -> bool:
        """Decide whether this unit has an active Party group; place its members."""
        party = self.scenario.party
        node = self.graph.nodes[uid]
        active = bool(u < party.active_group_share)
        node["party_active"] = active
        members = node["households"] * party.members_per_100_households / 100 if active else 0.0
        node["party_members"] = members
        return active

    def _staff_microgrid(self, mid: int, active: bool) -> None:
        s = self.scenario
        mobilised = 1.0 + (s.party.volunteer_mobilisation if active else 0.0)
        for role, n in s.staffing.microgrid.items():
            factor = mobilised if role in s.party.mobilised_roles else 1.0
            self._hire(mid, role, n, factor)
        if active and self.graph.nodes[mid]["urban"]:
            extra = round(s.party.in_service_members_per_urban_microgrid)
            self._hire(mid, s.party.in_service_role, extra)
        self._enforce_woman_rule(mid)

    def _enforce_woman_rule(self, uid: int) -> None:
        # The practice asks for at least one woman on every micro-grid team; compliance is data.
        members = self.graph.nodes[uid]["staff"]
        if not members or any(self.staff.female[m] for m in members):
            return
        if self.uniforms(uid, 1)[0] < self.scenario.staffing.woman_rule_compliance:
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
                b.embed_party(gid)  # before the reform: the grid is the bottom
                microgrids.append(gid)
                continue
            n_mg = max(1, round(grid_hh / per_mg))
            for mi, mg_hh in enumerate(_split(grid_hh, n_mg)):
                mid = b.unit("microgrid", MICROGRID, f"{town.name} grid {gi + 1}.{mi + 1}", gid,
                             town=ti, households=mg_hh, urban=town.urban,
                             population=round(mg_hh * s.county.persons_per_household))  # fmt: skip
                b.microgrid(mid)
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

    b.staff_units()
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
