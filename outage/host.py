"""The engine with its journal: accept (journal first), apply, record events; recover on start.

`EngineHost` is what the CLI and the HTTP service drive. ``submit`` takes parsed messages,
journals the new ones, applies them to the engine and journals the events they caused. Opening
a host on an existing journal replays every journaled message, so the state after a crash is
the state before it.

What can happen to a message:

* **accepted** — journaled and applied;
* **duplicate** — its id was accepted before with the same content (a resend): nothing changes;
* **conflict** — its id was accepted before with *other* content: nothing changes, and the
  sender is told, because a plain "duplicate" would hide that the new content was dropped;
* **rejected** — it names something this network lacks;
* **quarantined** — journaled, but the engine raised on it. The engine is the one thing that
  must never stop: the message is journaled as rejected with the reason and never applied
  again (not on replay either), and the messages behind it go on. Only ``engine.handle`` and
  ``engine.finish`` are guarded; a failing journal is not the engine's fault and still raises.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from outage.commands import Command
from outage.engine import Engine
from outage.errors import JournalError
from outage.events import Event, to_json
from outage.journal import JournalCorrupt, SqliteJournal
from outage.signals import Signal, describe_validation_error, dump_signal
from outage.step import apply_message, encode_command

Message = Signal | Command
_MESSAGE: TypeAdapter[Message] = TypeAdapter(Message)
#: ``(seq, message, problem, events)`` for each message replayed: ``problem`` is what
#: `Engine.check_references` said before it was applied (a topology migration reports these).
ReplayObserver = Callable[[int, "Message", str | None, list[Event]], None]
log = logging.getLogger(__name__)


@dataclass
class SubmitResult:
    """What happened to each message of a batch."""

    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    #: commands journaled (audited) but refused by the engine: ``{"id", "error"}``.
    refused: list[dict[str, str]] = field(default_factory=list)
    #: ids accepted before with other content: ``{"id", "error"}`` (nothing was changed).
    conflicts: list[dict[str, str]] = field(default_factory=list)
    #: accepted (journaled) but the engine failed on them: ``{"id", "error"}``.
    quarantined: list[dict[str, str]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def encode(message: Message) -> bytes:
    """A message's journal body."""
    if isinstance(message, Command):
        return orjson.dumps(encode_command(message))
    return dump_signal(message)


def decode(body: bytes) -> Message:
    """A journal body back to its message."""
    return _MESSAGE.validate_json(body)


def content_digest(message: Message, body: bytes | None = None) -> str:
    """What makes two messages with one id the same message: a signal's canonical body
    (``body``, when its `encode` is at hand already); a command's fields except its id and the
    receipt time the service stamps on it (a retried request is stamped anew, yet is the same
    command)."""
    if isinstance(message, Command):
        body = orjson.dumps(
            message.model_dump(mode="json", exclude_none=True, exclude={"id", "ts"}),
            option=orjson.OPT_SORT_KEYS,
        )
    elif body is None:
        body = dump_signal(message)
    return hashlib.sha256(body).hexdigest()[:32]


def conflict_error(message: Message) -> str:
    """The ``field: message`` for an id reused with other content."""
    return (
        f"id: {message.id!r} was accepted before with different content; the new content "
        "was not applied (give a new message a new id)"
    )


class EngineHost:
    """An `Engine` made durable by a `SqliteJournal` (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        journal: SqliteJournal | None,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        listeners: Iterable[Callable[[int, Event], None]] = (),
        observe: ReplayObserver | None = None,
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
        #: Quarantined messages in journal order: ``{"seq", "id", "type", "reason", "at"}``.
        self.quarantined: list[dict[str, Any]] = []
        #: Failures of ``engine.finish`` (nothing to quarantine: no message caused them).
        self.faults: list[str] = []
        #: Events and quarantine rows applied but not yet journaled (the journal failed after
        #: their messages were): written with the next batch; a restart regenerates them.
        self._unwritten: list[tuple[int, int, str, bytes]] = []
        self._unwritten_quarantine: list[tuple[int, str, str]] = []
        self.unwritten_error: str | None = None
        #: Content digests by id, when there is no journal to keep them.
        self._digests: dict[str, str] = {}
        self._quarantined_ids: set[str] = set()
        if journal is not None:
            self._recover(journal, on_progress, observe)

    # -- recovery -----------------------------------------------------------------------------

    def _recover(
        self,
        journal: SqliteJournal,
        on_progress: Callable[[int, int], None] | None,
        observe: ReplayObserver | None,
    ) -> None:
        total = journal.message_count()
        written = journal.last_event_seq()
        known = {seq: (mid, reason, at) for seq, mid, reason, at in journal.quarantined()}
        missing: list[tuple[int, int, str, bytes]] = []
        fresh: list[tuple[int, str, str]] = []
        for number, (seq, body) in enumerate(journal.messages(), start=1):
            if seq in known:  # quarantined before: never applied again
                mid, reason, at = known[seq]
                self._remember_quarantine(seq, mid, _type_of(body), reason, at)
                continue
            try:
                message = decode(body)
            except ValidationError as exc:
                reason = self._undecodable(journal, seq, body, exc)
                mid = _id_of(body)
                fresh.append((seq, mid, reason))
                self._remember_quarantine(seq, mid, _type_of(body), reason)
                continue
            problem = self.engine.check_references(message) if observe is not None else None
            events, _, failure = self._apply(message)
            if failure is not None:
                fresh.append((seq, message.id, failure))
                self._remember_quarantine(seq, message.id, message.type, failure)
            for event in events:
                self.event_seq += 1
                if self.event_seq > written:  # the crash came between messages and events
                    missing.append((self.event_seq, seq, event.type, to_json(event)))
                for listener in self.listeners:
                    listener(self.event_seq, event)
            if observe is not None:
                observe(seq, message, problem, events)
            if on_progress is not None and number % 5000 == 0:
                on_progress(number, total)
        if missing or fresh:
            journal.append_events(missing, fresh)
        self.recovered_messages = total

    def _undecodable(
        self, journal: SqliteJournal, seq: int, body: bytes, exc: ValidationError
    ) -> str:
        """Why a journaled body is quarantined on replay; `JournalCorrupt` when it is not
        even JSON (damage, not an old message the current rules refuse)."""
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            raise JournalCorrupt(
                f"{journal.path}: journal is corrupt at message {seq}: its body is not JSON; "
                "move the file aside and restore it from a backup"
            ) from None
        return f"quarantined on replay: {describe_validation_error(exc)}"

    # -- writes -------------------------------------------------------------------------------

    def submit(self, messages: Iterable[Message]) -> SubmitResult:
        """Journal, apply and record a batch; returns per-message outcomes and the events."""
        result = SubmitResult()
        fresh: list[tuple[Message, str, bytes]] = []
        here: dict[str, str] = {}  # id -> digest of the first message with it in this batch
        seen_before: list[tuple[Message, str]] = []
        for message in messages:
            problem = self.engine.check_references(message)
            if problem is not None:
                result.rejected.append({"id": message.id, "error": problem})
                continue
            body = encode(message)
            digest = content_digest(message, body)
            if message.id in here:
                self._repeat(result, message, here[message.id] == digest)
            elif self.engine.seen_message(message) or message.id in self._quarantined_ids:
                seen_before.append((message, digest))
            else:
                here[message.id] = digest
                fresh.append((message, digest, body))
        sequence: list[int | None]
        if self.journal is not None:
            sequence = self.journal.append_messages([(m.id, b, d) for m, d, b in fresh])
        else:
            sequence = list(range(1, len(fresh) + 1))
            self._digests.update((m.id, d) for m, d, _ in fresh)
        applied: list[tuple[Message, int]] = []
        for (message, digest, _), seq in zip(fresh, sequence, strict=True):
            if seq is None:  # journaled by an earlier run the engine has not seen
                seen_before.append((message, digest))
            else:
                applied.append((message, seq))
        self._settle_repeats(result, seen_before)
        journaled: list[tuple[int, int, str, bytes]] = []
        quarantine: list[tuple[int, str, str]] = []
        for message, seq in applied:
            result.accepted.append(message.id)
            events, refusal, failure = self._apply(message)
            if refusal is not None:
                result.refused.append({"id": message.id, "error": refusal})
            if failure is not None:
                result.quarantined.append({"id": message.id, "error": failure})
                quarantine.append((seq, message.id, failure))
                self._remember_quarantine(seq, message.id, message.type, failure)
            for event in events:
                self.event_seq += 1
                result.events.append(event)
                journaled.append((self.event_seq, seq, event.type, to_json(event)))
                for listener in self.listeners:
                    listener(self.event_seq, event)
        self._write_derived(journaled, quarantine)
        return result

    def _repeat(self, result: SubmitResult, message: Message, same: bool) -> None:
        if same:
            result.duplicates.append(message.id)
        else:
            result.conflicts.append({"id": message.id, "error": conflict_error(message)})

    def _settle_repeats(self, result: SubmitResult, repeats: list[tuple[Message, str]]) -> None:
        """Duplicates (same content as what was accepted) or conflicts (other content)."""
        if not repeats:
            return
        stored: dict[str, str | None] = {}
        if self.journal is not None:
            for mid, (digest, body) in self.journal.digests([m.id for m, _ in repeats]).items():
                stored[mid] = digest or _digest_of_body(body)
        else:
            stored = {m.id: self._digests.get(m.id) for m, _ in repeats}
        for message, digest in repeats:
            # An id we cannot compare (none stored) is the resend it most likely is.
            self._repeat(result, message, stored.get(message.id) in (None, digest))

    def _write_derived(
        self, events: list[tuple[int, int, str, bytes]], quarantine: list[tuple[int, str, str]]
    ) -> None:
        """Journal a batch's events and quarantine rows. The batch's messages are journaled
        and applied already, so a failure here must not turn into "not accepted": the rows
        wait for the next batch (and a restart regenerates them from the messages anyway)."""
        self._unwritten += events
        self._unwritten_quarantine += quarantine
        if self.journal is None or not (self._unwritten or self._unwritten_quarantine):
            self._unwritten, self._unwritten_quarantine = [], []
            return
        try:
            self.journal.append_events(self._unwritten, self._unwritten_quarantine)
        except JournalError as exc:
            self.unwritten_error = str(exc)
            log.error("%s (%d events wait for the next batch)", exc, len(self._unwritten))
            return
        self._unwritten, self._unwritten_quarantine, self.unwritten_error = [], [], None

    @property
    def lagging(self) -> str | None:
        """Why events of accepted messages are not journaled yet, or None."""
        if not self._unwritten and not self._unwritten_quarantine:
            return None
        return f"{len(self._unwritten)} events not yet journaled ({self.unwritten_error})"

    def _apply(self, message: Message) -> tuple[list[Event], str | None, str | None]:
        """The message's events, why a command was refused, and why it was quarantined
        (None when it applied): `outage.step.apply_message`, audited here."""
        applied = apply_message(self.engine, message)
        if applied.audit is not None:
            self.audit.append(applied.audit)
        return applied.events, applied.refusal, applied.failure

    def _remember_quarantine(
        self, seq: int, message_id: str, kind: str, reason: str, at: str | None = None
    ) -> None:
        self._quarantined_ids.add(message_id)
        at = at or datetime.now(UTC).isoformat()
        self.quarantined.append(
            {"seq": seq, "id": message_id, "type": kind, "reason": reason, "at": at}
        )

    def finish(self) -> list[Event]:
        """Run the engine's timers to its current time (end of a replay)."""
        try:
            return self.engine.finish()
        except Exception as exc:  # guarded like `Engine.handle`; no message to quarantine
            log.exception("the engine failed to finish")
            self.faults.append(f"finish: {type(exc).__name__}: {exc}"[:500])
            return []


def _digest_of_body(body: bytes) -> str:
    """The content digest of a journaled body written before digests were kept."""
    try:
        return content_digest(decode(body))
    except ValidationError:
        return hashlib.sha256(body).hexdigest()[:32]


def _id_of(body: bytes) -> str:
    """The id a journaled body names, even when it no longer validates."""
    try:
        value = orjson.loads(body).get("id")
    except (orjson.JSONDecodeError, AttributeError):
        return "?"
    return value if isinstance(value, str) else "?"


def _type_of(body: bytes) -> str:
    try:
        value = orjson.loads(body).get("type")
    except (orjson.JSONDecodeError, AttributeError):
        return "?"
    return value if isinstance(value, str) else "?"
