"""Bad province files, as data: each is one line naming the file and the field, exit 2.

A case is a row of :data:`CASES`: which file of a small valid province it replaces (the
province TOML, its counties CSV or its cities CSV), the new content (``None``: the file is
missing) and a fragment the message must contain (the field, and what was expected).
Every case is checked twice: by :func:`gridsim.province.file.load_province` (a one-line
:class:`ProvinceFileError`) and by ``gridsim province`` (exit status 2, one line on stderr,
no traceback, no output directory, the user's files untouched).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from gridsim.cli import main
from gridsim.province.file import ProvinceFileError, load_province

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = (ROOT / "scenarios" / "one_town.toml").as_posix()

TOML = f"""[province]
name = "A small province"
template = "{TEMPLATE}"
counties = "counties.csv"
cities = "cities.csv"
seed = 7
"""
COUNTIES = "key,name,city,kind,population,towns,urban_share\na-one,One,a,county,30000,,\n"
CITIES = "key,name,urban_population\na,A City,\n"
FILES = {"toml": "province.toml", "counties": "counties.csv", "cities": "cities.csv"}


def _row(cells: str) -> str:
    """The counties table with one row of ``cells`` after the valid one."""
    return COUNTIES + cells + "\n"


#: (file replaced, its new content or None for missing, fragment the one line must contain)
CASES: list[tuple[str, str | bytes | None, str]] = [
    ("toml", None, "no such file"),
    ("toml", "[province\nname = 1\n", "valid TOML"),
    ("toml", "", "a [province] table"),
    ("toml", TOML + 'colour = "red"\n', "province.colour"),
    ("toml", TOML.replace(f'template = "{TEMPLATE}"\n', ""), "province.template"),
    ("toml", TOML.replace(TEMPLATE, "nowhere.toml"), "province.template: an existing file"),
    ("toml", TOML.replace('"counties.csv"', '"nowhere.csv"'), "province.counties: an existing"),
    ("toml", TOML.replace('"cities.csv"', '"nowhere.csv"'), "province.cities: an existing"),
    ("toml", TOML.replace("seed = 7", "seed = -1"), "province.seed"),
    ("toml", TOML + "[rules]\nresidents_per_town = 10\n", "rules.residents_per_town"),
    ("toml", TOML + "[rules]\nurban_share_prior = { town = 0.5 }\n", "urban_share_prior.town"),
    ("counties", COUNTIES.replace("urban_share", "colour"), "column 'colour'"),
    ("counties", "key,name,city,kind\na-one,One,a,county\n", "column 'population'"),
    (
        "counties",
        "key,name,city,kind,population,name\na-one,One,a,county,30000,Uno\n",
        "column 'name': a column named once",
    ),
    ("counties", _row("a-two,Two,a,village,30000,,"), "row 3 (a-two).kind"),
    ("counties", _row("a-two,Two,a,county,-5,,"), "row 3 (a-two).population"),
    ("counties", _row("a-two,Two,a,county,0,,"), "row 3 (a-two).population"),
    ("counties", _row("a-two,Two,a,county,many,,"), "row 3 (a-two).population"),
    ("counties", _row("a-two,Two,a,county,1.5,,"), "row 3 (a-two).population"),
    ("counties", _row("a-one,Again,a,county,20000,,"), "key 'a-one'"),
    ("counties", _row("a two,Two,a,county,20000,,"), "row 3 (a two).key"),
    ("counties", _row("A-Two,Two,a,county,20000,,"), "row 3 (A-Two).key"),
    ("counties", _row("a-two,Two,b,county,20000,,"), "a-two.city: a city of the cities table"),
    ("counties", _row("a-two,Two,a,county,20000,,1.5"), "row 3 (a-two).urban_share"),
    ("counties", _row("a-two,Two,a,county,20000,0,"), "row 3 (a-two).towns"),
    ("counties", _row(",Two,a,county,20000,,"), "row 3 (no key).key"),
    ("counties", "", "column 'key'"),
    ("counties", "key,name,city,kind,population\n", "at least one county row"),
    ("counties", _row("a-two,Tw\xf6,a,county,20000,,").encode("latin-1"), "a UTF-8 CSV file"),
    ("counties", _row("a-two,Two,a,county,20000,,,extra"), "row 3: 7 cells"),
    ("counties", _row("a-two,Two,a,county,20000"), "row 3: 7 cells"),
    ("cities", "key,name,colour\na,A,red\n", "column 'colour'"),
    ("cities", "key,name,urban_population\na,A,-3\n", "row 2 (a).urban_population"),
    ("cities", CITIES + "a,A again,\n", "key 'a'"),
]


def _write_province(directory: Path, target: str, content: str | bytes | None) -> Path:
    """The small valid province in ``directory`` with ``target`` replaced by ``content``."""
    texts = {"toml": TOML, "counties": COUNTIES, "cities": CITIES}
    for name, text in texts.items():
        path = directory / FILES[name]
        if name != target:
            path.write_text(text, encoding="utf-8")
        elif isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content, encoding="utf-8")
    return directory / FILES["toml"]


def test_the_small_province_is_valid(tmp_path):
    province = load_province(_write_province(tmp_path, "", None))
    assert [c.key for c in province.counties] == ["a-one"]
    assert province.counties[0].population == 30000 and province.counties[0].towns is None
    assert province.city("a").name == "A City"


def _cases() -> list:
    return [pytest.param(*case, id=f"{case[0]}-{i}") for i, case in enumerate(CASES)]


@pytest.mark.parametrize(("target", "content", "fragment"), _cases())
def test_a_bad_province_file_is_one_line_naming_file_and_field(tmp_path, target, content, fragment):
    path = _write_province(tmp_path, target, content)
    with pytest.raises(ProvinceFileError) as caught:
        load_province(path)
    message = str(caught.value)
    assert "\n" not in message
    assert FILES[target] in message, message
    assert fragment in message, message


@pytest.mark.parametrize(("target", "content", "fragment"), _cases())
def test_the_command_refuses_a_bad_province_file(tmp_path, capsys, target, content, fragment):
    inputs = tmp_path / "in"
    inputs.mkdir()
    path = _write_province(inputs, target, content)
    before = {p.name: p.read_bytes() for p in inputs.iterdir()}
    out = tmp_path / "out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["province", str(path), "--out", str(out), "--executor", "serial",
                     "--days", "2", "--no-figures"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("gridsim: "), err
    assert fragment in err and FILES[target] in err and "Traceback" not in err
    assert printed.getvalue() == ""
    assert not out.exists(), "output written for a refused province"
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before


def test_a_template_that_is_not_a_scenario_is_refused_before_any_output(tmp_path, capsys):
    (tmp_path / "template.toml").write_text('[meta]\nname = "x"\nhorizon_days = "long"\n')
    path = _write_province(tmp_path, "toml", TOML.replace(TEMPLATE, "template.toml"))
    out = tmp_path / "out"
    code = main(["province", str(path), "--out", str(out), "--executor", "serial",
                 "--no-figures"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "template.toml: meta.horizon_days: a template scenario" in err, err
    assert not out.exists()


PROVINCE = Path(__file__).resolve().parents[1] / "scenarios" / "provinces" / "synthetic_20.toml"


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        (["--days", "-1"], "--days: a finite positive number of days, got -1"),
        (["--days", "nan"], "--days: a finite positive number of days, got nan"),
        (["--days", "x"], "--days: a number of days, got 'x'"),
        (["--workers", "0"], "--workers: a positive integer, got 0"),
        (["--cities", "mars"], "--cities: cities of synthetic_20.toml (east, north, south)"),
        (["--executor", "processes", "--address", "tcp://h:1"], "--address: none with the"),
    ],
)
def test_a_bad_option_is_one_line_and_writes_nothing(tmp_path, capsys, option, fragment):
    out = tmp_path / "out"
    try:  # argparse's own refusals (a bad --days) exit from inside the parser
        code = main(["province", str(PROVINCE), "--out", str(out), "--quiet", *option])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err and "Traceback" not in err, err
    assert not out.exists()
