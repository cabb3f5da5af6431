"""Tests for gridsim.model.scenario and .loader: loading, one-line errors, overrides."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

import gridsim
from gridsim.model.loader import json_schema, load_scenario, scenario_from_dict, with_overrides
from gridsim.model.scenario import Scenario, ScenarioError

SHIPPED = ("one_town.toml", "pingyi_baseline.toml")


@pytest.fixture(scope="session")
def repo() -> Path:
    return Path(__file__).parents[1]


@pytest.fixture(scope="session")
def one_town(repo: Path) -> Scenario:
    return load_scenario(repo / "scenarios" / "one_town.toml")


@pytest.fixture()
def one_town_data(repo: Path) -> dict:
    with open(repo / "scenarios" / "one_town.toml", "rb") as f:
        return tomllib.load(f)


# ------------------------------------------------------------------ good files, missing files


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenarios_load(repo: Path, name: str) -> None:
    s = load_scenario(repo / "scenarios" / name)
    assert isinstance(s, Scenario)
    assert s.population > 0
    assert s.categories and s.channels and s.departments
    assert s.meta.warmup_days < s.meta.horizon_days


def test_shipped_scenario_contents(repo: Path) -> None:
    town = load_scenario(repo / "scenarios" / "one_town.toml")
    county = load_scenario(repo / "scenarios" / "pingyi_baseline.toml")
    assert town.population == 30_000 and len(town.county.towns) == 1
    assert county.population == 892_000 and len(county.county.towns) == 14
    assert town.category("land_dispute").desk == "mediation"
    with pytest.raises(KeyError):
        town.category("no_such_category")


def test_load_accepts_str_path(repo: Path) -> None:
    s = load_scenario(str(repo / "scenarios" / "one_town.toml"))
    assert s.meta.horizon_days == 90


def test_package_exports_the_loader() -> None:
    assert gridsim.load_scenario is load_scenario
    assert gridsim.ScenarioError is ScenarioError


@pytest.mark.parametrize(
    "make", [lambda d: d / "no_such_scenario.toml", lambda d: d], ids=["absent", "directory"]
)
def test_missing_file_is_a_scenario_error(tmp_path: Path, make) -> None:
    path = make(tmp_path)  # a file that does not exist, then a directory
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "no such file" in message
    assert "\n" not in message
    assert info.value.field == ""


def test_scenario_error_format() -> None:
    err = ScenarioError("a.toml", "meta.seed", "a whole number")
    assert str(err) == "a.toml: meta.seed: a whole number"
    assert (err.path, err.field, err.expected) == ("a.toml", "meta.seed", "a whole number")
    assert str(ScenarioError(Path("b.toml"), "", "valid TOML")) == "b.toml: valid TOML"


def test_in_memory_dict_errors_name_the_source(one_town_data: dict) -> None:
    del one_town_data["county"]["towns"][0]["population"]
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(one_town_data)
    assert str(info.value).startswith("<scenario>: county.towns[0:Wutai].population: ")
    assert "missing" in info.value.expected


# ------------------------------------------------------------------ immutability


def test_scenario_is_immutable(one_town: Scenario) -> None:
    with pytest.raises(ValidationError):
        one_town.meta = one_town.meta  # type: ignore[misc]
    with pytest.raises(ValidationError):
        one_town.meta.horizon_days = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        one_town.categories[0].report_probability = 0.0  # type: ignore[misc]
    with pytest.raises(ValidationError):
        one_town.county.towns[0].population = 1  # type: ignore[misc]
    assert one_town.meta.horizon_days == 90
    assert one_town.county.towns[0].population == 30_000


def test_scenario_containers_are_immutable(repo: Path) -> None:
    s = load_scenario(repo / "scenarios" / "one_town.toml")  # a private copy: this mutates it
    with pytest.raises((TypeError, AttributeError, ValidationError)):
        s.categories.append(s.categories[0])
    with pytest.raises((TypeError, AttributeError, ValidationError)):
        s.roles.clear()


# ------------------------------------------------------------------ overrides


def test_override_dotted_path(one_town: Scenario) -> None:
    s = with_overrides(one_town, {"meta.horizon_days": 30, "grids.households_per_grid": 300})
    assert s.meta.horizon_days == 30
    assert s.grids.households_per_grid == 300
    assert one_town.meta.horizon_days == 90  # the original is untouched
    assert one_town.grids.households_per_grid == 400
    assert s is not one_town and isinstance(s, Scenario)


def test_override_list_record_by_key(one_town: Scenario) -> None:
    s = with_overrides(one_town, {"categories.land_dispute.urgent_share": 0.25})
    assert s.category("land_dispute").urgent_share == 0.25
    assert s.category("labour_dispute").urgent_share == 0.0
    assert s.category("organised_crime").urgent_share == 0.5
    assert one_town.category("land_dispute").urgent_share == 0.0


def test_override_town_by_name(one_town: Scenario) -> None:
    s = with_overrides(one_town, {"county.towns.Wutai.population": 45_000})
    assert s.population == 45_000


def test_override_star(one_town: Scenario) -> None:
    s = with_overrides(one_town, {"categories.*.report_probability": 0.55})
    assert {c.report_probability for c in s.categories} == {0.55}
    assert len(s.categories) == len(one_town.categories)
    assert len({c.report_probability for c in one_town.categories}) > 1


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("meta.horizon_dayz", "meta.horizon_dayz"),
        ("grids.households_per_grd", "grids.households_per_grd"),
        ("no_such_section.value", "no_such_section"),
        ("categories.no_such_category.urgent_share", "no_such_category"),
        ("meta.name.first", "meta.name"),
    ],
)
def test_override_unknown_path(one_town: Scenario, path: str, named: str) -> None:
    with pytest.raises(ScenarioError) as info:
        with_overrides(one_town, {path: 1})
    err = info.value
    message = str(err)
    assert named in err.field, message
    assert path.startswith(err.field.split("[")[0]), message
    assert message.startswith("<overrides>: ")
    assert "\n" not in message


def test_override_source_names_the_error(one_town: Scenario) -> None:
    with pytest.raises(ScenarioError) as info:
        with_overrides(one_town, {"meta.horizon_dayz": 1}, source="sweep.toml")
    assert str(info.value).startswith("sweep.toml: meta.horizon_dayz: ")


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        (
            {"categories.land_dispute.urgent_share": 1.5},
            "categories[9:land_dispute].urgent_share",
            "less than or equal to 1",
        ),
        ({"categories.*.report_probability": 1.5}, "report_probability", "less than or equal"),
        ({"meta.warmup_days": 365}, "meta.warmup_days", "shorter than horizon_days"),
        ({"channels.app.share": 0.9}, "channels", "shares summing to 1"),
        ({"categories.land_dispute.department": "tax_bureau"}, "department", "natural_resources"),
    ],
)
def test_override_revalidates(
    one_town: Scenario, overrides: dict, field: str, expected: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        with_overrides(one_town, overrides)
    assert field in info.value.field, str(info.value)
    assert expected in info.value.expected, str(info.value)


def test_override_record_with_scalar_is_a_scenario_error(one_town: Scenario) -> None:
    with pytest.raises(ScenarioError):
        with_overrides(one_town, {"county.towns.Wutai": 5})


# ------------------------------------------------------------------ known validation gaps


def _load_modified(data: dict, edit) -> None:
    edited = copy.deepcopy(data)
    edit(edited)
    scenario_from_dict(edited, "edited.toml")


def test_duplicate_department_keys_rejected(one_town_data: dict) -> None:
    with pytest.raises(ScenarioError, match="departments"):
        _load_modified(one_town_data, lambda d: d["departments"].append(dict(d["departments"][0])))


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["satisfaction"].__setitem__("intercept", float("nan")),
        lambda d: d["meta"].__setitem__("horizon_days", float("inf")),
    ],
    ids=["nan_intercept", "inf_horizon"],
)
def test_non_finite_numbers_rejected(one_town_data: dict, edit) -> None:
    with pytest.raises(ScenarioError):
        _load_modified(one_town_data, edit)


def test_numeric_string_rejected(one_town_data: dict) -> None:
    with pytest.raises(ScenarioError):
        _load_modified(
            one_town_data, lambda d: d["county"]["towns"][0].__setitem__("population", "30000")
        )


# ------------------------------------------------------------------ schema and volume


def test_json_schema() -> None:
    schema = json_schema()
    assert isinstance(schema, dict)
    props = schema["properties"]
    assert {"categories", "meta", "channels", "county"} <= set(props)
    category = schema["$defs"]["Category"]
    assert "issues_per_1000_residents_per_year" in category["properties"]
    assert "issues_per_1000_residents_per_year" in category["required"]


@pytest.mark.parametrize("name", SHIPPED)
def test_baseline_appeal_volume(repo: Path, name: str) -> None:
    """Requirement: the county files at least 0.2 appeals per resident per year."""
    s = load_scenario(repo / "scenarios" / name)
    pop = s.population
    appeals = sum(
        c.issues_per_1000_residents_per_year
        * c.households_affected_mean
        * c.report_probability
        * pop
        / 1000
        for c in s.categories
    )
    assert appeals >= 0.2 * pop, f"{appeals:.0f} appeals a year for {pop} residents"


# ------------------------------------------------------------------ physical bounds (#12)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("county.towns.*.population", 10**12, "less than or equal to"),
        ("grids.households_per_grid", 1e-9, "at least one household"),
        ("grids.rural_households_per_microgrid", 0.5, "at least one household"),
        ("staffing.grid.grid_worker", 9_200_000_000_000_000_000, "less than or equal to"),
        ("departments.*.staff", 10**9, "less than or equal to"),
        ("centre.county_desks.petition", 10**9, "less than or equal to"),
        ("categories.*.issues_per_1000_residents_per_year", 1e9, "less than or equal to"),
        ("meta.horizon_days", 1e5, "less than or equal to"),
        ("county.persons_per_household", 0.01, "greater than or equal to 1"),
        ("roles.grid_worker.wage_yuan_per_year", 1e308, "less than or equal to"),
        ("categories.*.households_affected_mean", 1e300, "less than or equal to"),
    ],
)
def test_values_past_a_physical_bound_are_one_line_errors(one_town, path, value, expected):
    """Before: all accepted, and the run grew until memory ran out."""
    with pytest.raises(ScenarioError) as info:
        with_overrides(one_town, {path: value})
    assert expected in info.value.expected
    assert "\n" not in str(info.value)


def test_toml_nested_thousands_deep_is_one_line(tmp_path: Path) -> None:
    """Before: RecursionError from tomllib."""
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(ScenarioError, match="nested") as info:
        load_scenario(path)
    assert info.value.file == str(path)


def test_a_town_of_one_resident_runs(one_town) -> None:
    """Before: ValueError 'Probabilities contain NaN' (a town of no households)."""
    s = with_overrides(one_town, {"county.towns.*.population": 1})
    r = gridsim.simulate(s, seed=1, days=2)
    assert r.kpis["appeals"] == len(r.appeals)


@pytest.mark.parametrize("bad", ["of\nfice", "tab\there", "esc\x1b[31m", "line\u2028sep"])
def test_keys_with_control_characters_stay_on_one_line(one_town_data, bad) -> None:
    data = copy.deepcopy(one_town_data)
    data["calendars"][bad] = data["calendars"]["office"]
    data["categories"][0]["key"] = bad
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, f"file\n{bad}.toml")
    message = str(info.value)
    assert message.isprintable(), message
    assert "\\" in message  # escaped, not dropped


def test_scenario_error_survives_pickling() -> None:
    """A sweep's worker process hands errors back by pickle; before, unpickling raised
    TypeError and the sweep died with BrokenProcessPool and a traceback."""
    import pickle

    err = ScenarioError("x.toml", "county.population", "at most 100000000")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ScenarioError and str(back) == str(err)
    assert (back.file, back.field, back.expected) == (err.file, err.field, err.expected)
