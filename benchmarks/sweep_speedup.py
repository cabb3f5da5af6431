"""Sweep speed-up: the same 16-run sweep serially and on 2 worker processes.

Prints the wall time of each executor and the speed-up measured in this invocation (target
>= 1.7x on 2 cores). Each run is one_town for a horizon calibrated so that a single run
takes about --run-seconds (default 3 s, long enough that starting the workers is a
small part of the time); pass --days to fix the horizon instead.

    PYTHONPATH=. python benchmarks/sweep_speedup.py [--workers 2] [--dask]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from gridsim import load_scenario
from gridsim.experiment.loading import experiment_from_dict
from gridsim.experiment.runner import run_experiment
from gridsim.model.seeds import replication_seed
from gridsim.model.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "one_town.toml"


def calibrate_days(target_seconds: float) -> int:
    """Days of one_town that take about ``target_seconds`` for one run on this machine."""
    scenario = load_scenario(SCENARIO)
    seed = replication_seed(1, 0)
    simulate(scenario, seed, 30, log_events=False)  # warm caches and imports
    start = time.perf_counter()
    simulate(scenario, seed, 730, log_events=False)
    per_day = (time.perf_counter() - start) / 730
    return max(30, round(target_seconds / per_day))


def experiment(days: int, replications: int):
    data = {
        "experiment": {
            "name": "sweep speed-up benchmark",
            "base": str(SCENARIO),
            "replications": replications,
            "days": days,
            "seed": 2024,
        },
        "factors": [{"path": "centre.merged_town", "values": [False, True]}],
    }
    return experiment_from_dict(data)


def timed(exp, executor: str, workers: int, out: Path, repeat: int):
    """Best wall time of ``repeat`` fresh sweeps (the least disturbed by other load)."""
    best, df = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        df = run_experiment(
            exp, executor=executor, workers=workers, out=out, progress=False, fresh=True
        ).tidy
        best = min(best, time.perf_counter() - start)
    return best, df


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--replications", type=int, default=8, help="per variant (2 variants)")
    parser.add_argument("--days", type=int, help="horizon of each run (default: calibrated)")
    parser.add_argument("--run-seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=1, help="sweeps per executor; best kept")
    parser.add_argument("--dask", action="store_true", help="also time a Dask LocalCluster")
    args = parser.parse_args()

    days = args.days or calibrate_days(args.run_seconds)
    exp = experiment(days, args.replications)
    runs = len(exp.variants) * args.replications
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"cores: {os.cpu_count()}, load average: {load}")
    print(f"runs: {runs} (one_town, 2 variants x {args.replications} replications, {days} days)")
    with tempfile.TemporaryDirectory() as tmp:
        serial_s, serial_df = timed(exp, "serial", 1, Path(tmp) / "serial", args.repeat)
        print(f"serial               : {serial_s:6.2f} s  ({serial_s / runs:.2f} s per run)")
        par_s, par_df = timed(exp, "processes", args.workers, Path(tmp) / "processes", args.repeat)
        print(f"processes x{args.workers:<2}        : {par_s:6.2f} s")
        assert serial_df.equals(par_df), "tidy tables differ between executors"
        print(f"speed-up (processes) : {serial_s / par_s:6.2f}x  (target >= 1.7x)")
        if args.dask:
            dask_s, dask_df = timed(exp, "dask", args.workers, Path(tmp) / "dask", args.repeat)
            assert serial_df.equals(dask_df), "tidy tables differ between executors"
            print(f"dask x{args.workers:<2} (incl. start) : {dask_s:6.2f} s")
            print(f"speed-up (dask)      : {serial_s / dask_s:6.2f}x")


if __name__ == "__main__":
    main()
