"""The noticing race (``gridsim.model.noticing``) and who runs it (``gridsim.model.attention``).

Each runner's clock is checked against its theory, with every other runner switched off:

* scheduled visits come round every ``cycle = HOURS_PER_MONTH / v`` hours (``v`` visits per
  household per month) at a uniform phase, and find the issue on the G-th visit, G geometric
  with the find probability q: the mean time to find is ``cycle × (1/2 + (1 − q)/q)``;
* a building leader's contacts and a linked party member's contacts notice an issue at a
  constant rate: the time to notice is exponential;
* the first clock wins: two exponential runners split the finds in proportion to their rates;
* an issue lapses after an exponential time, and no report comes after it.

The runners' rates are set directly (an :class:`Attention`), so that the tests check the race,
not the staffing that sets its rates; the plan of visits and contacts from staffing is checked
at the end against hand computations. Sizes are asserted within four standard errors.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import gridsim
from gridsim.model.appeals import draw_issues
from gridsim.model.attention import WEEKS_PER_MONTH, Attention, plan_attention
from gridsim.model.calendar import HOURS_PER_MONTH
from gridsim.model.capability import settle_probabilities
from gridsim.model.county import build_county
from gridsim.model.loader import with_overrides
from gridsim.model.noticing import draw_arrivals
from gridsim.model.scenario import Category
from gridsim.model.seeds import make_streams
from gridsim.model.vocabulary import BY_BUILDING_LEADER, BY_PARTY_MEMBER, BY_VISIT

ROOT = Path(__file__).resolve().parents[1]
BASE = gridsim.load_scenario(ROOT / "scenarios" / "one_town.toml")
#: Everything but the runner under test off: no reports (nor the trust that raises them), no
#: screening, no lapse, no prevention, no targeting, no effort response; every issue fully
#: visible.
SILENT: dict = {
    "categories.*.report_probability": 0.0,
    "party.trust_report_gain": 0.0,
    "categories.*.lapse_days": None,
    "categories.*.visit_detectability": 1.0,
    "proactive.find_probability": 1.0,
    "proactive.screening_find_probability": 0.0,
    "visits.prevention_per_visit": 0.0,
    "visits.target_no_smartphone": 1.0,
    "incentives.effort_elasticity": 0.0,
}
if "notice_detectability" in Category.model_fields:  # contacts' own visibility (if modelled)
    SILENT["categories.*.notice_detectability"] = 1.0
#: Four standard errors: a true statement fails about once in 16,000 runs.
Z = 4.0


def runners(n: int, visits=0.0, contacts=0.0, coverage=0.0, party_contacts=0.0) -> Attention:
    """The same runners' rates in every unit (per household per month)."""
    return Attention(
        visits=np.full(n, float(visits)),
        visit_hours=np.full(n, 0.25),
        contacts=np.full(n, float(contacts)),
        party_coverage=np.full(n, float(coverage)),
        party_contacts=np.full(n, float(party_contacts)),
        visitors=[[] for _ in range(n)],
        effort=1.0,
    )


def race(days: float, seed: int = 1, overrides: dict | None = None, **rates: float):
    """Run the race once: (scenario, issues with the race's outcome, arrivals, horizon)."""
    s = with_overrides(BASE, {**SILENT, **(overrides or {})})
    rngs = make_streams(np.random.SeedSequence(seed))
    county = build_county(s, rngs["county"], rngs["residents"])
    att = runners(county.n_units, **rates)
    horizon = days * 24.0
    issues = draw_issues(s, county, att, horizon, rngs)
    settle = settle_probabilities(s, county)
    arrivals = draw_arrivals(s, county, att, settle, issues, horizon, rngs)
    return s, issues, arrivals, horizon


def waits(issues, horizon: float, margin: float) -> np.ndarray:
    """Time to notice of the issues that arose at least ``margin`` hours before the horizon."""
    early = issues.arose < horizon - margin
    return (issues.found - issues.arose)[early]


def assert_mean(x: np.ndarray, expected: float, sd: float) -> None:
    """The sample mean is within Z standard errors of the expected mean."""
    assert abs(x.mean() - expected) < Z * sd / math.sqrt(len(x)), (x.mean(), expected)


# ------------------------------------------------------------------ visits: a round-robin cycle


def test_visits_find_an_issue_half_a_cycle_after_it_arises():
    v = 4.0  # visits per household per month: one every 182.5 hours
    cycle = HOURS_PER_MONTH / v
    _, issues, _, horizon = race(days=90, visits=v)
    w = waits(issues, horizon, cycle)
    assert len(w) > 3000
    assert (
        np.isfinite(w).all() and (issues.found_by[issues.arose < horizon - cycle] == BY_VISIT).all()
    )
    # q = 1: the first visit finds it, at a uniform phase of the cycle.
    assert (w >= 0).all() and (w < cycle).all()
    assert_mean(w, cycle / 2, cycle / math.sqrt(12))
    assert stats.kstest(w / cycle, "uniform").pvalue > 1e-3


def test_doubling_the_visits_halves_every_time_to_find():
    # Common random numbers: the same phase draw, a cycle half as long.
    v = 4.0
    _, once, _, horizon = race(days=60, visits=v)
    _, twice, _, _ = race(days=60, visits=2 * v)
    cycle = HOURS_PER_MONTH / v
    early = once.arose < horizon - cycle
    np.testing.assert_array_equal(once.arose, twice.arose)
    np.testing.assert_allclose(
        (twice.found - twice.arose)[early], (once.found - once.arose)[early] / 2, rtol=1e-9
    )


@pytest.mark.parametrize(
    ("v", "q"),
    [(4.0, 1.0), (8.0, 0.5), (16.0, 0.25)],
    ids=["q=1", "q=0.5", "q=0.25"],
)
def test_a_visit_finds_with_probability_q(v, q):
    """Time to find = (phase + G) cycles, G ~ Geometric(q) failures: mean (1/2 + (1-q)/q)."""
    cycle = HOURS_PER_MONTH / v
    # Leave out issues too recent for (almost) every find to land before the horizon.
    margin = cycle * (1 + (math.log(1e-7) / math.log(1 - q) if q < 1 else 0))
    _, issues, _, horizon = race(days=150, overrides={"proactive.find_probability": q}, visits=v)
    w = waits(issues, horizon, margin) / cycle
    assert np.isfinite(w).all() and len(w) > 1000
    sd = math.sqrt(1 / 12 + (1 - q) / q**2)  # phase and Geometric(q) variances
    assert_mean(w, 0.5 + (1 - q) / q, sd)
    # The share found on the first visit is q; the phase within the cycle stays uniform.
    first = np.floor(w) == 0
    assert abs(first.mean() - q) < Z * math.sqrt(q * (1 - q) / len(w)) + 1e-12
    assert stats.kstest(w % 1.0, "uniform").pvalue > 1e-3


# ------------------------------------------------------------------ contacts: exponential clocks


def test_building_leaders_notice_after_an_exponential_time_at_the_stated_rate():
    c, p = 30.0, 0.5  # contacts per household per month, notice probability per contact
    rate = c * p / HOURS_PER_MONTH  # per hour (visibility 1)
    _, issues, _, horizon = race(days=60, overrides={"noticing.notice_probability": p}, contacts=c)
    w = waits(issues, horizon, 15 / rate)
    assert len(w) > 1000
    assert (issues.found_by[issues.arose < horizon - 15 / rate] == BY_BUILDING_LEADER).all()
    assert_mean(w, 1 / rate, 1 / rate)
    assert stats.kstest(w * rate, "expon").pvalue > 1e-3


def test_only_linked_households_are_noticed_by_party_members():
    kappa, c, p = 0.4, 20.0, 0.5
    rate = c * p / HOURS_PER_MONTH
    _, issues, _, horizon = race(
        days=60,
        overrides={"party.notice_probability": p},
        coverage=kappa,
        party_contacts=c,
    )
    w = waits(issues, horizon, 15 / rate)
    found = np.isfinite(w)
    # A share kappa of households is linked; only their issues are noticed, at rate c p.
    assert abs(found.mean() - kappa) < Z * math.sqrt(kappa * (1 - kappa) / len(w))
    assert (issues.found_by[np.isfinite(issues.found)] == BY_PARTY_MEMBER).all()
    assert stats.kstest(w[found] * rate, "expon").pvalue > 1e-3


@pytest.mark.parametrize(
    ("leader", "party"),
    [(10.0, 10.0), (30.0, 10.0), (5.0, 40.0)],
    ids=["equal", "leaders-3x", "party-8x"],
)
def test_the_first_clock_wins_in_proportion_to_the_rates(leader, party):
    """Two exponential runners: P(leader first) = a / (a + b); the first time is Exp(a + b)."""
    a, b = leader / HOURS_PER_MONTH, party / HOURS_PER_MONTH  # notice probabilities 1
    overrides = {"noticing.notice_probability": 1.0, "party.notice_probability": 1.0}
    _, issues, _, horizon = race(
        days=45, overrides=overrides, contacts=leader, coverage=1.0, party_contacts=party
    )
    early = issues.arose < horizon - 15 / (a + b)
    by = issues.found_by[early]
    share = (by == BY_BUILDING_LEADER).mean()
    expected = a / (a + b)
    assert abs(share - expected) < Z * math.sqrt(expected * (1 - expected) / early.sum())
    assert set(np.unique(by)) == {BY_BUILDING_LEADER, BY_PARTY_MEMBER}
    w = (issues.found - issues.arose)[early]
    assert stats.kstest(w * (a + b), "expon").pvalue > 1e-3


def test_a_visit_cycle_races_an_exponential_clock():
    """Visits every C hours at a uniform phase against contacts at rate a:
    P(contact first) = 1 - (1 - exp(-aC)) / (aC)."""
    v, c = 2.0, 3.0
    cycle, a = HOURS_PER_MONTH / v, c / HOURS_PER_MONTH
    _, issues, _, horizon = race(
        days=90, overrides={"noticing.notice_probability": 1.0}, visits=v, contacts=c
    )
    early = issues.arose < horizon - cycle
    share = (issues.found_by[early] == BY_BUILDING_LEADER).mean()
    expected = 1 - (1 - math.exp(-a * cycle)) / (a * cycle)
    assert 0.2 < expected < 0.8  # both runners matter
    assert abs(share - expected) < Z * math.sqrt(expected * (1 - expected) / early.sum())


# ------------------------------------------------------------------ reports, lapse, on the spot


def test_a_lapsed_issue_never_produces_a_report_after_its_lapse_time():
    # Every household reports, late (the baseline's channel delays), and issues lapse fast.
    lapse_days = 2.0
    overrides = {
        "categories.*.report_probability": 1.0,
        "categories.*.lapse_days": lapse_days,
    }
    s, issues, arrivals, horizon = race(days=40, overrides=overrides)
    n_ch = len(s.channels)
    reports = arrivals.channel < n_ch
    assert reports.sum() > 1000
    assert (arrivals.filed[reports] < issues.lapse[arrivals.issue[reports]]).all()
    # The check bites: many households would have reported after the issue lapsed.
    late = np.isfinite(issues.first_report) & (issues.first_report >= issues.lapse)
    assert late.sum() > 100
    assert not np.isin(np.flatnonzero(late), arrivals.issue[reports]).any()
    # Lapse times are exponential with the category's mean.
    after = issues.lapse - issues.arose
    assert stats.kstest(after / (lapse_days * 24), "expon").pvalue > 1e-3


def test_a_find_settled_on_the_spot_never_becomes_an_order():
    overrides = {"visits.on_spot_share": 0.5, "categories.*.complexity": -30.0}
    s, issues, arrivals, horizon = race(days=30, overrides=overrides, visits=4.0)
    finds = np.isfinite(issues.found)
    spot = issues.on_spot
    # Every find could be settled by the micro-grid (complexity -30): about half on the spot.
    assert abs(spot[finds].mean() - 0.5) < Z * math.sqrt(0.25 / finds.sum())
    assert not np.isin(np.flatnonzero(spot), arrivals.issue).any()
    # The rest reach the platform the moment they are found, on the staff channel.
    rest = np.flatnonzero(finds & ~spot)
    at = {int(i): t for i, t in zip(arrivals.issue, arrivals.time, strict=True)}
    assert all(at[int(i)] == issues.found[i] for i in rest if issues.found[i] < horizon)
    assert (arrivals.channel == len(s.channels)).sum() == len(rest)


def test_staff_runners_leave_the_reports_unchanged():
    # Common random numbers: the household reports are drawn whatever the staff do.
    on = {"categories.*.report_probability": 0.5}
    _, quiet, _, _ = race(days=30, overrides=on)
    _, busy, _, _ = race(days=30, overrides=on, visits=4.0, contacts=10.0)
    np.testing.assert_array_equal(quiet.arose, busy.arose)
    np.testing.assert_array_equal(quiet.first_report, busy.first_report)
    staff = np.isfinite(busy.found)
    assert staff.any() and not np.isfinite(quiet.found).any()
    # A find by staff counts only if it comes before the first report.
    assert (busy.found[staff] < busy.first_report[staff]).all()


# ------------------------------------------------------------------ who runs: the plan


def test_targeting_keeps_a_units_visits_and_reorders_them():
    att = runners(2, visits=1.0)
    share = np.array([0.25, 0.25])
    unit = np.array([0, 0, 1, 1])
    no_phone = np.array([True, False, True, False])
    v = att.visits_for(unit, no_phone, share, 3.0)
    # norm = 0.25 * 3 + 0.75 = 1.5: without a phone 3 / 1.5 = 2, with one 1 / 1.5.
    np.testing.assert_allclose(v, [2.0, 2 / 3, 2.0, 2 / 3])
    assert 0.25 * v[0] + 0.75 * v[1] == pytest.approx(1.0)
    np.testing.assert_array_equal(att.visits_for(unit, no_phone, share, 1.0), np.ones(4))


def test_visits_and_contacts_are_planned_within_each_members_slack():
    # The leaders want ten visits a household a month: far more than their slack allows.
    s = with_overrides(
        BASE,
        {
            "incentives.effort_elasticity": 0.0,
            "proactive.visits_per_household_per_month.microgrid_leader": 10.0,
        },
    )
    rngs = make_streams(np.random.SeedSequence(3))
    county = build_county(s, rngs["county"], rngs["residents"])
    att = plan_attention(s, county)
    st, g = county.staff, county.graph.nodes
    role = s.roles["microgrid_leader"]
    slack = (role.hours_per_week - role.task_hours_per_week) * WEEKS_PER_MONTH
    cap = s.proactive.max_visit_time_share * slack
    leaders = [m for m in range(len(st)) if st.role[m] == "microgrid_leader"]
    assert len(leaders) > 50
    for m in leaders:
        uid = st.unit[m]
        hh = g[uid]["households"]
        hours = s.proactive.hours_per_visit + s.visits.travel_hours_per_visit * math.sqrt(
            hh / s.visits.rural_travel_reference_households
        )
        assert att.visit_hours[uid] == pytest.approx(hours)
        assert st.visit_hours_per_month[m] == pytest.approx(cap)
        assert st.visits_per_month[m] == pytest.approx(cap / hours)
    # Building leaders: contacts a week (twice for "five elders") spread over the households.
    assistant = s.roles["grid_assistant"]
    for uid in county.origin_units[:40]:
        node = g[int(uid)]
        if node["kind"] != "microgrid":
            continue
        expected = 0.0
        for m in node["staff"]:
            if st.role[m] == "grid_assistant":
                factor = s.noticing.five_elders_factor if "five_elders" in st.skills[m] else 1
                expected += assistant.contacts_per_week * factor * WEEKS_PER_MONTH
        assert att.contacts[uid] == pytest.approx(expected / node["households"])
