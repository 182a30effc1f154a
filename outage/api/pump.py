"""Hand engine events to a slower consumer (notify, playbooks) on its own thread.

The engine's listeners run inside ``submit`` under the engine lock; deciding SMS or evaluating
playbooks there would slow intake. A pump only queues ``(seq, event)`` on the engine's thread
and feeds the consumer from its own. Consumers keep a high-water mark of the last sequence they
handled and ignore anything at or below it, so events replayed at start-up (the journal's
recovery calls the listeners too) are handled exactly once, and nothing queued but unhandled at
a crash is lost: the journal replays it on the next start.

A consumer that fails on an event is **never moved past it**: the pump stays on that event and
retries it with exponential backoff, everything behind it waits in order, and the pump reports
itself stalled (`stalled`, which ``/readyz`` and ``/metrics`` show) until the consumer takes it.
Skipping would leave the consumer's high-water mark past an event it never handled: an outage
whose customers are never texted. A consumer must therefore be safe to call again with the
event it failed on (notify rolls its transaction back; the playbook runner remembers what it
already applied).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from outage.errors import OutageError
from outage.events import Event

log = logging.getLogger(__name__)


class _Stop:
    """Tells the pump's thread to handle what is queued, then end."""


_STOP = _Stop()


class ConsumerStalled(OutageError):
    """A pump's consumer is failing on an event: work queued behind it would only wait."""


@dataclass(frozen=True)
class _Call:
    """A function to run on the pump's thread, and where its result goes."""

    fn: Callable[[], Any]
    result: Future[Any]


@dataclass(frozen=True)
class Stall:
    """The event a consumer keeps failing on (see the module docstring)."""

    seq: int
    event: str
    error: str
    since: datetime
    attempts: int

    def describe(self, name: str) -> str:
        """One line for ``/readyz``: which consumer, which event, why, for how long."""
        return (
            f"consumer {name}: stalled at event {self.seq} ({self.event}) since "
            f"{self.since.isoformat(timespec='seconds')}, {self.attempts} attempts: {self.error}"
        )


#: What the pump's thread takes in: an event, a wait_idle marker, a call, or the stop.
_Entry = tuple[int, Event] | threading.Event | _Call | _Stop


class EventPump:
    """A queue and a thread in front of one consumer (see the module docstring).

    ``retry_first`` and ``retry_max`` bound the backoff between attempts at a failing event
    (seconds; doubled after each failure).
    """

    def __init__(
        self,
        name: str,
        consume: Callable[[int, Event], object] | None = None,
        *,
        after_batch: Callable[[], None] | None = None,
        retry_first: float = 0.1,
        retry_max: float = 10.0,
    ) -> None:
        self.name = name
        self.consume = consume
        self.after_batch = after_batch
        self.retry_first = retry_first
        self.retry_max = retry_max
        #: Failed attempts (an event retried five times counts five), after-batch steps too.
        self.errors = 0
        self.handled = 0
        #: Set while the consumer is failing on an event (None when healthy).
        self.stalled: Stall | None = None
        self._queue: queue.Queue[_Entry] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"pump-{name}", daemon=True)

    def offer(self, seq: int, event: Event) -> None:
        """The engine listener: queue and return at once."""
        self._queue.put((seq, event))

    def call(self, fn: Callable[[], Any], timeout: float = 120.0, *, wait: bool = True) -> Any:
        """Run ``fn`` on the pump's thread, in order with the events, and return its result.

        The consumer (notify) is then only ever touched by one thread: ad-hoc pushes from
        playbook follow-ups and inbound SMS from HTTP workers queue behind the events instead
        of racing them. Called from the pump's own thread, ``fn`` simply runs. With
        ``wait=False`` (an HTTP request) a stalled consumer raises `ConsumerStalled` at once
        rather than hold the request behind an event that may not clear for minutes; a
        playbook's push waits, up to ``timeout``, so a short fault does not lose it.
        """
        if threading.current_thread() is self._thread or not self._thread.is_alive():
            return fn()
        if not wait and self.stalled is not None:
            raise ConsumerStalled(self.stalled.describe(self.name))
        call = _Call(fn, Future())
        self._queue.put(call)
        return call.result.result(timeout)

    def start(self) -> None:
        """Start feeding the consumer (``consume`` must be set by now)."""
        if self.consume is None:
            raise RuntimeError(f"pump {self.name}: no consumer")
        self._thread.start()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until everything queued so far has been handled (True) or ``timeout``."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Handle what is queued, then stop the thread. A stalled pump gives up its event at
        once (the consumer's high-water mark is below it, so the journal replays it on the
        next start)."""
        if self._thread.is_alive():
            self._stopping.set()
            self._queue.put(_STOP)
            self._thread.join(timeout)

    @property
    def backlog(self) -> int:
        """Events queued but not yet handled."""
        return self._queue.qsize()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch = [item]
            while True:  # take what else is waiting: one after_batch per burst
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for entry in batch:
                if isinstance(entry, _Stop):
                    self._flush()
                    return
                if isinstance(entry, threading.Event):
                    self._flush()
                    entry.set()
                elif isinstance(entry, _Call):
                    try:
                        entry.result.set_result(entry.fn())
                    except Exception as exc:  # the caller gets it, the pump goes on
                        entry.result.set_exception(exc)
                else:
                    seq, event = entry
                    if not self._deliver(seq, event):
                        self._give_up(batch)  # stopping while stalled: the journal replays
                        return
            self._flush()

    def _give_up(self, batch: list[_Entry]) -> None:
        """Stopped while stalled: the calls still waiting fail now rather than time out."""
        waiting = list(batch)
        while True:
            try:
                waiting.append(self._queue.get_nowait())
            except queue.Empty:
                break
        stalled = self.stalled.describe(self.name) if self.stalled is not None else self.name
        for entry in waiting:
            if isinstance(entry, _Call) and not entry.result.done():
                entry.result.set_exception(ConsumerStalled(f"{stalled}; the pump stopped"))

    def _deliver(self, seq: int, event: Event) -> bool:
        """Hand one event to the consumer until it takes it; False if the pump is stopped
        first."""
        assert self.consume is not None
        delay = self.retry_first
        attempts = 0
        while True:
            try:
                self.consume(seq, event)
            except Exception as exc:
                attempts += 1
                self.errors += 1
                since = self.stalled.since if self.stalled is not None else datetime.now(UTC)
                self.stalled = Stall(
                    seq, type(event).__name__, f"{type(exc).__name__}: {exc}", since, attempts
                )
                if attempts == 1:
                    log.exception("%s failed on event %s; retrying it", self.name, seq)
                else:
                    log.warning("%s failing on event %s (attempt %d)", self.name, seq, attempts)
                if self._stopping.wait(delay):
                    return False
                delay = min(delay * 2, self.retry_max)
                continue
            if self.stalled is not None:
                log.warning("%s took event %s at attempt %d", self.name, seq, attempts + 1)
                self.stalled = None
            self.handled += 1
            return True

    def _flush(self) -> None:
        if self.after_batch is not None:
            try:
                self.after_batch()
            except Exception:
                self.errors += 1
                log.exception("%s: after-batch step failed", self.name)
