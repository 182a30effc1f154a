"""The IVR's read view: which open outage covers a premise, built only from domain events.

The IVR asks "is there a known outage here?" hundreds of times a second while the engine is
busy writing. Rather than reading the engine's working state from another thread, this
projection keeps what the answer needs — open incidents by asset, their status, ETR and cause —
updated from the event stream. Events are the only input, so the same projection can later be
rebuilt in another process (or in Redis) from the journal.

A premise is covered by the *outermost* open incident above it (walking its transformer and
device chain), exactly as the engine attaches calls: a customer under both a breaker lockout
and a blown fuse hears about the breaker first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from grid.topology import Topology
from outage import events as ev
from outage.incidents import DONE_STATES, OPEN_STATES, Status


@dataclass(slots=True)
class IncidentSummary:
    """What the IVR and the public feed say about one incident."""

    id: str
    status: str
    asset: str = ""
    level: str = "transformer"
    cause: str = ""
    customers: int = 0
    substation: str = ""
    feeder: str = ""
    started: datetime | None = None
    etr: datetime | None = None
    planned: bool = False
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    crew: str | None = None
    #: Whose ETR: "officer", "crew" or "estimated" ("" while there is none).
    etr_source: str = ""
    #: A service drop: the one premise out under transformer ``asset`` ("" for all of them).
    premise: str = ""


class OutageReadView:
    """Open and scheduled incidents indexed by asset (see the module docstring)."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.incidents: dict[str, IncidentSummary] = {}
        #: open incidents by the asset that is out: ("device", n), ("transformer", n), or
        #: ("premise", n) for one premise's own service drop.
        self._by_asset: dict[tuple[str, int], str] = {}
        self._registered: dict[str, tuple[str, int]] = {}
        #: planned work not yet started, by device number (for "planned outage on ...").
        self._scheduled: dict[int, set[str]] = {}
        self.last_seq = 0

    # -- answers ------------------------------------------------------------------------------

    def covering(self, premise: int) -> IncidentSummary | None:
        """The outermost open incident whose customers include ``premise``."""
        topo = self.topology
        transformer = topo.premise_transformer[premise]
        by_asset = self._by_asset
        found = by_asset.get(("transformer", transformer)) or by_asset.get(("premise", premise))
        for device in topo.device_chain[topo.transformer_device[transformer]]:
            hit = by_asset.get(("device", device))
            if hit is not None:
                found = hit
        return self.incidents.get(found) if found is not None else None

    def scheduled_for(self, premise: int) -> list[IncidentSummary]:
        """Planned work not yet started that will take ``premise`` out, soonest first."""
        topo = self.topology
        transformer = topo.premise_transformer[premise]
        out = [
            self.incidents[i]
            for device in topo.device_chain[topo.transformer_device[transformer]]
            for i in self._scheduled.get(device, ())
        ]
        return sorted(out, key=lambda s: (s.planned_start or s.started or datetime.max, s.id))

    def open_incidents(self) -> list[IncidentSummary]:
        """Every incident whose asset is out now."""
        return [self.incidents[i] for i in self._registered]

    # -- for projections kept elsewhere (the Redis backend mirrors these tables) -------------

    def asset_of(self, incident: str) -> tuple[str, int] | None:
        """The ``(kind, number)`` asset an open incident is registered at (None when not)."""
        return self._registered.get(incident)

    def holder(self, asset: tuple[str, int]) -> str | None:
        """The open incident registered at ``asset`` (None when the asset is not out)."""
        return self._by_asset.get(asset)

    def scheduled_at(self, device: int) -> list[str]:
        """Planned incidents not yet started at device number ``device``, sorted."""
        return sorted(self._scheduled.get(device, ()))

    # -- projection ---------------------------------------------------------------------------

    def apply(self, seq: int, event: ev.Event) -> None:
        """Fold one event (in sequence order) into the view."""
        self.last_seq = seq
        match event:
            case ev.IncidentStatusChanged(incident=incident, new=new):
                summary = self._summary(incident, new)
                summary.status = new
                if new in OPEN_STATES and summary.asset:
                    self._register(summary)
                elif new not in OPEN_STATES:
                    self._unregister(incident)
                    if new in DONE_STATES:
                        self._forget(incident)
            case ev.OutagePredicted():
                summary = self._summary(event.incident, Status.PREDICTED)
                summary.asset, summary.level, summary.cause = event.device, event.level, event.cause
                summary.customers, summary.started = event.customers, event.at
                summary.substation, summary.feeder = event.substation, event.feeder
                summary.premise = event.premise or ""
                if summary.status in OPEN_STATES:
                    self._register(summary)
            case ev.PredictionMoved():
                summary = self._summary(event.incident, Status.PREDICTED)
                self._unregister(event.incident)
                summary.asset, summary.customers = event.to_device, event.customers
                summary.premise = event.premise or ""
                summary.level = (
                    "device" if event.to_device in self.topology.device_index else ("transformer")
                )
                self._place(summary)
                if summary.status in OPEN_STATES:
                    self._register(summary)
            case ev.EtrChanged():
                summary = self._summary(event.incident, Status.PREDICTED)
                summary.etr, summary.etr_source = event.etr, event.source
            case ev.CrewDispatched():
                self._summary(event.incident, Status.DISPATCHED).crew = event.crew
            case ev.PlannedOutageScheduled():
                summary = self._summary(event.incident, Status.SCHEDULED)
                summary.asset, summary.level, summary.planned = event.device, "device", True
                summary.cause, summary.customers = event.reason, event.customers
                summary.planned_start, summary.planned_end = event.start, event.end
                summary.started, summary.etr = event.start, event.end
                self._place(summary)
                device = self.topology.device_index[event.device]
                self._scheduled.setdefault(device, set()).add(event.incident)
            case ev.PlannedOutageStarted():
                summary = self._summary(event.incident, Status.CONFIRMED)
                self._drop_scheduled(summary)
                self._register(summary)

    def _summary(self, incident: str, status: str) -> IncidentSummary:
        summary = self.incidents.get(incident)
        if summary is None:
            summary = self.incidents[incident] = IncidentSummary(incident, status)
        return summary

    def _place(self, summary: IncidentSummary) -> None:
        """Fill feeder and substation from the asset (events that move do not carry them)."""
        topo = self.topology
        if summary.level == "device":
            feeder = topo.device_feeder[topo.device_index[summary.asset]]
        else:
            feeder = topo.transformer_feeder[topo.transformer_index[summary.asset]]
        summary.feeder = topo.feeder_ids[feeder]
        summary.substation = topo.substation_ids[topo.feeder_substation[feeder]]

    def _register(self, summary: IncidentSummary) -> None:
        topo = self.topology
        if summary.level == "device":
            key = ("device", topo.device_index[summary.asset])
        elif summary.premise:
            key = ("premise", topo.premise_index[summary.premise])
        else:
            key = ("transformer", topo.transformer_index[summary.asset])
        previous = self._registered.get(summary.id)
        if previous is not None and previous != key:
            self._unregister(summary.id)
        self._by_asset[key] = summary.id
        self._registered[summary.id] = key

    def _unregister(self, incident: str) -> None:
        key = self._registered.pop(incident, None)
        if key is not None and self._by_asset.get(key) == incident:
            del self._by_asset[key]

    def _drop_scheduled(self, summary: IncidentSummary) -> None:
        device = self.topology.device_index.get(summary.asset)
        if device is not None:
            self._scheduled.get(device, set()).discard(summary.id)

    def _forget(self, incident: str) -> None:
        summary = self.incidents.pop(incident, None)
        if summary is not None and summary.planned:
            self._drop_scheduled(summary)
