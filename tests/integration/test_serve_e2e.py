"""End to end: a real `outage serve` process, real HTTP, the SSE stream, kill -9 and restart."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from outage.bootstrap import Network
from scenarios.city_storm import CityStorm, simulate_storm
from tests.conftest import DEMO_GPKG, PROJECT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """`outage serve` in a child process."""

    def __init__(self, tmp: Path, keys: Path, extra: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable,
            "-m",
            "outage",
            "serve",
            "--topology",
            str(DEMO_GPKG),
            "--state-dir",
            str(tmp / "state"),
            "--keys",
            str(keys),
            "--port",
            str(self.port),
            # The tests replay storms simulated on a fixed date: judge no signal by its age.
            "--max-signal-age",
            "0",
            "--tick-seconds",  # the storms are on a fixed past date: no wall-clock ticks
            "0",
            *extra,
        ]
        self.log = tmp / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.args, stdout=log, stderr=log, cwd=PROJECT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"service did not become ready:\n{self.log.read_text()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def new_key(keys: Path, name: str, *roles: str) -> str:
    role_args = [a for r in roles for a in ("--role", r)]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "outage",
            "keys",
            "new",
            "--name",
            name,
            *role_args,
            "--keys",
            str(keys),
            "--rate",
            "1000",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def storm() -> list[dict[str, Any]]:
    network = Network.load(DEMO_GPKG)
    sim = simulate_storm(network.topology, network.tables.customers, CityStorm(faults=6, seed=21))
    return sim.signals


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "keys.yaml"
    made = {
        "intake": new_key(path, "gateway", "intake"),
        "officer": new_key(path, "duty-officer", "officer"),
        "ivr": new_key(path, "ivr", "ivr"),
    }
    return path, made


@pytest.fixture
def service(tmp_path: Path, keys: tuple[Path, dict[str, str]]) -> Iterator[Service]:
    running = Service(tmp_path, keys[0])
    running.start()
    yield running
    running.stop()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_keys_file_holds_only_hashes(keys: tuple[Path, dict[str, str]]) -> None:
    path, made = keys
    text = path.read_text()
    assert all(key not in text for key in made.values())
    entries = yaml.safe_load(text)["keys"]
    assert [e["name"] for e in entries] == ["gateway", "duty-officer", "ivr"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def read_events(url: str, key: str, headers: dict[str, str], want: int, out: list[Any]) -> None:
    """Collect ``want`` SSE events (id, type, data) into ``out``."""
    with httpx.stream("GET", f"{url}/v1/events", headers=bearer(key) | headers, timeout=60) as r:
        event: dict[str, Any] = {}
        for line in r.iter_lines():
            if line.startswith("id:"):
                event["id"] = int(line[3:].strip())
            elif line.startswith("event:"):
                event["type"] = line[6:].strip()
            elif line.startswith("data:"):
                event["data"] = orjson.loads(line[5:].strip())
            elif not line and event:
                out.append(event)
                event = {}
                if len(out) >= want:
                    return


@pytest.mark.slow
def test_storm_over_http_stream_and_kill_9_restart(
    service: Service, keys: tuple[Path, dict[str, str]], storm: list[dict[str, Any]]
) -> None:
    _, key = keys
    live: list[Any] = []
    listener = threading.Thread(
        target=read_events, args=(service.url, key["officer"], {}, 20, live), daemon=True
    )
    listener.start()
    time.sleep(0.5)  # let the stream subscribe before the storm starts
    half = len(storm) // 2
    for start in range(0, half, 200):
        answer = httpx.post(
            f"{service.url}/v1/signals",
            json=storm[start : min(start + 200, half)],
            headers=bearer(key["intake"]),
            timeout=60,
        )
        assert answer.status_code == 202, answer.text
    listener.join(timeout=60)
    assert len(live) == 20
    assert [e["id"] for e in live] == sorted(e["id"] for e in live)
    assert {e["type"] for e in live} >= {"OutagePredicted"}
    assert all(e["data"]["type"] == e["type"] for e in live)

    resumed: list[Any] = []
    read_events(service.url, key["officer"], {"Last-Event-ID": str(live[4]["id"])}, 3, resumed)
    assert [e["id"] for e in resumed] == [live[5]["id"], live[6]["id"], live[7]["id"]]

    officer = bearer(key["officer"])
    before = httpx.get(f"{service.url}/v1/incidents?limit=5000", headers=officer).json()
    assert before["total"] > 0
    premise = next(s["premise"] for s in storm[:half] if s.get("premise"))
    heard = httpx.get(
        f"{service.url}/v1/ivr/lookup", params={"premise": premise}, headers=bearer(key["ivr"])
    ).json()

    service.kill()  # kill -9: no shutdown hooks
    service.start()
    after = httpx.get(f"{service.url}/v1/incidents?limit=5000", headers=officer).json()
    assert after == before
    again = httpx.get(
        f"{service.url}/v1/ivr/lookup", params={"premise": premise}, headers=bearer(key["ivr"])
    ).json()
    assert again["incident"] == heard["incident"] and again["status"] == heard["status"]
    # the rest of the storm goes to the restarted process; resending the first half is a no-op
    answer = httpx.post(
        f"{service.url}/v1/signals", json=storm[:200], headers=bearer(key["intake"]), timeout=60
    ).json()
    assert answer["accepted"] == [] and len(answer["duplicates"]) == min(200, half)


def test_anonymous_gets_only_health_and_the_public_summary(service: Service) -> None:
    assert httpx.get(f"{service.url}/healthz").status_code == 200
    assert httpx.get(f"{service.url}/v1/public/summary").status_code == 200
    for path in ("/v1/incidents", "/v1/storm", "/metrics", "/v1/ivr/lookup?phone=1", "/v1/events"):
        assert httpx.get(f"{service.url}{path}", timeout=10).status_code == 401, path
