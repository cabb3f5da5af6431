"""``gridsim describe``: what a scenario builds, as a table and as a picture.

Counts of units per level, households per grid and micro-grid, staff per role and level
(with each role's hours budget a week, the part of it that goes to other tasks, and its
duties), the party groups, and a drawing of the hierarchy condensed to what a reader can
take in (the county, its departments and centre desks, the towns, and each town's grids and
micro-grids as counts).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from gridsim.files import atomic_write
from gridsim.model.county import County, build_county
from gridsim.model.scenario import Scenario
from gridsim.model.seeds import make_streams, seed_sequence
from gridsim.model.vocabulary import LEVELS

#: The duties of a role in the order the summary lists them (``roles.*.duties``).
DUTY_ORDER: tuple[str, ...] = ("resolve", "visit", "notice", "help")


def build(scenario: Scenario, seed: int | None = None) -> County:
    """Build the county exactly as :func:`gridsim.simulate` would for this seed."""
    rngs = make_streams(seed_sequence(seed, scenario.meta.seed))
    return build_county(scenario, rngs["county"], rngs["residents"])


def summary_text(scenario: Scenario, county: County) -> str:
    """A readable multi-line summary of the hierarchy and its staffing.

    Example:
        >>> from gridsim import load_scenario
        >>> s = load_scenario("scenarios/one_town.toml")
        >>> "micro-grids" in summary_text(s, build(s))
        True
    """
    g = county.graph
    counts = county.counts()
    mg = [d["households"] for _, d in g.nodes(data=True) if d["kind"] == "microgrid"]
    grids = [d["households"] for _, d in g.nodes(data=True) if d["kind"] == "grid"]
    lines = [
        f"{scenario.meta.name}",
        f"  residents {scenario.population:,}  households {sum(grids):,}  "
        f"towns and streets {counts.get('town', 0)}",
        "",
        "  units",
        f"    county departments   {counts.get('department', 0):>7,}",
        f"    centre desks         {counts.get('centre', 0):>7,}",
        f"    towns and streets    {counts.get('town', 0):>7,}",
        f"    basic grids          {counts.get('grid', 0):>7,}   households per grid "
        f"{_range(grids)}",
        f"    exclusive grids      {counts.get('exclusive_grid', 0):>7,}",
        f"    micro-grids          {counts.get('microgrid', 0):>7,}   households per micro-grid "
        f"{_range(mg)}",
        "",
        "  staff by role                 count   level        h/week  tasks  duties",
    ]
    st = county.staff
    by_role = Counter(st.role)
    for role, n in sorted(by_role.items(), key=lambda kv: -kv[1]):
        idx = [i for i, r in enumerate(st.role) if r == role]
        level = Counter(g.nodes[st.unit[i]]["level"] for i in idx).most_common(1)[0][0]
        budget = float(np.mean([st.hours_per_week[i] for i in idx]))
        tasks = float(np.mean([st.task_hours_per_week[i] for i in idx]))
        duties = ",".join(d for d in DUTY_ORDER if d in scenario.roles[role].duties) or "-"
        label = scenario.roles[role].label_zh
        lines.append(
            f"    {role:<26}{n:>7,}   {LEVELS[level]:<12} {budget:6.1f} {tasks:6.1f}  "
            f"{duties:<22} {label}"
        )
    women = sum(
        any(st.female[m] for m in d["staff"])
        for _, d in g.nodes(data=True)
        if d["kind"] == "microgrid"
    )
    active = sum(bool(d.get("party_active", False)) for _, d in g.nodes(data=True))
    members = float(np.sum(county.party_members))
    lines += [
        f"    {'total':<26}{len(st):>7,}",
        "",
        f"  micro-grid teams with a woman: {women:,} of {counts.get('microgrid', 0):,}",
        f"  active party groups: {active:,}, with {members:,.0f} linked party members ([party])",
        f"  residents per full-time grid worker: "
        f"{scenario.population / max(by_role.get('grid_worker', 0), 1):,.0f}",
    ]
    return "\n".join(lines)


def _range(values: list[int]) -> str:
    if not values:
        return "-"
    return f"{min(values)}-{max(values)} (mean {np.mean(values):.0f})"


def draw_hierarchy(scenario: Scenario, county: County, path: str | Path) -> Path:
    """Draw the condensed hierarchy to a PNG (atomically) and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = county.graph
    towns = county.units_of_kind("town")
    deps = county.units_of_kind("department")
    desks = [u for u in county.units_of_kind("centre") if g.nodes[u]["level"] == 3]
    top = deps + desks
    width = max(len(towns), len(top), 4)
    fig, ax = plt.subplots(figsize=(max(10, width * 1.1), 6.5), dpi=150)
    ax.set_axis_off()
    ax.set_xlim(-0.8, width - 0.2)
    ax.set_ylim(-0.2, 3.5)
    mid = (width - 1) / 2
    _box(ax, mid, 3.2, f"{scenario.county.name}\n{scenario.population:,} residents", "#4C72B0")
    for i, u in enumerate(top):
        x = i * (width - 1) / max(len(top) - 1, 1)
        y = 2.4 if i % 2 == 0 else 2.0  # staggered, so that long names never overlap
        name = g.nodes[u]["name"].replace(" -1", "").replace("_", " ")
        _box(ax, x, y, f"{name}\n{len(g.nodes[u]['staff'])} staff", "#8172B2", small=True)
        ax.plot([mid, x], [3.05, y + 0.12], color="#999", lw=0.5)
    for i, t in enumerate(towns):
        x = i * (width - 1) / max(len(towns) - 1, 1)
        kids = list(g.successors(t))
        n_grid = sum(g.nodes[k]["kind"] == "grid" for k in kids)
        n_ex = sum(g.nodes[k]["kind"] == "exclusive_grid" for k in kids)
        n_mg = sum(1 for k in kids if g.nodes[k]["kind"] == "grid" for _ in g.successors(k))
        d = g.nodes[t]
        _box(ax, x, 1.3, f"{d['name']}\n{d['population']:,}", "#55A868", small=True)
        _box(ax, x, 0.2, f"{n_grid} grids\n{n_mg} micro\n{n_ex} excl.", "#C44E52", small=True)
        ax.plot([mid, x], [3.05, 1.45], color="#bbb", lw=0.5)
        ax.plot([x, x], [1.12, 0.45], color="#999", lw=0.6)
    ax.set_title("County hierarchy: departments and desks (top), towns, grids and micro-grids")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return Path(path)


def _box(ax, x: float, y: float, text: str, colour: str, small: bool = False) -> None:
    ax.text(
        x,
        y,
        text,
        ha="center",
        va="center",
        fontsize=6 if small else 9,
        color="white",
        bbox={"boxstyle": "round,pad=0.3", "fc": colour, "ec": "none"},
    )
