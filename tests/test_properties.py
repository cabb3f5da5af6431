"""Property tests of everything that reads a user's file, and a mutation corpus run end to end.

The promise under test: whatever a user feeds gridsim, it either loads or is refused with a
:class:`gridsim.errors.UserError` whose message is ONE printable line; never another
exception (a traceback). Hypothesis generates the inputs:

* scenario files: whole generated TOML documents, arbitrary text, and mutations of
  ``scenarios/one_town.toml`` (a value of any type at a random path, a deleted or renamed
  key, an unknown key, huge, negative and non-finite numbers, text with control characters);
* experiment files: mutations of a small valid experiment and generated factors;
* request logs: generated CSV text under the ``nyc311`` and ``generic`` schemas.

Profiles: ``ci`` (the default; a few seconds, ``derandomize=True`` so every CI run tries the
same inputs) and ``thorough`` (``HYPOTHESIS_PROFILE=thorough``: many more, random inputs,
for a long local run). The corpus ``tests/cases/mutations.toml`` (written by
``tests/cases/make_mutations.py``) goes through ``gridsim describe`` and a one-day
``gridsim run`` in-process: exit 0, or exit 2 with one line on stderr and nothing written.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_bad_input import edited, raw_bytes

import gridsim.output.figure_dirs
from gridsim.calibration.logs import read_log
from gridsim.cli import main
from gridsim.errors import UserError
from gridsim.experiment.loading import experiment_from_dict, load_experiment
from gridsim.model.loader import load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
ONE_TOWN = ROOT / "scenarios" / "one_town.toml"
ONE_TOWN_TEXT = ONE_TOWN.read_text("utf-8")
ONE_TOWN_DATA = tomllib.loads(ONE_TOWN_TEXT)

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci", derandomize=True, deadline=None, database=None, suppress_health_check=_QUIET
)
settings.register_profile("thorough", deadline=None, suppress_health_check=_QUIET)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)
#: Examples per test: ``ci`` keeps the module to a few seconds, ``thorough`` runs 25 times more.
SCALE = 25 if PROFILE == "thorough" else 1


def examples(n: int) -> settings:
    """``n`` examples under ``ci``, ``25 n`` under ``thorough``."""
    return settings(max_examples=n * SCALE)


def loads_or_one_line(call: Callable[[], object]) -> None:
    """``call()`` returns, or raises a UserError of one printable line; anything else escapes."""
    try:
        call()
    except UserError as err:
        message = str(err)
        assert message.strip(), "an empty message"
        assert message.isprintable(), f"not one printable line: {message!r}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for the module's generated files (hypothesis reruns a test body)."""
    return tmp_path_factory.mktemp("properties")


# ------------------------------------------------------------------ generated values

#: Text that a user's file may hold: control characters, a BOM, RTL marks, CJK, formula starts.
odd_text = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["\x00", "\n", "\r", "\t", "\x1b", "\u2028", "\ufeff", "\u202e", "="]),
    ),
    max_size=12,
)
finite_or_not = st.floats(allow_nan=True, allow_infinity=True)
numbers = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    finite_or_not,
    st.sampled_from([0, -1, 1e-300, 1e308, -1e308, 10**18, 2**63 - 1]),
)
scalars = st.one_of(
    numbers,
    st.booleans(),
    odd_text,
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    st.dates(),
)
#: Any TOML value: scalars, arrays and tables, nested a few levels.
toml_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(odd_text, inner, max_size=4)
    ),
    max_leaves=12,
)
SECTIONS = sorted(ONE_TOWN_DATA)


def _dotted_paths(node: Any, prefix: str = "") -> list[str]:
    """Every dotted path of a parsed TOML document (list items by index)."""
    out: list[str] = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        out.append(path)
        if isinstance(value, (dict, list)):
            out += _dotted_paths(value, path)
    return out


def _walk(data: Any, path: str) -> tuple[Any, Any]:
    """The container of a dotted path (list items by index) and its key there."""
    *head, last = path.split(".")
    node = data
    for step in head:
        node = node[int(step)] if isinstance(node, list) else node[step]
    return node, int(last) if isinstance(node, list) else last


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """``base`` with one to three edits: set any value, delete, rename or add a key."""
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        try:
            node, key = _walk(data, path)
            node[key]  # noqa: B018 - an earlier edit may have removed or retyped it
        except (KeyError, IndexError, TypeError, ValueError):
            continue  # that path is gone after an earlier edit: skip this edit
        op = draw(st.sampled_from(["set", "set", "set", "delete", "rename", "add"]))
        if op == "set":
            node[key] = draw(toml_values)
        elif op == "delete":
            del node[key]
        elif isinstance(node, dict) and op == "rename":
            node[draw(odd_text)] = node.pop(key)
        elif isinstance(node, dict):
            node[draw(odd_text)] = draw(toml_values)
    return data


# ------------------------------------------------------------------ scenario files

ONE_TOWN_PATHS = _dotted_paths(ONE_TOWN_DATA)


@examples(150)
@given(mutated(ONE_TOWN_DATA, ONE_TOWN_PATHS))
def test_scenario_mutations_load_or_give_one_line(data: dict[str, Any]) -> None:
    loads_or_one_line(lambda: scenario_from_dict(data, "one_town.toml"))


@examples(60)
@given(st.dictionaries(st.one_of(st.sampled_from(SECTIONS), odd_text), toml_values, max_size=6))
def test_generated_scenario_documents_load_or_give_one_line(
    workdir: Path, data: dict[str, Any]
) -> None:
    path = workdir / "generated.toml"
    path.write_text(tomli_w.dumps(data), "utf-8")
    loads_or_one_line(lambda: load_scenario(path))


@examples(60)
@given(st.one_of(odd_text.map(str.encode), st.binary(max_size=64)))
@example(b"x = " + b"[" * 3000 + b"]" * 3000)  # once a RecursionError in the loader
def test_arbitrary_bytes_as_a_scenario_give_one_line(workdir: Path, raw: bytes) -> None:
    path = workdir / "bytes.toml"
    path.write_bytes(raw)
    loads_or_one_line(lambda: load_scenario(path))


# ------------------------------------------------------------------ experiment files

BASE_EXPERIMENT: dict[str, Any] = {
    "experiment": {
        "name": "tiny",
        "base": ONE_TOWN.as_posix(),
        "replications": 2,
        "days": 2,
        "seed": 11,
        "precision": {"metric": "on_time_rate", "target_relative_half_width": 0.1},
    },
    "factors": [{"path": "grids.households_per_grid", "values": [300, 400]}],
    "variants": [{"name": "ladder", "overrides": {"escalation.policy": "strict_ladder"}}],
}
EXPERIMENT_PATHS = _dotted_paths(BASE_EXPERIMENT)
#: Scenario paths a generated factor may vary (their leaves, by key as overrides name them).
FACTOR_PATHS = ["grids.households_per_grid", "meta.warmup_days", "escalation.policy"]


@st.composite
def experiments(draw: st.DrawFn) -> dict[str, Any]:
    """A mutation of the base experiment, sometimes with a generated extra factor."""
    data = draw(mutated(BASE_EXPERIMENT, EXPERIMENT_PATHS))
    if draw(st.booleans()) and isinstance(data.get("factors"), list):
        path = draw(st.one_of(st.sampled_from(FACTOR_PATHS), odd_text))
        levels = draw(st.lists(scalars, min_size=0, max_size=3))
        data["factors"].append({"path": path, "values": levels})
    return data


@examples(100)
@given(experiments())
def test_experiment_mutations_load_or_give_one_line(data: dict[str, Any]) -> None:
    loads_or_one_line(lambda: experiment_from_dict(data, "tiny.toml", root=ROOT))


@examples(30)
@given(st.one_of(odd_text.map(str.encode), st.binary(max_size=64)))
def test_arbitrary_bytes_as_an_experiment_give_one_line(workdir: Path, raw: bytes) -> None:
    path = workdir / "experiment.toml"
    path.write_bytes(raw)
    loads_or_one_line(lambda: load_experiment(path))


# ------------------------------------------------------------------ request logs

NYC_HEADER = "Created Date,Closed Date,Complaint Type,Open Data Channel Type,Agency"
dates = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2999, 12, 31))
cells = st.one_of(
    dates.map(lambda d: d.strftime("%m/%d/%Y %I:%M:%S %p")),
    dates.map(lambda d: d.isoformat()),
    st.sampled_from(["", "N/A", "0", "-1", "=HYPERLINK()", "Noise", "PHONE", '"a,b"', '"']),
    odd_text.filter(lambda s: "\x00" not in s),
)
rows = st.lists(st.lists(cells, min_size=0, max_size=6), min_size=0, max_size=6)
headers = st.one_of(
    st.just(NYC_HEADER),
    st.just("a,b,c"),
    st.lists(odd_text, min_size=1, max_size=5).map(",".join),
)
log_options: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.just({}),
    st.just({"schema": "generic", "columns": {"created": "a", "closed": "b", "category": "c"}}),
    st.fixed_dictionaries(
        {"date_format": st.sampled_from(["%Y-%m-%d", "%m/%d/%Y %I:%M:%S %p", "%d.%m.%Y", "x"])}
    ),
)


@examples(60)
@given(headers, rows, log_options)
@example(NYC_HEADER, [["01/01/2020 01:00:00 AM"] * 5], {"date_format": "%Q"})  # was a traceback
def test_generated_logs_load_or_give_one_line(
    workdir: Path, header: str, body: list[list[str]], options: dict[str, Any]
) -> None:
    path = workdir / "log.csv"
    text = "\n".join([header, *(",".join(row) for row in body)]) + "\n"
    path.write_text(text, "utf-8")
    loads_or_one_line(lambda: read_log(path, **options))


# ------------------------------------------------------------------ the mutation corpus

CORPUS_FILE = ROOT / "tests" / "cases" / "mutations.toml"
with open(CORPUS_FILE, "rb") as _f:
    _TABLE = tomllib.load(_f)
CORPUS = [{**c, "kind": kind} for kind in ("edited", "raw") for c in _TABLE.get(kind, [])]


def _mutant_bytes(case: dict[str, Any]) -> bytes:
    if case["kind"] == "edited":
        return tomli_w.dumps(edited(ONE_TOWN_DATA, case)).encode("utf-8")
    return raw_bytes(ONE_TOWN_TEXT, case)


def test_the_corpus_is_large_and_well_formed() -> None:
    names = [c["name"] for c in CORPUS]
    assert len(set(names)) == len(names) >= 300
    assert len({_mutant_bytes(c) for c in CORPUS}) == len(CORPUS)  # every mutant differs


def _params() -> list[Any]:
    marks = lambda c: [pytest.mark.xfail(strict=True, reason=c["xfail"])] if "xfail" in c else []  # noqa: E731
    return [pytest.param(c, id=c["name"], marks=marks(c)) for c in CORPUS]


def _one_line_or_nothing(code: int, err: str) -> None:
    """Exit 0, or exit 2 with exactly one line on stderr."""
    assert code in (0, 2), f"exit {code}: {err}"
    if code == 2:
        assert err.count("\n") == 1 and err.endswith("\n"), f"not one line: {err!r}"
    assert "Traceback" not in err, err


@pytest.mark.parametrize("case", _params())
def test_mutant_describes_and_runs_or_gives_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: dict[str, Any],
) -> None:
    # The figures cost seconds a run and read only the saved tables: left out here.
    monkeypatch.setattr(gridsim.output.figure_dirs, "run_figures", lambda *a, **k: None)
    path = tmp_path / "mutant.toml"
    path.write_bytes(_mutant_bytes(case))
    code = main(["describe", str(path)])
    _one_line_or_nothing(code, capsys.readouterr().err)
    out = tmp_path / "run"
    argv = ["run", str(path), "--days", "1", "--quiet", "--lang", "en", "--out", str(out)]
    run_code = main(argv)
    _one_line_or_nothing(run_code, capsys.readouterr().err)
    if run_code == 2:
        assert not out.exists(), "a refused run left files behind"
