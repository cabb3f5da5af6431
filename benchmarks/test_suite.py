"""Benchmark (e): the test suite's wall time on this machine's cores (bar: <= 150 s on 2).

Runs the pytest part of ``python3 dev.py test`` (the same arguments: every core, one file per
worker) in a subprocess and prints its wall time, the slowest tests, and the plain-SimPy
network year measured in this process before it, as the yardstick of this machine's speed.

    python benchmarks/test_suite.py [--workers auto] [-- extra pytest arguments]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import _common

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="auto", help="pytest-xdist workers (default: auto)")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments")
    args = parser.parse_args()
    n, p_wall, _ = _common.plain_simpy_year()
    print(f"plain SimPy network year: {n:,} appeals in {p_wall:.1f} s (wall)")
    parallel = ["-n", args.workers, "--dist", "loadfile"]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbmake",
               *parallel, "--durations=10", *args.pytest_args]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    tail = done.stdout.strip().splitlines()
    print("\n".join(line for line in tail if "s call" in line or "s setup" in line))
    print(tail[-1] if tail else done.stderr[-2000:])
    print(
        f"test suite: {wall:.1f} s wall (bar <= 150 s on 2 cores), "
        f"{wall / p_wall:.1f} plain-SimPy years; exit {done.returncode}"
    )
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
