"""An engine worker: owns some partitions, applies their streams exactly once.

Ownership is a lease per partition (``SET owner NX PX``), renewed while the worker lives; a
worker takes its fair share — partitions / live workers — or exactly the partitions it was
given. Taking a partition over (at start, or after its owner died):

1. replay the partition stream up to ``applied`` — the last message whose effects Redis holds —
   into a fresh `PartitionState`, silently: the stream is the journal;
2. relay any events written but not yet copied to the global feed;
3. ``XAUTOCLAIM`` the consumer group's pending entries (the dead worker's deliveries) and apply
   those after ``applied`` in order, then read new entries (``XREADGROUP >``).

A batch's events, projection changes and new ``applied`` id are written by one Lua step
(`keys.APPLY`) fenced by the lease token and the expected ``applied`` id; only then are the
entries acknowledged (``XACK``). A crash before the write loses nothing (the entries stay
pending and are re-applied by the successor); a crash after it and before the ack makes the
successor skip them (their ids are not after ``applied``). So every accepted message is
applied exactly once, and every event is written and relayed exactly once.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
from pydantic import ValidationError
from redis.exceptions import ResponseError
from redis.typing import KeyT, StreamIdT

from outage.bootstrap import Network, RestorationSetup
from outage.host import Message, decode
from outage.rules import Rules
from outage.signals import describe_validation_error

from . import replies
from .connect import Client, is_cluster, unavailable
from .errors import LeaseLost, PartitionTaken, StoreError, StoreUnavailable
from .keys import APPLY, GROUP, LEASE, READ, RELAY, Keyspace, PartitionKeys
from .partition import Router
from .projection import PartitionState
from .replies import Entry
from .storm import SystemStorm

log = logging.getLogger(__name__)


def _fields(flat: list[bytes]) -> dict[bytes, bytes]:
    """A stream entry's flat ``[field, value, ...]`` list (as Lua returns it) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _decoded(fields: dict[bytes, bytes]) -> tuple[Message | None, str]:
    """A stream entry's message, or None and why it no longer decodes."""
    try:
        return decode(fields[b"body"]), ""
    except (KeyError, ValidationError) as exc:
        why = describe_validation_error(exc) if isinstance(exc, ValidationError) else "no body"
        return None, f"quarantined: not a valid message ({why})"


def _field(fields: dict[bytes, bytes], name: str) -> str:
    """``id`` or ``type`` of an entry's body, even when it no longer validates."""
    try:
        value = orjson.loads(fields.get(b"body", b"{}")).get(name)
    except (orjson.JSONDecodeError, AttributeError):
        value = None
    if name == "id" and not isinstance(value, str):
        value = fields.get(b"id", b"?").decode(errors="replace")
    return value if isinstance(value, str) else "?"


def stream_id(raw: bytes | str) -> tuple[int, int]:
    """A stream id as a comparable pair."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class EngineWorker:
    """One engine worker process's loop (see the module docstring)."""

    def __init__(
        self,
        client: Client,
        network: Network,
        *,
        rules: Rules | None = None,
        restoration: RestorationSetup | None = None,
        keys: Keyspace | None = None,
        name: str | None = None,
        partitions: Sequence[str] | None = None,
        lease_ms: int = 10_000,
        batch: int = 500,
        block_ms: int = 200,
    ) -> None:
        self.client = client
        self.network = network
        self.rules = rules or Rules()
        self.restoration = restoration
        self.keys = keys or Keyspace()
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.token = f"{self.name}:{uuid.uuid4().hex}"
        all_partitions = Router(network).partitions
        if partitions:
            unknown = sorted(set(partitions) - set(all_partitions))
            if unknown:
                raise StoreError(
                    f"--partitions: unknown {', '.join(unknown)}; "
                    f"known: {', '.join(all_partitions)}"
                )
        self.candidates: tuple[str, ...] = tuple(partitions or all_partitions)
        self.pinned = bool(partitions)
        self.lease_ms = lease_ms
        self.batch = batch
        self.block_ms = min(block_ms, lease_ms // 4)
        self.owned: dict[str, PartitionState] = {}
        #: Pinned partitions another worker holds, since when (monotonic seconds).
        self._held_elsewhere: dict[str, float] = {}
        self.applied_messages = 0
        self._next_lease_check = 0.0
        self._apply = client.register_script(APPLY)
        self._relay = client.register_script(RELAY)
        self._lease = client.register_script(LEASE)
        self._fenced_read = client.register_script(READ)
        self.system_storm = SystemStorm(client, network, self.rules, self.keys)
        self._next_storm_check = 0.0

    # -- the loop -----------------------------------------------------------------------------

    def run(self, stop: threading.Event, on_idle: Callable[[], None] | None = None) -> None:
        """Work until ``stop`` is set, then hand the partitions back."""
        try:
            while not stop.is_set():
                try:
                    handled = self.step()
                except LeaseLost as exc:
                    log.warning("%s: %s", self.name, exc)
                    continue
                except StoreUnavailable as exc:
                    # Redis restarting: keep trying; pending entries wait in the stream.
                    log.warning("%s: %s; retrying", self.name, exc)
                    self.owned.clear()
                    stop.wait(0.5)
                    continue
                if handled == 0 and on_idle is not None:
                    on_idle()
        finally:
            self.release_all()

    def step(self) -> int:
        """Check leases when due, read and apply one round; returns entries handled."""
        if time.monotonic() >= self._next_lease_check:
            self.balance()
            self._next_lease_check = time.monotonic() + self.lease_ms / 3000
        if not self.owned:
            time.sleep(self.block_ms / 1000)
            return 0
        handled = 0
        for partition, entries in self._read():
            if partition in self.owned:
                handled += len(entries)
                self._process(partition, entries)
        if handled or time.monotonic() >= self._next_storm_check:
            # After every batch (the figures moved), and now and then when idle (a decision
            # whose delivery a crashed worker left undone).
            self.system_storm.step()
            self._next_storm_check = time.monotonic() + 1.0
        return handled

    def balance(self) -> None:
        """Heartbeat, renew leases, give back extras, take free partitions up to our share."""
        now_ms = int(time.time() * 1000)
        with unavailable("engine worker heartbeat"):
            # The heartbeat carries how many partitions we hold, so others can see who starves.
            self.client.hset(self.keys.workers, self.name, f"{now_ms}:{len(self.owned)}")
            beats = replies.fields(self.client.hgetall(self.keys.workers))
            gone = [n for n, b in beats.items() if now_ms - int(b.split(b":")[0]) > 60_000]
            if gone:  # workers long dead: keep the table small
                self.client.hdel(self.keys.workers, *gone)
            for partition in list(self.owned):
                renewed = self._lease(
                    keys=[self.keys.partition(partition).owner], args=[self.token, self.lease_ms]
                )
                if not renewed:
                    log.warning("%s: lease lost; dropping partition %s", self.name, partition)
                    del self.owned[partition]
        share = self._share(beats, now_ms)
        for partition in sorted(self.owned, reverse=True)[: max(0, len(self.owned) - share)]:
            self.release(partition)
        if len(self.owned) >= share:
            return
        start = sum(self.name.encode()) % len(self.candidates)  # spread first picks
        ordered = self.candidates[start:] + self.candidates[:start]
        for partition in ordered:
            if len(self.owned) >= share:
                break
            if partition in self.owned:
                continue
            owner = self.keys.partition(partition).owner
            with unavailable("engine worker lease"):
                won = self.client.set(owner, self.token, nx=True, px=self.lease_ms)
                # Still ours after a failed write dropped the state: rebuild it.
                won = won or self.client.get(owner) == self.token.encode()
            if won:
                self._held_elsewhere.pop(partition, None)
                self.take_over(partition)
            elif self.pinned:
                self._refuse_if_held(partition, owner)

    def _refuse_if_held(self, partition: str, owner: str) -> None:
        """A pinned worker's partition held by another live worker for longer than a lapsed
        lease would be: two writers were started for one partition. `PartitionTaken` (the
        worker exits) rather than idling for ever as a silent spare."""
        since = self._held_elsewhere.setdefault(partition, time.monotonic())
        if time.monotonic() - since < self.lease_ms * 1.5 / 1000:
            return
        with unavailable("engine worker lease"):
            raw = replies.value(self.client.get(owner))
        holder = raw.decode().split(":")[0] if raw else "another worker"
        raise PartitionTaken(
            f"--partitions: {partition} is owned by the live worker {holder}; one writer per "
            "partition: stop that worker, or start this one for other partitions (or without "
            "--partitions, to share them all)"
        )

    def _share(self, beats: dict[bytes, bytes], now_ms: int) -> int:
        """How many partitions to hold: all given ones when pinned; else between
        floor(P / live workers) and ceil(P / live workers) — the floor while another live
        worker holds fewer than that, so a newcomer gets partitions to work on."""
        if self.pinned:
            return len(self.candidates)
        counts = {}
        for name, beat in beats.items():
            at, _, held = beat.decode().partition(":")
            if now_ms - int(at) < 2 * self.lease_ms:
                counts[name.decode()] = int(held or 0)
        alive = max(1, len(counts))
        low, high = len(self.candidates) // alive, math.ceil(len(self.candidates) / alive)
        starving = any(n < low for name, n in counts.items() if name != self.name)
        return low if starving else high

    def release(self, partition: str) -> None:
        """Give ``partition`` back (its batches are written and acknowledged)."""
        self.owned.pop(partition, None)
        with unavailable("engine worker lease release"):
            self._lease(keys=[self.keys.partition(partition).owner], args=[self.token, 0])

    def release_all(self) -> None:
        """Give every partition back (graceful stop); ignores an unreachable Redis."""
        for partition in list(self.owned):
            try:
                self.release(partition)
            except StoreError:
                self.owned.pop(partition, None)

    # -- taking a partition over ----------------------------------------------------------------

    def take_over(self, partition: str) -> PartitionState:
        """Rebuild ``partition`` from its stream, relay, claim pending entries (see above)."""
        keys = self.keys.partition(partition)
        state = PartitionState(partition, self.network, self.rules, self.restoration)
        with unavailable(f"taking over partition {partition}"):
            try:
                self.client.xgroup_create(keys.signals, GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            raw = replies.value(self.client.get(keys.applied))
            applied = raw.decode() if raw else ""
            state.quarantined = {
                m.decode() for m in replies.names(self.client.hkeys(keys.quarantine))
            }
            if applied:
                self._replay(state, keys, applied)
            self.owned[partition] = state
            self._relay_backlog(partition, keys)
            pending = self._claim(keys)
        log.info(
            "%s: took %s (replayed up to %s, %d pending)",
            self.name,
            partition,
            applied or "nothing",
            len(pending),
        )
        if pending:
            self._process(partition, pending)
        return state

    def _replay(self, state: PartitionState, keys: PartitionKeys, applied: str) -> None:
        start = "-"
        while True:
            chunk = replies.entries(self.client.xrange(keys.signals, start, applied, count=2000))
            for entry_id, fields in chunk:
                message, _ = _decoded(fields)
                state.replay(message, entry_id.decode())
            if len(chunk) < 2000:
                break
            start = "(" + chunk[-1][0].decode()
            self._lease(keys=[keys.owner], args=[self.token, self.lease_ms])
        if state.applied != applied:
            raise StoreError(
                f"{state.partition}: stream ends at {state.applied or 'nothing'} but "
                f"{applied} was applied; the stream lost entries (was Redis restored from an "
                "older snapshot?)"
            )

    def _claim(self, keys: PartitionKeys) -> list[Entry]:
        claimed: list[Entry] = []
        start: bytes | str = "0-0"
        while True:
            reply = self.client.xautoclaim(
                keys.signals, GROUP, self.name, 0, start_id=start, count=1000
            )
            claimed.extend(e for e in reply[1] if e[1])  # deleted entries come back empty
            start = reply[0]
            if stream_id(start) == (0, 0):
                return sorted(claimed, key=lambda e: stream_id(e[0]))

    # -- applying -------------------------------------------------------------------------------

    def _read(self) -> Iterable[tuple[str, list[Entry]]]:
        out: list[tuple[str, list[Entry]]] = []
        for partition in list(self.owned):
            keys = self.keys.partition(partition)
            try:
                with unavailable("engine worker read"):
                    reply = self._fenced_read(
                        keys=[keys.owner, keys.signals],
                        args=[self.token, GROUP, self.name, self.batch],
                    )
            except ResponseError as exc:
                log.warning("%s: %s; dropping %s", self.name, exc, partition)
                self.owned.pop(partition, None)
                continue
            for _, rows in reply or []:
                out.append((partition, [(i, _fields(flat)) for i, flat in rows]))
        if not out:
            self._wait()
        return out

    def _wait(self) -> None:
        """Block until an owned stream has an entry after what we applied (or a timeout).
        A plain XREAD only watches: delivery stays with the fenced group read."""
        if not self.owned:
            return
        if is_cluster(self.client):  # streams live on different nodes: poll gently
            time.sleep(self.block_ms / 4000)
            return
        after: dict[KeyT, StreamIdT] = {
            self.keys.partition(p).signals: (state.applied or "0-0")
            for p, state in self.owned.items()
        }
        with unavailable("engine worker wait"):
            self.client.xread(after, count=1, block=self.block_ms)

    def _process(self, partition: str, entries: list[Entry]) -> None:
        state = self.owned[partition]
        keys = self.keys.partition(partition)
        expected = state.applied
        floor = stream_id(expected) if expected else (0, 0)
        for entry_id, fields in entries:
            if stream_id(entry_id) > floor:
                message, problem = _decoded(fields)
                if message is None:  # written by an older version, refused by today's rules
                    kind = _field(fields, "type")
                    state.quarantine(_field(fields, "id"), kind, problem, entry_id.decode())
                else:
                    state.apply(message, entry_id.decode())
        if state.applied != expected:
            payload = state.payload()
            try:
                with unavailable(f"writing partition {partition}"):
                    ids = self._apply(
                        keys=[keys.owner, keys.applied, keys.events, *keys.projection],
                        args=[self.token, expected, state.applied, orjson.dumps(payload)],
                    )
            except ResponseError as exc:
                # Fenced off: someone else owns the partition now. Our engine state ran
                # ahead of Redis, so drop it; the owner has (or will) apply these entries.
                self.owned.pop(partition, None)
                raise LeaseLost(partition) from exc
            except StoreError:
                self.owned.pop(partition, None)  # unknown whether it was written: rebuild
                raise
            self.applied_messages += len(entries)
            self._relay_events(partition, ids, payload["x"])
        with unavailable(f"acknowledging partition {partition}"):
            self.client.xack(keys.signals, GROUP, *[e[0] for e in entries])

    def _relay_events(self, partition: str, ids: list[bytes], events: list[list[Any]]) -> None:
        if not ids:
            return
        args: list[Any] = [partition]
        for event_id, (kind, body, _) in zip(ids, events, strict=True):
            args += [event_id, kind, body]
        k = self.keys
        with unavailable("relaying events"):
            self._relay(keys=[k.events_relayed, k.events_seq, k.events_stream], args=args)

    def _relay_backlog(self, partition: str, keys: PartitionKeys) -> None:
        cursor = replies.value(self.client.hget(self.keys.events_relayed, partition))
        start = "(" + cursor.decode() if cursor else "-"
        while True:
            chunk = replies.entries(self.client.xrange(keys.events, start, "+", count=2000))
            if not chunk:
                return
            self._relay_events(
                partition,
                [i for i, _ in chunk],
                [[f[b"type"].decode(), f[b"body"].decode(), ""] for _, f in chunk],
            )
            start = "(" + chunk[-1][0].decode()
