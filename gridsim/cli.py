"""The ``gridsim`` command: every sub-command, and the one place a user's mistake is caught.

run | describe | schema | validate | calibrate | sweep | compare | plot. Each command calls
into the room that does the work and catches nothing: a user's mistake (a bad scenario,
experiment or log, a missing file, a nonsensical option) is a :class:`~gridsim.errors.UserError`
raised where it is found, and :func:`main` prints it as one line on stderr naming the file,
the field and what was expected, with exit status 2 and nothing written. Anything else is a
bug and keeps its traceback. The rooms are imported inside the commands so that
``gridsim --help`` starts at once.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from gridsim.classroom.cli import add_classroom_command
from gridsim.errors import UserError
from gridsim.files import SIGNATURE, atomic_write_text, foreign_file, sign_png
from gridsim.labels import LANGS
from gridsim.model.loader import load_scenario
from gridsim.output.cli_options import add_memory_option
from gridsim.province.cli import add_province_command
from gridsim.version import __version__

EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake on the command line is one line, as every user error is.

    argparse prints its usage block first; the sub-commands' parsers are of this class too.
    """

    def error(self, message: str) -> NoReturn:
        """Print ``gridsim: <command>: <message> (see --help)`` and exit with status 2."""
        line = UserError("", self.prog, f"{message} (see {self.prog} --help)")
        self.exit(EXIT_USER_ERROR, f"gridsim: {line}\n".replace("gridsim: gridsim", "gridsim", 1))


def _positive(kind: type) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not math.isfinite(value):  # float("nan") and float("inf") parse
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if value < 0 or (kind is float and value == 0):
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


# ---------------------------------------------------------------------------------- run


def _cmd_run(args: argparse.Namespace) -> int:
    from gridsim.output.quick_cli import run_handler

    return run_handler(args)


def _languages(lang: str) -> list[str]:
    return ["en", "zh"] if lang == "both" else [lang]


# ----------------------------------------------------------------------------- describe


def _cmd_describe(args: argparse.Namespace) -> int:
    from gridsim.output.describe import build, draw_hierarchy, summary_text

    scenario = load_scenario(args.scenario)
    if args.draw:
        _check_file_output(args.draw, "--draw")
    county = build(scenario, args.seed)
    print(summary_text(scenario, county))
    if args.draw:
        path = sign_png(draw_hierarchy(scenario, county, args.draw))  # signed: ours to redraw
        print(f"\nhierarchy drawn to {path}")
    return 0


def _check_file_output(path: str, option: str) -> None:
    """Refuse (one line) a single output file gridsim did not write, before any work."""
    reason = foreign_file(path)
    if reason is not None:
        raise UserError(path, option, reason)


def _cmd_schema(args: argparse.Namespace) -> int:
    from gridsim.model.loader import json_schema

    schema = json_schema()
    if args.out:
        _check_file_output(args.out, "--out")
        signed = {"$comment": f"{SIGNATURE} {__version__}", **schema}  # ours to replace
        atomic_write_text(args.out, json.dumps(signed, indent=2, ensure_ascii=False) + "\n")
    else:
        print(json.dumps(schema, indent=2, ensure_ascii=False))
    return 0


# ----------------------------------------------------------------------------- validate


def _cmd_validate(args: argparse.Namespace) -> int:
    import pandas as pd

    from gridsim.validation.theory_checks import run_checks

    if args.claims:
        return _validate_claims(args)
    given = [o for o in _CLAIMS_ONLY if getattr(args, o) is not None]
    if given:
        raise UserError("", "--" + given[0].replace("_", "-"), "only with --claims")
    if args.log:
        from gridsim.calibration.reproduce import validate_log

        seed = 1 if args.seed is None else args.seed
        table = validate_log(
            args.log, schema=args.schema, seed=seed, columns=_parse_columns(args.columns),
            date_format=args.date_format, export_date=args.export_date,
        )  # fmt: skip
        title = f"Calibrated from {args.log}: simulated vs logged"
    else:
        table = run_checks(quick=args.quick)
        title = "gridsim against queueing theory (95 % confidence intervals)"
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(title)
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    passed = bool(table["passed"].all())
    print("\nall checks passed" if passed else "\nSOME CHECKS FAILED")
    return 0 if passed else 1


#: The options of ``validate --claims`` that mean nothing without it.
_CLAIMS_ONLY = ("scenario", "claims_file", "replications", "days", "workers", "out", "lang", "doc")


def _validate_claims(args: argparse.Namespace) -> int:
    """``validate --claims``: run the claims table, write it, exit 1 if any claim fails."""
    from gridsim.experiment.executors import ExecutorOptionError, make_executor
    from gridsim.output import claims_report as report
    from gridsim.validation.claims import claims_settings, run_claims
    from gridsim.validation.claims_file import load_claims

    if args.log or args.quick:
        raise UserError("", "--log" if args.log else "--quick", "not with --claims")
    out = report.check_claims_dir(args.out or Path("results") / "claims")  # before any run
    if args.doc:
        report.check_claims_doc(args.doc)
    claim_set = load_claims(args.claims_file, args.scenario, args.days)
    replications = 10 if args.replications is None else args.replications
    try:
        executor = make_executor("serial" if args.workers == 1 else "processes", args.workers)
    except ExecutorOptionError as exc:  # name the option as it was typed (--workers)
        raise ExecutorOptionError("", f"--{exc.field}", exc.expected) from None
    table = run_claims(claim_set, replications, args.days, executor, progress=True, seed=args.seed)
    settings = claims_settings(claim_set, replications, args.days, args.seed)
    langs = _languages(args.lang or "both")
    report.write_claims_dir(table, out, langs, settings)
    if args.doc:
        report.write_claims_doc(table, args.doc, settings)
    print(report.claims_text(table, langs[0], claim_set.confidence))
    print(f"\nwritten to {out}/ (claims.csv, claims.md, figures)")
    return 0 if bool(table["holds"].all()) else 1


# ---------------------------------------------------------------------------- calibrate


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


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from gridsim.calibration.calibrate import calibrate
    from gridsim.calibration.fit_report import check_report_dir, write_fit_report
    from gridsim.calibration.logs import read_log
    from gridsim.calibration.scenario_writer import check_scenario_path, write_scenario

    out = Path(args.out)
    report_dir = Path(args.report) if args.report else out.with_name(f"{out.stem}_fit")
    check_scenario_path(out)  # both outputs, before the scenario is written
    check_report_dir(report_dir)
    log = read_log(
        args.log, args.schema, _parse_columns(args.columns), args.date_format, args.export_date
    )
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


# -------------------------------------------------------------------------- experiments


def _cmd_sweep(args: argparse.Namespace) -> int:
    from gridsim.experiment.runner import run_experiment
    from gridsim.output.cli_options import executor_from_args
    from gridsim.output.quick_cli import sweep_target

    executor = executor_from_args(args)

    experiment, out = sweep_target(args)
    result = run_experiment(
        experiment, executor=executor, out=out, progress=not args.quiet, fresh=args.fresh,
    )  # fmt: skip
    if not args.quiet:
        if args.variant:
            from gridsim.experiment.inline import results_text

            print(results_text(result.results_dir) + "\n")
        print(
            f"{result.computed} runs computed, {result.skipped} skipped (already done); "
            f"results in {result.results_dir}; next: gridsim compare {result.results_dir}"
        )
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from gridsim.experiment.inline import results_text
    from gridsim.output.report import write_report

    md, page = write_report(args.results, args.lang, args.correction)
    if (Path(args.results) / "manifest.json").is_file():
        text = results_text(Path(args.results))
        if text:
            print(text + "\n")
    print(md)
    print(page)
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from gridsim.output.figure_dirs import run_figures, sweep_figures

    path = Path(args.results)
    if (path / "run.json").is_file():
        figures = args.figures or "all"
        workers = _figure_workers(path, figures, args.lang)
        written = run_figures(path, args.lang, args.out, figures=figures, workers=workers)
    elif (path / "tidy.parquet").is_file():
        if args.figures is not None:
            raise UserError("", "--figures", "only for a run directory (with run.json)")
        written = sweep_figures(path, args.lang, args.out)
    else:
        raise UserError(
            path, "", "expected a run directory (with run.json) or a sweep results directory "
            "(with tidy.parquet)",
        )  # fmt: skip
    for file in written:
        print(file)
    return 0


def _figure_workers(run_dir: Path, figures: str, lang: str) -> int | None:
    """Processes to redraw with: one per core for a large run, else this one."""
    from gridsim.output.figure_jobs import PARALLEL_FROM_ISSUES
    from gridsim.output.figure_sets import parse_figures

    try:  # the row count is in the Parquet footer: nothing is read but the metadata
        import pyarrow.parquet as pq

        issues = pq.read_metadata(run_dir / "issues.parquet").num_rows
    except (OSError, ValueError):
        return 1  # run_figures says what is wrong with the directory
    jobs = len(parse_figures(figures)) * len(_languages(lang))
    return None if issues >= PARALLEL_FROM_ISSUES and jobs > 1 else 1


# --------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command.

    Example:
        >>> args = build_parser().parse_args(["sweep", "x.toml", "--executor", "serial"])
        >>> args.executor, args.func.__name__
        ('serial', '_cmd_sweep')
    """
    parser = _Parser(
        prog="gridsim",
        description="Discrete-event simulation of grid-based grassroots governance (网格化治理).",
    )
    parser.add_argument("--version", action="version", version=f"gridsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_run, _add_describe, _add_schema, _add_validate, _add_calibrate, _add_sweep,
                _add_compare, _add_plot, add_classroom_command, add_province_command):  # fmt: skip
        add(sub)
    return parser


def _add_run(sub: argparse._SubParsersAction) -> None:
    from gridsim.output.quick_cli import add_run_options

    run = sub.add_parser("run", help="simulate a scenario and write a run directory")
    run.add_argument("scenario", help="scenario TOML file")
    run.add_argument("--seed", type=_positive(int), default=None, help="seed (default: meta.seed)")
    run.add_argument("--days", type=_positive(float), default=None, help="simulated days")
    run.add_argument("--out", default=None, help="run directory (default results/<scenario>)")
    run.add_argument("--lang", choices=["en", "zh", "both"], help="figure labels (default both)")
    _add_figures_option(run, for_run=True)
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    add_run_options(run, _positive(int))
    add_memory_option(run)
    run.set_defaults(func=_cmd_run)


def _add_describe(sub: argparse._SubParsersAction) -> None:
    desc = sub.add_parser("describe", help="print the hierarchy and staffing a scenario builds")
    desc.add_argument("scenario")
    desc.add_argument("--seed", type=_positive(int), default=None)
    desc.add_argument("--draw", metavar="PNG", help="also draw the hierarchy to this PNG file")
    add_memory_option(desc)
    desc.set_defaults(func=_cmd_describe)


def _add_schema(sub: argparse._SubParsersAction) -> None:
    schema = sub.add_parser("schema", help="print the JSON schema of scenario files")
    schema.add_argument("--out", help="write to this file instead of stdout")
    schema.set_defaults(func=_cmd_schema)


def _add_validate(sub: argparse._SubParsersAction) -> None:
    val = sub.add_parser(
        "validate", help="check the model against queueing theory, a log, or the claims",
        description="Without options: the model against queueing theory. --log: a request "
        "log calibrated and reproduced. --claims: the claims of the practice, each a paired "
        "comparison with common random numbers and Holm's correction (exit 1 if one fails).",
    )  # fmt: skip
    val.add_argument("--log", help="a request log to calibrate from and reproduce")
    val.add_argument("--schema", choices=["nyc311", "generic"], default="nyc311",
                     help="log schema")  # fmt: skip
    _add_log_options(val)
    val.add_argument("--seed", type=_positive(int), default=None,
                     help="seed (default: 1; with --claims the claims file's)")  # fmt: skip
    val.add_argument("--quick", action="store_true", help="skip the sweep of loads")
    c = val.add_argument_group("claims (with --claims)")
    c.add_argument("--claims", action="store_true", help="test the claims of the practice")
    c.add_argument("--scenario", help="scenario (default scenarios/pingyi_baseline.toml)")
    c.add_argument("--claims-file", help="claims file (default gridsim/data/claims.toml)")
    c.add_argument("--replications", type=_positive(int), help="per side (default 10)")
    c.add_argument("--days", type=_positive(float), help="simulated days (default: horizon)")
    c.add_argument("--workers", type=int, help="worker processes (default: CPU count)")
    c.add_argument("--out", help="output directory (default results/claims)")
    c.add_argument("--lang", choices=["en", "zh", "both"], help="table and figure language")
    c.add_argument("--doc", help="also fill the generated section of this file (docs/claims.md)")
    add_memory_option(val)
    val.set_defaults(func=_cmd_validate)


def _add_log_options(p: argparse.ArgumentParser) -> None:
    """How to read a request log: the generic schema's columns, the date format, the export."""
    p.add_argument(
        "--columns",
        help="generic schema: field=column pairs, e.g. "
        "'created=opened,closed=done,category=type,channel=via,unit=office'",
    )
    p.add_argument("--date-format", help="strftime format of both date columns")
    p.add_argument(
        "--export-date",
        help="when the log was exported (YYYY-MM-DD): rows created or closed later are bad "
        "rows (default: the latest created date plus a margin, see gridsim.calibration.logs)",
    )


def _add_calibrate(sub: argparse._SubParsersAction) -> None:
    from gridsim.calibration.fitting import FAMILY_TOLERANCE, FIT_MODES

    p = sub.add_parser(
        "calibrate",
        help="fit a scenario to a request log (CSV) and write it with a fit report",
        description="Read a request log, fit arrival rates, profiles, time to close (lognormal, "
        "gamma or Weibull by AIC, or the log's quantiles where the best family misses its "
        "median or p90) and channel and category mixes, and write a scenario that reproduces "
        "them plus a Markdown fit report with figures.",
    )
    p.add_argument("log", help="request log (CSV)")
    p.add_argument("--schema", choices=["nyc311", "generic"], default="nyc311")
    _add_log_options(p)
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
    p.set_defaults(func=_cmd_calibrate)


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    from gridsim.output.cli_options import add_executor_options
    from gridsim.output.quick_cli import add_inline_options

    p = sub.add_parser(
        "sweep",
        help="run an experiment (variants x replications) and save tidy results",
        description="Run every variant and replication of an experiment file, streaming "
        "each finished run to the results directory; a rerun resumes. With --variant, FILE is a "
        "scenario: its baseline and the variants, paired (common random numbers), are compared.",
    )
    p.add_argument("experiment", metavar="FILE", help="experiment file (scenario with --variant)")
    add_inline_options(p, _positive(int), _positive(float))
    add_executor_options(p, "runs")
    p.add_argument("--out", help="results directory (default results/experiments/<name>[-<hash>]/)")
    p.add_argument("--fresh", action="store_true", help="discard earlier results in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_memory_option(p)
    p.set_defaults(func=_cmd_sweep)


def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="write the comparison report (Markdown + HTML) of an experiment's results",
        description="Rank the variants of a finished sweep on every KPI, compare them with "
        "the baseline (paired-t; Holm or Benjamini-Hochberg p-values, Bonferroni intervals), "
        "print the headline KPIs' paired differences with their confidence intervals and "
        "write report.md and report.html.",
    )
    p.add_argument("results", metavar="RESULTS", help="experiment results directory")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="report language")
    p.add_argument("--correction", choices=("holm", "bh"), default="holm",
                   help="multiple-comparison correction of the p-values: Holm (family-wise "
                   "error rate, default) or Benjamini-Hochberg (false discovery rate)")  # fmt: skip
    p.set_defaults(func=_cmd_compare)


def _add_plot(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot",
        help="redraw the figures of a run or sweep directory",
        description="Redraw the figures of a run directory (run.json) or a sweep results "
        "directory (tidy.parquet) without rerunning the simulation.",
    )
    p.add_argument("results", metavar="RESULTS", help="run or sweep results directory")
    p.add_argument("--lang", choices=[*LANGS, "both"], default="both",
                   help="language of the figures (default: both)")  # fmt: skip
    p.add_argument("--out", metavar="DIR", default=None,
                   help="where to write the figures (default: RESULTS/figures)")  # fmt: skip
    _add_figures_option(p, for_run=False)
    p.set_defaults(func=_cmd_plot)


def _figure_selection(text: str) -> str:
    """Check ``--figures`` as it is parsed, so that a bad name is one line before any work."""
    from gridsim.output.figure_sets import parse_figures

    try:
        parse_figures(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(exc.expected) from None
    return text


def _add_figures_option(p: argparse.ArgumentParser, for_run: bool) -> None:
    from gridsim.output.figure_sets import CORE_FIGURES, RUN_DEFAULT

    note = (f"default {RUN_DEFAULT}; the rest later with: gridsim plot RUN_DIR --figures all"
            if for_run else "run directories only; default all")  # fmt: skip
    p.add_argument(
        "--figures", metavar="WHICH", type=_figure_selection,
        default=None,  # run: RUN_DEFAULT, unless --replications (no figures)
        help=f"none, core ({', '.join(CORE_FIGURES)}), all, or figure names separated by "
        f"commas ({note})",
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gridsim`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"gridsim: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except FileNotFoundError as exc:
        print(f"gridsim: {exc.filename or exc}: no such file or directory", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        # A path the user gave that cannot be written or read (a file where a folder is
        # expected, read-only, a read-only file system, a full disk): one line. An OSError
        # without a file name is not about a path the user chose; it keeps its traceback.
        if exc.filename is None:
            raise
        print(f"gridsim: {_os_error_line(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # the reader went away (`gridsim ... | head`): not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("gridsim: interrupted; nothing half-written was left behind", file=sys.stderr)
        return 130


def _os_error_line(exc: OSError) -> str:
    """``file: what went wrong`` on one line (control characters in names escaped).

    Example:
        >>> _os_error_line(PermissionError(13, "Permission denied", "out/run.json"))
        'out/run.json: Permission denied'
    """
    names = [str(exc.filename)] + ([str(exc.filename2)] if exc.filename2 else [])
    return str(UserError(" -> ".join(names), "", exc.strerror or type(exc).__name__))


if __name__ == "__main__":
    sys.exit(main())
