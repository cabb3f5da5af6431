"""What a unit can settle: capability from what it has, against a category's complexity.

A unit settles an order of category *k* with probability

    logistic(level base + best training on the team + skills + sunk department
             + 全科 authority (grids) + Party group + helpers − complexity(k))

(every term a log-odds parameter of ``[capability]``, the roles' ``training`` or the
``[party]`` section). An order that the unit cannot settle goes up, or may be brushed off
(``gridsim.model.engine``). The department at county level always decides. The in-grid and
in-town shares are then outcomes that training, sinking department staff and Party embedding
move, not inputs.

Example:
    >>> import numpy as np
    >>> from gridsim import load_scenario
    >>> from gridsim.model.county import build_county
    >>> s = load_scenario("scenarios/one_town.toml")
    >>> c = build_county(s, np.random.default_rng(1), np.random.default_rng(2))
    >>> p = settle_probabilities(s, c)
    >>> p.shape == (c.n_units, len(s.categories)) and bool((p[c.department["justice"]] == 1).all())
    True
"""

from __future__ import annotations

import math

import numpy as np

from gridsim.model.county import County
from gridsim.model.scenario import Scenario
from gridsim.model.vocabulary import COUNTY, GRID, LEVELS, MICROGRID

#: Log-odds beyond which a probability is taken as exactly 1 (or 0).
CERTAIN = 30.0


def capability_logits(s: Scenario, county: County) -> np.ndarray:
    """Log-odds that each unit settles each category, ``(n_units, n_categories)``.

    Worked on whole columns (one entry per unit or staff member), not unit by unit: the
    terms are added in the same order, each only where it applies, so every entry is the
    same double the unit-by-unit sum gives (``tests/test_scale_exact.py`` checks it).
    """
    graph = county.graph
    staff = county.staff
    cap = s.capability
    cats = s.categories
    n = county.n_units
    level = np.fromiter((lvl for _, lvl in graph.nodes(data="level")), np.int64, n)
    party = np.fromiter((a for _, a in graph.nodes(data="party_active", default=False)), bool, n)
    unit = np.asarray(staff.unit, dtype=np.int64)
    # Per member: does it take orders, does it help (few distinct duty sets: looked up once).
    duty_sets = {d: ("resolve" in d, "help" in d) for d in set(staff.duties)}
    flags = np.array([duty_sets[d] for d in staff.duties], dtype=bool).reshape(-1, 2)
    # The best training among a unit's resolvers (0 without one), as max() picks it.
    best = np.full(n, -np.inf)
    resolvers = flags[:, 0]
    np.maximum.at(best, unit[resolvers], np.asarray(staff.training, dtype=float)[resolvers])
    best[np.bincount(unit[resolvers], minlength=n) == 0] = 0.0
    level_base = np.array([cap.level_base.get(name, 0.0) for name in LEVELS])
    base = level_base[level] + best
    base = np.where(level == GRID, base + cap.quanke_grid, base)
    base = np.where(party, base + s.party.capability, base)
    helped = np.bincount(unit[flags[:, 1]], minlength=n) > 0
    base = np.where((level == MICROGRID) & helped, base + cap.helpers, base)
    # Whether a unit's team has every skill a category needs: per needed skill, whether
    # some member has it (only the skills some category needs matter).
    needed = sorted({k for c in cats for k in c.skills})
    has = np.zeros((n, len(needed)), dtype=bool)
    if needed:
        rows = {k: [x in k for x in needed] for k in set(staff.skills)}
        member = np.array([rows[k] for k in staff.skills], dtype=bool).reshape(-1, len(needed))
        for j in range(len(needed)):
            has[:, j] = np.bincount(unit[member[:, j]], minlength=n) > 0
    sunk = [(u, frozenset(d)) for u, d in graph.nodes(data="sunk") if d]
    out = np.empty((n, len(cats)))
    for k, c in enumerate(cats):
        value = base - c.complexity
        if c.skills:
            match = has[:, [needed.index(x) for x in c.skills]].all(axis=1)
            value = np.where(match, value + cap.skill_match, value + cap.skill_missing)
        for u, deps in sunk:
            if c.department in deps:
                value[u] += cap.sunk_department
        out[:, k] = value
    out[level == COUNTY] = CERTAIN  # there is always a level that can decide
    return out


def settle_probabilities(s: Scenario, county: County) -> np.ndarray:
    """P(unit settles category), ``(n_units, n_categories)``: the logistic of the log-odds."""
    logits = np.clip(capability_logits(s, county), -CERTAIN, CERTAIN)
    p = 1.0 / (1.0 + np.exp(-logits))
    p[logits >= CERTAIN] = 1.0
    p[logits <= -CERTAIN] = 0.0
    return p


def brush_off_probability(brush: tuple[float, float, float], p: float, waiting: float) -> float:
    """P(a unit that cannot settle an order brushes it off) (畏难、敷衍了事).

    Log-odds: ``intercept − accountability`` (``brush[0]``) + ``per_gap`` × how far the order
    is beyond the unit (the −logit of its settle probability ``p``) + ``per_waiting`` ×
    orders waiting per handler.

    Example:
        >>> round(brush_off_probability((-3.0, 0.5, 0.0), 0.5, 0.0), 4)  # no gap, no queue
        0.0474
    """
    intercept, per_gap, per_waiting = brush
    if 0 < p < 1:
        gap = max(-math.log(p / (1 - p)), 0.0)
    else:
        gap = CERTAIN if p <= 0 else 0.0
    x = intercept + per_gap * gap + per_waiting * waiting
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0
