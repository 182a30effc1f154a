"""Signals through Redis end to end: intake streams, one worker, projections, the feed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from outage.bootstrap import Network
from outage.commands import Command
from outage.ivr import CallerQuery, IvrAnswerer
from outage.redisstore.intake import RedisIntake
from outage.redisstore.ivr import RedisIvrAnswerer
from outage.redisstore.keys import Keyspace
from outage.redisstore.views import RedisViews
from outage.redisstore.worker import EngineWorker
from outage.signals import parse_signal

from .helpers import (
    call_outcomes,
    drain,
    feed_events,
    premises_under,
    reference,
    stored_events,
)

pytestmark = pytest.mark.redis


@pytest.fixture
def applied(
    client: Any, keys: Keyspace, network: Network, storm: list[dict[str, Any]]
) -> tuple[RedisIntake, EngineWorker]:
    """The demo storm accepted through Redis and applied by one worker."""
    intake = RedisIntake(client, network, keys)
    result = intake.submit(parse_signal(s) for s in storm)
    assert len(result.accepted) == len(storm)
    worker = EngineWorker(client, network, keys=keys, name="w1", lease_ms=5000)
    drain(worker, client, keys)
    return intake, worker


def test_each_partition_holds_exactly_the_events_its_stream_causes(
    applied: tuple[RedisIntake, EngineWorker], client: Any, keys: Keyspace, network: Network
) -> None:
    intake, _ = applied
    total = 0
    for partition in intake.router.partitions:
        _, expected = reference(client, keys, network, partition)
        assert stored_events(client, keys, partition) == expected, partition
        total += len(expected)
    assert total > 500  # the storm made incidents in every substation
    feed = feed_events(client, keys)
    assert [seq for seq, _, _ in feed] == list(range(1, total + 1))


def test_every_call_ends_in_exactly_one_outcome(
    applied: tuple[RedisIntake, EngineWorker],
    client: Any,
    keys: Keyspace,
    storm: list[dict[str, Any]],
) -> None:
    calls = {s["id"] for s in storm if s["type"] == "call"}
    outcomes = call_outcomes(client, keys)
    assert set(outcomes) == calls
    assert set(outcomes.values()) == {1}


def test_a_resend_is_reported_duplicate_and_not_stored_again(
    applied: tuple[RedisIntake, EngineWorker],
    client: Any,
    keys: Keyspace,
    storm: list[dict[str, Any]],
) -> None:
    intake, _ = applied
    lengths = {p: client.xlen(keys.partition(p).signals) for p in intake.router.partitions}
    again = intake.submit(parse_signal(s) for s in storm[:50])
    assert again.accepted == [] and again.duplicates == [s["id"] for s in storm[:50]]
    assert lengths == {p: client.xlen(keys.partition(p).signals) for p in lengths}


def test_a_batch_repeating_an_id_accepts_it_once(
    client: Any, keys: Keyspace, network: Network
) -> None:
    intake = RedisIntake(client, network, keys)
    call = {"type": "call", "id": "c-x", "ts": "2026-07-01T10:00:00Z"}
    call["premise"] = network.topology.premise_ids[7]
    result = intake.submit([parse_signal(call), parse_signal(call)])
    assert result.accepted == ["c-x"] and result.duplicates == ["c-x"]


def test_unknown_assets_are_rejected_at_intake_with_the_field(
    client: Any, keys: Keyspace, network: Network
) -> None:
    intake = RedisIntake(client, network, keys)
    bad = parse_signal(
        {
            "type": "scada",
            "id": "s-x",
            "ts": "2026-07-01T10:00:00Z",
            "device": "nope",
            "state": "open",
        }
    )
    result = intake.submit([bad])
    assert result.rejected == [{"id": "s-x", "error": "device: unknown device 'nope'"}]
    assert result.accepted == []


def test_ivr_lookups_from_redis_match_the_in_memory_view(
    applied: tuple[RedisIntake, EngineWorker], client: Any, keys: Keyspace, network: Network
) -> None:
    intake, worker = applied
    views = RedisViews(client, intake.router, keys)
    topo = network.topology
    covered = 0
    for partition, state in worker.owned.items():
        # Premises under every open incident of this partition, and some that are not out.
        premises = list(range(0, len(topo.premise_ids), 97)) + premises_under(network, [state])
        got = views.outages(premises)
        for premise in premises:
            if intake.router.substation_of_premise(premise) != partition:
                continue
            want = state.view.covering(premise)
            assert got.covering(premise) == want, topo.premise_ids[premise]
            assert got.scheduled_for(premise) == state.view.scheduled_for(premise)
            covered += want is not None
    assert covered > 10
    # Whole IVR answers by phone agree with the answer built on the worker's own view.
    customers = network.tables.customers
    redis_ivr = RedisIvrAnswerer(views, network.customers, network.locator)
    for phone in customers["phone"].iloc[::500]:
        query = CallerQuery(phone=str(phone))
        premise = redis_ivr.premises(query)[0]
        state = worker.owned[intake.router.substation_of_premise(premise)]
        local = IvrAnswerer(topo, state.view, network.customers, network.locator)
        assert redis_ivr.answer(query) == local.answer(query)


def test_officer_lists_storm_and_counters_are_read_from_redis(
    applied: tuple[RedisIntake, EngineWorker], client: Any, keys: Keyspace
) -> None:
    intake, worker = applied
    views = RedisViews(client, intake.router, keys)
    engines = [s.engine for s in worker.owned.values()]
    listed = views.incidents(limit=10_000)
    expected = {i.id for e in engines for i in e.incidents.values() if i.status != "merged"}
    assert {row["id"] for row in listed["incidents"]} == expected
    assert listed["total"] == len(expected)
    one = listed["incidents"][0]
    detail = views.incident(one["id"])
    assert detail is not None and len(detail["calls"]) == one["calls"]
    counters = views.counters()
    assert counters["calls_received"] == sum(e.calls_received for e in engines)
    assert counters["calls_suppressed"] == sum(e.suppressed_total for e in engines)
    storm = views.storm()
    for name, state in worker.owned.items():
        if name in storm["scopes"] and name != "system":
            declared = state.engine.storm.scopes[name].declared_at is not None
            assert storm["scopes"][name]["declared"] == declared
    assert storm["scopes"]["system"]["open_incidents"] == sum(
        len(s.view.open_incidents()) for s in worker.owned.values()
    )


def test_officer_command_is_routed_to_its_partition_and_audited(
    applied: tuple[RedisIntake, EngineWorker], client: Any, keys: Keyspace
) -> None:
    intake, worker = applied
    views = RedisViews(client, intake.router, keys)
    target = next(row for row in views.incidents(status={"predicted", "confirmed"})["incidents"])
    command = Command(
        id="cmd-1",
        ts=datetime.now(UTC),
        by="officer",
        action="dispatch",
        incident=target["id"],
        crew="crew-7",
    )
    assert intake.submit([command]).accepted == ["cmd-1"]
    drain(worker, client, keys)
    partition = target["substation"]
    outcome = views.command_outcome(partition, "cmd-1")
    assert outcome is not None and outcome["outcome"] == "applied"
    assert any(orjson.loads(e)["type"] == "CrewDispatched" for e in outcome["events"])
    detail = views.incident(target["id"])
    assert detail is not None and detail["crew"] == "crew-7"
    assert [c["id"] for c in detail["commands"]] == ["cmd-1"]
    bogus = Command(
        id="cmd-2",
        ts=datetime.now(UTC),
        by="officer",
        action="confirm",
        incident=f"INC-{partition}-999999",
    )
    intake.submit([bogus])
    drain(worker, client, keys)
    refused = views.command_outcome(partition, "cmd-2")
    assert refused is not None and refused["outcome"] == "rejected"
    assert "no incident" in refused["error"]


def test_a_service_drop_covers_its_premise_alone_in_redis_as_in_memory(
    client: Any, keys: Keyspace, network: Network
) -> None:
    """A lone call on a many-premise transformer: Redis's IVR covering names the incident for
    the caller and for nobody else under the transformer, like the worker's own view; a
    neighbour's call widens it there too."""
    topo = network.topology
    transformer = next(
        t for t in range(len(topo.transformer_ids)) if len(topo.premises_of_transformer(t)) >= 4
    )
    caller, neighbour, *rest = (int(p) for p in topo.premises_of_transformer(transformer))
    intake = RedisIntake(client, network, keys)
    worker = EngineWorker(client, network, keys=keys, name="w1", lease_ms=5000)
    views = RedisViews(client, intake.router, keys)
    state = worker_state = None

    def post(premise: int, minute: int) -> None:
        nonlocal state, worker_state
        signal = {
            "type": "call",
            "id": f"lone-{premise}",
            "ts": f"2026-07-01T10:{minute:02d}:00+00:00",
            "premise": topo.premise_ids[premise],
        }
        assert intake.submit([parse_signal(signal)]).accepted
        drain(worker, client, keys)
        worker_state = worker.owned[intake.router.substation_of_premise(caller)]
        state = views.outages([caller, neighbour, *rest])

    post(caller, 0)
    assert state is not None and worker_state is not None
    covering = state.covering(caller)
    assert covering is not None and covering.premise == topo.premise_ids[caller]
    assert covering.customers == 1
    for premise in (neighbour, *rest):
        assert state.covering(premise) is None
    for premise in (caller, neighbour, *rest):
        assert state.covering(premise) == worker_state.view.covering(premise)
    post(neighbour, 2)
    widened = state.covering(neighbour)
    assert widened is not None and widened.id == covering.id and widened.premise == ""
    for premise in (caller, neighbour, *rest):
        assert state.covering(premise) == worker_state.view.covering(premise) == widened
