"""`CrewSpec`: the simulated utility's crews and how they work, as one part of a `StormSpec`.

With ``StormSpec.crews`` set, a fault is no longer restored after a drawn duration: the
simulated utility learns of it at its first report, queues it, sends a crew, and the crew's
travel and repair decide when power comes back (`scenarios.dispatch`, `scenarios.crewworld`).
Everything here describes the simulated world and is chosen without looking at what the
engine's estimator assumes; `scenarios.crews` has the two named presets and their sources.

Durations are in minutes (the `scenarios.distributions` families, clipped to ``[low, high]``);
``road_factor`` is a ratio and ``speed_kmh`` a speed, drawn with the same families.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scenarios.distributions import Distribution, Gamma, Uniform, Weibull

Skill = Literal["line", "transformer"]
SKILLS: frozenset[str] = frozenset({"line", "transformer"})
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LonLat(_Part):
    """A point, WGS84 degrees."""

    lon: Annotated[float, Field(ge=-180, le=180)]
    lat: Annotated[float, Field(ge=-90, le=90)]


class Shift(_Part):
    """Daily working hours in local time (``CrewSpec.timezone``); ``end`` before ``start``
    means an overnight shift (``20:00``-``08:00``). A crew starts a job only on shift; one it
    is on when the shift ends it finishes, then goes home to its depot."""

    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"expected a local time HH:MM, got {value!r}")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Shift:
        if self.start == self.end:
            raise ValueError("start and end are equal: leave the shift out for 24 hours")
        return self

    def times(self) -> tuple[time, time]:
        """(start, end) as `datetime.time`."""
        return time.fromisoformat(self.start), time.fromisoformat(self.end)


class CrewMember(_Part):
    """One crew given explicitly; what is left out is drawn or defaulted."""

    id: Annotated[str, Field(min_length=1, max_length=64)] | None = None  # default C01, C02...
    name: Annotated[str, Field(min_length=1, max_length=128)] | None = None  # default Crew 1...
    depot: LonLat | None = None  # None: drawn near the storm's feeder
    skills: Annotated[list[Skill], Field(min_length=1)] | None = None  # None: can do all
    shift: Shift | None = None  # None: the spec's shift (None there too: 24 h)


class RepairSpec(_Part):
    """Minutes of repair on site, from the start of the repair to the restore, per fault kind.

    Deliberately not log-normal: the engine's history tables are free to assume log-normal
    durations, and the simulated world must not share that shape with them.
    """

    section: Annotated[
        Distribution,
        Field(description="a conductor-section fault: find the damage, repair, re-close"),
    ] = Weibull(shape=1.6, scale=80.0, low=20.0, high=480.0)
    transformer: Annotated[
        Distribution, Field(description="a service-transformer fault: usually a replacement")
    ] = Gamma(shape=3.0, mean=150.0, low=45.0, high=600.0)
    nested: Annotated[
        Distribution,
        Field(description="a nested child found behind a repaired parent (a blown fuse)"),
    ] = Weibull(shape=1.4, scale=40.0, low=10.0, high=240.0)


class CrewSpec(_Part):
    """The simulated utility's crews (module docstring); defaults are normal weather."""

    count: Annotated[
        int, Field(ge=1, le=999, description="crews in all; `members` are the first ones")
    ] = 3
    members: Annotated[
        list[CrewMember], Field(description="crews given explicitly (depot, skills, shift)")
    ] = []
    shift: Annotated[
        Shift | None, Field(description="working hours of the crews without their own")
    ] = None
    timezone: Annotated[str, Field(description="the zone shifts are in (IANA name)")] = (
        "Asia/Shanghai"
    )
    depot_km: Annotated[
        float,
        Field(
            ge=0,
            description="a drawn depot lies this far at most from a random asset "
            "of the storm's feeder",
        ),
    ] = 2.0
    policy: Annotated[
        Literal["fifo", "most_customers"],
        Field(
            description="which waiting fault a free crew takes: fifo = first reported, first "
            "served; most_customers = the one with most customers out first, then fifo"
        ),
    ] = "fifo"
    dispatch_delay: Annotated[
        Distribution,
        Field(
            description="from a fault's first report to the utility knowing it as a job "
            "(call handling, dispatcher's decision)"
        ),
    ] = Gamma(shape=2.0, mean=10.0, low=2.0, high=90.0)
    mobilise: Annotated[
        Distribution, Field(description="from dispatch to rolling (status en_route)")
    ] = Uniform(a=3.0, b=10.0, low=0.0, high=60.0)
    road_factor: Annotated[
        Distribution,
        Field(description="road distance over great-circle distance, drawn per trip (ratio)"),
    ] = Uniform(a=1.2, b=1.5, low=1.0, high=3.0)
    speed_kmh: Annotated[
        Distribution, Field(description="average driving speed of a trip (km/h)")
    ] = Gamma(shape=9.0, mean=30.0, low=8.0, high=70.0)
    travel_fallback: Annotated[
        Distribution,
        Field(description="minutes of travel when either end of a trip has no coordinates"),
    ] = Gamma(shape=4.0, mean=20.0, low=5.0, high=120.0)
    assess: Annotated[
        Distribution,
        Field(
            description="from arrival (on_site) to the start of the repair (repairing): "
            "patrol to find the fault, isolate, make safe"
        ),
    ] = Gamma(shape=2.0, mean=15.0, low=2.0, high=120.0)
    repair: RepairSpec = RepairSpec()
    child_found: Annotated[
        Distribution,
        Field(
            description="after a restore, how long until the crew notices a fault below "
            "it still keeping customers dark (unless someone reports it first)"
        ),
    ] = Gamma(shape=2.0, mean=15.0, low=2.0, high=120.0)
    unreported: Annotated[
        Distribution,
        Field(
            description="a fault nobody reports (no call, no meter, no SCADA) is found "
            "this long after it began by a patrol or a meter read"
        ),
    ] = Gamma(shape=2.0, mean=180.0, low=30.0, high=1440.0)
    signals: Annotated[
        bool,
        Field(
            description="emit crew status signals (en_route, on_site, repairing, "
            "available); dispatched needs the engine's incident id and is added at replay "
            "time (`scenarios.replay`)"
        ),
    ] = False

    def crew_ids(self) -> list[str]:
        """Every crew's id: the member's, else ``C01``, ``C02``... by position."""
        return [
            (self.members[k].id if k < len(self.members) else None) or f"C{k + 1:02d}"
            for k in range(self.count)
        ]

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _roster_fits(self) -> CrewSpec:
        if len(self.members) > self.count:
            raise ValueError(f"count ({self.count}) is smaller than members ({len(self.members)})")
        ids = self.crew_ids()
        if len(set(ids)) != len(ids):
            raise ValueError(f"crew ids must be unique, got {', '.join(ids)}")
        skills: set[str] = set()
        for k in range(self.count):
            member = self.members[k] if k < len(self.members) else None
            skills |= set(member.skills) if member and member.skills else SKILLS
        if skills != SKILLS:
            raise ValueError(f"no crew has the skill {', '.join(sorted(SKILLS - skills))}")
        return self
