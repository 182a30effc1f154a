"""What the HTTP routes need from a runtime: one typed surface, two backends.

`outage.api.runtime.Runtime` (the embedded engine host and its SQLite journal) and
`outage.redisstore.service.RedisRuntime` (an API worker reading Redis projections) both
satisfy `ServiceRuntime`; the routes, the app factory and ``outage serve`` see only this
protocol, so mypy holds both backends to every member a route reads — a member one backend
lacks is a type error here, not a 500 in production.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from threading import RLock
from typing import Any, Protocol

from outage.bootstrap import Network
from outage.commands import Command
from outage.host import Message, SubmitResult
from outage.ivr import IvrAnswerer
from outage.journal import SqliteJournal

from .metrics import Metrics
from .stream import EventStream


class EngineFigures(Protocol):
    """The engine figures routes read (event time, signals applied)."""

    @property
    def now(self) -> datetime | None:
        """The engine's event time (None before the first signal)."""

    @property
    def signals_applied(self) -> int:
        """Signals applied so far."""


class HostFigures(Protocol):
    """The engine host figures routes read."""

    @property
    def recovered_messages(self) -> int:
        """Journaled messages replayed at start-up."""

    @property
    def lagging(self) -> str | None:
        """Why accepted messages' events are not journaled yet, or None."""


class ServiceRuntime(Protocol):
    """The runtime surface of the HTTP service (see the module docstring)."""

    #: Keypad-2 "text me" requests this process took (the IVR's own record).
    sms_requests: list[dict[str, Any]]

    @property
    def network(self) -> Network:
        """The network served."""

    @property
    def journal(self) -> SqliteJournal | None:
        """The SQLite journal (None over Redis, whose streams are the journal)."""

    @property
    def lock(self) -> RLock:
        """Held by reads that must see one engine state."""

    @property
    def ivr(self) -> IvrAnswerer:
        """The IVR's answers."""

    @property
    def stream(self) -> EventStream:
        """The live event stream (SSE)."""

    @property
    def metrics(self) -> Metrics:
        """Prometheus figures."""

    @property
    def engine(self) -> EngineFigures:
        """Engine figures (`EngineFigures`)."""

    @property
    def host(self) -> HostFigures:
        """Host figures (`HostFigures`)."""

    @property
    def durable(self) -> bool:
        """Accepted messages survive a crash of this process."""

    def start(self) -> None:
        """Start background work (tailing the Redis event feed); after the app is made."""

    def close(self) -> None:
        """Stop it."""

    def submit(self, messages: Iterable[Message]) -> SubmitResult:
        """Accept a batch of signals and commands."""

    def submit_command(
        self, check: Callable[[Command], str | None] | None = None, **fields: Any
    ) -> tuple[Command, SubmitResult]:
        """Stamp and submit one officer command."""

    def command_time(self) -> datetime:
        """When a command received now takes effect."""

    def liveness(self) -> int | None:
        """The figure `/healthz` shows (never waits on a store)."""

    def latest_event_seq(self) -> int:
        """The newest event sequence number."""

    def quarantined(self) -> list[dict[str, Any]]:
        """Messages the engine failed on."""

    def publish_playbook_audit(self, runner: Any) -> None:
        """Put new playbook audit rows on the live stream."""

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
        """Incidents matching the filters, newest first."""

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        """One incident in full, or None."""

    def storm(self) -> dict[str, Any]:
        """Storm status per scope."""

    def public_summary(self) -> dict[str, Any]:
        """The anonymous public summary."""

    def call_rate(self, hours: float, bucket_minutes: int) -> dict[str, Any]:
        """Calls per bucket of event time."""

    def map_incidents(
        self, areas: Callable[[str, str, str], dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Incidents drawn on the map, with their areas."""

    def hazards(self) -> list[dict[str, Any]]:
        """Hazard tickets with their linked outage."""

    def restoration(self) -> dict[str, Any]:
        """Work orders, crews, substation ETRs, follow-ups."""

    def premise_history(self, premise: str) -> dict[str, Any] | None:
        """A premise's recent outages, or None for an unknown premise."""

    def indices(self) -> dict[str, Any]:
        """IEEE 1366 reliability indices so far."""

    def repeat_outages(self) -> list[dict[str, Any]]:
        """Premises interrupted more than once."""

    def audit_trail(self) -> list[dict[str, Any]]:
        """Every officer command with its outcome."""
