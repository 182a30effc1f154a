"""The same pipeline on a 3-master Redis Cluster started on loopback ports."""

from __future__ import annotations

import shutil
import subprocess
import time
from typing import Any

import pytest
from redis.cluster import RedisCluster

from outage.bootstrap import Network
from outage.redisstore.connect import connect
from outage.redisstore.intake import RedisIntake
from outage.redisstore.keys import Keyspace
from outage.redisstore.views import RedisViews
from outage.redisstore.worker import EngineWorker
from outage.signals import parse_signal

from .conftest import cluster_port, no_redis
from .helpers import call_outcomes, premises_under, reference, stored_events

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def cluster_url(server_factory: Any) -> str:
    """Three masters with ``cluster-enabled``, joined by ``redis-cli --cluster create``."""
    cli = shutil.which("redis-cli")
    if cli is None:
        no_redis("no redis-cli to create a cluster")
    assert cli is not None
    nodes = []
    for n in range(3):
        port = cluster_port()
        nodes.append(
            server_factory(
                f"node{n}", "--cluster-enabled", "yes", "--cluster-config-file",
                "nodes.conf", "--cluster-node-timeout", "2000", "--appendonly", "yes",
                port=port,
            )
        )  # fmt: skip
    addresses = [f"127.0.0.1:{s.port}" for s in nodes]
    subprocess.run(
        [cli, "--cluster", "create", *addresses, "--cluster-yes"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        info = subprocess.run(
            [cli, "-p", str(nodes[0].port), "cluster", "info"], capture_output=True, text=True
        ).stdout
        if "cluster_state:ok" in info:
            return nodes[0].url
        assert time.monotonic() < deadline, info
        time.sleep(0.2)


def test_storm_through_a_redis_cluster(
    cluster_url: str, network: Network, storm: list[dict[str, Any]]
) -> None:
    client = connect(cluster_url)
    assert isinstance(client, RedisCluster)
    keys = Keyspace()
    intake = RedisIntake(client, network, keys)
    # Partitions spread over the masters (one hash slot per partition's keys).
    slots = {client.keyslot(keys.partition(p).signals) for p in intake.router.partitions}
    nodes = {client.get_node_from_key(keys.partition(p).signals).name
             for p in intake.router.partitions}  # fmt: skip
    assert len(slots) == len(intake.router.partitions) and len(nodes) >= 2
    result = intake.submit(parse_signal(s) for s in storm)
    assert len(result.accepted) == len(storm)
    first = EngineWorker(client, network, keys=keys, name="c1", lease_ms=5000)
    second = EngineWorker(client, network, keys=keys, name="c2", lease_ms=5000)
    for _ in range(3):  # both heartbeat, then share the partitions
        first.balance()
        second.balance()
    assert first.owned and second.owned and not (set(first.owned) & set(second.owned))
    deadline = time.monotonic() + 60
    while True:
        done = first.step() + second.step()
        if done == 0 and _all_applied(client, keys, intake.router.partitions):
            break
        assert time.monotonic() < deadline
    for partition in intake.router.partitions:
        _, expected = reference(client, keys, network, partition)
        assert stored_events(client, keys, partition) == expected, partition
    outcomes = call_outcomes(client, keys)
    assert set(outcomes.values()) == {1}
    assert set(outcomes) == {s["id"] for s in storm if s["type"] == "call"}
    views = RedisViews(client, intake.router, keys)
    states = {**first.owned, **second.owned}
    premises = list(range(0, len(network.topology.premise_ids), 50))
    premises += premises_under(network, states.values())
    got = views.outages(premises)
    hits = 0
    for premise in premises:
        want = states[intake.router.substation_of_premise(premise)].view.covering(premise)
        assert got.covering(premise) == want
        hits += want is not None
    assert hits > 0
    assert views.incidents(limit=5)["total"] > 0


def _all_applied(client: Any, keys: Keyspace, partitions: tuple[str, ...]) -> bool:
    for partition in partitions:
        k = keys.partition(partition)
        last = client.xrevrange(k.signals, count=1)
        if last and client.get(k.applied) != last[0][0]:
            return False
    return True
