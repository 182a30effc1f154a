"""Redis fixtures: the shared server on 127.0.0.1:6379 (or one we start), private servers for
fault tests (AOF, kill, restart), a 3-node cluster, a unique key prefix per test.

Tests skip only when no redis-server can be found or started — and fail instead when
``OUTAGE_REQUIRE_REDIS=1`` (set by .ci/run), so CI never hides a missing Redis.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from outage.bootstrap import Network
from outage.redisstore.keys import Keyspace
from scenarios.city_storm import CityStorm, simulate_storm
from tests.conftest import DEMO_GPKG

SHARED_URL = "redis://127.0.0.1:6379/0"


def no_redis(reason: str) -> None:
    """Skip, or fail when CI requires Redis."""
    if os.environ.get("OUTAGE_REQUIRE_REDIS") == "1":
        pytest.fail(f"OUTAGE_REQUIRE_REDIS=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def redis_server_binary() -> str:
    """Path of redis-server (skip/fail when there is none)."""
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if found is None:
        no_redis("no redis-server binary found")
    assert found is not None
    return found


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private redis-server process in its own directory."""

    def __init__(self, directory: Path, *extra: str, port: int | None = None) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT``."""
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        """Start and wait until it answers PING."""
        args = [
            redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--save",
            "",
            "--daemonize",
            "no",
            *self.extra,
        ]
        log = open(self.dir / "redis.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, socket_timeout=0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                # While loading its AOF the server answers LOADING errors: wait for that too.
                if client.ping() and client.info("persistence").get("loading") == 0:
                    return self
            except redis.exceptions.RedisError:
                pass
            if self.proc.poll() is not None:
                no_redis(f"redis-server exited: {(self.dir / 'redis.log').read_text()[-500:]}")
            time.sleep(0.05)
        no_redis(f"redis-server on port {self.port} did not answer within 10 s")
        return self

    def kill(self) -> None:
        """SIGKILL the server (no shutdown save)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """Terminate politely, then kill."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def cluster_port() -> int:
    """A free port P <= 55535 whose cluster bus port P + 10000 is free too."""
    for port in random.sample(range(20_000, 45_000), 200):
        if all(_free(p) for p in (port, port + 10_000)):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The shared server on 6379 when it answers, else one we start for the session."""
    try:
        if redis.Redis.from_url(SHARED_URL, socket_timeout=1).ping():
            yield SHARED_URL
            return
    except redis.exceptions.RedisError:
        pass
    server = RedisServer(tmp_path_factory.mktemp("redis-session")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def keys() -> Keyspace:
    """A key prefix no other test uses."""
    return Keyspace(prefix=f"test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def client(redis_url: str, keys: Keyspace) -> Iterator[redis.Redis]:
    """A client of the shared server; every key under the test's prefix is deleted after."""
    made = redis.Redis.from_url(redis_url, socket_timeout=5)
    yield made
    for key in made.scan_iter(match=f"{keys.prefix}:*", count=1000):
        made.delete(key)
    made.close()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    """Start private servers: ``server_factory(name, *args)``; all stopped after the test."""
    started: list[RedisServer] = []

    def make(name: str, *extra: str, port: int | None = None) -> RedisServer:
        server = RedisServer(tmp_path / name, *extra, port=port).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def network() -> Network:
    """The demo city (3 substations, 24,000 customers)."""
    return Network.load(DEMO_GPKG)


@pytest.fixture(scope="session")
def storm(network: Network) -> list[dict[str, Any]]:
    """A simulated typhoon on the demo city, in progress: calls, meters, SCADA, hazards, and
    the restorations of all but its last two outages (those are still open)."""
    sim = simulate_storm(
        network.topology,
        network.tables.customers,
        CityStorm(faults=10, seed=5, nested=0.2, warning=True),
    )
    restored = sorted(f["restored"] for f in sim.truth["faults"])
    cut = restored[-3]
    return [s for s in sim.signals if (s.get("ts") or s.get("start") or cut) < cut]


@pytest.fixture
def api_key(tmp_path: Path) -> tuple[Path, str]:
    """A keys file with one key for intake, officer reads, the IVR and metrics."""
    from tests.integration.test_serve_e2e import new_key

    path = tmp_path / "keys.yaml"
    return path, new_key(path, "ops", "intake", "officer", "ivr", "metrics")
