"""`RedisRuntime`: the `Runtime` surface an API worker serves from Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outage.api.app import create_app
from outage.api.runtime import Runtime
from outage.bootstrap import Network
from outage.ivr import CallerQuery
from outage.redisstore.keys import Keyspace
from outage.redisstore.service import RedisRuntime
from outage.redisstore.worker import EngineWorker
from outage.rules import Rules, StormDetection, StormThresholds
from outage.signals import parse_signal
from tests.api.conftest import auth, ring

from .helpers import wait_applied

pytestmark = pytest.mark.redis


#: Rules under which no system-wide storm is ever declared: the embedded engine decides it at
#: its minute tick, the Redis aggregator when it sees the partitions' figures (up to a batch
#: later in event time), and the storm priors in between would make the two differ in ways
#: that have nothing to do with what a test compares. (`test_storm_aggregate` covers it.)
NO_SYSTEM_STORM = Rules().model_copy(
    update={
        "storm_detection": StormDetection(
            system=StormThresholds(
                customers_out_min=10**9, open_incidents=10**6, call_rate_min_calls=10**6
            )
        )
    }
)


@pytest.fixture
def running(
    request: pytest.FixtureRequest, client: Any, keys: Keyspace, network: Network
) -> Iterator[tuple[RedisRuntime, EngineWorker]]:
    """An API-side runtime and an engine worker thread sharing one Redis (the rules are the
    test's ``rules`` parameter when it has one)."""
    rules = getattr(request, "param", None)
    runtime = RedisRuntime(network, client, keys=keys, rules=rules)
    runtime.start()
    worker = EngineWorker(
        client, network, keys=keys, name="svc", lease_ms=3000, block_ms=50, rules=rules
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    yield runtime, worker
    stop.set()
    thread.join(10)
    runtime.close()


def test_runtime_surface_over_redis(
    running: tuple[RedisRuntime, EngineWorker],
    client: Any,
    keys: Keyspace,
    storm: list[dict[str, Any]],
) -> None:
    runtime, _ = running
    result = runtime.submit(parse_signal(s) for s in storm)
    assert len(result.accepted) == len(storm) and result.events == []
    assert runtime.journal is None
    wait_applied(client, keys, runtime.intake.router.partitions, timeout=60)
    listed = runtime.incidents(limit=10_000)
    assert listed["total"] > 10
    # Calls per hour of event time (before officer commands move the engine clock to now).
    rate = runtime.call_rate(hours=12, bucket_minutes=60)
    assert sum(b["calls"] for b in rate["buckets"]) == runtime.counters()["calls_received"]
    open_rows = [r for r in listed["incidents"] if r["status"] in ("predicted", "confirmed")]
    target = open_rows[0]
    _, outcome = runtime.submit_command(
        id="cmd-svc", by="officer", action="set_etr", incident=target["id"],
        etr="2026-07-02T10:00:00Z",
    )  # fmt: skip
    assert outcome.accepted == ["cmd-svc"] and not outcome.refused
    assert "EtrChanged" in [e.type for e in outcome.events]
    assert runtime.incident(target["id"])["etr"] == "2026-07-02T10:00:00Z"
    # A command the engine refuses comes back refused, as with the embedded runtime.
    _, refused = runtime.submit_command(
        id="cmd-bad", by="officer", action="close", incident=target["id"]
    )
    assert refused.refused and "restore it first" in refused.refused[0]["error"]
    summary = runtime.public_summary()
    assert summary["open_outages"] == runtime.counters()["incidents_open"]
    assert summary["customers_served"] == 24_000
    assert runtime.storm()["scopes"]["system"]["customers_served"] == 24_000
    assert runtime.engine.now is not None
    # The IVR answer for a caller under the incident names it.
    topo = runtime.network.topology
    premise = _premise_under(runtime, target)
    answer = runtime.ivr.answer(CallerQuery(premise=topo.premise_ids[premise]))
    assert answer["known_outage"] and answer["etr"] == "2026-07-02T10:00:00Z"
    # The SSE stream received every event of the global feed, in order.
    deadline = time.monotonic() + 10
    while runtime.stream.last_seq < runtime.feed.last_seq():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert runtime.stream.published == runtime.feed.last_seq() > 0


def _premise_under(runtime: RedisRuntime, row: dict[str, Any]) -> int:
    topo = runtime.network.topology
    if row["level"] == "device":
        return int(topo.premises_below(topo.device_index[row["device"]])[0])
    return int(topo.premises_of_transformer(topo.transformer_index[row["device"]])[0])


@pytest.mark.parametrize("running", [NO_SYSTEM_STORM], indirect=True)
def test_work_orders_and_outage_history_over_redis_match_the_embedded_engine(
    running: tuple[RedisRuntime, EngineWorker],
    client: Any,
    keys: Keyspace,
    network: Network,
    storm: list[dict[str, Any]],
) -> None:
    """The same storm, then a tick every engine sees: each order (by its device) and each
    premise's history read from Redis equal the embedded runtime's (the second implementation
    is the oracle)."""
    redis_runtime, _ = running
    last = max(s.get("ts") or s.get("start") for s in storm)
    tick = {"type": "tick", "id": "tick-end", "ts": last}
    signals = [parse_signal(s) for s in [*storm, tick]]
    embedded = Runtime(network, None, rules=NO_SYSTEM_STORM)
    embedded.submit(signals)
    redis_runtime.submit(signals)
    wait_applied(client, keys, redis_runtime.intake.router.partitions, timeout=60)

    def by_device(runtime: Any) -> dict[str, dict[str, Any]]:
        rows = {}
        for order in runtime.restoration()["work_orders"]:
            device = runtime.incident(order["incident"])["device"]
            rows[device] = {
                k: order[k]
                for k in ("opened_at", "closed_at", "customers", "clock", "step", "area_class")
            } | {"arrival": order["arrival"], "restoration": order["restoration"]}
        return rows

    want = by_device(embedded)
    assert len(want) > 5
    assert by_device(redis_runtime) == want
    topo = network.topology
    restored = [o for o in embedded.restoration()["work_orders"] if o["closed_at"]]
    assert restored
    sample = [topo.premise_ids[p] for p in range(0, len(topo.premise_ids), 211)]

    def plain(history: dict[str, Any]) -> dict[str, Any]:
        rows = [{k: v for k, v in r.items() if k != "incident"} for r in history["history"]]
        return {k: v for k, v in history.items() if k not in ("history", "last")} | {"rows": rows}

    outages = 0
    for premise in sample:
        local = embedded.premise_history(premise)
        assert local is not None
        outages += local["outages"]
        assert plain(redis_runtime.premise_history(premise)) == plain(local), premise
    assert outages > 0
    # Reliability indices from the partitions' incidents equal the embedded engine's own.
    assert redis_runtime.indices() == embedded.indices()
    assert redis_runtime.repeat_outages() == embedded.repeat_outages()
    assert embedded.indices()["cmi"] > 0 and embedded.repeat_outages()


def test_officer_reads_that_once_were_500s_over_redis(
    running: tuple[RedisRuntime, EngineWorker],
    client: Any,
    keys: Keyspace,
    storm: list[dict[str, Any]],
) -> None:
    """The audit trail, indices, repeat outages and hazards over Redis, through the HTTP app
    (each was an AttributeError before `ServiceRuntime` made mypy hold RedisRuntime to them).
    The audit trail lists the commands given, with their outcomes and refusals, once each."""
    runtime, _ = running
    runtime.submit(parse_signal(s) for s in storm)
    wait_applied(client, keys, runtime.intake.router.partitions, timeout=60)
    target = runtime.incidents(status={"predicted"}, limit=1)["incidents"][0]["id"]
    runtime.submit_command(id="cmd-a1", by="officer.li", action="confirm", incident=target)
    runtime.submit_command(id="cmd-a2", by="officer.li", action="close", incident=target)
    runtime.submit_command(id="cmd-a3", by="officer.li", action="rule_set", rule_set="storm")
    with TestClient(create_app(runtime, keys=ring())) as http:
        for path in ("/v1/indices", "/v1/repeat-outages", "/v1/hazards"):
            answer = http.get(path, headers=auth("officer"))
            assert answer.status_code == 200, (path, answer.text)
        audit = http.get("/v1/audit", headers=auth("officer")).json()["commands"]
    mine = {r["id"]: r for r in audit if r["id"].startswith("cmd-a")}
    assert list(mine) == ["cmd-a1", "cmd-a2", "cmd-a3"]  # once each, oldest first
    assert mine["cmd-a1"]["outcome"] == "applied" and mine["cmd-a1"]["incident"] == target
    assert mine["cmd-a2"]["outcome"] == "refused" and "restore it first" in mine["cmd-a2"]["error"]
    assert mine["cmd-a3"]["outcome"] == "applied"  # reached every partition, listed once
    assert [r for r in audit if r["by"] == "storm-aggregator"]  # the typhoon's declaration
