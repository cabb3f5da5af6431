"""The province file: a TOML file naming a template scenario and two CSV tables of places.

A province file looks like this (``scenarios/provinces/shandong_2020.toml`` is the full one)::

    [province]
    name = "Shandong (2020 census)"
    name_zh = "山东省（2020年人口普查）"
    template = "../pingyi_baseline.toml"     # every county's scenario starts from it
    counties = "shandong_2020_counties.csv"  # key,name,city,kind,population ...
    cities = "shandong_2020_cities.csv"      # key,name,population,urban_population ...
    seed = 20240101                          # the province's root seed
    horizon_days = 365                       # default: the template's

    [rules]                                  # gridsim.province.derive documents them
    persons_per_household = 2.70
    residents_per_town = 55700
    urban_share_prior = { district = 0.85, city = 0.6, county = 0.45 }

Paths are relative to the province file. Every mistake is reported as one line naming the
file, the row (by its key) and the column, like a scenario's.

Example:
    >>> p = load_province("scenarios/provinces/synthetic_20.toml")
    >>> len(p.counties), p.counties[0].kind, p.template.name
    (20, 'district', 'one_town.toml')
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from gridsim.errors import UserError
from gridsim.model.fields import Strict
from gridsim.model.loader import describe_validation_error, load_scenario, read_toml
from gridsim.model.scenario import (
    MAX_HORIZON_DAYS,
    MAX_HOUSEHOLD,
    MAX_TOWN_POPULATION,
    ScenarioError,
)

#: The kinds of county-level unit (市辖区, 县级市, 县).
KINDS: tuple[str, ...] = ("district", "city", "county")
#: A county's key: the partition name of its tables, so plain ASCII without separators.
KEY_PATTERN = r"^[a-z][a-z0-9-]*$"
#: Counties in one province file: more than any country has.
MAX_COUNTIES = 10_000

CountyKey = Annotated[str, Field(pattern=KEY_PATTERN, max_length=60)]
Population = Annotated[int, Field(gt=0, le=MAX_TOWN_POPULATION)]


class ProvinceFileError(UserError):
    """A province file (or one of its CSV tables) is wrong: one line, file, field, expectation.

    Example:
        >>> print(ProvinceFileError("p.csv", "row 3 (jinan-lixia).population", "an integer"))
        p.csv: row 3 (jinan-lixia).population: an integer
    """


class County(Strict):
    """One county-level unit (区, 县级市 or 县) as the counties table gives it."""

    key: CountyKey
    #: The administrative division code (``371326``), if known.
    code: str = ""
    name: str = Field(min_length=1)
    name_zh: str = ""
    city: str = Field(min_length=1)
    kind: Literal["district", "city", "county"]
    population: Population
    #: Township-level units (streets, towns, townships); derived from the population if absent.
    towns: Annotated[int, Field(ge=1, le=10_000)] | None = None
    #: Share of residents in urban areas; derived from the kind and the city if absent.
    urban_share: Annotated[float, Field(ge=0, le=1)] | None = None
    #: Where the population comes from (``census``, ``synthetic`` ...): carried to the results.
    population_source: str = ""


class City(Strict):
    """A prefecture-level city: the counties' grouping in the province figures."""

    key: str = Field(min_length=1)
    name: str = Field(min_length=1)
    name_zh: str = ""
    population: Population | None = None
    #: Urban residents at the census; the counties' urban shares are scaled to match it.
    urban_population: Annotated[int, Field(ge=0, le=MAX_TOWN_POPULATION)] | None = None
    population_source: str = ""
    source_url: str = ""


class UrbanPrior(Strict):
    """The urban share assumed for a county of each kind, before scaling to its city."""

    district: Annotated[float, Field(gt=0, lt=1)] = 0.85
    city: Annotated[float, Field(gt=0, lt=1)] = 0.6
    county: Annotated[float, Field(gt=0, lt=1)] = 0.45


class Rules(Strict):
    """How a county's scenario is derived from the template (see gridsim.province.derive)."""

    persons_per_household: Annotated[float, Field(ge=1, le=MAX_HOUSEHOLD)] | None = None
    residents_per_town: Annotated[float, Field(ge=1000, le=MAX_TOWN_POPULATION)] = 55_700
    urban_share_prior: UrbanPrior = UrbanPrior()
    scale_with_population: bool = True


class ProvinceSection(Strict):
    """The ``[province]`` table."""

    name: str = Field(min_length=1)
    name_zh: str = ""
    description: str = ""
    template: str = Field(min_length=1)
    counties: str = Field(min_length=1)
    cities: str | None = None
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 20240101
    horizon_days: Annotated[float, Field(gt=0, le=MAX_HORIZON_DAYS)] | None = None


class ProvinceFile(Strict):
    """The whole TOML file."""

    province: ProvinceSection
    rules: Rules = Rules()


class Province(Strict):
    """A loaded province: its settings, its counties and cities, the template's path.

    Attributes:
        source: the province file.
        template: the template scenario file (resolved against the province file).
        counties_file: the counties CSV (resolved).
    """

    source: Path
    settings: ProvinceSection
    rules: Rules
    template: Path
    counties_file: Path
    counties: tuple[County, ...]
    cities: tuple[City, ...]

    @property
    def population(self) -> int:
        """Residents of all counties."""
        return sum(c.population for c in self.counties)

    def city(self, key: str) -> City:
        """The city of that key (a bare record named after the key if the file gave none)."""
        for city in self.cities:
            if city.key == key:
                return city
        return City(key=key, name=key)


def load_province(path: str | Path) -> Province:
    """Read and validate a province file and its CSV tables.

    Raises:
        ProvinceFileError: the file or a table is missing, malformed, or a row does not fit;
            one line naming the file, the row (by key) and the column.

    Example:
        >>> load_province("scenarios/provinces/synthetic_20.toml").settings.name
        'A synthetic province of 20 small counties'
    """
    source = Path(path)
    data, text = read_toml(source, ProvinceFileError, "province")
    if not text.strip() or not data:
        raise ProvinceFileError(source, "", "a province file with a [province] table")
    try:
        parsed = ProvinceFile.model_validate(data, strict=True)
    except ValidationError as exc:
        field, expected = describe_validation_error(exc.errors()[0], data)
        raise ProvinceFileError(source, field, expected) from None
    here = source.parent
    template = _existing(here / parsed.province.template, source, "province.template")
    _check_template(template)
    counties_file = _existing(here / parsed.province.counties, source, "province.counties")
    cities: tuple[City, ...] = ()
    if parsed.province.cities is not None:
        cities_file = _existing(here / parsed.province.cities, source, "province.cities")
        cities = tuple(_rows(cities_file, City, "key"))
        _check_unique([c.key for c in cities], cities_file)
    counties = tuple(_rows(counties_file, County, "key"))
    _check_counties(counties, cities, counties_file)
    return Province(
        source=source, settings=parsed.province, rules=parsed.rules, template=template,
        counties_file=counties_file, counties=counties, cities=cities,
    )  # fmt: skip


def _existing(path: Path, source: Path, field: str) -> Path:
    if not path.is_file():
        raise ProvinceFileError(source, field, f"an existing file (no such file: {path})")
    return path


def _check_template(template: Path) -> None:
    """Refuse a template that is not a valid scenario, naming the template's own field."""
    try:
        load_scenario(template)
    except ScenarioError as err:
        expected = f"a template scenario ({err.expected})"
        raise ProvinceFileError(template, err.field, expected) from None


def _rows(path: Path, model: type[Strict], key: str) -> Iterator[Any]:
    """Validated records, one per CSV row; empty cells are absent optional fields."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            _check_header(path, header, model)
            for number, row in enumerate(reader, start=2):  # row 1 is the header
                if len(row) > len(header) or None in row or None in row.values():
                    # more cells than the header (a None key) or fewer (None values)
                    raise ProvinceFileError(path, f"row {number}", f"{len(header)} cells")
                if number - 1 > MAX_COUNTIES:
                    raise ProvinceFileError(path, "", f"at most {MAX_COUNTIES} rows")
                yield _record(path, number, row, model, key)
    except UnicodeDecodeError:
        raise ProvinceFileError(path, "", "a UTF-8 CSV file") from None
    except csv.Error as exc:
        raise ProvinceFileError(path, "", f"a valid CSV file ({exc})") from None


def _check_header(path: Path, header: Sequence[str], model: type[Strict]) -> None:
    known = set(model.model_fields)
    required = [n for n, f in model.model_fields.items() if f.is_required()]
    for i, name in enumerate(header):
        if name in header[:i]:
            raise ProvinceFileError(path, f"column {name!r}", "a column named once in the header")
        if name not in known:
            raise ProvinceFileError(
                path, f"column {name!r}", f"one of the columns {', '.join(model.model_fields)}"
            )
    for name in required:
        if name not in header:
            raise ProvinceFileError(path, f"column {name!r}", "a column of that name (required)")


def _record(path: Path, number: int, row: dict[str, str], model: type[Strict], key: str) -> Any:
    values = {name: _cell(text, model, name) for name, text in row.items() if text.strip()}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        column = ".".join(str(p) for p in err["loc"]) or "row"
        label = f"row {number} ({row.get(key) or 'no key'})"
        _, expected = describe_validation_error(err, values)
        raise ProvinceFileError(path, f"{label}.{column}", expected) from None


def _cell(text: str, model: type[Strict], name: str) -> Any:
    """A cell as the number its column holds where it reads as one (validation says the rest)."""
    text = text.strip()
    annotation = str(model.model_fields[name].annotation)
    if "int" in annotation or "float" in annotation:
        try:
            number = float(text.replace(",", "").replace("_", ""))
        except ValueError:
            return text
        if math.isfinite(number) and number == int(number) and "int" in annotation:
            return int(number)
        return number
    return text


def _check_unique(keys: Sequence[str], path: Path) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise ProvinceFileError(path, f"key {key!r}", "a key used by one row only")
        seen.add(key)


def _check_counties(counties: tuple[County, ...], cities: tuple[City, ...], path: Path) -> None:
    if not counties:
        raise ProvinceFileError(path, "", "at least one county row")
    _check_unique([c.key for c in counties], path)
    known = {c.key for c in cities}
    for county in counties if cities else ():
        if county.city not in known:
            raise ProvinceFileError(
                path, f"{county.key}.city", f"a city of the cities table (no {county.city!r})"
            )
