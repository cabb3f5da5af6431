"""``gridsim classroom``: one sweep, then the page and the lecture figure pack.

:func:`build_classroom` runs the page's common-random-number sweep
(:func:`gridsim.classroom.sweep.run_sweep`), writes ``classroom.html`` (one self-contained
page) and, unless told not to, the lecture figures (PNG and SVG, Chinese and English) under
``figures/`` of the output directory, which it marks as gridsim's.

Example:
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "classroom"
    >>> report = build_classroom("scenarios/one_town.toml", out, days=2, replications=2,
    ...                          executor="serial", figures=False)  # doctest: +SKIP
    >>> report.page.name  # doctest: +SKIP
    'classroom.html'
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from gridsim.classroom.design import Design, load_design
from gridsim.classroom.page import page_data, render_page, write_page
from gridsim.classroom.sweep import run_sweep
from gridsim.errors import UserError
from gridsim.experiment.loading import apply_overrides
from gridsim.files import foreign_directory, write_marker
from gridsim.model.guard import check_run
from gridsim.model.loader import load_scenario

__all__ = ["BuildReport", "build_classroom"]

#: The kind of directory ``gridsim classroom`` writes (its ``.gridsim`` marker).
KIND = "classroom"


@dataclass(frozen=True)
class BuildReport:
    """What a build wrote and how long it took.

    Attributes:
        page: the HTML page.
        page_bytes: its size.
        figures: the figure files written.
        runs: simulation runs.
        seconds: wall time of the whole build.
    """

    page: Path
    page_bytes: int
    figures: tuple[Path, ...]
    runs: int
    seconds: float


def _check_memory(scenario_path: Path, design: Design, days: float) -> None:
    """Refuse (one line) before any work a sweep whose biggest variant would not fit."""
    scenario = load_scenario(scenario_path)
    check_run(scenario, days)
    for control in design.controls:
        for level in control.levels:
            if level.overrides:
                changed = apply_overrides(scenario, level.overrides, str(design.path), control.key)
                check_run(changed, days)


def build_classroom(
    scenario: str | Path,
    out: str | Path,
    *,
    days: float | None = None,
    replications: int | None = None,
    workers: int | None = None,
    executor: str = "processes",
    design: str | None = None,
    design_file: str | Path | None = None,
    reform: str | Path | None = None,
    figures: bool = True,
    font: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> BuildReport:
    """Run the sweep and write ``OUT/classroom.html`` (and ``OUT/figures/``).

    Args:
        scenario: the base scenario file.
        out: the output directory (new, empty, or one ``gridsim classroom`` wrote).
        days: simulated days per run (default: the design's). Time unit: days.
        replications: replications per variant (default: the design's).
        workers: worker processes (default: every core).
        executor: ``"processes"`` or ``"serial"``.
        design: ``"ofat"`` or ``"factorial"`` (default: the design file's).
        design_file: another design file (default: the shipped one).
        reform: the before/after-reform experiment file (default: the design's).
        figures: also write the lecture figure pack.
        font: embed a subset of the installed CJK font in the page.
        progress: called with (runs done, runs in all).

    Raises:
        UserError: a bad option, file or field, or an output directory gridsim did not
            write; one line, before anything is written.
    """
    start = time.perf_counter()
    out = Path(out)
    reason = foreign_directory(out, KIND)
    if reason is not None:
        raise UserError(out, "--out", reason)
    spec = load_design(design_file)
    if design is not None:
        if design not in ("ofat", "factorial"):
            raise UserError("", "--design", f"ofat or factorial, got {design!r}")
        spec = replace(spec, design=design)
    scenario_path = Path(scenario)
    _check_memory(scenario_path, spec, spec.days if days is None else float(days))
    sweep = run_sweep(
        scenario_path, spec, days=days, replications=replications, workers=workers,
        executor=executor, reform=reform, progress=progress,
    )  # fmt: skip
    data = page_data(spec, sweep)
    html = render_page(data, font=font)
    out.mkdir(parents=True, exist_ok=True)
    write_marker(out, KIND)
    page = write_page(html, out / "classroom.html")
    written: tuple[Path, ...] = ()
    if figures:
        from gridsim.classroom.figures import write_figure_pack

        written = tuple(write_figure_pack(data, sweep["scenario"], out / "figures"))
    return BuildReport(
        page=page,
        page_bytes=page.stat().st_size,
        figures=written,
        runs=int(sweep["runs"]),
        seconds=time.perf_counter() - start,
    )
