"""A system-wide storm over Redis is declared from every partition's figures together.

Three reclosers trip by SCADA, one in each substation (581-689 customers each): no substation
reaches its own storm threshold (800) nor the system's (1,200) alone, the three together do.
The oracle is the embedded engine, which sees the whole network at once: it declares the
system storm; so must every Redis partition, through the aggregator's one ``storm`` command,
journaled in each stream, and the storm priors switch on everywhere. When the reclosers close
and the figures stay clear for the hold time, both stand down.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from outage.bootstrap import Network, build_engine
from outage.redisstore.intake import RedisIntake
from outage.redisstore.keys import Keyspace
from outage.redisstore.storm import SystemStorm
from outage.redisstore.views import RedisViews
from outage.redisstore.worker import EngineWorker
from outage.signals import parse_signal
from outage.storm import SYSTEM

from .helpers import drain

pytestmark = pytest.mark.redis

RECLOSERS = ("recloser.s001f3p12", "recloser.s002f3p12", "recloser.s003f4p12")
T0 = datetime.fromisoformat("2026-07-01T10:00:00+00:00")


def _scada(device: str, state: str, minute: float) -> dict[str, Any]:
    ts = (T0 + timedelta(minutes=minute)).isoformat()
    return {"type": "scada", "id": f"{device}-{state}", "ts": ts, "device": device, "state": state}


def _tick(minute: float) -> dict[str, Any]:
    ts = (T0 + timedelta(minutes=minute)).isoformat()
    return {"type": "tick", "id": f"tick-{minute}", "ts": ts}


TRIPS = [_scada(d, "open", 1 + i) for i, d in enumerate(RECLOSERS)] + [_tick(10)]
CLOSES = [_scada(d, "closed", 30 + i) for i, d in enumerate(RECLOSERS)]
LATER = [_tick(40), _tick(95), _tick(100)]


def _embedded(network: Network, signals: list[dict[str, Any]]) -> list[Any]:
    engine = build_engine(network)
    events = []
    for signal in signals:
        events += engine.handle(parse_signal(signal))
    return [e for e in events if e.type in ("StormDeclared", "StormStoodDown")]


def _journaled(client: Any, keys: Keyspace, partition: str) -> list[dict[str, Any]]:
    """The storm events a partition's engine wrote to its event stream."""
    out = []
    for _, fields in client.xrange(keys.partition(partition).events):
        if fields[b"type"] in (b"StormDeclared", b"StormStoodDown"):
            out.append({"type": fields[b"type"].decode()} | orjson.loads(fields[b"body"]))
    return out


def test_the_system_storm_is_declared_from_every_partition_together(
    client: Any, keys: Keyspace, network: Network
) -> None:
    topo = network.topology
    out = [int(topo.device_customers[topo.device_index[d]]) for d in RECLOSERS]
    assert max(out) < 800 and sum(out) >= 1200  # only the sum crosses the system threshold

    embedded = _embedded(network, TRIPS)
    assert [(e.type, e.scope) for e in embedded] == [("StormDeclared", SYSTEM)]

    intake = RedisIntake(client, network, keys)
    worker = EngineWorker(client, network, keys=keys, name="w1", lease_ms=5000)
    assert intake.submit(parse_signal(s) for s in TRIPS).accepted
    drain(worker, client, keys)  # the last batch's step decides and sends the command
    drain(worker, client, keys)  # ... which every partition then applies
    partitions = intake.router.partitions
    for partition in partitions:
        state = worker.owned[partition]
        assert state.engine.storm.system_declared, partition
        assert state.engine.rule_set == "storm", partition
        (declared,) = _journaled(client, keys, partition)
        assert declared["type"] == "StormDeclared" and declared["scope"] == SYSTEM
        assert declared["reasons"] == [f"system: customers out {sum(out)} >= 1200"]
        # Declared on the partitions' event time, not before the embedded engine did.
        at = datetime.fromisoformat(declared["at"])
        assert embedded[0].at <= at <= T0 + timedelta(minutes=10)
    views = RedisViews(client, intake.router, keys)
    system = views.storm()["scopes"][SYSTEM]
    assert system["declared"] and system["customers_out"] == sum(out)
    assert views.storm()["rule_set"] == "storm"

    # Clear: the reclosers close; the storm stands down after the hold time, in both modes.
    assert intake.submit(parse_signal(s) for s in [*CLOSES, *LATER]).accepted
    for _ in range(3):
        drain(worker, client, keys)
    embedded = _embedded(network, [*TRIPS, *CLOSES, *LATER])
    assert [(e.type, e.scope) for e in embedded] == [
        ("StormDeclared", SYSTEM),
        ("StormStoodDown", SYSTEM),
    ]
    for partition in partitions:
        types = [e["type"] for e in _journaled(client, keys, partition)]
        assert types == ["StormDeclared", "StormStoodDown"], partition
        assert worker.owned[partition].engine.rule_set == "normal"
    assert not views.storm()["declared"]


def test_two_aggregators_make_one_decision_and_a_lost_send_is_made_again(
    client: Any, keys: Keyspace, network: Network
) -> None:
    intake = RedisIntake(client, network, keys)
    worker = EngineWorker(client, network, keys=keys, name="w1", lease_ms=5000)
    assert intake.submit(parse_signal(s) for s in TRIPS).accepted
    worker.system_storm.step = lambda: None  # type: ignore[method-assign]  # decide by hand
    drain(worker, client, keys)
    rules = worker.rules
    first, second = (
        SystemStorm(client, network, rules, keys),
        SystemStorm(client, network, rules, keys),
    )
    assert first.step() == "declare"
    assert second.step() is None  # the same figures: already decided
    state = first.state()
    assert state["generation"] == "1" and state["delivered"] == "1"
    # A worker that died between deciding and sending: the next step sends it again, and the
    # intake takes the resend as the duplicate it is.
    client.hdel(keys.system_storm, "delivered")
    assert second.step() is None and second.state()["delivered"] == "1"
    drain(worker, client, keys)
    for partition in intake.router.partitions:
        storms = [e for e in _journaled(client, keys, partition) if e["scope"] == SYSTEM]
        assert [e["type"] for e in storms] == ["StormDeclared"], partition
        assert storms[0]["reasons"][0].startswith("system: customers out")
