"""The work order: one per fault incident, with its deadlines and what each step took."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from outage.events import iso
from outage.incidents import Status
from outage.restoration.roster import Skill


def minutes_between(a: datetime, b: datetime) -> float:
    """Minutes from ``a`` to ``b`` (negative when ``b`` is earlier)."""
    return (b - a).total_seconds() / 60


@dataclass(slots=True, eq=False)
class WorkOrder:
    """A repair job: the incident, where it is, its deadlines and its crew's steps."""

    id: str
    incident: str
    kind: str  # asset kind: "transformer" or the device kind (fuse, recloser...)
    skill: Skill
    area_class: str
    lonlat: tuple[float, float]
    customers: int
    substation: str
    opened_at: datetime
    weather: str  # "normal" | "storm" when it opened
    arrival_limit: float  # minutes
    restoration_limit: float  # minutes, from arrival
    crew: str | None = None
    cause: str = "unknown"
    dispatched_at: datetime | None = None
    en_route_at: datetime | None = None
    on_site_at: datetime | None = None
    repairing_at: datetime | None = None
    closed_at: datetime | None = None
    #: How the order ended: its incident restored, merged into another, or cancelled.
    outcome: Status | None = None
    #: Straight-line travel the crew had ahead of it when dispatched (minutes).
    travel_minutes: float | None = None
    #: Was a capable crew idle when the order opened? Only then is the wait for a dispatch
    #: the dispatcher's delay (and history); otherwise it is the queue.
    crew_idle_at_open: bool = True
    #: Storm orders: the crew work the history expected when it opened (minutes; the storm's
    #: pace, `outage.restoration.pace`, compares the crews' busy time with these).
    crew_work_minutes: float | None = None
    #: The first estimated ETR's moment and median (what calibration compares with).
    first_estimate_at: datetime | None = None
    first_median: datetime | None = None
    #: (step, level, at) of each escalation, in order.
    escalations: list[tuple[str, str, datetime]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        """Still to be done."""
        return self.closed_at is None

    @property
    def arrival_due(self) -> datetime:
        """When a crew must be on site."""
        return self.opened_at + timedelta(minutes=self.arrival_limit)

    @property
    def restoration_due(self) -> datetime | None:
        """When power must be back (known once a crew is on site)."""
        if self.on_site_at is None:
            return None
        return self.on_site_at + timedelta(minutes=self.restoration_limit)

    @property
    def step(self) -> str:
        """The deadline that runs now: ``arrival`` until a crew is on site, then
        ``restoration``."""
        return "arrival" if self.on_site_at is None else "restoration"

    def due(self) -> datetime:
        """The running step's deadline."""
        due = self.restoration_due if self.on_site_at is not None else self.arrival_due
        assert due is not None
        return due

    def arrival_minutes(self) -> float | None:
        """How long the crew took to be on site."""
        if self.on_site_at is None:
            return None
        return (self.on_site_at - self.opened_at).total_seconds() / 60

    def dispatch_minutes(self) -> float | None:
        """How long the order waited for a crew, when one was idle as it opened (module
        docstring of `outage.restoration.history`: the dispatcher's delay, not a queue)."""
        if self.dispatched_at is None or not self.crew_idle_at_open:
            return None
        return (self.dispatched_at - self.opened_at).total_seconds() / 60

    def mobilise_minutes(self) -> float | None:
        """From dispatch to the crew leaving (its "en route"), else to its arrival less the
        straight-line travel."""
        if self.dispatched_at is None:
            return None
        if self.en_route_at is not None:
            return max((self.en_route_at - self.dispatched_at).total_seconds() / 60, 0.0)
        if self.on_site_at is None or self.travel_minutes is None:
            return None
        to_site = (self.on_site_at - self.dispatched_at).total_seconds() / 60
        return max(to_site - self.travel_minutes, 0.0)

    def estimate_ratio(self) -> float | None:
        """Time taken from the first estimate over the time its median gave (restored)."""
        at, median = self.first_estimate_at, self.first_median
        if at is None or median is None or self.closed_at is None:
            return None
        if self.outcome != Status.RESTORED:
            return None
        given = (median - at).total_seconds()
        if given <= 0:
            return None
        return max((self.closed_at - at).total_seconds(), 0.0) / given

    def restoration_minutes(self) -> float | None:
        """How long power took to come back after the crew's arrival."""
        if self.on_site_at is None or self.closed_at is None or self.outcome != Status.RESTORED:
            return None
        return (self.closed_at - self.on_site_at).total_seconds() / 60

    def clock(self, now: datetime, warn_minutes: float) -> str:
        """The SLA light: ``green`` (time left), ``amber`` (within the warning time), ``red``
        (past due); a closed order is ``met`` or ``missed``."""
        if not self.is_open:
            return "missed" if any(level == "breach" for _, level, _ in self.escalations) else "met"
        left = (self.due() - now).total_seconds() / 60
        if left <= 0:
            return "red"
        return "amber" if left <= warn_minutes else "green"

    def to_dict(self, now: datetime, warn_minutes: float) -> dict[str, Any]:
        """The API shape (``GET /v1/work-orders``)."""
        due = self.due() if self.is_open else None
        return {
            "id": self.id,
            "incident": self.incident,
            "kind": self.kind,
            "skill": self.skill,
            "area_class": self.area_class,
            "lon": _finite(self.lonlat[0]),
            "lat": _finite(self.lonlat[1]),
            "customers": self.customers,
            "substation": self.substation,
            "weather": self.weather,
            "cause": self.cause,
            "crew": self.crew,
            "opened_at": iso(self.opened_at),
            "dispatched_at": iso(self.dispatched_at),
            "en_route_at": iso(self.en_route_at),
            "on_site_at": iso(self.on_site_at),
            "repairing_at": iso(self.repairing_at),
            "closed_at": iso(self.closed_at),
            "outcome": self.outcome,
            "step": self.step if self.is_open else None,
            "due": iso(due),
            "minutes_left": round((due - now).total_seconds() / 60, 1) if due else None,
            "clock": self.clock(now, warn_minutes),
            "arrival": {
                "due": iso(self.arrival_due),
                "limit_minutes": self.arrival_limit,
                "achieved_minutes": _round(self.arrival_minutes()),
            },
            "restoration": {
                "due": iso(self.restoration_due),
                "limit_minutes": self.restoration_limit,
                "achieved_minutes": _round(self.restoration_minutes()),
            },
            "escalations": [
                {"step": step, "level": level, "at": iso(at)}
                for step, level, at in self.escalations
            ],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _finite(value: float) -> float | None:
    return None if value != value else round(value, 7)  # NaN: position unknown
