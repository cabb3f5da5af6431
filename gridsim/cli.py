"""The ``gridsim`` command: run | sweep | compare | plot | validate | calibrate | describe | schema.

A user's mistake (a bad scenario, a missing file, a nonsensical option) ends with one line
on stderr naming the file, the field and what was expected, exit status 2, and nothing
written. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from gridsim.errors import UserError
from gridsim.model.scenario import load_scenario

EXIT_USER_ERROR = 2

SUMMARY_KPIS = (
    ("appeals", "appeals filed", "{:,.0f}"),
    ("appeals_per_resident_per_year", "appeals per resident per year", "{:.3f}"),
    ("orders", "work orders (after merging)", "{:,.0f}"),
    ("merge_ratio", "appeals per work order", "{:.2f}"),
    ("response_time_mean_h", "mean response time (h)", "{:.1f}"),
    ("resolution_time_median_h", "median resolution time (h)", "{:.1f}"),
    ("resolution_time_p90_h", "90th percentile resolution time (h)", "{:.1f}"),
    ("on_time_rate", "resolved on time", "{:.1%}"),
    ("share_resolved_in_grid", "resolved inside the grid (小事不出网格)", "{:.1%}"),
    ("share_resolved_in_town", "resolved inside the town (大事不出镇街)", "{:.1%}"),
    ("escalation_rate", "orders escalated at least once", "{:.1%}"),
    ("backlog_mean", "mean backlog (open orders)", "{:,.0f}"),
    ("open_at_end", "open at the horizon", "{:,.0f}"),
    ("utilisation_town", "utilisation of town desks", "{:.1%}"),
    ("utilisation_county", "utilisation at county level", "{:.1%}"),
    ("satisfaction_rate", "satisfied residents", "{:.1%}"),
    ("proactive_share", "orders found proactively (未诉先办)", "{:.1%}"),
    ("unreported_share", "issues never reported or found", "{:.1%}"),
    ("incidents_per_100k_per_year", "incidents per 100,000 residents per year", "{:.1f}"),
    ("cost_per_resolved_yuan", "cost per resolved appeal (yuan)", "{:,.0f}"),
)


def _positive(kind: type):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < 0 or (kind is float and value == 0):
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


# ---------------------------------------------------------------------------------- run


def _cmd_run(args: argparse.Namespace) -> int:
    from gridsim.model.engine import simulate
    from gridsim.output.run_dir import check_output_directory, save_run

    scenario = load_scenario(args.scenario)
    out = Path(args.out) if args.out else Path("results") / Path(args.scenario).stem
    check_output_directory(out)  # before the run, not after it
    result = simulate(scenario, seed=args.seed, days=args.days, progress=not args.quiet)
    scenario_toml = scenario.to_toml().encode("utf-8")

    def add_figures(directory: Path) -> None:
        from gridsim.output import plots

        for lang in _languages(args.lang):
            plots.run_figures(directory, lang=lang)

    if not args.quiet:
        print(f"writing tables and figures to {out}/ ...", file=sys.stderr, flush=True)
    save_run(result, out, extra={"scenario.toml": scenario_toml}, finalize=add_figures)
    print(_summary(result, out))
    return 0


def _languages(lang: str) -> list[str]:
    return ["en", "zh"] if lang == "both" else [lang]


def _summary(result, out: Path) -> str:
    k = result.kpis
    days = result.horizon_hours / 24
    lines = [f"{result.scenario_name}: {days:g} days, seed {result.seed['entropy']}", ""]
    for key, label, fmt in SUMMARY_KPIS:
        value = k.get(key, float("nan"))
        shown = "n/a" if value != value else fmt.format(value)
        lines.append(f"  {_pad(label, 46)}{shown:>12}")
    lines += ["", f"written to {out}/ (event log, tables, KPIs, figures)"]
    return "\n".join(lines)


def _pad(text: str, width: int) -> str:
    """Left-justify to a display width (a Chinese character takes two columns)."""
    import unicodedata

    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - used, 1)


# ----------------------------------------------------------------------------- describe


def _cmd_describe(args: argparse.Namespace) -> int:
    from gridsim.output.describe import build, draw_hierarchy, summary_text

    scenario = load_scenario(args.scenario)
    county = build(scenario, args.seed)
    print(summary_text(scenario, county))
    if args.draw:
        path = draw_hierarchy(scenario, county, args.draw)
        print(f"\nhierarchy drawn to {path}")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from gridsim.model.scenario import json_schema

    text = json.dumps(json_schema(), indent=2, ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(text + "\n", "utf-8")
    else:
        print(text)
    return 0


# ----------------------------------------------------------------------------- validate


def _cmd_validate(args: argparse.Namespace) -> int:
    import pandas as pd

    from gridsim.validation.theory_checks import run_checks

    if args.log:
        from gridsim.calibration.calibrate import validate_log

        table = validate_log(args.log, schema=args.schema, seed=args.seed)
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


# --------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    from gridsim.calibration import calibrate
    from gridsim.experiment import runner as experiment
    from gridsim.output import plots, report
    from gridsim.version import __version__

    parser = argparse.ArgumentParser(
        prog="gridsim",
        description="Discrete-event simulation of grid-based grassroots governance (网格化治理).",
    )
    parser.add_argument("--version", action="version", version=f"gridsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="simulate a scenario and write a run directory")
    run.add_argument("scenario", help="scenario TOML file")
    run.add_argument("--seed", type=_positive(int), default=None, help="seed (default: meta.seed)")
    run.add_argument("--days", type=_positive(float), default=None, help="simulated days")
    run.add_argument("--out", default=None, help="run directory (default results/<scenario>)")
    run.add_argument("--lang", choices=["en", "zh", "both"], default="both", help="figure labels")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_cmd_run)

    desc = sub.add_parser("describe", help="print the hierarchy and staffing a scenario builds")
    desc.add_argument("scenario")
    desc.add_argument("--seed", type=_positive(int), default=None)
    desc.add_argument("--draw", metavar="PNG", help="also draw the hierarchy to this PNG file")
    desc.set_defaults(func=_cmd_describe)

    schema = sub.add_parser("schema", help="print the JSON schema of scenario files")
    schema.add_argument("--out", help="write to this file instead of stdout")
    schema.set_defaults(func=_cmd_schema)

    val = sub.add_parser("validate", help="check the model against queueing theory or a log")
    val.add_argument("--log", help="a request log to calibrate from and reproduce")
    val.add_argument("--schema", default="nyc311", help="log schema (nyc311 | generic)")
    val.add_argument("--seed", type=_positive(int), default=1)
    val.add_argument("--quick", action="store_true", help="skip the sweep of loads")
    val.set_defaults(func=_cmd_validate)

    for module in (experiment, report, plots, calibrate):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gridsim`` console script."""
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
    except BrokenPipeError:  # the reader went away (`gridsim ... | head`): not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("gridsim: interrupted; nothing half-written was left behind", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
