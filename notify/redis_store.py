"""`NotifyStore` in Redis: the same behaviour as `SqliteStore`, shared through one Redis.

Key templates and Lua scripts live with the rest of the Redis backend in
`outage.redisstore.keys` (the "notify and playbooks" section); every key carries the
``{notify}`` hash tag, so the whole store sits in one Redis Cluster slot.

* **A decision** (`transaction`) takes the decision lock (``P:{notify}:lock``, ``SET NX PX``),
  reads what it needs (log, the incident's outbox rows and their statuses) and buffers its
  writes; its own reads see them (a superseded row is no longer pending, a refreshed digest is
  the new one). On success one Lua step (`NOTIFY_COMMIT`) checks the lock is still ours and
  applies every write together with the new high-water mark, then drops the lock; on error
  nothing was written and the lock is released. A crash before that step leaves nothing.
* **Sending** (`claim_due`, `finish`, recovery) are Lua steps too. A claim moves due rows from
  their pending queue to ``sending`` atomically (priority, then not_before, then insertion
  order), so two sender processes never get the same row. Claims and finishes wait while
  another process's decision holds the lock, as SQLite's writers wait for ``BEGIN IMMEDIATE``:
  a decision's reads of pending / sending rows stay true until it commits.
* On construction rows left ``sending`` go back to ``pending`` (as `SqliteStore` does on
  open), to be sent again under the same idempotency key. With several sender processes on one
  outbox, pass ``recover_sending=False`` and call `RedisNotifyStore.recover` with a cutoff
  older than any send can take instead, so a starting process does not take rows another one
  is sending right now.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson

from notify.errors import NotifyError
from notify.store import OUTBOX_COLUMNS, OutboxRow, Told
from outage.redisstore import keys as K
from outage.redisstore.keys import Keyspace, NotifyKeys

#: The columns `rows` returns, in `SqliteStore`'s order.
ROW_COLUMNS = (
    "key", "phone", "account", "incident", "kind", "language", "body", "encoding", "segments",
    "priority", "not_before", "status", "attempts", "created", "sent_at", "provider_id", "error",
    "receipt_at",
)
_INTS = frozenset({"segments", "priority", "attempts"})
_FLOATS = frozenset({"not_before", "created", "sent_at", "receipt_at"})
_CHUNK = 5_000


class DecisionLockError(NotifyError):
    """The decision lock could not be taken in time, or lapsed before the commit."""


def _s(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _num(value: float) -> str:
    return repr(float(value))


class _RedisDecision:
    """One decision: reads through Redis, writes buffered as ops (see the module docstring)."""

    def __init__(self, store: RedisNotifyStore, token: str) -> None:
        self._store = store
        self.token = token
        self.ops: list[list[str]] = []
        self._log: dict[str, dict[tuple[str, str], tuple[str, str, float]]] = {}
        self._inc: dict[str, dict[str, tuple[str, str, str]]] = {}
        self._status: dict[str, str | None] = {}

    # -- reads, cached for the decision and kept in step with its own writes ---------------------

    def _logs(self, incident: str) -> dict[tuple[str, str], tuple[str, str, float]]:
        found = self._log.get(incident)
        if found is None:
            self._store.renew(self.token)
            found = {}
            raw = self._store.client.hgetall(self._store.keys.log(incident))
            for field, value in raw.items():
                kind, _, phone = field.decode().partition("|")
                digest, key, at = orjson.loads(value)
                found[(kind, phone)] = (digest, key, float(at))
            self._log[incident] = found
        return found

    def _messages(self, incident: str) -> dict[str, tuple[str, str, str]]:
        found = self._inc.get(incident)
        if found is None:
            self._store.renew(self.token)
            raw = self._store.client.hgetall(self._store.keys.inc(incident))
            found = {}
            for key, value in raw.items():
                kind, language, phone = value.decode().split("|", 2)
                found[key.decode()] = (kind, language, phone)
            self._inc[incident] = found
        return found

    def _statuses(self, keys: Iterable[str]) -> dict[str, str | None]:
        missing = [k for k in dict.fromkeys(keys) if k not in self._status]
        for start in range(0, len(missing), _CHUNK):
            part = missing[start:start + _CHUNK]
            values = self._store.client.hmget(self._store.keys.status, part)
            self._status.update(zip(part, map(_s, values), strict=True))
        return self._status

    # -- the Decision protocol ----------------------------------------------------------------

    def told(self, incident: str, kinds: Iterable[str]) -> dict[str, Told]:
        wanted = set(kinds)
        entries = sorted(
            (at, kind, phone, digest, key)
            for (kind, phone), (digest, key, at) in self._logs(incident).items()
            if kind in wanted
        )
        status = self._statuses(e[4] for e in entries)
        return {
            phone: Told(phone, digest, key, status.get(key) or "sent")
            for _, _, phone, digest, key in entries
        }

    def log(self, rows: Iterable[tuple[str, str, str, str, str, float]]) -> None:
        for phone, incident, kind, digest, key, at in rows:
            self._logs(incident)[(kind, phone)] = (digest, key, float(at))
            value = orjson.dumps([digest, key, float(at)]).decode()
            self.ops.append(["L", incident, f"{kind}|{phone}", value])

    def enqueue(self, rows: Iterable[OutboxRow]) -> None:
        rows = list(rows)
        status = self._statuses(r.key for r in rows)
        for r in rows:
            if status.get(r.key) is not None:
                continue  # INSERT OR IGNORE: a key already there is kept as it was
            status[r.key] = "pending"
            self._messages(r.incident)[r.key] = (r.kind, r.language, r.phone)
            self.ops.append([
                "E", r.key, r.phone, r.account, r.incident, r.kind, r.language, r.body,
                r.encoding, str(int(r.segments)), str(int(r.priority)), _num(r.not_before),
                _num(r.created),
            ])

    def _pending(self, incident: str) -> list[tuple[str, str, str, str]]:
        messages = self._messages(incident)
        status = self._statuses(messages)
        return [
            (key, kind, language, phone)
            for key, (kind, language, phone) in messages.items()
            if status.get(key) == "pending"
        ]

    def supersede(self, incident: str, kinds: Iterable[str], phones: set[str] | None) -> set[str]:
        wanted = set(kinds)
        found = [
            (key, kind, phone)
            for key, kind, _, phone in self._pending(incident)
            if kind in wanted and (phones is None or phone in phones)
        ]
        logs = self._logs(incident)
        for key, kind, phone in found:
            self._status[key] = "superseded"
            self.ops.append(["S", key])
            entry = logs.get((kind, phone))
            if entry is not None and entry[1] == key:  # only the entry of that very message
                del logs[(kind, phone)]
                self.ops.append(["D", incident, f"{kind}|{phone}"])
        return {phone for _, _, phone in found}

    def refresh(self, incident: str, kind: str, language: str, body: str, digest: str) -> None:
        keys = {
            key for key, k, lang, _ in self._pending(incident) if k == kind and lang == language
        }
        for key in keys:
            self.ops.append(["B", key, body])
        logs = self._logs(incident)
        for (k, phone), (_, key, at) in list(logs.items()):
            if key in keys:
                logs[(k, phone)] = (digest, key, at)
                value = orjson.dumps([digest, key, at]).decode()
                self.ops.append(["L", incident, f"{k}|{phone}", value])

    def merge(self, incident: str, into: str) -> None:
        if incident == into:
            return
        source, target = self._logs(incident), self._logs(into)
        for entry, value in source.items():
            target.setdefault(entry, value)  # a phone told about both keeps into's entry
        self._log[incident] = {}
        self._messages(into).update(self._messages(incident))
        self._inc[incident] = {}
        self.ops.append(["M", incident, into])

    def save_incidents(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.ops.append(["P", str(row["id"]), orjson.dumps(row).decode()])

    def set_high_water(self, seq: int) -> None:
        self.ops.append(["H", str(int(seq))])

    def commit(self) -> None:
        """Apply every buffered write in one fenced Lua step (releases the lock)."""
        store = self._store
        try:
            store.scripts["commit"](
                keys=[store.keys.lock], args=[store.keys.base, self.token, orjson.dumps(self.ops)]
            )
        except Exception as exc:
            if "LOCK" in str(exc):
                raise DecisionLockError(
                    "notify: the decision lock lapsed before the commit; nothing was written"
                ) from exc
            raise


class RedisNotifyStore:
    """`NotifyStore` in Redis (see the module docstring).

    ``client`` is a ``redis.Redis`` (or ``RedisCluster``); ``keys`` a `NotifyKeys`, or the
    system's `Keyspace` (its prefix is used). ``lock_ms`` is the decision lock's lifetime,
    renewed while a decision reads; a process that dies holding it delays other processes'
    claims by at most that long.
    """

    def __init__(
        self,
        client: Any,
        keys: NotifyKeys | Keyspace | None = None,
        *,
        recover_sending: bool = True,
        lock_ms: int = 30_000,
    ) -> None:
        self.client = client
        if keys is None:
            keys = NotifyKeys()
        elif isinstance(keys, Keyspace):
            keys = NotifyKeys(keys.prefix)
        self.keys = keys
        self.lock_ms = lock_ms
        self._lock = threading.RLock()
        self._renewed = 0.0
        self.scripts = {
            "commit": client.register_script(K.NOTIFY_COMMIT),
            "claim": client.register_script(K.NOTIFY_CLAIM),
            "finish": client.register_script(K.NOTIFY_FINISH),
            "receipt": client.register_script(K.NOTIFY_RECEIPT),
            "recover": client.register_script(K.NOTIFY_RECOVER),
            "lease": client.register_script(K.LEASE),
        }
        if recover_sending:
            self.recover()

    def close(self) -> None:
        """Nothing to close: the client belongs to the caller."""

    # -- the decision lock ----------------------------------------------------------------------

    def _acquire(self) -> str:
        token = f"{uuid.uuid4().hex}"
        deadline = time.monotonic() + 2 * self.lock_ms / 1000
        while not self.client.set(self.keys.lock, token, nx=True, px=self.lock_ms):
            if time.monotonic() > deadline:
                raise DecisionLockError(
                    f"notify: another process held the decision lock {self.keys.lock} for "
                    f"longer than {2 * self.lock_ms} ms"
                )
            time.sleep(0.002)
        self._renewed = time.monotonic()
        return token

    def renew(self, token: str) -> None:
        """Extend the decision lock when a third of its lifetime has passed."""
        if time.monotonic() - self._renewed < self.lock_ms / 3000:
            return
        if not self.scripts["lease"](keys=[self.keys.lock], args=[token, self.lock_ms]):
            raise DecisionLockError("notify: the decision lock lapsed during a decision")
        self._renewed = time.monotonic()

    def _fenced(self, name: str, args: Sequence[Any]) -> Any:
        """Run a sending-side script, waiting while another process decides."""
        deadline = time.monotonic() + 2 * self.lock_ms / 1000
        while True:
            with self._lock:
                result = self.scripts[name](
                    keys=[self.keys.lock], args=[self.keys.base, "", *args]
                )
            if result != b"LOCKED":
                return result
            if time.monotonic() > deadline:
                raise DecisionLockError(
                    f"notify: waited {2 * self.lock_ms} ms for another process's decision"
                )
            time.sleep(0.002)

    @contextmanager
    def transaction(self) -> Iterator[_RedisDecision]:
        """See `NotifyStore.transaction`: all of the decision's writes, or none."""
        with self._lock:
            token = self._acquire()
            decision = _RedisDecision(self, token)
            try:
                yield decision
                decision.commit()
            except BaseException:
                self.scripts["lease"](keys=[self.keys.lock], args=[token, 0])
                raise

    # -- reads and small writes ---------------------------------------------------------------

    def high_water(self) -> int:
        """See `NotifyStore.high_water`."""
        value = self.client.hget(self.keys.meta, "high_water")
        return int(value) if value else 0

    def load_incidents(self) -> list[dict[str, Any]]:
        """See `NotifyStore.load_incidents`."""
        return [orjson.loads(body) for body in self.client.hvals(self.keys.incidents)]

    def consent(self) -> dict[str, str]:
        """See `NotifyStore.consent`."""
        raw = self.client.hgetall(self.keys.consent)
        return {phone.decode(): orjson.loads(value)[0] for phone, value in raw.items()}

    def set_consent(self, phone: str, state: str, at: float, source: str) -> None:
        """See `NotifyStore.set_consent`."""
        self.client.hset(self.keys.consent, phone, orjson.dumps([state, at, source]))

    def inbound_reply(self, message_id: str) -> str | None:
        """See `NotifyStore.inbound_reply`."""
        value = self.client.hget(self.keys.inbound, message_id)
        return None if value is None else str(orjson.loads(value)["reply"])

    def remember_inbound(
        self, message_id: str, phone: str, text: str, at: float, reply: str
    ) -> None:
        """See `NotifyStore.remember_inbound`."""
        body = {"phone": phone, "text": text, "at": at, "reply": reply}
        self.client.hsetnx(self.keys.inbound, message_id, orjson.dumps(body))

    # -- sending ------------------------------------------------------------------------------

    def claim_due(self, now: float, limit: int) -> list[OutboxRow]:
        """See `NotifyStore.claim_due` (one atomic Lua step: safe with several senders)."""
        if limit <= 0:
            return []
        found = self._fenced("claim", [_num(now), int(limit), _num(time.time())])
        rows = []
        for values in found:
            (key, phone, account, incident, kind, language, body, encoding, segments, priority,
             not_before, created, attempts) = (v.decode() for v in values)
            rows.append(OutboxRow(
                key, phone, account, incident, kind, language, body, encoding, int(segments),
                int(priority), float(not_before), float(created), "pending", int(attempts),
            ))
        return rows

    def finish(
        self,
        key: str,
        status: str,
        *,
        at: float,
        provider_id: str | None = None,
        error: str | None = None,
        not_before: float | None = None,
    ) -> None:
        """See `NotifyStore.finish`."""
        self._fenced("finish", [
            key, status, _num(at),
            "0" if provider_id is None else "1", provider_id or "",
            "0" if error is None else "1", error or "",
            "" if not_before is None else _num(not_before),
        ])

    def record_receipt(self, reference: str, status: str, at: float) -> bool:
        """See `NotifyStore.record_receipt`."""
        with self._lock:
            updated = self.scripts["receipt"](
                keys=[self.keys.lock], args=[self.keys.base, reference, status, _num(at)]
            )
        return int(updated) > 0

    def recover(self, older_than: float | None = None) -> int:
        """Put rows claimed (wall clock) at or before ``older_than`` — all when None — back to
        ``pending``; returns how many."""
        cutoff = "+inf" if older_than is None else _num(older_than)
        return int(self._fenced("recover", [cutoff]))

    # -- read-outs ----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """See `NotifyStore.counts`."""
        raw = self.client.hgetall(self.keys.counts)
        return {s.decode(): int(n) for s, n in raw.items() if int(n) > 0}

    def rows(self, **where: str) -> list[dict[str, Any]]:
        """See `NotifyStore.rows` (reads every row: for tests, dashboards and audits)."""
        allowed = {*OUTBOX_COLUMNS, "status", "provider_id"}
        unknown = set(where) - allowed
        if unknown:
            raise ValueError(f"unknown outbox column(s): {', '.join(sorted(unknown))}")
        keys = [k.decode() for k in self.client.zrange(self.keys.order, 0, -1)]
        out = []
        for start in range(0, len(keys), _CHUNK):
            part = keys[start:start + _CHUNK]
            pipe = self.client.pipeline(transaction=False)
            for key in part:
                pipe.hgetall(self.keys.msg(key))
            raws = pipe.execute()
            statuses = self.client.hmget(self.keys.status, part)
            for raw, status in zip(raws, statuses, strict=True):
                row = _decode_row(raw, _s(status))
                if all(_matches(row[name], value) for name, value in where.items()):
                    out.append(row)
        return out


def _decode_row(raw: dict[bytes, bytes], status: str | None) -> dict[str, Any]:
    values: dict[str, str | None] = {k.decode(): v.decode() for k, v in raw.items()}
    values["status"] = status
    row: dict[str, Any] = {}
    for name in ROW_COLUMNS:
        value: Any = values.get(name)
        if value is not None and name in _INTS:
            value = int(value)
        elif value is not None and name in _FLOATS:
            value = float(value)
        row[name] = value
    return row


def _matches(value: Any, wanted: Any) -> bool:
    return bool(value == wanted or (value is not None and str(value) == str(wanted)))
