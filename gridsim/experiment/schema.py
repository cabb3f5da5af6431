"""The experiment file's schema: strict pydantic models of its TOML sections.

An experiment file has one ``[experiment]`` table and at least one ``[[factors]]`` or
``[[variants]]`` entry. These models only check the file's shape (types, ranges, which keys
exist); :mod:`gridsim.experiment.loading` then checks the contents against the base scenario
and turns them into an :class:`gridsim.experiment.spec.Experiment`.

The models are as strict as the scenario schema: nothing is coerced (``replications = true``,
``"2"`` or ``1.0`` and ``seed = "7"`` are errors, not 1, 2, 1 and 7), and no number may be
NaN or infinite. Counts have upper bounds (:data:`MAX_REPLICATIONS`, :data:`MAX_SAMPLES`)
so that a typo of a few zeros is refused at once instead of running until memory runs out.

Example:
    >>> ExperimentFile.model_validate({
    ...     "experiment": {"name": "demo", "base": "one_town.toml", "seed": 1},
    ...     "variants": [{"name": "as is"}]}).experiment.replications
    5
    >>> ExperimentFile.model_validate({
    ...     "experiment": {"name": "demo", "base": "one_town.toml", "seed": "1"},
    ...     "variants": [{"name": "as is"}]})
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for ExperimentFile
    experiment.seed
      Input should be a valid integer [type=int_type, input_value='1', input_type=str]
    ...
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

#: Most replications per variant: a sane bound (at a second a run, a day of computing per
#: variant); a larger number is almost surely a typo and would only exhaust memory.
MAX_REPLICATIONS = 100_000
#: Most samples (Latin-hypercube points or Saltelli base points; each point is a variant
#: whose scenario is checked at load time).
MAX_SAMPLES = 10_000


def _printable(name: str) -> str:
    """A name is shown in tables, reports and one-line messages: no control characters."""
    if not name.isprintable():
        raise ValueError("a name without control characters (newlines, tabs, escapes)")
    return name


#: A variant's or experiment's name: one printable line (it keys tables and file names).
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]
#: A display name that may be left empty (``name_zh``).
DisplayName = Annotated[str, Field(max_length=200), AfterValidator(_printable)]


class _Strict(BaseModel):
    """Unknown keys are errors, nothing is coerced, numbers are finite; sections are read-only.

    ``strict=True`` is what the scenario loader asks of scenario files: a TOML boolean, string
    or float is never read as an integer, a string never as a number.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class PrecisionSection(_Strict):
    """``[experiment.precision]``: the target of the sequential replications algorithm."""

    metric: Annotated[str, Field(min_length=1)]
    target_relative_half_width: Annotated[float, Field(gt=0)]
    max_replications: Annotated[int, Field(ge=2, le=MAX_REPLICATIONS)] = 50
    k_limit: Annotated[int, Field(ge=0)] = 5


class ExperimentSection(_Strict):
    """``[experiment]``: name, base scenario, replications, horizon, warm-up, seed, design.

    ``design`` says how range factors are sampled: ``"lhs"`` (a Latin hypercube of
    ``samples`` points) or ``"saltelli"`` (Saltelli's sample of ``samples`` base points, for
    Sobol' indices; see :mod:`gridsim.experiment.designs`).
    """

    name: Name
    name_zh: DisplayName = ""
    description: str = ""
    description_zh: str = ""
    base: Annotated[str, Field(min_length=1)]
    replications: Annotated[int, Field(ge=1, le=MAX_REPLICATIONS)] = 5
    days: Annotated[float, Field(gt=0)] | None = None
    warmup_days: Annotated[float, Field(ge=0)] | None = None
    warmup: Literal["fixed", "mser5"] = "fixed"
    seed: Annotated[int, Field(ge=0)]
    baseline: str | None = None
    samples: Annotated[int, Field(ge=1, le=MAX_SAMPLES)] | None = None
    design: Literal["lhs", "saltelli"] = "lhs"
    confidence: Annotated[float, Field(gt=0, lt=1)] = 0.95
    precision: PrecisionSection | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentSection:
        if self.warmup == "mser5" and self.warmup_days:
            raise ValueError("give either warmup_days or warmup = 'mser5', not both")
        if self.precision and self.precision.max_replications < self.replications:
            raise ValueError("precision.max_replications must be at least replications")
        return self


class RangeSection(_Strict):
    """``range = {low, high}`` of a Latin-hypercube factor."""

    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> RangeSection:
        if not self.low < self.high:
            raise ValueError("range needs low < high")
        return self


class FactorSection(_Strict):
    """One ``[[factors]]`` entry: a dotted scenario path with levels or a range."""

    path: Annotated[str, Field(pattern=r"^[A-Za-z0-9_*]+(\.[A-Za-z0-9_*]+)*$")]
    values: Annotated[list[Any], Field(min_length=1)] | None = None
    range: RangeSection | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> FactorSection:
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


class VariantSection(_Strict):
    """One ``[[variants]]`` entry: a named set of overrides of the base scenario."""

    name: Name
    name_zh: DisplayName = ""
    description: str = ""
    description_zh: str = ""
    overrides: dict[str, Any] = {}


class ExperimentFile(_Strict):
    """The whole experiment file."""

    experiment: ExperimentSection
    factors: list[FactorSection] = []
    variants: list[VariantSection] = []

    @model_validator(mode="after")
    def _has_variants(self) -> ExperimentFile:
        if not self.factors and not self.variants:
            raise ValueError("an experiment needs [[factors]] or [[variants]] (or both)")
        if any(f.range for f in self.factors) and not self.experiment.samples:
            raise ValueError("range factors need samples = N in [experiment] (the sample size)")
        return self
