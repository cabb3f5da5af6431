"""Benchmark (c): ``gridsim run`` on the baseline county-year, end to end, by phase.

For each figure selection (``--figures none``, ``core``, ``all``) the command runs in a
fresh process of its own (``python -m gridsim run ...``, as a user types it), which reports
the wall and CPU seconds of its phases (``gridsim.run`` log: simulate, summary, tables,
figures; CPU includes the figure workers). The end-to-end wall time of that process
(interpreter start and imports included; CPU of the process and its figure workers) is
compared with a plain-SimPy network year
(``benchmarks/bare_network.py``'s ``plain_simpy(25, 365)``) measured in this process.

    python benchmarks/run_end_to_end.py [--figures none,core,all] [--lang both] [--repeat 1]

The machine should be otherwise idle: figure workers use the second core.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # one-thread BLAS, set before numpy is imported

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("simulate", "garbage", "summary", "tables", "figures")
MARK = "gridsim-phase "


class _Phases(logging.Handler):
    """Print each ``gridsim.run`` phase record as one JSON line on stderr (in the child)."""

    def emit(self, record: logging.LogRecord) -> None:
        fields = {k: getattr(record, k) for k in ("phase", "wall", "cpu")}
        print(MARK + json.dumps(fields), file=sys.stderr, flush=True)


def child(argv: list[str]) -> int:
    """Run ``gridsim run`` with its phases reported (what ``--child`` does)."""
    log = logging.getLogger("gridsim.run")
    log.setLevel(logging.DEBUG)
    log.addHandler(_Phases())
    from gridsim.cli import main

    return main(argv)


def _children_cpu() -> float:
    """CPU seconds of the finished child processes (with their own, the figure workers)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_once(figures: str, lang: str, out: Path) -> dict[str, tuple[float, float]]:
    """One ``gridsim run`` in a fresh process: its phases and its end-to-end wall time."""
    argv = ["run", str(ROOT / "scenarios" / "pingyi_baseline.toml"), "--out", str(out),
            "--figures", figures, "--lang", lang, "--quiet"]  # fmt: skip
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    start, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run([sys.executable, __file__, "--child", *argv], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if done.returncode != 0:
        sys.exit(f"gridsim run failed ({done.returncode}):\n{done.stderr}")
    phases: dict[str, tuple[float, float]] = {}
    for line in done.stderr.splitlines():
        if line.startswith(MARK):
            p = json.loads(line[len(MARK) :])
            phases[p["phase"]] = (p["wall"], p["cpu"])
    write, figs = phases.pop("write"), phases.get("figures", (0.0, 0.0))
    phases["tables"] = (write[0] - figs[0], write[1] - figs[1])  # "write" holds the figures
    phases["figures"] = figs
    phases["end to end"] = (wall, cpu)
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", default="none,core,all", help="selections, by commas")
    parser.add_argument("--lang", default="both", choices=("en", "zh", "both"))
    parser.add_argument("--repeat", type=int, default=1, help="runs per selection (best kept)")
    args = parser.parse_args()

    appeals, bare, bare_cpu = _common.plain_simpy_year(seed=1)
    print(f"plain SimPy network year (rate 25/h, 365 days): {appeals:,} appeals, "
          f"{bare:.2f} s wall, {bare_cpu:.2f} s CPU\n")  # fmt: skip

    work = Path(tempfile.mkdtemp(prefix="gridsim-e2e-"))
    try:
        print(f"{'--figures':<10}" + "".join(f"{p:>16}" for p in (*PHASES, "end to end"))
              + f"{'ratio':>8}")  # fmt: skip
        print(f"{'':<10}" + f"{'wall / CPU s':>16}" * (len(PHASES) + 1))
        for figures in args.figures.split(","):
            runs = [run_once(figures, args.lang, work / f"{figures}-{i}")
                    for i in range(args.repeat)]  # fmt: skip
            best = min(runs, key=lambda r: r["end to end"][0])
            cells = "".join(
                f"{best[p][0]:>8.2f} /{best[p][1]:>6.2f}" for p in (*PHASES, "end to end")
            )
            print(f"{figures:<10}{cells}{best['end to end'][0] / bare:>8.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\nratio: end-to-end wall time of `gridsim run` over the plain-SimPy network year")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.exit(child(sys.argv[2:]))
    main()
