"""The ``gridsim classroom`` command: its arguments and its handler.

``gridsim/cli.py`` adds it with :func:`add_classroom_command`; its one error handler prints a
:class:`~gridsim.errors.UserError` raised here as one line and exits with status 2.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="gridsim")
    >>> add_classroom_command(parser.add_subparsers())
    >>> args = parser.parse_args(["classroom", "--days", "30"])
    >>> args.scenario, args.days, args.func is cmd_classroom
    ('scenarios/one_town.toml', 30.0, True)
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_classroom_command", "cmd_classroom"]

#: The default scenario: one town, quick enough to sweep in about a minute on two cores.
DEFAULT_SCENARIO = "scenarios/one_town.toml"
#: The default output directory.
DEFAULT_OUT = "results/classroom"


def add_classroom_command(subparsers: argparse._SubParsersAction) -> None:
    """Add ``classroom`` to the ``gridsim`` command's subparsers.

    Args:
        subparsers: what ``ArgumentParser.add_subparsers()`` returned.
    """
    p = subparsers.add_parser(
        "classroom",
        help="build the offline classroom page and the lecture figure pack",
        description="Run a common-random-number sweep over the classroom controls (micro-grid "
        "size, grid workers, Party embedding, visits, escalation rule, one-stop centre) and "
        "the county before the reform, then write OUT/classroom.html (one self-contained page, "
        "Chinese and English, opens from file://) and OUT/figures/ (PNG and SVG, zh and en).",
    )
    p.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO,
                   help=f"base scenario (default {DEFAULT_SCENARIO})")  # fmt: skip
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    p.add_argument("--days", type=float, default=None,
                   help="simulated days per run (default 60)")  # fmt: skip
    p.add_argument("--replications", type=int, default=None,
                   help="replications per option (default 5)")  # fmt: skip
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: cores)")
    p.add_argument("--serial", action="store_true", help="run in this process")
    p.add_argument("--design", choices=("ofat", "factorial"), default=None,
                   help="one factor at a time (default) or every combination")  # fmt: skip
    p.add_argument("--design-file", default=None, help="another classroom design TOML")
    p.add_argument("--reform", default=None,
                   help="before/after-reform experiment (default "
                   "scenarios/experiments/before_after_reform.toml)")  # fmt: skip
    p.add_argument("--no-figures", action="store_true", help="write the page only")
    p.add_argument("--quiet", action="store_true", help="no progress")
    p.set_defaults(func=cmd_classroom)


def cmd_classroom(args: argparse.Namespace) -> int:
    """Handle ``gridsim classroom``; returns the exit status (0)."""
    from gridsim.classroom.build import build_classroom
    from gridsim.experiment.executors import ExecutorOptionError

    if args.workers is not None and args.workers < 1:
        raise ExecutorOptionError("", "--workers", f"a positive integer, got {args.workers}")

    def progress(done: int, total: int) -> None:
        if not args.quiet:
            print(f"\rclassroom: {done}/{total} runs", end="", file=sys.stderr, flush=True)

    report = build_classroom(
        args.scenario, args.out, days=args.days, replications=args.replications,
        workers=args.workers, executor="serial" if args.serial else "processes",
        design=args.design, design_file=args.design_file, reform=args.reform,
        figures=not args.no_figures, progress=progress,
    )  # fmt: skip
    if not args.quiet:
        print(file=sys.stderr)
    print(f"page: {report.page} ({report.page_bytes / 2**20:.1f} MB)")
    if report.figures:
        print(f"figures: {len(report.figures)} files in {report.figures[0].parent}")
    print(f"{report.runs} runs, {report.seconds:.0f} s")
    return 0
