"""Analytic checks: gridsim against queueing theory, run by ``gridsim validate`` and the tests.

Each check builds a scenario that reduces the county to a textbook system, simulates
independent replications, and asks whether the theoretical value lies inside the 95 %
confidence interval of the replication means:

* **Erlang C** — one micro-grid with ``c`` always-on handlers, Poisson appeals and
  exponential handling is an M/M/c queue: mean wait and probability of waiting.
* **Jackson** — micro-grid → grid → town (→ county) with escalation probabilities and
  exponential handling redrawn at each level is an open Jackson network: mean wait at each
  level, for a three-level ladder and for a four-level hierarchy with several units a level.
* **Little's law** — time-average backlog equals order rate × mean time in system.
* **Poisson arrivals** — inter-arrival times pass a Kolmogorov–Smirnov test for the
  exponential distribution.

Time unit: hours; rates are per hour.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from gridsim.analysis import queueing as theory
from gridsim.analysis.stats import mean_ci
from gridsim.model.calendar import HOURS_PER_YEAR
from gridsim.model.kpis import littles_law_gap
from gridsim.model.loader import scenario_from_dict
from gridsim.model.records import RunResult
from gridsim.model.scenario import Scenario
from gridsim.model.seeds import replication_seed
from gridsim.model.simulate import simulate

POPULATION = 1000


def _logit(p: float) -> float:
    """Log-odds of ``p``, clipped to the capability model's certainty bound (±30)."""
    if p <= 0:
        return -30.0
    if p >= 1:
        return 30.0
    return float(np.clip(np.log(p / (1 - p)), -30.0, 30.0))


@dataclass(frozen=True)
class Check:
    """One row of the validation table."""

    check: str
    quantity: str
    theory: float
    estimate: float
    ci_low: float
    ci_high: float
    passed: bool


def queue_scenario(
    arrival_rate: float,
    service_rates: list[float],
    servers: list[int],
    escalation: list[float] | None = None,
    days: float = 100.0,
    warmup_days: float = 10.0,
    microgrids_per_grid: int = 1,
    grids: int = 1,
) -> Scenario:
    """A county reduced to a ladder of 1–4 levels (micro-grid, grid, town, county).

    One town of ``grids`` grids of ``microgrids_per_grid`` micro-grids each, appeals spread
    evenly over the micro-grids, one county department.

    Args:
        arrival_rate: appeals per hour (Poisson), county-wide.
        service_rates: exponential handling rate per level (per hour), one per level used.
        servers: handlers per unit at each level (always on, fully available).
        escalation: probability of escalating after each level but the last.
        days: horizon in days.
        warmup_days: observations before this are dropped.
        microgrids_per_grid: micro-grids under each grid.
        grids: grids in the town.

    Example:
        >>> s = queue_scenario(2.4, [1.0], [3])
        >>> s.capability.level_base["microgrid"]  # the micro-grid settles every order
        30.0
    """
    levels = len(service_rates)
    escalation = list(escalation or [])
    if len(servers) != levels or len(escalation) != levels - 1:
        raise ValueError("need one service rate and server count per level, one fewer escalation")
    names = ("microgrid", "grid", "town", "county")[:levels]
    # Each level settles an order with probability 1 - escalation, independently of the
    # levels below: exactly the routing of an open Jackson network.
    level_base = {name: 30.0 for name in ("microgrid", "grid", "town", "county")}
    for k, name in enumerate(names[:-1]):
        level_base[name] = _logit(1 - escalation[k])
    base = 1.0 / service_rates[0]
    factors = {"microgrid": 1.0, "grid": 1.0, "town": 1.0, "county": 1.0}
    for k, name in enumerate(names):
        factors[name] = service_rates[0] / service_rates[k]
    rate = arrival_rate * HOURS_PER_YEAR * 1000 / POPULATION
    town_desk = 100_000 * (servers[2] if levels > 2 else 1) / POPULATION
    data = {
        "meta": {"name": "queueing check", "horizon_days": days, "warmup_days": warmup_days},
        "county": {
            "name": "check",
            "persons_per_household": 1.0,
            "towns": [{"name": "T", "population": POPULATION}],
        },
        "grids": {
            "households_per_grid": POPULATION / grids,
            "rural_households_per_microgrid": POPULATION / grids / microgrids_per_grid,
            "urban_households_per_microgrid": POPULATION / grids / microgrids_per_grid,
        },
        "roles": {"handler": {"calendar": "always", "availability": 1.0, "female_share": 1.0}},
        "staffing": {
            "grid": {"handler": servers[1] if levels > 1 else 1},
            "microgrid": {"handler": servers[0]},
            "exclusive_grid_role": "handler",
            "town_desk_role": "handler",
            "county_desk_role": "handler",
            "department_role": "handler",
        },
        "departments": [{"key": "dept", "staff": servers[3] if levels > 3 else 1}],
        "centre": {
            "town_desks_per_100k_residents": {"grid_management": town_desk},
            "county_desks": {"grid_management": 1},
        },
        "residents": {"no_smartphone_share": 0.0},
        "channels": [
            {
                "key": "walk_in",
                "share": 1.0,
                "delay": {"distribution": "fixed", "mean": 1e-9},
            }
        ],
        "categories": [
            {
                "key": "check",
                "issues_per_1000_residents_per_year": rate,
                "report_probability": 1.0,
                "handling": {"distribution": "exponential", "mean": base},
                "department": "dept",
                "time_limit_hours": 1e9,
            }
        ],
        "levels": {"handling_factor": factors},
        "capability": {"level_base": level_base},
        "escalation": {"policy": "strict_ladder", "attempt_fraction": 1.0, "redraw_handling": True},
        "integration": {"enabled": False},
        "proactive": {"enabled": False},
        "satisfaction": {"reopen_probability": 0.0},
        "incentives": {"ranking_role": "handler"},
    }
    return scenario_from_dict(data, "<queueing check>")


def level_waits(result: RunResult, cutoff: float) -> dict[int, np.ndarray]:
    """Waiting times per level (start − dispatch) for orders dispatched in [warm-up, cutoff)."""
    ev = result.events
    disp = ev[ev["event"] == 2][["order", "level", "time"]]
    start = ev[ev["event"] == 3][["order", "level", "time"]]
    both = disp.merge(start, on=["order", "level"], suffixes=("_d", "_s"))
    both = both[(both["time_d"] >= result.warmup_hours) & (both["time_d"] < cutoff)]
    return {int(k): (g["time_s"] - g["time_d"]).to_numpy() for k, g in both.groupby("level")}


def _replicate(scenario: Scenario, replications: int, seed: int) -> Iterator[RunResult]:
    """Simulate independent replications, replication ``r`` seeded by ``replication_seed``."""
    for r in range(replications):
        yield simulate(scenario, seed=replication_seed(seed, r))


def _row(check: str, quantity: str, theory_value: float, values: list[float]) -> Check:
    ci = mean_ci(values)
    ok = bool(ci.low <= theory_value <= ci.high)
    return Check(check, quantity, float(theory_value), ci.mean, ci.low, ci.high, ok)


def check_erlang_c(
    arrival_rate: float = 2.4,
    service_rate: float = 1.0,
    servers: int = 3,
    replications: int = 10,
    days: float = 120.0,
    seed: int = 2024,
) -> list[Check]:
    """M/M/c: mean wait and P(wait) against Erlang C, plus Little's law and Poisson arrivals."""
    scenario = queue_scenario(arrival_rate, [service_rate], [servers], days=days,
                              warmup_days=days / 10)  # fmt: skip
    expected = theory.erlang_c(arrival_rate, service_rate, servers)
    cutoff = days * 24 * 0.9
    waits, p_wait, little, ks = [], [], [], []
    for result in _replicate(scenario, replications, seed):
        w = level_waits(result, cutoff).get(0, np.zeros(0))
        waits.append(float(w.mean()))
        p_wait.append(float((w > 1e-9).mean()))
        little.append(littles_law_gap(result))
        created = np.sort(result.appeals["created"].to_numpy())
        ks.append(sps.kstest(np.diff(created), "expon", args=(0, 1 / arrival_rate)).pvalue)
    label = f"M/M/{servers} rho={arrival_rate / (servers * service_rate):.2f}"
    rows = [
        _row(f"Erlang C {label}", "mean wait (h)", expected.mean_wait, waits),
        _row(f"Erlang C {label}", "P(wait)", expected.p_wait, p_wait),
    ]
    # Little's law is an identity up to the hourly sampling of the backlog: a tolerance check.
    gap = max(little)
    rows.append(Check(f"Little's law {label}", "max relative gap |L - lambda W| / L", 0.0, gap,
                      float("nan"), 0.01, bool(gap < 0.01)))  # fmt: skip
    worst = min(ks)
    rows.append(Check(f"Poisson arrivals {label}", "KS p-value (min over reps)", 0.01, worst,
                      worst, 1.0, bool(worst > 0.01 / replications)))  # fmt: skip
    return rows


def check_jackson(
    arrival_rate: float = 1.5,
    escalation: tuple[float, ...] = (0.4, 0.5, 0.5),
    service_rates: tuple[float, ...] = (1.0, 0.8, 0.6, 0.5),
    servers: tuple[int, ...] = (1, 1, 1, 1),
    microgrids_per_grid: int = 2,
    grids: int = 2,
    replications: int = 10,
    days: float = 120.0,
    seed: int = 2025,
) -> list[Check]:
    """The four-level hierarchy (micro-grids → grids → town → county) against Jackson.

    With the default shape, four micro-grids feed two grids, which feed one town desk, which
    feeds one county department; each unit is an M/M/c node of an open Jackson network.
    """
    levels = len(service_rates)
    scenario = queue_scenario(arrival_rate, list(service_rates), list(servers), list(escalation),
                              days=days, warmup_days=days / 10,
                              microgrids_per_grid=microgrids_per_grid, grids=grids)  # fmt: skip
    units = [microgrids_per_grid * grids, grids, 1, 1][:levels]
    expected = theory.hierarchy_jackson(arrival_rate, list(escalation), list(service_rates),
                                        list(servers), units_per_level=units)  # fmt: skip
    cutoff = days * 24 * 0.9
    per_level: dict[int, list[float]] = {k: [] for k in range(levels)}
    for result in _replicate(scenario, replications, seed):
        for level, w in level_waits(result, cutoff).items():
            per_level[level].append(float(w.mean()))
    names = ("micro-grid", "grid", "town", "county")
    label = f"Jackson {levels}-level hierarchy ({'/'.join(map(str, units))} units)"
    return [
        _row(label, f"mean wait at {names[k]} (h)", float(expected.mean_wait[k]), per_level[k])
        for k in range(levels)
    ]


def erlang_c_across_loads(replications: int = 8, days: float = 150.0) -> list[Check]:
    """Erlang C for several loads (rho 0.5–0.95) and server counts."""
    rows = []
    for i, (c, rho) in enumerate([(1, 0.5), (2, 0.7), (5, 0.85), (10, 0.95)]):
        rows += check_erlang_c(arrival_rate=rho * c, service_rate=1.0, servers=c,
                               replications=replications, days=days, seed=100 + i)[:2]  # fmt: skip
    return rows


def run_checks(quick: bool = False) -> pd.DataFrame:
    """All analytic checks as a table (``quick`` leaves out the sweep of loads).

    Quick mode runs fewer checks, never shorter ones: with few short replications the
    skewed waiting times make a t-interval miss the true mean too often to be a check.
    """
    reps, days = 10, 120.0
    rows = check_erlang_c(replications=reps, days=days)
    rows += check_jackson(escalation=(0.4, 0.5), service_rates=(1.0, 0.8, 0.6), servers=(2, 1, 1),
                          microgrids_per_grid=1, grids=1, replications=reps, days=days)  # fmt: skip
    rows += check_jackson(replications=reps, days=days)
    if not quick:
        rows += erlang_c_across_loads()
    return pd.DataFrame([asdict(r) for r in rows])
