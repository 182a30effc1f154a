"""What one ``outage serve`` process runs: the durable engine and its read views.

The engine is a single writer: every batch of signals and every officer command goes through
`Runtime.submit` under one lock (it runs in FastAPI's worker threads, never on the event loop).
Each event the engine emits is folded into the IVR read view and published to the SSE stream
from that same thread, so readers see a consistent order without ever touching engine state.
Officer reads (incident lists, one incident, storm, indices) take the same lock briefly.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from outage import events as ev
from outage.bootstrap import Network, RestorationSetup, build_engine
from outage.callrate import call_rate_buckets
from outage.commands import Command
from outage.engine import Engine
from outage.errors import SignalError
from outage.events import Event, to_json
from outage.events import iso as _iso
from outage.host import EngineHost, Message, SubmitResult
from outage.incidents import DONE_STATES, ON_MAP, OPEN_STATES, Status
from outage.ivr import Announcements, IvrAnswerer
from outage.journal import SqliteJournal
from outage.readview import OutageReadView
from outage.rules import Rules
from outage.state import (
    drawn_asset,
    engine_indices,
    incident_view,
    open_by_scope,
    restoration_view,
    snapshot,
)
from outage.storm import SYSTEM

from .clock import command_time
from .identity import TOPOLOGY_KEY, Migration, mismatch, topology_identity
from .metrics import Metrics
from .stream import EventStream, Item

Listener = Callable[[int, Event], None]
#: Every call ends in exactly one of these (a hazard call also attaches to its outage).


class Runtime:
    """The engine host, its read views and its event stream (see the module docstring)."""

    def __init__(
        self,
        network: Network,
        journal: SqliteJournal | None,
        *,
        rules: Rules | None = None,
        tz: str = "Asia/Shanghai",
        announcements: Announcements | None = None,
        listeners: Iterable[Listener] = (),
        migrate_topology: bool = False,
        restoration: RestorationSetup | None = None,
    ) -> None:
        self.network = network
        self.journal = journal
        self.lock = threading.RLock()
        self.view = OutageReadView(network.topology)
        self.stream = EventStream(backlog=self._backlog if journal is not None else None)
        self.extra_listeners: list[Listener] = list(listeners)
        #: Calls per epoch minute (event time), for the call-rate chart.
        self.call_minutes: Counter[int] = Counter()
        #: Set when the journal was replayed onto another topology (``migrate_topology``).
        self.migration: Migration | None = None
        identity = topology_identity(network) if journal is not None else None
        stored = journal.meta(TOPOLOGY_KEY) if journal is not None else None
        if journal is not None and stored is not None and stored != identity:
            assert identity is not None
            if not migrate_topology:
                raise mismatch(journal.path, stored, identity, journal.message_count())
            self.migration = Migration(stored, identity)
        setup = restoration or RestorationSetup()
        self.host = EngineHost(
            build_engine(network, rules, roster=setup.roster, history=setup.history),
            journal,
            listeners=[self._on_event],
            observe=self.migration.observe if self.migration is not None else None,
        )
        if journal is not None and identity is not None and stored != identity:
            # A new journal, one written before identities were kept, or a migration done.
            journal.set_meta(TOPOLOGY_KEY, identity)
        self.ivr = IvrAnswerer(
            network.topology,
            self.view,
            network.customers,
            network.locator,
            tz=tz,
            announcements=announcements,
            history=self._recent_outages,
        )
        #: Callers who pressed "text me when power is back" (notify subscribes to these).
        self.sms_requests: list[dict[str, Any]] = []
        self.metrics = Metrics(self.counters)
        self._audit_published = 0

    @property
    def durable(self) -> bool:
        """True when accepted signals survive a crash (journaled before the answer)."""
        return self.journal is not None

    @property
    def engine(self) -> Engine:
        """The engine (read it only under ``lock``)."""
        return self.host.engine

    def start(self) -> None:
        """Nothing to start: the journal was replayed when this runtime was made."""

    def close(self) -> None:
        """Nothing to close here: the journal's connections close with the process."""

    # -- writes -------------------------------------------------------------------------------

    def submit(self, messages: Iterable[Message]) -> SubmitResult:
        """Journal and apply a batch (see `EngineHost.submit`)."""
        with self.lock:
            result = self.host.submit(messages)
        self.metrics.count(result)
        return result

    def liveness(self) -> int:
        """The figure `/healthz` shows: signals applied (a plain read, never blocks)."""
        return self.host.engine.signals_applied

    def latest_event_seq(self) -> int:
        """The newest event sequence number (SSE ids never go beyond it)."""
        return self.host.event_seq

    def quarantined(self) -> list[dict[str, Any]]:
        """Messages the engine failed on, journaled as rejected (oldest first)."""
        with self.lock:
            return list(self.host.quarantined)

    def command_time(self) -> datetime:
        """When a command received now takes effect (`outage.api.clock.command_time`)."""
        return command_time(self.host.engine.now)

    def submit_command(
        self, check: Callable[[Command], str | None] | None = None, **fields: Any
    ) -> tuple[Command, SubmitResult]:
        """Stamp, journal and apply one officer command; ``check`` may refuse the stamped
        command (`SignalError` with its ``field: message``) before it is journaled."""
        with self.lock:
            command = Command(ts=self.command_time(), **fields)
            problem = check(command) if check is not None else None
            if problem is not None:
                raise SignalError("command", problem)
            return command, self.submit([command])

    def _on_event(self, seq: int, event: Event) -> None:
        self.view.apply(seq, event)
        if ev.ends_call(event):
            self.call_minutes[int(event.at.timestamp()) // 60] += 1
        self.stream.publish(seq, event.type, to_json(event))
        for listener in self.extra_listeners:
            listener(seq, event)

    def publish_playbook_audit(self, runner: Any) -> None:
        """Put playbook audit rows not yet published on the live stream (as ``PlaybookAudit``,
        without a sequence number: they live in the playbook audit log, not the journal)."""
        rows = runner.store.rows()
        fresh = [r for r in rows if r.seq > self._audit_published]
        for row in fresh:
            self.stream.publish(0, "PlaybookAudit", orjson.dumps(row.as_json()))
        if fresh:
            self._audit_published = fresh[-1].seq

    def _backlog(self, after: int, limit: int) -> list[Item]:
        assert self.journal is not None
        with self.lock:
            rows = self.journal.events(after, limit)
        return [(seq, kind, bytes(body)) for seq, kind, body in rows]

    # -- officer reads ------------------------------------------------------------------------

    def incidents(
        self,
        *,
        status: set[str] | None = None,
        feeder: str | None = None,
        substation: str | None = None,
        since: datetime | None = None,
        planned: bool | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Incidents matching the filters, newest first, without their call lists."""
        with self.lock:
            engine = self.host.engine
            topo = engine.topology
            chosen = [
                i
                for i in engine.incidents.values()
                if i.status != Status.MERGED
                and (status is None or i.status in status)
                and (feeder is None or topo.feeder_ids[i.feeder] == feeder)
                and (substation is None or topo.substation_ids[i.substation] == substation)
                and (since is None or i.started >= since)
                and (planned is None or i.planned == planned)
            ]
            chosen.sort(key=lambda i: (i.started, i.id), reverse=True)
            page = [_brief(incident_view(engine, i)) for i in chosen[offset : offset + limit]]
        return {"total": len(chosen), "offset": offset, "incidents": page}

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        """One incident with its calls, hazards, timeline and the commands given about it."""
        with self.lock:
            engine = self.host.engine
            incident = engine.incidents.get(incident_id)
            if incident is None:
                return None
            body = incident_view(engine, incident)
            topo = engine.topology
            body["calls"] = [
                {"call": c, "premise": topo.premise_ids[p]}
                for c, p in zip(incident.calls, incident.call_premises, strict=True)
            ]
            body["hazards"] = [t for t in engine.tickets if t.get("incident") == incident_id]
            body["children"] = [i.id for i in engine.incidents.values() if i.parent == incident_id]
            body["merged_from"] = [
                i.id for i in engine.incidents.values() if i.merged_into == incident_id
            ]
            body["merged_into"] = incident.merged_into  # where a vanished prediction's calls are
            body["commands"] = [
                a
                for a in self.host.audit
                if a.get("incident") == incident_id or a.get("into") == incident_id
            ]
        body["hazards"] = [
            {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in t.items()}
            for t in body["hazards"]
        ]
        return body

    def state(self) -> dict[str, Any]:
        """The whole snapshot (storm, indices, repeat outages)."""
        with self.lock:
            return snapshot(self.host.engine)

    def indices(self) -> dict[str, Any]:
        """IEEE 1366 reliability indices so far (customers counted once)."""
        with self.lock:
            return engine_indices(self.host.engine)[0]

    def repeat_outages(self) -> list[dict[str, Any]]:
        """Premises interrupted more than once in the period (the worst first 1,000)."""
        with self.lock:
            return engine_indices(self.host.engine)[1]

    def audit_trail(self) -> list[dict[str, Any]]:
        """Every officer command in journal order, with its outcome."""
        with self.lock:
            return list(self.host.audit)

    def restoration(self) -> dict[str, Any]:
        """Work orders, crews, substation ETRs, frequent-outage flags, follow-up answers."""
        with self.lock:
            return restoration_view(self.host.engine)

    def premise_history(self, premise: str) -> dict[str, Any] | None:
        """The premise's outages of the last days ("again?"), None for an unknown premise."""
        with self.lock:
            return self._recent_outages(premise)

    def _recent_outages(self, premise: str) -> dict[str, Any] | None:
        # The IVR calls this without the engine lock, as it reads its view: the history only
        # reads its dicts and lists (inserts by the engine thread never break those reads),
        # so an answer costs microseconds even mid-storm.
        engine = self.host.engine
        number = engine.topology.premise_index.get(premise)
        if number is None:
            return None
        return engine.restoration.outages.of_premise(number, engine.now or datetime.now(UTC))

    def storm(self) -> dict[str, Any]:
        """Storm status per scope, with the rule set in force.

        ``customers_out`` and ``open_incidents`` of each scope are counted now with the one
        definition of open (`outage.state.open_by_scope`), so the banner, the header and the
        board's list agree; ``measured`` keeps what the detector saw at its last evaluation
        (its thresholds count outermost incidents only)."""
        with self.lock:
            engine = self.host.engine
            detector = engine.storm
            live = open_by_scope(engine)
            scopes = {}
            for name in detector.scopes:
                view = detector.scope_view(name)
                now = live.get(name, {"customers_out": 0, "open_incidents": 0})
                view["measured"] = {
                    k: view[k] for k in ("customers_out", "open_incidents", "calls_per_hour")
                }
                scopes[name] = view | now
            return {
                "declared": detector.scopes[SYSTEM].declared_at is not None,
                "rule_set": engine.rule_set,
                "open_states": sorted(OPEN_STATES),
                "scopes": scopes,
                "history": [
                    {"scope": s, "declared": _iso(a), "stood_down": _iso(b)}
                    for s, a, b in detector.history
                ],
                "engine_time": _iso(engine.now),
                "last_event": self.stream.last_seq,
            }

    def public_summary(self) -> dict[str, Any]:
        """Customers out per substation and totals: safe for anonymous callers."""
        out: dict[str, int] = {}
        incidents = 0
        for summary in self.view.open_incidents():
            incidents += 1
            out[summary.substation] = out.get(summary.substation, 0) + summary.customers
        with self.lock:
            scopes = self.host.engine.storm.scopes
            served = {n: s.customers_served for n, s in scopes.items() if n != SYSTEM}
            storm = scopes[SYSTEM].declared_at is not None
        return {
            "customers_out": sum(out.values()),
            "customers_served": sum(served.values()),
            "open_outages": incidents,
            "storm_declared": storm,
            "substations": [
                {"substation": s, "customers_out": n, "customers_served": served.get(s, 0)}
                for s, n in sorted(out.items())
            ],
            "as_of": _iso(datetime.now(UTC)),
        }

    def call_rate(self, hours: float, bucket_minutes: int) -> dict[str, Any]:
        """Calls per clock-aligned bucket over the last ``hours`` of event time, against the
        baseline (see `outage.callrate`)."""
        with self.lock:
            engine = self.host.engine
            detector = engine.storm
            return call_rate_buckets(
                self.call_minutes,
                engine.now or datetime.now(UTC),
                hours,
                bucket_minutes,
                lambda at: detector.baseline_per_hour(SYSTEM, at),
            )

    def map_incidents(
        self, areas: Callable[[str, str, str], dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Open (`OPEN_STATES`), partially restored and scheduled incidents with their drawn
        areas; the last two are drawn on the map but not counted as open."""
        with self.lock:
            engine = self.host.engine
            rows = [
                _brief(incident_view(engine, i))
                for i in engine.incidents.values()
                if i.status in ON_MAP
            ]
            hazards: dict[str, list[dict[str, Any]]] = {}
            for ticket in engine.tickets:
                if ticket.get("priority") == "high" and (linked := ticket["incident"]):
                    hazards.setdefault(linked, []).append(
                        {
                            "ticket": ticket["ticket"],
                            "kind": ticket["kind"],
                            "premise": ticket["premise"],
                            "at": _iso(ticket.get("at")),
                        }
                    )
        for row in rows:
            row["area"] = areas(row["id"], *drawn_asset(row))
            row["hazard_tickets"] = hazards.get(row["id"], [])
        return rows

    def hazards(self) -> list[dict[str, Any]]:
        """Every hazard ticket (wire down, fire), oldest first, with the outage it belongs to
        now (followed through merges) and that outage's status.

        A hazard is *open* while its outage is not over (or, with no outage linked, always:
        someone has to go and look)."""
        with self.lock:
            engine = self.host.engine
            out = []
            for ticket in engine.tickets:
                if ticket.get("priority") != "high":
                    continue
                incident = engine.incidents.get(ticket.get("incident") or "")
                while incident is not None and incident.merged_into:
                    incident = engine.incidents.get(incident.merged_into)
                status = incident.status if incident is not None else None
                out.append(
                    {
                        "ticket": ticket["ticket"],
                        "kind": ticket["kind"],
                        "call": ticket["call"],
                        "premise": ticket["premise"],
                        "at": _iso(ticket.get("at")),
                        "incident": incident.id if incident is not None else None,
                        "incident_status": status,
                        "open": status is None or status not in DONE_STATES,
                    }
                )
        return out

    def counters(self) -> dict[str, float]:
        """Figures for /metrics (cheap reads; no lock needed for plain integers)."""
        engine = self.host.engine
        return {
            "incidents_open": float(len(self.view.open_incidents())),
            "calls_received": float(engine.calls_received),
            "calls_suppressed": float(engine.suppressed_total),
            "events_published": float(self.stream.published),
            "sse_subscribers": float(self.stream.subscribers),
            "quarantined": float(len(self.host.quarantined)),
        }


def _brief(view: dict[str, Any]) -> dict[str, Any]:
    """An incident for lists: counts instead of call and hazard lists."""
    return view | {"calls": len(view["calls"]), "hazards": len(view["hazards"])}
