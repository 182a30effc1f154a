"""notify's own small view of incidents, folded from domain events (never the engine's state).

Each incident keeps what messages and feeds need: the asset it sits on (a transformer or a
protective device), its status, ETR, crew, planned window, and where it was merged. The book is
a plain dict of `IncidentView` so it can be saved with the outbox in one transaction and later
rebuilt by a worker that reads the same events from Redis.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from outage import events as ev

OPEN = frozenset({"open", "partial"})


@dataclass
class IncidentView:
    """What notify knows of one incident."""

    id: str
    asset: str
    level: str  # "transformer" | "device"
    status: str = "open"  # open | partial | restored | cancelled | merged | scheduled
    customers: int = 0
    cause: str = ""
    feeder: str = ""
    substation: str = ""
    etr: str | None = None  # ISO time
    etr_source: str | None = None  # officer | crew | estimated
    crew: str | None = None
    planned: bool = False
    start: str | None = None
    end: str | None = None
    reason: str = ""
    started: str | None = None
    restored: str | None = None
    merged_into: str | None = None
    still_out: list[str] = field(default_factory=list)
    cap: list[dict[str, str]] = field(default_factory=list)  # CAP messages issued
    #: A service drop: the one premise out under transformer ``asset`` (None: all below it).
    premise: str | None = None

    @property
    def is_open(self) -> bool:
        """Customers are out now."""
        return self.status in OPEN

    def etr_time(self) -> datetime | None:
        """The ETR as a datetime."""
        return datetime.fromisoformat(self.etr) if self.etr else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


class IncidentBook:
    """Incidents by id, updated by `apply`; `changed` lists ids touched since the last save."""

    def __init__(self, incidents: dict[str, IncidentView] | None = None) -> None:
        self.incidents = incidents or {}
        self.changed: set[str] = set()

    @classmethod
    def from_dicts(cls, rows: list[dict[str, Any]]) -> IncidentBook:
        """Rebuild a saved book."""
        return cls({row["id"]: IncidentView(**row) for row in rows})

    def get(self, incident: str) -> IncidentView | None:
        """The incident, following merges to the one that survived."""
        seen = set()
        view = self.incidents.get(incident)
        while view is not None and view.merged_into and view.id not in seen:
            seen.add(view.id)
            view = self.incidents.get(view.merged_into)
        return view

    def open_incidents(self) -> list[IncidentView]:
        """Incidents with customers out now."""
        return [v for v in self.incidents.values() if v.is_open]

    def _touch(self, view: IncidentView) -> IncidentView:
        self.changed.add(view.id)
        return view

    def apply(self, event: ev.Event, *, is_transformer: Any) -> IncidentView | None:
        """Fold ``event`` in; returns the incident it concerns (None for other events).

        ``is_transformer(asset_id)`` tells the level of an asset a prediction moved to.
        """
        at = event.at.isoformat()
        view: IncidentView | None  # a new one for the first two events, else the one we keep
        match event:
            case ev.OutagePredicted():
                view = IncidentView(
                    id=event.incident,
                    asset=event.device,
                    level=event.level,
                    customers=event.customers,
                    cause=event.cause,
                    feeder=event.feeder,
                    substation=event.substation,
                    started=at,
                    premise=event.premise,
                )
                self.incidents[view.id] = view
                return self._touch(view)
            case ev.PlannedOutageScheduled():
                view = IncidentView(
                    id=event.incident,
                    asset=event.device,
                    level="transformer" if is_transformer(event.device) else "device",
                    status="scheduled",
                    customers=event.customers,
                    planned=True,
                    start=event.start.isoformat(),
                    end=event.end.isoformat(),
                    reason=event.reason,
                    cause=event.reason,
                )
                self.incidents[view.id] = view
                return self._touch(view)
        incident = getattr(event, "incident", None)
        view = self.incidents.get(incident) if isinstance(incident, str) else None
        if view is None:
            return None
        match event:
            case ev.PredictionMoved():
                view.asset = event.to_device
                view.level = "transformer" if is_transformer(event.to_device) else "device"
                view.customers = event.customers
                view.premise = event.premise
            case ev.IncidentMerged():
                view.status, view.merged_into = "merged", event.into
            case ev.OutageConfirmed():
                view.asset = event.device
                view.level = "transformer" if is_transformer(event.device) else "device"
            case ev.CrewDispatched():
                view.crew = event.crew
            case ev.EtrChanged():
                view.etr = event.etr.isoformat() if event.etr else None
                view.etr_source = event.source
            case ev.PlannedOutageStarted():
                view.status, view.started, view.customers = "open", at, event.customers
            case ev.OutagePartiallyRestored():
                view.status = "partial"
                view.still_out = list(event.still_out_incidents)
                view.customers = event.customers_still_out
            case ev.OutageRestored():
                view.status, view.restored, view.still_out = "restored", at, []
            case ev.IncidentCancelled():
                view.status = "cancelled"
            case _:
                return None
        return self._touch(view)
