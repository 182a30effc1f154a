"""One partition's engine and the Redis projection changes each batch of messages causes.

`PartitionState` holds a partition's `PartitionEngine` and its `OutageReadView`. ``replay``
feeds a message silently (recovery: its effects are already in Redis); ``apply`` feeds it and
records what it changed, and ``payload`` turns a batch's changes into the operations of the
atomic `keys.APPLY` step: the events, the IVR tables (open asset -> incident, summaries,
planned work), officer incident lists and details, storm status, counters and call minutes.
Only incidents an event of the batch names are rewritten, so a batch costs what it touched.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, NotRequired, TypedDict

import orjson

from outage import events as ev
from outage.bootstrap import Network, RestorationSetup
from outage.commands import Command
from outage.events import Event, to_json
from outage.events import iso as _iso
from outage.incidents import Status, service_key
from outage.readview import IncidentSummary, OutageReadView
from outage.registry import Ticket
from outage.rules import Rules
from outage.state import incident_view, open_by_scope, restoration_view
from outage.step import apply_message, encode_command
from outage.storm import SYSTEM

from .keys import KEY_INDEX
from .partition import Message, PartitionEngine


class CommandOutcome(TypedDict):
    """What the engine did with an officer command, as `PartitionState.apply` stores it."""

    outcome: Literal["applied", "rejected", "refused", "quarantined"]
    error: str | None  # why, for every outcome but "applied"
    events: list[str]  # each event's JSON (`outage.events.to_json`)
    command: NotRequired[dict[str, Any]]  # the command itself (written since the audit view)


@dataclass
class _Batch:
    events: list[tuple[str, bytes, str]] = field(default_factory=list)
    incidents: set[str] = field(default_factory=set)
    assets_before: dict[str, tuple[str, int] | None] = field(default_factory=dict)
    call_minutes: Counter[int] = field(default_factory=Counter)
    outcomes: dict[str, bytes] = field(default_factory=dict)
    quarantined: dict[str, bytes] = field(default_factory=dict)


class PartitionState:
    """A partition's engine, read view and pending projection changes."""

    def __init__(
        self,
        partition: str,
        network: Network,
        rules: Rules,
        restoration: RestorationSetup | None = None,
    ) -> None:
        self.partition = partition
        self.topology = network.topology
        self.engine = PartitionEngine(partition, network, rules, restoration)
        self.view = OutageReadView(network.topology)
        #: Stream id of the last message applied (or replayed); '' before any.
        self.applied = ""
        self.audit: list[dict[str, Any]] = []
        #: Ids of messages quarantined (by us or an earlier owner): never applied again.
        self.quarantined: set[str] = set()
        self._seq = 0
        self._batch = _Batch()

    # -- feeding ------------------------------------------------------------------------------

    def replay(self, message: Message | None, stream_id: str) -> None:
        """Apply a message whose effects Redis already holds (recovery); a quarantined one
        (or one that no longer decodes: None) is skipped, as when it was first met."""
        if message is not None and message.id not in self.quarantined:
            events, _, _, failure = self._handle(message)
            if failure is not None:  # failed again: quarantined when it was first applied
                self.quarantined.add(message.id)
            for event in events:
                self._seq += 1
                self.view.apply(self._seq, event)
        self.applied = stream_id

    def quarantine(self, message_id: str, kind: str, reason: str, stream_id: str) -> None:
        """Record a message the engine cannot take (see `outage.host`): written with the
        batch, never applied again; the stream moves on past it."""
        self.quarantined.add(message_id)
        self._batch.quarantined[message_id] = orjson.dumps(
            {"id": message_id, "type": kind, "reason": reason, "entry": stream_id}
        )
        self.applied = stream_id

    def apply(self, message: Message, stream_id: str) -> list[Event]:
        """Apply a message and remember what it changed for the next `payload`."""
        batch = self._batch
        if message.id in self.quarantined:  # a redelivery of what was quarantined
            self.applied = stream_id
            return []
        events, refusal, rejected, failure = self._handle(message)
        if failure is not None:
            self.quarantine(message.id, message.type, failure, stream_id)
        for event in events:
            for incident in _named(event):
                if incident not in batch.incidents:
                    batch.incidents.add(incident)
                    batch.assets_before[incident] = self.view.asset_of(incident)
            self._seq += 1
            self.view.apply(self._seq, event)
            batch.events.append((event.type, to_json(event), stream_id))
            if ev.ends_call(event):
                batch.call_minutes[int(event.at.timestamp()) // 60] += 1
        if isinstance(message, Command):
            outcome = "rejected" if rejected else ("refused" if refusal else "applied")
            if failure is not None:
                outcome = "quarantined"
            batch.outcomes[message.id] = orjson.dumps(
                {
                    "outcome": outcome,
                    "error": rejected or refusal or failure,
                    "events": [to_json(e).decode() for e in events],
                    "command": encode_command(message),  # the audit record (`RedisViews.audit`)
                }
            )
        self.applied = stream_id
        return events

    def _handle(self, message: Message) -> tuple[list[Event], str | None, str | None, str | None]:
        """Events, why a command was refused, why it was rejected, why it was quarantined
        (`outage.step.apply_message`, as `EngineHost` applies it)."""
        rejected = None
        if isinstance(message, Command) and not self.engine.seen_message(message):
            rejected = self.engine.check_references(message)
        applied = apply_message(self.engine, message, self.partition)
        if applied.audit is not None and rejected is None:
            self.audit.append(applied.audit)
        return applied.events, applied.refusal, rejected, applied.failure

    # -- writing ------------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """True when `apply` ran since the last `payload`."""
        return bool(self._batch.events or self._batch.outcomes or self._batch.quarantined)

    def payload(self) -> dict[str, list[list[Any]]]:
        """The batch's changes as `keys.APPLY` operations; starts a new batch."""
        batch, self._batch = self._batch, _Batch()
        ops: dict[str, list[list[Any]]] = {"x": [], "h": [], "d": [], "i": [], "s": []}
        ops["x"] = [[kind, body.decode(), msg] for kind, body, msg in batch.events]
        k = KEY_INDEX
        self._ivr_ops(batch, ops)
        self._incident_ops(batch, ops)
        for minute, calls in batch.call_minutes.items():
            ops["i"].append([k["calls"], str(minute), calls])
        for command, outcome in batch.outcomes.items():
            ops["h"].append([k["outcome"], command, outcome.decode()])
        for message_id, row in batch.quarantined.items():
            ops["h"].append([k["quarantine"], message_id, row.decode()])
        engine = self.engine
        for name, value in (
            ("calls_received", engine.calls_received),
            ("calls_suppressed", engine.suppressed_total),
            ("signals_applied", engine.signals_applied),
            ("incidents_open", len(self.view.open_incidents())),
            ("quarantined", len(self.quarantined)),
        ):
            ops["h"].append([k["stats"], name, value])
        ops["s"].append([k["storm"], orjson.dumps(self.storm_status()).decode()])
        ops["s"].append([k["restoration"], orjson.dumps(restoration_view(engine)).decode()])
        for asset, rows in engine.restoration.outages.take_changes().items():
            ops["h"].append([k["history"], asset, orjson.dumps(rows).decode()])
        return ops

    def _ivr_ops(self, batch: _Batch, ops: dict[str, list[list[Any]]]) -> None:
        k, view, topo = KEY_INDEX, self.view, self.topology
        assets: set[tuple[str, int]] = set()
        devices: set[int] = set()
        for incident in sorted(batch.incidents):
            for asset in (batch.assets_before.get(incident), view.asset_of(incident)):
                if asset is not None:
                    assets.add(asset)
            summary = view.incidents.get(incident)
            if summary is None:
                ops["d"].append([k["summary"], incident])
                continue
            ops["h"].append([k["summary"], incident, summary_json(summary)])
            if summary.planned and summary.asset in topo.device_index:
                devices.add(topo.device_index[summary.asset])
        for kind, number in sorted(assets):
            if kind == "premise":
                name = service_key(topo.premise_ids[number])
            else:
                name = topo.device_ids[number] if kind == "device" else topo.transformer_ids[number]
            holder = view.holder((kind, number))
            if holder is None:
                ops["d"].append([k["open"], str(name)])
            else:
                ops["h"].append([k["open"], str(name), holder])
        for device in sorted(devices):
            planned = view.scheduled_at(device)
            name = str(topo.device_ids[device])
            if planned:
                ops["h"].append([k["scheduled"], name, orjson.dumps(planned).decode()])
            else:
                ops["d"].append([k["scheduled"], name])

    def _incident_ops(self, batch: _Batch, ops: dict[str, list[list[Any]]]) -> None:
        k, engine = KEY_INDEX, self.engine
        touched = set(batch.incidents)
        for incident_id in batch.incidents:  # relatives whose child / merge lists changed
            incident = engine.incidents.get(incident_id)
            if incident is not None:
                touched.update(i for i in (incident.parent, incident.merged_into) if i)
        touched &= engine.incidents.keys()
        if not touched:
            return
        children: dict[str, list[str]] = {}
        merged_from: dict[str, list[str]] = {}
        for other in engine.incidents.values():
            if other.parent in touched:
                children.setdefault(other.parent, []).append(other.id)
            if other.merged_into in touched:
                merged_from.setdefault(other.merged_into, []).append(other.id)
        tickets: dict[str, list[Ticket]] = {}
        for ticket in engine.tickets:
            if (linked := ticket["incident"]) is not None and linked in touched:
                tickets.setdefault(linked, []).append(ticket)
        topo = self.topology
        for incident_id in sorted(touched):
            incident = engine.incidents[incident_id]
            body = incident_view(engine, incident)
            hazards = [_plain(t) for t in tickets.get(incident_id, [])]
            brief = body | {
                "calls": len(body["calls"]),
                "hazards": len(body["hazards"]),
                "hazard_tickets": [
                    {"ticket": t["ticket"], "kind": t["kind"], "premise": t["premise"]}
                    for t in hazards
                    if t.get("priority") == "high"
                ],
            }
            detail = body | {
                "calls": [
                    {"call": c, "premise": topo.premise_ids[p]}
                    for c, p in zip(incident.calls, incident.call_premises, strict=True)
                ],
                "hazards": hazards,
                "children": children.get(incident_id, []),
                "merged_from": merged_from.get(incident_id, []),
                "commands": [
                    a
                    for a in self.audit
                    if a.get("incident") == incident_id or a.get("into") == incident_id
                ],
            }
            ops["h"].append([k["detail"], incident_id, orjson.dumps(detail).decode()])
            if incident.status == Status.MERGED:
                ops["d"].append([k["incidents"], incident_id])
            else:
                ops["h"].append([k["incidents"], incident_id, orjson.dumps(brief).decode()])

    def storm_status(self) -> dict[str, Any]:
        """This partition's storm scopes: its substation's, and its share of the system's."""
        engine = self.engine
        detector = engine.storm
        live = open_by_scope(engine)
        scopes = {}
        for name in (self.partition, SYSTEM):
            if name in detector.scopes:
                view = detector.scope_view(name)
                view["measured"] = {
                    k: view[k] for k in ("customers_out", "open_incidents", "calls_per_hour")
                }
                scopes[name] = view | live.get(name, {"customers_out": 0, "open_incidents": 0})
        return {
            "partition": self.partition,
            "rule_set": engine.rule_set,
            "scopes": scopes,
            "history": [
                {"scope": s, "declared": _iso(a), "stood_down": _iso(b)}
                for s, a, b in detector.history
                if s in scopes
            ],
            "engine_time": _iso(engine.now),
            "first_time": _iso(engine.first_ts),  # where the reliability indices' period begins
            # When its open incidents last changed (the aggregator's clear time starts there).
            "changed_at": _iso(engine.changed_at),
        }


def _named(event: Event) -> list[str]:
    """Incidents an event changes."""
    out = []
    for name in ("incident", "into"):
        value = getattr(event, name, None)
        if isinstance(value, str):
            out.append(value)
    if isinstance(event, ev.OutagePartiallyRestored):
        out.extend(event.still_out_incidents)
    return out


def summary_json(summary: IncidentSummary) -> str:
    """An IVR summary as JSON (times in ISO 8601)."""
    return orjson.dumps(asdict(summary)).decode()


def summary_from_json(raw: bytes | str) -> IncidentSummary:
    """The inverse of `summary_json`."""
    data = orjson.loads(raw)
    for name in ("started", "etr", "planned_start", "planned_end"):
        if data.get(name):
            data[name] = datetime.fromisoformat(data[name])
    return IncidentSummary(**data)


def _plain(ticket: Ticket) -> dict[str, Any]:
    return {k: (_iso(v) if isinstance(v, datetime) else v) for k, v in ticket.items()}
