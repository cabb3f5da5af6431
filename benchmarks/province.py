"""A province on this machine: CPU per county and per appeal, peak memory, and a projection.

Runs ``gridsim province`` (default: the Shandong-sized province, a full year, two local
workers), then prints from the counties table it wrote:

* CPU seconds per county (mean, largest) and per appeal, and the CPU seconds per 100,000
  residents-year (a least-squares line through the origin of CPU against population);
* each county's peak resident memory (the worker's high-water mark during that county)
  against the resource guard's per-worker bound;
* the wall time on this machine, and the ratio of the summed CPU to that wall time (how
  well the workers were kept busy);
* a projection of the wall time on larger clusters, from the measured per-county CPU
  seconds: the counties dealt out largest first to the first free worker (the order
  ``gridsim province`` submits them in), so the makespan of that schedule, divided by this
  run's own measured efficiency (summed CPU / (wall × workers)), is the projected wall;
* the plain-SimPy yardstick measured in the same process (``_common.plain_simpy_year``), so
  the per-appeal cost can be compared across machines as a ratio.

Usage::

    python benchmarks/province.py                                  # Shandong, 365 days, 2 workers
    python benchmarks/province.py --executor dask --days 30
    python benchmarks/province.py --file scenarios/provinces/synthetic_20.toml --days 30

The results (JSON) go to ``--json`` (default ``results/benchmarks/province.json``).
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (one-thread BLAS, set before numpy is imported)
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridsim.model.guard import memory_bound  # noqa: E402
from gridsim.province.run import run_province  # noqa: E402

#: Clusters to project onto: (label, worker processes).
CLUSTERS = (("16 cores (4 nodes of 4)", 16), ("64 cores (4 nodes of 16)", 64))
#: Write bandwidth of the cluster's shared storage, bytes a second (ASSUMPTION: an NFS volume
#: on a 1 Gbit/s network, and a parallel file system or object store).
STORAGE = (("shared NFS, ~100 MB/s", 100e6), ("object store or parallel FS, ~1 GB/s", 1e9))


def makespan(costs: list[float], workers: int) -> float:
    """Wall time of dealing ``costs`` out largest first to the first free of ``workers``.

    Example:
        >>> makespan([4, 3, 3, 2], 2)
        6.0
    """
    free = [0.0] * workers
    for cost in sorted(costs, reverse=True):
        heapq.heapreplace(free, free[0] + cost)
    return float(max(free))


def bytes_under(path: str) -> int:
    """Bytes of every file under a local directory (what the run wrote)."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--file", default=str(ROOT / "scenarios/provinces/shandong_2020.toml"))
    p.add_argument("--days", type=float, default=365)
    p.add_argument("--executor", default="processes", choices=("processes", "dask"))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=None, help="output (default: a temporary directory)")
    p.add_argument("--json", default=str(ROOT / "results/benchmarks/province.json"))
    p.add_argument("--no-plain", action="store_true", help="skip the plain-SimPy yardstick")
    args = p.parse_args()

    out = args.out or tempfile.mkdtemp(prefix="gridsim-province-bench-")
    start = time.perf_counter()
    result = run_province(args.file, out, executor=args.executor, workers=args.workers,
                          days=args.days, figures=False,
                          progress=lambda d, n: print(f"\r{d}/{n} counties", end="",
                                                      file=sys.stderr))  # fmt: skip
    wall = time.perf_counter() - start
    print(file=sys.stderr)
    c = result.counties
    cpu, pop, appeals = (c[k].to_numpy(dtype=float) for k in ("cpu_s", "population", "appeals"))
    per_100k = float(np.dot(cpu, pop) / np.dot(pop, pop)) * 1e5
    efficiency = cpu.sum() / (wall * args.workers)
    bound = memory_bound() / args.workers
    report = {
        "file": args.file, "days": args.days, "executor": args.executor,
        "workers": args.workers, "counties": len(c), "residents": int(pop.sum()),
        "appeals": int(appeals.sum()), "wall_s": wall, "cpu_s": float(cpu.sum()),
        "cpu_s_per_county_mean": float(cpu.mean()), "cpu_s_per_county_max": float(cpu.max()),
        "cpu_us_per_appeal": float(cpu.sum() / appeals.sum() * 1e6),
        "cpu_s_per_100k_residents": per_100k, "efficiency": efficiency,
        "peak_rss_mib_max": float(c["peak_rss_mb"].max()),
        "peak_rss_mib_median": float(c["peak_rss_mb"].median()),
        "guard_bound_per_worker_gib": bound / 2**30,
        "bytes_written": bytes_under(out),
        "projection": {label: makespan(list(cpu), n) / efficiency for label, n in CLUSTERS},
    }  # fmt: skip
    report["writing_s"] = {label: report["bytes_written"] / bw for label, bw in STORAGE}
    if not args.no_plain:
        from _common import plain_simpy_year

        n, plain_wall, plain_cpu = plain_simpy_year()
        report["plain_simpy_us_per_appeal"] = plain_cpu / n * 1e6
        report["ratio_per_appeal_to_plain_simpy"] = report["cpu_us_per_appeal"] / (
            plain_cpu / n * 1e6
        )
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    print(
        f"{report['counties']} counties, {report['residents']:,} residents, "
        f"{report['appeals']:,} appeals, {args.days:g} days, {args.executor} x {args.workers}"
    )
    print(f"wall {wall:.0f} s; CPU {cpu.sum():.0f} s (efficiency {efficiency:.2f})")
    print(
        f"CPU per county: mean {cpu.mean():.1f} s, largest {cpu.max():.1f} s; "
        f"{report['cpu_us_per_appeal']:.1f} µs an appeal; {per_100k:.2f} s per 100,000 "
        "residents"
    )
    print(
        f"peak memory per county: median {report['peak_rss_mib_median']:.0f} MiB, largest "
        f"{report['peak_rss_mib_max']:.0f} MiB; guard bound per worker "
        f"{report['guard_bound_per_worker_gib']:.1f} GiB"
    )
    if "ratio_per_appeal_to_plain_simpy" in report:
        print(
            f"per appeal, all in (simulate + tables + writing): "
            f"{report['ratio_per_appeal_to_plain_simpy']:.2f} x the plain-SimPy network's "
            f"({report['plain_simpy_us_per_appeal']:.1f} µs)"
        )
    written = report["bytes_written"]
    print(f"wrote {written / 1e9:.2f} GB ({written / len(c) / 1e6:.0f} MB a county)")
    for label, seconds in report["projection"].items():
        print(f"projected compute on {label}: {seconds / 60:.1f} min")  # fmt: skip
    for label, seconds in report["writing_s"].items():
        print(
            f"writing the tables to {label}: {seconds / 60:.1f} min (overlaps the compute; "
            "the wall is at least the larger of the two)"
        )


if __name__ == "__main__":
    main()
