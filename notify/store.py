"""Durable state of the notifier behind one small port, `NotifyStore`, with a SQLite adapter.

What is kept: the event high-water mark, notify's incident projection, the notification log
(phone + incident + kind -> what was told, and under which outbox key), the outbox (every
decided message with its status), consent changes (STOP / START), and inbound message ids.
A decision commits the projection, the log rows, the outbox rows and the new high-water mark
in one transaction (`NotifyStore.transaction`): a crash either keeps all of it or none, so
replaying the event after a restart decides it exactly once.

Outbox statuses::

    pending ──claim──▶ sending ──▶ sent ──receipt──▶ delivered | undelivered
       │                  │ ╰──transient error──▶ pending (later)  ╰──▶ failed
       ╰──▶ superseded (a later message made it moot)   ╰──▶ suppressed (opted out meanwhile)

A row left ``sending`` by a crash goes back to ``pending`` on open and is sent again with the
same idempotency key, which channels pass to providers that accept a client reference.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS incidents (id TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS log (
    phone TEXT NOT NULL, incident TEXT NOT NULL, kind TEXT NOT NULL,
    digest TEXT NOT NULL, key TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (incident, kind, phone)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    key TEXT PRIMARY KEY, phone TEXT NOT NULL, account TEXT NOT NULL, incident TEXT NOT NULL,
    kind TEXT NOT NULL, language TEXT NOT NULL, body TEXT NOT NULL, encoding TEXT NOT NULL,
    segments INTEGER NOT NULL, priority INTEGER NOT NULL, not_before REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL, sent_at REAL, provider_id TEXT, error TEXT, receipt_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, priority, not_before);
CREATE INDEX IF NOT EXISTS outbox_incident ON outbox (incident, kind, status);
CREATE INDEX IF NOT EXISTS outbox_provider ON outbox (provider_id);
CREATE TABLE IF NOT EXISTS consent (phone TEXT PRIMARY KEY, state TEXT NOT NULL, at REAL NOT NULL,
    source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inbound (message_id TEXT PRIMARY KEY, phone TEXT NOT NULL,
    text TEXT NOT NULL, at REAL NOT NULL, reply TEXT NOT NULL);
"""
OUTBOX_COLUMNS = (
    "key", "phone", "account", "incident", "kind", "language", "body", "encoding", "segments",
    "priority", "not_before", "created",
)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One decided message."""

    key: str
    phone: str
    account: str
    incident: str
    kind: str
    language: str
    body: str
    encoding: str
    segments: int
    priority: int
    not_before: float
    created: float
    status: str = "pending"
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Told:
    """A log entry: ``phone`` was told ``kind`` about ``incident`` (``digest``: what exactly)."""

    phone: str
    digest: str
    key: str
    status: str  # the outbox status of that message


class Decision(Protocol):
    """Writes of one decision, applied atomically (see `NotifyStore.transaction`)."""

    def told(self, incident: str, kinds: Iterable[str]) -> dict[str, Told]:
        """Log entries of ``incident`` for ``kinds`` by phone (the latest kind wins)."""
        ...

    def log(self, rows: Iterable[tuple[str, str, str, str, str, float]]) -> None:
        """Insert or replace (phone, incident, kind, digest, key, at) log rows."""
        ...

    def enqueue(self, rows: Iterable[OutboxRow]) -> None:
        """Add messages to the outbox (a key already there is kept as it was)."""
        ...

    def supersede(self, incident: str, kinds: Iterable[str], phones: set[str] | None) -> set[str]:
        """Mark pending messages moot and forget their log rows; returns their phones."""
        ...

    def refresh(self, incident: str, kind: str, language: str, body: str, digest: str) -> None:
        """Rewrite the text (and the log digest) of still-pending messages (a newer ETR)."""
        ...

    def merge(self, incident: str, into: str) -> None:
        """Fold ``incident``'s log and outbox rows into ``into``."""
        ...

    def save_incidents(self, rows: Iterable[dict[str, Any]]) -> None:
        """Upsert projection rows."""
        ...

    def set_high_water(self, seq: int) -> None:
        """Record the last event decided."""
        ...


class NotifyStore(Protocol):
    """The notifier's durable state (SQLite now; a Redis adapter can implement the same)."""

    def high_water(self) -> int:
        """Sequence number of the last event decided (0 when none)."""
        ...

    def load_incidents(self) -> list[dict[str, Any]]:
        """Every saved projection row."""
        ...

    def transaction(self) -> Any:
        """A context manager yielding a `Decision`; commits on success, rolls back on error."""
        ...

    def consent(self) -> dict[str, str]:
        """Phone -> ``"out"`` or ``"in"`` for every STOP / START received."""
        ...

    def set_consent(self, phone: str, state: str, at: float, source: str) -> None:
        """Record a STOP (``"out"``) or START (``"in"``)."""
        ...

    def claim_due(self, now: float, limit: int) -> list[OutboxRow]:
        """Up to ``limit`` pending messages due by ``now``, highest priority first, now
        marked ``sending``."""
        ...

    def finish(self, key: str, status: str, *, at: float, provider_id: str | None = None,
               error: str | None = None, not_before: float | None = None) -> None:
        """Record the outcome of a send attempt (``sent``, ``pending`` to retry, ``failed``,
        ``suppressed``)."""
        ...

    def record_receipt(self, reference: str, status: str, at: float) -> bool:
        """A delivery receipt by provider id or outbox key; False when nothing matches."""
        ...

    def inbound_reply(self, message_id: str) -> str | None:
        """The reply already given to inbound ``message_id``."""
        ...

    def remember_inbound(self, message_id: str, phone: str, text: str, at: float,
                         reply: str) -> None:
        """Keep an inbound message and the reply given."""
        ...

    def counts(self) -> dict[str, int]:
        """Outbox rows by status."""
        ...

    def rows(self, **where: str) -> list[dict[str, Any]]:
        """Outbox rows matching column = value filters (for tests, dashboards, audits)."""
        ...


class _SqliteDecision:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def told(self, incident: str, kinds: Iterable[str]) -> dict[str, Told]:
        kinds = list(kinds)
        marks = ",".join("?" * len(kinds))
        cursor = self.db.execute(
            f"SELECT log.phone, log.digest, log.key, COALESCE(outbox.status, 'sent') "
            f"FROM log LEFT JOIN outbox ON outbox.key = log.key "
            f"WHERE log.incident = ? AND log.kind IN ({marks}) ORDER BY log.at",
            (incident, *kinds),
        )
        return {phone: Told(phone, digest, key, status) for phone, digest, key, status in cursor}

    def log(self, rows: Iterable[tuple[str, str, str, str, str, float]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO log VALUES (?, ?, ?, ?, ?, ?)", rows)

    def enqueue(self, rows: Iterable[OutboxRow]) -> None:
        marks = ",".join("?" * len(OUTBOX_COLUMNS))
        self.db.executemany(
            f"INSERT OR IGNORE INTO outbox ({','.join(OUTBOX_COLUMNS)}) VALUES ({marks})",
            ((*(getattr(r, c) for c in OUTBOX_COLUMNS),) for r in rows),
        )

    def supersede(self, incident: str, kinds: Iterable[str], phones: set[str] | None) -> set[str]:
        kinds = list(kinds)
        marks = ",".join("?" * len(kinds))
        found = self.db.execute(
            f"SELECT key, phone, kind FROM outbox WHERE incident = ? AND status = 'pending' "
            f"AND kind IN ({marks})",
            (incident, *kinds),
        ).fetchall()
        if phones is not None:
            found = [row for row in found if row[1] in phones]
        self.db.executemany(
            "UPDATE outbox SET status = 'superseded' WHERE key = ?", ((k,) for k, _, _ in found)
        )
        # By primary key (incident, kind, phone), and only the entry of that very message.
        self.db.executemany(
            "DELETE FROM log WHERE incident = ? AND kind = ? AND phone = ? AND key = ?",
            ((incident, kind, phone, key) for key, phone, kind in found),
        )
        return {phone for _, phone, _ in found}

    def refresh(self, incident: str, kind: str, language: str, body: str, digest: str) -> None:
        self.db.execute(
            "UPDATE log SET digest = ? WHERE key IN (SELECT key FROM outbox WHERE incident = ? "
            "AND kind = ? AND language = ? AND status = 'pending')",
            (digest, incident, kind, language),
        )
        self.db.execute(
            "UPDATE outbox SET body = ? WHERE incident = ? AND kind = ? AND language = ? "
            "AND status = 'pending'",
            (body, incident, kind, language),
        )

    def merge(self, incident: str, into: str) -> None:
        # A phone told about both keeps the surviving incident's entry (OR IGNORE).
        self.db.execute(
            "INSERT OR IGNORE INTO log SELECT phone, ?, kind, digest, key, at FROM log "
            "WHERE incident = ?",
            (into, incident),
        )
        self.db.execute("DELETE FROM log WHERE incident = ?", (incident,))
        self.db.execute("UPDATE outbox SET incident = ? WHERE incident = ?", (into, incident))

    def save_incidents(self, rows: Iterable[dict[str, Any]]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO incidents VALUES (?, ?)",
            ((row["id"], orjson.dumps(row)) for row in rows),
        )

    def set_high_water(self, seq: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('high_water', ?)", (str(seq),))


class SqliteStore:
    """`NotifyStore` in one SQLite file (WAL); safe to share between the decider and a
    sender thread (one connection, guarded by a lock)."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        # A crash mid-send leaves rows 'sending': send them again under the same key.
        self.db.execute("UPDATE outbox SET status = 'pending' WHERE status = 'sending'")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[_SqliteDecision]:
        """See `NotifyStore.transaction`."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteDecision(self.db)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def high_water(self) -> int:
        """See `NotifyStore.high_water`."""
        with self._lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'high_water'").fetchone()
        return int(row[0]) if row else 0

    def load_incidents(self) -> list[dict[str, Any]]:
        """See `NotifyStore.load_incidents`."""
        with self._lock:
            rows = self.db.execute("SELECT body FROM incidents").fetchall()
        return [orjson.loads(body) for (body,) in rows]

    def consent(self) -> dict[str, str]:
        """See `NotifyStore.consent`."""
        with self._lock:
            return dict(self.db.execute("SELECT phone, state FROM consent").fetchall())

    def set_consent(self, phone: str, state: str, at: float, source: str) -> None:
        """See `NotifyStore.set_consent`."""
        with self._lock:
            self.db.execute(
                "INSERT OR REPLACE INTO consent VALUES (?, ?, ?, ?)", (phone, state, at, source)
            )

    def claim_due(self, now: float, limit: int) -> list[OutboxRow]:
        """See `NotifyStore.claim_due`."""
        columns = ",".join((*OUTBOX_COLUMNS, "status", "attempts"))
        with self.transaction() as tx:
            found = tx.db.execute(
                f"SELECT {columns} FROM outbox WHERE status = 'pending' AND not_before <= ? "
                f"ORDER BY priority, not_before, rowid LIMIT ?",
                (now, limit),
            ).fetchall()
            tx.db.executemany(
                "UPDATE outbox SET status = 'sending' WHERE key = ?", ((r[0],) for r in found)
            )
        return [OutboxRow(*row) for row in found]

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
        with self._lock:
            self.db.execute(
                "UPDATE outbox SET status = ?, attempts = attempts + (? IN ('sent', 'pending', "
                "'failed')), sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, "
                "provider_id = COALESCE(?, provider_id), error = ?, "
                "not_before = COALESCE(?, not_before) WHERE key = ?",
                (status, status, status, at, provider_id, error, not_before, key),
            )

    def record_receipt(self, reference: str, status: str, at: float) -> bool:
        """See `NotifyStore.record_receipt`."""
        with self._lock:
            cursor = self.db.execute(
                "UPDATE outbox SET status = ?, receipt_at = ? WHERE (provider_id = ? OR key = ?) "
                "AND status IN ('sent', 'delivered', 'undelivered')",
                (status, at, reference, reference),
            )
        return cursor.rowcount > 0

    def inbound_reply(self, message_id: str) -> str | None:
        """See `NotifyStore.inbound_reply`."""
        with self._lock:
            row = self.db.execute(
                "SELECT reply FROM inbound WHERE message_id = ?", (message_id,)
            ).fetchone()
        return row[0] if row else None

    def remember_inbound(
        self, message_id: str, phone: str, text: str, at: float, reply: str
    ) -> None:
        """See `NotifyStore.remember_inbound`."""
        with self._lock:
            self.db.execute(
                "INSERT OR IGNORE INTO inbound VALUES (?, ?, ?, ?, ?)",
                (message_id, phone, text, at, reply),
            )

    def counts(self) -> dict[str, int]:
        """See `NotifyStore.counts`."""
        with self._lock:
            return dict(self.db.execute("SELECT status, count(*) FROM outbox GROUP BY status"))

    def rows(self, **where: str) -> list[dict[str, Any]]:
        """See `NotifyStore.rows`."""
        allowed = {*OUTBOX_COLUMNS, "status", "provider_id"}
        unknown = set(where) - allowed
        if unknown:
            raise ValueError(f"unknown outbox column(s): {', '.join(sorted(unknown))}")
        clause = " AND ".join(f"{name} = ?" for name in where) or "1"
        with self._lock:
            cursor = self.db.execute(
                f"SELECT * FROM outbox WHERE {clause} ORDER BY rowid", tuple(where.values())
            )
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor]
