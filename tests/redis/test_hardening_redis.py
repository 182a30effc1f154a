"""Issue 14 over Redis, through real `outage serve --store redis://...` and `outage worker`
processes: a poison entry and an engine failure are quarantined and the partition goes on;
ids reused with other content are conflicts; a second pinned writer of a partition exits;
`/healthz` does not wait on a frozen Redis, and a write it swallowed is answered "outcome
unknown" — the resend is taken exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from outage.bootstrap import Network
from outage.redisstore.keys import Keyspace
from outage.redisstore.partition import Router
from tests.conftest import DEMO_GPKG, PROJECT
from tests.integration.hardening import call, incident_of, premises_with_phones

from .conftest import RedisServer
from .helpers import call_outcomes, plain_client, wait_applied, wait_owned
from .test_serve_redis import Cluster, bearer, post

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def worker_process(
    url: str, keys: Keyspace, name: str, log: Path, *extra: str, faulty: bool = False
) -> subprocess.Popen[bytes]:
    """``outage worker`` (with ``faulty``: the engine fails on ids starting ``poison-``)."""
    module = "tests.integration.faulty_engine" if faulty else "outage"
    args = [
        sys.executable, "-m", module, "worker", "--store", url, "--topology", str(DEMO_GPKG),
        "--prefix", keys.prefix, "--name", name, "--lease-ms", "1500", "--batch", "25", *extra,
    ]  # fmt: skip
    return subprocess.Popen(args, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=open(log, "wb"))


@pytest.fixture
def people(network: Network) -> list[str]:
    return [p for p, _ in premises_with_phones(network, 8)]


def test_poison_entries_are_quarantined_and_the_partition_goes_on(
    redis_url: str,
    client: Any,
    keys: Keyspace,
    network: Network,
    people: list[str],
    api_key: tuple[Path, str],
    tmp_path: Path,
) -> None:
    keys_file, key = api_key
    router = Router(network)
    partitions = router.partitions
    procs = Cluster(tmp_path, redis_url, keys, keys_file)
    try:
        api = procs.serve("api")
        # An entry an older version stored (its ts is out of today's range): a worker used to
        # die on it, and each successor in turn.
        index = network.topology.premise_index[people[0]]
        part = keys.partition(router.substation_of_premise(index))
        ts = "9999-12-31T17:00:00Z"
        old = {"type": "call", "id": "old-poison", "ts": ts, "premise": people[0]}
        client.sadd(part.seen, "old-poison")
        client.xadd(part.signals, {"id": "old-poison", "body": orjson.dumps(old)})
        first = worker_process(redis_url, keys, "faulty-a", tmp_path / "a.log", faulty=True)
        procs.workers.append(first)
        poison = call(people[1], "poison-1")
        answer = post(api.url, key, [poison, call(people[2], "good-1")])
        assert answer.status_code == 202 and answer.json()["accepted"] == ["poison-1", "good-1"]
        wait_applied(client, keys, partitions, timeout=60)
        officer = bearer(key)
        incident_of(api.url, officer, people[2])
        listed = httpx.get(f"{api.url}/v1/quarantine", headers=officer).json()
        assert sorted(q["id"] for q in listed["quarantined"]) == ["old-poison", "poison-1"]
        reasons = {q["id"]: q["reason"] for q in listed["quarantined"]}
        assert "ts: " in reasons["old-poison"] and "injected" in reasons["poison-1"]
        metrics = httpx.get(f"{api.url}/metrics", headers=officer).text
        assert "outage_quarantined 2.0" in metrics

        # conflicts over Redis too: same id, other content
        changed = post(api.url, key, [poison | {"premise": people[3]}])
        assert changed.status_code == 409 and changed.json()["conflicts"][0]["id"] == "poison-1"
        assert post(api.url, key, [poison]).json()["duplicates"] == ["poison-1"]

        # a successor replays the stream past both, without quarantining them again
        before = httpx.get(f"{api.url}/v1/incidents?limit=5000", headers=officer).json()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        second = worker_process(redis_url, keys, "faulty-b", tmp_path / "b.log", faulty=True)
        procs.workers.append(second)
        wait_owned(client, keys, partitions, second)
        assert post(api.url, key, [call(people[4], "good-2")]).status_code == 202
        wait_applied(client, keys, partitions, timeout=60)
        incident_of(api.url, officer, people[4])
        again = httpx.get(f"{api.url}/v1/quarantine", headers=officer).json()
        assert again["total"] == 2
        after = httpx.get(f"{api.url}/v1/incidents?limit=5000", headers=officer).json()
        assert {i["id"] for i in before["incidents"]} <= {i["id"] for i in after["incidents"]}
    finally:
        procs.close()


def test_a_second_pinned_writer_of_a_partition_exits(
    redis_url: str, client: Any, keys: Keyspace, tmp_path: Path
) -> None:
    pinned = ("--partitions", "system")
    first = worker_process(redis_url, keys, "pinned-a", tmp_path / "a.log", *pinned)
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_owned(client, keys, ("system",), first)
        second = worker_process(redis_url, keys, "pinned-b", tmp_path / "b.log", *pinned)
        assert second.wait(timeout=60) == 1
        message = " ".join((tmp_path / "b.log").read_text().split())
        assert "system is owned by the live worker pinned-a" in message
        assert "one writer per partition" in message and "Traceback" not in message
        assert first.poll() is None  # the first one goes on
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(20)
                except subprocess.TimeoutExpired:
                    worker.kill()


def test_a_frozen_redis_neither_stalls_liveness_nor_hides_a_write(
    server_factory: Any,
    keys: Keyspace,
    network: Network,
    people: list[str],
    api_key: tuple[Path, str],
    tmp_path: Path,
) -> None:
    server: RedisServer = server_factory("frozen", "--appendonly", "yes")
    store = plain_client(server.url)
    keys_file, key = api_key
    partitions = Router(network).partitions
    procs = Cluster(tmp_path, server.url, keys, keys_file)
    try:
        api = procs.serve("api")
        procs.worker("engine")
        assert post(api.url, key, [call(people[0], "before-freeze")]).status_code == 202
        wait_applied(store, keys, partitions, timeout=60)
        assert httpx.get(f"{api.url}/readyz").status_code == 200
        assert server.proc is not None
        server.proc.send_signal(signal.SIGSTOP)  # hangs: connections open, no answers
        try:
            started = time.monotonic()
            alive = httpx.get(f"{api.url}/healthz", timeout=10)
            assert alive.status_code == 200
            assert time.monotonic() - started < 0.5, "liveness waited on Redis"
            assert alive.json()["signals_applied"] == 1  # the last figure read
            frozen = call(people[1], "during-freeze")
            answer = post(api.url, key, [frozen])
            assert answer.status_code == 503, answer.text
            detail = answer.json()["detail"]
            assert "the outcome is unknown" in detail and "send the same request again" in detail
            assert httpx.get(f"{api.url}/readyz", timeout=30).status_code == 503
        finally:
            server.proc.send_signal(signal.SIGCONT)
        # Redis thawed and may well have run the swallowed write: the resend is taken once.
        deadline = time.monotonic() + 30
        while (resent := post(api.url, key, [frozen])).status_code == 503:
            assert time.monotonic() < deadline, resent.text
            time.sleep(0.2)
        body = resent.json()
        assert body["accepted"] + body["duplicates"] == ["during-freeze"]
        wait_applied(store, keys, partitions, timeout=60)
        assert call_outcomes(store, keys)["during-freeze"] == 1
    finally:
        procs.close()
        store.close()

