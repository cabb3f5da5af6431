"""Tests for the figure modules of gridsim.output and its labels: every figure, both languages.

The figures are drawn from synthetic run tables built here with numpy to match
docs/data_model.md column for column, and from a real 10-day run of
scenarios/one_town.toml. Warnings are errors while drawing, so a matplotlib
"Glyph ... missing from font" warning (tofu) fails the test.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from gridsim.errors import UserError
from gridsim.kpi_registry import KPIS
from gridsim.model.records import RunResult
from gridsim.output import (
    comparison_figures,
    figure_dirs,
    flow_figures,
    fonts,
    i18n,
    staff_figures,
    style,
    time_figures,
)
from gridsim.output import hierarchy_figure as hierarchy
from gridsim.output.run_dir import save_run

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
ONE_TOWN = ROOT / "scenarios" / "one_town.toml"
CJK = re.compile(r"[\u4e00-\u9fff]")
LANGS = ("zh", "en")

# --------------------------------------------------------------------------- synthetic run

CHANNELS = ["app", "hotline", "walk_in", "petition", "visit", "reopen"]
CATEGORIES = ["problem_reports", "neighbour_dispute", "land_dispute", "enterprise_appeal"]
GRID_ROLES = ["grid_instructor", "grid_leader", "grid_worker"]
MICRO_ROLES = ["microgrid_leader", "grid_assistant"]
#: Roles whose duties are noticing and helping, not work orders (building and lane leaders).
NO_ORDER_ROLES = {"grid_assistant"}
#: Who noticed a synthetic issue first (column found_by), with probabilities.
FINDERS = {"report": 0.45, "visit": 0.25, "building_leader": 0.08, "party_member": 0.07,
           "screening": 0.02, "none": 0.13}  # fmt: skip


def _units(rng: np.random.Generator, towns: int, grids: int, micros: int) -> pd.DataFrame:
    rows: list[dict] = []

    def add(kind: str, level: int, name: str, town: int, parent: int, households: int) -> int:
        uid = len(rows)
        rows.append(
            {
                "unit": uid,
                "kind": kind,
                "level": level,
                "name": name,
                "town": town,
                "town_name": f"Town{town}" if town >= 0 else "",
                "parent": parent,
                "servers": 1,
                "households": households,
                "population": round(households * 2.9),
                "busy_hours": 0.0,
                "used_hours": 0.0,
                "available_hours": 0.0,
                "party_members": 0.0,
                "party_active": False,
                "party_hours_budget": 0.0,
                "party_hours_used": 0.0,
            }
        )
        return uid

    county = add("county", 3, "County", -1, -1, 0)
    for desk in ("grid_management", "hotline", "petition", "mediation"):
        add("county_desk", 3, f"county {desk} desk", -1, county, 0)
    add("department", 3, "justice", -1, county, 0)
    per_town = np.maximum(1, rng.multinomial(grids - towns, np.ones(towns) / towns) + 1)
    for t in range(towns):
        town_hh = 0
        town = add("town", 2, f"Town{t}", t, county, 0)
        add("town_desk", 2, f"town desk {t}", t, town, 0)
        for g in range(per_town[t]):
            n_mg = max(1, int(rng.poisson(micros / grids)))
            sizes = rng.integers(25, 70, size=n_mg)
            grid = add("grid", 1, f"Town{t} grid {g + 1}", t, town, int(sizes.sum()))
            town_hh += int(sizes.sum())
            for m, hh in enumerate(sizes):
                add("microgrid", 0, f"Town{t} grid {g + 1}.{m + 1}", t, grid, int(hh))
        add("exclusive_grid", 1, f"Town{t} market 1", t, town, 0)
        rows[town]["households"] = town_hh
    return pd.DataFrame(rows)


def _orders(rng: np.random.Generator, units: pd.DataFrame, n: int, hours: float) -> pd.DataFrame:
    micros = units[units["kind"] == "microgrid"]
    pick = micros.sample(n, replace=True, random_state=int(rng.integers(1 << 31)))
    created = np.sort(rng.uniform(0, hours, n))
    response = created + rng.lognormal(1.5, 1.2, n)
    response[rng.random(n) < 0.05] = np.nan
    level = rng.choice([0, 1, 2, 3, -1], size=n, p=[0.35, 0.25, 0.2, 0.1, 0.1])
    resolved = np.where(level >= 0, np.fmax(response, created) + rng.gamma(2, 20, n), np.nan)
    on_time = np.where(level >= 0, (rng.random(n) < 0.85).astype(float), np.nan)
    satisfied = np.where(level >= 0, (rng.random(n) < 0.9).astype(float), np.nan)
    channel = rng.choice(CHANNELS, size=n, p=[0.4, 0.3, 0.12, 0.05, 0.1, 0.03])
    town = pick["town"].to_numpy()
    return pd.DataFrame(
        {
            "order": np.arange(n),
            "issue": np.arange(n),
            "category": rng.choice(CATEGORIES, size=n),
            "channel": channel,
            "desk": "grid_management",
            "town": town,
            "town_name": [f"Town{t}" for t in town],
            "microgrid": pick["unit"].to_numpy(),
            "grid": pick["parent"].to_numpy(),
            "created": created,
            "first_response": response,
            "resolved": resolved,
            "resolved_level": level,
            "escalations": np.where(level > 0, level, 0),
            "on_time": on_time,
            "satisfied": satisfied,
            "proactive": channel == "visit",
            "urgent": rng.random(n) < 0.05,
            "joint": rng.random(n) < 0.03,
            "priority": False,
            "duplicate": False,
            "declined": False,
            "brushed_off": rng.random(n) < 0.03,
            "false_closure_found": False,
            "handoff_hours": np.where(level >= 2, 8.0, 0.0),
            "time_limit_hours": 168.0,
            "externality": "none",
            "households": rng.integers(1, 6, n),
            "harmed_households": 0.0,
            "no_smartphone": rng.random(n) < 0.2,
            "arose": created - rng.exponential(24.0, n),
            "appeals": rng.integers(1, 4, n),
        }
    )


def _staff(rng: np.random.Generator, units: pd.DataFrame, hours: float) -> pd.DataFrame:
    rows = []
    roles_by_kind = {
        "microgrid": MICRO_ROLES,
        "grid": GRID_ROLES,
        "exclusive_grid": ["exclusive_grid_worker"],
        "town_desk": ["town_officer"],
        "county_desk": ["county_officer"],
        "department": ["department_officer"],
    }
    for unit in units.itertuples():
        for role in roles_by_kind.get(unit.kind, []):
            available = hours * rng.uniform(0.05, 0.8)
            takes_orders = role not in NO_ORDER_ROLES
            handled = int(rng.poisson(6)) if takes_orders else 0
            resolved = int(rng.binomial(handled, 0.8))
            on_time = int(rng.binomial(resolved, 0.85))
            finds = int(rng.poisson(1))
            busy = available * rng.beta(2, 3) if takes_orders else 0.0
            tasks = available * 0.1
            visit_hours = hours * 0.02
            contacts = 0.0 if takes_orders else available * rng.beta(2, 5)
            helped = 0.0 if takes_orders else available * 0.05
            rows.append(
                {
                    "staff": len(rows),
                    "role": role,
                    "level": unit.level,
                    "unit": unit.unit,
                    "town": unit.town,
                    "female": bool(rng.random() < 0.5),
                    "skills": "mediator" if rng.random() < 0.3 else "",
                    "available_hours": available,
                    "busy_hours": busy,
                    "task_hours": tasks,
                    "visit_hours": visit_hours,
                    "visits": visit_hours / 0.35,
                    "contact_hours": contacts,
                    "help_hours": helped,
                    "used_hours": busy + tasks + visit_hours + contacts + helped,
                    "orders_handled": handled,
                    "orders_resolved": resolved,
                    "on_time": on_time,
                    "satisfied": int(rng.binomial(resolved, 0.9)),
                    "feedback": resolved,
                    "proactive_finds": finds,
                    "points": float(resolved + on_time + 2 * finds),
                    "wage_yuan": 1000.0,
                }
            )
    return pd.DataFrame(rows)


def make_run(
    seed: int = 1, towns: int = 3, grids: int = 24, micros: int = 180, orders: int = 600
) -> RunResult:
    """A synthetic RunResult whose tables match docs/data_model.md."""
    rng = np.random.default_rng(seed)
    days = 30
    hours = days * 24.0
    units = _units(rng, towns, grids, micros)
    order_table = _orders(rng, units, orders, hours)
    staff = _staff(rng, units, hours)
    time = np.arange(0, hours + 1, 1.0)
    open_ = np.array(
        [((order_table["created"] <= t) & ~(order_table["resolved"] <= t)).sum() for t in time]
    )
    appeals = pd.DataFrame(
        {
            "appeal": np.arange(orders),
            "issue": order_table["issue"],
            "order": order_table["order"],
            "category": order_table["category"],
            "channel": order_table["channel"],
            "town": order_table["town"],
            "microgrid": order_table["microgrid"],
            "created": order_table["created"],
            "no_smartphone": rng.random(orders) < 0.2,
            "merged": False,
        }
    )
    found_by = rng.choice(list(FINDERS), size=orders, p=list(FINDERS.values()))
    nobody = found_by == "none"
    on_spot = ~nobody & (found_by != "report") & (rng.random(orders) < 0.6)
    issues = pd.DataFrame(
        {
            "issue": order_table["issue"],
            "category": order_table["category"],
            "town": order_table["town"],
            "microgrid": order_table["microgrid"],
            "arose": order_table["created"] - 1.0,
            "households": order_table["households"],
            "no_smartphone": rng.random(orders) < 0.2,
            "found_by": pd.Categorical(found_by, categories=list(FINDERS)),
            "first_known": np.where(nobody, np.nan, order_table["created"]),
            "first_report": np.where(found_by == "report", order_table["created"], np.nan),
            "on_spot": on_spot,
            "lapsed": nobody & (rng.random(orders) < 0.5),
            "resolved": order_table["resolved"],
            "incident": False,
            "incident_probability": 0.001,
            "incident_time": np.nan,
            "incident_type": "",
        }
    )
    events = pd.DataFrame(
        {
            "time": order_table["created"].to_numpy(np.float64),
            "order": order_table["order"].to_numpy(np.int32),
            "appeal": order_table["order"].to_numpy(np.int32),
            "event": np.zeros(orders, np.int8),
            "level": np.full(orders, -1, np.int8),
            "unit": order_table["microgrid"].to_numpy(np.int32),
            "staff": np.full(orders, -1, np.int32),
            "value": np.ones(orders, np.float32),
        }
    )
    return RunResult(
        scenario_name="synthetic",
        seed={"entropy": seed, "spawn_key": []},
        horizon_hours=hours,
        warmup_hours=0.0,
        kpis={"orders": float(orders)},
        events=events,
        appeals=appeals,
        orders=order_table,
        issues=issues,
        staff=staff,
        units=units,
        backlog=pd.DataFrame({"time": time, "open": open_}),
    )


def make_tidy(seed: int = 2, reps: int = 4) -> pd.DataFrame:
    """A sweep's tidy table: two factors, 3 x 2 variants, a few metrics."""
    rng = np.random.default_rng(seed)
    rows = []
    for hh in (300, 400, 500):
        for policy in ("strict_ladder", "direct_triage"):
            variant = f"households_per_grid={hh},policy={policy}"
            for r in range(reps):
                base = {
                    "resolution_time_mean_h": 40
                    + hh / 20
                    + (5 if policy == "strict_ladder" else 0),
                    "on_time_rate": 0.95 - hh / 5000,
                    "share_resolved_in_grid": 0.5 + (0.1 if policy == "strict_ladder" else 0),
                    "satisfaction_rate": 0.9 - hh / 10000,
                }
                for metric, mean in base.items():
                    rows.append(
                        {
                            "variant": variant,
                            "grids.households_per_grid": hh,
                            "escalation.policy": policy,
                            "replication": r,
                            "metric": metric,
                            "value": mean * (1 + rng.normal(0, 0.02)),
                        }
                    )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def run() -> RunResult:
    return make_run()


@pytest.fixture(scope="module")
def big_units() -> tuple[pd.DataFrame, pd.DataFrame]:
    big = make_run(seed=3, towns=14, grids=800, micros=6000, orders=20000)
    return big.units, big.orders


@pytest.fixture(scope="module")
def scenario():
    from gridsim import load_scenario

    return load_scenario(ONE_TOWN)


def figure_texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def draw_strictly(make, *args, **kwargs) -> Figure:
    """Build, lay out and rasterise a figure with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = make(*args, **kwargs)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=60)
    assert buffer.getbuffer().nbytes > 1000
    return fig


def assert_language(fig: Figure, lang: str, expected: list[str]) -> None:
    texts = figure_texts(fig)
    joined = "\n".join(texts)
    for wanted in expected:
        assert wanted in joined, f"{wanted!r} not among the figure's texts"
    if lang == "zh":
        assert any(CJK.search(t) for t in texts)
    else:
        assert not any(CJK.search(t) for t in texts), [t for t in texts if CJK.search(t)]


def assert_drawn(fig: Figure) -> None:
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert visible
    for ax in visible:
        artists = ax.patches + ax.lines + ax.collections + ax.images + ax.texts
        assert artists, f"empty axes {ax.get_title()!r}"


# --------------------------------------------------------------------------- i18n


def test_setup_fonts_registers_a_cjk_family():
    family = fonts.setup_fonts("zh")
    assert family is not None
    assert matplotlib.rcParams["font.sans-serif"][0] == family
    assert "DejaVu Sans" in matplotlib.rcParams["font.sans-serif"]
    assert matplotlib.rcParams["axes.unicode_minus"] is False
    from matplotlib.font_manager import FontProperties, findfont
    from matplotlib.ft2font import FT2Font

    path = findfont(FontProperties(family=family), fallback_to_default=False)
    font = FT2Font(str(path))
    assert all(font.get_char_index(ord(ch)) for ch in "网格镇街微县级诉求")


def test_setup_fonts_without_cjk_font_says_what_to_install(monkeypatch):
    monkeypatch.setattr(fonts, "_register_cjk_font", lambda: None)
    with pytest.raises(fonts.FontNotFoundError, match="pip install noto-cjk-sans-otc"):
        fonts.setup_fonts("zh")
    assert fonts.setup_fonts("en") is None  # English still works


def test_every_label_has_both_languages():
    kpi_names = {k: {"en": r.label_en, "zh": r.label_zh} for k, r in KPIS.items()}
    tables = (i18n.LABELS, kpi_names, i18n.FACTOR_LABELS, i18n.EVENT_LABELS, i18n.KIND_LABELS)
    for table in tables:
        for key, entry in table.items():
            assert set(entry) == {"en", "zh"}, key
            if re.search(r"\w", entry["en"].replace("{", "").replace("}", "")):
                assert CJK.search(entry["zh"]), f"{key}: zh label has no Chinese"
            assert not CJK.search(entry["en"].replace("未诉先办", "")), key


def test_label_and_levels():
    assert i18n.label("flow_note", "zh", n=3) == "共3件工单"
    assert [i18n.level_label(i, "zh") for i in (0, 1, 2, 3)] == ["微网格", "网格", "镇街", "县级"]
    assert [i18n.level_label(i, "en") for i in (0, 1, 2, 3)] == [
        "micro-grid",
        "grid",
        "town",
        "county",
    ]
    with pytest.raises(KeyError):
        i18n.label("no_such_label", "en")
    with pytest.raises(ValueError, match="lang"):
        i18n.label("flow_left", "fr")


def test_names_come_from_the_scenario(scenario):
    names = i18n.Names.from_scenario(scenario)
    assert names.town(0, "zh") == "武台镇"
    assert names.town(0, "en") == "Wutai"
    assert names.category("land_dispute", "zh") == "土地纠纷"
    assert names.category("land_dispute", "en") == "Land dispute"
    assert names.channel("hotline", "zh") == "12345热线"
    assert names.role("grid_assistant", "zh").startswith("网格助理员")
    assert names.channel("visit", "zh") == "走访发现"  # built in, not in the scenario
    assert names.category("unknown_key", "zh") == "unknown_key"
    assert names.town(-1, "zh") == "县级"


def test_event_labels_cover_every_event_code():
    from gridsim.model.vocabulary import EVENT_CODES

    for code, name in EVENT_CODES.items():
        assert CJK.search(i18n.event_label(code, "zh")), name
        assert i18n.event_label(name, "en") != name


def test_kpi_and_value_labels():
    assert i18n.kpi_label("utilisation_grid", "zh") == "网格利用率"
    assert i18n.kpi_label("utilisation_grid_worker", "zh") == "专职网格员利用率"
    assert i18n.value_label("direct_triage", "zh") == "直接分级派单"
    assert i18n.value_label(True, "zh") == "是"
    assert i18n.short("县直部门工作人员（派驻）") == "县直部门工作人员"


# --------------------------------------------------------------------------- figures


def _figures(run: RunResult, tidy: pd.DataFrame, summary: pd.DataFrame, names=None):
    """(name, callable(lang) -> Figure, texts expected per lang) for every figure."""
    return [
        (
            "hierarchy",
            lambda lg: hierarchy.hierarchy_figure(run.units, run.orders, lg, scenario=names),
            {
                "zh": ["县域网格层级", "每千户工单数"],
                "en": ["County hierarchy", "per 1,000 households"],
            },
        ),
        (
            "flow",
            lambda lg: flow_figures.escalation_flow_figure(run.orders, lg, scenario=names),
            {
                "zh": ["受理渠道", "办结层级", "微网格", "未办结"],
                "en": ["Entry channel", "still open"],
            },
        ),
        (
            "backlog",
            lambda lg: time_figures.backlog_figure(run.backlog, lg),
            {"zh": ["在办工单数", "时间（天）"], "en": ["Open work orders", "Time (days)"]},
        ),
        (
            "ecdf",
            lambda lg: time_figures.response_ecdf_figure(run.orders, lg, scenario=names),
            {"zh": ["首次响应", "1天"], "en": ["first response", "1 d"]},
        ),
        (
            "where",
            lambda lg: flow_figures.resolved_where_figure(
                run.orders, lg, grid_target=0.6, town_target=0.9
            ),
            {
                "zh": ["小事不出网格，大事不出镇街", "目标 60%（示意）", "目标仅为示意"],
                "en": ["within the grid", "target 60 % (illustrative)", "illustrative"],
            },
        ),
        (
            "noticing",
            lambda lg: flow_figures.noticing_figure(run.issues, lg),
            {
                "zh": ["问题由谁最先发现", "走访入户", "联户党员", "当场化解", "无人知晓"],
                "en": ["Who noticed issues first", "household visit", "settled on the spot"],
            },
        ),
        (
            "util",
            lambda lg: staff_figures.utilisation_heatmap(run.staff, run.units, lg, scenario=names),
            {
                "zh": ["利用率", "县级", "已用工时"],
                "en": ["Utilisation", "County level", "hours used"],
            },
        ),
        (
            "ranking",
            lambda lg: staff_figures.ranking_figure(run.staff, lg, units=run.units, scenario=names),
            {"zh": ["积分", "按时率"], "en": ["Points", "on time"]},
        ),
        (
            "kpi",
            lambda lg: comparison_figures.kpi_comparison_figure(summary, None, lg),
            {"zh": ["平均办结时长", "95%置信区间"], "en": ["Mean resolution time", "confidence"]},
        ),
        (
            "tornado",
            lambda lg: comparison_figures.tornado_figure(tidy, "resolution_time_mean_h", lg),
            {"zh": ["每网格户数", "逐级上报"], "en": ["Households per grid", "strict ladder"]},
        ),
        (
            "welch",
            lambda lg: comparison_figures.welch_figure(
                np.vstack([run.backlog["open"].to_numpy(float)] * 3) + np.arange(3)[:, None], lg
            ),
            {"zh": ["MSER-5截断点", "移动平均"], "en": ["MSER-5 truncation", "moving average"]},
        ),
    ]


@pytest.fixture(scope="module")
def sweep() -> tuple[pd.DataFrame, pd.DataFrame]:
    from gridsim.analysis.stats import summarise

    tidy = make_tidy()
    return tidy, summarise(tidy)


FIGURE_NAMES = [
    "hierarchy",
    "flow",
    "backlog",
    "ecdf",
    "where",
    "noticing",
    "util",
    "ranking",
    "kpi",
    "tornado",
    "welch",
]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", FIGURE_NAMES)
def test_figure_renders_cleanly_from_synthetic_tables(run, sweep, name, lang):
    tidy, summary = sweep
    ((make, expected),) = [(m, e) for n, m, e in _figures(run, tidy, summary) if n == name]
    fig = draw_strictly(make, lang)
    assert_drawn(fig)
    assert_language(fig, lang, expected[lang])


@pytest.mark.parametrize("lang", LANGS)
def test_hierarchy_stays_readable_at_county_scale(big_units, lang):
    units, orders = big_units
    assert (units["kind"] == "grid").sum() >= 700
    assert (units["kind"] == "microgrid").sum() >= 5000
    fig = draw_strictly(hierarchy.hierarchy_figure, units, orders, lang)
    ax = fig.axes[0]
    tiles = ax.collections[0]
    # aggregated to grids: one tile per grid, not one per micro-grid
    assert len(tiles.get_paths()) == (units["kind"] == "grid").sum()
    town_labels = [t for t in ax.texts if t.get_text()]
    assert 10 <= len(town_labels) <= 14
    assert_language(fig, lang, ["网格"] if lang == "zh" else ["grids"])


def test_hierarchy_draws_micro_grids_when_few(run):
    fig = hierarchy.hierarchy_figure(run.units, run.orders, "en")
    n_micro = (run.units["kind"] == "microgrid").sum()
    assert len(fig.axes[0].collections[0].get_paths()) == n_micro
    assert "micro-grids" in fig.axes[0].get_title()


def test_hierarchy_colour_is_the_kpi(run):
    fig = hierarchy.hierarchy_figure(run.units, run.orders, "en", kpi="orders_per_1000_households")
    values = np.ma.filled(fig.axes[0].collections[0].get_array(), np.nan)
    micro = run.units[run.units["kind"] == "microgrid"]
    counts = run.orders.groupby("microgrid").size()
    # tiles are laid out town by town, grid by grid: compare as multisets
    expected = 1000 * counts.reindex(micro["unit"]).fillna(0).to_numpy() / micro["households"]
    assert np.allclose(np.sort(values), np.sort(expected.to_numpy()))


def test_flow_bands_conserve_orders(run):
    fig = flow_figures.escalation_flow_figure(run.orders, "en")
    texts = figure_texts(fig)
    total = len(run.orders)
    assert any(f"{total:,}" in t for t in texts)
    open_n = int((run.orders["resolved_level"] == -1).sum())
    assert any(t.startswith("still open") and f"{open_n:,}" in t for t in texts)


def test_flow_accepts_categorical_channels(run):
    orders = run.orders.copy()
    orders["channel"] = pd.Categorical(orders["channel"], categories=[*CHANNELS, "unused"])
    fig = draw_strictly(flow_figures.escalation_flow_figure, orders, "en")
    assert not any(t.startswith("Unused") for t in figure_texts(fig))


def test_backlog_band_across_replications(run):
    reps = [run.backlog.assign(open=run.backlog["open"] + k) for k in range(5)]
    fig = draw_strictly(time_figures.backlog_figure, reps, "en")
    ax = fig.axes[0]
    assert len(ax.collections) == 1  # the band
    assert "min–max" in " ".join(figure_texts(fig))
    median = ax.lines[0].get_ydata()
    assert np.allclose(median, run.backlog["open"] + 2)


def test_ecdf_is_log_scaled_and_ends_at_the_responded_share(run):
    fig = time_figures.response_ecdf_figure(run.orders, "en")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    app = run.orders[run.orders["channel"] == "app"]
    responded = app["first_response"].notna().mean()
    line = ax.lines[0]  # app comes first
    assert line.get_ydata()[-1] == pytest.approx(responded)
    assert any(t.get_text() == "1 d" for t in ax.get_xticklabels())


def test_resolved_where_shares(run):
    fig = flow_figures.resolved_where_figure(run.orders, "en", grid_target=0.5, town_target=0.8)
    left, right = fig.axes
    resolved = run.orders[run.orders["resolved_level"] >= 0]["resolved_level"]
    shares = resolved.value_counts(normalize=True).reindex([0, 1, 2, 3], fill_value=0)
    assert [p.get_height() for p in left.patches] == pytest.approx(shares.tolist())
    within = [p.get_height() for p in right.patches]
    assert within == pytest.approx([shares[0] + shares[1], shares[0] + shares[1] + shares[2]])
    # no targets.source: the targets are labelled illustrative, and the note says why
    texts = set(figure_texts(fig))
    assert {"target 50 % (illustrative)", "target 80 % (illustrative)"} <= texts
    assert any("Targets are illustrative" in t for t in texts)


def test_resolved_where_without_targets_has_no_target_note(run):
    fig = flow_figures.resolved_where_figure(run.orders, "en")
    assert not any("target" in t.lower() for t in figure_texts(fig) if "Against" not in t)


@pytest.mark.parametrize("lang", LANGS)
def test_resolved_where_targets_with_a_source_show_it(run, lang):
    source = "Pingyi 2024 report"
    fig = draw_strictly(
        flow_figures.resolved_where_figure, run.orders, lang, 0.5, 0.8, target_source=source
    )
    texts = figure_texts(fig)
    assert not any("illustrative" in t or "示意" in t for t in texts)
    v = "50%" if lang == "zh" else "50 %"
    words = {"zh": f"目标 {v}（{source}）", "en": f"target {v} ({source})"}
    assert words[lang] in texts
    assert_language(fig, lang, ["目标出处：Pingyi"] if lang == "zh" else ["Targets: Pingyi"])
    # a long source is cut short on the line's label; the note gives it whole
    long = "Pingyi County people's government, 2024 work report on grid governance"
    fig = flow_figures.resolved_where_figure(run.orders, lang, 0.5, None, target_source=long)
    texts = figure_texts(fig)
    assert any(long in t for t in texts)
    assert any(t.startswith(words[lang][:8]) and t.endswith("…)" if lang == "en" else "…）")
               for t in texts)  # fmt: skip


def test_resolved_where_chinese_source_keeps_the_english_figure_latin(run):
    source = "平邑县2024年政府工作报告"
    en = draw_strictly(flow_figures.resolved_where_figure, run.orders, "en", 0.5, None, source)
    assert_language(en, "en", ["target 50 % (targets.source)"])
    zh = draw_strictly(flow_figures.resolved_where_figure, run.orders, "zh", 0.5, None, source)
    assert any(source in t for t in figure_texts(zh))


def test_noticing_shares(run):
    fig = flow_figures.noticing_figure(run.issues, "en")
    ax = fig.axes[0]
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names[0] == "a household's report" and names[-1] == "nobody"  # top to bottom
    issues = run.issues
    found = issues["found_by"].astype(str)
    # one stacked bar per finder, top to bottom; widths add up to each finder's share
    totals: dict[float, float] = {}
    for patch in ax.patches:
        y = round(patch.get_y() + patch.get_height() / 2, 6)
        totals[y] = totals.get(y, 0.0) + patch.get_width()
    by_row = [totals[k] for k in sorted(totals, reverse=True)]  # top row first
    order = ["report", "visit", "building_leader", "party_member", "screening", "none"]
    assert by_row == pytest.approx([(found == w).mean() for w in order])
    spot = [p for p in ax.patches if p.get_facecolor()[:3] == matplotlib.colors.to_rgb("#009E73")]
    assert sum(p.get_width() for p in spot) == pytest.approx(issues["on_spot"].mean())
    assert sum(totals.values()) == pytest.approx(1.0)


def test_noticing_needs_the_columns_of_the_noticing_race(run):
    with pytest.raises(style.FigureDataError, match="found_by"):
        flow_figures.noticing_figure(run.issues.drop(columns=["found_by"]), "en")


def test_utilisation_cells(run):
    fig = staff_figures.utilisation_heatmap(run.staff, run.units, "en")
    grid = fig.axes[0].images[0].get_array()
    staff = run.staff
    sel = staff[(staff["town"] == 0) & (staff["role"] == "grid_worker")]
    expected = sel["used_hours"].sum() / sel["available_hours"].sum()
    roles = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    towns = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert towns[-1] == "County level"
    assert grid[towns.index("Town0"), roles.index("Grid worker")] == pytest.approx(expected)


def test_utilisation_of_a_role_without_orders_is_its_other_hours(run):
    """A building leader takes no work orders: its cell is its contacts and help, marked *."""
    fig = draw_strictly(staff_figures.utilisation_heatmap, run.staff, run.units, "en")
    grid = fig.axes[0].images[0].get_array()
    roles = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    towns = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "Grid assistant*" in roles and "Grid worker" in roles  # only the idle role marked
    sel = run.staff[(run.staff["town"] == 0) & (run.staff["role"] == "grid_assistant")]
    assert sel["busy_hours"].sum() == 0
    cell = grid[towns.index("Town0"), roles.index("Grid assistant*")]
    assert cell == pytest.approx(sel["used_hours"].sum() / sel["available_hours"].sum())
    assert cell > 0
    assert any(t.startswith("* takes no work orders") for t in figure_texts(fig))
    # the roles can be named, as run_figures does from the scenario's duties
    named = staff_figures.utilisation_heatmap(run.staff, run.units, "zh", no_orders=["grid_worker"])
    ticks = [t.get_text() for t in named.axes[0].get_xticklabels()]
    assert "专职网格员*" in ticks and "网格助理员" in ticks
    assert any(t.startswith("* 不承接工单") for t in figure_texts(named))


def test_utilisation_of_an_older_run_is_its_order_hours(run):
    """A run saved before used_hours existed still draws, from busy_hours."""
    staff = run.staff.drop(columns=["used_hours"])
    fig = staff_figures.utilisation_heatmap(staff, run.units, "en")
    grid = fig.axes[0].images[0].get_array()
    roles = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    towns = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    sel = staff[(staff["town"] == 0) & (staff["role"] == "grid_worker")]
    expected = sel["busy_hours"].sum() / sel["available_hours"].sum()
    assert grid[towns.index("Town0"), roles.index("Grid worker")] == pytest.approx(expected)
    assert fig.axes[0].get_title().startswith("Staff utilisation (busy")


def test_ranking_shows_the_top_ten(run):
    fig = staff_figures.ranking_figure(run.staff, "en", units=run.units)
    ax = fig.axes[0]
    workers = run.staff[run.staff["role"] == "grid_worker"]
    best = workers["points"].nlargest(10)
    assert sorted(p.get_width() for p in ax.patches) == sorted(best.tolist())
    assert ax.patches[-1].get_width() == best.max()  # the best on top
    assert sum(" orders, " in t.get_text() for t in ax.texts) == 10
    with pytest.raises(ValueError, match="no staff with role"):
        staff_figures.ranking_figure(run.staff, "en", role="astronaut")


def test_kpi_comparison_error_bars_match_summary(sweep):
    _, summary = sweep
    metrics = ["on_time_rate", "satisfaction_rate"]
    fig = comparison_figures.kpi_comparison_figure(summary, metrics, "en")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["On-time rate", "Satisfaction rate"]
    rows = summary[summary["metric"] == "on_time_rate"]
    segments = visible[0].collections[0].get_segments()
    assert segments[0][0][0] == pytest.approx(rows["low"].iloc[0])
    assert segments[0][1][0] == pytest.approx(rows["high"].iloc[0])


def test_kpi_comparison_single_replication_has_no_interval():
    summary = pd.DataFrame(
        {
            "variant": ["a", "b"],
            "metric": ["on_time_rate"] * 2,
            "mean": [0.8, 0.9],
            "half_width": [np.inf] * 2,
            "low": [-np.inf] * 2,
            "high": [np.inf] * 2,
            "n": [1, 1],
        }
    )
    fig = draw_strictly(comparison_figures.kpi_comparison_figure, summary, ["on_time_rate"], "zh")
    assert "仅1次重复，无区间" in figure_texts(fig)


def _escalation_summary() -> pd.DataFrame:
    """A summary like the escalation-rules experiment's: explicit variants, one long name."""
    variants = {
        "strict_ladder": ("strict_ladder", 0.02, 70.0),
        "direct_triage": ("direct_triage", 0.02, 52.0),
        "strict_ladder, more shirking": ("strict_ladder", 0.1, 75.0),
    }
    return pd.DataFrame(
        [
            {
                "variant": name,
                "metric": "resolution_time_mean_h",
                "escalation.policy": policy,
                "escalation.shirking_probability": shirking,
                "mean": mean,
                "half_width": 1.0,
                "low": mean - 1,
                "high": mean + 1,
                "n": 5,
            }
            for name, (policy, shirking, mean) in variants.items()
        ]
    )


#: The Chinese names an escalation-rules manifest keeps.
ESCALATION_ZH = {
    "strict_ladder": "逐级上报",
    "direct_triage": "直接分级派单",
    "strict_ladder, more shirking": "逐级上报（推诿上交多）",
}


def _ticks(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_yticklabels()]


def test_kpi_comparison_shows_given_chinese_names():
    summary = _escalation_summary()
    metrics = ["resolution_time_mean_h"]
    draw = comparison_figures.kpi_comparison_figure
    fig = draw_strictly(draw, summary, metrics, "zh", names=ESCALATION_ZH)
    assert _ticks(fig) == list(ESCALATION_ZH.values())
    assert fig.axes[0].get_ylabel() == ""
    # English is as before: the long key gives way to the factor values, named on the axis
    en = comparison_figures.kpi_comparison_figure(summary, metrics, "en")
    assert _ticks(en) == ["strict ladder / 0.02", "direct triage / 0.02", "strict ladder / 0.1"]
    en_named = comparison_figures.kpi_comparison_figure(
        summary, metrics, "en", names=i18n.variant_labels({"variants": []}, "en")
    )
    assert _ticks(en_named) == _ticks(en)
    # without Chinese names (older results), Chinese falls back the same way
    zh = comparison_figures.kpi_comparison_figure(summary, metrics, "zh")
    assert _ticks(zh) == ["逐级上报 · 0.02", "直接分级派单 · 0.02", "逐级上报 · 0.1"]
    # short labels (design points) still win over names
    fig = comparison_figures.kpi_comparison_figure(
        summary, metrics, "zh", {"direct_triage": "DT"}, names=ESCALATION_ZH
    )
    assert _ticks(fig) == ["逐级上报", "DT", "逐级上报（推诿上交多）"]


def test_variant_labels_from_a_manifest():
    paths = ["grids.households_per_grid", "escalation.shirking_probability"]
    manifest = {
        "factor_paths": paths,
        "variants": [
            {"name": "separate desks", "name_zh": "四台分设", "overrides": {}},
            {"name": "merged centres", "overrides": {"centre.merged_town": True}},
            {"name": "strict_ladder", "overrides": {"escalation.policy": "strict_ladder"}},
            {  # a design point of a manifest written before name_zh existed
                "name": "households_per_grid=300,shirking_probability=0.1",
                "overrides": {paths[0]: 300, paths[1]: 0.1},
                "label": "300, 0.1",
            },
        ],
    }
    assert i18n.variant_labels(manifest, "zh") == {
        "separate desks": "四台分设",
        "merged centres": "merged centres",  # no name_zh: the English name
        "strict_ladder": "逐级上报",  # a policy name: translated as before
        "households_per_grid=300,shirking_probability=0.1": (
            "每网格户数=300，shirking_probability=0.1"
        ),
    }
    assert i18n.variant_labels(manifest, "en") == {
        "separate desks": "separate desks",
        "merged centres": "merged centres",
        "strict_ladder": "strict ladder",
        "households_per_grid=300,shirking_probability=0.1": (
            "households_per_grid=300,shirking_probability=0.1"
        ),
    }
    assert i18n.variant_labels({}, "zh") == {}


def _sweep_dir(root: Path, manifest: dict | None) -> Path:
    from gridsim.analysis.stats import summarise

    summary = _escalation_summary()
    tidy = pd.concat([summary.assign(replication=r, value=summary["mean"] + r) for r in range(3)])[
        ["variant", "escalation.policy", "escalation.shirking_probability", "replication"]
    ]
    tidy = tidy.assign(metric="resolution_time_mean_h", value=np.arange(len(tidy), dtype=float))
    root.mkdir(parents=True, exist_ok=True)
    tidy.to_parquet(root / "tidy.parquet")
    summarise(tidy).to_csv(root / "summary.csv", index=False)
    if manifest is not None:
        (root / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    return root


@pytest.mark.parametrize("with_zh", [True, False, None])
def test_plot_sweep_uses_the_manifests_chinese_names(tmp_path, monkeypatch, with_zh):
    variants = [
        {"name": k, "overrides": {}, **({"name_zh": v} if with_zh else {})}
        for k, v in ESCALATION_ZH.items()
    ]
    root = _sweep_dir(tmp_path / "s", None if with_zh is None else {"variants": variants})
    ticks = {}
    original = comparison_figures.kpi_comparison_figure

    def spy(summary, metrics, lang, *args, **kwargs):
        fig = original(summary, metrics, lang, *args, **kwargs)
        ticks[lang] = _ticks(fig)
        return fig

    monkeypatch.setattr(figure_dirs, "kpi_comparison_figure", spy)
    args = _parser().parse_args(["plot", str(root), "--lang", "both"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph (tofu) fails
        assert args.func(args) == 0
    assert (root / "figures" / "kpi_comparison_zh.png").is_file()
    assert ticks["en"] == ["strict ladder / 0.02", "direct triage / 0.02", "strict ladder / 0.1"]
    if with_zh:
        assert ticks["zh"] == list(ESCALATION_ZH.values())
    else:  # results written before name_zh (or no manifest at all): as before
        assert ticks["zh"] == ["逐级上报 · 0.02", "直接分级派单 · 0.02", "逐级上报 · 0.1"]


def test_tornado_ranks_factors_by_range(sweep):
    tidy, _ = sweep
    fig = comparison_figures.tornado_figure(tidy, "resolution_time_mean_h", "en")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    widths = [p.get_width() for p in ax.patches]
    assert labels == ["Escalation rule", "Households per grid"]  # widest on top (last)
    rows = tidy[tidy["metric"] == "resolution_time_mean_h"]
    means = rows.groupby("grids.households_per_grid")["value"].mean()
    assert widths[-1] == pytest.approx(means.max() - means.min())
    with pytest.raises(ValueError, match="two or more levels"):
        comparison_figures.tornado_figure(
            tidy.drop(columns=["grids.households_per_grid", "escalation.policy"]),
            "on_time_rate",
            "en",
        )


def test_welch_truncation_line():
    ramp = np.r_[np.linspace(0, 50, 60), np.full(240, 50.0)]
    reps = np.vstack([ramp + np.random.default_rng(r).normal(0, 1, ramp.size) for r in range(4)])
    fig = comparison_figures.welch_figure(reps, "en", period_hours=24)
    ax = fig.axes[0]
    cut = [ln for ln in ax.lines if ln.get_linestyle() == "--"][0].get_xdata()[0]
    from gridsim.analysis.warmup import mser5

    assert cut == pytest.approx(mser5(reps.mean(axis=0)))  # daily periods: x in days
    assert 20 <= cut <= 120


def test_save_figure_is_atomic(tmp_path, run):
    fig = time_figures.backlog_figure(run.backlog, "en")
    out = style.save_figure(fig, tmp_path / "sub" / "backlog.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["backlog.png"]


# --------------------------------------------------------------------------- directories and CLI

RUN_FIGURES = [
    "hierarchy",
    "escalation_flow",
    "backlog",
    "response_ecdf",
    "resolved_where",
    "noticing",
    "utilisation",
    "ranking",
    "warmup",
]


def test_run_figures_writes_every_png(tmp_path, run):
    run_dir = save_run(run, tmp_path / "run")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        written = figure_dirs.run_figures(run_dir, "both")
    expected = {f"{n}_{lg}.png" for n in RUN_FIGURES for lg in LANGS}
    assert {p.name for p in written} == expected
    assert {p.name for p in (run_dir / "figures").iterdir()} == expected
    for path in written:
        assert path.read_bytes()[:4] == b"\x89PNG"


def _parser() -> argparse.ArgumentParser:
    from gridsim.cli import build_parser

    return build_parser()


def test_cli_plot_run_directory(tmp_path, run, capsys):
    run_dir = save_run(run, tmp_path / "run")
    args = _parser().parse_args(
        ["plot", str(run_dir), "--lang", "en", "--out", str(tmp_path / "f")]
    )
    assert args.func(args) == 0
    assert {p.name for p in (tmp_path / "f").iterdir()} == {f"{n}_en.png" for n in RUN_FIGURES}
    assert str(tmp_path / "f") in capsys.readouterr().out


def test_cli_plot_sweep_directory(tmp_path, sweep, capsys):
    tidy, _ = sweep
    tidy.to_parquet(tmp_path / "tidy.parquet")
    args = _parser().parse_args(["plot", str(tmp_path), "--lang", "zh"])
    assert args.func(args) == 0
    names = {p.name for p in (tmp_path / "figures").iterdir()}
    assert "kpi_comparison_zh.png" in names
    assert "tornado_resolution_time_mean_h_zh.png" in names


def test_cli_plot_uses_the_experiments_summary_and_warmup(tmp_path, sweep):
    tidy, summary = sweep
    tidy.to_parquet(tmp_path / "tidy.parquet")
    summary.to_csv(tmp_path / "summary.csv", index=False)
    warm = pd.DataFrame(
        [
            {"replication": r, "day": d, "backlog": 10 + d % 7 + r}
            for r in range(3)
            for d in range(40)
        ]
    )
    warm.to_parquet(tmp_path / "warmup.parquet")
    (tmp_path / "warmup.json").write_text(json.dumps({"warmup_days": 5.0}))
    written = figure_dirs.sweep_figures(tmp_path, "en")
    assert "warmup_en.png" in {p.name for p in written}


@pytest.mark.parametrize("make", [lambda p: p / "missing", lambda p: p])
def test_cli_plot_rejects_a_directory_it_cannot_read(tmp_path, make):
    target = make(tmp_path)
    args = _parser().parse_args(["plot", str(target)])
    with pytest.raises(UserError) as caught:  # the command line prints it, exit status 2
        args.func(args)
    err = str(caught.value)
    assert len(err.splitlines()) == 1
    assert str(target) in err and "run.json" in err and "tidy.parquet" in err


# --------------------------------------------------------------------------- a real run


@pytest.fixture(scope="module")
def real_run(scenario):
    engine = pytest.importorskip("gridsim.model.simulate")
    return engine.simulate(scenario, seed=1, days=10)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", [n for n in FIGURE_NAMES if n not in ("kpi", "tornado")])
def test_figure_renders_cleanly_from_a_real_run(real_run, scenario, sweep, name, lang):
    tidy, summary = sweep
    names = i18n.Names.from_scenario(scenario)
    ((make, expected),) = [
        (m, e) for n, m, e in _figures(real_run, tidy, summary, names) if n == name
    ]
    fig = draw_strictly(make, lang)
    assert_drawn(fig)
    assert_language(fig, lang, expected[lang])


def test_real_run_figures_use_scenario_names(tmp_path, real_run, scenario):
    from gridsim.model.loader import json_schema  # noqa: F401  (scenario module importable)

    run_dir = save_run(real_run, tmp_path / "run", extra={"scenario.toml": ONE_TOWN.read_bytes()})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        written = figure_dirs.run_figures(run_dir, "zh")
    assert {p.name for p in written} == {f"{n}_zh.png" for n in RUN_FIGURES}
    fig = staff_figures.utilisation_heatmap(real_run.staff, real_run.units, "zh", scenario=scenario)
    assert "武台镇" in [t.get_text() for t in fig.axes[0].get_yticklabels()]
    # roles whose duties lack resolve (building leaders, volunteers) are marked, not idle
    idle = {r for r, role in scenario.roles.items() if "resolve" not in role.duties}
    assert idle and "grid_worker" not in idle
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert sum(t.endswith("*") for t in ticks) == len(idle & set(real_run.staff["role"]))
    used = real_run.staff.groupby("role", observed=True)["used_hours"].sum()
    assert (used[sorted(idle & set(used.index))] > 0).all()
    fig = flow_figures.resolved_where_figure(
        real_run.orders, "zh", 0.6, 0.9, scenario.targets.source
    )
    assert "目标 60%（示意）" in figure_texts(fig)  # the one-town scenario cites no source
    fig = flow_figures.escalation_flow_figure(real_run.orders, "zh", scenario=scenario)
    assert any(t.startswith("12345热线") for t in figure_texts(fig))
