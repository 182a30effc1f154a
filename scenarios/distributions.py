"""Random durations in minutes: the families a storm draws caller delays and repair times from.

Each family is a small pydantic model tagged by ``family``, so a `StormSpec` names its choice in
YAML/JSON (``{"family": "gamma", "shape": 1.5, "mean": 12}``). These families and their
parameters belong to the storm generator alone: they describe how people and crews behave in
the simulated world and are chosen without looking at what the engine assumes.

Every family clips its draws to ``[low, high]`` minutes so that a heavy tail cannot produce a
caller who phones three days later or a repair that ends before it began.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

FloatArray = npt.NDArray[np.float64]
Positive = Annotated[float, Field(gt=0)]


class _Family(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    low: Annotated[float, Field(ge=0, description="smallest draw kept, minutes")] = 0.0
    high: Annotated[float, Field(gt=0, description="largest draw kept, minutes")] = 24 * 60.0

    @model_validator(mode="after")
    def _ordered(self) -> _Family:
        if self.high < self.low:
            raise ValueError("high must be >= low")
        return self

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        """``n`` independent draws in minutes, clipped to ``[low, high]``."""
        return np.clip(self._draw(rng, n), self.low, self.high)

    def _draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        raise NotImplementedError


class Fixed(_Family):
    """Always ``value`` minutes (for tests and for hand-made storms)."""

    family: Literal["fixed"] = "fixed"
    value: Annotated[float, Field(ge=0)]

    def _draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        return np.full(n, self.value, dtype=np.float64)


class Uniform(_Family):
    """Uniform between ``a`` and ``b`` minutes."""

    family: Literal["uniform"] = "uniform"
    a: Annotated[float, Field(ge=0)] = 0.0
    b: Annotated[float, Field(ge=0)] = 10.0

    def _draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        return rng.uniform(min(self.a, self.b), max(self.a, self.b), n)


class Exponential(_Family):
    """Memoryless waiting time with the given ``mean`` minutes."""

    family: Literal["exponential"] = "exponential"
    mean: Positive = 10.0

    def _draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        return rng.exponential(self.mean, n)


class Gamma(_Family):
    """Gamma with ``shape`` k and the given ``mean`` (scale = mean / k); k > 1 has a mode > 0,
    i.e. few people call in the very first minute."""

    family: Literal["gamma"] = "gamma"
    shape: Positive = 1.5
    mean: Positive = 12.0

    def _draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        return rng.gamma(self.shape, self.mean / self.shape, n)


class Weibull(_Family):
    """Weibull with ``shape`` k and ``scale`` λ minutes (k < 1: many early, a long tail)."""

    family: Literal["weibull"] = "weibull"
    shape: Positive = 1.2
    scale: Positive = 12.0

    def _draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        return self.scale * rng.weibull(self.shape, n)


class LogNormal(_Family):
    """Log-normal with the given ``median`` minutes and log-space ``sigma``."""

    family: Literal["lognormal"] = "lognormal"
    median: Positive = 90.0
    sigma: Positive = 0.5

    def _draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        return rng.lognormal(np.log(self.median), self.sigma, n)


class Component(BaseModel):
    """One log-normal part of a mixture."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weight: Positive
    median: Positive
    sigma: Positive


class LogNormalMixture(_Family):
    """A mixture of log-normals: e.g. people at home who call at once and people who notice
    late (weights need not sum to one; they are normalised)."""

    family: Literal["lognormal_mixture"] = "lognormal_mixture"
    components: Annotated[list[Component], Field(min_length=1)] = [
        Component(weight=0.7, median=6.0, sigma=0.6),
        Component(weight=0.3, median=30.0, sigma=0.7),
    ]

    def _draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        weights = np.array([c.weight for c in self.components], dtype=np.float64)
        part = rng.choice(len(self.components), size=n, p=weights / weights.sum())
        mu = np.log(np.array([c.median for c in self.components]))[part]
        sigma = np.array([c.sigma for c in self.components])[part]
        return np.asarray(rng.lognormal(mu, sigma), dtype=np.float64)


Distribution = Annotated[
    Fixed | Uniform | Exponential | Gamma | Weibull | LogNormal | LogNormalMixture,
    Field(discriminator="family"),
]
