"""The province's tables: one row per county, and each headline KPI across the counties.

The county table holds what each worker sent back (identity, derived figures, scalar KPIs,
costs), one column per KPI. The province summary is a tidy table, one row per KPI: the
population-weighted mean of the county values (what a resident of the province sees on
average), and the spread across counties (median, 10th and 90th percentiles, min, max);
plus the totals (counties, residents, appeals, orders, issues) and the computing cost (CPU
seconds per county and per appeal, the largest peak memory of a county).

Example:
    >>> rows = [{"key": "a", "population": 100, "cpu_s": 2.0, "wall_s": 2.0, "peak_rss_mb": 50,
    ...          "kpis": {"appeals": 10.0, "on_time_rate": 0.5}},
    ...         {"key": "b", "population": 300, "cpu_s": 4.0, "wall_s": 4.0, "peak_rss_mb": 70,
    ...          "kpis": {"appeals": 30.0, "on_time_rate": 0.9}}]
    >>> t = counties_table(rows)
    >>> s = province_summary(t).set_index("metric")
    >>> float(s.loc["on_time_rate", "weighted_mean"]), float(s.loc["appeals", "total"])
    (0.8, 40.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from gridsim.kpi_registry import KPIS, summary_kpis

#: Columns a county row carries besides its KPIs (in this order, those present).
IDENTITY = (
    "key", "code", "name", "name_zh", "city", "city_name", "city_name_zh", "kind",
    "population", "population_source", "towns", "urban_towns", "urban_share",
)  # fmt: skip
#: The computing cost of a county, after its KPIs.
COST = ("cpu_s", "wall_s", "simulate_cpu_s", "simulate_wall_s", "peak_rss_mb", "worker",
        "gridsim_version", "lock_hash", "fingerprint")  # fmt: skip
#: KPIs that add up over counties (counts, points, yuan; not a maximum, not a rate "per"):
#: the province's is their sum, not an average.
TOTALS = tuple(
    k.name for k in KPIS.values()
    if k.unit in ("count", "points", "yuan") and "per_" not in k.name
    and not k.name.endswith("_max")
)  # fmt: skip


def counties_table(summaries: Sequence[dict]) -> pd.DataFrame:
    """One row per county: identity, then one column per KPI, then the costs."""
    rows = []
    for s in summaries:
        row = {k: s.get(k) for k in IDENTITY if k in s}
        row.update(s.get("kpis", {}))
        row.update({k: s.get(k) for k in COST if k in s})
        rows.append(row)
    table = pd.DataFrame(rows)
    kpi_columns = sorted({k for s in summaries for k in s.get("kpis", {})}, key=_kpi_order)
    ordered = [c for c in IDENTITY if c in table] + kpi_columns + [c for c in COST if c in table]
    return table[ordered].reset_index(drop=True)


def _kpi_order(name: str) -> tuple[int, str]:
    names = list(KPIS)
    return (names.index(name) if name in names else len(names), name)


def province_summary(counties: pd.DataFrame) -> pd.DataFrame:
    """One row per KPI (and per cost): total or weighted mean, and the spread over counties.

    Columns: ``metric``, ``total`` (counts only), ``weighted_mean`` (by population),
    ``median``, ``p10``, ``p90``, ``min``, ``max``, ``counties`` (with a value).
    """
    weights = counties["population"].astype(float) if "population" in counties else None
    metrics = [m.name for m in summary_kpis() if m.name in counties]
    metrics += [c for c in counties.columns if c in KPIS and c not in metrics]
    rows = [_row("population", counties["population"], None, True)] if weights is not None else []
    for name in metrics:
        rows.append(_row(name, counties[name], weights, total=name in TOTALS))
    for name in ("cpu_s", "wall_s", "peak_rss_mb"):
        if name in counties:
            rows.append(_row(name, counties[name], None, total=name != "peak_rss_mb"))
    if "cpu_s" in counties and "appeals" in counties and counties["appeals"].sum() > 0:
        per = counties["cpu_s"].sum() / counties["appeals"].sum() * 1e6
        rows.append({"metric": "cpu_us_per_appeal", "total": per, "counties": len(counties)})
    return pd.DataFrame(rows, columns=["metric", "total", "weighted_mean", "median", "p10",
                                       "p90", "min", "max", "counties"])  # fmt: skip


def weighted_mean(values: pd.Series, weights: pd.Series) -> float:
    """The mean of the counties' values weighted by their residents (NaN values left out).

    Example:
        >>> weighted_mean(pd.Series([0.5, 0.9, np.nan]), pd.Series([100, 300, 50]))
        0.8
    """
    ok = values.notna() & weights.notna()
    w = weights[ok].astype(float)
    return float(np.average(values[ok], weights=w)) if w.sum() > 0 else float("nan")


def _row(name: str, values: pd.Series, weights: pd.Series | None, total: bool) -> dict:
    v = pd.to_numeric(values, errors="coerce").astype(float)
    ok = v.notna().to_numpy()
    x = v.to_numpy()[ok]
    row: dict = {"metric": name, "counties": int(ok.sum())}
    if len(x) == 0:
        return row
    if total:
        row["total"] = float(x.sum())
    if weights is not None and not total:
        row["weighted_mean"] = weighted_mean(v, weights)
    row.update(median=float(np.median(x)), p10=float(np.percentile(x, 10)),
               p90=float(np.percentile(x, 90)), min=float(x.min()), max=float(x.max()))  # fmt: skip
    return row


#: KPIs the printed summary shows, as a resident-weighted mean and the spread over counties.
PRINTED = ("share_settled_in_grid", "share_settled_in_town", "proactive_issue_share",
           "response_time_mean_h", "satisfaction_rate")  # fmt: skip


def summary_text(counties: pd.DataFrame, summary: pd.DataFrame) -> str:
    """The province in a few lines: totals, headline KPIs with their spread, the cost.

    Example:
        >>> rows = [{"key": "a", "population": 100, "cpu_s": 2.0, "peak_rss_mb": 50,
        ...          "kpis": {"appeals": 10.0, "share_settled_in_grid": 0.5}}]
        >>> print(summary_text(counties_table(rows), province_summary(counties_table(rows))))
        1 counties, 100 residents, 10 appeals
          Issues settled within the grid: 50.0% (by residents; counties 50.0% to 50.0%, p10-p90)
          CPU 2.0 s (2.0 s a county, 200000 µs an appeal); largest county peak 50 MiB
    """
    from gridsim.kpi_registry import kpi

    s = summary.set_index("metric")
    lines = [f"{len(counties)} counties, {counties['population'].sum():,.0f} residents, "
             f"{s.loc['appeals', 'total']:,.0f} appeals" if "appeals" in s.index
             else f"{len(counties)} counties"]  # fmt: skip
    for name in PRINTED:
        if name in s.index:
            k, r = kpi(name), s.loc[name]
            spread = f"counties {k.show(r['p10'])} to {k.show(r['p90'])}, p10-p90"
            lines.append(f"  {k.label_en}: {k.show(r['weighted_mean'])} (by residents; {spread})")
    if "cpu_s" in s.index:
        cpu = s.loc["cpu_s"]
        per = (f", {s.loc['cpu_us_per_appeal', 'total']:.0f} µs an appeal"
               if "cpu_us_per_appeal" in s.index else "")  # fmt: skip
        peak = (f"; largest county peak {s.loc['peak_rss_mb', 'max']:.0f} MiB"
                if "peak_rss_mb" in s.index else "")  # fmt: skip
        lines.append(f"  CPU {cpu['total']:.1f} s ({cpu['total'] / len(counties):.1f} s a county"
                     f"{per}){peak}")  # fmt: skip
    return "\n".join(lines)
