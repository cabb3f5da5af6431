"""Tests for the province figures (gridsim.province.figures): both languages, one marker per
county in the order of the KPI, legible names for a Shandong-sized province, missing KPIs.

The counties tables are built here from the synthetic province file with made-up KPI values
(no simulation), except one small province run that checks run_province draws the figures.
Warnings are errors while drawing, so a missing CJK glyph (tofu) fails a test.
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gridsim.output.style import figure_style
from gridsim.province import figures
from gridsim.province.file import Province, load_province

SYNTHETIC = "scenarios/provinces/synthetic_20.toml"


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.fixture(scope="module")
def province() -> Province:
    return load_province(SYNTHETIC)


def _table(province: Province, n: int | None = None, cities: int | None = None) -> pd.DataFrame:
    """A counties table: the province's counties (repeated to ``n``), values drawn at random."""
    rng = np.random.default_rng(3)
    base = list(province.counties)
    n = n or len(base)
    rows = []
    for i in range(n):
        c = base[i % len(base)]
        city = province.city(c.city)
        key, name, name_zh, city_key = c.key, c.name, c.name_zh, c.city
        city_name, city_zh = city.name, city.name_zh
        if cities is not None:  # a bigger province: new keys, names and cities
            key, name, name_zh = f"{c.key}-{i}", f"{c.name} {i}", f"{c.name_zh}{i}"
            city_key = f"city{i % cities}"
            city_name, city_zh = f"City {i % cities}", f"第{i % cities}市"
        population = int(rng.integers(20_000, 1_500_000))
        rows.append({
            "key": key, "name": name, "name_zh": name_zh, "city": city_key,
            "city_name": city_name, "city_name_zh": city_zh, "population": population,
            "share_settled_in_grid": rng.uniform(0.7, 0.95),
            "proactive_issue_share": rng.uniform(0.2, 0.4),
            "response_time_mean_h": rng.uniform(5, 15),
            "satisfaction_rate": rng.uniform(0.85, 0.99),
            "cpu_s": population / 1e5 * rng.uniform(2.5, 3.5),
            "peak_rss_mb": 100 + population / 1e4,
        })  # fmt: skip
    return pd.DataFrame(rows)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


def _ranked_axes(fig: Figure):
    return fig.axes[0]


def test_figures_are_written_in_both_languages_as_png(province, tmp_path):
    paths = figures.draw_province_figures(_table(province), province, tmp_path)
    assert sorted(p.name for p in paths) == sorted(
        f"{name}_{lang}.png" for name in figures.FIGURES for lang in ("en", "zh")
    )
    for path in paths:
        width, height = _png_size(path)
        assert 600 < width < 3000 and 300 < height < 4000, (path.name, width, height)
        assert path.stat().st_size > 20_000, path.name  # a drawn figure, not an empty canvas


def test_ranked_has_one_marker_per_county_in_the_order_of_the_kpi(province):
    table = _table(province)
    with figure_style("en"):
        fig = figures.counties_ranked(table, province, "en")
    ax = _ranked_axes(fig)
    names = [t.get_text() for t in ax.get_yticklabels()]
    expected = table.sort_values("share_settled_in_grid", ascending=False)["name"].tolist()
    assert names == expected  # the best county first, i.e. at the top (y grows downwards)
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(points) == len(table)
    # each marker sits on its county's row at its county's value
    value = dict(zip(table["name"], table["share_settled_in_grid"], strict=True))
    for x, y in points:
        assert x == pytest.approx(value[names[int(round(y))]])
    mean = np.average(table["share_settled_in_grid"], weights=table["population"])
    assert any(np.allclose(line.get_xdata(), mean) for line in ax.get_lines())


def test_ranked_puts_the_lowest_first_for_a_kpi_where_lower_is_better(province):
    table = _table(province)
    with figure_style("zh"):
        fig = figures.counties_ranked(table, province, "zh", metric="response_time_mean_h")
    names = [t.get_text() for t in _ranked_axes(fig).get_yticklabels()]
    assert names == table.sort_values("response_time_mean_h")["name_zh"].tolist()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_ranked_names_of_136_counties_do_not_overlap(province, lang):
    table = _table(province, n=136, cities=16)
    with figure_style(lang):
        fig = figures.counties_ranked(table, province, lang)
        renderer = FigureCanvasAgg(fig).get_renderer()  # the renderer the PNG is drawn with
        labels = _ranked_axes(fig).get_yticklabels()
        boxes = [t.get_window_extent(renderer) for t in labels]
    assert len(labels) == 136
    assert min(t.get_fontsize() for t in labels) >= 5.5
    tops = sorted((b.y0, b.y1) for b in boxes)
    assert all(lower[1] <= upper[0] + 0.5 for lower, upper in zip(tops, tops[1:], strict=False))
    assert len(figures.city_styles(table, province)) == 16
    styles = {(s["color"], s["marker"]) for s in figures.city_styles(table, province).values()}
    assert len(styles) == 16  # every city told apart by colour or marker


def test_a_missing_or_empty_kpi_leaves_its_panel_with_a_note(province, tmp_path):
    table = _table(province).drop(columns=["proactive_issue_share"])
    table["satisfaction_rate"] = np.nan
    with figure_style("en"):
        fig = figures.kpi_by_city(table, province, "en")
    notes = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert sum("no value in the counties table" in n for n in notes) == 2
    drawn = [ax for ax in fig.axes if ax.axison]
    assert len(drawn) == 2
    paths = figures.draw_province_figures(table, province, tmp_path, langs=("zh",))
    assert len(paths) == 3


def test_without_the_headline_kpi_the_ranking_is_skipped_and_the_rest_drawn(province, tmp_path):
    table = _table(province).drop(columns=["share_settled_in_grid"])
    paths = figures.draw_province_figures(table, province, tmp_path, langs=("en",))
    assert sorted(p.name for p in paths) == ["cost_per_county_en.png", "kpi_by_city_en.png"]


def test_one_county_of_one_city(province, tmp_path):
    table = _table(province).iloc[[0]]
    paths = figures.draw_province_figures(table, None, tmp_path)
    assert len(paths) == 6


def test_cost_slope_is_least_squares_through_the_origin(province):
    table = _table(province)
    x, y = table["population"].to_numpy(float), table["cpu_s"].to_numpy(float)
    slope = figures.cost_fit(table["population"], table["cpu_s"])
    assert slope == pytest.approx(np.linalg.lstsq(x[:, None] / 1e5, y, rcond=None)[0][0])
    with figure_style("en"):
        fig = figures.cost_per_county(table, province, "en")
    assert f"{slope:.3g} CPU s per 100,000 residents" in fig.axes[0].get_title(loc="left")


def test_a_province_run_draws_its_figures(tmp_path):
    from gridsim.province.run import run_province

    run_province(SYNTHETIC, tmp_path / "p", executor="serial", days=2, cities=["south"])
    drawn = sorted(p.name for p in (tmp_path / "p" / "figures").iterdir())
    assert drawn == sorted(f"{n}_{lang}.png" for n in figures.FIGURES for lang in ("en", "zh"))
