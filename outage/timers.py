"""Event-time timers: things the engine must do when event time reaches a moment.

Planned work starts and ends, restored incidents auto-close. Timers fire in time order (then in
the order they were set) as signals move event time forward; nothing reads the wall clock.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime


class Timers:
    """A heap of (moment, action, incident id)."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, str, str]] = []
        self._seq = 0

    def schedule(self, at: datetime, action: str, incident: str) -> None:
        """Do ``action`` for ``incident`` when event time reaches ``at``."""
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, action, incident))

    def next_at(self) -> datetime | None:
        """When the next timer is due (None when none is set)."""
        return self._heap[0][0] if self._heap else None

    def pop_due(self, at: datetime) -> Iterator[tuple[str, str]]:
        """Every timer due at or before ``at``, in order: (action, incident)."""
        while self._heap and self._heap[0][0] <= at:
            _, _, action, incident = heapq.heappop(self._heap)
            yield action, incident

    def __len__(self) -> int:
        return len(self._heap)
