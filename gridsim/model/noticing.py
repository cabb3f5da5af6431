"""The noticing race: who learns of a latent issue first, and what happens on the spot.

A latent issue in a household can surface several ways, each a clock started when it arises
(time unit: hours):

* **a report**: each affected household reports with the category's probability, raised by
  the trust linked party members build (``party.trust_report_gain``), through a channel it
  can use (no app without a smartphone), after the channel's delay;
* **a building or lane leader** notices it (contacts per household × notice probability ×
  the category's visibility);
* **a linked party member** notices it, if the household is linked (党员联户);
* **a scheduled visit** reaches the household: visits come in a round-robin cycle
  (households per visitor ÷ visits the visitor's hours allow), each finding the issue with
  probability ``find_probability × visibility``; households without a smartphone can be
  visited first (``visits.target_no_smartphone``);
* **a periodic screening** (摸排) finds it;
* it **lapses**: the household copes and nobody ever hears of it (``lapse_days``).

The first clock to fire wins. What staff or party members find is settled on the spot when
the micro-grid team could settle it (its capability) and it can be done there
(``visits.on_spot_share``; party members mediate minor disputes with
``party.mediate_on_spot``); the rest becomes a work order that starts at the micro-grid.
The proactive share, the time to notice and the share settled on the spot are measured from
the race, never set. Every draw has its own stream and is made whether or not it is used,
so that a policy change never shifts another draw (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np

from gridsim.model.appeals import Issues
from gridsim.model.attention import Attention
from gridsim.model.calendar import HOURS_PER_MONTH
from gridsim.model.county import County
from gridsim.model.scenario import Scenario
from gridsim.model.vocabulary import (
    BY_BUILDING_LEADER,
    BY_PARTY_MEMBER,
    BY_REPORT,
    BY_SCREENING,
    BY_VISIT,
    GRID,
    MICROGRID,
    NOT_FOUND,
)

#: Category kinds a party member may mediate on the spot.
DISPUTE_KINDS = ("dispute", "family_dispute")


@dataclass
class Arrivals:
    """Appeals in the order the platform sees them (sorted by ``time``).

    ``time`` is when the order reaches the platform's dispatcher (filed + channel's dispatch
    delay); ``filed`` is when the resident filed it. ``channel`` indexes the scenario's
    channels; ``len(channels)`` means a find by staff or a party member.
    """

    time: np.ndarray
    filed: np.ndarray
    issue: np.ndarray
    channel: np.ndarray
    no_smartphone: np.ndarray

    def __len__(self) -> int:
        return len(self.time)


def draw_arrivals(
    s: Scenario,
    county: County,
    attention: Attention,
    settle: np.ndarray,
    issues: Issues,
    horizon: float,
    rngs: dict[str, np.random.Generator],
) -> Arrivals:
    """Run the noticing race for every issue; return the appeals and finds, in time order.

    Sets the race's outcome on ``issues`` (``first_report``, ``no_smartphone``, ``found``,
    ``found_by``, ``lapse``, ``on_spot``, ``finder``).
    """
    filed, issue_of, channel, no_phone = _household_reports(s, county, attention, issues, rngs)
    found, by = _staff_clocks(s, county, attention, issues, rngs["noticing"])
    first_report = np.full(len(issues), np.inf)
    np.minimum.at(first_report, issue_of, filed)
    issues.first_report = first_report
    first = (found < first_report) & (found < issues.lapse) & (found < horizon)
    issues.found = np.where(first, found, np.inf)
    issues.found_by = np.where(first, by, np.where(np.isfinite(first_report), BY_REPORT, NOT_FOUND))
    _credit_finders(county, attention, issues, np.flatnonzero(first), rngs["proactive"])
    issues.on_spot = first & _settled_on_spot(s, county, settle, issues, by, rngs["noticing"])

    # Reports after the issue lapsed never come; an issue settled on the spot is not reported.
    keep = (filed < horizon) & (filed < issues.lapse[issue_of]) & ~issues.on_spot[issue_of]
    filed, issue_of, channel, no_phone = filed[keep], issue_of[keep], channel[keep], no_phone[keep]
    finds = np.flatnonzero(first & ~issues.on_spot)
    n_ch = len(s.channels)
    filed = np.concatenate([filed, issues.found[finds]])
    issue_of = np.concatenate([issue_of, finds])
    channel = np.concatenate([channel, np.full(len(finds), n_ch)])
    no_phone = np.concatenate([no_phone, issues.no_smartphone[finds]])
    dispatch = np.array([c.dispatch_hours for c in s.channels] + [0.0])
    time = filed + dispatch[channel]
    order = np.lexsort((np.arange(len(time)), time))
    keep = order[time[order] < horizon]
    return Arrivals(
        time=time[keep],
        filed=filed[keep],
        issue=issue_of[keep],
        channel=channel[keep],
        no_smartphone=no_phone[keep],
    )


def _household_reports(
    s: Scenario,
    county: County,
    attention: Attention,
    issues: Issues,
    rngs: dict[str, np.random.Generator],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every affected household's report (filed time, issue, channel, no smartphone)."""
    rng = rngs["reports"]
    n_ch = len(s.channels)
    hh_issue = np.repeat(np.arange(len(issues)), issues.households)
    m = len(hh_issue)
    origin = issues.origin[hh_issue]
    no_phone = rng.random(m) < county.no_smartphone[origin]
    p = np.array([c.report_probability for c in s.categories])[issues.category[hh_issue]]
    # Trust built by linked party members raises the will to report (群众自治 under 党建引领).
    p = p + (1 - p) * s.party.trust_report_gain * attention.party_coverage[origin]
    reports = rng.random(m) < p
    shares = np.array([c.share for c in s.channels])
    channel = rng.choice(n_ch, m, p=shares)
    needs_phone = np.array([c.needs_smartphone for c in s.channels])
    blocked = needs_phone[channel] & no_phone
    # Without a smartphone the app is out of reach: some turn to another channel, others
    # never report.
    switch = blocked & (rng.random(m) < s.residents.no_smartphone_report_factor)
    other = np.flatnonzero(~needs_phone)
    if len(other):
        channel[switch] = other[
            rng.choice(len(other), switch.sum(), p=shares[other] / shares[other].sum())
        ]
    else:
        switch[:] = False
    reports &= ~(blocked & ~switch)
    delay = np.empty(m)
    for c, ch in enumerate(s.channels):
        idx = np.flatnonzero(channel == c)
        delay[idx] = ch.delay.sample(rng, len(idx))
    filed = issues.arose[hh_issue] + delay
    starts = np.cumsum(issues.households) - issues.households
    issues.no_smartphone = no_phone[starts] if m else np.zeros(0, dtype=bool)
    keep = reports
    return filed[keep], hh_issue[keep], channel[keep], no_phone[keep]


def _staff_clocks(
    s: Scenario, county: County, att: Attention, issues: Issues, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """When staff or a party member would first notice each issue, and who (FOUND_BY code)."""
    n = len(issues)
    origin, arose = issues.origin, issues.arose
    visible = np.array([c.visit_detectability for c in s.categories])[issues.category]
    casual = np.array(
        [c.visit_detectability if c.notice_detectability is None else c.notice_detectability
         for c in s.categories]
    )[issues.category]  # fmt: skip
    lapse_h = np.array([(c.lapse_days or np.inf) * 24 for c in s.categories])[issues.category]
    # One fixed block of draws per issue, made whatever the policy (common random numbers).
    u_phase, u_visit, e_contact, u_link, e_party, u_screen, e_lapse = (
        rng.random(n), rng.random(n), rng.exponential(1.0, n), rng.random(n),
        rng.exponential(1.0, n), rng.random(n), rng.exponential(1.0, n),
    )  # fmt: skip
    issues.lapse = arose + e_lapse * lapse_h
    with np.errstate(divide="ignore", invalid="ignore"):
        # Visits: the household's turn comes round every `cycle` hours; each visit finds the
        # issue with probability q, so the find is on the G-th visit, G ~ Geometric(q).
        v = att.visits_for(origin, issues.no_smartphone, county.no_smartphone,
                           s.visits.target_no_smartphone)  # fmt: skip
        q = np.clip(s.proactive.find_probability * visible, 0.0, 1.0)
        cycle = HOURS_PER_MONTH / v
        tries = _failures(u_visit, q)
        by_visit = np.where((v > 0) & (q > 0), arose + (u_phase + tries) * cycle, np.inf)
        rate = att.contacts[origin] * s.noticing.notice_probability * casual / HOURS_PER_MONTH
        by_leader = np.where(rate > 0, arose + e_contact / rate, np.inf)
        linked = u_link < att.party_coverage[origin]
        rate = att.party_contacts[origin] * s.party.notice_probability * casual / HOURS_PER_MONTH
        by_party = np.where(linked & (rate > 0), arose + e_party / rate, np.inf)
    by_screening = _screening(s, county, issues, visible, u_screen)
    found, winner = _first_clock([by_visit, by_leader, by_party, by_screening])
    codes = np.array([BY_VISIT, BY_BUILDING_LEADER, BY_PARTY_MEMBER, BY_SCREENING])
    return found, codes[winner]


def _first_clock(clocks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """When the first clock fires and which, as argmin over the stacked clocks would pick it.

    The first of equal times wins; a NaN, which argmin takes as the least, wins unless an
    earlier clock is NaN too. Done clock by clock, without stacking them.
    """
    found = clocks[0]
    winner = np.zeros(len(found), dtype=np.int64)
    for j, clock in enumerate(clocks[1:], start=1):
        earlier = (clock < found) | (np.isnan(clock) & ~np.isnan(found))
        winner[earlier] = j
        found = np.where(earlier, clock, found)
    return found, winner


def _screening(
    s: Scenario, county: County, issues: Issues, visible: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """When a periodic screening (摸排) would first find each issue (inf: never)."""
    q = s.proactive.screening_find_probability * visible
    if not s.proactive.enabled or s.proactive.screening_find_probability == 0:
        return np.full(len(issues), np.inf)
    period = s.proactive.screening_interval_days * 24
    phase_of = np.zeros(county.n_units)
    phase_of[county.origin_units] = (county.origin_units * 0.618034 % 1.0) * period
    offset = phase_of[issues.origin]
    first = offset + np.ceil((issues.arose - offset) / period) * period
    return np.where(q > 0, first + _failures(u, q) * period, np.inf)


def _failures(u: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Tries that fail before the first success, Geometric(q) by inversion of uniforms ``u``.

    Inversion keeps one uniform per issue, so a higher ``q`` only brings a find earlier.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.floor(np.log(np.clip(u, 1e-300, 1)) / np.log1p(-np.clip(q, 0, 1 - 1e-12)))


def _settled_on_spot(
    s: Scenario,
    county: County,
    settle: np.ndarray,
    issues: Issues,
    by: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Which finds are settled there and then (no work order).

    A visit or screening find is settled on the spot when the finder's unit could settle it
    (the same capability draw the engine would use there) and it can be done there
    (``visits.on_spot_share``); a party member mediates a minor dispute on the spot with
    ``party.mediate_on_spot`` when the micro-grid team could settle it. A building leader
    reports.
    """
    n = len(issues)
    u_spot = rng.random(n)
    unit_of = np.asarray(county.staff.unit, dtype=np.int64)
    unit = np.where(issues.finder >= 0, unit_of[np.maximum(issues.finder, 0)] if len(unit_of)
                    else issues.origin, issues.origin)  # fmt: skip
    level = np.where(county.grid_of[unit] == unit, GRID, MICROGRID)
    can = issues.u_settle[np.arange(n), level] < settle[unit, issues.category]
    kinds = np.array([c.kind in DISPUTE_KINDS for c in s.categories], dtype=bool)
    visit = (by == BY_VISIT) | (by == BY_SCREENING)
    party = (by == BY_PARTY_MEMBER) & kinds[issues.category]
    spot = np.where(visit, u_spot < s.visits.on_spot_share,
                    party & (u_spot < s.party.mediate_on_spot))  # fmt: skip
    return can & spot


def _credit_finders(
    county: County, att: Attention, issues: Issues, found: np.ndarray, rng: np.random.Generator
) -> None:
    """Pick the staff member credited with each find by staff, vectorised.

    A visit or screening find goes to one of the unit's visitors in proportion to the visits
    they make to each household (a grid worker covers a whole grid, a micro-grid leader one
    micro-grid); a building leader's find to one of the unit's building leaders; a party
    member's to nobody (party members are residents, not staff). One uniform draw per find.
    """
    u = rng.random(len(found))
    if not len(found):
        return
    staff, n_units = county.staff, county.n_units
    households = np.array([max(h, 1) for _, h in county.graph.nodes(data="households")], float)
    unit = np.asarray(staff.unit, dtype=np.int64)
    per_household = np.asarray(staff.visits_per_month) / households[unit]
    # A unit's staff, in id order, are its members in the order they were hired.
    members = np.argsort(unit, kind="stable")
    fallback = (members, np.bincount(unit, minlength=n_units))
    notice = np.array(["notice" in d for d in staff.duties], dtype=bool)
    noticers = (members[notice[members]], np.bincount(unit[notice], minlength=n_units))
    # Visitors who make no visits (weights all 0) credit nobody.
    flat, lengths = _ragged(att.visitors)
    team = np.repeat(np.arange(len(lengths)), lengths)
    visits = np.bincount(team, weights=per_household[flat] > 0, minlength=len(lengths)) > 0
    visitors = (flat[visits[team]], np.where(visits, lengths, 0))
    by_leader = issues.found_by[found] == BY_BUILDING_LEADER
    by_party = issues.found_by[found] == BY_PARTY_MEMBER
    origin = issues.origin[found]
    for teams, weighted, mask in (
        (visitors, True, ~by_leader & ~by_party),
        (noticers, False, by_leader),
        (fallback, False, ~by_leader & ~by_party),
    ):
        todo = mask & (issues.finder[found] < 0)
        if not todo.any():
            continue
        table, cdf = _choice_table(teams[0], teams[1], per_household if weighted else None)
        rows = origin[todo]
        pick = (cdf[rows] < u[todo, None]).sum(axis=1)
        chosen = table[rows, np.minimum(pick, table.shape[1] - 1)]
        issues.finder[found[todo]] = chosen


def _ragged(teams: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Teams as one array of their members, one team after the other, and their sizes."""
    lengths = np.fromiter(map(len, teams), dtype=np.int64, count=len(teams))
    flat = np.fromiter(chain.from_iterable(teams), dtype=np.int64, count=int(lengths.sum()))
    return flat, lengths


def _choice_table(
    flat: np.ndarray, lengths: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per team (see :func:`_ragged`): its members padded with -1, the cumulative choices.

    Teams of one size are done together: the cumulative sums and totals of each row are the
    ones a team-by-team ``np.cumsum(w) / w.sum()`` gives, to the last bit.
    """
    width = int(lengths.max(initial=0)) or 1
    members = np.full((len(lengths), width), -1, dtype=np.int64)
    cdf = np.ones((len(lengths), width))
    starts = np.cumsum(lengths) - lengths
    for size in np.unique(lengths[lengths > 0]).tolist():
        rows = np.flatnonzero(lengths == size)
        team = flat[starts[rows, None] + np.arange(size)]
        w = np.ones(team.shape) if weights is None else weights[team]
        members[rows, :size] = team
        cdf[rows, :size] = np.cumsum(w, axis=1) / w.sum(axis=1, keepdims=True)
    return members, cdf
