"""Start-up of one service process: load the network, recover the journal, warm, listen."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from outage.bootstrap import Network

from .app import create_app
from .auth import KeyEntry, KeyRing, hash_key, load_keys, new_key
from .settings import ServiceSettings


def warm(network: Network) -> None:
    """Build the GIS premise index now, not on the first location call (1 s at 1M premises)."""
    if len(network.topology.premise_ids):
        lon, lat = network.tables.premises.geometry.iloc[0].coords[0]
        network.locator.nearest(lon, lat, kind="premise", max_m=1.0)


def key_ring(keys: Path | None, fallback_dir: Path) -> tuple[KeyRing, Path | None]:
    """Keys from ``keys``; without a file, one fresh admin key written (0600) to
    ``fallback_dir/admin.key`` so the operator can read it (it is never printed or logged)."""
    if keys is not None:
        return KeyRing(load_keys(keys)), None
    key = new_key()
    fallback_dir.mkdir(parents=True, exist_ok=True)
    path = fallback_dir / "admin.key"
    path.write_text(key + "\n", encoding="utf-8")
    path.chmod(0o600)
    entry = KeyEntry(name="admin", sha256=hash_key(key), roles=("admin",), rate_per_s=10_000)
    return KeyRing([entry]), path


#: Seconds a thread may hold the GIL before another runnable thread gets it. The engine works
#: through large batches in a worker thread; CPython's default (5 ms) would let one batch keep
#: the event loop — and every IVR lookup waiting on it — off the CPU for 5 ms at a time.
SWITCH_INTERVAL_S = 0.0005


def _config(app: FastAPI, host: str, port: int) -> uvicorn.Config:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        loop="auto",  # uvloop when installed
        http="auto",  # httptools when installed
    )


class Server:
    """uvicorn in a background thread (the demo plays a storm while the service answers)."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self.server = uvicorn.Server(_config(app, host, port))
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def start(self, timeout: float = 30.0) -> None:
        """Start listening; returns once the socket accepts connections."""
        self.thread.start()
        waited = 0.0
        while not self.server.started and waited < timeout and self.thread.is_alive():
            threading.Event().wait(0.05)
            waited += 0.05
        if not self.server.started:
            raise RuntimeError("the HTTP server did not start (is the port in use?)")

    def stop(self) -> None:
        """Stop and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve_forever(app: FastAPI, host: str, port: int, ready: Callable[[], None]) -> None:
    """Run uvicorn in this thread until interrupted."""
    server = uvicorn.Server(_config(app, host, port))
    original = server.startup

    async def startup(sockets=None):  # type: ignore[no-untyped-def]
        await original(sockets)
        ready()

    server.startup = startup  # type: ignore[method-assign]
    server.run()


__all__ = ["Server", "ServiceSettings", "create_app", "key_ring", "serve_forever", "warm"]
