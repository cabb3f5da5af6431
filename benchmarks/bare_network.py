"""Benchmark (b): a bare escalation network through gridsim and through plain SimPy.

Poisson appeals at 2,000 micro-grids with one handler each; after handling, an order
escalates with probability 0.3 to one of 500 grids (one handler), then 0.3 to one of 16
towns (8 handlers), then 0.5 to one of 8 county departments (8 handlers); handling is
exponential at every level. The same network, arrival rate and horizon run through gridsim
(``gridsim.simulate`` on a scenario built for it) and through a minimal, idiomatic SimPy
model (a process per appeal, ``simpy.Resource`` per unit), in one process, one after the
other. Prints appeals per second of each and their ratio.

    python benchmarks/bare_network.py [--days 365] [--rate 25] [--repeat 2]
"""

from __future__ import annotations

import argparse
import math
import time

import _common  # one-thread BLAS, set before numpy is imported
import numpy as np
import simpy

import gridsim
from gridsim.model.loader import scenario_from_dict

MICROGRIDS, GRIDS, TOWNS, DEPARTMENTS = 2000, 500, 16, 8
P_GRID, P_TOWN, P_COUNTY = 0.3, 0.3, 0.5
SERVERS = (1, 1, 8, 8)
MEAN_HANDLING_H = 2.0


def bare_scenario(rate_per_hour: float, days: float, microgrids_per_grid: int = 4):
    """The bare network as a gridsim scenario: 16 towns of 31-32 grids of 4 micro-grids.

    ``microgrids_per_grid`` splits every grid finer (``scale_microgrids.py`` uses 40).
    """
    grids_per_town = [32] * 4 + [31] * 12  # 500 grids
    households_per_grid = 400
    towns = [
        {"name": f"T{i}", "population": n * households_per_grid}
        for i, n in enumerate(grids_per_town)
    ]
    population = sum(t["population"] for t in towns)
    # Each level settles with probability 1 - (the chance of escalating from it), as log-odds.
    level_base = {
        "microgrid": math.log((1 - P_GRID) / P_GRID),
        "grid": math.log((1 - P_TOWN) / P_TOWN),
        "town": math.log((1 - P_COUNTY) / P_COUNTY),
        "county": 30.0,
    }
    per_category = rate_per_hour / DEPARTMENTS * 8760 * 1000 / population
    departments = [{"key": f"d{k}", "staff": SERVERS[3]} for k in range(DEPARTMENTS)]
    categories = [
        {
            "key": f"c{k}",
            "issues_per_1000_residents_per_year": per_category,
            "report_probability": 1.0,
            "handling": {"distribution": "exponential", "mean": MEAN_HANDLING_H},
            "department": f"d{k}",
        }
        for k in range(DEPARTMENTS)
    ]
    data = {
        "meta": {"name": "bare network", "horizon_days": days},
        "county": {"name": "bare", "persons_per_household": 1.0, "towns": towns},
        "grids": {
            "households_per_grid": households_per_grid,
            "rural_households_per_microgrid": households_per_grid / microgrids_per_grid,
            "exclusive": {},
        },
        "roles": {"handler": {"calendar": "always", "availability": 1.0}},
        "staffing": {
            "grid": {"handler": SERVERS[1]},
            "microgrid": {"handler": SERVERS[0]},
            "exclusive_grid_role": "handler",
            "town_desk_role": "handler",
            "county_desk_role": "handler",
            "department_role": "handler",
        },
        "departments": departments,
        "centre": {
            "merged_town": True,
            "town_desks_per_100k_residents": {"grid_management": SERVERS[2] * 1e5 / 12_600},
            "county_desks": {"grid_management": 1},
        },
        "residents": {"no_smartphone_share": 0.0},
        "channels": [
            {"key": "app", "share": 1.0, "delay": {"distribution": "fixed", "mean": 1e-9}}
        ],
        "categories": categories,
        "capability": {"level_base": level_base},
        "escalation": {"policy": "strict_ladder", "attempt_fraction": 1.0, "redraw_handling": True},
        "integration": {"enabled": False},
        "proactive": {"enabled": False},
        "satisfaction": {"reopen_probability": 0.0},
        "incentives": {"ranking_role": "handler"},
    }
    return scenario_from_dict(data, "<bare network>")


def plain_simpy(rate_per_hour: float, days: float, seed: int) -> int:
    """The same network in plain SimPy: one process per appeal, a Resource per unit."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    micro = [simpy.Resource(env, SERVERS[0]) for _ in range(MICROGRIDS)]
    grids = [simpy.Resource(env, SERVERS[1]) for _ in range(GRIDS)]
    towns = [simpy.Resource(env, SERVERS[2]) for _ in range(TOWNS)]
    depts = [simpy.Resource(env, SERVERS[3]) for _ in range(DEPARTMENTS)]
    horizon = days * 24
    count = 0

    def serve(unit):
        with unit.request() as req:
            yield req
            yield env.timeout(rng.exponential(MEAN_HANDLING_H))

    def appeal(m):
        yield from serve(micro[m])
        if rng.random() < P_GRID:
            yield from serve(grids[m // 4])
            if rng.random() < P_TOWN:
                yield from serve(towns[(m // 4) % TOWNS])
                if rng.random() < P_COUNTY:
                    yield from serve(depts[int(rng.integers(DEPARTMENTS))])

    def source():
        nonlocal count
        while True:
            yield env.timeout(rng.exponential(1 / rate_per_hour))
            if env.now >= horizon:
                return
            count += 1
            env.process(appeal(int(rng.integers(MICROGRIDS))))

    env.process(source())
    env.run(until=horizon)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=365)
    parser.add_argument("--rate", type=float, default=25.0, help="appeals per hour, county-wide")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    _common.pin_one_core()
    scenario = bare_scenario(args.rate, args.days)
    units = gridsim.output.describe.build(scenario).counts()
    print(f"bare network: {units}, {args.rate:g} appeals/h, {args.days:g} days")
    ratios = []
    # CPU seconds of this process: on a shared machine they move far less than wall time.
    clock = time.process_time
    for rep in range(args.repeat):
        t0 = clock()
        result = gridsim.simulate(scenario, seed=rep)
        t1 = clock()
        n_plain = plain_simpy(args.rate, args.days, seed=rep)
        t2 = clock()
        g_rate = len(result.appeals) / (t1 - t0)
        p_rate = n_plain / (t2 - t1)
        ratios.append(g_rate / p_rate)
        print(
            f"rep {rep}: gridsim {len(result.appeals):,} appeals in {t1 - t0:.2f} CPU s "
            f"({g_rate:,.0f}/s, county build, tables and event log included) | plain SimPy "
            f"{n_plain:,} in {t2 - t1:.2f} CPU s ({p_rate:,.0f}/s) | ratio {g_rate / p_rate:.2f}"
        )
    print(f"gridsim / plain SimPy appeals per CPU second: median ratio {np.median(ratios):.2f}")


if __name__ == "__main__":
    import gridsim.output.describe  # noqa: F401  (for the unit counts line)

    main()
