"""Benchmark (c): cost per appeal when the county has ten times more micro-grids.

The bare network of ``bare_network.py`` (2,000 micro-grids, 500 grids, 16 towns, 8
departments) at the same county-wide appeal rate, then with every grid split into ten times
as many micro-grids (20,000), each with its own handler. The work per appeal is the same;
only the number of nodes grows. Prints CPU seconds per 1,000 appeals of the engine run and
of the whole ``gridsim.simulate`` (county build and tables included), their ratio 10x / 1x
(bar: <= 1.3), and the plain-SimPy network measured in the same process.

    python benchmarks/scale_microgrids.py [--days 120] [--factor 10] [--repeat 2]
"""

from __future__ import annotations

import argparse
import time

import _common  # one-thread BLAS before numpy is imported
import numpy as np
from bare_network import bare_scenario

from gridsim.model.simulate import simulate
from gridsim.model.vocabulary import MICROGRID


def cost_per_appeal(scenario, seed: int) -> tuple[int, int, float]:
    """(micro-grids, appeals, CPU ms per appeal) of one whole simulate."""
    cpu = time.process_time()
    result = simulate(scenario, seed=seed)
    cpu = time.process_time() - cpu
    microgrids = int((result.units["level"] == MICROGRID).sum())
    return microgrids, len(result.appeals), 1000 * cpu / len(result.appeals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=120)
    parser.add_argument("--rate", type=float, default=25.0, help="appeals per hour, county-wide")
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    _common.pin_one_core()
    small = bare_scenario(args.rate, args.days)
    large = bare_scenario(args.rate, args.days, microgrids_per_grid=4 * args.factor)
    ratios = []
    for rep in range(args.repeat):
        m1, n1, c1 = cost_per_appeal(small, rep)
        m2, n2, c2 = cost_per_appeal(large, rep)
        n_plain, _, plain_cpu = _common.plain_simpy_year(rep, args.days)
        plain = 1000 * plain_cpu / n_plain
        ratios.append(c2 / c1)
        print(
            f"rep {rep}: {m1:,} micro-grids {c1:.3f} ms/appeal ({n1:,} appeals) | "
            f"{m2:,} micro-grids {c2:.3f} ms/appeal ({n2:,}) | ratio {c2 / c1:.2f} | "
            f"plain SimPy {plain:.3f} ms/appeal (gridsim 1x at {plain / c1:.2f}x, "
            f"{args.factor}x at {plain / c2:.2f}x its speed)"
        )
    print(
        f"cost per appeal, {args.factor}x micro-grids / 1x: median {np.median(ratios):.2f} "
        "(bar <= 1.3)"
    )


if __name__ == "__main__":
    main()
