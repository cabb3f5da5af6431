"""Seeds and random streams: one root seed per run, one generator per purpose.

A run's randomness comes from one ``numpy.random.SeedSequence``; every purpose (county,
issues, reports, ...; see :data:`gridsim.model.vocabulary.STREAMS`) gets its own generator
derived from it by spawn key, so changing how one mechanism draws never shifts another's
numbers (common random numbers across policy variants).
"""

from __future__ import annotations

import numpy as np

from gridsim.model.vocabulary import STREAMS


def seed_sequence(
    seed: int | np.random.SeedSequence | None, default: int
) -> np.random.SeedSequence:
    """The root SeedSequence of one run (an int seed ``n`` means ``SeedSequence(n)``).

    Example:
        >>> seed_sequence(None, 5).entropy, seed_sequence(3, 5).entropy
        (5, 3)
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    return np.random.SeedSequence(default if seed is None else int(seed))


def replication_seed(root: int, replication: int) -> np.random.SeedSequence:
    """Replication ``r``'s seed under a root seed.

    The same for every variant (common random numbers), and rebuildable alone.

    Example:
        >>> replication_seed(7, 2).spawn_key
        (2,)
    """
    return np.random.SeedSequence(root, spawn_key=(replication,))


def make_streams(root: np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """One generator per purpose, derived from the run's seed by spawn key.

    Deriving by key (not by ``spawn()``) lets any stream be rebuilt alone, and means that a
    policy that draws more routing numbers never shifts the arrivals.

    Example:
        >>> streams = make_streams(np.random.SeedSequence(1))
        >>> sorted(streams) == sorted(STREAMS)
        True
    """
    key = tuple(root.spawn_key)
    return {
        name: np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=key + (i,)))
        for i, name in enumerate(STREAMS)
    }
