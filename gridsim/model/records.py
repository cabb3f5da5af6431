"""A run's records: the tables one simulation produced, built from the engine's final state.

:func:`assemble_result` turns an :class:`EngineState` (what ``Engine.final_state()`` hands
over when the run ends) into the tidy pandas tables of a :class:`RunResult` and checks the
conservation invariant. A :class:`RunResult` is what :func:`gridsim.simulate` returns: one row
per appeal, per work order, per latent issue, per staff member, per unit and per lifecycle
event, plus the scalar KPIs (``gridsim.model.kpis``). ``gridsim.output.run_dir`` writes it to
disk and reads it back.

Time unit: hours since the start of the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from gridsim.errors import InternalError
from gridsim.model.appeals import Issues, incident_probabilities, incident_times
from gridsim.model.attention import linked_contacts
from gridsim.model.calendar import HOURS_PER_MONTH, HOURS_PER_YEAR
from gridsim.model.county import County
from gridsim.model.orders import APPEAL_ROW, ORDER_ROW, RowBuffer
from gridsim.model.scenario import Scenario
from gridsim.model.vocabulary import (
    BY_PARTY_MEMBER,
    DESKS,
    EXTERNALITY,
    FOUND_BY,
    INCIDENT,
    LEVELS,
    MINORITY_NEGATIVE,
    NO_LEVEL,
    REOPEN_CHANNEL,
    VISIT_CHANNEL,
)

RUN_TABLES: tuple[str, ...] = ("events", "appeals", "orders", "issues", "staff", "units", "backlog")


@dataclass
class RunResult:
    """Everything one simulation run produced.

    Attributes:
        scenario_name: the scenario's ``meta.name``.
        seed: the replication seed's entropy and spawn key, as a JSON-friendly dict.
        horizon_hours: simulated length of the run.
        warmup_hours: observations before this time are left out of the KPIs.
        kpis: scalar KPIs by name (see ``gridsim.model.kpis``).
        events: the event log, one row per lifecycle event: ``time``, ``order``, ``appeal``,
            ``event`` (code, see ``gridsim.model.vocabulary.EVENT_CODES``), ``level``
            (index into ``LEVELS``, ``NO_LEVEL`` = -1 none), ``unit`` (row of ``units``), ``staff``
            (row of ``staff``, -1 none), ``value``. Empty (same columns) when the log was
            streamed to ``events_path`` instead.
        appeals: one row per appeal.
        orders: one row per work order.
        issues: one row per latent issue that arose.
        staff: one row per staff member, with their workload and points.
        units: one row per handling unit (micro-grid team, grid, desk, department).
        backlog: open work orders sampled every hour: ``time``, ``open``.
        breakdowns: KPI tables by group (by channel, by level, by role ...), by name
            (see ``gridsim.model.breakdowns``).
        events_path: where the event log went when it was streamed to a Parquet file
            (``gridsim.simulate(..., events_path=...)``, see ``gridsim.model.event_file``);
            ``None`` when it is in ``events``.
    """

    scenario_name: str
    seed: dict
    horizon_hours: float
    warmup_hours: float
    kpis: dict[str, float]
    events: pd.DataFrame
    appeals: pd.DataFrame
    orders: pd.DataFrame
    issues: pd.DataFrame
    staff: pd.DataFrame
    units: pd.DataFrame
    backlog: pd.DataFrame
    breakdowns: dict[str, pd.DataFrame] = field(default_factory=dict)
    events_path: str | None = None

    def kpi_table(self) -> pd.DataFrame:
        """The KPIs as a tidy table with columns ``metric`` and ``value``."""
        return pd.DataFrame({"metric": list(self.kpis), "value": list(self.kpis.values())})


class Calendar(Protocol):
    """What the tables need of a working calendar (``gridsim.model.calendar``)."""

    def worked(self, t: float) -> float:
        """Working hours between time 0 and ``t``."""
        ...


@dataclass(frozen=True)
class EngineState:
    """The engine's final state, handed over once when the run ends (``Engine.final_state``).

    Plain lists, one entry per order, appeal, issue or staff member: the engine's own
    bookkeeping, read here and nowhere else.

    Attributes:
        scenario: the scenario that was run.
        county: the built county (units, staff, towns).
        issues: the latent issues drawn up front (without ``work`` and ``u_settle``, which
            only the engine reads).
        horizon: simulated hours.
        orders: every work order, a row each in order of id (creation), packed as
            ``gridsim.model.orders.ORDER_ROW``; read, then cleared, by :func:`orders_table`.
        appeal_rows: one row per appeal, packed as ``gridsim.model.orders.APPEAL_ROW``;
            read, then cleared, by :func:`appeals_table`.
        issue_resolved: per issue, when it was last resolved (NaN: open).
        issue_known: per issue, when the platform first heard of it (NaN: never).
        staff_calendar: per staff member, their working calendar.
        busy_hours: per staff member, hours of order work.
        handled: per staff member, orders worked on.
        resolved_by: per staff member, orders resolved.
        on_time_by: per staff member, orders resolved within the time limit.
        satisfied_by: per staff member, satisfied feedbacks.
        feedback_by: per staff member, feedbacks received.
        finds_by: per staff member, proactive finds credited.
        help_hours: per unit, hours of order work its helpers (the "N") took on.
        false_closures: brushed-off orders that a callback found.
        log: the event log as typed columns (``time``, ``order``, ``appeal``, ``event``,
            ``level``, ``unit``, ``staff``, ``value``).
    """

    scenario: Scenario
    county: County
    issues: Issues
    horizon: float
    orders: RowBuffer
    appeal_rows: RowBuffer
    issue_resolved: np.ndarray
    issue_known: np.ndarray
    staff_calendar: Sequence[Calendar]
    busy_hours: Sequence[float]
    handled: Sequence[int]
    resolved_by: Sequence[int]
    on_time_by: Sequence[int]
    satisfied_by: Sequence[int]
    feedback_by: Sequence[int]
    finds_by: Sequence[int]
    help_hours: Sequence[float]
    false_closures: int
    log: dict[str, np.ndarray]


class ConservationError(InternalError):
    """The run lost or double-counted an appeal: a bug in the model, never a user error."""


def _channel_names(state: EngineState) -> list[str]:
    return [c.key for c in state.scenario.channels] + [VISIT_CHANNEL, REOPEN_CHANNEL]


def orders_table(state: EngineState) -> pd.DataFrame:
    """One row per work order."""
    s = state.scenario
    # The engine's packed rows, widened column by column to the table's types (every value
    # is kept; a column at a time, so a long run's orders are not held twice over).
    c = state.orders.columns(ORDER_ROW.table_dtypes)
    state.orders.clear()
    county = state.county
    origin = c["origin"]
    town = county.town_of[origin]
    ext = s.externality
    granted = (c["externality"] == MINORITY_NEGATIVE) & ~c["declined"] & ~np.isnan(c["resolved"])
    granted &= ~c["duplicate"]  # one issue harms its neighbours once
    # A minority interest granted at the others' expense: the majority bears the cost.
    factor = ext.mediate_harm_factor if ext.minority_negative_policy == "mediate" else 1.0
    harmed = np.where(granted & ~c["brushed_off"], ext.harmed_households_mean * factor, 0.0)
    return pd.DataFrame(
        {
            "order": c["id"],
            "issue": c["issue"],
            "category": pd.Categorical.from_codes(c["category"], [x.key for x in s.categories]),
            "channel": pd.Categorical.from_codes(c["channel"], _channel_names(state)),
            "desk": pd.Categorical.from_codes(c["desk"], list(DESKS)),
            "town": town,
            "town_name": pd.Categorical.from_codes(town, county.town_names),
            "microgrid": origin,
            "grid": county.grid_of[origin],
            "created": c["created"],
            "first_response": c["first_response"],
            "resolved": c["resolved"],
            "resolved_level": c["resolved_level"],
            "escalations": c["escalations"],
            "on_time": c["on_time"],
            "satisfied": c["satisfied"],
            "proactive": c["proactive"],
            "urgent": c["urgent"],
            "joint": c["joint"],
            "priority": c["priority"],
            "duplicate": c["duplicate"],
            "declined": c["declined"],
            "brushed_off": c["brushed_off"],
            "false_closure_found": c["false_closure_found"],
            "handoff_hours": c["handoff_hours"],
            "time_limit_hours": c["limit"],
            "externality": pd.Categorical.from_codes(c["externality"], EXTERNALITY),
            "households": state.issues.households[c["issue"]],
            "harmed_households": harmed,
            "no_smartphone": state.issues.no_smartphone[c["issue"]],
            "arose": state.issues.arose[c["issue"]],
            "appeals": c["appeals"],
        },
        copy=False,  # the columns are new arrays: no second copy (pandas copies on write)
    )


def appeals_table(state: EngineState) -> pd.DataFrame:
    """One row per appeal."""
    c = state.appeal_rows.columns(APPEAL_ROW.table_dtypes)
    state.appeal_rows.clear()
    issue = c["issue"]
    origin = state.issues.origin[issue]
    cats = [x.key for x in state.scenario.categories]
    return pd.DataFrame(
        {
            "appeal": np.arange(len(c["issue"])),
            "issue": issue,
            "order": c["order"],
            "category": pd.Categorical.from_codes(state.issues.category[issue], cats),
            "channel": pd.Categorical.from_codes(c["channel"], _channel_names(state)),
            "town": state.county.town_of[origin],
            "microgrid": origin,
            "created": c["created"],
            "no_smartphone": c["no_smartphone"],
            "merged": c["merged"],
        },
        copy=False,
    )


def issues_table(state: EngineState) -> pd.DataFrame:
    """One row per latent issue: who noticed it, when it was settled, its incident risk.

    ``resolved`` is when the issue was truly settled (a brushed-off or declined order does not
    settle it); incidents are decided, and their probability integrated, up to that time.
    """
    iss = state.issues
    s = state.scenario
    resolved = np.asarray(state.issue_resolved, dtype=float)
    known = np.asarray(state.issue_known, dtype=float)
    until = np.where(np.isnan(resolved), state.horizon, np.minimum(resolved, state.horizon))
    # An issue nobody ever heard of fades at its lapse time and carries no further risk.
    until = np.where(np.isnan(known), np.minimum(until, iss.lapse), until)
    mediate = s.externality.minority_negative_policy == "mediate"
    mediated = (iss.externality == MINORITY_NEGATIVE) & mediate
    factor = s.externality.mediate_hazard_factor
    at = incident_times(iss, known, mediated, factor)
    incident = at < until
    types = np.array([c.incident.type if c.incident else "" for c in s.categories], dtype=object)
    lapsed = np.isnan(known) & (iss.lapse < state.horizon)
    return pd.DataFrame(
        {
            "issue": np.arange(len(iss)),
            "category": pd.Categorical.from_codes(iss.category, [c.key for c in s.categories]),
            "town": state.county.town_of[iss.origin],
            "microgrid": iss.origin,
            "arose": iss.arose,
            "households": iss.households,
            "no_smartphone": iss.no_smartphone,
            "found_by": pd.Categorical.from_codes(
                np.where(np.isnan(known), 0, iss.found_by), FOUND_BY
            ),
            "first_known": known,
            "first_report": np.where(np.isinf(iss.first_report), np.nan, iss.first_report),
            "on_spot": iss.on_spot,
            "lapsed": lapsed,
            "resolved": resolved,
            "incident": incident,
            "incident_probability": incident_probabilities(iss, known, mediated, factor, until),
            "incident_time": np.where(incident, at, np.nan),
            "incident_type": np.where(incident, types[iss.category], ""),
        },
        copy=False,  # pandas copies on write: sharing the issues' arrays is safe
    )


def staff_table(state: EngineState) -> pd.DataFrame:
    """One row per staff member: their hours budget and how it was used, outcomes, points.

    ``available_hours`` is the member's budget over the run (``hours_per_week``); the hours
    used are order work (``busy_hours``), work that is not appeals (``task_hours``), visits,
    contacts with the households they look after, and help to the micro-grid leader;
    ``utilisation`` is their sum over the budget.
    """
    st = state.county.staff
    s = state.scenario
    inc = s.incentives
    horizon = state.horizon
    weeks = horizon / 168.0
    months = horizon / HOURS_PER_MONTH
    resolved = np.array(state.resolved_by)
    on_time = np.array(state.on_time_by)
    finds = np.array(state.finds_by)
    points = (
        inc.points_per_resolved * resolved
        + inc.points_per_on_time * on_time
        + inc.points_per_proactive_find * finds
    )
    wage = np.array([s.roles[r].wage_yuan_per_year for r in st.role]) * horizon / HOURS_PER_YEAR
    graph = state.county.graph
    unit = np.asarray(st.unit, dtype=np.int64)
    unit_level = np.array([level for _, level in graph.nodes(data="level")], dtype=np.int64)
    # Members with the same skills share one frozenset: its text is made once.
    skills = {k: ";".join(sorted(k)) for k in set(st.skills)}
    helpers = np.array(["help" in d for d in st.duties], dtype=bool)
    help_hours = np.zeros(len(st))
    if helpers.any():
        per_unit = np.bincount(unit[helpers], minlength=len(state.help_hours))
        share = np.asarray(state.help_hours, dtype=float) / np.maximum(per_unit, 1)
        help_hours[helpers] = share[unit[helpers]]
    budget = np.array(st.hours_per_week) * weeks
    busy = np.asarray(state.busy_hours, dtype=float)
    tasks = np.array(st.task_hours_per_week) * weeks
    planned = np.array(st.visit_hours_per_month) * months
    contacts = np.array(st.contact_hours_per_month) * months
    iss = state.issues
    spot_by = iss.finder[iss.on_spot & (iss.finder >= 0)]
    spot = np.bincount(spot_by, minlength=len(st)).astype(float)
    spot_hours = spot * s.visits.hours_per_spot_settlement
    # Orders come first; visits fill what the budget leaves (the plan may not be met).
    slack = np.maximum(budget - busy - tasks - contacts - help_hours - spot_hours, 0.0)
    visits = np.minimum(planned, slack)
    used = busy + tasks + visits + contacts + help_hours + spot_hours
    resolved = resolved + spot.astype(np.int64)  # settling on the spot earns points too
    points = points + inc.points_per_resolved * spot
    return pd.DataFrame(
        {
            "staff": np.arange(len(st)),
            "role": pd.Categorical(st.role),
            "level": unit_level[unit],
            "unit": st.unit,
            "town": state.county.town_of[unit],
            "female": st.female,
            "skills": [skills[k] for k in st.skills],
            "available_hours": budget,
            "busy_hours": busy,
            "task_hours": tasks,
            "visit_hours": visits,
            "visit_hours_planned": planned,
            "visits": np.array(st.visits_per_month) * months * _ratio(visits, planned),
            "spot_settlements": spot,
            "contact_hours": contacts,
            "help_hours": help_hours,
            "used_hours": used,
            "orders_handled": state.handled,
            "orders_resolved": resolved,
            "on_time": on_time,
            "satisfied": state.satisfied_by,
            "feedback": state.feedback_by,
            "proactive_finds": finds,
            "points": points.astype(float),
            "wage_yuan": wage,
        }
    )


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Elementwise num / den, 1 where den is 0 (nothing planned, nothing missed)."""
    return np.divide(num, den, out=np.ones_like(num), where=den > 0)


def units_table(state: EngineState, staff: pd.DataFrame) -> pd.DataFrame:
    """One row per unit of the hierarchy."""
    g = state.county.graph
    nodes = list(g.nodes(data=True))  # (unit id, attributes), in order of id
    parent: dict[int, int] = {}
    for above, uid in g.in_edges():  # per unit its first predecessor (its only one)
        parent.setdefault(uid, above)

    def kind(d: dict) -> str:
        if d["kind"] != "centre":
            return d["kind"]
        pooled = d.get("desk") == "pooled"
        return f"{LEVELS[d['level']]}_{'centre' if pooled else 'desk'}"

    # Column by column: a row tuple per unit costs more at tens of thousands of units.
    town = [d["town"] for _, d in nodes]
    names = state.county.town_names
    units = pd.DataFrame(
        {
            "unit": [uid for uid, _ in nodes],
            "kind": [kind(d) for _, d in nodes],
            "level": [d["level"] for _, d in nodes],
            "name": [d["name"] for _, d in nodes],
            "town": town,
            "parent": [parent.get(uid, -1) for uid, _ in nodes],
            "servers": [len(d["staff"]) for _, d in nodes],
            "households": [d["households"] for _, d in nodes],
            "population": [d["population"] for _, d in nodes],
            "town_name": [names[t] if t >= 0 else "" for t in town],
        }
    )
    cols = ["busy_hours", "used_hours", "available_hours"]
    by_unit = staff.groupby("unit")[cols].sum()
    units = units.join(by_unit, on="unit")
    units[cols] = units[cols].fillna(0)
    units["party_members"] = state.county.party_members
    units["party_active"] = state.county.party_active
    units["party_hours_budget"], units["party_hours_used"] = _party_hours(state)
    return units


def _party_hours(state: EngineState) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: linked party members' hours budget over the run, and the hours they used.

    Used hours are their contacts with the households linked to them plus the disputes they
    mediated on the spot; party members are residents, so they are not rows of the staff table.
    """
    s, county, iss = state.scenario, state.county, state.issues
    p = s.party
    months = state.horizon / HOURS_PER_MONTH
    members = county.party_members
    budget = members * p.hours_per_month * months
    households = np.array([h for _, h in county.graph.nodes(data="households")], dtype=float)
    linked = np.minimum(members * p.households_per_member, households)
    contacts = linked * linked_contacts(s) * p.hours_per_contact * months
    mediated = iss.on_spot & (iss.found_by == BY_PARTY_MEMBER)
    mediation = np.bincount(iss.origin[mediated], minlength=county.n_units) * p.hours_per_mediation
    return budget, np.where(members > 0, contacts + mediation, 0.0)


def backlog_series(orders: pd.DataFrame, horizon: float, step: float = 1.0) -> pd.DataFrame:
    """Open work orders at every ``step`` hours (created and not yet resolved)."""
    t = np.arange(0.0, horizon + 1e-9, step)
    created = np.sort(orders["created"].to_numpy())
    resolved = np.sort(orders["resolved"].dropna().to_numpy())
    open_ = np.searchsorted(created, t, side="right") - np.searchsorted(resolved, t, side="right")
    return pd.DataFrame({"time": t, "open": open_})


def check_conservation(appeals: pd.DataFrame, orders: pd.DataFrame) -> None:
    """Every appeal is merged, or created an order that is resolved or still open.

    Raises:
        ConservationError: an appeal or an order is unaccounted for.
    """
    merged = int(appeals["merged"].sum())
    creating = len(appeals) - merged
    if creating != len(orders):
        raise ConservationError(f"{creating} appeals created orders but {len(orders)} orders exist")
    resolved = int(orders["resolved"].notna().sum())
    open_ = int(orders["resolved"].isna().sum())
    if merged + resolved + open_ != len(appeals):
        raise ConservationError("appeals != merged + resolved + open")
    bad = ~appeals.loc[appeals["merged"], "order"].isin(orders["order"])
    if bad.any():
        raise ConservationError(f"{int(bad.sum())} merged appeals point at no order")


def events_table(state: EngineState, incidents: pd.DataFrame) -> pd.DataFrame:
    """The event log as a DataFrame, with incident events added, sorted by time (stable).

    Sorted in numpy, one stable argsort and one take per column: a DataFrame concat and
    sort would copy the county-year's million-row log twice more.
    """
    columns = dict(state.log)
    hit = incidents[incidents["incident"]]
    if len(hit):
        n = len(hit)
        extra = {
            "time": hit["incident_time"].to_numpy(),
            "order": np.full(n, -1, np.int32),
            "appeal": np.full(n, -1, np.int32),
            "event": np.full(n, INCIDENT, np.int8),
            "level": np.full(n, NO_LEVEL, np.int8),
            "unit": hit["microgrid"].to_numpy().astype(np.int32),
            "staff": np.full(n, -1, np.int32),
            "value": hit["issue"].to_numpy().astype(np.float32),
        }
        columns = {
            name: np.concatenate([values, extra[name].astype(values.dtype)])
            for name, values in columns.items()
        }
    order = np.argsort(columns["time"], kind="stable")
    return pd.DataFrame({name: values[order] for name, values in columns.items()}, copy=False)


def assemble_result(state: EngineState, seed: dict) -> RunResult:
    """Build the tables of a finished run and check conservation.

    The KPIs are left empty: they are computed from the tables (``gridsim.model.kpis``), so
    that a run loaded from disk gets them the same way.

    Raises:
        ConservationError: an appeal or an order is unaccounted for.
    """
    s = state.scenario
    orders = orders_table(state)
    appeals = appeals_table(state)
    check_conservation(appeals, orders)
    issues = issues_table(state)
    staff = staff_table(state)
    return RunResult(
        scenario_name=s.meta.name,
        seed=seed,
        horizon_hours=state.horizon,
        warmup_hours=min(s.meta.warmup_days * 24.0, state.horizon),
        kpis={},
        events=events_table(state, issues),
        appeals=appeals,
        orders=orders,
        issues=issues,
        staff=staff,
        units=units_table(state, staff),
        backlog=backlog_series(orders, state.horizon),
    )
