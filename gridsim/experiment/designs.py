"""Designs: which factor levels an experiment's design points combine.

Levels factors (``values = [...]``) are crossed in a full factorial; range factors
(``range = {low, high}``) are sampled with a Latin hypercube seeded by the experiment's root
seed, so the same file always gives the same design points.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from gridsim.experiment.spec import Factor


def _lhs_unit(d: int, samples: int, seed: int) -> np.ndarray:
    """Latin-hypercube points in the unit cube, reproducible from the root seed."""
    from scipy.stats import qmc

    rng = np.random.default_rng(seed)
    try:
        sampler = qmc.LatinHypercube(d=d, rng=rng)
    except TypeError:  # scipy < 1.15
        sampler = qmc.LatinHypercube(d=d, seed=rng)
    return sampler.random(samples)


def latin_hypercube(factors: Iterable[Factor], samples: int, seed: int) -> list[dict[str, Any]]:
    """Latin-hypercube sample of range factors: ``samples`` dicts ``{path: value}``.

    Uses :class:`scipy.stats.qmc.LatinHypercube` seeded with ``seed``. Integer factors take
    each whole number of ``[low, high]`` with equal probability; real factors are rounded to
    six significant digits (so names and values agree).

    Example:
        >>> f = Factor("grids.households_per_grid", low=200, high=600, integer=True)
        >>> pts = latin_hypercube([f], samples=4, seed=1)
        >>> all(200 <= p["grids.households_per_grid"] <= 600 for p in pts)
        True
        >>> pts == latin_hypercube([f], samples=4, seed=1)
        True
    """
    factors = list(factors)
    if not factors:
        return []
    unit = _lhs_unit(len(factors), samples, seed)
    points: list[dict[str, Any]] = []
    for row in unit:
        point: dict[str, Any] = {}
        for u, f in zip(row, factors, strict=True):
            low, high = f.bounds
            if f.integer:
                point[f.path] = int(min(high, math.floor(low + u * (high - low + 1))))
            else:
                point[f.path] = float(f"{low + u * (high - low):.6g}")
        points.append(point)
    return points


def design_size(factors: Sequence[Factor], samples: int | None) -> int:
    """How many design points :func:`design_points` gives, without building them.

    Example:
        >>> design_size([Factor("a", values=(1, 2, 3)), Factor("b", low=0, high=1)], 4)
        12
        >>> design_size([], None)
        0
    """
    levels = [len(f.values) for f in factors if f.values is not None]
    has_ranges = any(f.values is None for f in factors)
    if not levels and not has_ranges:
        return 0
    return math.prod(levels) * ((samples or 1) if has_ranges else 1)


def design_points(
    factors: Sequence[Factor], samples: int | None, seed: int
) -> list[dict[str, Any]]:
    """Full factorial of the levels factors, crossed with the LHS sample of the range ones.

    Args:
        factors: the experiment's factors, in file order.
        samples: Latin-hypercube samples (used only when there are range factors).
        seed: the experiment's root seed (seeds the Latin hypercube).

    Returns:
        One ``{path: value}`` dict per design point, in factor order; ``[]`` without factors.

    Example:
        >>> design_points([Factor("a", values=(1, 2)), Factor("b", values=(True, False))], None, 0)
        [{'a': 1, 'b': True}, {'a': 1, 'b': False}, {'a': 2, 'b': True}, {'a': 2, 'b': False}]
    """
    levels = [f for f in factors if f.values is not None]
    ranges = [f for f in factors if f.values is None]
    paths = [f.path for f in levels]
    grid = [
        dict(zip(paths, combo, strict=True))
        for combo in itertools.product(*(f.values or () for f in levels))
    ]
    if not ranges:
        return grid if levels else []
    lhs = latin_hypercube(ranges, samples or 1, seed)
    return [{**g, **p} for g in grid for p in lhs]
