"""Tests for gridsim.kpi_registry: every KPI a run computes is described, consistently."""

from __future__ import annotations

import pytest

import gridsim
from gridsim.kpi_registry import FAMILIES, KPIS, headline_kpis, kpi, summary_kpis


@pytest.fixture(scope="module")
def run_kpis() -> dict[str, float]:
    scenario = gridsim.load_scenario("scenarios/one_town.toml")
    return gridsim.simulate(scenario, seed=3, days=4).kpis


def test_every_kpi_of_a_run_has_a_record(run_kpis):
    missing = []
    for name in run_kpis:
        try:
            kpi(name)
        except KeyError:
            missing.append(name)
    assert not missing, f"KPIs without a record in gridsim/data/kpis.toml: {missing}"


def test_role_utilisation_is_a_family_member(run_kpis):
    roles = [n for n in run_kpis if n.startswith("utilisation_") and n not in KPIS]
    assert roles, "the scenario has staff roles"
    for name in roles:
        record = kpi(name)
        assert record.member == name.removeprefix("utilisation_") and record.share


def test_shares_are_fractions_shown_as_percentages(run_kpis):
    for name, value in run_kpis.items():
        record = kpi(name)
        assert record.share == (record.unit == "share"), name
        assert record.share == record.format.endswith("%"), name
        if record.share and value == value:
            assert 0.0 <= value <= 1.0, name


@pytest.mark.parametrize("record", [*KPIS.values(), *FAMILIES.values()], ids=lambda k: k.name)
def test_record_is_complete(record):
    assert record.direction in (-1, 0, 1)
    assert record.unit and record.label_en and record.label_zh
    assert record.definition.endswith(".")
    format(1234.5, record.format)  # a valid format spec


def test_directions_follow_the_meaning():
    assert kpi("response_time_mean_h").direction == -1
    assert kpi("on_time_rate").direction == 1
    assert kpi("appeals").direction == 0
    times = [k for k in KPIS.values() if k.name.startswith(("response_time", "resolution_time"))]
    assert all(k.direction == -1 and k.unit == "h" for k in times)
    assert all(k.direction == -1 for k in KPIS.values() if k.unit == "yuan")


def test_summary_and_headline_sets_are_ordered_without_gaps():
    for chosen, position in ((summary_kpis(), "summary"), (headline_kpis(), "headline")):
        assert [getattr(k, position) for k in chosen] == list(range(1, len(chosen) + 1))
    assert summary_kpis()[0].summary_label == "appeals filed"
    assert headline_kpis()[0].name == "response_time_mean_h"


def test_unknown_names_are_refused():
    with pytest.raises(KeyError):
        kpi("no_such_kpi")
    with pytest.raises(KeyError):
        kpi("utilisation_")
