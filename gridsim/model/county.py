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
from typing import Any

import networkx as nx
import numpy as np

from gridsim.model.guard import check_county
from gridsim.model.scenario import Scenario
from gridsim.model.seeds import keyed_generators, keyed_uniforms
from gridsim.model.staffing import PlannedHires, Recipe, StaffTable, hire_planned, make_recipe
from gridsim.model.vocabulary import COUNTY, DESKS, GRID, LEVELS, MICROGRID, TOWN


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
    """Adds units and staff; one instance per build.

    Units are added as the hierarchy is walked (attribute dicts and parents in lists; the
    networkx graph is made from them at the end, :meth:`finish`); their staffing is planned
    then and carried out in the same order by :meth:`staff_units`, once every unit exists,
    so that the numbers of all teams and Party groups are drawn in one go (see
    :func:`gridsim.model.seeds.keyed_uniforms`) and every member hired in one columnar pass
    (:func:`gridsim.model.staffing.hire_planned`). Staff ids follow the order of the plan,
    exactly as if each unit had been staffed as soon as it was added.
    """

    #: A unit planned to draw more numbers than this has them drawn from a numpy generator
    #: of its own; below, its numbers are drawn for all such units at once (a micro-grid
    #: takes a few).
    PREFETCH = 24

    def __init__(self, scenario: Scenario, rng: np.random.Generator):
        self.scenario = scenario
        # Each unit draws its team from its own generator, keyed by the unit's name, so that
        # hiring more officers elsewhere (a county department, another town's desk) never
        # reshuffles who is on a micro-grid team: common random numbers across staffing.
        self.base = int(rng.integers(2**63))
        self.unit_rngs: dict[int, np.random.Generator] = {}
        # The numbers each unit's plan takes from its generator, drawn ahead into one pool:
        # per unit, where its numbers lie in the pool and how many are used (:meth:`uniforms`).
        self.pool = np.zeros(0)
        self.ahead: dict[int, tuple[int, int]] = {}
        self.used: dict[int, int] = {}
        self.names: list[str] = []  # per unit id, its name (the key of its generators)
        self.crc: list[int] = []  # per unit id, the crc32 of its name (filled on demand)
        self.nodes: list[dict[str, Any]] = []  # per unit id, its attributes
        self.parents: list[int] = []  # per unit id, its parent (-1: none)
        self.calendar_hours: dict[str, float] = {}
        self.staff = StaffTable()
        # Planned staffing steps, in order: (what, unit, role, count, budget factor).
        self.plan: list[tuple[str, int, str, int, float]] = []
        self.hires: PlannedHires | None = None  # the plan as hires (:meth:`_draw_ahead`)
        self.planning = True
        self.recipes: dict[tuple[str, float], int] = {}  # (role, factor) → recipe index
        self.recipe_list: list[Recipe] = []
        self.skill_sets: dict[frozenset[str], frozenset[str]] = {}
        self.party_active = np.zeros(0, dtype=bool)  # per unit id (set by :meth:`staff_units`)
        self.party_members = np.zeros(0)

    @property
    def drawn(self) -> dict[int, list[float]]:
        """Per unit, the numbers drawn ahead from its generator (a copy, for inspection)."""
        return {uid: self.pool[a:b].tolist() for uid, (a, b) in self.ahead.items()}

    def keys(self, uids: Sequence[int]) -> list[int]:
        """The 32-bit keys of units' generators: the crc32 of each name (once per build)."""
        crc = self.crc
        crc.extend([zlib.crc32(name.encode("utf-8")) for name in self.names[len(crc) :]])
        return [crc[u] for u in uids]

    def team_rng(self, uid: int) -> np.random.Generator:
        """The generator of one unit's team composition, past the numbers already used."""
        if uid not in self.unit_rngs:
            bits = np.random.PCG64([self.base, *self.keys([uid])])  # default_rng's generator
            # One 64-bit output per double drawn (Generator.random): skip those used.
            bits.advance(self.used.pop(uid, 0))
            self.ahead.pop(uid, None)
            self.unit_rngs[uid] = np.random.Generator(bits)
        return self.unit_rngs[uid]

    def uniforms(self, uid: int, n: int) -> list[float]:
        """The next ``n`` numbers of a unit's team generator (``team_rng(uid).random(n)``)."""
        span = self.ahead.get(uid)
        if span is not None:
            start = span[0] + self.used[uid]
            if start + n <= span[1]:
                self.used[uid] += n
                return self.pool[start : start + n].tolist()
        return self.team_rng(uid).random(n).tolist()

    def unit(self, kind: str, level: int, name: str, parent: int | None, **attrs: object) -> int:
        """Add a unit; returns its id (units are numbered in the order they are added)."""
        uid = len(self.nodes)
        node: dict[str, Any] = {"kind": kind, "level": level, "name": name, "staff": [], **attrs}
        node.setdefault("town", -1)
        node.setdefault("households", 0)
        node.setdefault("population", 0)
        self.nodes.append(node)
        self.names.append(name)
        self.parents.append(-1 if parent is None else parent)
        return uid

    def microgrids(self, grid: int, town: int, urban: bool, names: list[str],
                   households: list[int], population: list[int]) -> range:  # fmt: skip
        """Add one grid's micro-grids and plan their teams.

        As :meth:`unit` and :meth:`microgrid` one by one would: the same attributes, in the
        same order, in one list comprehension.
        """
        first = len(self.nodes)
        self.nodes.extend([
            {"kind": "microgrid", "level": MICROGRID, "name": name, "staff": [], "town": town,
             "households": hh, "urban": urban, "population": people}
            for name, hh, people in zip(names, households, population, strict=True)
        ])  # fmt: skip
        self.names.extend(names)
        self.parents.extend([grid] * len(names))
        ids = range(first, len(self.nodes))
        self.plan.extend([("microgrid", uid, "", 0, 1.0) for uid in ids])
        return ids

    def finish(self) -> nx.DiGraph:
        """The graph of the units added: nodes in id order, an edge parent → child per unit.

        The same graph ``add_node``/``add_edge`` unit by unit would make (node ids, attribute
        dicts, the order of nodes, successors and predecessors: edges go in in child order),
        built with networkx's bulk calls: unit by unit costs a third of the build at 20,000
        micro-grids.
        """
        graph = nx.DiGraph()
        graph.add_nodes_from(enumerate(self.nodes))
        graph.add_edges_from((p, c) for c, p in enumerate(self.parents) if p >= 0)
        return graph

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
        """Carry out the plan: Party groups, then every hire in one pass.

        Hires asked for afterwards are carried out at once.
        """
        party_units = [step[1] for step in self.plan if step[0] != "hire"]
        self.party_active = np.zeros(len(self.nodes), dtype=bool)
        self.party_members = np.zeros(len(self.nodes))
        # Whether a unit has an active Party group: one draw from a generator of its own,
        # keyed by the unit's name, so a higher ``active_group_share`` only adds groups
        # (common random numbers across Party knobs).
        ones = np.ones(len(party_units), dtype=np.int64)
        party = keyed_uniforms(self.base, self.keys(party_units), ones, 1).ravel()
        p = self.scenario.party
        nodes = [self.nodes[uid] for uid in party_units]
        active = party < p.active_group_share
        households = np.array([node["households"] for node in nodes], dtype=np.int64)
        # households * members_per_100_households / 100, as Python would compute it.
        members = np.where(active, households * p.members_per_100_households / 100, 0.0)
        for node, on, n in zip(nodes, active.tolist(), members.tolist(), strict=True):
            node["party_active"] = on
            node["party_members"] = n
        self.party_active[party_units] = active
        self.party_members[party_units] = members
        self._draw_ahead(dict(zip(party_units, party.tolist(), strict=True)))
        self.planning = False
        self._hire_planned()
        self.plan.clear()

    def _draw_ahead(self, party_draws: Mapping[int, float]) -> None:
        """Turn the plan into hires and draw the numbers they take, for all units at once.

        Per member of a role one number for being a woman and one per skill; a micro-grid
        takes one more when the rule of a woman on the team is enforced. A unit that later
        draws past what was drawn ahead (sunk department staff) gets its generator then,
        moved on past the numbers used (:meth:`team_rng`).
        """
        s = self.scenario
        share = s.party.active_group_share
        templates: list[list[tuple[int, int]]] = [[]]  # (recipe, count); 0: no hire
        steps = np.zeros(len(self.plan), dtype=np.int64)  # per plan step, its template
        seen: dict[tuple[str, int, float], int] = {}
        for i in [i for i, step in enumerate(self.plan) if step[0] == "hire"]:
            _, _, role, count, factor = self.plan[i]  # one template per role, count, factor
            if (role, count, factor) not in seen:
                seen[role, count, factor] = len(templates)
                templates.append([(self._recipe(role, factor), count)])
            steps[i] = seen[role, count, factor]
        # Micro-grids (most steps), on whole columns: one template per (active, urban).
        at = [i for i, step in enumerate(self.plan) if step[0] == "microgrid"]
        uids = [self.plan[i][1] for i in at]
        active = np.array([party_draws[uid] for uid in uids], dtype=float) < share
        urban = np.array([bool(self.nodes[uid]["urban"]) for uid in uids], dtype=bool)
        kind = 2 * active + urban
        for k in np.unique(kind).tolist():  # only the kinds there are (as unit by unit)
            steps[np.asarray(at)[kind == k]] = len(templates)
            templates.append(self._microgrid_team(k >= 2, k % 2 == 1))
        self.hires = hires = self._hires(templates, steps)
        width = np.array([r.width for r in self.recipe_list] + [1], dtype=np.int64)
        numbers = np.where(hires.recipe >= 0, hires.count * width[hires.recipe], 1)
        # Where each hire's numbers start in its unit's stream: the numbers of the unit's
        # hires before it (a stable sort keeps the plan's order within a unit).
        order = np.argsort(hires.unit, kind="stable")
        units, taken = hires.unit[order], numbers[order]
        head = np.flatnonzero(np.diff(units, prepend=-1))  # each unit's first hire
        before = np.cumsum(taken) - taken
        group = np.cumsum(np.diff(units, prepend=-1) != 0) - 1
        wanted = np.add.reduceat(taken, head) if len(head) else taken[:0]
        units = units[head]
        few = (wanted > 0) & (wanted <= self.PREFETCH)
        many = wanted > self.PREFETCH
        counts = wanted[few]
        rows = keyed_uniforms(self.base, self.keys(units[few].tolist()), counts)
        generators = keyed_generators(self.base, self.keys(units[many].tolist()))
        long_ = [g.random(n) for g, n in zip(generators, wanted[many].tolist(), strict=True)]
        self.pool = np.concatenate([rows.ravel(), *long_])
        first = np.zeros(len(units), dtype=np.int64)
        first[few] = np.arange(len(counts)) * rows.shape[1]
        first[many] = rows.size + np.cumsum(wanted[many]) - wanted[many]
        start = np.empty_like(before)
        start[order] = first[group] + before - before[head][group]
        hires.start = start
        kept = np.flatnonzero(few | many)
        spans = zip(first[kept].tolist(), (first + wanted)[kept].tolist(), strict=True)
        self.ahead = dict(zip(units[kept].tolist(), spans, strict=True))
        self.used = dict.fromkeys(self.ahead, 0)

    def _microgrid_team(self, active: bool, urban: bool) -> list[tuple[int, int]]:
        """The hires of a micro-grid with or without an active Party group, urban or not."""
        s = self.scenario
        mobilised = 1.0 + (s.party.volunteer_mobilisation if active else 0.0)
        team = [(self._recipe(role, mobilised if role in s.party.mobilised_roles else 1.0), n)
                for role, n in s.staffing.microgrid.items()]  # fmt: skip
        if active and urban:
            extra = round(s.party.in_service_members_per_urban_microgrid)
            team.append((self._recipe(s.party.in_service_role, 1.0), extra))
        team.append((-1, 0))  # the rule of a woman on the team
        return team

    def _hires(self, templates: list[list[tuple[int, int]]], steps: np.ndarray) -> PlannedHires:
        """The hires of the plan's steps, each step's from its template, in plan order."""
        size = np.array([len(t) for t in templates], dtype=np.int64)
        offset = np.cumsum(size) - size
        flat = np.array([h for t in templates for h in t] or [(0, 0)], dtype=np.int64)
        per_step = size[steps]
        of = np.repeat(np.arange(len(steps)), per_step)  # per hire, its step
        step_first = np.cumsum(per_step) - per_step
        row = offset[steps[of]] + np.arange(len(of)) - step_first[of]
        unit = np.array([uid for _, uid, *_ in self.plan], dtype=np.int64)
        start = np.zeros(len(of), dtype=np.int64)  # set by _draw_ahead
        return PlannedHires(unit=unit[of], recipe=flat[row, 0], count=flat[row, 1], start=start,
                            team=step_first[of])  # fmt: skip

    def _hire_planned(self) -> None:
        """Hire every planned member in one pass; give each unit its staff ids."""
        hires = self.hires
        if hires is None:
            return
        compliance = self.scenario.staffing.woman_rule_compliance
        first, taken = hire_planned(self.staff, hires, self.recipe_list, self.pool,
                                    compliance, self._skill_set)  # fmt: skip
        # Each unit's hires are consecutive in the plan: one range of staff ids per run.
        keep = np.flatnonzero(hires.count > 0)
        unit, lo, hi = hires.unit[keep], first[keep], (first + hires.count)[keep]
        new = np.flatnonzero(np.diff(unit, prepend=-1))
        last = np.append(new[1:], len(unit)) - 1
        nodes = self.nodes
        for uid, a, b in zip(unit[new].tolist(), lo[new].tolist(), hi[last].tolist(), strict=True):
            nodes[uid]["staff"].extend(range(a, b))
        # The numbers each unit used: all drawn ahead but a woman rule's that was not drawn.
        unused = np.bincount(hires.unit[(hires.recipe < 0) & ~taken], minlength=len(nodes))
        self.used = {uid: b - a - int(unused[uid]) for uid, (a, b) in self.ahead.items()}
        self.hires = None

    def _hire(self, uid: int, role_name: str, count: int, budget_factor: float = 1.0) -> None:
        """Hire now, member by member (hires after the plan: sunk department staff)."""
        recipe = self.recipe_list[self._recipe(role_name, budget_factor)]
        skills = recipe.skills
        width = recipe.width
        # Per member: one draw for being a woman, then one per skill, in that order: the
        # draws one call per member would make, taken in one call.
        u = self.uniforms(uid, count * width)
        rows = [u[i : i + width] for i in range(0, len(u), width)]
        female = [row[0] < recipe.female_share for row in rows]
        has = [self._skill_set(frozenset(k for (k, p), x in zip(skills, row[1:], strict=True)
                                         if x < p)) for row in rows]  # fmt: skip
        first = self.staff.extend(role_name, uid, female, has, recipe)
        self.nodes[uid]["staff"].extend(range(first, first + count))

    def _recipe(self, role_name: str, budget_factor: float) -> int:
        """The index of what every member of a role hired with a budget factor shares."""
        key = (role_name, budget_factor)
        if key not in self.recipes:
            self.recipes[key] = len(self.recipe_list)
            recipe = make_recipe(self.scenario, role_name, budget_factor, self.calendar_hours)
            self.recipe_list.append(recipe)
        return self.recipes[key]

    def _skill_set(self, skills: frozenset[str]) -> frozenset[str]:
        """One frozenset per combination of skills, shared by everyone who has it."""
        return self.skill_sets.setdefault(skills, skills)


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
            split = _split(grid_hh, n_mg)
            prefix = f"{town.name} grid {gi + 1}."
            names = [f"{prefix}{mi}" for mi in range(1, n_mg + 1)]
            # At most two sizes (_split): each size's head count rounded once.
            rounded = {hh: round(hh * s.county.persons_per_household) for hh in set(split)}
            heads = [rounded[hh] for hh in split]
            microgrids.extend(b.microgrids(gid, ti, town.urban, names, split, heads))
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
    nodes = b.nodes
    n = len(nodes)
    town_of = np.array([node["town"] for node in nodes], dtype=np.int64)
    kinds = [node["kind"] for node in nodes]
    grid_of = np.full(n, -1, dtype=np.int64)
    own = [uid for uid, kind in enumerate(kinds) if kind in ("grid", "exclusive_grid")]
    grid_of[own] = own
    inner = [uid for uid, kind in enumerate(kinds) if kind == "microgrid"]
    grid_of[inner] = np.asarray(b.parents, dtype=np.int64)[inner]  # a micro-grid's grid
    no_phone = _smartphone_gap(s, residents_rng, n, np.asarray(microgrids + exclusive))
    return County(
        graph=b.finish(),
        staff=b.staff,
        origin_units=np.asarray(microgrids + exclusive, dtype=np.int64),
        grid_of=grid_of,
        town_of=town_of,
        town_desk=town_desk,
        county_desk=county_desk,
        department=departments,
        no_smartphone=no_phone,
        town_names=[t.name for t in s.county.towns],
        party_members=b.party_members,
        party_active=b.party_active,
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
            sid = b.nodes[gid]["staff"][-1]
            b.staff.skills[sid] = b.staff.skills[sid] | {f"department:{dep.key}"}
            b.nodes[gid].setdefault("sunk", []).append(dep.key)


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
