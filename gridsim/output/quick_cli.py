"""The quick-comparison options of ``gridsim run`` and ``gridsim sweep``, and what they do.

``run --set PATH=VALUE`` and ``run --replications N`` (:func:`add_run_options`,
:func:`run_handler`); ``sweep SCENARIO --variant "NAME: PATH=VALUE, ..."`` with ``--set``,
``--replications``, ``--days`` and ``--seed`` (:func:`add_inline_options`,
:func:`sweep_target`). Kept apart from :mod:`gridsim.cli` (which adds them to its parsers) so
that each module stays small; the work is in :mod:`gridsim.output.run_command` and
:mod:`gridsim.experiment.inline`.

Example:
    >>> import argparse
    >>> p = argparse.ArgumentParser()
    >>> add_run_options(p, int)
    >>> args = p.parse_args(["--set", "a.b=1", "--replications", "3"])
    >>> args.set, args.replications, args.workers, args.fresh
    (['a.b=1'], 3, None, False)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gridsim.errors import UserError
from gridsim.experiment.spec import Experiment

__all__ = ["add_inline_options", "add_run_options", "add_set_option", "run_handler",
           "sweep_target"]  # fmt: skip


def add_set_option(p: argparse.ArgumentParser | Any) -> None:
    """``--set path=value`` (repeatable): a scenario field overridden, a TOML value."""
    p.add_argument(
        "--set", action="append", metavar="PATH=VALUE",
        help="override a scenario field, e.g. grids.rural_households_per_microgrid=30 "
        "(a TOML value: number, true/false, \"text\", [array]; repeatable; validated like "
        "the file)",
    )  # fmt: skip


def add_run_options(run: argparse.ArgumentParser, positive_int: Callable[[str], Any]) -> None:
    """``--set`` and the replications group (``--replications``, ``--workers``, ``--fresh``)."""
    add_set_option(run)
    r = run.add_argument_group("replications (with --replications)")
    r.add_argument("--replications", type=positive_int, metavar="N",
                   help="run N replications (common random numbers) and print the KPIs with "
                   "95%% confidence intervals; writes a sweep's results directory (default "
                   "results/experiments/<scenario>-replications-<hash>)")  # fmt: skip
    r.add_argument("--workers", type=int, help="worker processes (default: CPU count)")
    r.add_argument("--fresh", action="store_true", help="discard earlier results in --out")


def add_inline_options(
    p: argparse.ArgumentParser,
    positive_int: Callable[[str], Any],
    positive_float: Callable[[str], Any],
) -> None:
    """``sweep``'s inline experiment: ``--variant``, ``--set``, ``--replications``, ..."""
    i = p.add_argument_group("inline experiment (a scenario file with --variant)")
    i.add_argument(
        "--variant", action="append", metavar='"NAME: PATH=VALUE, ..."',
        help='a variant of the scenario, e.g. "fine: grids.rural_households_per_microgrid=30" '
        "(repeatable; compared with the scenario as it is, named baseline)",
    )  # fmt: skip
    add_set_option(i)
    i.add_argument("--replications", type=positive_int, metavar="N",
                   help="replications per variant (default 5)")  # fmt: skip
    i.add_argument("--days", type=positive_float, help="simulated days (default: horizon)")
    i.add_argument("--seed", type=positive_int, help="root seed (default: meta.seed)")


def run_handler(args: argparse.Namespace) -> int:
    """``gridsim run``: one run (with ``--set``), or ``--replications N`` of them."""
    from gridsim.model.loader import parse_assignments
    from gridsim.output.figure_sets import RUN_DEFAULT
    from gridsim.output.run_command import replications_command, run_command

    sets = parse_assignments(args.set or [])
    if args.replications is not None:
        for option, given in (("--figures", args.figures), ("--lang", args.lang)):
            if given is not None:
                raise UserError("", option, "not with --replications (no figures are drawn)")
        replications_command(
            args.scenario, args.out, replications=args.replications, seed=args.seed,
            days=args.days, sets=sets, workers=args.workers, fresh=args.fresh,
            progress=not args.quiet,
        )  # fmt: skip
        return 0
    for option, given in (("--workers", args.workers is not None), ("--fresh", args.fresh)):
        if given:
            raise UserError("", option, "only with --replications")
    lang = args.lang or "both"
    run_command(
        args.scenario, args.out, seed=args.seed, days=args.days,
        langs=["en", "zh"] if lang == "both" else [lang], figures=args.figures or RUN_DEFAULT,
        progress=not args.quiet, sets=sets,
    )  # fmt: skip
    return 0


def sweep_target(args: argparse.Namespace) -> tuple[Experiment | str, str | Path | None]:
    """The experiment to sweep (a file, or inline from ``--variant``) and its directory."""
    if not args.variant:
        given = [o for o in ("set", "replications", "days", "seed") if getattr(args, o)]
        if given:
            raise UserError("", f"--{given[0]}", "only with --variant (an experiment file "
                            "sets its own)")  # fmt: skip
        return args.experiment, args.out
    from gridsim.experiment.inline import experiment_from_options

    return experiment_from_options(
        args.experiment, args.variant, args.set or [], args.replications, args.days,
        args.seed, args.out,
    )  # fmt: skip
