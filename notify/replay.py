"""Events back from the engine's journal, for `Notifier.catch_up` after a restart.

`EngineHost` journals every event as ``to_json`` with its sequence number; a notifier that is
subscribed only after the engine recovered reads the events after its high-water mark from
the journal instead. Decoding is `outage.events.from_dict`, shared with the service and the
playbooks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import orjson

from outage import events as ev


class EventSource(Protocol):
    """What `SqliteJournal` offers: ``events(after, limit) -> [(seq, type, body)]``."""

    def events(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, str, bytes]]: ...


def decode_event(body: bytes | str) -> ev.Event:
    """One ``to_json`` body back to its event; `ValueError` names an unknown type or field."""
    raw: dict[str, Any] = orjson.loads(body)
    return ev.from_dict(str(raw.get("type")), raw)


def journal_events(source: EventSource, after: int, *, batch: int = 10_000) -> Iterator[
    tuple[int, ev.Event]
]:
    """``(seq, event)`` for every journaled event after ``after``, in order."""
    while True:
        rows = source.events(after, batch)
        if not rows:
            return
        for seq, _type, body in rows:
            yield seq, decode_event(body)
            after = seq
