"""What every benchmark shares: one core, peak memory, and the plain-SimPy yardstick.

Absolute times move twofold between machines and between minutes on a shared one, so each
benchmark prints its ratio against the plain-SimPy network of ``bare_network.py`` measured
in the same process, one after the other.
"""

from __future__ import annotations

import os

# One core: no threaded BLAS behind numpy's back (set before numpy is imported).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import resource  # noqa: E402
import time  # noqa: E402

#: The plain-SimPy yardstick: the bare network at this county-wide rate for this many days.
PLAIN_RATE_PER_HOUR = 25.0
PLAIN_DAYS = 365


def pin_one_core() -> None:
    """Run on one core, so that the other core's load disturbs this process less."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far, in GiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def plain_simpy_year(seed: int = 0, days: float = PLAIN_DAYS) -> tuple[int, float, float]:
    """The plain-SimPy network for ``days``: (appeals, wall seconds, CPU seconds)."""
    from bare_network import plain_simpy  # benchmarks/ is on sys.path when run as a script

    wall, cpu = time.perf_counter(), time.process_time()
    n = plain_simpy(PLAIN_RATE_PER_HOUR, days, seed)
    return n, time.perf_counter() - wall, time.process_time() - cpu
