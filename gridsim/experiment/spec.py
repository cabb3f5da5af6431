"""What an experiment is: its factors, variants, precision target, and the experiment itself.

These frozen records are what :func:`gridsim.experiment.loading.load_experiment` builds from
an experiment file and what the rest of the room reads. A variant's ``name`` is its key (in
the tidy table, the run files and the baseline); ``variant_id`` is the same name made safe
for file names (:func:`slugify`).

Time unit: days for ``days`` and ``warmup_days``; hours inside scenarios.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridsim.model.scenario import Scenario


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

    @property
    def bounds(self) -> tuple[float, float]:
        """``(low, high)`` of a range factor.

        Raises:
            ValueError: the factor has levels, not a range.

        Example:
            >>> Factor("grids.households_per_grid", low=200, high=600).bounds
            (200.0, 600.0)
        """
        if self.low is None or self.high is None:
            raise ValueError(f"factor {self.path!r} has levels, not a range")
        return float(self.low), float(self.high)


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
        point: a design point's row in the design (from 0, in sample order: what Sobol'
            indices need); ``None`` for an explicit variant.
    """

    name: str
    variant_id: str
    overrides: dict[str, Any]
    factors: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    label: str = ""
    name_zh: str = ""
    description_zh: str = ""
    point: int | None = None


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

    Build one with :func:`gridsim.experiment.loading.load_experiment` (or
    :func:`~gridsim.experiment.loading.experiment_from_dict`).

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
        samples: Latin-hypercube samples or Saltelli base points (range factors only).
        precision: the replications algorithm's target, if any.
        factors: the experiment's factors.
        variants: every variant, explicit ones first.
        factor_columns: the factor columns of the tidy table (dotted paths).
        source_text: the experiment file's text (copied into the results directory).
        name_zh: the Chinese name shown in Chinese reports (optional).
        description_zh: the Chinese description (optional).
        design: how range factors are sampled, ``"lhs"`` or ``"saltelli"``.

    Example:
        >>> from gridsim.experiment.loading import load_experiment
        >>> exp = load_experiment("scenarios/experiments/one_stop_centre.toml")
        >>> exp.baseline in [v.name for v in exp.variants]
        True
        >>> exp.design_kind, exp.range_bounds
        ('none', {})
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
    design: str = "lhs"

    @property
    def design_kind(self) -> str:
        """``"lhs"`` or ``"saltelli"`` with range factors, else ``"factorial"`` or ``"none"``.

        The vocabulary of :func:`gridsim.analysis.sensitivity.design_kind` (``manifest.json``
        records it as ``design``).
        """
        if any(f.values is None for f in self.factors):
            return self.design
        return "factorial" if self.factors else "none"

    @property
    def range_bounds(self) -> dict[str, list[float]]:
        """``{path: [low, high]}`` of every range factor (``manifest.json``'s ``range_factors``)."""
        return {f.path: list(f.bounds) for f in self.factors if f.values is None}

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
            >>> from gridsim.experiment.loading import load_experiment
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


def slugify(text: str, fallback: str = "x", max_length: int = 100) -> str:
    """Make a file-name-safe, lower-case form of ``text``; long or non-ASCII names get a hash.

    Example:
        >>> slugify("Grid granularity: 400 households")
        'grid-granularity-400-households'
        >>> slugify("households_per_grid=300,rural_households_per_microgrid=40")
        'households_per_grid-300-rural_households_per_microgrid-40'
    """
    slug = re.sub(r"[^a-z0-9_.]+", "-", text.lower()).strip("-.")
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    if not slug:
        return f"{fallback}-{digest}"
    if len(slug) > max_length or not text.isascii():
        return f"{slug[: max_length - 9].rstrip('-.')}-{digest}"
    return slug


def format_value(value: Any) -> str:
    """A factor level as text: in generated variant names, labels and text columns.

    Example:
        >>> format_value(300.0), format_value(True), format_value({"a": 1})
        ('300', 'true', '{"a":1}')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def default_results_dir(experiment: Experiment) -> Path:
    """``results/experiments/<experiment slug>`` (relative to the working directory).

    Example:
        >>> from gridsim.experiment.loading import load_experiment
        >>> exp = load_experiment("scenarios/experiments/one_stop_centre.toml")
        >>> default_results_dir(exp).as_posix()
        'results/experiments/one-stop-centre'
    """
    return Path("results") / "experiments" / experiment.slug
