"""Benchmark (d): a ten-year county run, its event log streamed to Parquet (bar: <= 2 GiB).

Runs the baseline county for ``--years`` simulated years with the event log written to a
Parquet file in row groups as the run goes (``gridsim.simulate(..., events_path=...)``), so
the log is never held whole in memory. Prints appeals, wall time per simulated year, its
ratio to the plain-SimPy network year measured in the same process, the size of the log on
disk and the peak memory (RSS) of this process.

A ten-year baseline run fits the resource guard's default bound (its estimate is 7.7 GB);
for longer ones the benchmark raises the bound for itself (``GRIDSIM_MAX_MEMORY_GB``). The
peak it prints is what the guard's estimate must stay above.

    python benchmarks/long_horizon.py [--years 10] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import _common

import gridsim

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "pingyi_baseline.toml"))
    parser.add_argument("--years", type=float, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    _common.pin_one_core()
    os.environ.setdefault("GRIDSIM_MAX_MEMORY_GB", "64")
    n, p_wall, _ = _common.plain_simpy_year()
    print(f"plain SimPy network year: {n:,} appeals in {p_wall:.2f} s (wall)")
    scenario = gridsim.load_scenario(args.scenario)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.parquet"
        start = time.perf_counter()
        result = gridsim.simulate(
            scenario, seed=args.seed, days=365 * args.years, events_path=path
        )
        wall = time.perf_counter() - start
        size = path.stat().st_size / 1024**2
    per_year = wall / args.years
    print(
        f"{args.years:g} years: appeals {len(result.appeals):,}  orders {len(result.orders):,}  "
        f"wall {wall:.1f} s ({per_year:.2f} s a year, {per_year / p_wall:.2f} plain-SimPy years)"
        f"  event log on disk {size:,.0f} MiB"
    )
    print(f"peak memory (max RSS of this process): {_common.peak_rss_gib():.2f} GiB (bar <= 2)")


if __name__ == "__main__":
    main()
