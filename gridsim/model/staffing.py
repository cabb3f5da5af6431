"""Staff: the staff table, what the members of one role share, and hiring on whole columns.

:func:`gridsim.model.county.build_county` plans every team while it walks the hierarchy,
then hires them all here in one pass: one row of the staff table per member, in the order
of the plan, with the numbers each unit's own stream gives (drawn ahead by the builder).
A county of 20,000 micro-grids has about as many hires; done one by one in Python they
cost more than the rest of the build, so the pass works on numpy columns and touches Python
objects only to fill the table's lists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from gridsim.model.calendar import calendar_hours_per_week
from gridsim.model.scenario import Scenario


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

    def extend(self, role: str, unit: int, female: list[bool], skills: list[frozenset[str]],
               recipe: Recipe) -> int:  # fmt: skip
        """Append members of one role and unit, one per entry of ``female``; returns the first id.

        What they share (pace, hours, duties, training) comes from ``recipe``.
        """
        count = len(female)
        return self.append_members(
            [role] * count, [unit] * count, female, skills, [recipe.speed] * count,
            [recipe.calendar] * count, [recipe.budget] * count, [recipe.tasks] * count,
            [recipe.duties] * count, [recipe.training] * count,
        )  # fmt: skip

    def append_members(
        self, role: list[str], unit: list[int], female: list[bool], skills: list[frozenset[str]],
        speed: list[float], calendar: list[str], budget: list[float], tasks: list[float],
        duties: list[frozenset[str]], training: list[float],
    ) -> int:  # fmt: skip
        """Append members, a value of each column per member; returns the first id.

        Their visit and contact hours start at zero (``gridsim.model.attention`` plans them).
        """
        first = len(self.role)
        self.role.extend(role)
        self.unit.extend(unit)
        self.female.extend(female)
        self.skills.extend(skills)
        self.speed.extend(speed)
        self.calendar.extend(calendar)
        self.hours_per_week.extend(budget)
        self.task_hours_per_week.extend(tasks)
        self.duties.extend(duties)
        self.training.extend(training)
        zeros = [0.0] * len(role)
        self.visit_hours_per_month.extend(zeros)
        self.visits_per_month.extend(zeros)
        self.contact_hours_per_month.extend(zeros)
        return first

    def resolvers(self, members: Sequence[int]) -> list[int]:
        """The members who take work orders."""
        return [m for m in members if "resolve" in self.duties[m]]


@dataclass(frozen=True)
class Recipe:
    """What every member of one role, hired with one budget factor, has in common."""

    role: str
    calendar: str
    budget: float
    tasks: float
    speed: float
    duties: frozenset[str]
    training: float
    skills: tuple[tuple[str, float], ...]
    female_share: float

    @property
    def width(self) -> int:
        """Numbers a member takes from their unit's stream: being a woman, then each skill."""
        return 1 + len(self.skills)


def make_recipe(
    scenario: Scenario, role_name: str, budget_factor: float, calendar_hours: dict[str, float]
) -> Recipe:
    """The recipe of a role hired with a budget factor; ``calendar_hours`` caches calendars."""
    role = scenario.roles[role_name]
    if role.calendar not in calendar_hours:  # one calendar built per name, not per hire
        calendar_hours[role.calendar] = calendar_hours_per_week(scenario, role.calendar)
    hours = calendar_hours[role.calendar]
    budget = role.hours_per_week or role.availability * hours
    budget = min(budget * budget_factor, hours)
    tasks = min(role.task_hours_per_week, budget)
    return Recipe(
        role=role_name,
        calendar=role.calendar,
        budget=budget,
        tasks=tasks,
        # Orders are worked inside the calendar at the pace the budget left after other
        # tasks allows; visits and contacts use the slack (gridsim.model.attention).
        speed=max((budget - tasks) / hours, 1e-6),
        duties=frozenset(role.duties),
        training=role.training,
        skills=tuple(role.skills.items()),
        female_share=role.female_share,
    )


@dataclass
class PlannedHires:
    """The planned hires, one entry per hire in staff order (numpy columns).

    Attributes:
        unit: the unit hiring.
        recipe: index of the role's recipe, or -1 for a micro-grid's woman rule (one number,
            drawn only if none of the team it closes is a woman).
        count: members hired (0 for a woman rule).
        start: where the hire's numbers begin in the pool of drawn numbers; a member takes
            ``width`` consecutive numbers, the next member the next ``width``.
        team: per hire, the index of the first hire of its unit's team (a woman rule looks
            at the members of the hires from there to itself).
    """

    unit: np.ndarray
    recipe: np.ndarray
    count: np.ndarray
    start: np.ndarray
    team: np.ndarray


def _per_member(values: Sequence[object], which: np.ndarray) -> list:
    """``[values[i] for i in which]``, through an object array (the same Python objects)."""
    table = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):  # one by one: a tuple or set must stay one object
        table[i] = value
    return table[which].tolist()


def _skills(
    recipes: Sequence[Recipe],
    recipe: np.ndarray,
    first: np.ndarray,
    pool: np.ndarray,
    skill_set: Callable[[frozenset[str]], frozenset[str]],
) -> list[frozenset[str]]:
    """Per member, the skills whose number (after the woman draw) is below the role's share."""
    out = np.empty(len(recipe), dtype=object)
    for r, rec in enumerate(recipes):
        members = np.flatnonzero(recipe == r)
        if not len(members):
            continue
        if not rec.skills:
            out[members] = skill_set(frozenset())
            continue
        starts = first[members]
        has = np.stack([pool[starts + 1 + j] < p for j, (_, p) in enumerate(rec.skills)], 1)
        combos, which = np.unique(has, axis=0, return_inverse=True)
        # One frozenset per combination of skills, shared by everyone who has it; built in
        # the role's order of skills, as a member-by-member loop would.
        sets = np.empty(len(combos), dtype=object)
        for i, row in enumerate(combos.tolist()):
            sets[i] = skill_set(frozenset(k for (k, _), x in zip(rec.skills, row, strict=True)
                                          if x))  # fmt: skip
        out[members] = sets[which.reshape(-1)]
    return out.tolist()


def hire_planned(
    staff: StaffTable,
    hires: PlannedHires,
    recipes: Sequence[Recipe],
    pool: np.ndarray,
    compliance: float,
    skill_set: Callable[[frozenset[str]], frozenset[str]],
) -> tuple[np.ndarray, np.ndarray]:
    """Append every planned member to ``staff``, in plan order, in one pass.

    Per member one number for being a woman (below the role's ``female_share``), then one
    per skill of the role (below its share), read from ``pool`` where the hire's numbers
    start: the numbers a member-by-member loop over each unit's stream would take. A woman
    rule gives the last member of a team with no woman a woman, if its number is below
    ``compliance`` (the number is drawn only for such a team).

    Returns:
        Per hire, the id of its first member, and whether its number was drawn (a woman
        rule for a team with no woman; False for every other hire).
    """
    count = hires.count
    n = int(count.sum())
    first_member = np.cumsum(count) - count  # per hire, counting from this pass's first
    hire = np.repeat(np.arange(len(count)), count)  # per member, its hire
    recipe = hires.recipe[hire]
    width = np.array([r.width for r in recipes] or [1], dtype=np.int64)
    first = hires.start[hire] + (np.arange(n) - first_member[hire]) * width[recipe]
    share = np.array([r.female_share for r in recipes] or [0.0])
    female = pool[first] < share[recipe]
    # The woman rule, on every micro-grid at once: a team is the members of the hires from
    # the team's first hire up to the rule (its last), so a team is a range of members.
    rules = np.flatnonzero(hires.recipe < 0)
    lo, hi = first_member[hires.team[rules]], first_member[rules]
    women = np.concatenate(([0], np.cumsum(female)))
    drawn = (hi > lo) & (women[hi] == women[lo])
    taken = np.zeros(len(count), dtype=bool)
    taken[rules[drawn]] = True
    complied = pool[hires.start[rules[drawn]]] < compliance
    female[hi[drawn][complied] - 1] = True
    offset = staff.append_members(
        _per_member([r.role for r in recipes], recipe),
        hires.unit[hire].tolist(),
        female.tolist(),
        _skills(recipes, recipe, first, pool, skill_set),
        _per_member([r.speed for r in recipes], recipe),
        _per_member([r.calendar for r in recipes], recipe),
        _per_member([r.budget for r in recipes], recipe),
        _per_member([r.tasks for r in recipes], recipe),
        _per_member([r.duties for r in recipes], recipe),
        _per_member([r.training for r in recipes], recipe),
    )
    return first_member + offset, taken
