"""Events back from the engine's journal, for `Notifier.catch_up` after a restart.

`EngineHost` journals every event as ``to_json`` with its sequence number but, while it
recovers, calls no listeners; so a notifier that was behind when the process died reads the
events after its high-water mark from the journal instead. This is the only place that turns
the wire shape back into `outage.events` dataclasses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

import orjson

from outage import events as ev

_CLASSES: dict[str, type[ev.Event]] = {
    name: value
    for name, value in vars(ev).items()
    if isinstance(value, type) and issubclass(value, ev.Event) and value is not ev.Event
}


class EventSource(Protocol):
    """What `SqliteJournal` offers: ``events(after, limit) -> [(seq, type, body)]``."""

    def events(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, str, bytes]]: ...


def decode_event(body: bytes | str) -> ev.Event:
    """One ``to_json`` body back to its event; `ValueError` names an unknown type or field."""
    raw: dict[str, Any] = orjson.loads(body)
    name = raw.pop("type", None)
    cls = _CLASSES.get(str(name))
    if cls is None:
        raise ValueError(f"type: unknown event type {name!r}")
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.name not in raw:
            raise ValueError(f"{name}.{field.name}: missing")
        value = raw[field.name]
        kind = str(field.type)
        if isinstance(value, str) and "datetime" in kind:
            value = datetime.fromisoformat(value)
        elif isinstance(value, list) and "tuple" in kind:
            value = tuple(value)
        values[field.name] = value
    return cls(**values)


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
