"""The ``gridsim province`` command: its arguments and its handler.

``gridsim/cli.py`` adds it with :func:`add_province_command`; its one error handler prints a
:class:`~gridsim.errors.UserError` raised here as one line and exits with status 2.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="gridsim")
    >>> add_province_command(parser.add_subparsers())
    >>> args = parser.parse_args(["province", "p.toml", "--days", "30", "--cities", "a,b"])
    >>> args.days, args.cities, args.func is cmd_province
    (30.0, ['a', 'b'], True)
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_province_command", "cmd_province"]

#: Where a province run goes unless ``--out`` says otherwise: ``results/province/<file stem>``.
DEFAULT_ROOT = "results/province"


def _cities(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _days(text: str) -> float:
    """``--days``: a finite positive number (argparse reports anything else as one line)."""
    from gridsim.errors import UserError
    from gridsim.model.guard import check_days

    try:
        value = float(text)
        check_days(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number of days, got {text!r}") from None
    except UserError as err:
        raise argparse.ArgumentTypeError(err.expected) from None
    return value


def add_province_command(subparsers: argparse._SubParsersAction) -> None:
    """Add ``province`` to the ``gridsim`` command's subparsers."""
    from gridsim.output.cli_options import add_executor_options, add_memory_option

    p = subparsers.add_parser(
        "province",
        help="run every county of a province file and summarise the province",
        description="Derive each county's scenario from the province file's template, simulate "
        "every county on an executor (local processes, or Dask with --executor dask / "
        "--address), write each county's tables as Parquet partitions "
        "(OUT/tables/<table>/county=<key>/), the counties table, the province summary and its "
        "figures in Chinese and English. A rerun resumes: finished counties are kept.",
    )
    p.add_argument("province", metavar="FILE", help="province file (TOML)")
    p.add_argument("--out", help=f"directory or fsspec URL (default {DEFAULT_ROOT}/<FILE stem>)")
    p.add_argument("--days", type=_days, default=None,
                   help="simulated days per county (default: the file's)")  # fmt: skip
    p.add_argument("--cities", type=_cities, default=None,
                   help="only the counties of these cities (comma-separated keys)")  # fmt: skip
    add_executor_options(p, "counties")
    p.add_argument("--no-events", action="store_true", help="leave out the event log table")
    p.add_argument("--no-figures", action="store_true", help="no figures")
    p.add_argument("--quiet", action="store_true", help="no progress")
    add_memory_option(p)
    p.set_defaults(func=cmd_province)


def cmd_province(args: argparse.Namespace) -> int:
    """Handle ``gridsim province``; returns the exit status (0)."""
    from pathlib import Path

    from gridsim.output.cli_options import executor_from_args
    from gridsim.province.file import load_province
    from gridsim.province.run import run_province
    from gridsim.province.summary import summary_text

    province = load_province(args.province)
    executor = executor_from_args(args)
    out = args.out or str(Path(DEFAULT_ROOT) / Path(args.province).stem)
    bar: Any = None

    def progress(done: int, total: int) -> None:
        # The bar appears when the counties start: a refusal before that is one line alone.
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            from tqdm.auto import tqdm

            bar = tqdm(desc=province.settings.name, unit="county", file=sys.stderr, total=total)
        bar.total = total
        bar.update(done - bar.n)

    try:
        result = run_province(
            province, out, executor=executor, days=args.days, cities=args.cities,
            events=not args.no_events, figures=not args.no_figures, progress=progress,
        )  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    print(summary_text(result.counties, result.summary))
    print(f"{result.computed} counties computed, {result.resumed} kept from an earlier run, "
          f"{result.wall_s:.0f} s; results in {result.out}")  # fmt: skip
    return 0
