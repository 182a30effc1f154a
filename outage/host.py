"""The engine with its journal: accept (journal first), apply, record events; recover on start.

`EngineHost` is what the CLI and the HTTP service drive. ``submit`` takes parsed messages,
journals the new ones (duplicates by id are reported, not applied), applies them to the engine
and journals the events they caused. Opening a host on an existing journal replays every
journaled message, so the state after a crash is the state before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import TypeAdapter

from outage.commands import Command
from outage.engine import Engine
from outage.errors import CommandRejected
from outage.events import Event, to_json
from outage.journal import SqliteJournal
from outage.signals import Signal, dump_signal

Message = Signal | Command
_MESSAGE: TypeAdapter[Message] = TypeAdapter(Message)  # type: ignore[arg-type]


@dataclass
class SubmitResult:
    """What happened to each message of a batch."""

    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    #: commands journaled (audited) but refused by the engine: ``{"id", "error"}``.
    refused: list[dict[str, str]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def encode_command(command: Command) -> dict[str, Any]:
    """A command as plain JSON data (journal body and audit record)."""
    return command.model_dump(mode="json", exclude_none=True)


def encode(message: Message) -> bytes:
    """A message's journal body."""
    if isinstance(message, Command):
        return orjson.dumps(encode_command(message))
    return dump_signal(message)


def decode(body: bytes) -> Message:
    """A journal body back to its message."""
    return _MESSAGE.validate_json(body)


class EngineHost:
    """An `Engine` made durable by a `SqliteJournal` (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        journal: SqliteJournal | None,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        listeners: Iterable[Callable[[int, Event], None]] = (),
    ) -> None:
        self.engine = engine
        self.journal = journal
        self.event_seq = 0
        self.recovered_messages = 0
        #: Called with ``(event_seq, event)`` for every event, recovered ones included, so
        #: read views built from events come back after a restart.
        self.listeners: list[Callable[[int, Event], None]] = list(listeners)
        #: Every officer command in journal order, with its outcome (the audit trail).
        self.audit: list[dict[str, Any]] = []
        if journal is not None:
            self._recover(journal, on_progress)

    def _recover(
        self, journal: SqliteJournal, on_progress: Callable[[int, int], None] | None
    ) -> None:
        total = journal.message_count()
        written = journal.last_event_seq()
        missing: list[tuple[int, int, str, bytes]] = []
        for number, (seq, body) in enumerate(journal.messages(), start=1):
            events, _ = self._apply(decode(body))
            for event in events:
                self.event_seq += 1
                if self.event_seq > written:  # the crash came between messages and events
                    missing.append((self.event_seq, seq, event.type, to_json(event)))
                for listener in self.listeners:
                    listener(self.event_seq, event)
            if on_progress is not None and number % 5000 == 0:
                on_progress(number, total)
        if missing:
            journal.append_events(missing)
        self.recovered_messages = total

    def submit(self, messages: Iterable[Message]) -> SubmitResult:
        """Journal, apply and record a batch; returns per-message outcomes and the events."""
        batch = list(messages)
        result = SubmitResult()
        fresh: list[Message] = []
        seen_here: set[str] = set()
        for message in batch:
            problem = self.engine.check_references(message)
            if problem is not None:
                result.rejected.append({"id": message.id, "error": problem})
            elif self.engine.seen_message(message) or message.id in seen_here:
                result.duplicates.append(message.id)
            else:
                seen_here.add(message.id)
                fresh.append(message)
        sequence: list[int | None]
        if self.journal is not None:
            sequence = self.journal.append_messages((m.id, encode(m)) for m in fresh)
        else:
            sequence = list(range(1, len(fresh) + 1))
        journaled: list[tuple[int, int, str, bytes]] = []
        for message, seq in zip(fresh, sequence, strict=True):
            if seq is None:
                result.duplicates.append(message.id)
                continue
            result.accepted.append(message.id)
            events, refusal = self._apply(message)
            if refusal is not None:
                result.refused.append({"id": message.id, "error": refusal})
            for event in events:
                self.event_seq += 1
                result.events.append(event)
                journaled.append((self.event_seq, seq, event.type, to_json(event)))
                for listener in self.listeners:
                    listener(self.event_seq, event)
        if self.journal is not None and journaled:
            self.journal.append_events(journaled)
        return result

    def _apply(self, message: Message) -> tuple[list[Event], str | None]:
        """The message's events, and why a command was refused (None when it applied)."""
        try:
            events = self.engine.handle(message)
        except CommandRejected as exc:
            # Journaled and audited, but it changes nothing (and nothing on replay either).
            events, refusal = [], str(exc)
        else:
            refusal = None
        if isinstance(message, Command):
            self.audit.append(
                encode_command(message)
                | {"outcome": "refused" if refusal else "applied"}
                | ({"error": refusal} if refusal else {})
            )
        return events, refusal

    def finish(self) -> list[Event]:
        """Run the engine's timers to its current time (end of a replay)."""
        return self.engine.finish()
