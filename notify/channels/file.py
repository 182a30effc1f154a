"""The embedded default channel: an append-only JSON-lines outbox file (what the demo uses).

Each sent message is one line ``{"id", "key", "to", "from", "body", "kind", "at"}``. The file
is its own idempotency record: keys already written are loaded on open, and sending a key
again returns the first line's id without writing a second line, so a crash between "written"
and "marked sent" never shows a customer the same text twice. ``echo`` also prints each
message (the console outbox).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import orjson

from notify.channels.base import Receipt, Sms
from notify.errors import TransientSendError


class FileChannel:
    """JSON-lines outbox at ``path`` (see the module docstring)."""

    name = "file"

    def __init__(self, path: Path | str, *, echo: TextIO | None = None, fsync: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.echo = echo
        self.fsync = fsync
        self._ids: dict[str, str] = {}
        if self.path.exists():
            self._ids = {record["key"]: record["id"] for record in read_outbox(self.path)}
        self._file = self.path.open("ab")

    def send(self, sms: Sms) -> str:
        """Append ``sms`` (once per key); returns its line id."""
        known = self._ids.get(sms.key)
        if known is not None:
            return known
        message_id = f"file-{len(self._ids) + 1}"
        line = orjson.dumps(
            {
                "id": message_id,
                "key": sms.key,
                "to": sms.to,
                "from": sms.sender,
                "body": sms.body,
                "kind": sms.kind,
                "at": datetime.now(UTC).isoformat(),
            }
        )
        try:
            self._file.write(line + b"\n")
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())
        except OSError as exc:
            raise TransientSendError(f"cannot write {self.path}: {exc.strerror}") from exc
        self._ids[sms.key] = message_id
        if self.echo is not None:
            print(f"SMS {sms.to} [{sms.kind}] {sms.body}", file=self.echo)
        return message_id

    def poll_receipts(self) -> list[Receipt]:
        """A file has no handset behind it: no receipts."""
        return []

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def read_outbox(path: Path | str) -> list[dict[str, str]]:
    """Every complete line of a file outbox (a line torn by a crash mid-write was never
    sent, so it is skipped)."""
    records = []
    for line in Path(path).read_bytes().splitlines():
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    return records
