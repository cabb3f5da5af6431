"""Redraw every figure of a saved run or sweep directory (what ``gridsim plot RESULTS`` does).

:func:`run_figures` reads a run directory (:func:`gridsim.output.run_dir.save_run`),
:func:`sweep_figures` an experiment's results directory; both write
``<name>_<lang>.png`` files and skip, with a logged warning, a figure whose data is missing.
The ``plot`` sub-command (:func:`register`) sits at the end, for the command line.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gridsim.analysis.stats import TIDY_KEYS, summarise
from gridsim.files import foreign_file, read_csv, sign_png
from gridsim.model.loader import load_scenario
from gridsim.model.scenario import ScenarioError
from gridsim.output.comparison_figures import (
    default_metrics,
    factor_columns,
    kpi_comparison_figure,
    tornado_figure,
    welch_figure,
)
from gridsim.output.flow_figures import (
    escalation_flow_figure,
    noticing_figure,
    resolved_where_figure,
)
from gridsim.output.hierarchy_figure import hierarchy_figure
from gridsim.output.i18n import LANGS, Names, check_lang, label, variant_labels
from gridsim.output.run_dir import OutputDirectoryError, load_run
from gridsim.output.staff_figures import ranking_figure, utilisation_heatmap
from gridsim.output.style import FigureDataError, save_figure
from gridsim.output.time_figures import backlog_figure, response_ecdf_figure

__all__ = ["run_figures", "sweep_figures"]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- directories


def _langs(lang: str) -> tuple[str, ...]:
    return LANGS if lang == "both" else (check_lang(lang),)


def _load_scenario(run_dir: Path):
    """The scenario a run used (None when the run directory has no readable copy)."""
    path = run_dir / "scenario.toml"
    if not path.is_file():
        return None
    try:
        return load_scenario(path)
    except ScenarioError as exc:  # an old copy costs only display names: degrade, warn
        log.warning("%s: names left as keys, no targets (%s)", path, exc)
        return None


def _figures_dir(results_dir: Path, out: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    """Where to draw, and whether that folder may hold files of the user's.

    ``results_dir/figures`` is gridsim's own folder inside a run or results directory.
    Any other ``out`` may be a folder of the user's: gridsim adds its figures there but
    replaces only figures it signed (see :func:`_check_targets`).

    Raises:
        OutputDirectoryError: ``out`` exists and is a file.
    """
    default = results_dir / "figures"
    if out is None or Path(out).resolve() == default.resolve():
        return default, False
    chosen = Path(out)
    if chosen.exists() and not chosen.is_dir():
        raise OutputDirectoryError(chosen, "", "exists and is a file (expected a folder)")
    return chosen, True


def _check_targets(makers: dict[str, Callable[[str], Figure]], langs: Sequence[str],
                   out: Path) -> None:  # fmt: skip
    """Refuse, before drawing anything, to replace a figure gridsim did not write."""
    for lang in langs:
        for name in makers:
            path = out / f"{name}_{lang}.png"
            reason = foreign_file(path)
            if reason is not None:
                raise OutputDirectoryError(path, "", reason)


def _write(
    makers: dict[str, Callable[[str], Figure]], langs: Sequence[str], place: tuple[Path, bool]
) -> list[Path]:
    out, guarded = place
    if guarded:
        _check_targets(makers, langs, out)
    written = []
    for lang in langs:
        for name, make in makers.items():
            try:
                fig = make(lang)
            except FigureDataError as exc:  # data the run lacks, e.g. no resolved orders
                log.warning("figure %s skipped: %s", name, exc)
                continue
            # signed, so that a later `plot --out` knows the file is gridsim's to replace
            written.append(sign_png(save_figure(fig, out / f"{name}_{lang}.png")))
            fig.clear()
    return written


def run_figures(
    run_dir: str | os.PathLike[str], lang: str = "both", out: str | os.PathLike[str] | None = None
) -> list[Path]:
    """Draw every single-run figure from a saved run directory.

    Files are ``<out>/<name>_<lang>.png`` for ``hierarchy``, ``escalation_flow``,
    ``backlog``, ``response_ecdf``, ``resolved_where`` (against the scenario's targets,
    marked illustrative unless ``targets.source`` names a source), ``noticing`` (who noticed
    issues first), ``utilisation`` (hours used over the hours budget, by role and town),
    ``ranking`` and ``warmup`` (a Welch plot of the hourly backlog). A figure whose data the
    run lacks (say, no resolved order yet) is skipped with a logged warning.

    Args:
        run_dir: a directory written by :func:`gridsim.output.run_dir.save_run`.
        lang: ``"zh"``, ``"en"`` or ``"both"``.
        out: where to write (default ``run_dir/figures``); in a folder of the user's, a
            file of the same name that gridsim did not write is never replaced
            (:class:`~gridsim.output.run_dir.OutputDirectoryError`, before anything is drawn).

    Returns:
        The files written.

    Example:
        >>> run_figures("no/such/run")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no/such/run: not a gridsim run directory (no run.json)
    """
    run_dir = Path(run_dir)
    langs = _langs(lang)
    run = load_run(run_dir)
    scenario = _load_scenario(run_dir)
    names = Names.from_scenario(scenario) if scenario is not None else Names()
    role = scenario.incentives.ranking_role if scenario is not None else "grid_worker"
    if role not in set(run.staff["role"]) and not run.staff.empty:
        role = str(run.staff["role"].mode().iloc[0])
    targets = scenario.targets if scenario is not None else None
    grid_target = targets.share_resolved_in_grid if targets else None
    town_target = targets.share_resolved_in_town if targets else None
    source = targets.source if targets else ""
    no_orders = (
        [name for name, r in scenario.roles.items() if "resolve" not in r.duties]
        if scenario is not None
        else None
    )
    backlog_hours = float(np.median(np.diff(run.backlog["time"]))) if len(run.backlog) > 1 else 1.0
    makers: dict[str, Callable[[str], Figure]] = {
        "hierarchy": lambda lg: hierarchy_figure(run.units, run.orders, lg, scenario=names),
        "escalation_flow": lambda lg: escalation_flow_figure(run.orders, lg, scenario=names),
        "backlog": lambda lg: backlog_figure(run.backlog, lg),
        "response_ecdf": lambda lg: response_ecdf_figure(run.orders, lg, scenario=names),
        "resolved_where": lambda lg: resolved_where_figure(
            run.orders, lg, grid_target=grid_target, town_target=town_target, target_source=source
        ),
        "noticing": lambda lg: noticing_figure(run.issues, lg),
        "utilisation": lambda lg: utilisation_heatmap(
            run.staff, run.units, lg, scenario=names, no_orders=no_orders
        ),
        "ranking": lambda lg: ranking_figure(
            run.staff, lg, role=role, units=run.units, scenario=names
        ),
        "warmup": lambda lg: welch_figure(
            run.backlog["open"].to_numpy(float),
            lg,
            period_hours=backlog_hours,
            ylabel=label("backlog_y", lg),
        ),
    }
    return _write(makers, langs, _figures_dir(run_dir, out))


def _sweep_manifest(results_dir: Path) -> dict:
    """The experiment's ``manifest.json`` (``{}`` when missing or unreadable)."""
    path = results_dir / "manifest.json"
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("%s: variant names left as keys (%s)", path, exc)
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _sweep_summary(results_dir: Path, tidy: pd.DataFrame) -> pd.DataFrame:
    for name, reader in (("summary.parquet", pd.read_parquet), ("summary.csv", read_csv)):
        if (results_dir / name).is_file():
            return reader(results_dir / name)
    return summarise(tidy[[*TIDY_KEYS, *factor_columns(tidy)]])


def sweep_figures(
    results_dir: str | os.PathLike[str],
    lang: str = "both",
    out: str | os.PathLike[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> list[Path]:
    """Draw the sweep figures from an experiment results directory.

    Reads ``tidy.parquet`` (and ``summary.parquet`` or ``summary.csv`` if present, else
    summarises with :func:`gridsim.analysis.stats.summarise`) and the variants' display names from
    ``manifest.json`` (``name_zh`` in Chinese; the key when absent), and writes
    ``kpi_comparison_<lang>.png``, ``tornado_<metric>_<lang>.png`` for up to three
    metrics when the table has factor columns with two or more levels, and
    ``warmup_<lang>.png`` (a Welch plot) when the experiment kept its pilot backlog
    (``warmup.parquet`` and ``warmup.json``).

    Args:
        results_dir: the experiment's results directory.
        lang: ``"zh"``, ``"en"`` or ``"both"``.
        out: where to write (default ``results_dir/figures``); as for :func:`run_figures`.
        metrics: metrics to compare (None: the usual KPIs present).

    Returns:
        The files written.

    Example:
        >>> sweep_figures("no/such/sweep")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no/such/sweep: not a sweep results directory (no tidy.parquet)
    """
    results_dir = Path(results_dir)
    langs = _langs(lang)
    path = results_dir / "tidy.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{results_dir}: not a sweep results directory (no tidy.parquet)")
    tidy = pd.read_parquet(path)
    summary = _sweep_summary(results_dir, tidy)
    chosen = list(metrics) if metrics else default_metrics(summary["metric"].unique())
    manifest = _sweep_manifest(results_dir)
    makers: dict[str, Callable[[str], Figure]] = {
        "kpi_comparison": lambda lg: kpi_comparison_figure(
            summary, chosen, lg, names=variant_labels(manifest, lg)
        )
    }
    if any(tidy[c].nunique() > 1 for c in factor_columns(tidy)):
        for metric in chosen[:3]:
            makers[f"tornado_{metric}"] = partial(tornado_figure, tidy, metric)
    warmup = _sweep_warmup(results_dir)
    if warmup is not None:
        matrix, cut, window = warmup
        makers["warmup"] = lambda lg: welch_figure(
            matrix,
            lg,
            truncation=cut,
            window=window,
            period_hours=24.0,
            ylabel=label("backlog_y", lg),
        )
    return _write(makers, langs, _figures_dir(results_dir, out))


def _sweep_warmup(results_dir: Path) -> tuple[np.ndarray, int | None, int | None] | None:
    """Read the pilot backlog (``warmup.parquet``: replication, day, backlog) if present."""
    path = results_dir / "warmup.parquet"
    if not path.is_file():
        return None
    long = pd.read_parquet(path)
    if not {"replication", "day", "backlog"} <= set(long.columns) or long["day"].nunique() < 10:
        return None
    matrix = long.pivot(index="replication", columns="day", values="backlog").to_numpy(float)
    info_path = results_dir / "warmup.json"
    info = json.loads(info_path.read_text("utf-8")) if info_path.is_file() else {}
    days, window = info.get("warmup_days"), info.get("welch_window")
    cut = int(round(days)) if days is not None else None
    if window is not None and not 0 <= int(window) < matrix.shape[1]:
        window = None
    return matrix, cut, int(window) if window is not None else None
