"""A county's scenario, derived from the province's template by documented rules.

Every county of a province runs the template scenario (its categories, channels, roles,
policies, rates per resident) on its own population. What changes, and how:

1. **Population and towns.** The county has ``towns`` township-level units if the counties
   table gives them; otherwise ``max(1, round(population / rules.residents_per_town))``
   (Shandong: 101.53 M residents in 1,822 township-level units, about 55,700 each).
2. **Urban share.** Given in the table, or ``rules.urban_share_prior`` for the county's kind
   (district, county-level city, county) scaled within its city so that the counties' urban
   residents add up to the city's census figure (``urban_population`` of the cities table),
   each share kept within [0.02, 0.98] (:func:`urban_shares`).
3. **Streets and towns.** ``round(urban_share * towns)`` of the units are urban streets and
   share the urban residents equally, the rest are towns sharing the rural residents; a unit
   is never empty (:func:`town_plan`). Urban streets get the template's urban micro-grid size.
4. **Households.** ``rules.persons_per_household`` if given, else the template's.
5. **What scales with population** (``rules.scale_with_population``): the county
   departments' staff and sunk staff, the county centre's desks and the exclusive grids
   (markets, enterprises, business districts) are the template's times the county's
   population over the template's, rounded (a department or desk keeps at least one
   officer, a kind of exclusive grid the template has keeps at least one grid: a small
   county still has its markets' and enterprises' grid). Town desks are per 100,000
   residents already and do not need it.
6. **Names and seed.** ``meta.name`` is the county's name, ``county.name_zh`` its Chinese
   name; its seed is ``SeedSequence(province seed, spawn_key=(crc32(key),))``, so a county's
   numbers do not depend on which other counties are in the file or in what order.

Example:
    >>> from gridsim.province.file import load_province
    >>> p = load_province("scenarios/provinces/synthetic_20.toml")
    >>> s = county_scenario(p, p.counties[0])
    >>> s.meta.name, sum(t.population for t in s.county.towns) == p.counties[0].population
    ('Dongcheng', True)
"""

from __future__ import annotations

import copy
import math
import zlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from gridsim.model.loader import read_toml, scenario_from_dict
from gridsim.model.scenario import Scenario, ScenarioError
from gridsim.province.file import County, Province, ProvinceFileError

#: Bounds on a derived urban share: no county-level unit is wholly urban or wholly rural.
URBAN_SHARE_BOUNDS = (0.02, 0.98)


def county_seed(province_seed: int, key: str) -> np.random.SeedSequence:
    """A county's root seed: keyed by its key, not its row (adding a county shifts no other).

    Example:
        >>> county_seed(7, "linyi-pingyi").spawn_key == county_seed(7, "linyi-pingyi").spawn_key
        True
    """
    return np.random.SeedSequence(province_seed, spawn_key=(zlib.crc32(key.encode()),))


def towns_of(county: County, residents_per_town: float) -> int:
    """Township-level units: the table's, or the population over ``residents_per_town``.

    Example:
        >>> c = County(key="a", name="A", city="x", kind="county", population=892276)
        >>> towns_of(c, 55700)
        16
    """
    if county.towns is not None:
        return county.towns
    return max(1, round(county.population / residents_per_town))


def urban_shares(province: Province) -> dict[str, float]:
    """Each county's urban share: given, or its kind's prior scaled to its city's census.

    Within a city, the counties without a given share take ``prior[kind] * k``, with one
    ``k`` per city chosen so that all the city's urban residents add up to the city's
    ``urban_population`` (found by bisection, shares clipped to :data:`URBAN_SHARE_BOUNDS`);
    without that figure ``k = 1``.

    Example:
        >>> from gridsim.province.file import load_province
        >>> p = load_province("scenarios/provinces/synthetic_20.toml")
        >>> s = urban_shares(p)
        >>> round(sum(s[c.key] * c.population for c in p.counties if c.city == "north"))
        140000
    """
    prior = province.rules.urban_share_prior
    shares: dict[str, float] = {}
    for city_key in dict.fromkeys(c.city for c in province.counties):
        members = [c for c in province.counties if c.city == city_key]
        target = province.city(city_key).urban_population
        fixed = sum(c.population * c.urban_share for c in members if c.urban_share is not None)
        free = [c for c in members if c.urban_share is None]
        base = {c.key: getattr(prior, c.kind) for c in free}
        k = 1.0 if target is None or not free else _scale(free, base, target - fixed)
        for c in members:
            shares[c.key] = c.urban_share if c.urban_share is not None else _clip(base[c.key] * k)
    return shares


def _clip(share: float) -> float:
    low, high = URBAN_SHARE_BOUNDS
    return min(high, max(low, share))


def _scale(free: list[County], base: Mapping[str, float], target: float) -> float:
    """The factor ``k`` that makes the free counties' urban residents add up to ``target``."""

    def urban(k: float) -> float:
        return sum(c.population * _clip(base[c.key] * k) for c in free)

    low, high = 0.0, 1.0 / min(base.values())
    for _ in range(60):  # urban(k) rises with k; bisection to well under one resident
        mid = (low + high) / 2
        low, high = (mid, high) if urban(mid) < target else (low, mid)
    return (low + high) / 2


def town_plan(population: int, towns: int, urban_share: float) -> list[tuple[int, bool]]:
    """The county's units as ``(population, urban)``: streets first, then towns.

    Example:
        >>> town_plan(100_000, 4, 0.5)
        [(25000, True), (25000, True), (25000, False), (25000, False)]
        >>> sum(p for p, _ in town_plan(892_276, 16, 0.43))
        892276
    """
    towns = max(1, min(towns, population))
    streets = min(towns, round(urban_share * towns))
    if streets in (0, towns):  # one kind of unit: everyone shares them equally
        return [(p, streets > 0) for p in _split(population, towns)]
    urban = round(population * urban_share)
    urban = min(max(urban, streets), population - (towns - streets))  # no empty unit
    return [(p, True) for p in _split(urban, streets)] + [
        (p, False) for p in _split(population - urban, towns - streets)
    ]


def _split(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` whole numbers that differ by at most one, largest first."""
    each, extra = divmod(total, parts)
    return [each + (1 if i < extra else 0) for i in range(parts)]


def _template_data(path: Path) -> dict[str, Any]:
    # Read once per version of the file: 136 counties derive from one template, and a
    # notebook that edits the template between runs gets the edited one.
    return _read_template(path, path.stat().st_mtime_ns)


@cache
def _read_template(path: Path, mtime_ns: int) -> dict[str, Any]:
    data, _ = read_toml(path, ProvinceFileError, "template scenario")
    return data


def template_population(province: Province) -> int:
    """Residents of the template scenario's county."""
    towns = _template_data(province.template).get("county", {}).get("towns", [])
    return sum(int(t.get("population", 0)) for t in towns) or 1


def county_scenario(
    province: Province, county: County, shares: Mapping[str, float] | None = None
) -> Scenario:
    """The county's scenario: the template with the rules above applied.

    Args:
        province: the loaded province.
        county: one of its counties.
        shares: the urban shares (:func:`urban_shares`), computed once for many counties.

    Raises:
        ProvinceFileError: the template is not a scenario, or the derived one does not
            validate (named by the county's key).
    """
    share = (shares if shares is not None else urban_shares(province))[county.key]
    data = copy.deepcopy(_template_data(province.template))
    towns = towns_of(county, province.rules.residents_per_town)
    data.setdefault("meta", {})["name"] = county.name
    if province.settings.horizon_days is not None:
        data["meta"]["horizon_days"] = province.settings.horizon_days
    seat = data.setdefault("county", {})
    seat.update(name=county.name, name_zh=county.name_zh or county.name)
    if province.rules.persons_per_household is not None:
        seat["persons_per_household"] = province.rules.persons_per_household
    seat["towns"] = [
        _town(county, i, n, urban) for i, (n, urban) in enumerate(town_plan(
            county.population, towns, share))
    ]  # fmt: skip
    if province.rules.scale_with_population:
        _scale_counts(data, county.population / template_population(province))
    try:
        return scenario_from_dict(data, f"{province.source} (county {county.key})")
    except ScenarioError as err:
        raise ProvinceFileError(
            province.counties_file, f"{county.key}: {err.field}",
            f"a county the template can model ({err.expected})",
        ) from None  # fmt: skip


def _town(county: County, index: int, population: int, urban: bool) -> dict[str, Any]:
    kind, kind_zh = ("Street", "街道") if urban else ("Town", "镇")
    number = index + 1
    return {
        "name": f"{county.name} {kind} {number}",
        "name_zh": f"{county.name_zh or county.name}{kind_zh}{number}",
        "population": population,
        "urban": urban,
    }


def _scale_counts(data: dict[str, Any], factor: float) -> None:
    """Scale the template's county-wide head counts by the population ratio (rule 5)."""
    for dept in data.get("departments", []):
        if "staff" in dept:
            dept["staff"] = max(1, round(dept["staff"] * factor))
        if "sunk_staff" in dept:
            sunk = round(dept["sunk_staff"] * factor)
            dept["sunk_staff"] = min(dept.get("staff", math.inf), sunk)
    desks = data.get("centre", {}).get("county_desks")
    if isinstance(desks, dict):
        for desk, heads in desks.items():
            desks[desk] = max(1, round(heads * factor)) if heads else 0
    exclusive = data.get("grids", {}).get("exclusive")
    if isinstance(exclusive, dict):
        for kind in ("markets", "enterprises", "business_districts"):
            if kind in exclusive:
                count = exclusive[kind]
                exclusive[kind] = max(1, round(count * factor)) if count else 0
