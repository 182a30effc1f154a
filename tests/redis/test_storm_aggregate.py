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

from outage.api.runtime import Runtime
from outage.bootstrap import Network, build_engine
from outage.ivr import CallerQuery
from outage.redisstore.intake import RedisIntake
from outage.redisstore.keys import Keyspace
from outage.redisstore.service import RedisRuntime
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


def test_the_same_storm_gives_the_same_incidents_declarations_and_ivr_answers_in_both_modes(
    client: Any, keys: Keyspace, network: Network
) -> None:
    """The reclosers' storm with calls from their customers, fed minute by minute with a tick
    each minute: the embedded engine (one process) and the Redis partitions (three
    substations and the aggregator) end with the same incidents and calls, declare the same
    storms (the substations' at the same minute, the system's within a minute), and the IVR
    tells every sampled customer the same."""
    topo = network.topology
    calls = []
    for i, device in enumerate(RECLOSERS):
        below = topo.premises_below(topo.device_index[device])
        for j, premise in enumerate(below[::40].tolist()):
            ts = (T0 + timedelta(minutes=2 + i + j / 3)).isoformat()
            calls.append(
                {"type": "call", "id": f"call-{i}-{j}", "ts": ts,
                 "premise": topo.premise_ids[premise]}
            )  # fmt: skip
    # A tick every minute, as `outage serve --tick-seconds` sends: every partition's clock
    # moves on, not only the one a signal went to.
    ticks = [_tick(minute) for minute in range(1, 12) if minute != 10]
    signals = sorted([*TRIPS, *calls, *ticks], key=lambda s: s["ts"])
    embedded = Runtime(network, None)
    embedded.submit(parse_signal(s) for s in signals)

    intake = RedisIntake(client, network, keys)
    worker = EngineWorker(client, network, keys=keys, name="w1", lease_ms=5000)
    for minute in range(0, 12):  # as the signals arrive: the aggregator sees each minute
        end = (T0 + timedelta(minutes=minute + 1)).isoformat()
        start = (T0 + timedelta(minutes=minute)).isoformat()
        chunk = [parse_signal(s) for s in signals if start <= s["ts"] < end]
        if chunk:
            assert intake.submit(chunk).accepted
        drain(worker, client, keys)
    drain(worker, client, keys)
    redis = RedisRuntime(network, client, keys=keys)

    def incidents(runtime: Any) -> dict[str, tuple[str, tuple[str, ...], int]]:
        rows = runtime.incidents(limit=10_000)["incidents"]
        out = {}
        for row in rows:
            full = runtime.incident(row["id"])
            calls_held = tuple(
                sorted(c["call"] if isinstance(c, dict) else c for c in full["calls"])
            )
            out[row["device"]] = (row["status"], calls_held, row["customers_affected"])
        return out

    assert incidents(redis) == incidents(embedded)
    assert len(incidents(embedded)) == len(RECLOSERS)

    def declared(runtime: Any) -> dict[str, datetime]:
        scopes = runtime.storm()["scopes"]
        return {
            name: datetime.fromisoformat(s["declared_at"])
            for name, s in scopes.items()
            if s["declared"]
        }

    here, there = declared(embedded), declared(redis)
    assert set(here) == set(there) and SYSTEM in here
    for scope, at in here.items():
        if scope == SYSTEM:  # the aggregator's decision: when it saw the minute's figures
            assert timedelta(0) <= there[scope] - at <= timedelta(minutes=1)
        else:  # a substation's own: decided by its partition as by the embedded engine
            assert there[scope] == at, scope
    assert embedded.storm()["rule_set"] == redis.storm()["rule_set"] == "storm"

    keep = ("known_outage", "status", "cause", "customers_affected", "planned")
    for premise in range(0, len(topo.premise_ids), 97):
        query = CallerQuery(premise=topo.premise_ids[premise])
        mine, theirs = embedded.ivr.answer(query), redis.ivr.answer(query)
        assert {k: mine[k] for k in keep} == {k: theirs[k] for k in keep}, query
    redis.close()
