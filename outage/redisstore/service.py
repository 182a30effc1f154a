"""`RedisRuntime`: what ``outage serve --store redis://...`` runs instead of `Runtime`.

The same public surface as `outage.api.runtime.Runtime`, for a *stateless* API worker: writes
go to partition streams (`RedisIntake`), reads come from the Redis projections
(`RedisViews`, `RedisIvrAnswerer`), and the SSE stream is fed by tailing the global event feed
(`EventFeed`) — so any number of API workers serve one truth while ``outage worker`` processes
apply the signals. Differences a caller can see:

* ``submit`` answers once signals are *stored* in Redis; ``SubmitResult.events`` is empty (the
  events reach the SSE stream moments later, from the engine workers).
* ``submit_command`` waits (up to ``command_timeout_s``) for the owning partition's engine to
  apply the command, so officers still get 409 for a refused command and see its events.
* Every method raises `StoreUnavailable` when Redis cannot be reached (map it to 503).
* ``journal`` is None (Redis is the journal) and ``state()`` is not offered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from outage.api.clock import command_time
from outage.api.metrics import Metrics
from outage.api.stream import EventStream
from outage.bootstrap import Network, build_engine
from outage.commands import Command
from outage.errors import SignalError
from outage.events import from_json
from outage.host import Message, SubmitResult
from outage.indices import indices_of, outages_of_rows
from outage.ivr import Announcements
from outage.rules import Rules
from outage.state import indices_view

from .connect import Client
from .errors import StoreError
from .feed import EventFeed
from .intake import RedisIntake
from .ivr import RedisIvrAnswerer
from .keys import Keyspace
from .views import RedisViews

#: Latest feed events an API worker puts in its SSE ring at start-up.
PRIME = 1000


@dataclass
class EngineFigures:
    """Stands in for ``Runtime.engine`` where routes read a figure (``now``,
    ``signals_applied``): read from the projections on each access."""

    views: RedisViews
    #: The latest ``signals_applied`` read (for `/healthz`, which must not wait on Redis).
    last_applied: int | None = None

    @property
    def now(self) -> datetime | None:
        """The latest event time any partition engine has reached."""
        engine_time = self.views.storm()["engine_time"]
        return datetime.fromisoformat(engine_time) if engine_time else None

    @property
    def signals_applied(self) -> int:
        """Messages applied by all engine workers."""
        self.last_applied = int(self.views.counters().get("signals_applied", 0))
        return self.last_applied


@dataclass
class _Host:
    recovered_messages: int = 0  # nothing to recover in an API worker
    lagging: str | None = None  # nothing journaled here


def _no_area(incident: str, level: str, asset: str) -> dict[str, Any]:
    return {}


class RedisRuntime:
    """The `Runtime` surface over Redis (see the module docstring)."""

    def __init__(
        self,
        network: Network,
        client: Client,
        *,
        rules: Rules | None = None,
        tz: str = "Asia/Shanghai",
        announcements: Announcements | None = None,
        keys: Keyspace | None = None,
        command_timeout_s: float = 10.0,
    ) -> None:
        self.network = network
        self.client = client
        self.keys = keys or Keyspace()
        self.journal = None
        self.rules = rules or Rules()
        self.lock = threading.RLock()
        self.intake = RedisIntake(client, network, self.keys)
        storm = build_engine(network, rules).storm  # only for the hourly call baseline
        self.views = RedisViews(client, self.intake.router, self.keys, storm)
        self.view = self.views
        self.ivr = RedisIvrAnswerer(
            self.views,
            network.customers,
            network.locator,
            tz=tz,
            announcements=announcements,
            history=self.premise_history,
        )
        self.feed = EventFeed(client, self.keys)
        self.stream = EventStream(backlog=self.feed.backlog)
        self.engine = EngineFigures(self.views)
        self.host = _Host()
        self.sms_requests: list[dict[str, Any]] = []
        self.metrics = Metrics(self.counters)
        self.command_timeout_s = command_timeout_s
        self._audit_published = 0
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        self._refresh_lock = threading.Lock()
        self._refreshing = False
        self._refreshed = 0.0

    @property
    def durable(self) -> bool:
        """Accepted signals are stored in Redis before the answer (durable as Redis's AOF)."""
        return True

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start tailing the global event feed into the SSE stream (call at app start-up).

        The stream's ring is primed with the feed's latest events first, as the embedded
        runtime's is by its journal replay: a client resuming from an older ``Last-Event-ID``
        is then served the gap from the feed (`EventFeed.backlog`) rather than only what
        happens from now on."""
        if self._follower is None:
            after = self.feed.last_seq()
            if after:
                for item in self.feed.backlog(max(0, after - PRIME), min(after, PRIME)):
                    self.stream.publish(*item)
            self._follower = threading.Thread(
                target=self.feed.follow,
                args=(self.stream.publish, self._stop, after),
                name="redis-event-feed",
                daemon=True,
            )
            self._follower.start()

    def close(self) -> None:
        """Stop the feed follower and close the client."""
        self._stop.set()
        if self._follower is not None:
            self._follower.join(5)
        self.client.close()

    # -- writes ---------------------------------------------------------------------------------

    def submit(self, messages: Iterable[Message]) -> SubmitResult:
        """Store a batch in the partition streams (see `RedisIntake.submit`)."""
        result = self.intake.submit(messages)
        self.metrics.count(result)
        return result

    def liveness(self) -> int | None:
        """The figure `/healthz` shows: the last ``signals_applied`` read — never a Redis
        round trip on the caller's time, so liveness holds while Redis hangs. A fresh read is
        started in the background (one at a time, at most once a second) for the next call."""
        now = time.monotonic()
        with self._refresh_lock:
            start = not self._refreshing and now - self._refreshed >= 1.0
            self._refreshing = self._refreshing or start
        if start:
            threading.Thread(target=self._refresh, name="liveness-refresh", daemon=True).start()
        return self.engine.last_applied

    def _refresh(self) -> None:
        try:
            _ = self.engine.signals_applied  # the read stores the figure
        except StoreError:
            pass  # Redis down: /readyz says so; liveness keeps the last figure
        finally:
            with self._refresh_lock:
                self._refreshing, self._refreshed = False, time.monotonic()

    def latest_event_seq(self) -> int:
        """The newest sequence on the global event feed (what any API worker may have sent)."""
        return self.feed.last_seq()

    def quarantined(self) -> list[dict[str, Any]]:
        """Messages the engine workers quarantined, by partition (see `RedisViews`)."""
        return self.views.quarantined()

    def command_time(self) -> datetime:
        """When a command received now takes effect (`outage.api.clock.command_time`)."""
        return command_time(self.engine.now)

    def submit_command(
        self, check: Callable[[Command], str | None] | None = None, **fields: Any
    ) -> tuple[Command, SubmitResult]:
        """Stamp and store one officer command (``check`` may refuse it first: `SignalError`),
        then wait for its engine's verdict."""
        command = Command(ts=self.command_time(), **fields)
        problem = check(command) if check is not None else None
        if problem is not None:
            raise SignalError("command", problem)
        stored = self.intake.submit([command])
        result = SubmitResult(duplicates=stored.duplicates, conflicts=stored.conflicts)
        if not stored.accepted:
            return command, result
        result.accepted = stored.accepted
        deadline = time.monotonic() + self.command_timeout_s
        pending = set(self.intake.router.route(command))
        while pending:
            for partition in sorted(pending):
                outcome = self.views.command_outcome(partition, command.id)
                if outcome is None:
                    continue
                pending.discard(partition)
                error = outcome.get("error") or ""  # set for each outcome reported below
                if outcome["outcome"] == "rejected":
                    result.rejected.append({"id": command.id, "error": error})
                elif outcome["outcome"] == "refused":
                    result.refused.append({"id": command.id, "error": error})
                elif outcome["outcome"] == "quarantined":
                    result.quarantined.append({"id": command.id, "error": error})
                for raw in outcome["events"]:
                    body = raw.encode()
                    result.events.append(from_json(orjson.loads(body)["type"], body))
            if pending:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"command {command.id}: stored, but no engine worker applied it within "
                        f"{self.command_timeout_s:g} s (are `outage worker` processes running?)"
                    )
                time.sleep(0.02)
        if result.rejected:  # the engine never took it: not an accepted command
            result.accepted = []
        return command, result

    def publish_playbook_audit(self, runner: Any) -> None:
        """Put playbook audit rows not yet published on this worker's live stream."""
        rows = runner.store.rows()
        fresh = [r for r in rows if r.seq > self._audit_published]
        for row in fresh:
            self.stream.publish(0, "PlaybookAudit", orjson.dumps(row.as_json()))
        if fresh:
            self._audit_published = fresh[-1].seq

    # -- reads (the `Runtime` shapes) -----------------------------------------------------------

    def incidents(self, **filters: Any) -> dict[str, Any]:
        """See `RedisViews.incidents`."""
        return self.views.incidents(**filters)

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        """See `RedisViews.incident`."""
        return self.views.incident(incident_id)

    def storm(self) -> dict[str, Any]:
        """See `RedisViews.storm`."""
        return self.views.storm()

    def public_summary(self) -> dict[str, Any]:
        """See `RedisViews.public_summary`."""
        return self.views.public_summary()

    def call_rate(self, hours: float, bucket_minutes: int) -> dict[str, Any]:
        """See `RedisViews.call_rate`."""
        return self.views.call_rate(hours, bucket_minutes)

    def map_incidents(
        self, areas: Callable[[str, str, str], dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """See `RedisViews.map_incidents`."""
        return self.views.map_incidents(areas)

    def hazards(self) -> list[dict[str, Any]]:
        """Hazard tickets of the incidents on the map (the Redis store keeps hazards only
        with their open incidents): each open, with its incident and that one's status."""
        return [
            hazard | {"incident": row["id"], "incident_status": row["status"], "open": True}
            for row in self.views.map_incidents(_no_area)
            for hazard in row["hazard_tickets"]
        ]

    def indices(self) -> dict[str, Any]:
        """IEEE 1366 indices from every partition's incidents, over the engines' period
        (customers are in one partition each, so nothing is counted twice)."""
        return self._indices()[0]

    def repeat_outages(self) -> list[dict[str, Any]]:
        """Premises interrupted more than once (see `indices`)."""
        return self._indices()[1]

    def _indices(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        topo = self.network.topology
        start, end = self.views.period()
        computed = None
        if start is not None and end is not None and end > start:
            computed = indices_of(
                topo,
                outages_of_rows(topo, self.views.briefs()),
                start,
                end,
                momentary_minutes=self.rules.normal.momentary_minutes,
            )
        return indices_view(topo, computed, start, end)

    def audit_trail(self) -> list[dict[str, Any]]:
        """Every officer command with its outcome, from the partitions (`RedisViews.audit`)."""
        return self.views.audit()

    def restoration(self) -> dict[str, Any]:
        """See `RedisViews.restoration`."""
        return self.views.restoration()

    def premise_history(self, premise: str) -> dict[str, Any] | None:
        """See `RedisViews.premise_history`."""
        return self.views.premise_history(premise, self.rules.restoration)

    def counters(self) -> dict[str, float]:
        """Figures for /metrics: the partitions' counters plus this worker's stream."""
        figures = self.views.counters()
        return {
            "incidents_open": figures.get("incidents_open", 0.0),
            "calls_received": figures.get("calls_received", 0.0),
            "calls_suppressed": figures.get("calls_suppressed", 0.0),
            "events_published": float(self.stream.published),
            "sse_subscribers": float(self.stream.subscribers),
            "quarantined": figures.get("quarantined", 0.0),
        }
