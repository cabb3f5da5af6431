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
    """Log-odds that each unit settles each category, ``(n_units, n_categories)``."""
    g = county.graph.nodes
    staff = county.staff
    cap = s.capability
    cats = s.categories
    complexity = np.array([c.complexity for c in cats])
    needs = [frozenset(c.skills) for c in cats]
    departments = [c.department for c in cats]
    out = np.zeros((county.n_units, len(cats)))
    for uid in range(county.n_units):
        node = g[uid]
        level = node["level"]
        members = node["staff"]
        base = cap.level_base.get(LEVELS[level], 0.0)
        resolvers = staff.resolvers(members)
        base += max((staff.training[m] for m in resolvers), default=0.0)
        has = frozenset().union(*(staff.skills[m] for m in members)) if members else frozenset()
        if level == GRID:
            base += cap.quanke_grid
        if node.get("party_active", False):
            base += s.party.capability
        if level == MICROGRID and any("help" in staff.duties[m] for m in members):
            base += cap.helpers
        sunk = frozenset(node.get("sunk", ()))
        for k in range(len(cats)):
            value = base - complexity[k]
            if needs[k]:
                value += cap.skill_match if needs[k] <= has else cap.skill_missing
            if departments[k] in sunk:
                value += cap.sunk_department
            out[uid, k] = value
        if level == COUNTY:
            out[uid, :] = CERTAIN  # there is always a level that can decide
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
