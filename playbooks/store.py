"""The runner's SQLite file: the audit log, and the runner's persisted state.

Audit rows are ``(seq, at, playbook, activation, kind, detail JSON, by)`` with ``kind`` one of
`AUDIT_KINDS`; they are only ever appended. The state table holds one JSON document (the
runner's activations, proposals, hold-down timers, event high-water mark and situation),
replaced in the same transaction as the audit rows that explain the change, so a crash never
leaves an activation without its audit trail or the other way round. ``":memory:"`` gives a
throw-away store (drills).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

AUDIT_KINDS = (
    "proposed",
    "confirmed",
    "declined",
    "expired",
    "activated",
    "action",
    "result",
    "scheduled",
    "stood_down",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    playbook TEXT NOT NULL,
    activation TEXT,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_playbook ON audit (playbook, at);
CREATE TABLE IF NOT EXISTS runner_state (id INTEGER PRIMARY KEY CHECK (id = 1), body BLOB);
"""


@dataclass(frozen=True)
class AuditRow:
    """One line of the audit log."""

    seq: int
    at: datetime
    playbook: str
    activation: str | None
    kind: str
    detail: dict[str, Any]
    by: str

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "playbook": self.playbook,
            "activation": self.activation,
            "kind": self.kind,
            "detail": self.detail,
            "by": self.by,
        }


class RunnerStore:
    """Audit log and runner state in one SQLite file (see the module docstring)."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._pending: list[tuple[str, str, str | None, str, bytes, str]] = []

    def audit(
        self,
        at: datetime,
        playbook: str,
        activation: str | None,
        kind: str,
        detail: dict[str, Any],
        by: str = "system",
    ) -> None:
        """Queue an audit row; it is written by the next `commit`."""
        if kind not in AUDIT_KINDS:
            raise ValueError(f"unknown audit kind {kind!r}")
        body = orjson.dumps(detail, default=str)
        self._pending.append((at.isoformat(), playbook, activation, kind, body, by))

    @property
    def has_pending(self) -> bool:
        """Audit rows are waiting for `commit`."""
        return bool(self._pending)

    def retract(self, activation: str) -> None:
        """Forget the queued rows of ``activation`` (its write-ahead commit failed, so it is
        undone and will be decided again)."""
        self._pending = [row for row in self._pending if row[2] != activation]

    def commit(self, state: dict[str, Any] | None) -> None:
        """Write the queued audit rows and (if given) the state, in one transaction."""
        with self._lock:
            if not self._pending and state is None:
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO audit (at, playbook, activation, kind, detail, by) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    self._pending,
                )
                if state is not None:
                    self._db.execute(
                        "INSERT OR REPLACE INTO runner_state (id, body) VALUES (1, ?)",
                        (orjson.dumps(state),),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._pending = []

    def load_state(self) -> dict[str, Any] | None:
        """The last committed state, or None for a new store."""
        with self._lock:
            row = self._db.execute("SELECT body FROM runner_state WHERE id = 1").fetchone()
        return orjson.loads(row[0]) if row else None

    def rows(
        self,
        *,
        playbook: str | None = None,
        kind: str | None = None,
        activation: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditRow]:
        """Audit rows in order, filtered by any of the arguments."""
        where, args = [], []
        for column, value in (("playbook", playbook), ("kind", kind), ("activation", activation)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            where.append("at >= ?")
            args.append(since.isoformat())
        sql = "SELECT seq, at, playbook, activation, kind, detail, by FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._lock:
            found = self._db.execute(sql + " ORDER BY seq", args).fetchall()
        return [
            AuditRow(seq, datetime.fromisoformat(at), pb, act, kind_, orjson.loads(detail), by)
            for seq, at, pb, act, kind_, detail, by in found
        ]

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()


class RedisRunnerStore(RunnerStore):
    """`RunnerStore` in Redis: the audit log is a list (``seq`` = position + 1) and the state
    one JSON document, both written by one ``MULTI``/``EXEC`` per `commit` — the audit rows
    and the state that they explain land together or not at all. Keys:
    `outage.redisstore.keys.PlaybookKeys` (``PREFIX:{playbooks}:audit`` / ``:state``, one
    Cluster slot). ``client`` is a ``redis.Redis`` (or ``RedisCluster``); it stays the
    caller's."""

    def __init__(self, client: Any, prefix: str = "outage") -> None:  # no SQLite file
        from outage.redisstore.keys import PlaybookKeys

        self.client = client
        self.keys = PlaybookKeys(prefix)
        self.path = f"redis:{self.keys.audit}"
        self._lock = threading.Lock()
        self._pending = []

    def commit(self, state: dict[str, Any] | None) -> None:
        """Write the queued audit rows and (if given) the state, in one ``MULTI``/``EXEC``."""
        with self._lock:
            if not self._pending and state is None:
                return
            pipe = self.client.pipeline(transaction=True)
            if self._pending:
                pipe.rpush(
                    self.keys.audit,
                    *(
                        orjson.dumps([at, pb, act, kind, body.decode(), by])
                        for at, pb, act, kind, body, by in self._pending
                    ),
                )
            if state is not None:
                pipe.set(self.keys.state, orjson.dumps(state))
            pipe.execute()
            self._pending = []

    def load_state(self) -> dict[str, Any] | None:
        """The last committed state, or None for a new store."""
        body = self.client.get(self.keys.state)
        return orjson.loads(body) if body else None

    def rows(
        self,
        *,
        playbook: str | None = None,
        kind: str | None = None,
        activation: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditRow]:
        """Audit rows in order, filtered by any of the arguments."""
        found = []
        for seq, raw in enumerate(self.client.lrange(self.keys.audit, 0, -1), start=1):
            at, pb, act, kind_, detail, by = orjson.loads(raw)
            if (
                (playbook is None or pb == playbook)
                and (kind is None or kind_ == kind)
                and (activation is None or act == activation)
                and (since is None or at >= since.isoformat())
            ):
                found.append(
                    AuditRow(
                        seq, datetime.fromisoformat(at), pb, act, kind_, orjson.loads(detail), by
                    )
                )
        return found

    def close(self) -> None:
        """Nothing to close: the client belongs to the caller."""
