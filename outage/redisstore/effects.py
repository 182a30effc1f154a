"""The effects lease: exactly one ``outage serve`` sends SMS and runs playbooks.

API workers are stateless and any number may run, but notify (SMS decisions, the outbox) and
the playbook runner keep their state in the ``--state-dir`` of the process that runs them and
act on the world, so two of them would text every customer twice. The process started with
``--role all`` takes the lease ``outage:{effects}:owner`` (``SET NX PX``) before it feeds them;
a second one waits for the lease (a ``kill -9``ed holder's lease lapses after ``lease_ms``) and
gives up with a clear message when a live holder keeps it. The holder renews it every
``lease_ms / 3``; should it find the lease in another process's hands (it was cut off from Redis
for longer than the lease and a successor took over) it stops feeding notify and playbooks.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from . import replies
from .connect import Client, unavailable
from .errors import StoreError, StoreUnavailable
from .keys import LEASE, Keyspace

log = logging.getLogger(__name__)


class EffectsLease:
    """Hold ``Keyspace.effects_owner`` while this process runs notify and playbooks."""

    def __init__(
        self, client: Client, keys: Keyspace | None = None, lease_ms: int = 10_000
    ) -> None:
        self.client = client
        self.keys = keys or Keyspace()
        self.lease_ms = lease_ms
        self.token = f"{socket.gethostname()}-{os.getpid()}:{uuid.uuid4().hex}"
        self.lost = threading.Event()
        self._script = client.register_script(LEASE)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def holder(self) -> str | None:
        """Who holds the lease now (``host-pid``), or None."""
        with unavailable("effects lease"):
            raw = replies.value(self.client.get(self.keys.effects_owner))
        return raw.decode().split(":")[0] if raw else None

    def acquire(self, wait_s: float | None = None) -> None:
        """Take the lease, waiting up to ``wait_s`` (default: 1.5 leases) for a lapsed holder;
        `StoreError` naming the holder when it stays taken."""
        wait_s = self.lease_ms * 1.5 / 1000 if wait_s is None else wait_s
        deadline = time.monotonic() + wait_s
        while not self._try_take():
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"effects lease: {self.holder() or 'another process'} already sends SMS "
                    "and runs playbooks for this Redis; run this process with --role api "
                    "(exactly one `outage serve --role all` per system)"
                )
            time.sleep(0.2)

    def keep(self, on_lost: Callable[[], None]) -> None:
        """Renew the lease in a daemon thread; call ``on_lost`` once if another takes it."""

        def renew() -> None:
            while not self._stop.wait(self.lease_ms / 3000):
                try:
                    if self._renew():
                        continue
                    if self._try_take():  # it lapsed (a long Redis outage): ours again
                        continue
                except StoreUnavailable as exc:
                    log.warning("%s; retrying", exc)
                    continue
                log.error(
                    "effects lease: %s took it over; stopping notify and playbooks", self.holder()
                )
                self.lost.set()
                on_lost()
                return

        self._thread = threading.Thread(target=renew, name="effects-lease", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stop renewing and hand the lease back (ignores an unreachable Redis)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            with unavailable("effects lease"):
                self._script(keys=[self.keys.effects_owner], args=[self.token, 0])
        except StoreUnavailable:
            pass

    def _try_take(self) -> bool:
        with unavailable("effects lease"):
            return bool(
                self.client.set(self.keys.effects_owner, self.token, nx=True, px=self.lease_ms)
            )

    def _renew(self) -> bool:
        with unavailable("effects lease"):
            return bool(
                self._script(keys=[self.keys.effects_owner], args=[self.token, self.lease_ms])
            )
