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


def test_reads_redis_does_not_keep_answer_501_naming_what_to_use(
    running: tuple[RedisRuntime, EngineWorker], client: Any, keys: Keyspace
) -> None:
    """Not a 500: the one audit trail is not kept over Redis (yet), and the answer says so and
    where to look instead; hazards are served."""
    runtime, _ = running
    with TestClient(create_app(runtime, keys=ring())) as http:
        for path, hint in (("/v1/audit", "/v1/incidents/"),):
            answer = http.get(path, headers=auth("officer"))
            assert answer.status_code == 501, (path, answer.text)
            assert hint in answer.json()["detail"], path
        hazards = http.get("/v1/hazards", headers=auth("officer"))
        assert hazards.status_code == 200 and hazards.json() is not None
