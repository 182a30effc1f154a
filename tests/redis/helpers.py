"""Helpers for the Redis tests: drive a worker to completion, rebuild the reference answer."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import redis

from outage.bootstrap import Network
from outage.events import ends_call, from_json, to_json
from outage.host import decode
from outage.redisstore.intake import RedisIntake
from outage.redisstore.keys import GROUP, Keyspace
from outage.redisstore.partition import Router
from outage.redisstore.projection import PartitionState
from outage.redisstore.worker import EngineWorker, stream_id
from outage.rules import Rules
from tests.conftest import DEMO_GPKG, PROJECT


def stream_ends(client: Any, keys: Keyspace, partitions: tuple[str, ...]) -> dict[str, str]:
    """The last entry id of every non-empty partition stream."""
    out = {}
    for partition in partitions:
        last = client.xrevrange(keys.partition(partition).signals, count=1)
        if last:
            out[partition] = last[0][0].decode()
    return out


def all_applied(client: Any, keys: Keyspace, partitions: tuple[str, ...]) -> bool:
    """True when every partition's ``applied`` id is its stream's last entry."""
    for partition, last in stream_ends(client, keys, partitions).items():
        raw = client.get(keys.partition(partition).applied)
        if raw is None or stream_id(raw) < stream_id(last):
            return False
    return True


def drain(worker: EngineWorker, client: Any, keys: Keyspace, timeout: float = 60) -> None:
    """Step ``worker`` until every partition stream is applied."""
    partitions = Router(worker.network).partitions
    deadline = time.monotonic() + timeout
    while not all_applied(client, keys, partitions):
        assert time.monotonic() < deadline, "worker did not apply every stream in time"
        worker.step()


def wait_applied(client: Any, keys: Keyspace, partitions: tuple[str, ...], timeout: float) -> None:
    """Wait (for worker processes) until every partition stream is applied."""
    deadline = time.monotonic() + timeout
    while not all_applied(client, keys, partitions):
        assert time.monotonic() < deadline, "workers did not apply every stream in time"
        time.sleep(0.1)


def reference(
    client: Any, keys: Keyspace, network: Network, partition: str
) -> tuple[PartitionState, list[tuple[str, bytes]]]:
    """A fresh partition state fed the partition's stream in process: its events
    ``(type, body)`` are what Redis must hold, once each, in order."""
    state = PartitionState(partition, network, Rules())
    events: list[tuple[str, bytes]] = []
    for entry_id, fields in client.xrange(keys.partition(partition).signals):
        for event in state.apply(decode(fields[b"body"]), entry_id.decode()):
            events.append((event.type, to_json(event)))
    return state, events


def stored_events(client: Any, keys: Keyspace, partition: str) -> list[tuple[str, bytes]]:
    """The events Redis holds for ``partition``, in order."""
    return [
        (f[b"type"].decode(), f[b"body"])
        for _, f in client.xrange(keys.partition(partition).events)
    ]


def feed_events(client: Any, keys: Keyspace) -> list[tuple[int, str, bytes]]:
    """The global feed: (seq, type, body)."""
    return [
        (int(i.split(b"-")[0]), f[b"type"].decode(), f[b"body"])
        for i, f in client.xrange(keys.events_stream)
    ]


def call_outcomes(client: Any, keys: Keyspace) -> Counter[str]:
    """How many times each call id ended (`outage.events.ends_call`) on the global feed."""
    seen: Counter[str] = Counter()
    for _, kind, body in feed_events(client, keys):
        event = from_json(kind, body)
        if ends_call(event):
            seen[event.call] += 1
    return seen


def plain_client(url: str) -> redis.Redis:
    """A bytes client for ``url``."""
    return redis.Redis.from_url(url, socket_timeout=5)


def premises_under(network: Network, states: Any, per_incident: int = 3) -> list[int]:
    """A few premises under every open incident of the given partition states."""
    topo = network.topology
    out: list[int] = []
    for state in states:
        for summary in state.view.open_incidents():
            if summary.level == "device":
                found = topo.premises_below(topo.device_index[summary.asset])
            else:
                found = topo.premises_of_transformer(topo.transformer_index[summary.asset])
            out += [int(p) for p in found[:per_incident]]
    return out


def start_worker(url: str, keys: Keyspace, name: str, log: Path) -> subprocess.Popen[bytes]:
    """``outage worker`` as its own process (small batches, short lease)."""
    args = [
        sys.executable, "-m", "outage", "worker", "--store", url, "--topology", str(DEMO_GPKG),
        "--prefix", keys.prefix, "--name", name, "--lease-ms", "1500", "--batch", "25",
    ]  # fmt: skip
    return subprocess.Popen(
        args,
        cwd=PROJECT,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),
    )


def wait_owned(
    client: Any, keys: Keyspace, partitions: tuple[str, ...], proc: subprocess.Popen[bytes]
) -> None:
    """Wait until a worker process holds the lease of every partition."""
    deadline = time.monotonic() + 60
    while not all(client.exists(keys.partition(p).owner) for p in partitions):
        assert time.monotonic() < deadline and proc.poll() is None, "worker never took leases"
        time.sleep(0.1)


def assert_exactly_once(client: Any, keys: Keyspace, network: Network, storm: list[Any]) -> None:
    """Every partition holds exactly its stream's events once; each call has one outcome."""
    intake_partitions = RedisIntake(client, network, keys).router.partitions
    total = 0
    for partition in intake_partitions:
        _, expected = reference(client, keys, network, partition)
        assert stored_events(client, keys, partition) == expected, partition
        total += len(expected)
        pending = client.xpending(keys.partition(partition).signals, GROUP)
        assert pending["pending"] == 0, partition
    assert [seq for seq, _, _ in feed_events(client, keys)] == list(range(1, total + 1))
    outcomes = call_outcomes(client, keys)
    assert set(outcomes) == {s["id"] for s in storm if s["type"] == "call"}
    assert set(outcomes.values()) == {1}
