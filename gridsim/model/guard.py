"""The resource guard: refuse, before simulating, a run that would exhaust memory.

A scenario's cost is known before a single event runs: the county's units and staff follow
from the population and the grid sizes, and the expected number of latent issues from the
category rates, the population and the horizon. :func:`estimate` turns those counts into a
peak-memory estimate; :func:`check_run` (called by :func:`gridsim.simulate`) and
:func:`check_county` (called by ``build_county``, so ``gridsim describe`` too) refuse with a
one-line :class:`~gridsim.model.scenario.ScenarioError` naming the field that drives the
cost, when the estimate exceeds the bound.

The bound is the smaller of :data:`DEFAULT_MAX_MEMORY_GB` (a sane size for one run on a
laptop) and 80 % of the memory the machine has available now. A user with a bigger machine
raises the first with ``--max-memory GB`` on ``gridsim run``, ``sweep`` or ``describe``, or
with the environment variable ``GRIDSIM_MAX_MEMORY_GB`` (which the option sets, so worker
processes of a sweep see it too); the machine's own memory is never exceeded.

Calibration: ``tracemalloc`` peak of a whole :func:`gridsim.simulate` call (event log on,
seed 3) and, for the baseline county's long runs, the growth of the process's peak RSS;
measured on this project's shipped scenarios (``tests/test_guard.py`` checks the estimate
stays above the peak on a few sizes):

================================ ======== ======== ======= ======= ============= ===========
run                               issues   appeals  units   staff   peak (MB)     estimate
================================ ======== ======== ======= ======= ============= ===========
one_town, 30 days                    1310      672     258     942     2.0           36
one_town, 90 days                    3811     2201     258     942     3.6           42
one_town x10 population, 30 days    13222     7067    2355    9167    18.9           84
pingyi_baseline, 30 days            39007    20897    7432   30526    58            193
pingyi_baseline, 90 days           117293    69570    7432   30526   108            318
pingyi_baseline, 365 days          474201   292894    7432   30526   483 (RSS)      891
pingyi_baseline, 3650 days        4726090  2957598    7432   30526  3180 (RSS)     7737
================================ ======== ======== ======= ======= ============= ===========

Most issues never become an order: an everyday household need is noticed on a visit and
settled on the spot, or fades unnoticed. So an issue and an appeal are costed apart: an
issue holds its arrays, the noticing race's draws, the engine's per-issue reads and its row
of the issues table; an affected household its report draws; an appeal that opens an order
the order (a packed row once closed), its events (64 bytes each while the run goes on, then
columns) and its table rows; a staff member or unit its node of the networkx graph and its
rows. The expected appeals are the households' reports (each affected household reports
with its category's ``report_probability``, raised by ``party.trust_report_gain``) plus the
finds by staff that are not settled on the spot (at most one per issue; with visits on, a
share ``visits.on_spot_share`` of them is settled there). The constants
(:data:`BYTES_PER_ISSUE`, :data:`BYTES_PER_REPORT`, :data:`BYTES_PER_APPEAL`,
:data:`BYTES_PER_STAFF`, :data:`BYTES_PER_UNIT`, plus :data:`BYTES_FIXED`) were lowered
again after 0.4.0 (issue 13), when the engine began to read its per-issue values through
views of the drawn arrays and to pack closed orders and appeals into rows: past the fixed
part the estimate is 2.7 to 3.2 times the traced peaks above, and about twice the peak RSS
of a county-year (2.4 times a ten-year run's with its event log in memory), so it stays an
upper bound without refusing what fits (``tests/test_guard.py`` checks both). The 3650-day row's
peak is with the event log in memory; streamed to a file (``simulate(...,
events_path=...)``, ``benchmarks/long_horizon.py``) it is 1.8 GiB. With the default bound
of 8 GB the baseline county runs ten years.

Example:
    >>> from gridsim import load_scenario
    >>> e = estimate(load_scenario("scenarios/one_town.toml"), days=30)
    >>> 1000 < e.issues < 2000, e.units, e.memory_bytes < 100e6
    (True, 282, True)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from gridsim.model.calendar import HOURS_PER_YEAR
from gridsim.model.scenario import Scenario, ScenarioError
from gridsim.model.vocabulary import DESKS

#: The sane bound on one run's memory, in GB, unless raised (``--max-memory``).
DEFAULT_MAX_MEMORY_GB = 8.0
#: The environment variable that raises (or lowers) the bound; ``--max-memory`` sets it.
MEMORY_ENV = "GRIDSIM_MAX_MEMORY_GB"
#: Share of the machine's available memory one run may take.
AVAILABLE_SHARE = 0.8
#: Peak bytes per expected issue, per affected household (a possible report), per expected
#: appeal (an order, its events and rows), per staff member, per unit, per horizon hour and
#: category, and the fixed part (measured, with a margin: see the module docstring).
BYTES_PER_ISSUE = 600
BYTES_PER_REPORT = 150
BYTES_PER_APPEAL = 1_000
BYTES_PER_STAFF = 2_500
BYTES_PER_UNIT = 2_500
BYTES_PER_HOUR_AND_CATEGORY = 64
BYTES_FIXED = 30_000_000


@dataclass(frozen=True)
class Estimate:
    """What a run will hold before it starts.

    Attributes:
        units: organisational units (micro-grids, grids, desks, departments ...).
        staff: staff members.
        issues: expected latent issues over the horizon.
        memory_bytes: estimated peak memory of the run.
        driver: the scenario field (or option) that drives the largest part of the cost.
    """

    units: int
    staff: int
    issues: float
    memory_bytes: float
    driver: str


def _town_units(s: Scenario) -> tuple[float, float]:
    """Units and staff of the towns' grids, micro-grids and desks, as ``build_county`` makes."""
    units = staff = 0.0
    per_grid = sum(s.staffing.grid.values())
    per_microgrid = sum(s.staffing.microgrid.values())
    for town in s.county.towns:
        households = max(1.0, round(town.population / s.county.persons_per_household))
        per_mg = (
            s.grids.urban_households_per_microgrid
            if town.urban
            else s.grids.rural_households_per_microgrid
        )
        grids = max(1.0, round(households / s.grids.households_per_grid))
        # every grid has at least one micro-grid; rounding adds at most one per grid
        microgrids = max(grids, households / per_mg + grids)
        desks = sum(
            round(n * town.population / 100_000)
            for n in s.centre.town_desks_per_100k_residents.values()
        )
        units += 1 + grids + microgrids + len(DESKS)
        staff += grids * per_grid + microgrids * per_microgrid + max(desks, 1)
    return units, staff


def estimate(scenario: Scenario, days: float | None = None) -> Estimate:
    """Units, staff, expected issues and peak memory of a run, from the scenario alone.

    Args:
        scenario: a validated scenario.
        days: simulated days (``None``: ``meta.horizon_days``; ``0``: the county alone).

    Returns:
        The :class:`Estimate`.
    """
    s = scenario
    horizon_days = s.meta.horizon_days if days is None else days
    units, staff = _town_units(s)
    ex = s.grids.exclusive
    exclusive = ex.markets + ex.enterprises + ex.business_districts
    units += 1 + len(s.departments) + len(DESKS) + exclusive
    staff += exclusive * ex.workers_per_grid + sum(s.centre.county_desks.values())
    staff += sum(d.staff for d in s.departments)
    hours = horizon_days * 24.0
    per_rate = s.population / 1000 * hours / HOURS_PER_YEAR  # issues per unit of rate
    issues = sum(c.issues_per_1000_residents_per_year for c in s.categories) * per_rate
    # every affected household draws a possible report before most are filtered out
    households = (
        sum(c.issues_per_1000_residents_per_year * c.households_affected_mean for c in s.categories)
        * per_rate
    )
    parts = {
        "issues": issues * BYTES_PER_ISSUE
        + households * BYTES_PER_REPORT
        + _appeals_per_rate(s) * per_rate * BYTES_PER_APPEAL,
        "staff": staff * BYTES_PER_STAFF + units * BYTES_PER_UNIT,
        "horizon": hours * len(s.categories) * BYTES_PER_HOUR_AND_CATEGORY,
    }
    memory = BYTES_FIXED + sum(parts.values())
    return Estimate(int(units), int(staff), issues, memory, _driver(s, parts, days))


def _appeals_per_rate(s: Scenario) -> float:
    """Expected appeals per unit of ``issues_per_1000_residents_per_year``, summed over categories.

    A household reports with its category's probability, raised by the trust linked party
    members build (at most ``party.trust_report_gain`` of the gap to certain); staff find an
    issue at most once, and with visits on a share ``visits.on_spot_share`` of the finds is
    settled on the spot, without an order. Reports of an issue already settled never come,
    and those of one already known merge: both only lower the count.
    """
    gain = s.party.trust_report_gain if s.party.members_per_100_households > 0 else 0.0
    spot = s.visits.on_spot_share if s.proactive.enabled else 0.0
    total = 0.0
    for c in s.categories:
        p = c.report_probability + (1 - c.report_probability) * gain
        total += c.issues_per_1000_residents_per_year * (c.households_affected_mean * p + 1 - spot)
    return total


def _driver(s: Scenario, parts: dict[str, float], days: float | None) -> str:
    """The field a user would change to make the run smaller."""
    horizon = "--days" if days is not None else "meta.horizon_days"
    biggest = max(parts, key=lambda k: parts[k])
    if biggest == "horizon":
        return horizon
    if biggest == "staff":
        return _staff_driver(s)
    # Issues grow with the rates, the population and the horizon: name the most unusual.
    i, cat = max(enumerate(s.categories), key=lambda ic: ic[1].issues_per_1000_residents_per_year)
    rate_field = f"categories[{i}:{cat.key}].issues_per_1000_residents_per_year"
    horizon_days = s.meta.horizon_days if days is None else days
    j, wide = max(enumerate(s.categories), key=lambda ic: ic[1].households_affected_mean)
    unusual = {
        "county.population": s.population / 10_000_000,  # a large county: ~2 M residents
        horizon: horizon_days / 3650,  # ten years
        rate_field: cat.issues_per_1000_residents_per_year / 1000,  # one issue a resident
        # a hundred households touched by every issue
        f"categories[{j}:{wide.key}].households_affected_mean": wide.households_affected_mean / 100,
    }
    return max(unusual, key=lambda k: unusual[k])


def _staff_driver(s: Scenario) -> str:
    """The field behind a county with too many units or staff: the largest group of heads."""
    units, staff = _town_units(s)
    heads: dict[str, float] = {f"departments[{i}:{d.key}].staff": d.staff
                               for i, d in enumerate(s.departments)}  # fmt: skip
    heads.update({f"centre.county_desks.{k}": n for k, n in s.centre.county_desks.items()})
    heads["towns"] = staff + units
    field = max(heads, key=lambda k: heads[k])
    if field != "towns":
        return field
    # Many grid staff: unusual head counts, unusually small grids, or a large population.
    g = s.grids
    unusual = {
        "staffing.grid": sum(s.staffing.grid.values()) / 10,
        "staffing.microgrid": sum(s.staffing.microgrid.values()) / 10,
        "grids.households_per_grid": 100 / g.households_per_grid,
        "grids.rural_households_per_microgrid": 10 / g.rural_households_per_microgrid,
        "grids.urban_households_per_microgrid": 10 / g.urban_households_per_microgrid,
        "county.population": s.population / 10_000_000,
    }
    return max(unusual, key=lambda k: unusual[k])


def memory_bound() -> float:
    """The memory, in bytes, one run may use: the sane bound, or less if the machine has less.

    Raises:
        ScenarioError: ``GRIDSIM_MAX_MEMORY_GB`` is set but not a positive number.
    """
    return min(configured_bound(), available_memory() * AVAILABLE_SHARE)


def configured_bound() -> float:
    """The sane bound in bytes: ``GRIDSIM_MAX_MEMORY_GB`` (``--max-memory``) or the default."""
    text = os.environ.get(MEMORY_ENV, "")
    if not text:
        return DEFAULT_MAX_MEMORY_GB * 1e9
    try:
        gb = float(text)
    except ValueError:
        gb = math.nan  # reported just below, with the variable's name
    if not (math.isfinite(gb) and gb > 0):
        raise ScenarioError("", MEMORY_ENV, f"a positive number of GB, got {text!r}")
    return gb * 1e9


def available_memory() -> float:
    """Bytes of memory the machine can give now (Linux: MemAvailable; inf if unknown)."""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    sysconf = getattr(os, "sysconf", None)  # other Unixes; Windows has none
    if sysconf is not None and "SC_AVPHYS_PAGES" in getattr(os, "sysconf_names", {}):
        return float(sysconf("SC_AVPHYS_PAGES") * sysconf("SC_PAGE_SIZE"))
    return math.inf


def _bound_words(have: float) -> str:
    if have * 1e9 < configured_bound():
        return f"the {have:.3g} GB this machine can spare now"
    return f"the bound of {have:.3g} GB"


def _refuse(scenario: Scenario, e: Estimate, bound: float) -> None:
    need, have = e.memory_bytes / 1e9, bound / 1e9
    issues = f"{e.issues:.3g} issues, " if e.issues else ""
    raise ScenarioError(
        f"scenario {scenario.meta.name!r}",
        e.driver,
        f"a run that fits in memory: about {issues}{e.staff:.3g} staff and "
        f"{e.units:.3g} units need ~{need:.3g} GB, over {_bound_words(have)} "
        f"(make it smaller, or raise the bound with --max-memory GB / {MEMORY_ENV})",
    )


def check_days(days: float, field: str = "--days") -> None:
    """Refuse a run length that is not a finite positive number of days.

    Unlike ``meta.horizon_days`` (at most a century: a scenario describes a place for a
    while), a run may be longer, for statistics (``gridsim validate`` runs a calibrated
    town for decades); how long is bounded by memory, which :func:`check_run` checks.

    Example:
        >>> check_days(float("nan"))
        Traceback (most recent call last):
        ...
        gridsim.model.scenario.ScenarioError: --days: a finite positive number of days, got nan
    """
    if not (0 < days < math.inf):  # also false for NaN
        raise ScenarioError("", field, f"a finite positive number of days, got {days:g}")


def check_run(scenario: Scenario, days: float | None = None) -> Estimate:
    """Refuse a run whose estimated memory exceeds the bound; return the estimate.

    Args:
        scenario: a validated scenario.
        days: simulated days (``None``: ``meta.horizon_days``), as :func:`gridsim.simulate`.

    Raises:
        ScenarioError: ``days`` is not a sane horizon, or the warm-up is not shorter than it,
            or the run would not fit: one line naming the field that drives it.

    Example:
        >>> from gridsim import load_scenario
        >>> check_run(load_scenario("scenarios/one_town.toml"), days=2).units
        282
    """
    if days is not None:
        check_days(days)
        if scenario.meta.warmup_days >= days:
            raise ScenarioError(
                "",
                "meta.warmup_days",
                f"a warm-up shorter than --days {days:g} "
                f"(it is {scenario.meta.warmup_days:g} days)",
            )
    e = estimate(scenario, days)
    bound = memory_bound()
    if e.memory_bytes > bound:
        _refuse(scenario, e, bound)
    return e


def check_county(scenario: Scenario) -> Estimate:
    """Refuse a county (units and staff alone, no run) that would not fit in memory.

    Example:
        >>> from gridsim import load_scenario
        >>> check_county(load_scenario("scenarios/one_town.toml")).issues
        0.0
    """
    e = estimate(scenario, days=0.0)
    bound = memory_bound()
    if e.memory_bytes > bound:
        _refuse(scenario, e, bound)
    return e
