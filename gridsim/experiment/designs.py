"""Designs: which factor levels an experiment's design points combine.

Levels factors (``values = [...]``) are crossed in a full factorial; range factors
(``range = {low, high}``) are sampled, seeded by the experiment's root seed so that the same
file always gives the same design points:

``design = "lhs"`` (the default)
    a Latin hypercube of ``samples`` points (:func:`latin_hypercube`);
``design = "saltelli"``
    Saltelli's sample for Sobol' indices (:func:`saltelli`): ``samples`` base points (a power
    of two), each followed by its ``D`` cross points and its second base point, so
    ``samples * (D + 2)`` points for ``D`` range factors.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from gridsim.experiment.spec import Factor

#: The designs a file's ``design`` may name for its range factors.
SAMPLED_DESIGNS = ("lhs", "saltelli")


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
    return _scale(_lhs_unit(len(factors), samples, seed), factors)


def _scale(unit: np.ndarray, factors: Sequence[Factor]) -> list[dict[str, Any]]:
    """Unit-cube rows as factor values, one coordinate at a time.

    Integer factors take each whole number of ``[low, high]`` with equal probability; real
    ones are rounded to six significant digits. Coordinate-wise, so a Saltelli sample's
    structure (equal coordinates stay equal) survives.
    """
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


def saltelli(factors: Iterable[Factor], samples: int, seed: int) -> list[dict[str, Any]]:
    """Saltelli's sample of range factors (SALib), for Sobol' first-order and total indices.

    ``samples`` base points (``N``, a power of two: the scrambled Sobol' sequence is balanced
    only then) give ``N * (D + 2)`` points in blocks ``A, AB_1 ... AB_D, B``, where ``AB_i``
    is ``A`` with factor ``i`` taken from ``B`` (what
    :func:`gridsim.analysis.sensitivity.is_saltelli` checks). Values are mapped as in
    :func:`latin_hypercube`; with whole-number factors some points repeat.

    Example:
        >>> fs = [Factor("a", low=0, high=1), Factor("b", low=200, high=600, integer=True)]
        >>> pts = saltelli(fs, samples=4, seed=1)
        >>> len(pts), pts[1]["a"] == pts[3]["a"], pts[1]["b"] == pts[0]["b"]
        (16, True, True)
        >>> pts == saltelli(fs, samples=4, seed=1)
        True
    """
    from SALib.sample import sobol

    factors = list(factors)
    if not factors:
        return []
    d = len(factors)
    problem = {"num_vars": d, "names": [f.path for f in factors], "bounds": [[0.0, 1.0]] * d}
    unit = sobol.sample(problem, samples, calc_second_order=False, seed=seed)
    return _scale(unit, factors)


def is_power_of_two(n: int) -> bool:
    """Whether ``n`` is 1, 2, 4, 8, ... (a Saltelli design's ``samples`` must be).

    Example:
        >>> [n for n in range(10) if is_power_of_two(n)]
        [1, 2, 4, 8]
    """
    return n > 0 and n & (n - 1) == 0


def design_size(factors: Sequence[Factor], samples: int | None, design: str = "lhs") -> int:
    """How many design points :func:`design_points` gives, without building them.

    Example:
        >>> design_size([Factor("a", values=(1, 2, 3)), Factor("b", low=0, high=1)], 4)
        12
        >>> design_size([Factor("a", values=(1, 2, 3)), Factor("b", low=0, high=1)], 4,
        ...             "saltelli")
        36
        >>> design_size([], None)
        0
    """
    levels = [len(f.values) for f in factors if f.values is not None]
    ranges = sum(f.values is None for f in factors)
    if not levels and not ranges:
        return 0
    per_grid = (samples or 1) * (ranges + 2 if design == "saltelli" else 1) if ranges else 1
    return math.prod(levels) * per_grid


def design_points(
    factors: Sequence[Factor], samples: int | None, seed: int, design: str = "lhs"
) -> list[dict[str, Any]]:
    """Full factorial of the levels factors, crossed with the sample of the range ones.

    Args:
        factors: the experiment's factors, in file order.
        samples: Latin-hypercube samples, or Saltelli base points (range factors only).
        seed: the experiment's root seed (seeds the sample).
        design: ``"lhs"`` (:func:`latin_hypercube`) or ``"saltelli"`` (:func:`saltelli`).

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
    sample = (saltelli if design == "saltelli" else latin_hypercube)(ranges, samples or 1, seed)
    return [{**g, **p} for g in grid for p in sample]
