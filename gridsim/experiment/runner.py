"""Experiments: variants × replications with common random numbers, streamed to disk.

An experiment file (TOML) names a base scenario, the factors or explicit variants to compare,
the number of replications, the horizon and the root seed. :func:`run_experiment` builds
every (variant, replication) run, computes them on an executor (serial, local processes or
Dask, see :mod:`gridsim.experiment.executors`), writes each finished run to the results
directory as it arrives, and returns the tidy table
``variant, <factor columns>, replication, metric, value``.

Seeding: replication ``r`` of every variant uses
``numpy.random.SeedSequence(entropy=seed, spawn_key=(r,))`` (common random numbers), so any
run can be rebuilt alone (:func:`run_one`) and the variants are compared with paired-t
intervals (:func:`gridsim.analysis.stats.compare_to_baseline`).

A results directory (default ``results/experiments/<experiment slug>/``) holds::

    experiment.toml          the experiment file as given
    base_scenario.toml       the base scenario it ran (the directory is self-contained)
    manifest.json            definition fingerprint, variants (with their Chinese display
                             names), seeds and wall time of every run
    runs/<variant_id>__r<rep>.parquet   one finished run's KPI rows (written atomically)
    warmup.json, warmup.parquet         MSER-5 truncation and the pilot backlog (if asked)
    tidy.parquet, tidy.csv   the whole tidy table
    summary.csv              per (variant, metric) mean and confidence interval
    comparison.csv           paired differences against the baseline (Bonferroni-adjusted)

Rerunning skips every run whose file exists and is readable; a changed definition (factors,
variants, seed, days, warm-up or base scenario) is refused unless ``fresh=True``.

Variant names are keys (of the tidy table, the run files and the baseline). An explicit
``[[variants]]`` entry may add ``name_zh`` and ``description_zh``: display text for Chinese
figures and reports, kept in ``manifest.json`` (so ``gridsim plot``/``compare --lang zh`` use
them without rerunning) and left out of the fingerprint (adding them keeps results valid).
Design points get a Chinese name from the factor labels (``每网格户数=300，...``).

Time unit: days for the experiment's ``days`` and ``warmup_days``; hours inside scenarios.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import inspect
import itertools
import json
import math
import os
import shutil
import socket
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gridsim.experiment.executors import (
    EXECUTORS,
    Executor,
    ExecutorUnavailableError,
    make_executor,
)
from gridsim.experiment.naming import design_point_name, factor_tails
from gridsim.files import atomic_write, atomic_write_text
from gridsim.model.engine import replication_seed
from gridsim.model.scenario import (
    Scenario,
    ScenarioError,
    _describe_error,
    load_scenario,
    scenario_from_dict,
)

__all__ = [
    "Experiment",
    "Factor",
    "Precision",
    "ResultsConflictError",
    "RunOutcome",
    "RunSpec",
    "Variant",
    "default_results_dir",
    "execute_run",
    "experiment_from_dict",
    "load_experiment",
    "register",
    "run_experiment",
    "run_one",
    "slugify",
]

#: Signature of the function that runs one simulation (``gridsim.model.engine.simulate``).
SimulateFn = Callable[..., Any]

TIDY_KEYS: tuple[str, ...] = ("variant", "replication", "metric", "value")
_RUN_META_KEY = b"gridsim_run"


class ResultsConflictError(RuntimeError):
    """A results directory holds results of a different experiment definition."""


# --------------------------------------------------------------------------- file schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _PrecisionSection(_Strict):
    metric: Annotated[str, Field(min_length=1)]
    target_relative_half_width: Annotated[float, Field(gt=0)]
    max_replications: Annotated[int, Field(ge=2)] = 50
    k_limit: Annotated[int, Field(ge=0)] = 5


class _ExperimentSection(_Strict):
    name: Annotated[str, Field(min_length=1)]
    name_zh: str = ""
    description: str = ""
    description_zh: str = ""
    base: Annotated[str, Field(min_length=1)]
    replications: Annotated[int, Field(ge=1)] = 5
    days: Annotated[float, Field(gt=0)] | None = None
    warmup_days: Annotated[float, Field(ge=0)] | None = None
    warmup: Literal["fixed", "mser5"] = "fixed"
    seed: Annotated[int, Field(ge=0)]
    baseline: str | None = None
    samples: Annotated[int, Field(ge=1)] | None = None
    confidence: Annotated[float, Field(gt=0, lt=1)] = 0.95
    precision: _PrecisionSection | None = None

    @model_validator(mode="after")
    def _consistent(self) -> _ExperimentSection:
        if self.warmup == "mser5" and self.warmup_days:
            raise ValueError("give either warmup_days or warmup = 'mser5', not both")
        if self.precision and self.precision.max_replications < self.replications:
            raise ValueError("precision.max_replications must be at least replications")
        return self


class _Range(_Strict):
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> _Range:
        if not self.low < self.high:
            raise ValueError("range needs low < high")
        return self


class _FactorSection(_Strict):
    path: Annotated[str, Field(pattern=r"^[A-Za-z0-9_*]+(\.[A-Za-z0-9_*]+)*$")]
    values: Annotated[list[Any], Field(min_length=1)] | None = None
    range: _Range | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> _FactorSection:
        if (self.values is None) == (self.range is None):
            raise ValueError("a factor needs either values = [...] or range = {low, high}")
        if self.integer and self.range is None:
            raise ValueError("integer = true applies to range factors only")
        if (
            self.integer
            and self.range
            and not (float(self.range.low).is_integer() and float(self.range.high).is_integer())
        ):
            raise ValueError("an integer range needs whole-number low and high")
        return self


class _VariantSection(_Strict):
    name: Annotated[str, Field(min_length=1)]
    name_zh: str = ""
    description: str = ""
    description_zh: str = ""
    overrides: dict[str, Any] = {}


class _ExperimentFile(_Strict):
    experiment: _ExperimentSection
    factors: list[_FactorSection] = []
    variants: list[_VariantSection] = []

    @model_validator(mode="after")
    def _has_variants(self) -> _ExperimentFile:
        if not self.factors and not self.variants:
            raise ValueError("an experiment needs [[factors]] or [[variants]] (or both)")
        if any(f.range for f in self.factors) and not self.experiment.samples:
            raise ValueError("range factors need samples = N in [experiment] (Latin hypercube)")
        return self


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Factor:
    """One experimental factor: a dotted scenario field and its levels or range.

    Attributes:
        path: dotted scenario field (``grids.households_per_grid``).
        values: the levels of a full-factorial factor, or ``None`` for a range factor.
        low: lower end of a Latin-hypercube range (``None`` for a levels factor).
        high: upper end of the range.
        integer: draw whole numbers from the range.
    """

    path: str
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    integer: bool = False


@dataclass(frozen=True)
class Variant:
    """One variant of the base scenario.

    Attributes:
        name: readable name (explicit, or ``"path_tail=value,..."``).
        variant_id: stable file-name-safe id (used in ``runs/<variant_id>__r<rep>.parquet``).
        overrides: ``{dotted path: value}`` applied to the base scenario.
        factors: the variant's value of every factor column of the experiment.
        description: free text from the experiment file.
        label: short label for figures (a design point's values, ``"300, 50"``; else the name).
        name_zh: Chinese display name (``name_zh`` of the file; for a design point, the name
            with Chinese factor labels; ``""`` if none). Display only: ``name`` is the key.
        description_zh: Chinese description (``description_zh`` of the file, or ``""``).
    """

    name: str
    variant_id: str
    overrides: dict[str, Any]
    factors: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    label: str = ""
    name_zh: str = ""
    description_zh: str = ""


@dataclass(frozen=True)
class Precision:
    """Target precision for the sequential replications algorithm (Hoad et al. 2010).

    Attributes:
        metric: the KPI whose confidence interval must be narrow enough.
        target_relative_half_width: wanted ``half_width / |mean|`` (0.05 = 5 %).
        max_replications: never run more replications than this.
        k_limit: look-ahead replications that must keep the precision.
    """

    metric: str
    target_relative_half_width: float
    max_replications: int = 50
    k_limit: int = 5


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: base scenario, variants, replications, horizon, seed.

    Build one with :func:`load_experiment` (or :func:`experiment_from_dict`).

    Attributes:
        name: the experiment's name (its slug names the default results directory).
        description: free text.
        path: the experiment file (``None`` for an in-memory experiment).
        base_path: the base scenario file.
        base: the validated base scenario.
        replications: replications per variant (the starting number with ``precision``).
        days: simulated days per run.
        warmup_days: days left out of the KPIs (with ``warmup == "mser5"``: chosen by MSER-5).
        warmup: ``"fixed"`` or ``"mser5"``.
        seed: root entropy of every replication seed.
        baseline: name of the variant the others are compared with.
        confidence: confidence level of the intervals.
        samples: Latin-hypercube samples (range factors only).
        precision: the replications algorithm's target, if any.
        factors: the experiment's factors.
        variants: every variant, explicit ones first.
        factor_columns: the factor columns of the tidy table (dotted paths).
        source_text: the experiment file's text (copied into the results directory).
        name_zh: the Chinese name shown in Chinese reports (optional).
        description_zh: the Chinese description (optional).

    Example:
        >>> exp = load_experiment("scenarios/experiments/one_stop_centre.toml")
        >>> exp.baseline in [v.name for v in exp.variants]
        True
    """

    name: str
    description: str
    path: Path | None
    base_path: Path
    base: Scenario
    replications: int
    days: float
    warmup_days: float
    warmup: str
    seed: int
    baseline: str
    confidence: float
    samples: int | None
    precision: Precision | None
    factors: tuple[Factor, ...]
    variants: tuple[Variant, ...]
    factor_columns: tuple[str, ...]
    source_text: str
    name_zh: str = ""
    description_zh: str = ""

    @property
    def slug(self) -> str:
        """File-name-safe form of the name (``"Grid granularity"`` → ``grid-granularity``)."""
        return slugify(self.name, fallback="experiment")

    @property
    def source(self) -> str:
        """Where the experiment came from, for error messages."""
        return str(self.path) if self.path else f"<experiment {self.name}>"

    def variant(self, name: str) -> Variant:
        """Return the variant with this name (or variant id).

        Raises:
            KeyError: no such variant.
        """
        for v in self.variants:
            if name in (v.name, v.variant_id):
                return v
        raise KeyError(name)

    def fingerprint(self) -> str:
        """Hash of everything that changes a run's results (not replications or baseline).

        Example:
            >>> exp = load_experiment("scenarios/experiments/one_stop_centre.toml")
            >>> len(exp.fingerprint())
            16
        """
        payload = {
            "base": self.base.model_dump(mode="json"),
            "variants": [[v.name, v.overrides] for v in self.variants],
            "seed": self.seed,
            "days": self.days,
            "warmup": self.warmup,
            "warmup_days": None if self.warmup == "mser5" else self.warmup_days,
        }
        text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs for one run; cheap to pickle (the scenario is a dict).

    Attributes:
        variant: variant name.
        variant_id: variant id.
        replication: replication index ``r``.
        root_seed: the experiment's root seed (the run's seed is
            ``SeedSequence(entropy=root_seed, spawn_key=(r,))``).
        days: simulated days.
        scenario: the variant's scenario as a plain dict (``Scenario.model_dump()``).
        source: name for error messages.
        simulate: the simulate function; ``None`` means ``gridsim.model.engine.simulate``.
        collect_backlog: also return the daily mean backlog (for warm-up detection).
    """

    variant: str
    variant_id: str
    replication: int
    root_seed: int
    days: float
    scenario: dict
    source: str = "<experiment>"
    simulate: SimulateFn | None = None
    collect_backlog: bool = False


@dataclass(frozen=True)
class RunOutcome:
    """What travels back from a worker: scalar KPIs and bookkeeping, never event logs.

    Attributes:
        variant: variant name.
        variant_id: variant id.
        replication: replication index.
        kpis: scalar KPIs (floats) by name.
        seed: ``{"entropy": root_seed, "spawn_key": [r]}``.
        wall_time_s: seconds the simulation took.
        host: machine that ran it.
        pid: process that ran it.
        backlog: daily mean open orders (only when asked for).
    """

    variant: str
    variant_id: str
    replication: int
    kpis: dict[str, float]
    seed: dict
    wall_time_s: float
    host: str
    pid: int
    backlog: list[float] | None = None


# --------------------------------------------------------------------------- helpers


def slugify(text: str, fallback: str = "x", max_length: int = 100) -> str:
    """Make a file-name-safe, lower-case form of ``text``; long or non-ASCII names get a hash.

    Example:
        >>> slugify("Grid granularity: 400 households")
        'grid-granularity-400-households'
        >>> slugify("households_per_grid=300,rural_households_per_microgrid=40")
        'households_per_grid-300-rural_households_per_microgrid-40'
    """
    import re

    slug = re.sub(r"[^a-z0-9_.]+", "-", text.lower()).strip("-.")
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    if not slug:
        return f"{fallback}-{digest}"
    if len(slug) > max_length or not text.isascii():
        return f"{slug[: max_length - 9].rstrip('-.')}-{digest}"
    return slug


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _factor_labels(paths: list[str]) -> dict[str, str]:
    """Shortest distinct path tails: ``grids.households_per_grid`` → ``households_per_grid``."""
    return factor_tails(paths)


def _get_dotted(data: Any, path: str) -> Any:
    """Read a dotted path from a scenario dict (keyed lists by key/name, ``*`` for all)."""
    nodes = [data]
    for part in path.split("."):
        nxt = []
        for node in nodes:
            if isinstance(node, dict):
                nxt.append(node.get(part))
            elif isinstance(node, list):
                if part == "*":
                    nxt.extend(node)
                else:
                    nxt.extend(
                        i
                        for i in node
                        if isinstance(i, dict) and part in (i.get("key"), i.get("name"))
                    )
        nodes = nxt
    if len(nodes) == 1 or (nodes and all(n == nodes[0] for n in nodes)):
        value = nodes[0]
    else:
        value = nodes
    if isinstance(value, (dict, list)):
        return _format_value(value)
    return value


def _lhs_unit(d: int, samples: int, seed: int) -> np.ndarray:
    """Latin-hypercube points in the unit cube, reproducible from the root seed."""
    from scipy.stats import qmc

    rng = np.random.default_rng(seed)
    try:
        sampler = qmc.LatinHypercube(d=d, rng=rng)
    except TypeError:  # scipy < 1.15
        sampler = qmc.LatinHypercube(d=d, seed=rng)
    return sampler.random(samples)


def latin_hypercube(factors: Iterable[Factor], samples: int, seed: int) -> list[dict[str, Any]]:
    """Latin-hypercube sample of range factors: ``samples`` dicts ``{path: value}``.

    Uses :class:`scipy.stats.qmc.LatinHypercube` seeded with ``seed``. Integer factors take
    each whole number of ``[low, high]`` with equal probability; real factors are rounded to
    six significant digits (so names and values agree).

    Example:
        >>> f = Factor("grids.households_per_grid", low=200, high=600, integer=True)
        >>> pts = latin_hypercube([f], samples=4, seed=1)
        >>> all(200 <= p["grids.households_per_grid"] <= 600 for p in pts)
        True
        >>> pts == latin_hypercube([f], samples=4, seed=1)
        True
    """
    factors = list(factors)
    if not factors:
        return []
    unit = _lhs_unit(len(factors), samples, seed)
    points: list[dict[str, Any]] = []
    for row in unit:
        point: dict[str, Any] = {}
        for u, f in zip(row, factors, strict=True):
            low, high = float(f.low), float(f.high)
            if f.integer:
                point[f.path] = int(min(high, math.floor(low + u * (high - low + 1))))
            else:
                point[f.path] = float(f"{low + u * (high - low):.6g}")
        points.append(point)
    return points


def _design(factors: tuple[Factor, ...], samples: int | None, seed: int) -> list[dict[str, Any]]:
    """Full factorial of the levels factors, crossed with the LHS sample of the range ones."""
    levels = [f for f in factors if f.values is not None]
    ranges = [f for f in factors if f.values is None]
    grid = [
        dict(zip([f.path for f in levels], combo, strict=True))
        for combo in itertools.product(*(f.values for f in levels))
    ]
    if not ranges:
        return grid if levels else []
    lhs = latin_hypercube(ranges, samples or 1, seed)
    return [{**g, **p} for g in grid for p in lhs]


# --------------------------------------------------------------------------- loading


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; every variant is checked against the base.

    Args:
        path: the experiment's ``.toml`` file; its ``base`` is relative to this file.

    Returns:
        The validated experiment.

    Raises:
        ScenarioError: the file is missing, not TOML, has an unknown or bad field, its
            base scenario is missing or invalid, or a factor or variant does not apply to
            the base scenario. One line naming the file, the field and the expectation.

    Example:
        >>> exp = load_experiment("scenarios/experiments/escalation_rules.toml")
        >>> [v.name for v in exp.variants][:2]
        ['strict_ladder', 'direct_triage']
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(path, "", "no such file (expected a TOML experiment file)")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ScenarioError(path, "", "a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, "", f"valid TOML ({exc})") from None
    return experiment_from_dict(data, source=path, root=path.parent, text=text)


def experiment_from_dict(
    data: Mapping[str, Any],
    source: str | Path = "<experiment>",
    root: str | Path = ".",
    text: str | None = None,
) -> Experiment:
    """Validate a parsed experiment mapping (as :func:`load_experiment` does for a file).

    Args:
        data: the parsed TOML.
        source: name used in error messages (the file).
        root: directory that ``experiment.base`` is relative to.
        text: the original file text, if any (otherwise the mapping is dumped as TOML).

    Returns:
        The validated experiment.

    Raises:
        ScenarioError: as for :func:`load_experiment`.

    Example:
        >>> exp = experiment_from_dict({
        ...     "experiment": {"name": "demo", "base": "scenarios/one_town.toml", "seed": 1,
        ...                    "days": 5, "replications": 2},
        ...     "factors": [{"path": "grids.households_per_grid", "values": [300, 400]}]})
        >>> [v.name for v in exp.variants]
        ['households_per_grid=300', 'households_per_grid=400']
    """
    try:
        spec = _ExperimentFile.model_validate(dict(data))
    except ValidationError as exc:
        fld, expected = _describe_error(exc.errors()[0], data)
        raise ScenarioError(source, fld, expected) from None
    sec = spec.experiment
    base_path = Path(root) / sec.base
    if not base_path.is_file():
        raise ScenarioError(
            source, "experiment.base", f"an existing scenario file (no such file: {base_path})"
        )
    base = load_scenario(base_path)
    days = float(sec.days if sec.days is not None else base.meta.horizon_days)
    warmup_days = float(sec.warmup_days if sec.warmup_days is not None else 0.0)
    if sec.warmup_days is None and sec.warmup == "fixed":
        warmup_days = float(base.meta.warmup_days)
    if warmup_days >= days:
        raise ScenarioError(
            source, "experiment.warmup_days", f"a warm-up shorter than {days:g} days"
        )
    factors = tuple(
        Factor(
            f.path,
            tuple(f.values) if f.values is not None else None,
            f.range.low if f.range else None,
            f.range.high if f.range else None,
            f.integer,
        )
        for f in spec.factors
    )
    _check_factors(base, factors, source)
    variants = _build_variants(base, spec, factors, source)
    names = [v.name for v in variants]
    baseline = sec.baseline if sec.baseline is not None else names[0]
    if baseline not in names:
        shown = ", ".join(repr(n) for n in names[:6]) + (", ..." if len(names) > 6 else "")
        raise ScenarioError(source, "experiment.baseline", f"the name of a variant ({shown})")
    if sec.precision and sec.precision.metric == "":
        raise ScenarioError(source, "experiment.precision.metric", "a KPI name")
    precision = Precision(**sec.precision.model_dump()) if sec.precision else None
    if text is None:
        import tomli_w

        text = tomli_w.dumps(_plain(dict(data)))
    return Experiment(
        name=sec.name,
        description=sec.description,
        path=Path(source) if isinstance(source, Path) else None,
        base_path=base_path,
        base=base,
        replications=sec.replications,
        days=days,
        warmup_days=warmup_days,
        warmup=sec.warmup,
        seed=sec.seed,
        baseline=baseline,
        confidence=sec.confidence,
        samples=sec.samples,
        precision=precision,
        factors=factors,
        variants=tuple(variants),
        factor_columns=tuple(_factor_columns(factors, spec.variants)),
        source_text=text,
        name_zh=sec.name_zh,
        description_zh=sec.description_zh,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _apply(
    base: Scenario, overrides: Mapping[str, Any], source: str, where: str, value_note: str = ""
) -> Scenario:
    """Apply overrides; re-raise a failure as the experiment file's one-line error."""
    try:
        return base.with_overrides(dict(overrides), source=source)
    except ScenarioError as err:
        if err.expected.startswith("expected:"):  # a bad value, not a bad path
            where += value_note
        detail = err.expected
        if err.field and err.field not in where:
            detail = f"{err.field}: {detail}"
        raise ScenarioError(source, where, detail) from None


def _check_factors(base: Scenario, factors: tuple[Factor, ...], source: str | Path) -> None:
    for i, f in enumerate(factors):
        where = f"factors[{i}:{f.path}]"
        levels = f.values if f.values is not None else (f.low, f.high)
        if f.integer:
            levels = (int(f.low), int(f.high))
        for value in levels:
            _apply(base, {f.path: value}, str(source), where, f" value {value!r}")


def _build_variants(
    base: Scenario, spec: _ExperimentFile, factors: tuple[Factor, ...], source: str | Path
) -> list[Variant]:
    columns = _factor_columns(factors, spec.variants)
    entries: list[tuple[str, dict[str, Any], str, str, str, str, str]] = []
    for j, v in enumerate(spec.variants):
        where = f"variants[{j}:{v.name}]"
        entries.append(
            (v.name, dict(v.overrides), v.description, where, v.name, v.name_zh, v.description_zh)
        )
    paths = [f.path for f in factors]
    labels = _factor_labels(paths)
    for point in _design(factors, spec.experiment.samples, spec.experiment.seed):
        name = ",".join(f"{labels[p]}={_format_value(val)}" for p, val in point.items())
        short = ", ".join(_format_value(val) for val in point.values())
        name_zh = design_point_name(point, "zh", paths)
        entries.append((name, point, "", f"factors (variant {name})", short, name_zh, ""))
    seen: dict[str, str] = {}
    shown_zh: dict[str, str] = {}
    variants = []
    for name, overrides, description, where, short, name_zh, description_zh in entries:
        if name in seen:
            raise ScenarioError(source, where, f"a unique variant name ({name!r} repeats)")
        zh = name_zh or name
        if zh in shown_zh:
            raise ScenarioError(
                source,
                f"{where}.name_zh" if name_zh else where,
                f"a Chinese name no other variant shows ({zh!r} is also {shown_zh[zh]!r})",
            )
        shown_zh[zh] = name
        scenario = _apply(base, overrides, str(source), where)
        data = scenario.model_dump(mode="python")
        vid = slugify(name, fallback="variant")
        if vid in seen.values():
            vid = slugify(name + "#", fallback="variant", max_length=0)
        seen[name] = vid
        values = {c: _get_dotted(data, c) for c in columns}
        variants.append(
            Variant(name, vid, overrides, values, description, short, name_zh, description_zh)
        )
    return variants


def _factor_columns(factors: tuple[Factor, ...], variants: list[_VariantSection]) -> list[str]:
    columns = [f.path for f in factors]
    for v in variants:
        columns += [p for p in v.overrides if p not in columns]
    return columns


def default_results_dir(experiment: Experiment) -> Path:
    """``results/experiments/<experiment slug>`` (relative to the working directory).

    Example:
        >>> exp = load_experiment("scenarios/experiments/one_stop_centre.toml")
        >>> default_results_dir(exp).as_posix()
        'results/experiments/one-stop-centre'
    """
    return Path("results") / "experiments" / experiment.slug


# --------------------------------------------------------------------------- one run


def _engine_simulate() -> SimulateFn:
    from gridsim.model.engine import simulate

    return simulate


def _scalar_kpis(kpis: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in kpis.items():
        if isinstance(value, (bool, int, float, np.integer, np.floating, np.bool_)):
            out[str(name)] = float(value)
    return out


def _daily_backlog(backlog: pd.DataFrame, days: float) -> list[float]:
    """Mean open orders per simulated day (the backlog is sampled every hour)."""
    n_days = max(1, int(math.floor(days)))
    day = (backlog["time"].to_numpy(dtype=float) // 24).astype(int)
    keep = (day >= 0) & (day < n_days)
    sums = np.bincount(
        day[keep], weights=backlog["open"].to_numpy(dtype=float)[keep], minlength=n_days
    )
    counts = np.bincount(day[keep], minlength=n_days)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    return [float(x) for x in pd.Series(means).ffill().fillna(0.0)]


def _call_simulate(simulate: SimulateFn, scenario: Scenario, seed: Any, days: float) -> Any:
    """Call ``simulate``; without its event log when it offers ``log_events`` (KPIs agree)."""
    try:
        params = inspect.signature(simulate).parameters
    except (TypeError, ValueError):
        params = {}
    if "log_events" in params:
        return simulate(scenario, seed, days, log_events=False)
    return simulate(scenario, seed, days)


def execute_run(spec: RunSpec) -> RunOutcome:
    """Run one (variant, replication) and keep only its scalar KPIs (runs in a worker).

    Example:
        >>> exp = load_experiment("scenarios/experiments/one_stop_centre.toml")
        >>> spec = build_specs(exp, [(exp.variants[0], 0)])[0]
        >>> execute_run(spec).seed  # doctest: +SKIP
        {'entropy': 20250301, 'spawn_key': [0]}
    """
    simulate = spec.simulate or _engine_simulate()
    scenario = scenario_from_dict(spec.scenario, spec.source)
    seed = replication_seed(spec.root_seed, spec.replication)
    start = time.perf_counter()
    result = _call_simulate(simulate, scenario, seed, spec.days)
    wall = time.perf_counter() - start
    backlog = _daily_backlog(result.backlog, spec.days) if spec.collect_backlog else None
    return RunOutcome(
        variant=spec.variant,
        variant_id=spec.variant_id,
        replication=spec.replication,
        kpis=_scalar_kpis(result.kpis),
        seed={"entropy": spec.root_seed, "spawn_key": [spec.replication]},
        wall_time_s=wall,
        host=socket.gethostname(),
        pid=os.getpid(),
        backlog=backlog,
    )


def variant_scenario(
    experiment: Experiment, variant: Variant | str, warmup_days: float | None = None
) -> Scenario:
    """Build the scenario a variant runs: base + overrides + the experiment's horizon, warm-up.

    Example:
        >>> exp = load_experiment("scenarios/experiments/one_stop_centre.toml")
        >>> s = variant_scenario(exp, exp.variants[-1])
        >>> s.meta.horizon_days == exp.days
        True
    """
    v = experiment.variant(variant) if isinstance(variant, str) else variant
    warm = experiment.warmup_days if warmup_days is None else warmup_days
    overrides = {**v.overrides, "meta.horizon_days": experiment.days, "meta.warmup_days": warm}
    return _apply(experiment.base, overrides, experiment.source, f"variants ({v.name})")


def build_specs(
    experiment: Experiment,
    runs: Iterable[tuple[Variant, int]],
    warmup_days: float | None = None,
    simulate: SimulateFn | None = None,
    collect_backlog: bool = False,
) -> list[RunSpec]:
    """Run specs for (variant, replication) pairs; each variant's scenario is built once.

    Example:
        >>> exp = load_experiment("scenarios/experiments/one_stop_centre.toml")
        >>> specs = build_specs(exp, [(v, 0) for v in exp.variants])
        >>> {s.replication for s in specs}, len(specs) == len(exp.variants)
        ({0}, True)
    """
    cache: dict[str, dict] = {}
    specs = []
    for variant, rep in runs:
        if variant.name not in cache:
            scenario = variant_scenario(experiment, variant, warmup_days)
            cache[variant.name] = scenario.model_dump(mode="python")
        specs.append(
            RunSpec(
                variant=variant.name,
                variant_id=variant.variant_id,
                replication=int(rep),
                root_seed=experiment.seed,
                days=experiment.days,
                scenario=cache[variant.name],
                source=f"{experiment.source} [{variant.name}]",
                simulate=simulate,
                collect_backlog=collect_backlog,
            )
        )
    return specs


def run_one(
    experiment: Experiment | str | Path,
    variant: str,
    replication: int,
    *,
    warmup_days: float | None = None,
    simulate: SimulateFn | None = None,
) -> Any:
    """Rebuild a single run of an experiment alone, with its full tables.

    The seed is the one the sweep used (``SeedSequence(entropy=seed, spawn_key=(r,))``), so
    the KPIs equal the sweep's. For an MSER-5 experiment pass the warm-up the sweep chose
    (``manifest.json`` → ``warmup_days``).

    Args:
        experiment: an experiment or its file.
        variant: variant name or id.
        replication: replication index.
        warmup_days: override the experiment's warm-up (days).
        simulate: the simulate function (default ``gridsim.model.engine.simulate``).

    Returns:
        The run's :class:`gridsim.model.records.RunResult`.

    Example:
        >>> exp = load_experiment("scenarios/experiments/one_stop_centre.toml")
        >>> result = run_one(exp, exp.baseline, 0)  # doctest: +SKIP
        >>> result.kpis["appeals"] > 0  # doctest: +SKIP
        True
    """
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    scenario = variant_scenario(exp, variant, warmup_days)
    seed = replication_seed(exp.seed, replication)
    return (simulate or _engine_simulate())(scenario, seed, exp.days)


# --------------------------------------------------------------------------- results store


def _write_json(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, default=_json_default, allow_nan=True)
    atomic_write(path, lambda tmp: tmp.write_text(text + "\n", "utf-8"))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, np.bool_)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return str(value)


_OWNED = (
    "runs",
    "manifest.json",
    "experiment.toml",
    "base_scenario.toml",
    "warmup.json",
    "warmup.parquet",
    "tidy.parquet",
    "tidy.csv",
    "runs.csv",
    "summary.csv",
    "comparison.csv",
    "figures",
    "report.md",
    "report.html",
    "report_zh.md",
    "report_zh.html",
)


class ResultsStore:
    """The on-disk results directory of one experiment (see the module docstring).

    Example:
        >>> import tempfile
        >>> store = ResultsStore(tempfile.mkdtemp())
        >>> store.run_file("baseline", 3).name
        'baseline__r3.parquet'
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.runs_dir = self.root / "runs"
        self.manifest_path = self.root / "manifest.json"

    # ---- lifecycle
    def prepare(self, experiment: Experiment, fresh: bool = False) -> dict:
        """Create or reopen the directory; refuse results of another definition.

        Returns:
            The existing manifest (``{}`` for a new directory).

        Raises:
            ResultsConflictError: the directory holds results of a different definition
                and ``fresh`` is false.
        """
        if fresh:
            self.clear()
        old = self._read_manifest(experiment)
        if old and old.get("fingerprint") != experiment.fingerprint():
            raise ResultsConflictError(
                f"{self.root}: holds results of a different definition of "
                f"{old.get('experiment', '?')!r} (factors, variants, seed, days, warm-up or base "
                "scenario changed); rerun with --fresh (fresh=True) to discard them, "
                "or choose another --out"
            )
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        for leftover in [*self.runs_dir.glob(".*.tmp"), *self.root.glob(".*.tmp")]:
            with contextlib.suppress(OSError):
                leftover.unlink()
        text = experiment.source_text
        atomic_write(self.root / "experiment.toml", lambda tmp: tmp.write_text(text, "utf-8"))
        self._write_base(experiment.base)
        return old

    def _read_manifest(self, experiment: Experiment) -> dict:
        if not self.manifest_path.exists():
            if self.runs_dir.is_dir() and any(self.runs_dir.iterdir()):
                raise ResultsConflictError(
                    f"{self.root}: has runs/ but no manifest.json, so its results cannot be "
                    "matched to this experiment; rerun with --fresh or choose another --out"
                )
            return {}
        try:
            return json.loads(self.manifest_path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ResultsConflictError(
                f"{self.manifest_path}: unreadable manifest ({exc}); rerun with --fresh"
            ) from None

    def _write_base(self, base: Scenario) -> None:
        atomic_write_text(self.root / "base_scenario.toml", base.to_toml())

    def clear(self) -> None:
        """Delete what a sweep or a report wrote here (nothing else)."""
        for name in _OWNED:
            target = self.root / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()

    def write_manifest(self, manifest: dict) -> None:
        """Write ``manifest.json`` atomically."""
        _write_json(self.manifest_path, manifest)

    # ---- runs
    def run_file(self, variant_id: str, replication: int) -> Path:
        """Path of one run's file."""
        return self.runs_dir / f"{variant_id}__r{replication}.parquet"

    def finished(self, variant_id: str, replication: int) -> bool:
        """Whether the run's file exists and reads back; an unreadable file is deleted."""
        path = self.run_file(variant_id, replication)
        if not path.exists():
            return False
        try:
            self.read_run(path)
        except Exception:  # noqa: BLE001 - any unreadable file is recomputed
            path.unlink()
            return False
        return True

    def write_run(self, outcome: RunOutcome) -> Path:
        """Write one finished run's tidy rows (and its seed and timing) atomically."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        metrics = list(outcome.kpis)
        table = pa.table(
            {
                "variant": pa.array([outcome.variant] * len(metrics), pa.string()),
                "replication": pa.array([outcome.replication] * len(metrics), pa.int64()),
                "metric": pa.array(metrics, pa.string()),
                "value": pa.array([outcome.kpis[m] for m in metrics], pa.float64()),
            }
        )
        meta = {
            "variant": outcome.variant,
            "variant_id": outcome.variant_id,
            "replication": outcome.replication,
            "seed": outcome.seed,
            "wall_time_s": outcome.wall_time_s,
            "host": outcome.host,
            "pid": outcome.pid,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        table = table.replace_schema_metadata({_RUN_META_KEY: json.dumps(meta).encode()})
        path = self.run_file(outcome.variant_id, outcome.replication)
        atomic_write(path, lambda tmp: pq.write_table(table, tmp))
        return path

    @staticmethod
    def read_run(path: Path) -> tuple[pd.DataFrame, dict]:
        """One run file's rows and its metadata (seed, wall time, host)."""
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        missing = [c for c in TIDY_KEYS if c not in table.column_names]
        if missing:
            raise ValueError(f"{path}: not a run file (missing {missing})")
        meta = json.loads((table.schema.metadata or {})[_RUN_META_KEY])
        return table.to_pandas(), meta

    def write_table(self, df: pd.DataFrame, name: str, csv: bool = True) -> None:
        """Write ``name.parquet`` (and ``name.csv``) atomically."""
        atomic_write(self.root / f"{name}.parquet", lambda tmp: df.to_parquet(tmp, index=False))
        if csv:
            self.write_csv(df, name)

    def write_csv(self, df: pd.DataFrame, name: str) -> None:
        """Write ``name.csv`` atomically."""
        atomic_write(self.root / f"{name}.csv", lambda tmp: df.to_csv(tmp, index=False))


# --------------------------------------------------------------------------- running


class _NeedReplication(Exception):
    def __init__(self, replication: int):
        super().__init__(replication)
        self.replication = replication


@dataclass
class _Session:
    """One invocation of :func:`run_experiment`: executor, progress bar, counters."""

    experiment: Experiment
    store: ResultsStore
    executor: Executor
    simulate: SimulateFn | None
    progress: bool
    computed: int = 0
    skipped: int = 0
    removed: int = 0
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _entered: bool = False
    _bar: Any = None

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._stack.close()

    def _ensure_executor(self) -> Executor:
        if not self._entered:
            self._stack.enter_context(self.executor)
            self._entered = True
        return self.executor

    def _ensure_bar(self, extra: int) -> Any:
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=extra, desc=self.experiment.name, unit="run", disable=not self.progress
            )
        else:
            self._bar.total += extra
            self._bar.refresh()
        if self.skipped:
            self._bar.set_postfix(skipped=self.skipped)
        return self._bar

    def stream(self, specs: list[RunSpec]) -> Iterator[RunOutcome]:
        """Compute specs on the executor, yielding outcomes as they complete."""
        if not specs:
            return
        bar = self._ensure_bar(len(specs))
        executor = self._ensure_executor()
        for outcome in executor.run(execute_run, specs):
            yield outcome
            bar.update(1)

    def execute(self, plan: list[tuple[Variant, int]], warmup_days: float) -> None:
        """Compute every planned run that has no readable file; stream each to disk."""
        todo = []
        for variant, rep in plan:
            path = self.store.run_file(variant.variant_id, rep)
            existed = path.exists()
            if self.store.finished(variant.variant_id, rep):
                self.skipped += 1
            else:
                self.removed += existed
                todo.append((variant, rep))
        # Replication-major order: an interrupted sweep leaves whole replications behind.
        todo.sort(key=lambda run: run[1])
        specs = build_specs(self.experiment, todo, warmup_days, self.simulate)
        for outcome in self.stream(specs):
            self.store.write_run(outcome)
            self.computed += 1


def _plan(experiment: Experiment, replications: Iterable[int]) -> list[tuple[Variant, int]]:
    reps = list(replications)
    return [(v, r) for v in experiment.variants for r in reps]


def _choose_warmup(session: _Session) -> tuple[float, dict | None]:
    """MSER-5 on the baseline's daily backlog (pilot runs without warm-up), cached on disk."""
    exp, store = session.experiment, session.store
    if exp.warmup != "mser5":
        return exp.warmup_days, None
    info_path = store.root / "warmup.json"
    if info_path.exists():
        info = json.loads(info_path.read_text("utf-8"))
        if info.get("fingerprint") == exp.fingerprint() and info.get("pilot_replications", 0) >= 2:
            return float(info["warmup_days"]), info
    from gridsim.analysis.stats import mser5

    baseline = exp.variant(exp.baseline)
    reps = max(2, exp.replications)
    runs = [(baseline, r) for r in range(reps)]
    specs = build_specs(exp, runs, 0.0, session.simulate, collect_backlog=True)
    series: dict[int, list[float]] = {}
    for outcome in session.stream(specs):
        series[outcome.replication] = outcome.backlog or []
    session.computed += len(specs)
    matrix = np.array([series[r] for r in sorted(series)], dtype=float)
    truncation = mser5(matrix.mean(axis=0)) if matrix.shape[1] >= 10 else 0
    periods = matrix.shape[1]
    info = {
        "fingerprint": exp.fingerprint(),
        "method": "mser5",
        "series": "daily mean open work orders of the baseline variant",
        "variant": baseline.name,
        "pilot_replications": reps,
        "periods": periods,
        "warmup_days": float(truncation),
        "welch_window": max(1, periods // 20),
        "steady_state_doubtful": bool(truncation >= 0.4 * periods),
    }
    long = pd.DataFrame(
        [
            {"replication": r, "day": d, "backlog": v}
            for r in sorted(series)
            for d, v in enumerate(series[r])
        ]
    )
    store.write_table(long, "warmup", csv=False)
    _write_json(info_path, info)
    return float(truncation), info


def _read_metric(store: ResultsStore, variant: Variant, reps: int, metric: str) -> dict[int, float]:
    values = {}
    for r in range(reps):
        rows, _ = store.read_run(store.run_file(variant.variant_id, r))
        hit = rows.loc[rows["metric"] == metric, "value"]
        values[r] = float(hit.iloc[0]) if len(hit) else math.nan
    return values


def _extend_for_precision(session: _Session, n: int, warmup_days: float) -> tuple[int, dict]:
    """Add replications (to every variant alike) until each meets the precision target."""
    from gridsim.analysis.stats import replications_needed

    exp, p = session.experiment, session.experiment.precision
    assert p is not None
    min_reps = min(max(3, exp.replications), p.max_replications)
    status: dict[str, dict] = {}
    while True:
        want = n
        for v in exp.variants:
            values = _read_metric(session.store, v, n, p.metric)
            if all(math.isnan(x) for x in values.values()):
                raise ScenarioError(
                    exp.source,
                    "experiment.precision.metric",
                    f"a KPI the runs report, not {p.metric!r}",
                )

            def lookup(rep: int, values: dict[int, float] = values) -> float:
                if rep not in values:
                    raise _NeedReplication(rep)
                return values[rep]

            try:
                res = replications_needed(
                    lookup,
                    p.target_relative_half_width,
                    exp.confidence,
                    min_replications=min_reps,
                    max_replications=p.max_replications,
                    k_limit=p.k_limit,
                )
            except _NeedReplication as need:
                want = max(want, need.replication + 1)
                continue
            except ValueError as exc:  # a NaN replication: precision cannot be judged
                status[v.name] = {"converged": False, "note": str(exc)}
                continue
            status[v.name] = {
                "converged": res.converged,
                "n_required": res.n_required,
                "relative_half_width": res.history[-1] if res.history else math.inf,
            }
        if want == n:
            return n, status
        session.execute(_plan(exp, range(n, want)), warmup_days)
        n = want


def _column_values(values: list[Any]) -> pd.Series:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="boolean" if len(present) < len(values) else bool)
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pd.Series(values, dtype=float)
    return pd.Series(["" if v is None else _format_value(v) for v in values], dtype=str)


def _collect(
    experiment: Experiment, store: ResultsStore, replications: int
) -> tuple[pd.DataFrame, list[dict]]:
    """Read the tidy table and the runs manifest from the run files, in plan order."""
    frames, runs = [], []
    for variant, rep in _plan(experiment, range(replications)):
        path = store.run_file(variant.variant_id, rep)
        rows, meta = store.read_run(path)
        frames.append(rows)
        runs.append({**meta, "file": path.relative_to(store.root).as_posix()})
    tidy = pd.concat(frames, ignore_index=True)
    by_variant = {v.name: v for v in experiment.variants}
    position = 1
    for col in experiment.factor_columns:
        values = [by_variant[name].factors.get(col) for name in tidy["variant"]]
        tidy.insert(position, col, _column_values(values))
        position += 1
    tidy["replication"] = tidy["replication"].astype("int64")
    tidy["value"] = tidy["value"].astype("float64")
    return tidy.reset_index(drop=True), runs


def _analyse(experiment: Experiment, store: ResultsStore, tidy: pd.DataFrame) -> None:
    from gridsim.analysis.stats import compare_to_baseline, summarise

    summary = summarise(tidy, experiment.confidence)
    store.write_csv(summary, "summary")
    if len(experiment.variants) > 1:
        comparison = compare_to_baseline(
            tidy[list(TIDY_KEYS)], experiment.baseline, experiment.confidence
        )
    else:
        comparison = pd.DataFrame(columns=["variant", "metric"])
    store.write_csv(comparison, "comparison")


def _manifest(experiment: Experiment, session: _Session, **extra: Any) -> dict[str, Any]:
    from gridsim.version import __version__

    return {
        "experiment": experiment.name,
        "experiment_zh": experiment.name_zh,
        "description": experiment.description,
        "description_zh": experiment.description_zh,
        "slug": experiment.slug,
        "fingerprint": experiment.fingerprint(),
        "gridsim_version": __version__,
        "experiment_file": str(experiment.path.resolve()) if experiment.path else None,
        "base_scenario": str(experiment.base_path.resolve()),
        "root_seed": experiment.seed,
        "seeding": "replication r: numpy.random.SeedSequence(entropy=root_seed, spawn_key=(r,))",
        "days": experiment.days,
        "warmup": experiment.warmup,
        "baseline": experiment.baseline,
        "confidence": experiment.confidence,
        "factor_columns": list(experiment.factor_columns),
        "factor_paths": [f.path for f in experiment.factors],
        "variants": [
            {
                "name": v.name,
                "variant_id": v.variant_id,
                "overrides": v.overrides,
                "factors": v.factors,
                "description": v.description,
                "label": v.label,
                "name_zh": v.name_zh,
                "description_zh": v.description_zh,
            }
            for v in experiment.variants
        ],
        "executor": {"name": session.executor.name, "workers": session.executor.workers},
        **extra,
    }


def run_experiment(
    experiment_or_path: Experiment | str | Path,
    *,
    executor: str | Executor = "processes",
    workers: int | None = None,
    address: str | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    simulate: SimulateFn | None = None,
    fresh: bool = False,
) -> pd.DataFrame:
    """Run every (variant, replication) of an experiment; return the tidy KPI table.

    Each finished run is written to ``out/runs/`` as it arrives, so an interrupted sweep
    resumes where it stopped (finished runs are skipped). The tidy table is the same,
    row for row, whatever the executor and the number of workers.

    Args:
        experiment_or_path: an :class:`Experiment` or its TOML file.
        executor: ``"serial"``, ``"processes"``, ``"dask"``, or an executor object
            (see :mod:`gridsim.experiment.executors`).
        workers: worker processes (default: CPU count).
        address: Dask scheduler address (``tcp://host:8786``) for ``executor="dask"``.
        out: results directory (default ``results/experiments/<slug>/``).
        progress: show a progress bar with an ETA (tqdm; works in Jupyter).
        simulate: the simulate function, ``simulate(scenario, seed, days) -> RunResult``
            (default ``gridsim.model.engine.simulate``); must be picklable for parallel executors.
        fresh: discard earlier results in ``out`` instead of resuming.

    Returns:
        Columns ``variant``, one per factor (dotted path), ``replication``, ``metric``,
        ``value``; sorted by variant (experiment order), replication, then KPI order.
        ``df.attrs`` holds ``results_dir``, ``computed``, ``skipped`` and ``warmup_days``.

    Raises:
        ScenarioError: the experiment file is invalid.
        ResultsConflictError: ``out`` holds results of a different definition (use
            ``fresh=True``).
        ExecutorUnavailableError: the Dask executor without Dask installed.

    Example:
        >>> df = run_experiment("scenarios/experiments/one_stop_centre.toml",
        ...                     executor="processes", workers=2)  # doctest: +SKIP
        >>> sorted(df.columns)[:2]  # doctest: +SKIP
        ['centre.merged_county', 'centre.merged_town']
    """
    started = time.time()
    exp = (
        experiment_or_path
        if isinstance(experiment_or_path, Experiment)
        else load_experiment(experiment_or_path)
    )
    ex = make_executor(executor, workers, address) if isinstance(executor, str) else executor
    store = ResultsStore(out if out is not None else default_results_dir(exp))
    store.prepare(exp, fresh=fresh)
    session = _Session(exp, store, ex, simulate, progress)
    manifest = _manifest(exp, session, status="running", replications=exp.replications)
    store.write_manifest(manifest)
    try:
        warmup_days, warmup_info = _choose_warmup(session)
        n = exp.replications
        session.execute(_plan(exp, range(n)), warmup_days)
        precision_status = None
        if exp.precision:
            n, precision_status = _extend_for_precision(session, n, warmup_days)
    finally:
        session.close()
    tidy, runs = _collect(exp, store, n)
    store.write_table(tidy, "tidy")
    store.write_csv(pd.DataFrame(runs).drop(columns=["seed"], errors="ignore"), "runs")
    _analyse(exp, store, tidy)
    manifest.update(
        status="complete",
        replications=n,
        warmup_days=warmup_days,
        warmup_info=warmup_info,
        precision=(
            None
            if exp.precision is None
            else {**exp.precision.__dict__, "variants": precision_status}
        ),
        last_invocation={
            "computed": session.computed,
            "skipped": session.skipped,
            "recomputed_unreadable": session.removed,
            "wall_time_s": round(time.time() - started, 3),
        },
        runs=runs,
    )
    store.write_manifest(manifest)
    tidy.attrs.update(
        results_dir=str(store.root),
        computed=session.computed,
        skipped=session.skipped,
        warmup_days=warmup_days,
    )
    return tidy


# --------------------------------------------------------------------------- CLI


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to a CLI's sub-parsers.

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser(prog="gridsim")
        >>> _ = register(parser.add_subparsers())
        >>> args = parser.parse_args(["sweep", "x.toml", "--executor", "serial"])
        >>> args.executor, args.func.__name__
        ('serial', 'sweep_command')
    """
    p = subparsers.add_parser(
        "sweep",
        help="run an experiment (variants x replications) and save tidy results",
        description="Run every variant and replication of an experiment file, streaming "
        "each finished run to the results directory; a rerun resumes.",
    )
    p.add_argument("experiment", help="experiment TOML file")
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=None,
        help="where runs are computed (default: processes, or dask with --address)",
    )
    p.add_argument("--address", help="Dask scheduler address, e.g. tcp://HOST:8786")
    p.add_argument("--workers", type=int, help="worker processes (default: CPU count)")
    p.add_argument("--out", help="results directory (default results/experiments/<name>/)")
    p.add_argument("--fresh", action="store_true", help="discard earlier results in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=sweep_command)
    return p


def sweep_command(args: argparse.Namespace) -> int:
    """Run ``gridsim sweep``; user mistakes are one line on stderr and exit code 2."""
    kind = args.executor or ("dask" if args.address else "processes")
    try:
        executor = make_executor(kind, args.workers, args.address)
        tidy = run_experiment(
            args.experiment,
            executor=executor,
            out=args.out,
            progress=not args.quiet,
            fresh=args.fresh,
        )
    except (ScenarioError, ResultsConflictError, ExecutorUnavailableError) as exc:
        print(f"gridsim sweep: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # bad --workers or --executor/--address combination
        if "executor" in locals():
            raise
        print(f"gridsim sweep: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        a = tidy.attrs
        print(
            f"{a['computed']} runs computed, {a['skipped']} skipped (already done); "
            f"results in {a['results_dir']}; next: gridsim compare {a['results_dir']}"
        )
    return 0
