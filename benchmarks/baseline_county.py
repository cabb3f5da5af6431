"""Benchmark (a): the baseline county for 365 simulated days, on one core.

Prints appeals simulated, wall seconds, appeals per second and peak memory (RSS).

    python benchmarks/baseline_county.py [--days 365] [--seed 1] [--repeat 1]
"""

from __future__ import annotations

import os

# One core: no threaded BLAS behind numpy's back.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gridsim  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "pingyi_baseline.toml"))
    parser.add_argument("--days", type=float, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    scenario = gridsim.load_scenario(args.scenario)
    print(f"scenario: {scenario.meta.name}, {args.days:g} days, {scenario.population:,} residents")
    for rep in range(args.repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = gridsim.simulate(scenario, seed=args.seed + rep, days=args.days)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        appeals = len(result.appeals)
        print(
            f"run {rep}: appeals {appeals:,}  orders {len(result.orders):,}  "
            f"events {len(result.events):,}  wall {wall:.2f} s  CPU {cpu:.2f} s  "
            f"appeals/s {appeals / wall:,.0f} (wall)"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"peak memory (max RSS of this process): {peak:.2f} GiB")


if __name__ == "__main__":
    main()
