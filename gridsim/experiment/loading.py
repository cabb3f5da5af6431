"""Reading an experiment file: validate it, check it against its base scenario, build variants.

:func:`load_experiment` reads the TOML; :func:`experiment_from_dict` does the work: the shape
is checked by :mod:`gridsim.experiment.schema`, then every factor level and every variant is
applied to the base scenario, so a file that loads cannot fail later on a bad override. Every
problem is a :class:`~gridsim.model.scenario.ScenarioError` naming the file, the field and
what was expected, raised where it is found.

Variants come in file order: explicit ``[[variants]]`` first, then one per design point
(:func:`gridsim.experiment.designs.design_points`), named after its factor levels
(``households_per_grid=300,...``) with a Chinese display name from the factor labels. A
Saltelli design repeats points (``AB_i`` equals ``A`` when factor ``i`` of ``B`` maps to the
same whole number), so its names end in the point's row, ``... #7``; every design point's row
is kept as :attr:`~gridsim.experiment.spec.Variant.point`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gridsim.analysis.sensitivity import MIN_POINTS
from gridsim.experiment.designs import design_points, design_size, is_power_of_two
from gridsim.experiment.naming import design_point_name, factor_tails
from gridsim.experiment.schema import (
    ExperimentFile,
    ExperimentSection,
    FactorSection,
    VariantSection,
)
from gridsim.experiment.spec import (
    Experiment,
    Factor,
    Precision,
    Variant,
    format_value,
    slugify,
)
from gridsim.kpi_registry import FAMILIES, KPIS
from gridsim.model.loader import (
    describe_validation_error,
    load_scenario,
    read_toml,
    with_overrides,
)
from gridsim.model.scenario import Scenario, ScenarioError


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
    data, text = read_toml(path, ScenarioError, "experiment", _TOO_DEEP)
    return experiment_from_dict(data, source=path, root=path.parent, text=text)


#: Deepest nesting of tables and arrays an experiment file may have (real files use 4).
MAX_DEPTH = 32
_TOO_DEEP = f"values nested at most {MAX_DEPTH} tables or arrays deep"
#: Most variants an experiment may have (explicit ones plus design points): each variant's
#: scenario is built and checked at load time, and runs multiply by replications.
MAX_VARIANTS = 10_000


def _check_depth(data: Mapping[str, Any], source: str | Path) -> None:
    """Refuse values nested deeper than :data:`MAX_DEPTH` before anything recurses into them.

    Validation, copying and writing the file back all recurse; a hostile file nested
    thousands deep would end in a RecursionError (a traceback) instead of one line.
    """
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:  # iterative on purpose: this is the guard against deep recursion
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ScenarioError(source, "", _TOO_DEEP)
        children = node.values() if isinstance(node, Mapping) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (Mapping, list)))


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
    _check_depth(data, source)
    spec = _validate_shape(data, source)
    sec = spec.experiment
    base_path = Path(root) / sec.base
    if not base_path.is_file():
        raise ScenarioError(
            source, "experiment.base", f"an existing scenario file (no such file: {base_path})"
        )
    base = load_scenario(base_path)
    days, warmup_days = _horizon(sec, base, source)
    factors = tuple(_factor(f) for f in spec.factors)
    _check_factor_paths(factors, source)
    _check_design(sec, factors, source)
    _check_design_size(spec, factors, source)
    _check_factors(base, factors, source)
    variants, roles = _build_variants(base, spec, factors, source)
    baseline = _baseline(sec, [v.name for v in variants], source)
    if sec.precision:
        _check_metric(sec.precision.metric, roles, source)
    if text is None:  # an in-memory experiment: the results directory still gets its file
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
        precision=Precision(**sec.precision.model_dump()) if sec.precision else None,
        factors=factors,
        variants=tuple(variants),
        factor_columns=tuple(_factor_columns(factors, spec.variants)),
        source_text=text,
        name_zh=sec.name_zh,
        description_zh=sec.description_zh,
        design=sec.design,
    )


def _validate_shape(data: Mapping[str, Any], source: str | Path) -> ExperimentFile:
    """The file's sections, or the first schema error as the one-line ScenarioError."""
    try:
        return ExperimentFile.model_validate(dict(data))
    except ValidationError as exc:
        fld, expected = describe_validation_error(exc.errors()[0], data)
        raise ScenarioError(source, fld, expected) from None


def _horizon(sec: ExperimentSection, base: Scenario, source: str | Path) -> tuple[float, float]:
    """Simulated days and warm-up days: the file's, else the base scenario's.

    With ``warmup = "mser5"`` and no ``warmup_days`` the warm-up starts at 0 (MSER-5 chooses
    it later); the warm-up must end before the horizon.
    """
    days = float(sec.days if sec.days is not None else base.meta.horizon_days)
    warmup_days = float(sec.warmup_days if sec.warmup_days is not None else 0.0)
    if sec.warmup_days is None and sec.warmup == "fixed":
        warmup_days = float(base.meta.warmup_days)
    if warmup_days >= days:
        raise ScenarioError(
            source, "experiment.warmup_days", f"a warm-up shorter than {days:g} days"
        )
    if sec.days is not None:  # the scenario's own bounds on a horizon apply to the file's
        apply_overrides(base, {"meta.horizon_days": days}, str(source), "experiment.days")
    return days, warmup_days


def _factor(section: FactorSection) -> Factor:
    """The record of one ``[[factors]]`` entry (levels, or a range's ends)."""
    return Factor(
        section.path,
        tuple(section.values) if section.values is not None else None,
        section.range.low if section.range else None,
        section.range.high if section.range else None,
        section.integer,
    )


def _check_factor_paths(factors: tuple[Factor, ...], source: str | Path) -> None:
    """Each factor varies its own field: a repeated path would silently override the other."""
    first: dict[str, int] = {}
    for i, f in enumerate(factors):
        if f.path in first:
            raise ScenarioError(
                source,
                f"factors[{i}:{f.path}]",
                f"a unique factor path (factors[{first[f.path]}] varies it too)",
            )
        first[f.path] = i


def _check_design(sec: ExperimentSection, factors: tuple[Factor, ...], source: str | Path) -> None:
    """A Saltelli design needs range factors and a power-of-two ``samples`` large enough.

    Its points serve Sobol' indices, which need at least
    :data:`gridsim.analysis.sensitivity.MIN_POINTS` of them; the scrambled Sobol' sequence
    is balanced only for a power of two.
    """
    if sec.design != "saltelli":
        return
    d = sum(f.values is None for f in factors)
    if not d:
        raise ScenarioError(
            source,
            "experiment.design",
            'a range factor (range = {low, high}) for design = "saltelli" '
            "(it samples range factors only; use the default design for levels)",
        )
    smallest = 1
    while smallest * (d + 2) < MIN_POINTS:
        smallest *= 2
    n = sec.samples or 0
    if not is_power_of_two(n) or n < smallest:
        raise ScenarioError(
            source,
            "experiment.samples",
            f'a power of two of at least {smallest} for design = "saltelli" with {d} range '
            f"factor{'s' if d > 1 else ''} (Sobol' indices need {MIN_POINTS} points; got {n})",
        )


def _check_design_size(
    spec: ExperimentFile, factors: tuple[Factor, ...], source: str | Path
) -> None:
    """Refuse more than :data:`MAX_VARIANTS` variants before building any of them."""
    n = len(spec.variants) + design_size(factors, spec.experiment.samples, spec.experiment.design)
    if n > MAX_VARIANTS:
        raise ScenarioError(
            source,
            "factors",
            f"at most {MAX_VARIANTS:,} variants (the factors' levels and samples give {n:,})",
        )


def _check_metric(metric: str, roles: set[str], source: str | Path) -> None:
    """The precision metric must be a KPI every run reports, known before any run starts.

    A KPI of the registry, or ``utilisation_<role>`` for a role of some variant's scenario
    (the runs report utilisation per role).
    """
    if metric in KPIS:
        return
    prefix, _, role = metric.partition("_")
    if prefix in FAMILIES and role in roles:
        return
    raise ScenarioError(
        source,
        "experiment.precision.metric",
        f"a KPI name (such as on_time_rate, or utilisation_<role> for a role of the "
        f"scenario: see `gridsim describe`), not {metric!r}",
    )


def _baseline(sec: ExperimentSection, names: list[str], source: str | Path) -> str:
    """The baseline variant's name: the file's ``baseline``, else the first variant."""
    baseline = sec.baseline if sec.baseline is not None else names[0]
    if baseline not in names:
        shown = ", ".join(repr(n) for n in names[:6]) + (", ..." if len(names) > 6 else "")
        raise ScenarioError(source, "experiment.baseline", f"the name of a variant ({shown})")
    return baseline


def _plain(value: Any) -> Any:
    """The parsed mapping as plain dicts and lists (what ``tomli_w`` can write)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def apply_overrides(
    base: Scenario, overrides: Mapping[str, Any], source: str, where: str, value_note: str = ""
) -> Scenario:
    """Apply overrides to the base scenario; a failure is the experiment file's one-line error.

    Args:
        base: the base scenario.
        overrides: ``{dotted path: value}``.
        source: the experiment file (named in the error).
        where: the experiment field the overrides come from (``variants[0:x]``).
        value_note: added to ``where`` when the value, not the path, is wrong.

    Returns:
        The changed scenario.

    Raises:
        ScenarioError: a path the scenario does not have, or a value it refuses.

    Example:
        >>> base = load_scenario("scenarios/one_town.toml")
        >>> changed = apply_overrides(base, {"grids.households_per_grid": 400}, "e.toml", "x")
        >>> changed.grids.households_per_grid
        400.0
    """
    try:
        return with_overrides(base, dict(overrides), source=source)
    except ScenarioError as err:
        if err.expected.startswith("expected:"):  # a bad value, not a bad path
            where += value_note
        detail = err.expected
        if err.field and err.field not in where:
            detail = f"{err.field}: {detail}"
        raise ScenarioError(source, where, detail) from None


def _check_factors(base: Scenario, factors: tuple[Factor, ...], source: str | Path) -> None:
    """Apply every level (a range's two ends) alone, so a bad one names its factor."""
    for i, f in enumerate(factors):
        where = f"factors[{i}:{f.path}]"
        levels = f.values if f.values is not None else (f.low, f.high)
        if f.integer:
            levels = tuple(int(end) for end in f.bounds)
        for value in levels:
            apply_overrides(base, {f.path: value}, str(source), where, f" value {value!r}")


def _build_variants(
    base: Scenario, spec: ExperimentFile, factors: tuple[Factor, ...], source: str | Path
) -> tuple[list[Variant], set[str]]:
    """Explicit variants, then design points; names (and Chinese names) must be unique.

    Returns the variants and every role name any variant's scenario defines.
    """
    columns = _factor_columns(factors, spec.variants)
    entries: list[tuple[str, dict[str, Any], str, str, str, str, str]] = []
    for j, v in enumerate(spec.variants):
        where = f"variants[{j}:{v.name}]"
        entries.append(
            (v.name, dict(v.overrides), v.description, where, v.name, v.name_zh, v.description_zh)
        )
    paths = [f.path for f in factors]
    labels = factor_tails(paths)
    sec = spec.experiment
    first_point = len(entries)
    for k, point in enumerate(design_points(factors, sec.samples, sec.seed, sec.design)):
        name = ",".join(f"{labels[p]}={format_value(val)}" for p, val in point.items())
        short = ", ".join(format_value(val) for val in point.values())
        name_zh = design_point_name(point, "zh", paths)
        if sec.design == "saltelli" and any(f.values is None for f in factors):
            name, short, name_zh = f"{name} #{k}", f"{short} #{k}", f"{name_zh} #{k}"
        entries.append((name, point, "", f"factors (variant {name})", short, name_zh, ""))
    seen: dict[str, str] = {}
    shown_zh: dict[str, str] = {}
    variants = []
    roles = set(base.roles)
    for i, (name, overrides, description, where, short, name_zh, description_zh) in enumerate(
        entries
    ):
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
        scenario = apply_overrides(base, overrides, str(source), where)
        roles.update(scenario.roles)
        data = scenario.model_dump(mode="python")
        vid = slugify(name, fallback="variant")
        if vid in seen.values():
            vid = slugify(name + "#", fallback="variant", max_length=0)
        seen[name] = vid
        values = {c: _get_dotted(data, c) for c in columns}
        row = i - first_point if i >= first_point else None
        variants.append(
            Variant(name, vid, overrides, values, description, short, name_zh, description_zh, row)
        )
    return variants, roles


def _factor_columns(factors: tuple[Factor, ...], variants: list[VariantSection]) -> list[str]:
    """Factor paths, then every other path an explicit variant overrides (tidy columns)."""
    columns = [f.path for f in factors]
    for v in variants:
        columns += [p for p in v.overrides if p not in columns]
    return columns


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
        return format_value(value)
    return value
