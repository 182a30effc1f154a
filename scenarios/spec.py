"""`StormSpec`: everything that describes one simulated storm on one feeder, and nothing else.

The spec is the generator's only input besides the network: same network + same spec (seed
included) = the same storm, signal for signal. Every field is documented with its meaning and
unit; unknown fields are refused (``extra="forbid"``) so that a typo in a benchmark row cannot
silently fall back to a default.

Nothing here comes from the engine's rules: call-in shares, delays and repair times describe
the simulated customers and crews, and are chosen independently of what the engine assumes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_serializer, model_validator

from scenarios.crewspec import CrewSpec
from scenarios.distributions import (
    Distribution,
    Exponential,
    Gamma,
    LogNormal,
    Uniform,
)

Share = Annotated[float, Field(ge=0.0, le=1.0)]
#: Device kinds that open by themselves on a fault. A manual or load-break ``switch`` and a
#: normally-open ``tie`` never do: they only move when someone operates them.
INTERRUPTING_KINDS = frozenset({"breaker", "relay", "recloser", "fuse", "sectionalizer"})
OutageCallKind = Literal["no_power", "partial_power"]
NoiseCallKind = Literal["no_power", "partial_power", "flicker", "other"]
Identity = Literal["premise", "account", "phone"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NestedSpec(_Part):
    """Faults placed below another fault's open device (a fuse under an open recloser)."""

    count: Annotated[
        int,
        Field(
            ge=0,
            description="how many of the primary faults get one nested fault below them; the "
            "parent is then a section fault at a device with something to open below it",
        ),
    ] = 0
    restore_order: Annotated[
        Literal["parent_first", "child_first", "random"],
        Field(description="which of the pair the crew restores first"),
    ] = "random"
    lag_minutes: Annotated[
        Distribution,
        Field(
            description="child start after the parent's start (it blows while the parent is open)"
        ),
    ] = Uniform(a=0.0, b=5.0)
    extra_minutes: Annotated[
        Distribution,
        Field(
            description="parent_first: how long after the parent's restoration the child "
            "is found and restored (without crews; with crews, a crew repairs it)"
        ),
    ] = Gamma(shape=2.0, mean=40.0, low=5.0, high=240.0)


class CallSpec(_Part):
    """How the customers of a de-energised premise phone in."""

    share: Annotated[
        Share,
        Field(
            description="probability that one customer (account) who is out calls at all, "
            "per outage episode"
        ),
    ] = 0.3
    delay: Annotated[
        Distribution,
        Field(
            description="minutes from losing power (or from being told power is back while "
            "still out) to the first call; a call that would come after power returns is "
            "never made"
        ),
    ] = Gamma(shape=1.5, mean=10.0, low=0.1, high=240.0)
    repeat_share: Annotated[
        Share, Field(description="probability that a caller calls again after each call")
    ] = 0.25
    repeat_gap: Annotated[
        Distribution, Field(description="minutes between a caller's successive calls")
    ] = Exponential(mean=20.0, low=1.0, high=180.0)
    max_calls_per_caller: Annotated[int, Field(ge=1)] = 3
    hazard_share: Annotated[
        Share, Field(description="share of outage calls reporting a hazard (wire_down or fire)")
    ] = 0.02
    fire_share: Annotated[Share, Field(description="share of hazard calls that are fire")] = 0.25
    partial_share: Annotated[
        Share, Field(description="share of non-hazard outage calls saying partial_power")
    ] = 0.0
    identify: Annotated[
        dict[Identity, Annotated[float, Field(ge=0)]],
        Field(
            description="how callers name themselves (weights); account and phone need a "
            "customers table and fall back to premise without one"
        ),
    ] = {"premise": 1.0}

    @model_validator(mode="after")
    def _some_identity(self) -> CallSpec:
        if sum(self.identify.values()) <= 0:
            raise ValueError("identify: at least one weight must be > 0")
        return self


class NoiseSpec(_Part):
    """Calls from premises that have power (a tripped house breaker, a neighbour's outage)."""

    per_1000_customers_per_hour: Annotated[
        float, Field(ge=0, description="rate, over the scope's customers and the storm horizon")
    ] = 0.5
    scope: Annotated[
        Literal["feeder", "network"],
        Field(description="where noise callers live: the storm's feeder or anywhere"),
    ] = "feeder"
    kinds: Annotated[
        dict[NoiseCallKind, Annotated[float, Field(ge=0)]],
        Field(description="what noise callers say (weights)"),
    ] = {"no_power": 0.7, "flicker": 0.2, "partial_power": 0.1}


class MeterSpec(_Part):
    """Smart meters: a last gasp when power goes, power_restored when it comes back."""

    delivery: Annotated[
        Share, Field(description="probability that one meter message reaches the head end")
    ] = 0.0
    penetration: Annotated[Share, Field(description="share of premises with a smart meter")] = 1.0
    clock_offset_minutes: Annotated[
        float, Field(description="meter clocks are this many minutes fast (negative: slow)")
    ] = 0.0


class ScadaSpec(_Part):
    """Telemetry of the devices that report their own state."""

    enabled: bool = False
    kinds: Annotated[
        frozenset[str] | None,
        Field(
            description="device kinds that are telemetered; None: the devices the network "
            "model marks telemetered (its scada attribute)"
        ),
    ] = frozenset({"breaker", "relay", "recloser"})
    latency_seconds: Annotated[int, Field(ge=0)] = 2

    @field_serializer("kinds")
    def _sorted(self, kinds: frozenset[str] | None) -> list[str] | None:
        # a set has no order of its own: sorted, the same spec dumps the same in every run
        return None if kinds is None else sorted(kinds)


class StormSpec(_Part):
    """One storm on one feeder: where faults happen, when, and what the world reports."""

    seed: Annotated[int, Field(ge=0, description="the storm's only source of randomness")] = 0
    feeder: Annotated[str | None, Field(description="feeder id; None picks one by the seed")] = None
    faults: Annotated[
        int, Field(ge=1, description="primary faults on the feeder (nested ones come on top)")
    ] = 1
    section_share: Annotated[
        Share,
        Field(
            description="share of primary faults on a conductor section (the nearest "
            "upstream interrupting device opens); the rest are service-transformer faults"
        ),
    ] = 0.6
    allow_whole_feeder: Annotated[
        bool,
        Field(
            description="may a section fault open a device that feeds the whole feeder "
            "(head breaker, substation relay)? Off: such draws are redrawn elsewhere"
        ),
    ] = False
    start: Annotated[AwareDatetime, Field(description="when the storm window opens")] = datetime(
        2024, 7, 1, 8, 0, tzinfo=UTC
    )
    window_minutes: Annotated[
        float,
        Field(
            ge=0,
            description="primary fault starts fall within this window; the faults overlap in "
            "time whenever it is shorter than their repairs",
        ),
    ] = 30.0
    spacing: Annotated[
        Literal["uniform", "even"],
        Field(
            description="uniform: random starts in the window; even: equally spaced "
            "(window / (faults - 1) apart)"
        ),
    ] = "uniform"
    restore_minutes: Annotated[
        Distribution,
        Field(
            description="minutes from a fault's start to its restoration (without crews; "
            "with crews the crew world decides)"
        ),
    ] = LogNormal(median=90.0, sigma=0.5, low=20.0, high=480.0)
    nested: NestedSpec = NestedSpec()
    calls: CallSpec = CallSpec()
    noise: NoiseSpec = NoiseSpec()
    meters: MeterSpec = MeterSpec()
    scada: ScadaSpec = ScadaSpec()
    restores: Annotated[
        bool, Field(description="send a crew `restore` signal when each fault is repaired")
    ] = True
    crews: Annotated[
        CrewSpec | None,
        Field(
            description="simulated crews decide when faults are repaired (`scenarios.crewworld`)"
            "; None: each fault is restored `restore_minutes` after its start"
        ),
    ] = None

    @model_validator(mode="after")
    def _nested_fits(self) -> StormSpec:
        if self.nested.count > self.faults:
            raise ValueError("nested.count cannot exceed faults")
        return self
