"""Seeds and random streams: one root seed per run, one generator per purpose.

A run's randomness comes from one ``numpy.random.SeedSequence``; every purpose (county,
issues, reports, ...; see :data:`gridsim.model.vocabulary.STREAMS`) gets its own generator
derived from it by spawn key, so changing how one mechanism draws never shifts another's
numbers (common random numbers across policy variants).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.random.bit_generator import ISeedSequence

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


# numpy's SeedSequence constants (numpy/random/bit_generator.pyx), for keyed_generators.
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_POOL = 4
_MASK32 = 0xFFFFFFFF


def _words32(n: int) -> list[int]:
    """An int's little-endian 32-bit words, as SeedSequence reads an entropy int (0: [0])."""
    words = [n & _MASK32]
    n >>= 32
    while n:
        words.append(n & _MASK32)
        n >>= 32
    return words


def _pcg64_seeds(entropy: np.ndarray) -> np.ndarray:
    """``SeedSequence(row).generate_state(4, np.uint64)`` for every row of uint32 words.

    The same arithmetic as numpy's SeedSequence (pool of four 32-bit words, hashmix and mix
    in the same order), on whole columns at once. ``tests/test_tables_speed.py`` checks it
    against numpy's own.
    """
    n, k = entropy.shape
    u32 = np.uint32
    hash_a = [_INIT_A]

    def hashmix(value: np.ndarray) -> np.ndarray:
        value = value ^ u32(hash_a[0])
        hash_a[0] = (hash_a[0] * _MULT_A) & _MASK32
        value = value * u32(hash_a[0])
        return value ^ (value >> u32(16))

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        result: np.ndarray = u32(_MIX_L) * x - u32(_MIX_R) * y
        return result ^ (result >> u32(16))

    zero = np.zeros(n, dtype=u32)
    pool = [hashmix(entropy[:, i] if i < k else zero) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    for src in range(_POOL, k):
        for dst in range(_POOL):
            pool[dst] = mix(pool[dst], hashmix(entropy[:, src]))
    out = np.empty((n, 8), dtype=u32)
    hash_b = _INIT_B
    for i in range(8):
        word: np.ndarray = pool[i % _POOL] ^ u32(hash_b)
        hash_b = (hash_b * _MULT_B) & _MASK32
        word = word * u32(hash_b)
        out[:, i] = word ^ (word >> u32(16))
    return out.astype("<u4").view("<u8").astype(np.uint64)


class _Seeded(ISeedSequence):
    """A seed sequence whose PCG64 seed words are already known (see keyed_generators)."""

    def __init__(self, words: np.ndarray):
        self.words = words

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray:
        """The precomputed words: all a PCG64 asks for when it is seeded."""
        if n_words != 4 or np.dtype(dtype) != np.uint64:
            raise ValueError("only PCG64's seed (4 uint64 words) is precomputed")
        return self.words


def keyed_generators(base: int, keys: Sequence[int], *tail: int) -> list[np.random.Generator]:
    """``np.random.default_rng([base, key, *tail])`` for every key, seeded at once.

    A generator per unit keyed by its name gives common random numbers across staffing
    choices; creating thousands through ``default_rng`` costs a SeedSequence each, so the
    seeds are derived here on whole columns, bit for bit as numpy would. Keys must be
    32-bit (crc32 values).

    Example:
        >>> a = keyed_generators(2**40 + 7, [0, 5], 1)[1].random()
        >>> a == np.random.default_rng([2**40 + 7, 5, 1]).random()
        True
    """
    head = _words32(base)
    tail_words = [w for t in tail for w in _words32(t)]
    entropy = np.empty((len(keys), len(head) + 1 + len(tail_words)), dtype=np.uint32)
    entropy[:, : len(head)] = head
    entropy[:, len(head)] = np.asarray(keys, dtype=np.uint32)
    entropy[:, len(head) + 1 :] = tail_words
    seeds = _pcg64_seeds(entropy)
    # numpy accepts any ISeedSequence here; its stubs list only SeedSequence.
    return [np.random.Generator(np.random.PCG64(_Seeded(row))) for row in seeds]  # type: ignore[arg-type]


# PCG64 (numpy/random/src/pcg64): a 128-bit LCG, state = state * _PCG_MULT + inc, whose
# output is the XSL-RR permutation of the new state; held here as (high, low) uint64 columns.
_PCG_MULT_HI, _PCG_MULT_LO = np.uint64(0x2360ED051FC65DA4), np.uint64(0x4385DF649FCCF645)
_LOW32 = np.uint64(_MASK32)
_U32, _U1, _U11, _U58, _U63 = (np.uint64(v) for v in (32, 1, 11, 58, 63))


def _pcg64_step(hi: np.ndarray, lo: np.ndarray, inc_hi: np.ndarray, inc_lo: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """One LCG step of every row, modulo 2**128 (uint64 arithmetic wraps, as in C)."""
    # lo * MULT_LO, full 128 bits, from 32-bit halves.
    a0, a1 = lo & _LOW32, lo >> _U32
    b0, b1 = _PCG_MULT_LO & _LOW32, _PCG_MULT_LO >> _U32
    p00, p01, p10 = a0 * b0, a0 * b1, a1 * b0
    mid = (p00 >> _U32) + (p01 & _LOW32) + (p10 & _LOW32)
    new_lo = (mid << _U32) | (p00 & _LOW32)
    new_hi = a1 * b1 + (p01 >> _U32) + (p10 >> _U32) + (mid >> _U32)
    new_hi = new_hi + hi * _PCG_MULT_LO + lo * _PCG_MULT_HI
    out_lo = new_lo + inc_lo
    out_hi = new_hi + inc_hi + (out_lo < new_lo).astype(np.uint64)
    return out_hi, out_lo


def keyed_uniforms(
    base: int, keys: Sequence[int], counts: Sequence[int] | np.ndarray, *tail: int
) -> np.ndarray:
    """The first ``counts[i]`` numbers of ``default_rng([base, keys[i], *tail]).random()``.

    The same numbers :func:`keyed_generators` would give, without creating a generator per
    key (a numpy Generator costs more than the few draws a small unit takes): PCG64 is
    stepped on whole columns, as numpy steps it (seeding as ``pcg64_set_seed``; a double is
    the top 53 bits of one 64-bit output). Row ``i`` holds its numbers in its first
    ``counts[i]`` columns and NaN after. ``tests/test_scale_exact.py`` checks it against
    numpy's own. Cheap for a few numbers per key; take a generator for long streams.

    Example:
        >>> u = keyed_uniforms(2**40 + 7, [0, 5], [1, 3], 1)
        >>> u[1].tolist() == np.random.default_rng([2**40 + 7, 5, 1]).random(3).tolist()
        True
    """
    counts = np.asarray(counts, dtype=np.int64)
    n = len(keys)
    width = int(counts.max(initial=0))
    out = np.full((n, width), np.nan)
    if width == 0:
        return out
    head = _words32(base)
    tail_words = [w for t in tail for w in _words32(t)]
    entropy = np.empty((n, len(head) + 1 + len(tail_words)), dtype=np.uint32)
    entropy[:, : len(head)] = head
    entropy[:, len(head)] = np.asarray(keys, dtype=np.uint32)
    entropy[:, len(head) + 1 :] = tail_words
    seeds = _pcg64_seeds(entropy)  # per row: initstate (high, low), initseq (high, low)
    # pcg_setseq_128_srandom_r: inc = initseq << 1 | 1; state = 0, step, += initstate, step.
    inc_hi = (seeds[:, 2] << _U1) | (seeds[:, 3] >> _U63)
    inc_lo = (seeds[:, 3] << _U1) | _U1
    lo = inc_lo + seeds[:, 1]
    hi = inc_hi + seeds[:, 0] + (lo < inc_lo).astype(np.uint64)
    hi, lo = _pcg64_step(hi, lo, inc_hi, inc_lo)
    rows, left = np.arange(n), counts
    for j in range(width):
        keep = left > j
        if not keep.all():  # only the rows that want a number in column j go on
            rows, left, hi, lo = rows[keep], left[keep], hi[keep], lo[keep]
            inc_hi, inc_lo = inc_hi[keep], inc_lo[keep]
        hi, lo = _pcg64_step(hi, lo, inc_hi, inc_lo)
        # XSL-RR: (high ^ low) rotated right by the state's top six bits.
        x = hi ^ lo
        rot = hi >> _U58
        word = (x >> rot) | (x << ((np.uint64(64) - rot) & _U63))
        out[rows, j] = (word >> _U11).astype(np.float64) * (1.0 / 9007199254740992.0)
    return out
