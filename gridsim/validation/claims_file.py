"""Reading a claims file: strict schema, KPIs from the registry, overrides checked at once.

The claims of the practice are data (``gridsim/data/claims.toml``, its header comment
describes the format). :func:`load_claims` reads a claims file, checks every claim's KPI
against :mod:`gridsim.kpi_registry` and applies both sides' overrides to their scenario, so
that a file that loads cannot fail later on a bad override; every problem is a one-line
:class:`ClaimsFileError` naming the file, the field (``claims[2:visits].kpi``) and what was
expected. The sides of all claims are deduplicated: two sides that give the same scenario
(the plain scenario, shared by most claims) are run once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from gridsim.errors import UserError
from gridsim.kpi_registry import kpi as kpi_record
from gridsim.model.guard import check_run
from gridsim.model.loader import (
    describe_validation_error,
    load_scenario,
    read_toml,
    with_overrides,
)
from gridsim.model.scenario import Scenario, ScenarioError

#: Where the package's own claims live.
DEFAULT_CLAIMS = Path(__file__).resolve().parents[1] / "data" / "claims.toml"
#: The scenario claims are tested on unless a claim or ``--scenario`` names another.
DEFAULT_SCENARIO = "scenarios/pingyi_baseline.toml"
#: The root of the gridsim checkout: relative scenario paths are tried here after the cwd.
REPO_ROOT = Path(__file__).resolve().parents[2]
#: What a claim may expect of its difference (variant - reference).
EXPECTATIONS: tuple[str, ...] = ("increase", "decrease", "no_worse")
_TOLERANCE = {
    "no_worse": "a relative margin such as 0.05 (expect = 'no_worse' needs one)",
    "increase": "no tolerance (it is the margin of expect = 'no_worse' only)",
    "decrease": "no tolerance (it is the margin of expect = 'no_worse' only)",
}
_UNKNOWN_FIELD = "unknown field (the fields of a claim are listed in gridsim/data/claims.toml)"


class ClaimsFileError(UserError):
    """A claims file that cannot be read or does not fit the format (one line).

    Example:
        >>> print(ClaimsFileError("c.toml", "claims[0:x].kpi", "a KPI name"))
        c.toml: claims[0:x].kpi: a KPI name
    """


def _printable(text: str) -> str:
    if not text.isprintable():
        raise ValueError("one line without control characters")
    return text


Text = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_printable)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class ClaimEntry(_Strict):
    """One ``[[claims]]`` entry, as written in the file."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    issue: Annotated[int, Field(ge=1)]
    text_en: Text
    text_zh: Text
    kpi: Annotated[str, Field(min_length=1)]
    expect: Literal["increase", "decrease", "no_worse"]
    tolerance: Annotated[float, Field(gt=0, lt=1)] | None = None
    reference: dict[str, Any] = {}
    variant: dict[str, Any]
    scenario: Annotated[str, Field(min_length=1)] | None = None
    note: str = ""


class ClaimsFile(_Strict):
    """The whole claims file."""

    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    seed: Annotated[int, Field(ge=0)] = 20250601
    claims: Annotated[list[ClaimEntry], Field(min_length=1)]


@dataclass(frozen=True)
class Side:
    """One scenario configuration to run (shared by every claim side that gives it).

    Attributes:
        key: a short id of the scenario's content (equal scenarios, equal keys).
        path: the scenario file.
        overrides: the overrides applied to it (the first claim side that asked for it).
        scenario: the scenario the side runs.
    """

    key: str
    path: Path
    overrides: dict[str, Any]
    scenario: Scenario = field(repr=False)

    @property
    def label(self) -> str:
        """``file + overrides`` in words, e.g. ``pingyi_baseline + proactive.enabled=false``."""
        return f"{self.path.stem}{describe_overrides(self.overrides, ' + ')}"


@dataclass(frozen=True)
class Claim:
    """One claim, checked: its KPI's direction known, both sides resolved to :class:`Side`."""

    id: str
    issue: int
    text_en: str
    text_zh: str
    kpi: str
    expect: str
    tolerance: float | None
    direction: int
    reference: str
    variant: str
    reference_overrides: dict[str, Any]
    variant_overrides: dict[str, Any]
    scenario: str
    note: str = ""

    def text(self, lang: str) -> str:
        """The claim in words in ``lang`` (``"zh"`` or ``"en"``)."""
        return self.text_zh if lang == "zh" else self.text_en


@dataclass(frozen=True)
class ClaimSet:
    """A loaded claims file: the claims, the distinct sides to run, the settings."""

    path: Path
    confidence: float
    seed: int
    claims: tuple[Claim, ...]
    sides: dict[str, Side]


def describe_overrides(overrides: Mapping[str, Any], prefix: str = "") -> str:
    """Overrides in words (``a=1, b=true``), or ``""`` for none.

    Example:
        >>> describe_overrides({"centre.merged_town": True, "x.y": "direct_triage"})
        'centre.merged_town=true, x.y=direct_triage'
    """
    if not overrides:
        return ""

    def show(value: Any) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    return prefix + ", ".join(f"{k}={show(v)}" for k, v in overrides.items())


def flatten_overrides(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Read nested tables as dotted paths; a distribution or a record stays a whole value.

    Example:
        >>> flatten_overrides({"centre": {"merged_town": True}, "proactive.enabled": False})
        {'centre.merged_town': True, 'proactive.enabled': False}
        >>> flatten_overrides({"x": {"distribution": "exponential", "mean": 2.0}})
        {'x': {'distribution': 'exponential', 'mean': 2.0}}
    """
    out: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        whole = (
            not isinstance(value, Mapping)
            or not value
            or any(k in value for k in ("distribution", "key", "name"))
        )
        if whole:
            out[path] = value
        else:
            out.update(flatten_overrides(value, path + "."))
    return out


def load_claims(
    path: str | Path | None = None,
    scenario: str | Path | None = None,
    days: float | None = None,
) -> ClaimSet:
    """Read and check a claims file; build every distinct side's scenario.

    Args:
        path: the claims file (default: the package's ``gridsim/data/claims.toml``).
        scenario: the scenario of claims that name none (default
            :data:`DEFAULT_SCENARIO`); relative paths are tried in the current directory,
            then in the root of the gridsim checkout.
        days: simulated days, if shorter runs are wanted: checked against every side's
            warm-up and the memory bound now, before anything runs.

    Returns:
        The claims and the sides to run.

    Raises:
        ClaimsFileError: the file is missing, not TOML, or a field is wrong: an unknown
            KPI, a ``no_worse`` claim without tolerance or on a KPI without a better
            direction, an override path the scenario lacks or a value it refuses, two
            sides that give the same scenario, a repeated id.
        ScenarioError: the scenario itself does not load or cannot run ``days`` days.

    Example:
        >>> cs = load_claims(scenario="scenarios/one_town.toml")
        >>> cs.claims[0].id, cs.claims[0].expect, len(cs.sides) < 2 * len(cs.claims)
        ('finer_microgrids_notice', 'increase', True)
    """
    source = Path(path) if path is not None else DEFAULT_CLAIMS
    data, _ = read_toml(source, ClaimsFileError, "claims")
    spec = _validate(data, source)
    default_path = _scenario_path(scenario or DEFAULT_SCENARIO)
    if not default_path.is_file():
        where = "--scenario" if scenario is not None else ""
        raise ScenarioError(default_path, where, "no such file (expected a TOML scenario file)")
    bases: dict[Path, Scenario] = {}
    sides: dict[str, Side] = {}
    claims: list[Claim] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(spec.claims):
        where = f"claims[{i}:{entry.id}]"
        if entry.id in seen:
            raise ClaimsFileError(
                source, f"{where}.id", f"a unique id (claims[{seen[entry.id]}] has it too)"
            )
        seen[entry.id] = i
        if (entry.expect == "no_worse") != (entry.tolerance is not None):
            raise ClaimsFileError(source, f"{where}.tolerance", _TOLERANCE[entry.expect])
        scenario_path = default_path
        if entry.scenario is not None:
            scenario_path = _scenario_path(entry.scenario)
            if not scenario_path.is_file():
                raise ClaimsFileError(
                    source,
                    f"{where}.scenario",
                    f"an existing scenario file (no such file: {scenario_path})",
                )
        if scenario_path not in bases:
            bases[scenario_path] = load_scenario(scenario_path)
        base = bases[scenario_path]
        direction = _check_kpi(entry, base, source, where)
        keys = []
        overrides = {}
        for side_name in ("reference", "variant"):
            flat = flatten_overrides(getattr(entry, side_name))
            built = _apply(base, flat, source, f"{where}.{side_name}")
            key = hashlib.sha1(built.model_dump_json().encode("utf-8")).hexdigest()[:10]
            if key not in sides:
                sides[key] = Side(key, scenario_path, flat, built)
            keys.append(key)
            overrides[side_name] = flat
        if keys[0] == keys[1]:
            raise ClaimsFileError(
                source,
                f"{where}.variant",
                "overrides that give another scenario than reference (both sides are the same)",
            )
        claims.append(
            Claim(
                id=entry.id,
                issue=entry.issue,
                text_en=entry.text_en,
                text_zh=entry.text_zh,
                kpi=entry.kpi,
                expect=entry.expect,
                tolerance=entry.tolerance,
                direction=direction,
                reference=keys[0],
                variant=keys[1],
                reference_overrides=overrides["reference"],
                variant_overrides=overrides["variant"],
                scenario=_shown(scenario_path),
                note=entry.note,
            )
        )
    for side in sides.values():
        _check_days(side, days)
    return ClaimSet(source, spec.confidence, spec.seed, tuple(claims), sides)


def _validate(data: dict[str, Any], source: Path) -> ClaimsFile:
    """The file's shape, or its first schema error as one line (claims named by id)."""
    try:
        return ClaimsFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        fld, expected = describe_validation_error(err, data)
        loc = err["loc"]
        if len(loc) >= 2 and loc[0] == "claims" and isinstance(loc[1], int):
            entry = data["claims"][loc[1]]
            name = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(name, str) and name.isprintable():
                fld = re.sub(r"^claims\[(\d+)\]", rf"claims[\1:{name}]", fld)
        if expected.startswith("unknown field"):
            expected = _UNKNOWN_FIELD
        raise ClaimsFileError(source, fld, expected) from None


def _scenario_path(name: str | Path) -> Path:
    """A scenario path as given: absolute, else in the cwd, else in the gridsim checkout."""
    path = Path(name)
    if path.is_absolute() or path.exists():
        return path
    in_repo = REPO_ROOT / path
    return in_repo if in_repo.exists() else path


def _shown(path: Path) -> str:
    """A scenario path as a table shows it: relative to the checkout where it can be."""
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def _check_kpi(entry: ClaimEntry, base: Scenario, source: Path, where: str) -> int:
    """The KPI's better direction; refuse a KPI the registry does not know."""
    try:
        record = kpi_record(entry.kpi)
    except KeyError:
        raise ClaimsFileError(
            source,
            f"{where}.kpi",
            f"a KPI name from gridsim/data/kpis.toml (such as unreported_share or "
            f"resolution_time_mean_h), not {entry.kpi!r}",
        ) from None
    if record.member and record.member not in base.roles:
        raise ClaimsFileError(
            source,
            f"{where}.kpi",
            f"utilisation_<role> for a role of the scenario "
            f"({', '.join(base.roles)}), not {entry.kpi!r}",
        )
    if entry.expect == "no_worse" and record.direction == 0:
        raise ClaimsFileError(
            source,
            f"{where}.expect",
            f"increase or decrease (no_worse needs a KPI with a "
            f"better direction; {entry.kpi} has none in gridsim/data/kpis.toml)",
        )
    return record.direction


def _apply(base: Scenario, overrides: dict[str, Any], source: Path, where: str) -> Scenario:
    """Apply one side's overrides; a bad path or value is the claims file's one-line error."""
    try:
        return with_overrides(base, overrides, source=str(source))
    except ScenarioError as err:
        detail = f"{err.field}: {err.expected}" if err.field else err.expected
        raise ClaimsFileError(source, where, detail) from None


def _check_days(side: Side, days: float | None) -> None:
    """Refuse now what a run would refuse later (too short for the warm-up, out of memory)."""
    try:
        check_run(side.scenario, days)
    except ScenarioError as err:
        if err.file:
            raise
        raise ScenarioError(side.path, err.field, err.expected) from None
