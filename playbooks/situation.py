"""The situation: a small projection of engine events that playbook conditions read.

It tracks the open outages (customers, substation, ETR), calls as they arrive (counted with
`outage.events.ends_call`, the one event that ends each call),
customers newly out (the staffing forecast), warnings in force, planned work and declared
storms. Everything is keyed on event time, never the wall clock, and the whole projection
round-trips through JSON (`to_dict` / `from_dict`) so the runner can persist it.

Customers out is the sum over open incidents. A nested outage inside a still-open parent is
counted twice until the parent is restored; the engine's roll-up merges most of those, so the
error is small and always on the side of more staff.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from grid.topology import Topology
from outage import events as ev
from outage.rules import Rules, StormDetection

#: Calls and customers-out increments are kept this long (the longest window a condition uses).
MEMORY = timedelta(hours=4)
#: Calls are also counted in buckets of this size for the drill review's chart.
BUCKET = timedelta(minutes=5)


@dataclass
class Outage:
    """An open incident as the situation sees it."""

    customers: int
    substation: str | None
    device: str
    etr: datetime | None = None


@dataclass
class Planned:
    """Planned work announced by the engine."""

    device: str
    start: datetime
    end: datetime
    customers: int
    substation: str | None
    reason: str = ""


#: Crew statuses that end a work order's arrival deadline.
ON_SITE = ("on_site", "repairing")


@dataclass
class OverdueOrder:
    """A work order escalated by the engine (`SlaEscalated`) and not yet past that step."""

    order: str
    incident: str
    step: str
    level: str
    due: datetime
    area_class: str
    crew: str | None
    substation: str | None = None


@dataclass
class WarningInForce:
    """A weather or heat warning."""

    signal: str
    kind: str
    level: str
    area: str
    at: datetime
    until: datetime | None


@dataclass
class Situation:
    """See the module docstring. ``served`` is customers served per substation;
    ``device_substation`` maps a device id to its substation (planned work needs it)."""

    served: dict[str, int]
    baseline: StormDetection = field(default_factory=StormDetection)
    device_substation: Mapping[str, str] = field(default_factory=dict)
    now: datetime | None = None
    outages: dict[str, Outage] = field(default_factory=dict)
    planned: dict[str, Planned] = field(default_factory=dict)
    warnings: list[WarningInForce] = field(default_factory=list)
    storms: dict[str, datetime] = field(default_factory=dict)
    calls: deque[datetime] = field(default_factory=deque)
    newly_out: deque[tuple[datetime, int]] = field(default_factory=deque)
    calls_by_bucket: dict[str, int] = field(default_factory=dict)
    rule_set: str = "normal"
    overdue: dict[str, OverdueOrder] = field(default_factory=dict)

    @classmethod
    def for_topology(cls, topology: Topology, rules: Rules | None = None) -> Situation:
        """A situation configured for ``topology``: customers per substation, device ->
        substation, and the engine's call baseline from ``rules``."""
        served: Counter[str] = Counter()
        for t, feeder in enumerate(topology.transformer_feeder):
            served[topology.substation_ids[topology.feeder_substation[feeder]]] += int(
                topology.transformer_customers[t]
            )
        device_substation = {
            device: topology.substation_ids[topology.feeder_substation[feeder]]
            for device, feeder in zip(topology.device_ids, topology.device_feeder, strict=True)
        }
        config = (rules or Rules()).storm_detection
        return cls(dict(served), config, device_substation)

    # -- applying events --------------------------------------------------------------------

    def apply(self, event: ev.Event) -> None:
        """Fold one engine event into the situation."""
        self.now = event.at if self.now is None else max(self.now, event.at)
        if ev.ends_call(event):
            self._call(event.at)
        elif isinstance(event, ev.OutagePredicted):
            self.outages[event.incident] = Outage(event.customers, event.substation, event.device)
            self._out(event.at, event.customers)
        elif isinstance(event, ev.PredictionMoved):
            outage = self.outages.get(event.incident)
            if outage is not None:
                self._out(event.at, event.customers - outage.customers)
                outage.customers, outage.device = event.customers, event.to_device
        elif isinstance(event, ev.IncidentMerged | ev.OutageRestored | ev.IncidentCancelled):
            self.outages.pop(event.incident, None)
            self.planned.pop(event.incident, None)
        elif isinstance(event, ev.OutagePartiallyRestored):
            # What stays out is counted by the nested incidents that stay open.
            self.outages.pop(event.incident, None)
        elif isinstance(event, ev.EtrChanged):
            if event.incident in self.outages:
                self.outages[event.incident].etr = event.etr
        elif isinstance(event, ev.PlannedOutageScheduled):
            self.planned[event.incident] = Planned(
                event.device,
                event.start,
                event.end,
                event.customers,
                self.device_substation.get(event.device),
                event.reason,
            )
        elif isinstance(event, ev.PlannedOutageStarted):
            plan = self.planned.pop(event.incident, None)
            substation = plan.substation if plan else self.device_substation.get(event.device)
            self.outages[event.incident] = Outage(event.customers, substation, event.device)
            self._out(event.at, event.customers)
        elif isinstance(event, ev.WarningIssued):
            self.warnings.append(
                WarningInForce(
                    event.signal, event.kind, event.level, event.area, event.at, event.until
                )
            )
        elif isinstance(event, ev.StormDeclared):
            self.storms[event.scope] = event.at
        elif isinstance(event, ev.StormStoodDown):
            self.storms.pop(event.scope, None)
        elif isinstance(event, ev.RuleSetChanged):
            self.rule_set = event.rule_set
        elif isinstance(event, ev.SlaEscalated):
            outage = self.outages.get(event.incident)
            self.overdue[event.order] = OverdueOrder(
                event.order,
                event.incident,
                event.step,
                event.level,
                event.due,
                event.area_class,
                event.crew,
                outage.substation if outage is not None else None,
            )
        elif isinstance(event, ev.WorkOrderClosed):
            self.overdue.pop(event.order, None)
        elif isinstance(event, ev.CrewStatusChanged) and event.status in ON_SITE:
            # A crew on site ends the arrival deadline; the restoration one escalates anew.
            late = self.overdue.get(event.order or "")
            if late is not None and late.step == "arrival":
                del self.overdue[late.order]
        self.forget(self.now)

    def _call(self, at: datetime) -> None:
        self.calls.append(at)
        bucket = _bucket(at).isoformat()
        self.calls_by_bucket[bucket] = self.calls_by_bucket.get(bucket, 0) + 1

    def _out(self, at: datetime, customers: int) -> None:
        if customers > 0:
            self.newly_out.append((at, customers))

    def forget(self, now: datetime) -> None:
        """Drop calls and increments older than `MEMORY` before ``now``."""
        horizon = now - MEMORY
        while self.calls and self.calls[0] < horizon:
            self.calls.popleft()
        while self.newly_out and self.newly_out[0][0] < horizon:
            self.newly_out.popleft()

    # -- metrics ----------------------------------------------------------------------------

    def customers_out(self, scope: str = "system") -> int:
        """Customers out in the system or one substation."""
        return sum(
            o.customers for o in self.outages.values() if scope == "system" or o.substation == scope
        )

    def customers_out_by_substation(self) -> dict[str, int]:
        """Customers out per substation (substations with none are left out)."""
        out: dict[str, int] = {}
        for outage in self.outages.values():
            if outage.substation is not None:
                out[outage.substation] = out.get(outage.substation, 0) + outage.customers
        return out

    def calls_within(self, now: datetime, window: timedelta) -> int:
        """Calls in ``(now - window, now]``."""
        start = now - window
        return sum(1 for at in reversed(self.calls) if start < at <= now) if self.calls else 0

    def newly_out_within(self, now: datetime, window: timedelta) -> int:
        """Customers who lost power in ``(now - window, now]``."""
        start = now - window
        return sum(n for at, n in self.newly_out if start < at <= now)

    def callers_due(self, now: datetime, interval: timedelta, spread: timedelta) -> float:
        """Customers whose calls fall in ``(now, now + interval]``, if the customers who lost
        power at ``t`` call evenly over ``(t, t + spread]``."""
        due = 0.0
        for at, n in self.newly_out:
            overlap = min(at + spread, now + interval) - max(at, now)
            if overlap > timedelta(0):
                due += n * (overlap / spread)
        return due

    def local(self, at: datetime) -> datetime:
        """``at`` in the utility's zone (the storm rules' timezone): what people read."""
        return at.astimezone(ZoneInfo(self.baseline.timezone))

    def baseline_per_hour(self, now: datetime, scope: str = "system") -> float:
        """Normal calls per hour at this local hour of day (the engine's storm baseline)."""
        hour = now.astimezone(ZoneInfo(self.baseline.timezone)).hour
        served = sum(self.served.values()) if scope == "system" else self.served.get(scope, 0)
        return self.baseline.baseline_calls_per_hour_per_10k[hour] * served / 10_000

    def warnings_in_force(self, now: datetime, default: timedelta) -> list[WarningInForce]:
        """Warnings issued by ``now`` that have not run out."""
        return [w for w in self.warnings if w.at <= now and now < (w.until or w.at + default)]

    def etr(self, area: frozenset[str] | None) -> datetime | None:
        """The latest ETR among open outages in ``area`` (None: the whole system)."""
        etrs = [
            o.etr
            for o in self.outages.values()
            if o.etr is not None and (area is None or o.substation in area)
        ]
        return max(etrs) if etrs else None

    # -- persistence ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot (configuration excluded)."""
        return {
            "now": _iso(self.now),
            "outages": {k: _outage_dict(v) for k, v in self.outages.items()},
            "planned": {k: _planned_dict(v) for k, v in self.planned.items()},
            "warnings": [_warning_dict(w) for w in self.warnings],
            "storms": {k: v.isoformat() for k, v in self.storms.items()},
            "calls": [c.isoformat() for c in self.calls],
            "newly_out": [[at.isoformat(), n] for at, n in self.newly_out],
            "calls_by_bucket": self.calls_by_bucket,
            "rule_set": self.rule_set,
            "overdue": {k: asdict(v) | {"due": v.due.isoformat()} for k, v in self.overdue.items()},
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Load a `to_dict` snapshot into this (freshly configured) situation."""
        self.now = _dt(data["now"])
        self.outages = {
            k: Outage(v["customers"], v["substation"], v["device"], _dt(v["etr"]))
            for k, v in data["outages"].items()
        }
        self.planned = {
            k: Planned(
                v["device"],
                _t(v["start"]),
                _t(v["end"]),
                v["customers"],
                v["substation"],
                v.get("reason", ""),
            )
            for k, v in data["planned"].items()
        }
        self.warnings = [
            WarningInForce(
                w["signal"], w["kind"], w["level"], w["area"], _t(w["at"]), _dt(w["until"])
            )
            for w in data["warnings"]
        ]
        self.storms = {k: _t(v) for k, v in data["storms"].items()}
        self.calls = deque(_t(c) for c in data["calls"])
        self.newly_out = deque((_t(at), int(n)) for at, n in data["newly_out"])
        self.calls_by_bucket = dict(data["calls_by_bucket"])
        self.rule_set = data["rule_set"]
        self.overdue = {  # absent from snapshots written before work orders existed
            k: OverdueOrder(**(v | {"due": _t(v["due"])}))
            for k, v in data.get("overdue", {}).items()
        }


def _bucket(at: datetime) -> datetime:
    seconds = int(BUCKET.total_seconds())
    return datetime.fromtimestamp(int(at.timestamp()) // seconds * seconds, tz=at.tzinfo)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _outage_dict(o: Outage) -> dict[str, Any]:
    return {"customers": o.customers, "substation": o.substation, "device": o.device,
            "etr": _iso(o.etr)}  # fmt: skip


def _planned_dict(p: Planned) -> dict[str, Any]:
    return {"device": p.device, "start": p.start.isoformat(), "end": p.end.isoformat(),
            "customers": p.customers, "substation": p.substation, "reason": p.reason}  # fmt: skip


def _warning_dict(w: WarningInForce) -> dict[str, Any]:
    return {"signal": w.signal, "kind": w.kind, "level": w.level, "area": w.area,
            "at": w.at.isoformat(), "until": _iso(w.until)}  # fmt: skip
