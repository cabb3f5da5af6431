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
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gridsim.analysis.sensitivity import design_kind, sweep_indices
from gridsim.analysis.stats import TIDY_KEYS, summarise
from gridsim.files import foreign_file, read_csv, sign_png
from gridsim.output.comparison_figures import (
    default_metrics,
    factor_columns,
    kpi_comparison_figure,
    sensitivity_figure,
    tornado_figure,
    welch_figure,
)
from gridsim.output.figure_jobs import FigureWorkers, SavedRun, draw_figures
from gridsim.output.figure_sets import parse_figures
from gridsim.output.i18n import LANGS, check_lang, label, variant_labels
from gridsim.output.run_dir import OutputDirectoryError
from gridsim.output.style import FigureDataError, save_figure

__all__ = ["run_figures", "sweep_figures"]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- directories


def _langs(lang: str) -> tuple[str, ...]:
    return LANGS if lang == "both" else (check_lang(lang),)


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


def _check_targets(names: Iterable[str], langs: Sequence[str], out: Path) -> None:
    """Refuse, before drawing anything, to replace a figure gridsim did not write."""
    for lang in langs:
        for name in names:
            path = out / f"{name}_{lang}.png"
            reason = foreign_file(path)
            if reason is not None:
                raise OutputDirectoryError(path, "", reason)


def _write(
    makers: dict[str, Callable[[str], Figure]], langs: Sequence[str], place: tuple[Path, bool]
) -> list[Path]:
    out, guarded = place
    if guarded:
        _check_targets(list(makers), langs, out)
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
    run_dir: str | os.PathLike[str],
    lang: str = "both",
    out: str | os.PathLike[str] | None = None,
    figures: str | Sequence[str] = "all",
    workers: int | FigureWorkers | None = 1,
) -> list[Path]:
    """Draw the single-run figures of a saved run directory (all of them by default).

    The figures (:data:`~gridsim.output.figure_sets.RUN_FIGURES`) are ``hierarchy``,
    ``escalation_flow``, ``backlog``, ``response_ecdf``, ``resolved_where`` (against the
    scenario's targets, marked illustrative unless ``targets.source`` names a source),
    ``noticing`` (who noticed issues first), ``utilisation`` (hours used over the hours
    budget, by role and town), ``ranking`` and ``warmup`` (a Welch plot of the hourly
    backlog); files are ``<out>/<name>_<lang>.png``. A figure whose data the run lacks
    (say, no resolved order yet) is skipped with a logged warning. With ``workers`` they
    are drawn in parallel (:func:`gridsim.output.figure_jobs.draw_figures`).

    Args:
        run_dir: a directory written by :func:`gridsim.output.run_dir.save_run`.
        lang: ``"zh"``, ``"en"`` or ``"both"``.
        out: where to write (default ``run_dir/figures``); in a folder of the user's, a
            file of the same name that gridsim did not write is never replaced
            (:class:`~gridsim.output.run_dir.OutputDirectoryError`, before anything is drawn).
        figures: ``"all"``, ``"core"`` (:data:`~gridsim.output.figure_sets.CORE_FIGURES`),
            ``"none"``, or figure names (a list, or one string separated by commas).
        workers: processes drawing at once, this one included: 1 (the default) draws
            everything here; ``None`` means one per usable core (what the command line
            uses), or :class:`~gridsim.output.figure_jobs.FigureWorkers` already started.
            Worker processes are spawned, so a script of yours that asks for them needs
            the ``if __name__ == "__main__":`` guard.

    Returns:
        The files written.

    Example:
        >>> run_figures("no/such/run")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no/such/run: not a gridsim run directory (no run.json)
        >>> run_figures("no/such/run", figures="sankey")
        Traceback (most recent call last):
        ...
        gridsim.errors.UserError: --figures: expected none, core, all or figure names \
separated by commas (hierarchy, escalation_flow, backlog, response_ecdf, resolved_where, \
noticing, utilisation, ranking, warmup), got 'sankey'
    """
    names = parse_figures(figures)
    run_dir = Path(run_dir)
    SavedRun(run_dir)  # not a run directory: refused before anything else
    langs = _langs(lang)
    out_dir, guarded = _figures_dir(run_dir, out)
    if guarded:
        _check_targets(names, langs, out_dir)
    jobs = [(name, lg) for lg in langs for name in names]
    return draw_figures(run_dir, jobs, out_dir, workers=workers)


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
    ``kpi_comparison_<lang>.png``; for a factorial design (factor columns with two or more
    levels, none sampled) ``tornado_<metric>_<lang>.png`` for up to three metrics; for a
    sampled design (Latin hypercube or Saltelli: every value unique, so a tornado would
    mislead) ``sensitivity_<lang>.png``, the indices the compare report shows (the design
    as :func:`gridsim.analysis.sensitivity.design_kind` reads it); and
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
    makers.update(_design_figures(manifest, tidy, chosen))
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


def _design_figures(
    manifest: dict, tidy: pd.DataFrame, chosen: Sequence[str]
) -> dict[str, Callable[[str], Figure]]:
    """Tornado charts for a factorial design, the sensitivity indices for a sampled one.

    Without a manifest the tidy table's factor columns stand for its factors (the design is
    then inferred, as the compare report infers it).
    """
    columns = factor_columns(tidy)
    manifest = {"factor_paths": columns, "factor_columns": columns, **manifest}
    kind = design_kind(manifest, tidy)
    if kind == "factorial":
        return {f"tornado_{m}": partial(tornado_figure, tidy, m) for m in chosen[:3]}
    indices = sweep_indices(manifest, tidy, float(manifest.get("confidence", 0.95)))
    if not isinstance(indices, pd.DataFrame):
        if isinstance(indices, str):
            log.warning("figure sensitivity skipped: %s", indices)
        return {}
    conf = float(manifest.get("confidence", 0.95))
    return {"sensitivity": lambda lg: sensitivity_figure(indices, chosen[:4], lg, conf)}


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
