"""Fan-out of domain events to Server-Sent-Event subscribers.

The engine writes in a worker thread; subscribers live on the event loop. `publish` hands each
event to every subscriber's queue through ``call_soon_threadsafe``. A bounded ring of recent
events lets a reconnecting dashboard resume from ``Last-Event-ID``; anything older is read back
from the journal. A subscriber that falls too far behind is cut off rather than allowed to
grow without bound — its browser reconnects and resumes from the last id it saw.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

#: One event on the wire: (sequence number, event type, JSON body).
Item = tuple[int, str, bytes]


@dataclass(eq=False)
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Item | None]
    types: frozenset[str] | None


class EventStream:
    """Thread-safe publisher, asyncio subscribers (see the module docstring)."""

    def __init__(
        self,
        *,
        capacity: int = 20_000,
        queue_size: int = 50_000,
        backlog: Callable[[int, int], list[Item]] | None = None,
    ) -> None:
        self._recent: deque[Item] = deque(maxlen=capacity)
        self._subscribers: set[_Subscriber] = set()
        self._lock = threading.Lock()
        self._queue_size = queue_size
        self._backlog = backlog
        self.published = 0

    @property
    def last_seq(self) -> int:
        """The newest published sequence number (0 before any)."""
        return self._recent[-1][0] if self._recent else 0

    def publish(self, seq: int, kind: str, body: bytes) -> None:
        """Hand an event to every subscriber (called from the engine's thread); ``seq`` 0 marks
        a live-only notice that is not replayed on resume."""
        item = (seq, kind, body)
        with self._lock:
            if seq:  # sequence 0: a live-only notice (no resume), not kept in the ring
                self._recent.append(item)
            self.published += 1
            subscribers = list(self._subscribers)
        for sub in subscribers:
            if sub.types is None or kind in sub.types:
                sub.loop.call_soon_threadsafe(self._offer, sub, item)

    def _offer(self, sub: _Subscriber, item: Item) -> None:
        if sub.queue.full():
            self._drop(sub)
            sub.queue.get_nowait()  # make room for the end-of-stream marker
            sub.queue.put_nowait(None)
            return
        sub.queue.put_nowait(item)

    def _drop(self, sub: _Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    async def subscribe(
        self, after: int = 0, types: frozenset[str] | None = None
    ) -> AsyncIterator[Item]:
        """Events after sequence ``after`` (history first, then live), optionally by type."""
        sub = _Subscriber(asyncio.get_running_loop(), asyncio.Queue(self._queue_size), types)
        with self._lock:
            self._subscribers.add(sub)
            history = [item for item in self._recent if item[0] > after]
            oldest = self._recent[0][0] if self._recent else self.last_seq + 1
        try:
            sent = after
            if after + 1 < oldest and self._backlog is not None:
                # Older than the ring holds: read the gap back from the journal.
                while sent + 1 < oldest:
                    chunk = [i for i in self._backlog(sent, 5000) if i[0] < oldest]
                    if not chunk:
                        break
                    for item in chunk:
                        if types is None or item[1] in types:
                            yield item
                    sent = chunk[-1][0]
            for item in history:
                if item[0] > sent and (types is None or item[1] in types):
                    yield item
                    sent = item[0]
            while True:
                live = await sub.queue.get()
                if live is None:
                    return
                if live[0] == 0:
                    yield live
                elif live[0] > sent:
                    yield live
                    sent = live[0]
        finally:
            self._drop(sub)

    @property
    def subscribers(self) -> int:
        """How many clients are listening."""
        return len(self._subscribers)
