"""A crew's live state: status, order, where it was last seen."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from outage.events import iso
from outage.restoration.roster import Crew
from outage.signals import CREW_BUSY


@dataclass(slots=True, eq=False)
class CrewState:
    """One crew now (its roster entry, or an ad-hoc one when no roster is loaded)."""

    crew: Crew
    rostered: bool
    status: str = "available"
    order: str | None = None
    since: datetime | None = None
    lonlat: tuple[float, float] | None = None
    #: (status, order, at) of every change, oldest first.
    timeline: list[tuple[str, str | None, datetime]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.lonlat is None and self.crew.depot is not None:
            self.lonlat = (self.crew.depot.lon, self.crew.depot.lat)

    @property
    def busy(self) -> bool:
        """Working an order."""
        return self.status in CREW_BUSY and self.order is not None

    def to_dict(self, on_shift: bool) -> dict[str, Any]:
        """The API shape (``GET /v1/crews``)."""
        return {
            "id": self.crew.id,
            "name": self.crew.name,
            "skills": list(self.crew.skills),
            "rostered": self.rostered,
            "on_shift": on_shift,
            "status": self.status,
            "order": self.order,
            "since": iso(self.since),
            "lon": self.lonlat[0] if self.lonlat else None,
            "lat": self.lonlat[1] if self.lonlat else None,
            "depot": self.crew.depot.model_dump() if self.crew.depot else None,
        }
