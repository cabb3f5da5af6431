"""From a finished run to tables and KPIs: pure functions over the run's records.

:func:`assemble_result` turns the engine's state into the tables of a
:class:`~gridsim.model.records.RunResult` and checks the conservation invariant; :func:`kpis`
computes the scalar KPIs from those tables; :func:`breakdowns` the KPIs by group. Both
work on a loaded run directory just as on a fresh run.

Time unit: hours. KPIs with ``_h`` are in hours; shares are fractions in [0, 1].
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np
import pandas as pd

from gridsim.errors import InternalError
from gridsim.model.appeals import EXTERNALITY, incident_times
from gridsim.model.calendar import HOURS_PER_MONTH, HOURS_PER_YEAR
from gridsim.model.engine import Engine
from gridsim.model.records import RunResult
from gridsim.model.vocabulary import DESKS, INCIDENT, LEVELS


class ConservationError(InternalError):
    """The run lost or double-counted an appeal: a bug in the model, never a user error."""


def _channel_names(engine: Engine) -> list[str]:
    return [c.key for c in engine.scenario.channels] + ["visit", "reopen"]


ORDER_FIELDS = (
    ("id", np.int64), ("issue", np.int64), ("category", np.int64), ("channel", np.int64),
    ("desk", np.int64), ("origin", np.int64), ("created", float), ("first_response", float),
    ("resolved", float), ("resolved_level", np.int64), ("escalations", np.int64),
    ("on_time", float), ("satisfied", float), ("proactive", bool), ("urgent", bool),
    ("joint", bool), ("priority", bool), ("duplicate", bool), ("declined", bool),
    ("externality", np.int64), ("appeals", np.int64),
)  # fmt: skip


def orders_table(engine: Engine) -> pd.DataFrame:
    """One row per work order."""
    s = engine.scenario
    n = len(engine.orders)
    # One C-level pass over the orders, then one typed column per field.
    getter = attrgetter(*(name for name, _ in ORDER_FIELDS))
    c = np.fromiter(map(getter, engine.orders), dtype=np.dtype(list(ORDER_FIELDS)), count=n)
    county = engine.county
    origin = c["origin"]
    town = county.town_of[origin]
    return pd.DataFrame(
        {
            "order": c["id"],
            "issue": c["issue"],
            "category": pd.Categorical.from_codes(c["category"], [x.key for x in s.categories]),
            "channel": pd.Categorical.from_codes(c["channel"], _channel_names(engine)),
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
            "externality": pd.Categorical.from_codes(c["externality"], EXTERNALITY),
            "households": engine.issues.households[c["issue"]],
            "arose": engine.issues.arose[c["issue"]],
            "appeals": c["appeals"],
        }
    )


APPEAL_DTYPE = np.dtype(
    [("issue", np.int64), ("order", np.int64), ("channel", np.int64), ("created", float),
     ("no_smartphone", bool), ("merged", bool)]
)  # fmt: skip


def appeals_table(engine: Engine) -> pd.DataFrame:
    """One row per appeal."""
    rows = engine.appeal_rows
    c = np.fromiter(rows, dtype=APPEAL_DTYPE, count=len(rows))
    issue = c["issue"]
    origin = engine.issues.origin[issue]
    cats = [x.key for x in engine.scenario.categories]
    return pd.DataFrame(
        {
            "appeal": np.arange(len(rows)),
            "issue": issue,
            "order": c["order"],
            "category": pd.Categorical.from_codes(engine.issues.category[issue], cats),
            "channel": pd.Categorical.from_codes(c["channel"], _channel_names(engine)),
            "town": engine.county.town_of[origin],
            "microgrid": origin,
            "created": c["created"],
            "no_smartphone": c["no_smartphone"],
            "merged": c["merged"],
        }
    )


def issues_table(engine: Engine) -> pd.DataFrame:
    """One row per latent issue, with incidents decided against the final resolution time."""
    iss = engine.issues
    s = engine.scenario
    resolved = np.asarray(engine.issue_resolved, dtype=float)
    known = np.asarray(engine.issue_known, dtype=float)
    until = np.where(np.isnan(resolved), engine.horizon, resolved)
    mediate = s.externality.minority_negative_policy == "mediate"
    mediated = (iss.externality == 2) & mediate
    at = incident_times(iss, known, mediated, s.externality.mediate_hazard_factor)
    incident = at < until
    types = np.array([c.incident.type if c.incident else "" for c in s.categories], dtype=object)
    return pd.DataFrame(
        {
            "issue": np.arange(len(iss)),
            "category": pd.Categorical.from_codes(iss.category, [c.key for c in s.categories]),
            "town": engine.county.town_of[iss.origin],
            "microgrid": iss.origin,
            "arose": iss.arose,
            "households": iss.households,
            "first_known": known,
            "first_report": np.where(np.isinf(iss.first_report), np.nan, iss.first_report),
            "resolved": resolved,
            "incident": incident,
            "incident_time": np.where(incident, at, np.nan),
            "incident_type": np.where(incident, types[iss.category], ""),
        }
    )


def staff_table(engine: Engine) -> pd.DataFrame:
    """One row per staff member with workload, outcomes and points."""
    st = engine.county.staff
    s = engine.scenario
    inc = s.incentives
    horizon = engine.horizon
    calendars = engine.staff_calendar
    available = np.array([cal.worked(horizon) for cal in calendars]) * np.array(st.speed)
    resolved = np.array(engine.resolved_by)
    on_time = np.array(engine.on_time_by)
    finds = np.array(engine.finds_by)
    points = (
        inc.points_per_resolved * resolved
        + inc.points_per_on_time * on_time
        + inc.points_per_proactive_find * finds
    )
    wage = np.array([s.roles[r].wage_yuan_per_year for r in st.role]) * horizon / HOURS_PER_YEAR
    graph = engine.county.graph
    return pd.DataFrame(
        {
            "staff": np.arange(len(st)),
            "role": pd.Categorical(st.role),
            "level": [graph.nodes[u]["level"] for u in st.unit],
            "unit": st.unit,
            "town": engine.county.town_of[np.asarray(st.unit, dtype=np.int64)],
            "female": st.female,
            "skills": [";".join(sorted(k)) for k in st.skills],
            "available_hours": available,
            "busy_hours": engine.busy_hours,
            "visit_hours": np.array(st.visit_hours_per_month) * horizon / HOURS_PER_MONTH,
            "orders_handled": engine.handled,
            "orders_resolved": resolved,
            "on_time": on_time,
            "satisfied": engine.satisfied_by,
            "feedback": engine.feedback_by,
            "proactive_finds": finds,
            "points": points.astype(float),
            "wage_yuan": wage,
        }
    )


def units_table(engine: Engine, staff: pd.DataFrame) -> pd.DataFrame:
    """One row per unit of the hierarchy."""
    g = engine.county.graph
    rows = []
    for uid, d in g.nodes(data=True):
        parent = next(iter(g.predecessors(uid)), -1)
        kind = d["kind"]
        if kind == "centre":
            level = "town" if d["level"] == 2 else "county"
            kind = f"{level}_centre" if d.get("desk") == "pooled" else f"{level}_desk"
        rows.append((uid, kind, d["level"], d["name"], d["town"], parent, len(d["staff"]),
                     d["households"], d["population"]))  # fmt: skip
    units = pd.DataFrame(
        rows,
        columns=[
            "unit",
            "kind",
            "level",
            "name",
            "town",
            "parent",
            "servers",
            "households",
            "population",
        ],  # fmt: skip
    )
    names = engine.county.town_names
    units["town_name"] = [names[t] if t >= 0 else "" for t in units["town"]]
    by_unit = staff.groupby("unit")[["busy_hours", "available_hours"]].sum()
    units = units.join(by_unit, on="unit")
    units[["busy_hours", "available_hours"]] = units[["busy_hours", "available_hours"]].fillna(0)
    return units


def backlog_series(orders: pd.DataFrame, horizon: float, step: float = 1.0) -> pd.DataFrame:
    """Open work orders at every ``step`` hours (created and not yet resolved)."""
    t = np.arange(0.0, horizon + 1e-9, step)
    created = np.sort(orders["created"].to_numpy())
    resolved = np.sort(orders["resolved"].dropna().to_numpy())
    open_ = np.searchsorted(created, t, side="right") - np.searchsorted(resolved, t, side="right")
    return pd.DataFrame({"time": t, "open": open_})


def littles_law_gap(result: RunResult) -> float:
    """Relative gap between time-average backlog and (order rate × mean time in system).

    Both sides are measured over the whole run with time in system censored at the horizon,
    so the gap is only the discretisation of the hourly backlog series: a bookkeeping check
    that runs on every run (KPI ``littles_law_gap``).
    """
    from gridsim.analysis.queueing import littles_law_error

    o = result.orders
    horizon = result.horizon_hours
    if not len(o) or horizon <= 0:
        return float("nan")
    end = o["resolved"].fillna(horizon).clip(upper=horizon)
    sojourn = (end - o["created"]).to_numpy()
    b = result.backlog
    # Trapezoid over the hourly samples: the time-average number of open orders.
    mean_open = float(np.trapezoid(b["open"], b["time"]) / horizon)
    if mean_open <= 0:
        return float("nan")
    return littles_law_error(mean_open, len(o) / horizon, float(sojourn.mean()))


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


def _share(mask: pd.Series | np.ndarray, of: pd.Series | np.ndarray | None = None) -> float:
    n = len(mask) if of is None else int(np.sum(of))
    return float(np.sum(mask)) / n if n else float("nan")


def _q(values: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q)) if len(values) else float("nan")


def kpis(result: RunResult, population: int, yuan_per_point: float = 0.0) -> dict:
    """Scalar KPIs of a run (after the warm-up), by name (see docs/data_model.md).

    Example:
        >>> import gridsim
        >>> r = gridsim.simulate(gridsim.load_scenario("scenarios/one_town.toml"), seed=1, days=5)
        >>> 0 <= r.kpis["on_time_rate"] <= 1
        True
    """
    w = result.warmup_hours
    span_years = (result.horizon_hours - w) / HOURS_PER_YEAR
    a = result.appeals[result.appeals["created"] >= w]
    o = result.orders[result.orders["created"] >= w]
    i = result.issues[result.issues["arose"] >= w]
    done = o[o["resolved"].notna()]
    resolution = (done["resolved"] - done["created"]).to_numpy()
    responded = o[o["first_response"].notna()]
    response = (responded["first_response"] - responded["created"]).to_numpy()
    out: dict[str, float] = {
        "appeals": float(len(a)),
        "orders": float(len(o)),
        "issues": float(len(i)),
        "merged_appeals": float(a["merged"].sum()),
        "merge_ratio": len(a) / len(o) if len(o) else float("nan"),
        "duplicate_orders": float(o["duplicate"].sum()),
        "appeals_per_resident_per_year": len(a) / population / span_years,
        "response_time_mean_h": float(response.mean()) if len(response) else float("nan"),
        "response_time_p90_h": _q(response, 0.9),
        "resolution_time_mean_h": float(resolution.mean()) if len(resolution) else float("nan"),
        "resolution_time_median_h": _q(resolution, 0.5),
        "resolution_time_p90_h": _q(resolution, 0.9),
        "on_time_rate": float(done["on_time"].mean()) if len(done) else float("nan"),
        "resolved_rate": _share(o["resolved"].notna()),
    }
    levels = done["resolved_level"].to_numpy()
    for k, name in enumerate(LEVELS):
        out[f"resolved_share_{name}"] = _share(levels == k)
    out["share_resolved_in_grid"] = _share(levels <= 1)
    out["share_resolved_in_town"] = _share(levels <= 2)
    out["escalation_rate"] = _share(o["escalations"] > 0)
    out["open_at_end"] = float(result.orders["resolved"].isna().sum())
    b = result.backlog[result.backlog["time"] >= w]["open"]
    out["backlog_mean"] = float(b.mean()) if len(b) else float("nan")
    out["backlog_max"] = float(b.max()) if len(b) else float("nan")
    out["littles_law_gap"] = littles_law_gap(result)
    staff = result.staff
    for role, g in staff.groupby("role", observed=True):
        out[f"utilisation_{role}"] = _ratio(g["busy_hours"].sum(), g["available_hours"].sum())
    for k, name in enumerate(LEVELS):
        g = staff[staff["level"] == k]
        out[f"utilisation_{name}"] = _ratio(g["busy_hours"].sum(), g["available_hours"].sum())
    fb = o["satisfied"].dropna()
    out["satisfaction_rate"] = float(fb.mean()) if len(fb) else float("nan")
    out["reopen_rate"] = _share(a["channel"] == "reopen")
    out["proactive_share"] = _share(o["proactive"])
    first = o[~o["duplicate"] & (o["channel"] != "reopen")]
    delay = (first["created"] - first["arose"]).to_numpy()
    out["report_delay_mean_h"] = float(delay.mean()) if len(delay) else float("nan")
    out["proactive_time_saved_mean_h"] = _time_saved(o, i, result.horizon_hours)
    out["unreported_issues"] = float(i["first_known"].isna().sum())
    out["unreported_share"] = _share(i["first_known"].isna())
    out["no_smartphone_appeal_share"] = _share(a["no_smartphone"])
    out["incidents"] = float(i["incident"].sum())
    out["incidents_per_100k_per_year"] = (
        out["incidents"] / population * 1e5 / span_years if span_years > 0 else float("nan")
    )
    out["declined_share"] = _share(o["declined"])
    points = float(staff["points"].sum())
    out["points_total"] = points
    wages = float(staff["wage_yuan"].sum())
    cost = wages + points * yuan_per_point
    out["points_cost_yuan"] = points * yuan_per_point
    out["cost_total_yuan"] = cost
    out["cost_per_resolved_yuan"] = cost / len(done) if len(done) else float("nan")
    # Integration saves the work a merged appeal would have cost as an order of its own.
    busy = float(staff["busy_hours"].sum())
    out["workload_saved_hours"] = out["merged_appeals"] * busy / len(o) if len(o) else 0.0
    return out


def _time_saved(o: pd.DataFrame, issues: pd.DataFrame, horizon: float) -> float:
    """Mean hours between a proactive find and the first report it pre-empted (censored)."""
    pro = o[o["proactive"]]
    if not len(pro):
        return float("nan")
    would_report = issues.set_index("issue")["first_report"].reindex(pro["issue"]).to_numpy()
    saved = np.fmin(np.nan_to_num(would_report, nan=horizon), horizon) - pro["created"].to_numpy()
    return float(np.clip(saved, 0, None).mean())


def ten_best(staff: pd.DataFrame, role: str, n: int = 10) -> pd.DataFrame:
    """The yearly ranking (十佳网格员): the ``n`` staff of a role with the most points."""
    st = staff[staff["role"] == role].copy()
    st["on_time_rate"] = st["on_time"] / st["orders_resolved"].where(st["orders_resolved"] > 0)
    st["satisfaction_rate"] = st["satisfied"] / st["feedback"].where(st["feedback"] > 0)
    cols = ["staff", "role", "unit", "town", "points", "orders_handled", "orders_resolved",
            "on_time_rate", "satisfaction_rate", "proactive_finds"]  # fmt: skip
    best = st.sort_values(["points", "staff"], ascending=[False, True], kind="stable").head(n)
    return best[cols].reset_index(drop=True)


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


def breakdowns(result: RunResult, ranking_role: str = "grid_worker") -> dict[str, pd.DataFrame]:
    """KPI tables by group: channel, level, category, role, externality class, town, age group.

    Also ``ten_best``: the yearly ranking of ``ranking_role`` by points.
    """
    o = result.orders[result.orders["created"] >= result.warmup_hours].copy()
    o["resolution_h"] = o["resolved"] - o["created"]
    o["response_h"] = o["first_response"] - o["created"]
    o["report_delay_h"] = (o["created"] - o["arose"]).where(~o["duplicate"])
    o["is_resolved"] = o["resolved"].notna().astype(float)
    o["was_escalated"] = (o["escalations"] > 0).astype(float)
    agg = {
        "orders": ("order", "size"),
        "report_delay_mean_h": ("report_delay_h", "mean"),
        "resolved_rate": ("is_resolved", "mean"),
        "response_time_mean_h": ("response_h", "mean"),
        "resolution_time_mean_h": ("resolution_h", "mean"),
        "resolution_time_median_h": ("resolution_h", "median"),
        "on_time_rate": ("on_time", "mean"),
        "satisfaction_rate": ("satisfied", "mean"),
        "escalation_rate": ("was_escalated", "mean"),
    }
    out = {}
    for group in ("channel", "category", "externality", "town_name"):
        out[group] = o.groupby(group, observed=True).agg(**agg).reset_index()
    o["age_group"] = np.where(_no_phone_orders(result, o), "no_smartphone", "smartphone")
    out["age_group"] = o.groupby("age_group").agg(**agg).reset_index()
    st = result.staff
    role = st.groupby(["role", "level"], observed=True).agg(
        staff=("staff", "size"),
        busy_hours=("busy_hours", "sum"),
        available_hours=("available_hours", "sum"),
        orders_handled=("orders_handled", "sum"),
        points=("points", "sum"),
    )
    role["utilisation"] = role["busy_hours"] / role["available_hours"].where(
        role["available_hours"] > 0
    )
    out["role"] = role.reset_index()
    i = result.issues
    inc = i.groupby("incident_type").size().rename("incidents").reset_index()
    out["incident_type"] = inc[inc["incident_type"] != ""]
    level = o[o["resolved_level"] >= 0].groupby("resolved_level").agg(**agg).reset_index()
    level["level"] = [LEVELS[k] for k in level["resolved_level"]]
    out["level"] = level
    out["ten_best"] = ten_best(st, ranking_role)
    return out


def _no_phone_orders(result: RunResult, o: pd.DataFrame) -> np.ndarray:
    first = result.appeals[~result.appeals["merged"]].set_index("order")["no_smartphone"]
    return o["order"].map(first).fillna(False).to_numpy(dtype=bool)


def events_table(engine: Engine, incidents: pd.DataFrame) -> pd.DataFrame:
    """The event log as a DataFrame, with incident events added, sorted by time."""
    cols = engine.log.columns()
    events = pd.DataFrame(cols)
    hit = incidents[incidents["incident"]]
    if len(hit):
        extra = pd.DataFrame(
            {
                "time": hit["incident_time"].to_numpy(),
                "order": np.full(len(hit), -1, np.int32),
                "appeal": np.full(len(hit), -1, np.int32),
                "event": np.full(len(hit), INCIDENT, np.int8),
                "level": np.full(len(hit), -1, np.int8),
                "unit": hit["microgrid"].to_numpy().astype(np.int32),
                "staff": np.full(len(hit), -1, np.int32),
                "value": hit["issue"].to_numpy().astype(np.float32),
            }
        )
        events = pd.concat([events, extra], ignore_index=True)
    return events.sort_values("time", kind="stable", ignore_index=True)


def assemble_result(engine: Engine, seed: dict) -> RunResult:
    """Build the RunResult of a finished engine, check conservation, compute KPIs."""
    s = engine.scenario
    orders = orders_table(engine)
    appeals = appeals_table(engine)
    check_conservation(appeals, orders)
    issues = issues_table(engine)
    staff = staff_table(engine)
    result = RunResult(
        scenario_name=s.meta.name,
        seed=seed,
        horizon_hours=engine.horizon,
        warmup_hours=min(s.meta.warmup_days * 24.0, engine.horizon),
        kpis={},
        events=events_table(engine, issues),
        appeals=appeals,
        orders=orders,
        issues=issues,
        staff=staff,
        units=units_table(engine, staff),
        backlog=backlog_series(orders, engine.horizon),
    )
    result.kpis = kpis(result, s.population, s.incentives.yuan_per_point)
    result.breakdowns = breakdowns(result, s.incentives.ranking_role)
    return result
