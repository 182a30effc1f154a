"""The global event feed: every domain event once, numbered for SSE resume.

Engine workers relay each partition's events into one stream whose entry ids are
``<seq>-0`` (`keys.RELAY`), so the SSE ``Last-Event-ID`` is the same integer on every API
worker. `EventFeed.backlog` reads a range for a reconnecting client; `EventFeed.follow` tails
the stream and hands events to a publisher (the API worker's in-process SSE fan-out).
Notifiers and playbooks can read the same stream with their own cursor or consumer group.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from . import replies
from .connect import Client, unavailable
from .errors import StoreUnavailable
from .keys import Keyspace

log = logging.getLogger(__name__)
#: One event on the wire: (sequence number, event type, JSON body).
Item = tuple[int, str, bytes]


class EventFeed:
    """Reads the global event stream (see the module docstring)."""

    def __init__(self, client: Client, keys: Keyspace | None = None) -> None:
        self.client = client
        self.keys = keys or Keyspace()

    def backlog(self, after: int, limit: int) -> list[Item]:
        """Up to ``limit`` events with sequence numbers after ``after``, in order."""
        with unavailable("event feed"):
            rows = self.client.xrange(self.keys.events_stream, f"{after + 1}-0", "+", count=limit)
        return [_item(entry_id, fields) for entry_id, fields in replies.entries(rows)]

    def last_seq(self) -> int:
        """The newest sequence number (0 before any event)."""
        with unavailable("event feed"):
            raw = self.client.get(self.keys.events_seq)
        return int(raw) if raw else 0

    def follow(
        self,
        publish: Callable[[int, str, bytes], None],
        stop: threading.Event,
        after: int | None = None,
        block_ms: int = 500,
    ) -> None:
        """Hand every event after ``after`` (default: from now on) to ``publish`` until
        ``stop``; rides out Redis restarts by resuming from the last sequence handed on."""
        last = self.last_seq() if after is None else after
        while not stop.is_set():
            try:
                with unavailable("event feed"):
                    reply = replies.streams(
                        self.client.xread(
                            {self.keys.events_stream: f"{last}-0"}, count=1000, block=block_ms
                        )
                    )
            except StoreUnavailable as exc:
                log.warning("%s; retrying", exc)
                stop.wait(0.5)
                continue
            for _, rows in reply or []:
                for entry_id, fields in rows:
                    seq, kind, body = _item(entry_id, fields)
                    publish(seq, kind, body)
                    last = seq


def _item(entry_id: bytes, fields: dict[bytes, bytes]) -> Item:
    return int(entry_id.split(b"-")[0]), fields[b"type"].decode(), fields[b"body"]
