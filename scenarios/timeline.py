"""The officer's view over time, rebuilt from the engine's domain events (as dicts).

Only the public event vocabulary is used (`outage.events`, by name and field, never imported):

* ``OutagePredicted(incident, device, premise)`` / ``PredictionMoved(incident, to_device,
  premise)``: where an incident points — with ``premise``, one premise's own service drop under
  the transformer ``device`` rather than everything below it;
* ``IncidentStatusChanged(incident, new)``: whether it is still shown as an outage — an
  incident in `ENDED` (restored, partially restored, closed, cancelled, merged) no longer shows
  its device's area out (a partially restored incident's still-dark part is shown by the
  nested incidents the event names);
* ``CallAttached(incident, call)``: the call now belongs to that incident (the latest wins);
  ``IncidentMerged(incident, into)``: its calls now belong to ``into``.

* ``StateObserved(incidents=[{id, device, status, calls}])``: not a domain event but an
  observation the harness (`scenarios.replay`) inserts after signals that changed the incident
  structure, because an engine splitting an incident moves calls without a ``CallAttached``;
  it resets devices, statuses and call membership to what the engine's state said, and an
  incident it does not list has been merged away.

Events are processed in list order; an event's ``at`` that goes back in time (possible when
signals arrive out of order) is taken as "now", so the rebuilt view never runs backwards.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

ENDED = frozenset({"restored", "partially_restored", "closed", "cancelled", "merged"})


@dataclass(frozen=True)
class Shown:
    """One incident shown at one device over ``[start, end)`` (end None: still shown); with
    ``premise``, only that premise's service under the transformer ``device``."""

    incident: str
    device: str
    start: datetime
    end: datetime | None
    premise: str | None = None


class View:
    """The state of incidents at one instant of the event stream."""

    def __init__(self) -> None:
        self.device: dict[str, str] = {}
        #: incident -> the one premise of a service drop (absent: all below its device)
        self.premise: dict[str, str] = {}
        self.status: dict[str, str] = {}
        self.call_incident: dict[str, str] = {}
        self.incident_calls: defaultdict[str, set[str]] = defaultdict(set)
        self.at_device: defaultdict[str, set[str]] = defaultdict(set)
        #: incidents whose device or status changed since the last settle (so settling an
        #: instant costs what changed in it, not every incident of the storm)
        self.touched: set[str] = set()

    def shown(self, incident: str) -> bool:
        """Whether the incident currently shows its device's area out."""
        return incident in self.device and self.status.get(incident, "predicted") not in ENDED

    def incidents_at(self, device: str) -> set[str]:
        """Incidents currently shown at ``device`` (its whole area: service drops under a
        transformer are at `service_key` of their premise)."""
        return {i for i in self.at_device.get(device, ()) if self.shown(i)}


class Timeline:
    """Replays event dicts into `View` states and `Shown` intervals (module docstring)."""

    def __init__(self, events: Iterable[dict[str, Any]]) -> None:
        self.events = list(events)

    def run(self, on_instant: Callable[[datetime, View], None] | None = None) -> list[Shown]:
        """Every shown interval; ``on_instant(t, view)`` is called after the last event of
        each instant."""
        view = View()
        # incident -> (device, premise, since)
        opened: dict[str, tuple[str, str | None, datetime]] = {}
        intervals: list[Shown] = []
        now: datetime | None = None

        def settle(t: datetime) -> None:
            """Close or open the intervals of the incidents touched since the last instant."""
            for incident in view.touched:
                if incident in opened:
                    device, premise, since = opened[incident]
                    if (
                        view.shown(incident)
                        and view.device[incident] == device
                        and view.premise.get(incident) == premise
                    ):
                        continue
                    if t > since:
                        intervals.append(Shown(incident, device, since, t, premise))
                    del opened[incident]
                if view.shown(incident):
                    opened[incident] = (view.device[incident], view.premise.get(incident), t)
            view.touched.clear()

        for event in self.events:
            at = _time(event["at"])
            if now is not None and at < now:
                at = now
            if now is not None and at > now:
                settle(now)
                if on_instant is not None:
                    on_instant(now, view)
            now = at
            apply_event(view, event)
        if now is not None:
            settle(now)
            if on_instant is not None:
                on_instant(now, view)
        intervals.extend(Shown(i, d, since, None, p) for i, (d, p, since) in opened.items())
        return intervals


def apply_event(view: View, event: dict[str, Any]) -> None:
    """Apply one event dict (or ``StateObserved`` record) to ``view`` (module docstring)."""
    kind = event.get("type")
    if kind == "OutagePredicted":
        _point(view, event["incident"], event["device"], event.get("premise"))
    elif kind == "PredictionMoved":
        _point(view, event["incident"], event["to_device"], event.get("premise"))
    elif kind == "IncidentStatusChanged":
        view.status[event["incident"]] = event["new"]
        view.touched.add(event["incident"])
    elif kind == "CallAttached":
        _attach(view, event["call"], event["incident"])
    elif kind == "IncidentMerged":
        source, into = event["incident"], event["into"]
        for call in list(view.incident_calls.get(source, ())):
            _attach(view, call, into)
        view.status[source] = "merged"
        view.touched.add(source)
    elif kind == "StateObserved":
        listed = set()
        for incident in event["incidents"]:
            listed.add(incident["id"])
            _point(view, incident["id"], incident["device"], incident.get("premise"))
            view.status[incident["id"]] = incident["status"]
            view.touched.add(incident["id"])
            for call in incident["calls"]:
                _attach(view, call, incident["id"])
        for incident in view.device:
            if incident not in listed and view.status.get(incident) != "merged":
                view.status[incident] = "merged"
                view.touched.add(incident)


def service_key(premise: str) -> str:
    """Where `View.at_device` files a service drop of ``premise``."""
    return f"service:{premise}"


def _point(view: View, incident: str, device: str, premise: str | None = None) -> None:
    old = view.device.get(incident)
    if old is not None:
        view.at_device[old].discard(incident)
        old_premise = view.premise.pop(incident, None)
        if old_premise is not None:
            view.at_device[service_key(old_premise)].discard(incident)
    view.device[incident] = device
    if premise is None:
        view.at_device[device].add(incident)
    else:
        view.premise[incident] = premise
        view.at_device[service_key(premise)].add(incident)
    view.touched.add(incident)


def _attach(view: View, call: str, incident: str) -> None:
    old = view.call_incident.get(call)
    if old is not None:
        view.incident_calls[old].discard(call)
    view.call_incident[call] = incident
    view.incident_calls[incident].add(call)


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
