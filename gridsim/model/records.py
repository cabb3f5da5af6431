"""A run's records: the plain tables one simulation produced, plus its KPIs.

A :class:`RunResult` is what :func:`gridsim.simulate` returns: tidy pandas tables (one row
per appeal, per work order, per latent issue, per staff member, per lifecycle event) plus the
scalar KPIs. ``gridsim.output.run_dir`` writes it to disk and reads it back.

Time unit: hours since the start of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

RUN_TABLES: tuple[str, ...] = ("events", "appeals", "orders", "issues", "staff", "units", "backlog")


@dataclass
class RunResult:
    """Everything one simulation run produced.

    Attributes:
        scenario_name: the scenario's ``meta.name``.
        seed: the replication seed's entropy and spawn key, as a JSON-friendly dict.
        horizon_hours: simulated length of the run.
        warmup_hours: observations before this time are left out of the KPIs.
        kpis: scalar KPIs by name (see ``gridsim.model.metrics``).
        events: the event log, one row per lifecycle event: ``time``, ``order``, ``appeal``,
            ``event`` (code, see ``gridsim.model.vocabulary.EVENT_CODES``), ``level``
            (0 micro-grid .. 3 county, -1 none), ``unit`` (row of ``units``), ``staff``
            (row of ``staff``, -1 none), ``value``.
        appeals: one row per appeal (see ``gridsim.model.engine``).
        orders: one row per work order.
        issues: one row per latent issue that arose.
        staff: one row per staff member, with their workload and points.
        units: one row per handling unit (micro-grid team, grid, desk, department).
        backlog: open work orders sampled every hour: ``time``, ``open``.
        breakdowns: KPI tables by group (by channel, by level, by role ...), by name.
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

    def kpi_table(self) -> pd.DataFrame:
        """The KPIs as a tidy table with columns ``metric`` and ``value``."""
        return pd.DataFrame({"metric": list(self.kpis), "value": list(self.kpis.values())})
