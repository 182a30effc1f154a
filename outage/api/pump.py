"""Hand engine events to a slower consumer (notify, playbooks) on its own thread.

The engine's listeners run inside ``submit`` under the engine lock; deciding SMS or evaluating
playbooks there would slow intake. A pump only queues ``(seq, event)`` on the engine's thread
and feeds the consumer from its own. Consumers keep a high-water mark of the last sequence they
handled and ignore anything at or below it, so events replayed at start-up (the journal's
recovery calls the listeners too) are handled exactly once, and nothing queued but unhandled at
a crash is lost: the journal replays it on the next start.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from outage.events import Event

log = logging.getLogger(__name__)


class _Stop:
    """Tells the pump's thread to handle what is queued, then end."""


_STOP = _Stop()


@dataclass(frozen=True)
class _Call:
    """A function to run on the pump's thread, and where its result goes."""

    fn: Callable[[], Any]
    result: Future[Any]


#: What the pump's thread takes in: an event, a wait_idle marker, a call, or the stop.
_Entry = tuple[int, Event] | threading.Event | _Call | _Stop


class EventPump:
    """A queue and a thread in front of one consumer (see the module docstring)."""

    def __init__(
        self,
        name: str,
        consume: Callable[[int, Event], object] | None = None,
        *,
        after_batch: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.consume = consume
        self.after_batch = after_batch
        self.errors = 0
        self.handled = 0
        self._queue: queue.Queue[_Entry] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"pump-{name}", daemon=True)

    def offer(self, seq: int, event: Event) -> None:
        """The engine listener: queue and return at once."""
        self._queue.put((seq, event))

    def call(self, fn: Callable[[], Any], timeout: float = 120.0) -> Any:
        """Run ``fn`` on the pump's thread, in order with the events, and return its result.

        The consumer (notify) is then only ever touched by one thread: ad-hoc pushes from
        playbook follow-ups and inbound SMS from HTTP workers queue behind the events instead
        of racing them. Called from the pump's own thread, ``fn`` simply runs.
        """
        if threading.current_thread() is self._thread or not self._thread.is_alive():
            return fn()
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
        """Handle what is queued, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    @property
    def backlog(self) -> int:
        """Events queued but not yet handled."""
        return self._queue.qsize()

    def _run(self) -> None:
        assert self.consume is not None
        while True:
            item = self._queue.get()
            batch = [item]
            while True:  # take what else is waiting: one after_batch per burst
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = False
            for entry in batch:
                if isinstance(entry, _Stop):
                    stop = True
                elif isinstance(entry, threading.Event):
                    self._flush()
                    entry.set()
                elif isinstance(entry, _Call):
                    try:
                        entry.result.set_result(entry.fn())
                    except Exception as exc:  # the caller gets it, the pump goes on
                        entry.result.set_exception(exc)
                else:
                    seq, event = entry
                    try:
                        self.consume(seq, event)
                        self.handled += 1
                    except Exception:  # keep going: the journal replays it after a restart
                        self.errors += 1
                        log.exception("%s failed on event %s", self.name, seq)
            self._flush()
            if stop:
                return

    def _flush(self) -> None:
        if self.after_batch is not None:
            try:
                self.after_batch()
            except Exception:
                self.errors += 1
                log.exception("%s: after-batch step failed", self.name)
