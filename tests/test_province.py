"""A province: its file, the documented derivation rules, and runs of all its counties.

The synthetic 20-county province (``scenarios/provinces/synthetic_20.toml``) is run once
serially and once on two processes (3 days each, no figures) and shared by the tests below;
tests that change an output directory make their own, on one city's counties.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import shutil
import sys
import types
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest

import gridsim
from gridsim.cli import main
from gridsim.model.guard import MEMORY_ENV
from gridsim.province.derive import (
    URBAN_SHARE_BOUNDS,
    county_scenario,
    county_seed,
    template_population,
    town_plan,
    towns_of,
    urban_shares,
)
from gridsim.province.file import County, load_province
from gridsim.province.run import ProvinceRunError, check_memory, plan_counties, run_province
from gridsim.province.summary import TOTALS, province_summary
from gridsim.province.tasks import TABLES

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = ROOT / "scenarios" / "provinces" / "synthetic_20.toml"
DAYS = 3
#: Columns that measure the computer, not the counties.
COST = ["cpu_s", "wall_s", "simulate_cpu_s", "simulate_wall_s", "peak_rss_mb", "worker"]
#: Each table's row id (the partitions are compared sorted by county, then this).
IDS = {"events": None, "appeals": "appeal", "orders": "order", "issues": "issue",
       "staff": "staff", "units": "unit", "backlog": "time"}  # fmt: skip


@pytest.fixture(scope="module")
def province():
    return load_province(SYNTHETIC)


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("province") / "serial"
    return out, run_province(SYNTHETIC, out, executor="serial", days=DAYS, figures=False)


@pytest.fixture(scope="module")
def process_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("province") / "processes"
    result = run_province(SYNTHETIC, out, executor="processes", workers=2, days=DAYS,
                          figures=False)  # fmt: skip
    return out, result


def read_table(out: Path | str, name: str) -> pd.DataFrame:
    """A province table from its partitions, in a fixed order."""
    table = pd.read_parquet(f"{out}/tables/{name}")
    for column in table.columns:  # categories depend on which partitions were read
        if isinstance(table[column].dtype, pd.CategoricalDtype):
            table[column] = table[column].astype(object)
    order = ["county"] + ([IDS[name]] if IDS[name] else [])
    return table.sort_values(order, kind="stable").reset_index(drop=True)


def copy_province(directory: Path, counties_text: str | None = None) -> Path:
    """The synthetic province in ``directory`` (its template by absolute path)."""
    source = SYNTHETIC.parent
    text = SYNTHETIC.read_text(encoding="utf-8").replace(
        '"../one_town.toml"', json.dumps((ROOT / "scenarios" / "one_town.toml").as_posix())
    )
    (directory / SYNTHETIC.name).write_text(text, encoding="utf-8")
    for name in ("synthetic_20_counties.csv", "synthetic_20_cities.csv"):
        shutil.copy(source / name, directory / name)
    if counties_text is not None:
        (directory / "synthetic_20_counties.csv").write_text(counties_text, encoding="utf-8")
    return directory / SYNTHETIC.name


# ------------------------------------------------------------------------ the file


def test_the_synthetic_province_loads(province):
    assert len(province.counties) == 20 and len(province.cities) == 3
    assert {c.city for c in province.counties} == {"north", "south", "east"}
    assert province.population == sum(c.population for c in province.cities if c.population)
    assert province.template.name == "one_town.toml" and province.template.is_file()
    assert province.settings.horizon_days == 30
    yunxi = next(c for c in province.counties if c.key == "south-yunxi")
    assert yunxi.towns == 2 and yunxi.urban_share is None


# ------------------------------------------------------------- the derivation rules


@pytest.mark.parametrize(
    ("population", "towns", "per_town", "expected"),
    [(892_276, None, 55_700, 16), (42_000, None, 15_000, 3), (20_000, None, 15_000, 1),
     (5_000, None, 15_000, 1), (22_500, None, 15_000, 2), (20_000, 7, 15_000, 7)],
)  # fmt: skip
def test_towns_are_the_table_s_or_population_over_residents_per_town(
    population, towns, per_town, expected
):
    county = County(key="a", name="A", city="x", kind="county", population=population,
                    towns=towns)  # fmt: skip
    assert towns_of(county, per_town) == expected


def test_urban_shares_add_up_to_each_city_s_urban_residents(province):
    shares = urban_shares(province)
    for city in province.cities:
        members = [c for c in province.counties if c.city == city.key]
        urban = sum(shares[c.key] * c.population for c in members)
        if city.urban_population is not None:
            assert urban == pytest.approx(city.urban_population, abs=1.0), city.key
    low, high = URBAN_SHARE_BOUNDS
    for county in province.counties:
        if county.urban_share is not None:
            assert shares[county.key] == county.urban_share  # given shares are kept
        else:
            assert low <= shares[county.key] <= high


def test_urban_shares_follow_the_kind_s_prior_within_a_city(province):
    shares = urban_shares(province)
    prior = province.rules.urban_share_prior
    # north: one k for the city, so the shares keep the priors' ratios
    assert shares["north-dongcheng"] / shares["north-shanyang"] == pytest.approx(
        prior.district / prior.county
    )
    # east has no urban_population: the priors themselves (east-dongguan's 0.9 is given)
    assert shares["east-haibin"] == prior.city and shares["east-baima"] == prior.county
    assert shares["east-dongguan"] == 0.9


@pytest.mark.parametrize(("target", "expected"), [(1_000_000, 0.98), (10, 0.02)])
def test_unreachable_urban_figures_clip_the_shares(tmp_path, target, expected):
    path = copy_province(tmp_path)
    cities = tmp_path / "synthetic_20_cities.csv"
    cities.write_text(cities.read_text().replace("140000", str(target)))
    shares = urban_shares(load_province(path))
    assert shares["north-dongcheng"] == expected and shares["north-qinghe"] == expected


@pytest.mark.parametrize("population", [1, 2, 7, 18_000, 42_001, 892_276])
@pytest.mark.parametrize("towns", [1, 2, 3, 16, 50])
@pytest.mark.parametrize("share", [0.0, 0.02, 0.31, 0.5, 0.97, 1.0])
def test_town_plan_is_exact_never_empty_and_streets_first(population, towns, share):
    plan = town_plan(population, towns, share)
    sizes = [n for n, _ in plan]
    assert sum(sizes) == population
    assert min(sizes) >= 1
    assert len(plan) == min(towns, population)
    urban = [u for _, u in plan]
    assert urban == sorted(urban, reverse=True)  # streets first
    if 0 < round(share * len(plan)) < len(plan):
        streets = sum(n for n, u in plan if u)
        assert abs(streets - population * share) <= len(plan)


def test_a_county_s_scenario_has_its_population_name_and_households(province):
    shares = urban_shares(province)
    for county in province.counties:
        s = county_scenario(province, county, shares)
        assert s.meta.name == county.name and s.county.name_zh == county.name_zh
        assert sum(t.population for t in s.county.towns) == county.population
        assert len(s.county.towns) == towns_of(county, province.rules.residents_per_town)
        assert s.county.persons_per_household == 2.7


def _dept_staff(s: gridsim.Scenario) -> int:
    return sum(d.staff for d in s.departments)


@pytest.mark.parametrize("ratio", [0.5, 1, 2, 4])
def test_department_staff_and_desks_follow_the_population_ratio(tmp_path, province, ratio):
    base = template_population(province)
    assert base == 30_000
    rows = f"key,name,city,kind,population\nx-a,A,north,county,{int(base * ratio)}\n"
    p = load_province(copy_province(tmp_path, rows))
    derived = county_scenario(p, p.counties[0])
    template = gridsim.load_scenario(p.template)
    if ratio >= 1:  # about ratio times the staff (below, one officer at least per department)
        assert _dept_staff(derived) == pytest.approx(_dept_staff(template) * ratio, rel=0.1)
    for d, t in zip(derived.departments, template.departments, strict=True):
        assert d.staff == max(1, round(t.staff * ratio)), d.name
        assert d.sunk_staff == min(d.staff, round(t.sunk_staff * ratio)), d.name
    desks = derived.centre.county_desks
    for desk, heads in template.centre.county_desks.items():
        assert desks[desk] == max(1, round(heads * ratio))
    t_ex, d_ex = template.grids.exclusive, derived.grids.exclusive
    assert d_ex.markets == max(1, round(t_ex.markets * ratio))
    assert d_ex.enterprises == max(1, round(t_ex.enterprises * ratio))
    assert d_ex.business_districts == 0 == t_ex.business_districts


def test_a_tiny_county_keeps_one_officer_per_department(tmp_path):
    p = load_province(copy_province(tmp_path, "key,name,city,kind,population\nx,X,north,county,"
                                              "600\n"))  # fmt: skip
    s = county_scenario(p, p.counties[0])
    assert all(d.staff >= 1 for d in s.departments)
    assert all(heads >= 1 for heads in s.centre.county_desks.values())
    assert s.grids.exclusive.markets == 1 and s.grids.exclusive.enterprises == 1


def test_the_county_seed_is_keyed_not_ordered():
    a, b = county_seed(7, "north-hexi"), county_seed(7, "south-yunxi")
    assert a.generate_state(4).tolist() == county_seed(7, "north-hexi").generate_state(4).tolist()
    assert a.generate_state(4).tolist() != b.generate_state(4).tolist()
    assert a.generate_state(4).tolist() != county_seed(8, "north-hexi").generate_state(4).tolist()


def test_shuffled_rows_give_every_county_the_same_numbers(tmp_path, serial_run):
    lines = (SYNTHETIC.parent / "synthetic_20_counties.csv").read_text().splitlines()
    body = lines[1:]
    random.Random(5).shuffle(body)
    assert body != lines[1:]
    path = copy_province(tmp_path, "\n".join([lines[0], *body]) + "\n")
    shuffled = run_province(path, tmp_path / "out", executor="serial", days=DAYS, figures=False)
    base = serial_run[1].counties.drop(columns=COST + ["fingerprint"]).set_index("key")
    again = shuffled.counties.drop(columns=COST + ["fingerprint"]).set_index("key")
    pd.testing.assert_frame_equal(again.loc[base.index], base)


# --------------------------------------------------------------------------- runs


def test_serial_and_processes_give_the_same_counties(serial_run, process_run):
    serial, processes = serial_run[1].counties, process_run[1].counties
    assert serial["key"].tolist() == sorted(c.key for c in load_province(SYNTHETIC).counties)
    pd.testing.assert_frame_equal(serial.drop(columns=COST), processes.drop(columns=COST))
    assert serial["appeals"].gt(0).all()
    assert process_run[1].computed == 20 and process_run[1].resumed == 0


@pytest.mark.parametrize("name", TABLES)
def test_serial_and_processes_give_the_same_tables(serial_run, process_run, name):
    a, b = read_table(serial_run[0], name), read_table(process_run[0], name)
    assert len(a) > 0 and a.equals(b)
    assert set(a["county"]) == set(serial_run[1].counties["key"])


def test_every_table_is_partitioned_by_county(serial_run):
    out, result = serial_run
    for name in TABLES:
        for key in result.counties["key"]:
            assert (out / "tables" / name / f"county={key}" / "part-0.parquet").is_file()
    for name in ("province.json", "counties.parquet", "counties.csv", "summary.csv", ".gridsim"):
        assert (out / name).is_file()
    assert len(list((out / "counties").glob("*.json"))) == 20
    assert not list(out.rglob("*.partial"))
    manifest = json.loads((out / "province.json").read_text())
    assert manifest["counties"] == 20 and manifest["days"] == DAYS and manifest["computed"] == 20
    pd.testing.assert_frame_equal(pd.read_parquet(out / "counties.parquet"), result.counties)


def test_a_county_s_partition_is_exactly_its_own_run(serial_run, province, tmp_path):
    out, result = serial_run
    county = next(c for c in province.counties if c.key == "south-yunxi")
    events = tmp_path / "events.parquet"
    alone = gridsim.simulate(county_scenario(province, county),
                             seed=county_seed(province.settings.seed, county.key), days=DAYS,
                             events_path=events)  # fmt: skip
    for name in TABLES:
        part = pd.read_parquet(out / "tables" / name / f"county={county.key}" / "part-0.parquet")
        if name == "events":
            expected = pd.read_parquet(events)
        else:
            getattr(alone, name).to_parquet(tmp_path / f"{name}.parquet", index=False)
            expected = pd.read_parquet(tmp_path / f"{name}.parquet")
        assert len(part) > 0
        pd.testing.assert_frame_equal(part, expected, check_dtype=False, obj=name)
    row = result.counties.set_index("key").loc[county.key]
    for name, value in alone.kpis.items():
        assert row[name] == pytest.approx(value, nan_ok=True), name


def test_no_events_leaves_the_event_log_out(tmp_path):
    out = tmp_path / "out"
    run_province(SYNTHETIC, out, executor="serial", days=2, cities=["east"], events=False,
                 figures=False)  # fmt: skip
    assert not (out / "tables" / "events").exists()
    assert (out / "tables" / "orders" / "county=east-baima" / "part-0.parquet").is_file()
    assert "events" not in json.loads((out / "province.json").read_text())["tables"]


def test_a_rerun_resumes_and_a_change_recomputes(tmp_path):
    out = tmp_path / "out"
    first = run_province(SYNTHETIC, out, executor="serial", days=2, cities=["east"],
                         figures=False)  # fmt: skip
    orders = read_table(out, "orders")
    assert (first.computed, first.resumed) == (6, 0)
    again = run_province(SYNTHETIC, out, executor="serial", days=2, cities=["east"],
                         figures=False)  # fmt: skip
    assert (again.computed, again.resumed) == (0, 6)
    pd.testing.assert_frame_equal(again.counties, first.counties)
    assert read_table(out, "orders").equals(orders)
    # a summary whose fingerprint does not match is recomputed, the rest kept
    stale = out / "counties" / "east-jinxi.json"
    summary = json.loads(stale.read_text())
    stale.write_text(json.dumps({**summary, "fingerprint": "0" * 16}))
    (out / "counties" / "east-baima.json").write_text("{not json")
    third = run_province(SYNTHETIC, out, executor="serial", days=2, cities=["east"],
                         figures=False)  # fmt: skip
    assert (third.computed, third.resumed) == (2, 4)
    assert read_table(out, "orders").equals(orders)
    # other days: every county again, and the tables follow
    longer = run_province(SYNTHETIC, out, executor="serial", days=3, cities=["east"],
                          figures=False)  # fmt: skip
    assert (longer.computed, longer.resumed) == (6, 0)
    assert longer.counties["appeals"].sum() > first.counties["appeals"].sum()
    assert len(read_table(out, "orders")) > len(orders)


def test_cities_choose_the_counties(serial_run, tmp_path):
    out = tmp_path / "out"
    south = run_province(SYNTHETIC, out, executor="serial", days=DAYS, cities=["south"],
                         figures=False)  # fmt: skip
    assert set(south.counties["city"]) == {"south"} and len(south.counties) == 7
    parts = {p.name for p in (out / "tables" / "orders").iterdir()}
    assert parts == {f"county={k}" for k in south.counties["key"]}
    everyone = serial_run[1].counties.set_index("key")
    pd.testing.assert_frame_equal(
        south.counties.set_index("key").drop(columns=COST),
        everyone.loc[south.counties["key"]].drop(columns=COST),
    )


def test_an_unknown_city_is_one_line_and_writes_nothing(tmp_path):
    with pytest.raises(ProvinceRunError, match=r"^--cities: cities of synthetic_20.toml .*'west'$"):
        run_province(SYNTHETIC, tmp_path / "out", executor="serial", days=2, cities=["west"],
                     figures=False)  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_a_foreign_directory_is_refused_and_untouched(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_bytes(b"my notes\n")
    with pytest.raises(ProvinceRunError, match="not a gridsim province directory"):
        run_province(SYNTHETIC, out, executor="serial", days=2, cities=["east"], figures=False)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_bytes() == b"my notes\n"


def test_the_province_summary_is_the_counties_totals_and_weighted_means(serial_run):
    counties, summary = serial_run[1].counties, serial_run[1].summary.set_index("metric")
    assert summary.loc["population", "total"] == counties["population"].sum() == 530_000
    for name in TOTALS:
        if name in counties:
            assert summary.loc[name, "total"] == pytest.approx(counties[name].sum()), name
            assert np.isnan(summary.loc[name, "weighted_mean"])
    checked = 0
    for name in summary.index:
        if name in counties and name not in (*TOTALS, *COST, "population"):
            values = counties[name].astype(float)
            ok = values.notna()
            assert summary.loc[name, "counties"] == ok.sum(), name
            if not ok.any():
                assert np.isnan(summary.loc[name, "weighted_mean"]), name
                continue
            expected = np.average(values[ok], weights=counties["population"][ok])
            assert summary.loc[name, "weighted_mean"] == pytest.approx(expected), name
            assert summary.loc[name, "min"] == values[ok].min()
            assert summary.loc[name, "max"] == values[ok].max()
            checked += 1
    assert checked > 20
    assert summary.loc["on_time_rate", "counties"] == 20
    assert province_summary(counties).equals(serial_run[1].summary)


def test_the_command_runs_a_province(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["province", str(SYNTHETIC), "--out", str(out), "--days", "2", "--cities",
                 "east", "--executor", "serial", "--no-figures", "--quiet"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0 and captured.err == ""
    assert captured.out.startswith("6 counties, 150,000 residents")
    assert "6 counties computed, 0 kept" in captured.out
    assert len(pd.read_csv(out / "counties.csv")) == 6


# ------------------------------------------------------------------------- memory


def test_memory_is_checked_against_the_guard_s_bound(monkeypatch, province, tmp_path):
    tasks = plan_counties(province, tmp_path, days=2)
    monkeypatch.setenv(MEMORY_ENV, "64")
    assert check_memory(tasks, 2) > 0
    monkeypatch.setenv(MEMORY_ENV, "0.01")
    with pytest.raises(ProvinceRunError) as caught:
        check_memory(tasks, 1)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"county {tasks[0].key}: a county that fits in memory")
    assert tasks[0].key == "north-dongcheng"  # the largest is checked first
    with pytest.raises(ProvinceRunError, match="county north-dongcheng"):
        run_province(province, tmp_path / "out", executor="serial", days=2, figures=False)
    assert not (tmp_path / "out").exists()


def test_the_command_refuses_a_county_over_the_memory_bound(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(MEMORY_ENV, "64")  # restored after the test (--max-memory sets it)
    out = tmp_path / "out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["province", str(SYNTHETIC), "--out", str(out), "--days", "2",
                     "--workers", "2", "--no-figures", "--max-memory", "0.05"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("gridsim: county north-dongcheng: a county that fits in memory"), err
    assert printed.getvalue() == "" and not out.exists()


def test_the_command_refuses_an_unknown_city_on_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["province", str(SYNTHETIC), "--out", str(out), "--cities", "south,west",
                 "--executor", "serial", "--no-figures"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "'west'" in err, err
    assert not out.exists()


# ---------------------------------------------------------------- fsspec outputs


def test_a_file_url_works_with_processes(tmp_path, serial_run):
    url = (tmp_path / "out").as_uri()
    assert url.startswith("file://")
    result = run_province(SYNTHETIC, url, executor="processes", workers=2, days=DAYS,
                          cities=["east"], figures=False)  # fmt: skip
    assert result.computed == 6
    everyone = serial_run[1].counties.set_index("key")
    pd.testing.assert_frame_equal(
        result.counties.set_index("key").drop(columns=COST),
        everyone.loc[result.counties["key"]].drop(columns=COST),
    )
    orders = read_table(tmp_path / "out", "orders")
    base = read_table(serial_run[0], "orders")
    assert orders.equals(base[base["county"].str.startswith("east-")].reset_index(drop=True))
    assert len(orders) > 0
    assert (tmp_path / "out" / "counties.csv").is_file()
    assert not Path("file:").exists()


def test_a_memory_url_works_serially(serial_run):
    url = "memory://gridsim-test/province"
    fs = fsspec.filesystem("memory")
    try:
        result = run_province(SYNTHETIC, url, executor="serial", days=DAYS, cities=["east"],
                              figures=False)  # fmt: skip
        assert result.computed == 6
        assert fs.exists("/gridsim-test/province/tables/orders/county=east-baima/part-0.parquet")
        with fs.open("/gridsim-test/province/counties.parquet", "rb") as f:
            pd.testing.assert_frame_equal(pd.read_parquet(f), result.counties)
        again = run_province(SYNTHETIC, url, executor="serial", days=DAYS, cities=["east"],
                             figures=False)  # fmt: skip
        assert again.computed == 0
    finally:
        fs.rm("/gridsim-test", recursive=True)


def test_figures_of_a_file_url_go_to_its_directory(tmp_path, monkeypatch):
    drawn: list[Path] = []
    fake = types.ModuleType("gridsim.province.figures")
    fake.draw_province_figures = lambda *args, **kwargs: drawn.extend(  # type: ignore[attr-defined]
        a for a in [*args, *kwargs.values()] if isinstance(a, Path)
    )
    monkeypatch.setitem(sys.modules, "gridsim.province.figures", fake)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    run_province(SYNTHETIC, out.as_uri(), executor="serial", days=2, cities=["east"])
    assert drawn == [out / "figures"]


def test_a_narrower_rerun_leaves_no_partitions_of_the_earlier_run(tmp_path):
    out = tmp_path / "out"
    run_province(SYNTHETIC, out, executor="serial", days=2, cities=["east", "south"],
                 figures=False)  # fmt: skip
    east = run_province(SYNTHETIC, out, executor="serial", days=3, cities=["east"],
                        events=False, figures=False)  # fmt: skip
    keys = set(east.counties["key"])
    assert set(read_table(out, "orders")["county"]) == keys
    assert {p.stem for p in (out / "counties").glob("*.json")} == keys
    assert not (out / "tables" / "events").exists()
    # the tables now are exactly this run's: a fresh run of the same gives the same
    fresh = run_province(SYNTHETIC, tmp_path / "fresh", executor="serial", days=3,
                         cities=["east"], events=False, figures=False)  # fmt: skip
    assert read_table(out, "orders").equals(read_table(tmp_path / "fresh", "orders"))
    pd.testing.assert_frame_equal(
        east.counties.drop(columns=COST), fresh.counties.drop(columns=COST)
    )


def test_a_memory_url_is_refused_with_worker_processes(tmp_path):
    fs = fsspec.filesystem("memory")
    with pytest.raises(ProvinceRunError, match="^--out: a location every worker can reach"):
        run_province(SYNTHETIC, "memory://gridsim-test/refused", executor="processes", workers=2,
                     days=2, cities=["east"], figures=False)  # fmt: skip
    assert not fs.exists("/gridsim-test/refused")
