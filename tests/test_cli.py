"""The command line: what `gridsim run` writes, and how it refuses a user's mistake."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gridsim.cli import main
from gridsim.model.records import RUN_TABLES
from gridsim.output.run_dir import load_run


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, repo) -> tuple[Path, str]:
    """One `gridsim run` (12 days, figures in English): its directory and what it printed.

    Shared by the tests below (a `run` draws its figures, seconds each): copy the directory
    before changing it.
    """
    out = tmp_path_factory.mktemp("cli") / "run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["run", str(repo / "scenarios/one_town.toml"), "--days", "12", "--seed", "3",
                     "--out", str(out), "--quiet", "--lang", "en"])  # fmt: skip
    assert code == 0
    return out, printed.getvalue()


@pytest.fixture(scope="module")
def run_dir(cli_run) -> Path:
    return cli_run[0]


def test_run_writes_everything_a_run_directory_promises(run_dir):
    for name in RUN_TABLES:
        assert (run_dir / f"{name}.parquet").is_file()
    for name in ("kpis.csv", "kpis.json", "run.json", "scenario.toml"):
        assert (run_dir / name).is_file()
    pngs = sorted(p.name for p in (run_dir / "figures").glob("*.png"))
    for needed in ("backlog_en.png", "resolved_where_en.png", "response_ecdf_en.png"):
        assert needed in pngs
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["seed"]["entropy"] == "3" and meta["gridsim_version"]
    assert not list(run_dir.parent.glob(".run.*")), "temporary directory left behind"


def test_saved_run_round_trips(run_dir):
    again = load_run(run_dir)
    kpis = pd.read_csv(run_dir / "kpis.csv")
    assert dict(zip(kpis["metric"], kpis["value"], strict=True)) == pytest.approx(
        again.kpis, nan_ok=True
    )
    assert len(again.events) > 0 and again.horizon_hours == 12 * 24


def test_the_scenario_as_run_loads_back(run_dir, repo):
    import gridsim

    ran = gridsim.load_scenario(run_dir / "scenario.toml")
    assert ran == gridsim.load_scenario(repo / "scenarios/one_town.toml")


def test_summary_is_printed(cli_run):
    out = cli_run[1]  # --quiet leaves out the progress bar, not the summary
    assert "appeals filed" in out and "satisfied residents" in out


def test_missing_scenario_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml"), "--quiet"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_negative_days_is_refused_by_the_parser(repo, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", str(repo / "scenarios/one_town.toml"), "--days", "-3"])
    assert exc.value.code == 2
    assert "positive" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["run"], ["run", "x.toml", "--days", "nan"], ["sweep", "x.toml", "--executor", "gpu"],
             ["frobnicate"], ["plot", "d", "--lang", "fr"], ["validate", "--seed", "-1"]],
)  # fmt: skip
def test_command_line_mistakes_are_one_line(argv, capsys):
    """Before: argparse printed its usage block first (three lines or more)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gridsim") and "--help" in err, err


def test_every_user_error_survives_pickling():
    """A sweep's worker hands its error back pickled; before, only ScenarioError could."""
    import pickle

    from gridsim.calibration.logs import LogError
    from gridsim.errors import UserError
    from gridsim.experiment.executors import ExecutorOptionError
    from gridsim.experiment.store import ResultsConflictError
    from gridsim.output.fonts import FontNotFoundError
    from gridsim.output.run_dir import OutputDirectoryError

    errors = [LogError("a.csv", "Closed Date", "a date"), UserError("f", "x", "y"),
              ResultsConflictError("d", "", "busy"), OutputDirectoryError("d", "", "a run"),
              ExecutorOptionError("", "workers", "a positive integer")]  # fmt: skip
    errors.append(FontNotFoundError())
    for err in errors:
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)
        assert (back.file, back.field, back.expected) == (err.file, err.field, err.expected)


def test_describe_counts_and_draws(repo, tmp_path, capsys):
    png = tmp_path / "tree.png"
    assert main(["describe", str(repo / "scenarios/pingyi_baseline.toml"), "--draw", str(png)]) == 0
    out = capsys.readouterr().out
    assert "towns and streets    " in out and "micro-grids" in out and "grid_worker" in out
    # each role's hours budget and duties (who takes orders, who visits, who notices)
    assert "h/week" in out and "duties" in out
    (assistant,) = [line for line in out.splitlines() if line.split()[:1] == ["grid_assistant"]]
    assert "notice,help" in assistant and "resolve" not in assistant
    assert "active party groups" in out
    assert png.stat().st_size > 10_000


def test_schema_is_json_with_the_sections(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"meta", "county", "categories", "channels", "escalation"} <= set(schema["properties"])


def test_run_never_replaces_a_directory_that_is_not_a_run(repo, tmp_path, capsys):
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    code = main(["run", str(repo / "scenarios/one_town.toml"), "--days", "2", "--quiet",
                 "--out", str(precious)])  # fmt: skip
    assert code == 2
    assert "not a gridsim run directory" in capsys.readouterr().err
    assert (precious / "thesis.txt").read_text() == "years of work"


def test_run_replaces_an_earlier_run(repo, tmp_path, run_dir):
    out = tmp_path / "run"
    shutil.copytree(run_dir, out)  # the earlier run: 12 days, with its figures
    assert load_run(out).horizon_hours == 12 * 24
    args = ["run", str(repo / "scenarios/one_town.toml"), "--quiet", "--lang", "en", "--out"]
    assert main([*args, str(out), "--days", "2"]) == 0
    assert load_run(out).horizon_hours == 48
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_python_dash_m_gridsim_is_the_command(repo):
    out = subprocess.run([sys.executable, "-m", "gridsim", "--help"], capture_output=True,
                         text=True, cwd=repo, check=False)  # fmt: skip
    assert out.returncode == 0
    assert "usage: gridsim" in out.stdout and "sweep" in out.stdout


def test_py_typed_is_shipped(repo):
    import tomllib

    assert (repo / "gridsim" / "py.typed").is_file()
    pyproject = tomllib.loads((repo / "pyproject.toml").read_text("utf-8"))
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["gridsim"]


def test_every_user_error_is_caught_in_one_place(repo):
    """cli.main is the one place that turns a UserError into a line and exit status 2.

    Elsewhere a handler of a user error may only add information and raise again, or degrade
    visibly (a logged warning, e.g. display names lost when a run's scenario copy is stale).
    """
    import ast

    swallowed = []
    for path in sorted((repo / "gridsim").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.ExceptHandler) or node.type is None:
                continue
            names = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
            names |= {n.attr for n in ast.walk(node.type) if isinstance(n, ast.Attribute)}
            reraises = any(isinstance(n, ast.Raise) for n in ast.walk(node))
            warns = any(isinstance(n, ast.Attribute) and n.attr in ("warning", "warn")
                        for n in ast.walk(node))  # fmt: skip
            if names & {"UserError", "ScenarioError", "LogError"} and not (reraises or warns):
                swallowed.append(f"{path.relative_to(repo).as_posix()}:{node.lineno}")
    assert len(swallowed) == 1 and swallowed[0].startswith("gridsim/cli.py:"), swallowed
