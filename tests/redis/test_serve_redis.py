"""End to end over Redis: real `outage serve --store redis://...` and `outage worker` processes,
real HTTP, the SSE stream, a worker killed mid-storm, Redis stopped and started again."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from outage.bootstrap import Network
from outage.redisstore.effects import EffectsLease
from outage.redisstore.errors import StoreError
from outage.redisstore.keys import Keyspace
from outage.redisstore.partition import Router
from tests.conftest import DEMO_GPKG, PROJECT
from tests.integration.test_serve_e2e import free_port, read_events

from .conftest import RedisServer
from .helpers import (
    all_applied,
    assert_exactly_once,
    plain_client,
    start_worker,
    wait_applied,
    wait_owned,
)

pytestmark = pytest.mark.redis
OPEN = ("predicted", "confirmed", "dispatched")


class Serve:
    """`outage serve --store URL` in a child process."""

    def __init__(self, tmp: Path, name: str, url: str, keys_file: Path, prefix: str, role: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state_dir = tmp / name
        self.log = tmp / f"{name}.log"
        self.args = [
            sys.executable, "-m", "outage", "serve", "--topology", str(DEMO_GPKG),
            "--state-dir", str(self.state_dir), "--keys", str(keys_file), "--port", str(self.port),
            "--store", url, "--prefix", prefix, "--role", role,
            "--max-signal-age", "0",  # the storms are simulated on a fixed date
            "--tick-seconds", "0",
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Serve:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.args, cwd=PROJECT, stdout=log, stderr=log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"service did not become ready:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


class Cluster:
    """Processes of one test, all stopped at the end (workers politely, then killed)."""

    def __init__(self, tmp: Path, url: str, keys: Keyspace, keys_file: Path) -> None:
        self.tmp, self.url, self.keys, self.keys_file = tmp, url, keys, keys_file
        self.services: list[Serve] = []
        self.workers: list[subprocess.Popen[bytes]] = []

    def serve(self, name: str, role: str = "api") -> Serve:
        made = Serve(self.tmp, name, self.url, self.keys_file, self.keys.prefix, role)
        self.services.append(made)
        return made.start()

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        made = start_worker(self.url, self.keys, name, self.tmp / f"{name}.log")
        self.workers.append(made)
        return made

    def close(self) -> None:
        for service in self.services:
            service.stop()
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(20)
                except subprocess.TimeoutExpired:
                    worker.kill()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post(url: str, key: str, signals: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(f"{url}/v1/signals", json=signals, headers=bearer(key), timeout=60)


@pytest.mark.slow
def test_api_workers_and_an_engine_worker_serve_one_truth(
    redis_url: str,
    client: Any,
    keys: Keyspace,
    network: Network,
    storm: list[dict[str, Any]],
    api_key: tuple[Path, str],
    tmp_path: Path,
) -> None:
    keys_file, key = api_key
    procs = Cluster(tmp_path, redis_url, keys, keys_file)
    try:
        procs.worker("engine-1")
        first = procs.serve("api-all", role="all")  # also notify and playbooks
        second = procs.serve("api-only", role="api")
        live: list[Any] = []
        listener = threading.Thread(
            target=read_events, args=(second.url, key, {}, 30, live), daemon=True
        )
        listener.start()
        time.sleep(0.5)  # let the stream subscribe before the storm starts
        accepted = 0
        for number, start in enumerate(range(0, len(storm), 300)):
            target = (first, second)[number % 2]  # a load balancer's round robin
            answer = post(target.url, key, storm[start : start + 300])
            assert answer.status_code == 202, answer.text
            body = answer.json()
            assert body["journaled"] is True and not body["rejected"]
            accepted += len(body["accepted"])
        assert accepted == len(storm)
        wait_applied(client, keys, Router(network).partitions, timeout=120)

        # The SSE stream of the API-only process carries the engine workers' events, in order.
        listener.join(timeout=60)
        assert len(live) == 30
        assert [e["id"] for e in live] == list(range(live[0]["id"], live[0]["id"] + 30))
        assert "OutagePredicted" in {e["type"] for e in live}
        # Both API processes serve the same incidents, from Redis.
        lists = [
            httpx.get(f"{s.url}/v1/incidents?limit=5000", headers=bearer(key), timeout=30).json()
            for s in (first, second)
        ]
        assert lists[0] == lists[1] and lists[0]["total"] > 5
        # The IVR answers a caller under an open incident from either process.
        open_ids = {r["id"] for r in lists[0]["incidents"] if r["status"] in OPEN}
        row = next(r for r in lists[0]["incidents"] if r["status"] in OPEN)
        premise = _premise_under(network, row)
        for service in (first, second):
            heard = httpx.get(
                f"{service.url}/v1/ivr/lookup", params={"premise": premise}, headers=bearer(key)
            ).json()
            assert heard["known_outage"] and heard["incident"] in open_ids
        # An API worker started after the storm resumes an old Last-Event-ID without a gap.
        late = procs.serve("api-late")
        resumed: list[Any] = []
        read_events(late.url, key, {"Last-Event-ID": "3"}, 3, resumed)
        assert [e["id"] for e in resumed] == [4, 5, 6]
        # Every signal applied once, plus the playbooks' rule-set switches (one per partition).
        applied = httpx.get(f"{second.url}/readyz").json()["signals_applied"]  # a fresh read
        switches = applied - len(storm)
        assert switches >= 0 and switches % len(Router(network).partitions) == 0
        # Exactly one process decides SMS and runs playbooks: the one with --role all.
        deadline = time.monotonic() + 60
        while True:
            stats = httpx.get(f"{first.url}/v1/notify/stats", headers=bearer(key)).json()
            if stats["decided"] > 0:
                break
            assert time.monotonic() < deadline, "notify never decided anything"
            time.sleep(0.5)
        assert httpx.get(f"{second.url}/v1/notify/stats", headers=bearer(key)).status_code == 404
        assert (first.state_dir / "sms-outbox.jsonl").exists()
        assert not (second.state_dir / "sms-outbox.jsonl").exists()
    finally:
        procs.close()
    assert_exactly_once(client, keys, network, storm)


@pytest.mark.slow
def test_kill_9_the_engine_worker_mid_storm_and_start_another(
    redis_url: str,
    client: Any,
    keys: Keyspace,
    network: Network,
    storm: list[dict[str, Any]],
    api_key: tuple[Path, str],
    tmp_path: Path,
) -> None:
    keys_file, key = api_key
    partitions = Router(network).partitions
    procs = Cluster(tmp_path, redis_url, keys, keys_file)
    try:
        api = procs.serve("api")
        first = procs.worker("engine-a")
        wait_owned(client, keys, partitions, first)
        killed = False
        for start in range(0, len(storm), 100):
            assert post(api.url, key, storm[start : start + 100]).status_code == 202
            time.sleep(0.03)
            progress = any(client.get(keys.partition(p).applied) for p in partitions)
            if not killed and start > len(storm) // 3 and progress:
                first.send_signal(signal.SIGKILL)  # mid-storm: its batches in flight
                first.wait(10)
                killed = True
        assert killed, "the worker never applied anything before the storm ended"
        assert not all_applied(client, keys, partitions)
        procs.worker("engine-b")
        wait_applied(client, keys, partitions, timeout=120)
        health = httpx.get(f"{api.url}/readyz").json()  # /healthz: the last figure read
        assert health["signals_applied"] == len(storm)
    finally:
        procs.close()
    assert_exactly_once(client, keys, network, storm)
    assert "took" in (tmp_path / "engine-b.log").read_text()


@pytest.mark.slow
def test_redis_down_answers_503_and_the_resend_after_is_taken_once(
    server_factory: Any,
    keys: Keyspace,
    network: Network,
    storm: list[dict[str, Any]],
    api_key: tuple[Path, str],
    tmp_path: Path,
) -> None:
    server: RedisServer = server_factory("aof", "--appendonly", "yes", "--appendfsync", "always")
    store = plain_client(server.url)
    keys_file, key = api_key
    partitions = Router(network).partitions
    third = len(storm) // 3
    first, second, rest = storm[:third], storm[third : 2 * third], storm[2 * third :]
    procs = Cluster(tmp_path, server.url, keys, keys_file)
    try:
        api = procs.serve("api")
        procs.worker("engine")
        assert post(api.url, key, first).status_code == 202
        wait_applied(store, keys, partitions, timeout=60)

        server.kill()
        refused = post(api.url, key, second)
        assert refused.status_code == 503, refused.text
        detail = refused.json()["detail"]
        assert detail.startswith("store: ") and "Redis is unreachable" in detail
        assert "the outcome is unknown" in detail and "send the same request again" in detail
        read = httpx.get(f"{api.url}/v1/incidents", headers=bearer(key), timeout=30)
        assert read.status_code == 503 and read.json()["detail"].startswith("store: ")

        server.start()  # the same port and directory: it loads its AOF
        deadline = time.monotonic() + 30
        while (answer := post(api.url, key, second)).status_code == 503:
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.2)
        assert answer.status_code == 202, answer.text
        assert answer.json()["accepted"] == [s["id"] for s in second]  # none got in before
        again = post(api.url, key, second).json()
        assert again["accepted"] == [] and len(again["duplicates"]) == len(second)
        before = post(api.url, key, first).json()  # kept by the AOF
        assert before["accepted"] == [] and len(before["duplicates"]) == len(first)
        assert post(api.url, key, rest).status_code == 202
        wait_applied(store, keys, partitions, timeout=120)
        health = httpx.get(f"{api.url}/readyz").json()  # /healthz: the last figure read
        assert health["signals_applied"] == len(storm)
    finally:
        procs.close()
    assert_exactly_once(store, keys, network, storm)
    store.close()


def test_exactly_one_process_holds_the_effects_lease(client: Any, keys: Keyspace) -> None:
    holder = EffectsLease(client, keys, lease_ms=900)
    holder.acquire()
    other = EffectsLease(client, keys, lease_ms=900)
    with pytest.raises(StoreError, match="run this process with --role api"):
        other.acquire(wait_s=0.3)
    holder.release()
    other.acquire(wait_s=0.3)
    lost = threading.Event()
    other.keep(on_lost=lost.set)
    time.sleep(1.2)  # renewed past its first lease
    assert client.get(keys.effects_owner).decode() == other.token
    client.set(keys.effects_owner, "someone-else:x", px=5000)  # taken over behind its back
    assert lost.wait(3) and other.lost.is_set()
    other.release()
    assert client.get(keys.effects_owner) == b"someone-else:x"  # not ours to drop


def _premise_under(network: Network, row: dict[str, Any]) -> str:
    topo = network.topology
    if row["level"] == "device":
        found = topo.premises_below(topo.device_index[row["device"]])
    else:
        found = topo.premises_of_transformer(topo.transformer_index[row["device"]])
    return str(topo.premise_ids[int(found[0])])


@pytest.mark.slow
def test_the_effects_process_fails_over_without_texting_anyone_twice(
    redis_url: str,
    client: Any,
    keys: Keyspace,
    network: Network,
    storm: list[dict[str, Any]],
    api_key: tuple[Path, str],
    tmp_path: Path,
) -> None:
    """SMS decisions, the outbox and the playbook state live in Redis: a `--role all` process
    killed with -9 is replaced by one with an EMPTY state dir, which carries on from the
    shared high-water marks instead of deciding the storm's texts again."""
    from notify.redis_store import RedisNotifyStore

    keys_file, key = api_key
    partitions = Router(network).partitions
    half = len(storm) // 2
    procs = Cluster(tmp_path, redis_url, keys, keys_file)
    try:
        procs.worker("engine")
        first = procs.serve("effects-a", role="all")
        assert post(first.url, key, storm[:half]).status_code == 202
        wait_applied(client, keys, partitions, timeout=120)
        deadline = time.monotonic() + 60
        while httpx.get(f"{first.url}/v1/notify/stats", headers=bearer(key)).json()["decided"] == 0:
            assert time.monotonic() < deadline, "notify never decided anything"
            time.sleep(0.5)
        assert first.process is not None
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)

        second = procs.serve("effects-b", role="all")  # takes the lease once it lapses
        assert not (second.state_dir / "notify.sqlite").exists()
        assert post(second.url, key, storm[half:]).status_code == 202
        wait_applied(client, keys, partitions, timeout=120)
        store = RedisNotifyStore(client, keys, recover_sending=False)
        last = store.high_water()
        deadline = time.monotonic() + 90
        while store.high_water() < client.xlen(keys.events_stream):
            assert time.monotonic() < deadline, (store.high_water(), last)
            time.sleep(0.5)
        rows = store.rows()
        once = ("outage_detected", "restored", "crew_dispatched")  # at most once per incident
        decided = [(r["phone"], r["incident"], r["kind"]) for r in rows if r["kind"] in once]
        assert decided and len(decided) == len(set(decided))  # nobody told the same twice
        stats = httpx.get(f"{second.url}/v1/notify/stats", headers=bearer(key)).json()
        assert stats["decided"] == len(rows)  # the new process sees the old one's decisions
    finally:
        procs.close()
