"""The ``gridsim calibrate LOG`` command: read a log, calibrate, write a scenario and report.

The command raises :class:`gridsim.errors.UserError` for the user's mistakes (a bad option,
an unreadable log) and catches nothing: ``gridsim.cli`` prints such an error as one line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gridsim.calibration.calibrate import calibrate
from gridsim.calibration.fit_report import write_fit_report
from gridsim.calibration.fitting import FAMILY_TOLERANCE, FIT_MODES
from gridsim.calibration.logs import read_log
from gridsim.calibration.scenario_writer import write_scenario
from gridsim.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``calibrate LOG`` subcommand to a CLI's sub-parsers.

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser(prog="gridsim")
        >>> _ = register(parser.add_subparsers())
        >>> args = parser.parse_args(["calibrate", "log.csv", "--out", "cal.toml"])
        >>> args.out, args.schema, args.fit, args.func.__name__
        ('cal.toml', 'nyc311', 'auto', 'calibrate_command')
    """
    p = subparsers.add_parser(
        "calibrate",
        help="fit a scenario to a request log (CSV) and write it with a fit report",
        description="Read a request log, fit arrival rates, profiles, time to close (lognormal, "
        "gamma or Weibull by AIC, or the log's quantiles where the best family misses its "
        "median or p90) and channel and category mixes, and write a scenario that reproduces "
        "them plus a Markdown fit report with figures.",
    )
    p.add_argument("log", help="request log (CSV)")
    p.add_argument("--schema", choices=["nyc311", "generic"], default="nyc311")
    p.add_argument(
        "--columns",
        help="generic schema: field=column pairs, e.g. "
        "'created=opened,closed=done,category=type,channel=via,unit=office'",
    )
    p.add_argument("--date-format", help="strftime format of both date columns")
    p.add_argument("--min-rows", type=int, default=30, help="closed rows for an own category")
    p.add_argument("--population", type=int, help="residents of the calibrated town")
    p.add_argument(
        "--fit",
        choices=FIT_MODES,
        default="auto",
        help="time to close: the AIC-best family where it matches the log's median and p90, "
        "else the log's quantiles (auto, default); always the family (parametric); always "
        "the quantiles (empirical)",
    )
    p.add_argument(
        "--family-tolerance",
        type=float,
        default=FAMILY_TOLERANCE,
        help="auto: relative error of the family on median and p90 that is accepted "
        f"(default {FAMILY_TOLERANCE})",
    )
    p.add_argument("--out", default="calibrated.toml", help="scenario file to write")
    p.add_argument("--report", help="fit report directory (default: <out stem>_fit/)")
    p.set_defaults(func=calibrate_command)
    return p


def _parse_columns(text: str | None) -> dict[str, str] | None:
    """Parse ``--columns`` (``field=column`` pairs separated by commas), or None if not given.

    Example:
        >>> _parse_columns("created=opened, closed=done")
        {'created': 'opened', 'closed': 'done'}
    """
    if not text:
        return None
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise UserError(
            "", "--columns", f"expected field=column pairs separated by commas, not {text!r}"
        )
    return {field.strip(): column.strip() for field, column in pairs}


def calibrate_command(args: argparse.Namespace) -> int:
    """Run ``gridsim calibrate``: write the scenario and its fit report, print a summary.

    Raises:
        UserError: a bad option or an unreadable log (``gridsim.cli`` prints it as one line
            and exits with status 2).
    """
    out = Path(args.out)
    report_dir = Path(args.report) if args.report else out.with_name(f"{out.stem}_fit")
    log = read_log(args.log, args.schema, _parse_columns(args.columns), args.date_format)
    cal = calibrate(
        log,
        min_rows=args.min_rows,
        population=args.population,
        fit=args.fit,
        family_tolerance=args.family_tolerance,
    )
    write_scenario(cal, out)
    report = write_fit_report(cal, report_dir)
    print(log.summary())
    tables = sum(c.fit.knots is not None for c in cal.categories)
    print(
        f"time to close: {len(cal.categories) - tables} categories use their AIC-best family, "
        f"{tables} an empirical quantile table (--fit {args.fit})"
    )
    print(f"wrote {out} ({len(cal.categories)} categories) and {report}")
    return 0
