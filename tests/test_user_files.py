"""A user's files survive every command that writes; hostile text stays text; sweeps lock.

Each test places a file or folder of the user's where a command writes and checks that it
survives byte for byte, and that a refusal is one line with exit status 2. Then: the lock
on an experiment directory, a killed sweep's workers, CSV cells a spreadsheet would run as
formulas, and raw HTML in Markdown reports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

import gridsim.files
from gridsim.cli import main
from gridsim.experiment.store import ResultsStore
from gridsim.output.document import Document
from gridsim.output.run_dir import check_output_directory

ROOT = Path(__file__).resolve().parents[1]
ONE_TOWN = (ROOT / "scenarios" / "one_town.toml").as_posix()
PINGYI = (ROOT / "scenarios" / "pingyi_baseline.toml").as_posix()
SAMPLE_LOG = (ROOT / "gridsim" / "data" / "nyc311_2011_sample.csv").as_posix()
PRECIOUS = b"years of work \x00\xff"


def experiment_file(path: Path, *, base: str = ONE_TOWN, days: float = 5,
                    names: tuple[str, str] = ("ladder", "merged")) -> Path:  # fmt: skip
    """A small two-variant experiment (five days: every KPI defined)."""
    path.write_text(textwrap.dedent(f"""
        [experiment]
        name = "tiny"
        base = "{base}"
        replications = 2
        days = {days}
        seed = 11

        [[variants]]
        name = "{names[0]}"
        overrides = {{ "escalation.policy" = "strict_ladder" }}

        [[variants]]
        name = "{names[1]}"
        overrides = {{ "escalation.policy" = "direct_triage" }}
    """), "utf-8")  # fmt: skip
    return path


def refused(capsys: pytest.CaptureFixture[str], code: int, *words: str) -> str:
    """Assert a one-line refusal with exit status 2 that mentions ``words``; return it."""
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


def place(path: Path, data: bytes = PRECIOUS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished serial sweep of the tiny experiment (shared: copy before changing)."""
    tmp = tmp_path_factory.mktemp("sweep")
    exp = experiment_file(tmp / "tiny.toml")
    out = tmp / "results"
    assert main(["sweep", str(exp), "--executor", "serial", "--out", str(out), "--quiet"]) == 0
    return out


# ------------------------------------------------------------------------------- run


def _one_figure(
    directory: Path, lang: str = "both", out: Path | None = None, **_: object
) -> list[Path]:
    """A stand-in for drawing every run figure (the file handling is what is tested)."""
    return [place((out or directory / "figures") / f"backlog_{lang}.png", b"png")]


def test_run_rerun_keeps_the_users_notes_folders_and_figures(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("gridsim.output.figure_dirs.run_figures", _one_figure)
    out = tmp_path / "run"
    args = ["run", ONE_TOWN, "--days", "1", "--quiet", "--lang", "en", "--out", str(out)]
    assert main(args) == 0
    notes = place(out / "notes.md")
    sub = place(out / "analysis" / "mine.csv")
    figure = place(out / "figures" / "my_chart.png")
    assert main(args) == 0
    for path in (notes, sub, figure):
        assert path.read_bytes() == PRECIOUS
    assert (out / "run.json").is_file() and (out / "figures" / "backlog_en.png").is_file()
    assert (out / ".gridsim").is_file()


def test_run_into_a_folder_of_the_users_is_refused_untouched(tmp_path, capsys):
    folder = tmp_path / "documents"
    mine = place(folder / "summary.csv")
    code = main(["run", ONE_TOWN, "--days", "1", "--quiet", "--out", str(folder)])
    refused(capsys, code, "not a gridsim run directory")
    assert sorted(folder.iterdir()) == [mine] and mine.read_bytes() == PRECIOUS


def test_run_into_an_experiment_directory_is_refused(sweep_dir, tmp_path, capsys):
    copy = shutil.copytree(sweep_dir, tmp_path / "copy")
    code = main(["run", ONE_TOWN, "--days", "1", "--quiet", "--out", str(copy)])
    refused(capsys, code, "it is a gridsim experiment directory")
    assert (copy / "manifest.json").is_file()


def test_a_run_directory_of_gridsim_0_1_is_still_gridsims(tmp_path):
    out = tmp_path / "old"
    place(out / "run.json", b"{}")  # 0.1 wrote no marker
    place(out / "kpis.csv", b"")
    assert check_output_directory(out) == out


def test_run_out_below_a_file_is_one_line(tmp_path, capsys):
    blocker = place(tmp_path / "file")
    code = main(["run", ONE_TOWN, "--days", "1", "--quiet", "--out", str(blocker / "run")])
    refused(capsys, code, str(blocker))
    assert blocker.read_bytes() == PRECIOUS


# ----------------------------------------------------------------------------- sweep


def test_sweep_into_a_folder_of_the_users_is_refused_untouched(tmp_path, capsys):
    exp = experiment_file(tmp_path / "tiny.toml")
    folder = tmp_path / "mine"
    summary = place(folder / "summary.csv")
    code = main(["sweep", str(exp), "--executor", "serial", "--out", str(folder), "--quiet"])
    refused(capsys, code, "not a gridsim experiment directory")
    assert sorted(folder.iterdir()) == [summary] and summary.read_bytes() == PRECIOUS


def test_fresh_sweep_keeps_the_users_files_and_figures(sweep_dir, tmp_path, capsys):
    out = shutil.copytree(sweep_dir, tmp_path / "results")
    notes = place(out / "notes.txt")
    figure = place(out / "figures" / "my_map.png")
    run_note = place(out / "runs" / "README")
    exp = experiment_file(tmp_path / "tiny.toml")
    args = ["sweep", str(exp), "--executor", "serial", "--out", str(out), "--quiet", "--fresh"]
    assert main(args) == 0
    for path in (notes, figure, run_note):
        assert path.read_bytes() == PRECIOUS
    assert (out / "summary.csv").is_file()


def test_second_sweep_on_a_locked_directory_is_one_line(sweep_dir, tmp_path, capsys):
    out = shutil.copytree(sweep_dir, tmp_path / "results")
    before = (out / "manifest.json").read_bytes()
    exp = experiment_file(tmp_path / "tiny.toml")
    with ResultsStore(out).locked():  # as a running sweep holds it
        code = main(["sweep", str(exp), "--executor", "serial", "--out", str(out), "--quiet",
                     "--fresh"])  # fmt: skip
    refused(capsys, code, ".gridsim.lock", str(os.getpid()))
    assert (out / "manifest.json").read_bytes() == before  # --fresh deleted nothing


def test_killed_sweep_leaves_no_worker_behind(tmp_path):
    psutil = pytest.importorskip("psutil")  # comes with dask.distributed (the dev extra)
    exp = experiment_file(tmp_path / "long.toml", base=PINGYI, days=730)  # runs of ~30 s
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "gridsim", "sweep", str(exp), "--executor", "processes",
           "--workers", "2", "--out", str(tmp_path / "out"), "--quiet"]  # fmt: skip
    sweep = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list = []
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline:
            workers = psutil.Process(sweep.pid).children(recursive=True)
            time.sleep(0.1)
        assert len(workers) >= 2, "the sweep never started its workers"
        sweep.kill()
        sweep.wait()
        gone, alive = psutil.wait_procs(workers, timeout=10)
        alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"workers outlived the sweep by 10 s: {[p.pid for p in alive]}"
    finally:
        for worker in workers:  # only the processes this test started
            if worker.is_running():
                worker.kill()
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()


# --------------------------------------------------------------------------- compare


def test_compare_keeps_a_report_of_the_users(sweep_dir, tmp_path, capsys):
    out = shutil.copytree(sweep_dir, tmp_path / "results")
    mine = place(out / "report.md", b"# my own report\n")
    refused(capsys, main(["compare", str(out)]), "report.md")
    assert mine.read_bytes() == b"# my own report\n"
    assert not (out / "report.html").exists()


def _small_document(root: Path, lang: str = "en", correction: str = "holm") -> Document:
    """A stand-in for the full report (its figures take seconds; the file handling is tested)."""
    doc = Document("report")
    doc.add("img", "a figure", image=_png(), path="figures/report_kpis_en.png")
    return doc


def _png() -> bytes:
    import io

    from matplotlib.figure import Figure

    buffer = io.BytesIO()
    Figure((1, 1)).savefig(buffer, format="png")
    return buffer.getvalue()


def test_compare_replaces_its_own_report(sweep_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("gridsim.output.report.build_document", _small_document)
    out = shutil.copytree(sweep_dir, tmp_path / "results")
    assert main(["compare", str(out)]) == 0
    assert main(["compare", str(out)]) == 0
    assert gridsim.files.SIGNATURE in (out / "report.md").read_text("utf-8")


# ------------------------------------------------------------------------------ plot


def test_plot_out_keeps_the_users_files(sweep_dir, tmp_path, capsys, monkeypatch):
    from matplotlib.figure import Figure

    monkeypatch.setattr("gridsim.output.figure_dirs.kpi_comparison_figure",
                        lambda *args, **kw: Figure((1, 1)))  # fmt: skip
    folder = tmp_path / "slides"
    same_name = place(folder / "kpi_comparison_en.png")
    other = place(folder / "photo.png")
    code = main(["plot", str(sweep_dir), "--lang", "en", "--out", str(folder)])
    refused(capsys, code, "kpi_comparison_en.png")
    assert same_name.read_bytes() == PRECIOUS
    same_name.unlink()
    assert main(["plot", str(sweep_dir), "--lang", "en", "--out", str(folder)]) == 0
    assert main(["plot", str(sweep_dir), "--lang", "en", "--out", str(folder)]) == 0  # its own
    assert other.read_bytes() == PRECIOUS


# ------------------------------------------------------------------------- calibrate


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The first 300 rows of the shipped sample log (calibrates in about a second)."""
    lines = Path(SAMPLE_LOG).read_text("utf-8").splitlines(keepends=True)[:301]
    path = tmp_path_factory.mktemp("log") / "small.csv"
    path.write_text("".join(lines), "utf-8")
    return path.as_posix()


def test_calibrate_keeps_the_users_scenario_and_report_folder(
    tmp_path, capsys, small_log, monkeypatch
):
    for plot in ("_plot_cdfs", "_plot_profiles", "_plot_mix"):  # seconds of drawing: not tested
        monkeypatch.setattr(f"gridsim.calibration.fit_report.{plot}", lambda cal, path: None)
    scenario = place(tmp_path / "mine.toml", b"# my scenario\n")
    report = tmp_path / "fit"
    args = ["calibrate", small_log, "--out", str(scenario), "--report", str(report)]
    refused(capsys, main(args), "mine.toml")
    assert scenario.read_bytes() == b"# my scenario\n" and not report.exists()
    new = tmp_path / "new.toml"
    notes = place(report / "notes.txt")
    args = ["calibrate", small_log, "--out", str(new), "--report", str(report)]
    refused(capsys, main(args), "not a gridsim fit-report directory")
    assert notes.read_bytes() == PRECIOUS and not new.exists()
    notes.unlink()
    assert main(args) == 0 and main(args) == 0  # gridsim replaces its own files
    capsys.readouterr()


def test_calibrate_out_below_a_file_is_one_line(tmp_path, capsys, small_log):
    blocker = place(tmp_path / "file")
    code = main(["calibrate", small_log, "--out", str(blocker / "x.toml")])
    refused(capsys, code, str(blocker))


# -------------------------------------------------------------------- describe, schema


def test_describe_draw_keeps_the_users_picture(tmp_path, capsys):
    mine = place(tmp_path / "hierarchy.png")
    refused(capsys, main(["describe", ONE_TOWN, "--draw", str(mine)]), "--draw")
    assert mine.read_bytes() == PRECIOUS
    ours = tmp_path / "ours.png"
    assert main(["describe", ONE_TOWN, "--draw", str(ours)]) == 0
    assert main(["describe", ONE_TOWN, "--draw", str(ours)]) == 0  # signed: its own to redraw


def test_schema_out_keeps_the_users_file(tmp_path, capsys):
    mine = place(tmp_path / "schema.json")
    refused(capsys, main(["schema", "--out", str(mine)]), "--out")
    assert mine.read_bytes() == PRECIOUS
    ours = tmp_path / "ours.json"
    assert main(["schema", "--out", str(ours)]) == 0 and main(["schema", "--out", str(ours)]) == 0


@pytest.mark.parametrize(
    "args",
    [["schema", "--out", "{f}/s.json"], ["describe", ONE_TOWN, "--draw", "{f}/h.png"],
     ["schema", "--out", "{d}"], ["describe", ONE_TOWN, "--draw", "{d}"]],
)  # fmt: skip
def test_output_paths_that_cannot_be_written_are_one_line(tmp_path, capsys, args):
    blocker, folder = place(tmp_path / "file"), tmp_path / "folder"
    folder.mkdir()
    argv = [a.format(f=blocker, d=folder) for a in args]
    refused(capsys, main(argv))
    assert blocker.read_bytes() == PRECIOUS


# ---------------------------------------------------------------------- hostile text


def test_formula_cells_are_escaped_and_numbers_stay_numbers(tmp_path):
    df = pd.DataFrame({"variant": ["=HYPERLINK(1)", "+a", "-b", "@c", "\tx", "'q", "ok", "-1.5"],
                       "value": [-1.0, 2.0, -3e-5, 0.0, 1.0, 1.0, 1.0, 1.0]})  # fmt: skip
    from gridsim.files import csv_cell, read_csv, write_csv

    path = write_csv(df, tmp_path / "t.csv")
    raw = pd.read_csv(path, dtype=str)
    assert list(raw["variant"]) == ["'=HYPERLINK(1)", "'+a", "'-b", "'@c", "'\tx", "''q", "ok",
                                    "-1.5"]  # fmt: skip
    assert not raw["value"].str.startswith("'").any()
    assert read_csv(path).equals(df)  # read back exactly what was written
    assert csv_cell(-2) == -2


def test_sweep_csvs_escape_hostile_variant_names(tmp_path, capsys):
    exp = experiment_file(tmp_path / "tiny.toml", names=("=cmd|'/C calc'!A0", "@SUM(1)"))
    out = tmp_path / "out"
    assert main(["sweep", str(exp), "--executor", "serial", "--out", str(out), "--quiet"]) == 0
    for name in ("summary.csv", "tidy.csv", "comparison.csv", "runs.csv"):
        cells = pd.read_csv(out / name, dtype=str).to_numpy().ravel()
        text = [c for c in cells if isinstance(c, str)]
        assert not [c for c in text if c[:1] in "=@+"], name


def test_markdown_report_escapes_raw_html():
    doc = Document("<script>alert(1)</script>")
    doc.add("p", "variant <img src=x onerror=alert(1)>")
    doc.table(["variant"], [["<b>bold</b>"]])
    md = doc.to_markdown()
    assert "<script>" not in md and "<img" not in md and "<b>" not in md
    assert "&lt;script&gt;" in md
    assert "<script>" not in doc.to_html()


def test_sweep_too_large_for_memory_writes_nothing(repo, tmp_path, capsys, monkeypatch):
    """Before: the first run's refusal came after the manifest and copies were written."""
    monkeypatch.setenv("GRIDSIM_MAX_MEMORY_GB", "8")  # restored after: --max-memory sets it
    out = tmp_path / "sweep"
    code = main(["sweep", str(repo / "scenarios/experiments/one_stop_centre.toml"), "--out",
                 str(out), "--executor", "serial", "--quiet", "--max-memory", "0.001"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--max-memory" in err
    assert not out.exists()
