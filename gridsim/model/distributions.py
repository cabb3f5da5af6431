"""Positive random quantities of a scenario (handling work, reporting delay), one model per family.

A scenario writes a distribution as a table with a ``distribution`` key naming the family
and that family's parameters, for example
``{ distribution = "lognormal", median = 3.0, sigma = 0.8 }``. :data:`Distribution` is the
union of the families, told apart by that key; each family knows how to draw from itself
(:meth:`~Exponential.sample`), its mean (:meth:`~Exponential.expected`) and, for the fitted
families, the equivalent scipy distribution (:meth:`~Lognormal.frozen`).

Time unit: hours.

Example:
    >>> import numpy as np
    >>> from pydantic import TypeAdapter
    >>> d = TypeAdapter(Distribution).validate_python({"distribution": "exponential", "mean": 2.0})
    >>> type(d).__name__, d.expected()
    ('Exponential', 2.0)
    >>> float(d.sample(np.random.default_rng(0), 100_000).mean().round(1))
    2.0
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal, Union

import numpy as np
from pydantic import Field, model_validator

from gridsim.model.fields import NonNeg, Pos, Seq, Strict


class _Family(Strict):
    """What every family shares: a check that its parameters are all there."""

    #: The parameters the family needs, in the order the error message lists them.
    needs: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _parameters_present(cls, data: Any) -> Any:
        # One message naming every parameter, rather than one "missing" error per field.
        if isinstance(data, dict) and any(name not in data for name in cls.needs):
            family = data.get("distribution", cls.model_fields["distribution"].default)
            raise ValueError(f"a {family} distribution needs {', '.join(cls.needs)}")
        return data


class Fixed(_Family):
    """Always ``mean`` hours.

    Example:
        >>> Fixed(mean=2.0).sample(np.random.default_rng(0), 3).tolist()
        [2.0, 2.0, 2.0]
    """

    distribution: Literal["fixed"] = "fixed"
    mean: Pos
    needs: ClassVar[tuple[str, ...]] = ("mean",)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` values (``rng`` is not used, so no stream shifts)."""
        return np.full(size, float(self.mean))

    def expected(self) -> float:
        """The mean."""
        return float(self.mean)


class Exponential(_Family):
    """Exponential with mean ``mean``."""

    distribution: Literal["exponential"] = "exponential"
    mean: Pos
    needs: ClassVar[tuple[str, ...]] = ("mean",)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` values."""
        return rng.exponential(self.mean, size)

    def expected(self) -> float:
        """The mean."""
        return float(self.mean)


class Lognormal(_Family):
    """Lognormal with median ``median`` and log-scale standard deviation ``sigma``.

    Example:
        >>> round(float(Lognormal(median=2.0, sigma=0.5).frozen().median()), 9)
        2.0
    """

    distribution: Literal["lognormal"] = "lognormal"
    median: Pos
    sigma: Pos
    needs: ClassVar[tuple[str, ...]] = ("median", "sigma")

    @staticmethod
    def scipy_family() -> Any:
        """The ``scipy.stats`` family that :meth:`from_scipy`'s shape and scale belong to."""
        from scipy import stats

        return stats.lognorm

    @classmethod
    def from_scipy(cls, shape: float, scale: float) -> Lognormal:
        """From scipy's ``lognorm(shape, scale=scale)`` (a fit with ``floc=0``)."""
        return cls(median=scale, sigma=shape)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` values."""
        return rng.lognormal(np.log(self.median), self.sigma, size)

    def expected(self) -> float:
        """The mean, ``median * exp(sigma² / 2)``."""
        return float(self.median) * math.exp(self.sigma**2 / 2)

    def frozen(self) -> Any:
        """The same distribution as a frozen ``scipy.stats`` distribution."""
        from scipy import stats  # only calibration needs scipy: keep simulation imports light

        return stats.lognorm(self.sigma, scale=self.median)


class Gamma(_Family):
    """Gamma with mean ``mean`` and coefficient of variation ``cv``."""

    distribution: Literal["gamma"] = "gamma"
    mean: Pos
    cv: Pos
    needs: ClassVar[tuple[str, ...]] = ("mean", "cv")

    @staticmethod
    def scipy_family() -> Any:
        """The ``scipy.stats`` family that :meth:`from_scipy`'s shape and scale belong to."""
        from scipy import stats

        return stats.gamma

    @classmethod
    def from_scipy(cls, shape: float, scale: float) -> Gamma:
        """From scipy's ``gamma(shape, scale=scale)`` (a fit with ``floc=0``)."""
        return cls(mean=shape * scale, cv=1 / math.sqrt(shape))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` values."""
        shape = 1.0 / self.cv**2
        return rng.gamma(shape, self.mean / shape, size)

    def expected(self) -> float:
        """The mean."""
        return float(self.mean)

    def frozen(self) -> Any:
        """The same distribution as a frozen ``scipy.stats`` distribution."""
        from scipy import stats  # only calibration needs scipy: keep simulation imports light

        a = self.cv**-2
        return stats.gamma(a, scale=self.mean / a)


class Weibull(_Family):
    """Weibull with shape ``shape`` and scale ``scale``."""

    distribution: Literal["weibull"] = "weibull"
    shape: Pos
    scale: Pos
    needs: ClassVar[tuple[str, ...]] = ("shape", "scale")

    @staticmethod
    def scipy_family() -> Any:
        """The ``scipy.stats`` family that :meth:`from_scipy`'s shape and scale belong to."""
        from scipy import stats

        return stats.weibull_min

    @classmethod
    def from_scipy(cls, shape: float, scale: float) -> Weibull:
        """From scipy's ``weibull_min(shape, scale=scale)`` (a fit with ``floc=0``)."""
        return cls(shape=shape, scale=scale)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` values."""
        return self.scale * rng.weibull(self.shape, size)

    def expected(self) -> float:
        """The mean, ``scale * Γ(1 + 1 / shape)``."""
        return float(self.scale) * math.gamma(1 + 1 / self.shape)

    def frozen(self) -> Any:
        """The same distribution as a frozen ``scipy.stats`` distribution."""
        from scipy import stats  # only calibration needs scipy: keep simulation imports light

        return stats.weibull_min(self.shape, scale=self.scale)


class Empirical(_Family):
    """A quantile table: the values at evenly spaced probabilities 0, 1/(k-1), ..., 1.

    ``gridsim calibrate`` writes one for a log that no parametric family fits. It is sampled
    by inverse transform with linear interpolation between the knots.

    Example:
        >>> Empirical(quantiles=(0.0, 1.0, 5.0)).expected()
        1.75
    """

    distribution: Literal["empirical"] = "empirical"
    quantiles: Seq[NonNeg]
    needs: ClassVar[tuple[str, ...]] = ("quantiles",)

    @model_validator(mode="after")
    def _knots_make_a_table(self) -> Empirical:
        q = self.quantiles
        if len(q) < 2 or any(np.diff(q) < 0) or q[-1] <= 0:
            raise ValueError("quantiles: at least two non-decreasing values, the last positive")
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` values by inverse transform."""
        knots = np.asarray(self.quantiles, dtype=float)
        return np.interp(rng.random(size), np.linspace(0.0, 1.0, len(knots)), knots)

    def expected(self) -> float:
        """The mean of the interpolated table (the trapezoid rule)."""
        q = self.quantiles
        return float(np.mean((np.asarray(q[1:]) + np.asarray(q[:-1])) / 2))


#: A scenario distribution: one of the families, chosen by its ``distribution`` key.
Distribution = Annotated[
    Union[Exponential, Lognormal, Gamma, Weibull, Fixed, Empirical],  # noqa: UP007
    Field(discriminator="distribution"),
]
#: The families that ``gridsim calibrate`` fits by maximum likelihood, by name.
FITTED: dict[str, type[Lognormal | Gamma | Weibull]] = {
    "lognormal": Lognormal,
    "gamma": Gamma,
    "weibull": Weibull,
}
