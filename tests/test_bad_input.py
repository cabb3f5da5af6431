"""Bad input, as data: malformed scenarios, experiment files and request logs.

Each case is one entry of a table in ``tests/cases/``: an edit of a valid input (or a few
bytes), the field the error must name and words its message must contain. The tests write
every case to ``tmp_path`` and check that gridsim rejects it with a one-line
:class:`gridsim.errors.UserError` naming the file and the field, never a traceback. A case
that fails today is marked ``xfail`` in its table, with the reason. The tables say how to
write a case (see the comment at the top of ``bad_scenarios.toml``).
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

import gridsim
from gridsim.calibration.logs import LogError, read_log
from gridsim.cli import main
from gridsim.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
CASES = Path(__file__).parent / "cases"
ONE_TOWN = ROOT / "scenarios" / "one_town.toml"


def read_table(name: str) -> dict[str, Any]:
    """One case table of ``tests/cases``."""
    with open(CASES / name, "rb") as f:
        return tomllib.load(f)


def params(cases: list[dict[str, Any]]) -> list[Any]:
    """Cases as pytest parameters, each named by its ``name``."""
    return [pytest.param(case, id=case["name"], marks=_known_failure(case)) for case in cases]


def _known_failure(case: dict[str, Any]) -> list[pytest.MarkDecorator]:
    """A strict xfail for a case marked ``xfail = "<why>"``: the fix must remove the mark."""
    return [pytest.mark.xfail(strict=True, reason=case["xfail"])] if "xfail" in case else []


# ------------------------------------------------------------------ the edit vocabulary


def _index(node: Any, step: str, path: str) -> Any:
    """The key or list index that ``step`` of ``path`` names inside ``node``."""
    if isinstance(node, list):
        if step.isdigit():
            assert int(step) < len(node), f"broken case: {path}: no item {step}"
            return int(step)
        found = [
            i
            for i, item in enumerate(node)
            if isinstance(item, dict) and step in (item.get("key"), item.get("name"))
        ]
        assert len(found) == 1, f"broken case: {path}: {len(found)} records named {step!r}"
        return found[0]
    assert isinstance(node, dict), f"broken case: {path}: {step!r} is inside a value"
    return step


def locate(data: dict[str, Any], path: str, *, exists: bool = True) -> tuple[Any, Any]:
    """The container holding the dotted ``path`` and its key there.

    The target must exist (or, with ``exists=False``, must not): a case whose edit misses
    the base file is a broken case, not a pass.
    """
    *head, last = path.split(".")
    node: Any = data
    for step in head:
        key = _index(node, step, path)
        assert isinstance(node, list) or key in node, f"broken case: {path}: no {step!r}"
        node = node[key]
    key = _index(node, last, path)
    present = isinstance(node, list) or key in node
    assert present == exists, f"broken case: {path} {'is absent' if exists else 'exists'}"
    return node, key


def _set(data: dict[str, Any], edits: dict[str, Any]) -> None:
    for path, value in edits.items():
        node, key = locate(data, path)
        node[key] = value


def _add(data: dict[str, Any], edits: dict[str, Any]) -> None:
    for path, value in edits.items():
        node, key = locate(data, path, exists=False)
        node[key] = value


def _delete(data: dict[str, Any], paths: list[str]) -> None:
    for path in paths:
        node, key = locate(data, path)
        del node[key]


def _rename(data: dict[str, Any], edits: dict[str, str]) -> None:
    for path, new in edits.items():
        node, key = locate(data, path)
        assert isinstance(node, dict) and new not in node, f"broken case: {path} -> {new}"
        renamed = {new if k == key else k: v for k, v in node.items()}  # keep the key's place
        node.clear()
        node.update(renamed)


def _append(data: dict[str, Any], edits: dict[str, Any]) -> None:
    for path, value in edits.items():
        node, key = locate(data, path)
        assert isinstance(node[key], list), f"broken case: {path} is not a list"
        node[key].append(value)


#: The edit vocabulary of the case tables: op name -> edit(data, that op's argument).
EDITS: dict[str, Callable[[dict[str, Any], Any], None]] = {
    "set": _set,
    "add": _add,
    "delete": _delete,
    "rename": _rename,
    "append": _append,
}


def edited(base: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with the case's edits applied in the order the case lists them.

    Example:
        >>> edited({"meta": {"days": 9}}, {"rename": {"meta.days": "dayz"}})
        {'meta': {'dayz': 9}}
    """
    data = copy.deepcopy(base)
    for op, edits in case.items():
        if op in EDITS:
            EDITS[op](data, edits)
    assert data != base, f"broken case: {case.get('name')}: the edits change nothing"
    return data


RAW_KEYS = {"text", "replace", "nest", "prefix", "encoding"}


def raw_bytes(base_text: str, case: dict[str, Any]) -> bytes:
    """The bytes of a raw case: ``text`` (or the base text), ``replace``, ``nest``, ``prefix``.

    ``nest = [open, close, n]`` appends ``open`` n times then ``close`` n times (a value
    nested n deep, too long to write out in a case table).

    Example:
        >>> raw_bytes("a = 1\\n", {"replace": ["1", "x"], "prefix": "# bad\\n"})
        b'# bad\\na = x\\n'
        >>> raw_bytes("x = ", {"nest": ["[", "]", 2]})
        b'x = [[]]'
    """
    text = case.get("text", base_text)
    if "replace" in case:
        old, new = case["replace"]
        assert text.count(old) == 1, f"broken case: {old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    if "nest" in case:
        opening, closing, depth = case["nest"]
        text += opening * depth + closing * depth
    text = case.get("prefix", "") + text
    return text.encode(case.get("encoding", "utf-8"))


def write_case(tmp_path: Path, base: dict[str, Any], base_text: str, case: dict[str, Any]) -> Path:
    """Write one ``edited`` or ``raw`` TOML case to ``tmp_path/<name>.toml``."""
    path = tmp_path / f"{case['name']}.toml"
    if case["kind"] == "edited":
        path.write_text(tomli_w.dumps(edited(base, case)), "utf-8")
    else:
        path.write_bytes(raw_bytes(base_text, case))
    return path


def assert_one_line(err: BaseException, path: Path, field: str, expected: str) -> None:
    """``err`` is a one-line UserError: ``<path>: <field>: <expected>`` (no field if "")."""
    assert isinstance(err, UserError), f"{type(err).__name__}: {err}"
    message = str(err)
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith(f"{path}: "), message
    assert err.file == str(path), message
    assert err.expected.strip(), message
    assert expected in err.expected, message
    # The message is the three parts with control characters escaped (a key may hold them).
    assert message == str(UserError(path, err.field, err.expected)), message
    if field:
        assert field in err.field, message
        assert f"{path}: " + _escaped(f"{err.field}: {err.expected}") == message
    else:
        assert err.field == "", message
        assert message == f"{path}: " + _escaped(err.expected)


def _escaped(text: str) -> str:
    """``text`` with every control character written as its escape (``\\n``), one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


CASE_KEYS = {"name", "why", "field", "expected", "xfail"}
KEYS_OF_KIND = {"edited": CASE_KEYS | set(EDITS), "raw": CASE_KEYS | RAW_KEYS}


def cases_of(table: dict[str, Any]) -> list[dict[str, Any]]:
    """Every case of a table, ``edited`` ones then ``raw`` ones, each with its ``kind``.

    A misspelt key (``sett = ...``) would leave a case unedited: it fails here instead.
    """
    cases = []
    for kind, allowed in KEYS_OF_KIND.items():
        for case in table.get(kind, []):
            unknown = set(case) - allowed
            assert not unknown, f"broken case {case.get('name')}: unknown keys {unknown}"
            cases.append({**case, "kind": kind})
    names = [c["name"] for c in cases]
    assert len(set(names)) == len(names), f"repeated case names in {sorted(names)}"
    return cases


# ------------------------------------------------------------------ scenarios

ONE_TOWN_TEXT = ONE_TOWN.read_text("utf-8")
ONE_TOWN_DATA = tomllib.loads(ONE_TOWN_TEXT)
SCENARIOS = cases_of(read_table("bad_scenarios.toml"))
# One case of each kind of failure (schema, TOML syntax, cross-reference) for `gridsim run`.
RUN_CASES = {"negative_rate", "bad_toml_syntax", "unknown_joint_department"}


def test_the_base_scenario_loads_after_a_round_trip(tmp_path: Path) -> None:
    """The cases are only meaningful if their unedited base loads."""
    path = tmp_path / "one_town.toml"
    path.write_text(tomli_w.dumps(ONE_TOWN_DATA), "utf-8")
    assert gridsim.load_scenario(path).meta.horizon_days == 90
    assert len(SCENARIOS) >= 50


@pytest.mark.parametrize("case", params(SCENARIOS))
def test_bad_scenario_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: dict[str, Any]
) -> None:
    path = write_case(tmp_path, ONE_TOWN_DATA, ONE_TOWN_TEXT, case)
    with pytest.raises(Exception) as info:  # noqa: B017 - the class is asserted below
        gridsim.load_scenario(path)
    assert isinstance(info.value, gridsim.ScenarioError), f"{info.type.__name__}: {info.value}"
    assert_one_line(info.value, path, case["field"], case["expected"])

    assert main(["describe", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert str(path) in err and case["expected"] in err, err


@pytest.mark.parametrize("case", params([c for c in SCENARIOS if c["name"] in RUN_CASES]))
def test_run_refuses_a_bad_scenario_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: dict[str, Any]
) -> None:
    path = write_case(tmp_path, ONE_TOWN_DATA, ONE_TOWN_TEXT, case)
    out = tmp_path / "never"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err, err
    assert sorted(tmp_path.iterdir()) == [path]  # no run directory, nothing half-written


# ------------------------------------------------------------------ experiment files

BASE_EXPERIMENT: dict[str, Any] = {
    "experiment": {
        "name": "tiny",
        "base": ONE_TOWN.as_posix(),
        "replications": 2,
        "days": 5,
        "seed": 11,
    },
    "variants": [
        {
            "name": "ladder",
            "name_zh": "逐级上报",
            "overrides": {"escalation.policy": "strict_ladder"},
        },
        {
            "name": "merged centre",
            "name_zh": "镇街综治中心合署",
            "overrides": {"escalation.policy": "direct_triage", "centre.merged_town": True},
        },
    ],
}
BASE_EXPERIMENT_TEXT = tomli_w.dumps(BASE_EXPERIMENT)
EXPERIMENTS = cases_of(read_table("bad_experiments.toml"))


def test_the_base_experiment_loads(tmp_path: Path) -> None:
    """The cases are only meaningful if their unedited base loads."""
    path = tmp_path / "tiny.toml"
    path.write_text(BASE_EXPERIMENT_TEXT, "utf-8")
    assert [v.name for v in gridsim.load_experiment(path).variants] == ["ladder", "merged centre"]
    assert len(EXPERIMENTS) >= 20


@pytest.mark.parametrize("case", params(EXPERIMENTS))
def test_bad_experiment_is_a_one_line_error(tmp_path: Path, case: dict[str, Any]) -> None:
    path = write_case(tmp_path, BASE_EXPERIMENT, BASE_EXPERIMENT_TEXT, case)
    with pytest.raises(Exception) as info:  # noqa: B017 - the class is asserted below
        gridsim.load_experiment(path)
    assert isinstance(info.value, gridsim.ScenarioError), f"{info.type.__name__}: {info.value}"
    assert_one_line(info.value, path, case["field"], case["expected"])


# Cases that used to pass the loader and fail later, or fail after files were written:
# `gridsim sweep` must refuse them before any run starts and before any file is written.
SWEEP_CASES = {"days_infinite", "precision_unknown_metric", "replications_is_true"}


@pytest.mark.parametrize("case", params([c for c in EXPERIMENTS if c["name"] in SWEEP_CASES]))
def test_sweep_refuses_a_bad_experiment_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: dict[str, Any]
) -> None:
    path = write_case(tmp_path, BASE_EXPERIMENT, BASE_EXPERIMENT_TEXT, case)
    out = tmp_path / "results"
    argv = ["sweep", str(path), "--out", str(out), "--executor", "serial", "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and case["expected"] in err, err
    assert sorted(tmp_path.iterdir()) == [path]  # no manifest, no copies, no runs


# ------------------------------------------------------------------ request logs

LOGS = read_table("bad_logs.toml")["log"]
LOG_KEYS = {"name", "why", "text", "encoding", "schema", "columns", "date_format", "column"}
GOOD_LOG = (
    "Created Date,Closed Date,Complaint Type,Open Data Channel Type,Agency\n"
    "03/01/2011 02:27:57 PM,03/14/2011 03:59:20 PM,Noise,PHONE,NYPD\n"
)


def test_the_log_cases_are_many_and_well_formed(tmp_path: Path) -> None:
    names = [c["name"] for c in LOGS]
    assert len(set(names)) == len(names) >= 15
    for case in LOGS:
        assert set(case) <= LOG_KEYS | {"expected", "xfail"}, case["name"]
    path = tmp_path / "good.csv"  # the shape the NYC cases break, one mistake each
    path.write_text(GOOD_LOG, "utf-8")
    assert read_log(path).n_clean == 1


@pytest.mark.parametrize("case", params(LOGS))
def test_bad_log_is_a_one_line_error(tmp_path: Path, case: dict[str, Any]) -> None:
    path = tmp_path / f"{case['name']}.csv"
    path.write_bytes(case["text"].encode(case.get("encoding", "utf-8")))
    options = {k: case[k] for k in ("schema", "columns", "date_format") if k in case}
    with pytest.raises(Exception) as info:  # noqa: B017 - the class is asserted below
        read_log(path, **options)
    assert isinstance(info.value, LogError), f"{info.type.__name__}: {info.value}"
    column = case["column"]
    assert info.value.column == column, str(info.value)
    assert_one_line(info.value, path, f"column {column!r}" if column else "", case["expected"])
