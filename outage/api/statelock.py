"""One writer per state dir: an exclusive ``fcntl`` lock held for the life of the process.

Two processes on one journal would each see only their own signals: the same id "accepted" by
one and "duplicate" by the other, every customer texted twice, and event numbers that a replay
contradicts. So `StateDirLock` takes ``flock(LOCK_EX | LOCK_NB)`` on ``STATE_DIR/serve.lock``
before anything in the directory is opened, and a second process gets `StateDirBusy` naming
the holder. The kernel drops the lock when the process ends — ``kill -9`` included — so a
crash never leaves a stale lock behind (the pid in the file is information, not the lock).
"""

from __future__ import annotations

import fcntl
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

from outage.errors import OutageError

LOCK_FILE = "serve.lock"


class StateDirBusy(OutageError):
    """Another live process holds the state dir."""


class StateDirLock:
    """The exclusive lock on a state dir (see the module docstring)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> StateDirLock:
        """Take the lock, or raise `StateDirBusy` naming who holds it."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StateDirBusy(
                f"{self.state_dir}: in use by {holder}; one process per state dir (two would "
                "each journal their own half of the signals): stop that one, or give this one "
                "another --state-dir"
            ) from None
        os.ftruncate(fd, 0)
        started = datetime.now(UTC).replace(microsecond=0).isoformat()
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {started}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock (the process ending does the same)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
