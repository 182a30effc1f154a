"""The wall clock as a signal: a ``tick`` now and then so event time keeps up with real time.

The engine runs on event time: SLA escalations, the expiry of an estimated ETR and the storm
re-plan are timers that fire when a signal's timestamp passes them. On a quiet night no
signal may come for an hour, and an overdue work order would wait that long to escalate. The
ticker posts ``{"type": "tick", "ts": now}`` through the same intake as every signal (so it is
journaled and a replay fires the same timers at the same moments), only when event time lags
the wall clock. Its id names the interval, so several API processes over one Redis store
post it once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from outage.signals import TickSignal

log = logging.getLogger(__name__)


class WallTicker:
    """Posts a tick every ``every_s`` seconds while event time is behind ``clock``."""

    def __init__(
        self,
        runtime: Any,
        every_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.runtime = runtime
        self.every_s = every_s
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick_once(self) -> bool:
        """Post one tick if event time lags the clock; True when one was accepted."""
        now = self.clock().astimezone(UTC).replace(microsecond=0)
        current = self.runtime.engine.now
        if current is not None and current >= now - timedelta(seconds=self.every_s / 2):
            return False  # signals keep event time current
        slot = int(now.timestamp() // self.every_s)
        tick = TickSignal(type="tick", id=f"tick-{slot}", ts=now)
        result = self.runtime.submit([tick])
        return bool(result.accepted)

    def start(self) -> None:
        """Tick in a daemon thread until `stop`."""
        self._thread = threading.Thread(target=self._run, name="wall-ticker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking (waits for a tick in flight)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.tick_once()
            except Exception:  # a refused tick must not end the ticking
                log.exception("wall tick failed")
