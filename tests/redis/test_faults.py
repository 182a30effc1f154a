"""Faults: a worker killed mid-storm, a crash on either side of the write, a stale worker,
Redis restarted from its AOF, Redis unreachable."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from outage.bootstrap import Network
from outage.redisstore.connect import connect
from outage.redisstore.errors import LeaseLost, StoreUnavailable
from outage.redisstore.intake import RedisIntake
from outage.redisstore.keys import GROUP, Keyspace
from outage.redisstore.views import RedisViews
from outage.redisstore.worker import EngineWorker
from outage.signals import parse_signal

from .helpers import (
    all_applied,
    assert_exactly_once,
    drain,
    plain_client,
    start_worker,
    wait_applied,
    wait_owned,
)

pytestmark = pytest.mark.redis


@pytest.mark.slow
def test_kill_9_a_worker_mid_storm_and_start_another(
    redis_url: str,
    client: Any,
    keys: Keyspace,
    network: Network,
    storm: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    intake = RedisIntake(client, network, keys)
    partitions = intake.router.partitions
    signals = [parse_signal(s) for s in storm]
    first = start_worker(redis_url, keys, "worker-a", tmp_path / "a.log")
    try:
        wait_owned(client, keys, partitions, first)
        sent = 0
        killed_at: int | None = None
        while sent < len(signals):
            intake.submit(signals[sent : sent + 100])
            sent += 100
            time.sleep(0.03)
            progress = [client.get(keys.partition(p).applied) for p in partitions]
            if killed_at is None and sent > len(signals) // 3 and any(progress):
                first.send_signal(signal.SIGKILL)  # mid-storm: its batches in flight
                first.wait(10)
                killed_at = sent
        assert killed_at is not None, "worker A never applied anything before the storm ended"
        assert not all_applied(client, keys, partitions)
        second = start_worker(redis_url, keys, "worker-b", tmp_path / "b.log")
        try:
            wait_applied(client, keys, partitions, timeout=90)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
    finally:
        if first.poll() is None:
            first.kill()
    assert_exactly_once(client, keys, network, storm)
    log = (tmp_path / "b.log").read_text()
    assert "took" in log  # B took the partitions over after A's leases expired


@pytest.mark.parametrize("crash", ["before_write", "after_write_before_ack"])
def test_a_crash_on_either_side_of_the_write_applies_everything_once(
    crash: str,
    client: Any,
    keys: Keyspace,
    network: Network,
    storm: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    intake = RedisIntake(client, network, keys)
    intake.submit(parse_signal(s) for s in storm[:2000])
    dying = EngineWorker(client, network, keys=keys, name="dying", lease_ms=5000, batch=100)
    dying.balance()
    dying.step()  # a first batch per partition, written and acknowledged

    class Crash(Exception):
        pass

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise Crash

    if crash == "before_write":
        monkeypatch.setattr(dying, "_apply", boom)
    else:
        monkeypatch.setattr(dying, "client", _NoAck(client, boom))
    with pytest.raises(Crash):
        dying.step()
    # The process is gone: its leases expire; its delivered entries are pending.
    pending = sum(client.xpending(keys.partition(p).signals, GROUP)["pending"] for p in dying.owned)
    assert pending > 0
    for partition in intake.router.partitions:
        client.delete(keys.partition(partition).owner)
    intake.submit(parse_signal(s) for s in storm[2000:])
    successor = EngineWorker(client, network, keys=keys, name="successor", lease_ms=5000)
    drain(successor, client, keys)
    assert_exactly_once(client, keys, network, storm)


class _NoAck:
    """The shared client, except that XACK crashes the worker."""

    def __init__(self, client: Any, boom: Any) -> None:
        self._client = client
        self.xack = boom

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_worker_whose_lease_expired_is_fenced_off(
    client: Any, keys: Keyspace, network: Network, storm: list[dict[str, Any]]
) -> None:
    intake = RedisIntake(client, network, keys)
    intake.submit(parse_signal(s) for s in storm[:1000])
    stale = EngineWorker(client, network, keys=keys, name="stale", lease_ms=60_000)
    drain(stale, client, keys)
    # The stale worker pauses (GC, network): its leases lapse and another worker takes over.
    for partition in intake.router.partitions:
        client.delete(keys.partition(partition).owner)
    owner = EngineWorker(
        client, network, keys=keys, name="owner", lease_ms=60_000,
        partitions=intake.router.partitions,
    )  # fmt: skip
    owner.balance()
    assert set(owner.owned) == set(intake.router.partitions)
    intake.submit(parse_signal(s) for s in storm[1000:])
    # The stale worker wakes up: it may neither take new entries nor write.
    remembered = dict(stale.owned)
    assert stale.step() == 0
    assert stale.owned == {}
    # A partition the stale worker had applied entries of (which one depends on the storm).
    partition = next(p for p, st in sorted(remembered.items()) if st.applied)
    stale.owned[partition] = state = remembered[partition]  # as if it had read just before
    entry = client.xrange(keys.partition(partition).signals, "(" + state.applied, "+", count=1)
    with pytest.raises(LeaseLost):
        stale._process(partition, entry)
    assert partition not in stale.owned
    drain(owner, client, keys)
    assert_exactly_once(client, keys, network, storm)


@pytest.mark.slow
def test_redis_restart_with_aof_brings_the_state_back(
    server_factory: Any, network: Network, storm: list[dict[str, Any]]
) -> None:
    server = server_factory("aof", "--appendonly", "yes", "--appendfsync", "always")
    keys = Keyspace()
    client = plain_client(server.url)
    intake = RedisIntake(client, network, keys)
    intake.submit(parse_signal(s) for s in storm[:3000])
    worker = EngineWorker(client, network, keys=keys, name="w", lease_ms=3000)
    drain(worker, client, keys)
    views = RedisViews(client, intake.router, keys)
    before = (views.incidents(limit=10_000), views.counters(), views.storm())
    probe = list(range(0, len(network.topology.premise_ids), 211))
    ivr_before = [views.outages(probe).covering(p) for p in probe]

    server.kill()
    with pytest.raises(StoreUnavailable):
        intake.submit([parse_signal(storm[3000])])
    server.start()

    client = plain_client(server.url)
    intake = RedisIntake(client, network, keys)
    views = RedisViews(client, intake.router, keys)
    assert (views.incidents(limit=10_000), views.counters(), views.storm()) == before
    assert [views.outages(probe).covering(p) for p in probe] == ivr_before
    assert any(ivr_before)
    # Work continues where it stopped: the rest of the storm, a new worker, exactly once.
    intake.submit(parse_signal(s) for s in storm[3000:])
    drain(EngineWorker(client, network, keys=keys, name="w2", lease_ms=3000), client, keys)
    assert_exactly_once(client, keys, network, storm)


def test_redis_unreachable_raises_store_unavailable(
    server_factory: Any, network: Network, storm: list[dict[str, Any]]
) -> None:
    server = server_factory("down")
    client = plain_client(server.url)
    intake = RedisIntake(client, network, Keyspace())
    views = RedisViews(client, intake.router, Keyspace())
    server.kill()
    with pytest.raises(StoreUnavailable, match=r"intake to partition .*Redis is unreachable"):
        intake.submit([parse_signal(storm[1])])
    with pytest.raises(StoreUnavailable, match="IVR lookup"):
        views.outages([0])
    with pytest.raises(StoreUnavailable, match="unreachable"):
        connect(server.url, timeout_s=0.5)


def test_the_cli_worker_stops_cleanly_on_sigterm_and_hands_its_partitions_back(
    redis_url: str, client: Any, keys: Keyspace, tmp_path: Path
) -> None:
    proc = start_worker(redis_url, keys, "polite", tmp_path / "w.log")
    partitions = ("substation.s001", "system")
    wait_owned(client, keys, partitions, proc)
    owners = [keys.partition(p).owner for p in partitions]
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(20) == 0
    assert not any(client.exists(o) for o in owners)
