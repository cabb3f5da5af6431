"""Time to close: fit lognormal, gamma and Weibull to durations, or tabulate their quantiles.

:func:`fit_time_to_close` fits the three families by maximum likelihood (location 0) and
picks the one with the lowest AIC. It then checks that family against the durations' own
median and p90: with ``fit="auto"`` (the default) a scenario uses the family if both are
within ``family_tolerance`` (5 %), and otherwise an ``empirical`` quantile table of the
durations (:func:`quantile_table`). ``fit="parametric"`` or ``fit="empirical"`` forces one
or the other. The choice and its reason are one line, :attr:`DurationFit.verdict`.

Time unit: hours.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gridsim.errors import UserError
from gridsim.model.distributions import FITTED

#: Time-to-close families, in the order they are reported; names as in scenario files.
FAMILIES: tuple[str, ...] = ("lognormal", "gamma", "weibull")
#: ``fit`` modes: check the AIC-best family and fall back to a quantile table if it misses
#: the log (auto), or always use the family (parametric), or always the table (empirical).
FIT_MODES: tuple[str, ...] = ("auto", "parametric", "empirical")
#: The quantiles a calibration must reproduce: (probability, name).
TARGETS: tuple[tuple[float, str], ...] = ((0.5, "median"), (0.9, "p90"))
#: Default relative error of the chosen family on the log's median and p90 (``fit="auto"``).
FAMILY_TOLERANCE = 0.05
#: Knots of a quantile table, at probabilities 0, 0.01, ..., 1: the median and p90 are knots.
TABLE_KNOTS = 101
#: Around the median and p90, knots within this probability are held within PIN_BAND of them.
PIN_WIDTH = 0.02
PIN_BAND = 0.05

TIME_TOLERANCE = 0.10  # relative error allowed on median and p90 time to close
_PROBS = np.linspace(0.0, 1.0, TABLE_KNOTS)


@dataclass
class DurationFit:
    """The time-to-close model of one category: the AIC-best family and what the scenario uses.

    Attributes:
        family: the family with the lowest AIC (``lognormal``, ``gamma`` or ``weibull``).
        params: its parameters as a scenario ``Distribution`` takes them: lognormal
            ``median``, ``sigma``; gamma ``mean``, ``cv``; Weibull ``shape``, ``scale``.
        aic: the AIC of every family (``inf`` if its fit failed).
        candidates: the parameters of every family that could be fitted.
        hours: the durations it was fitted to (hours, all > 0).
        knots: the quantile table the scenario uses instead of ``family`` (knot ``i`` at
            probability ``i / (len - 1)``), or None if it uses ``family``.
        verdict: one line: the family, how it matches the log's median and p90, and what
            the scenario uses.
    """

    family: str
    params: dict[str, float]
    aic: dict[str, float]
    candidates: dict[str, dict[str, float]]
    hours: NDArray[np.float64] = field(repr=False)
    knots: list[float] | None = field(default=None, repr=False)
    verdict: str = ""

    @property
    def n(self) -> int:
        """Durations fitted."""
        return len(self.hours)

    @property
    def used(self) -> str:
        """The scenario's distribution: the family's name, or ``empirical``."""
        return self.family if self.knots is None else "empirical"

    def frozen(self, family: str | None = None) -> Any:
        """Return the fitted scipy distribution (of ``family``, default the AIC-best one)."""
        family = family or self.family
        return _frozen(family, self.candidates[family])

    def family_quantile(self, q: float, family: str | None = None) -> float:
        """Quantile ``q`` (hours) of a fitted family (default the AIC-best one)."""
        return float(self.frozen(family).ppf(q))

    def log_quantile(self, q: float) -> float:
        """Quantile ``q`` of the log's durations (linear interpolation)."""
        return float(np.quantile(self.hours, q))

    def family_errors(self) -> dict[str, float]:
        """Relative error of the AIC-best family on the log's median and p90 (by name)."""
        return {name: self.family_quantile(q) / self.log_quantile(q) - 1 for q, name in TARGETS}

    def quantile(self, q: float) -> float:
        """Quantile ``q`` (hours) of the scenario's distribution (family or table)."""
        if self.knots is None:
            return self.family_quantile(q)
        return float(np.interp(q, np.linspace(0, 1, len(self.knots)), self.knots))

    def mean(self) -> float:
        """Mean (hours) of the scenario's distribution."""
        if self.knots is None:
            return float(self.frozen().mean())
        return _table_mean(self.knots)

    def to_distribution(self) -> dict[str, Any]:
        """Return the scenario's ``handling`` table (``{"distribution": ..., ...}``)."""
        if self.knots is not None:
            return {"distribution": "empirical", "quantiles": list(self.knots)}
        return {"distribution": self.family, **{k: float(v) for k, v in self.params.items()}}


def fit_time_to_close(
    hours: ArrayLike,
    *,
    fit: str = "auto",
    family_tolerance: float = FAMILY_TOLERANCE,
    min_table_rows: int = 2,
) -> DurationFit:
    """Fit lognormal, gamma and Weibull (location 0) by maximum likelihood; pick by AIC.

    Then decide what a scenario should use. ``fit="auto"``: the AIC-best family if its
    median and p90 are both within ``family_tolerance`` of the durations' own, else a
    :func:`quantile_table` of the durations (if there are at least ``min_table_rows`` of
    them; from fewer, a table would be too coarse and the family is kept). ``"parametric"``
    always uses the family, ``"empirical"`` always the table.

    Args:
        hours: positive durations (non-positive or non-finite values are an error: the log
            reader reports such rows as bad).
        fit: ``auto``, ``parametric`` or ``empirical``.
        family_tolerance: relative error allowed on the median and p90 (``auto``).
        min_table_rows: fewest durations for a quantile table (``auto``).

    Returns:
        The fit, with the AIC of all three families and the choice in ``verdict``.

    Raises:
        UserError: a bad ``fit`` or ``family_tolerance`` (named as the options
            ``--fit`` and ``--family-tolerance``).
        ValueError: fewer than two durations, or a value that is not positive (the log
            reader drops such rows, so from a log this is a bug).

    Example:
        >>> import numpy as np
        >>> from gridsim.calibration.fitting import fit_time_to_close
        >>> x = np.random.default_rng(1).lognormal(np.log(24.0), 0.8, size=2000)
        >>> fit = fit_time_to_close(x)
        >>> fit.family, round(fit.params["median"] / 24, 1), round(fit.params["sigma"], 1)
        ('lognormal', 1.0, 0.8)
        >>> print(fit.verdict)  # doctest: +ELLIPSIS
        lognormal AIC=..., within 5 % of the log's median (+0.8 %) and p90 (+0.2 %): lognormal used
    """
    check_fit_options(fit, family_tolerance)
    x = np.asarray(hours, dtype=float)
    if x.size < 2:
        raise ValueError(f"fit_time_to_close needs at least 2 durations, got {x.size}")
    if not np.all(np.isfinite(x) & (x > 0)):
        raise ValueError("fit_time_to_close needs positive, finite durations (hours)")
    aic: dict[str, float] = {}
    candidates: dict[str, dict[str, float]] = {}
    for family in FAMILIES:
        params, loglik = _fit_family(family, x)
        aic[family] = 4.0 - 2.0 * loglik if np.isfinite(loglik) else math.inf
        if params is not None and np.isfinite(loglik):
            candidates[family] = params
    if not candidates:
        raise ValueError("none of lognormal, gamma or Weibull could be fitted to these durations")
    best = min(candidates, key=lambda f: aic[f])
    result = DurationFit(best, candidates[best], aic, candidates, x)
    _choose_handling(result, fit, family_tolerance, min_table_rows)
    return result


def check_fit_options(fit: str, family_tolerance: float) -> None:
    """Raise a :class:`~gridsim.errors.UserError` naming the option if one is out of range.

    Example:
        >>> check_fit_options("best", 0.05)
        Traceback (most recent call last):
        ...
        gridsim.errors.UserError: --fit: fit must be one of auto, parametric, empirical, not 'best'
    """
    if fit not in FIT_MODES:
        raise UserError("", "--fit", f"fit must be one of {', '.join(FIT_MODES)}, not {fit!r}")
    if not 0 < family_tolerance < 1:
        raise UserError(
            "",
            "--family-tolerance",
            f"family tolerance must be between 0 and 1, got {family_tolerance}",
        )


def _fit_family(name: str, x: NDArray[np.float64]) -> tuple[dict[str, float] | None, float]:
    """Fit one family to ``x``: scenario parameters and log-likelihood (None, -inf on failure).

    The family is the scenario's own distribution model (``gridsim.model.distributions``),
    so the fitted parameters are exactly those a scenario file takes.
    """
    family = FITTED[name]
    try:
        with warnings.catch_warnings():
            # The optimiser's intermediate overflows are harmless; the final
            # log-likelihood is checked for finiteness by the caller.
            warnings.simplefilter("ignore", RuntimeWarning)
            shape, _, scale = family.scipy_family().fit(x, floc=0)
        fitted = family.from_scipy(float(shape), float(scale))  # rejects NaN or non-positive
    except (ValueError, RuntimeError, FloatingPointError):  # pydantic's ValidationError too
        return None, -math.inf
    params = fitted.model_dump(exclude={"distribution"})
    return params, float(np.sum(fitted.frozen().logpdf(x)))


def _frozen(name: str, params: dict[str, float]) -> Any:
    """The scipy distribution of family ``name`` with these scenario parameters."""
    return FITTED[name].model_validate(params).frozen()


def quantile_table(hours: ArrayLike) -> list[float]:
    """Return an ``empirical`` quantile table of durations: 101 knots, pinned at median and p90.

    Knot ``i`` is the durations' quantile at probability ``i / 100`` (linear interpolation
    between order statistics), so the first knot is the shortest duration, the last the
    longest (the tail is not extrapolated), and knots 50 and 90 are exactly the median and
    p90 that :func:`gridsim.calibration.reproduce.compare_to_log` compares with. Sampling
    the table by inverse transform reproduces them, but where the table is steep around one
    of them (at a gap in the durations, say 37 of 41 requests closed within 29 hours and the
    next after 396, or in a long tail) a simulated quantile moves far with a little sampling
    noise. So the knots within ``PIN_WIDTH`` (2 points) of probability of the median and p90
    are held within ``PIN_BAND`` (5 %) of them ("pinned"). Where the durations rise by less
    than that there, nothing changes; elsewhere at most 2 % of the probability mass on
    either side moves towards the quantile.

    Example:
        >>> from gridsim.calibration.fitting import quantile_table
        >>> knots = quantile_table([1.0] * 36 + [29.0, 396, 398, 403, 503])
        >>> len(knots), knots[0], knots[50], knots[90], knots[-1]
        (101, 1.0, 1.0, 29.0, 503.0)
        >>> knots[87:94]  # knots 88, 89, 91 and 92 were 6.6, 17.8, 175.8 and 322.6
        [1.0, 27.55, 27.55, 29.0, 30.45, 30.45, 396.4]
    """
    return [significant(v) for v in _knots(hours)[1]]


def _knots(hours: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return the raw quantile table of :func:`quantile_table` and the pinned one."""
    raw = np.quantile(np.asarray(hours, dtype=float), _PROBS)
    pinned = raw.copy()
    for q, _ in TARGETS:
        value = raw[round(q * (TABLE_KNOTS - 1))]
        near = _near(q)
        pinned[near] = np.clip(raw[near], value * (1 - PIN_BAND), value * (1 + PIN_BAND))
    return raw, pinned


def _near(q: float) -> NDArray[np.bool_]:
    """The knots within ``PIN_WIDTH`` of probability ``q``."""
    return np.abs(_PROBS - q) <= PIN_WIDTH + 1e-9


def _table_mean(knots: ArrayLike) -> float:
    """Mean of a quantile table sampled with linear interpolation (the trapezoid rule)."""
    k = np.asarray(knots, dtype=float)
    return float(np.mean((k[1:] + k[:-1]) / 2))


def _choose_handling(fit: DurationFit, mode: str, tolerance: float, min_table_rows: int) -> None:
    """Set ``fit.knots`` and ``fit.verdict`` (see :func:`fit_time_to_close`)."""
    errors = fit.family_errors()
    misses = {name: e for name, e in errors.items() if abs(e) > tolerance}
    if misses:
        shown = " and ".join(f"{n} by {percent(e)}" for n, e in misses.items())
        match = f"misses the log's {shown}"
    else:
        shown = " and ".join(f"{n} ({percent(e, signed=True)})" for n, e in errors.items())
        match = f"within {percent(tolerance)} of the log's {shown}"
    head = f"{fit.family} AIC={fit.aic[fit.family]:.1f}, {match}"
    if mode != "auto":
        use_table, why = mode == "empirical", f" (fit={mode})"
    elif misses and fit.n < min_table_rows:
        use_table, why = False, f" (only {fit.n} durations, too few for a quantile table)"
    else:
        use_table, why = bool(misses), ""
    if not use_table:
        fit.verdict = f"{head}: {fit.family} used{why}"
        return
    raw, pinned = _knots(fit.hours)
    fit.knots = [significant(v) for v in pinned]
    fit.verdict = f"{head}: empirical quantiles used{why}{_pin_remark(raw, pinned)}"


def _pin_remark(raw: NDArray[np.float64], pinned: NDArray[np.float64]) -> str:
    """Say where :func:`quantile_table` pinned the table, and how that moved the mean."""
    where = [name for q, name in TARGETS if np.any(raw[_near(q)] != pinned[_near(q)])]
    if not where:
        return ""
    shift = _table_mean(pinned) / _table_mean(raw) - 1
    return f"; {' and '.join(where)} pinned (mean {percent(shift, True)})"


def percent(value: float, signed: bool = False) -> str:
    """Format a relative error as a percentage: ``0.231`` -> ``23 %``, ``-0.051`` -> ``5.1 %``.

    Without ``signed`` the sign and a trailing ``.0`` are dropped; below 10 % one decimal
    is shown.

    Example:
        >>> percent(0.231), percent(-0.051), percent(0.05), percent(0.008, signed=True)
        ('23 %', '5.1 %', '5 %', '+0.8 %')
    """
    digits = 1 if abs(value) < 0.095 else 0
    if signed:
        return f"{value * 100:+.{digits}f} %"
    return f"{abs(value) * 100:.{digits}f}".removesuffix(".0") + " %"


def significant(value: float, digits: int = 6) -> float:
    """Round to significant digits, to keep generated TOML readable.

    Example:
        >>> significant(27.549999999), significant(1234567.8)
        (27.55, 1234570.0)
    """
    return float(f"{value:.{digits}g}")
