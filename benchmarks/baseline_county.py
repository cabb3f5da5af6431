"""Benchmark (a): the baseline county for 365 simulated days, on one core.

Prints appeals simulated, wall and CPU seconds, peak memory (RSS), and the ratio of the
county-year's wall time to the plain-SimPy network year of ``bare_network.py`` measured in
the same process (bar: <= 0.5).

    python benchmarks/baseline_county.py [--days 365] [--seed 1] [--repeat 1]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import _common

import gridsim

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "pingyi_baseline.toml"))
    parser.add_argument("--days", type=float, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-plain", action="store_true", help="skip the plain-SimPy year")
    args = parser.parse_args()
    _common.pin_one_core()
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
        del result
        if not args.no_plain:
            n, p_wall, p_cpu = _common.plain_simpy_year(seed=rep)
            print(
                f"plain SimPy network year: {n:,} appeals, wall {p_wall:.2f} s, CPU {p_cpu:.2f} s"
                f" | county-year / plain year: wall {wall / p_wall:.2f}, CPU {cpu / p_cpu:.2f}"
                " (bar <= 0.5)"
            )
    print(f"peak memory (max RSS of this process): {_common.peak_rss_gib():.2f} GiB")


if __name__ == "__main__":
    main()
