"""Catch an event consumer up from the journal: the one way every consumer does it.

A consumer (notify's `Notifier`, the `PlaybookRunner`) keeps a high-water mark of the last
event sequence it handled and ignores anything at or below it. After a restart, or when it is
subscribed only after the engine recovered, it is handed every journaled event after that
mark, in order::

    follow(journal, notifier)     # -> how many events it was handed

(`outage serve` does not need this: its engine calls the consumers' pumps while it replays the
journal, and the marks skip what was handled before. The Redis backend's `FeedFollower` tails
the global feed from the same marks.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from outage.events import Event, from_json


class EventSource(Protocol):
    """What `outage.journal.SqliteJournal` offers: ``events(after, limit)``."""

    def events(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, str, bytes]]: ...


class Subscriber(Protocol):
    """A consumer with a high-water mark."""

    @property
    def high_water(self) -> int: ...

    def on_event(self, seq: int, event: Event) -> object: ...


def journal_events(
    source: EventSource, after: int, *, batch: int = 10_000
) -> Iterator[tuple[int, Event]]:
    """``(seq, event)`` for every journaled event after ``after``, in order, read ``batch`` at
    a time."""
    while True:
        rows = source.events(after, batch)
        if not rows:
            return
        for seq, kind, body in rows:
            yield seq, from_json(kind, body)
            after = seq


def follow(source: EventSource, subscriber: Subscriber, *, batch: int = 10_000) -> int:
    """Hand ``subscriber`` every journaled event after its high-water mark; returns how many."""
    handed = 0
    for seq, event in journal_events(source, subscriber.high_water, batch=batch):
        subscriber.on_event(seq, event)
        handed += 1
    return handed
