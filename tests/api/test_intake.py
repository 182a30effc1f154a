"""POST /v1/signals: accepted / duplicate / rejected per signal, limits, durability."""

from __future__ import annotations

from pathlib import Path

import orjson
from fastapi.testclient import TestClient

from outage.api.app import create_app
from outage.api.runtime import Runtime
from outage.api.settings import ServiceSettings
from outage.bootstrap import Network
from outage.journal import SqliteJournal

from .conftest import auth, ring
from .helpers import call, fuse_with_transformers, premise_of, storm_clock


def test_batch_reports_each_signal_and_loses_nothing(
    client: TestClient, network: Network, runtime: Runtime
) -> None:
    _, transformers = fuse_with_transformers(network)
    good = [call(premise_of(network, t)) for t in transformers]
    bad = {"type": "call", "id": "bad-1", "ts": "2026-07-01T10:00:00Z", "kind": "smoke"}
    answer = client.post("/v1/signals", json=[*good, bad], headers=auth("intake"))
    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] == [s["id"] for s in good]
    (rejected,) = body["rejected"]
    assert rejected["index"] == 3 and rejected["id"] == "bad-1"
    assert "kind" in rejected["error"] and "signals[3]" in rejected["error"]
    again = client.post("/v1/signals", json=good[:1], headers=auth("intake")).json()
    assert again["duplicates"] == [good[0]["id"]] and again["accepted"] == []
    assert runtime.engine.calls_received == 3  # the duplicate changed nothing


def test_ndjson_body_is_accepted(client: TestClient, network: Network) -> None:
    _, transformers = fuse_with_transformers(network)
    lines = b"\n".join(orjson.dumps(call(premise_of(network, t))) for t in transformers)
    headers = auth("intake") | {"Content-Type": "application/x-ndjson"}
    answer = client.post("/v1/signals", content=lines, headers=headers)
    assert answer.status_code == 202 and len(answer.json()["accepted"]) == 3


def test_nothing_acceptable_is_422_naming_the_field(client: TestClient) -> None:
    answer = client.post("/v1/signals", json={"type": "meter"}, headers=auth("intake"))
    assert answer.status_code == 422
    assert "premise" in answer.json()["rejected"][0]["error"]
    answer = client.post("/v1/signals", content=b"{not json", headers=auth("intake"))
    assert answer.status_code == 422 and answer.json()["detail"].startswith("body: not JSON")
    answer = client.post("/v1/signals", content=b"", headers=auth("intake"))
    assert answer.status_code == 422 and "empty" in answer.json()["detail"]


def test_unknown_device_is_rejected_with_the_field(client: TestClient) -> None:
    scada = {
        "type": "scada",
        "id": "s-1",
        "ts": "2026-07-01T10:00:00Z",
        "device": "nope",
        "state": "open",
    }
    answer = client.post("/v1/signals", json=scada, headers=auth("intake"))
    assert answer.status_code == 422
    assert answer.json()["rejected"][0]["error"] == "device: unknown device 'nope'"


def test_batch_and_body_limits(runtime: Runtime, network: Network) -> None:
    settings = ServiceSettings(max_batch=2, max_body_bytes=4096)
    with TestClient(create_app(runtime, settings, ring(), clock=storm_clock)) as client:
        _, transformers = fuse_with_transformers(network)
        three = [call(premise_of(network, t)) for t in transformers]
        answer = client.post("/v1/signals", json=three, headers=auth("intake"))
        assert answer.status_code == 413 and "limit of 2" in answer.json()["detail"]
        huge = [call(premise_of(network, transformers[0]), note="x" * 1900) for _ in range(3)]
        answer = client.post("/v1/signals", json=huge, headers=auth("intake"))
        assert answer.status_code == 413
    assert runtime.engine.calls_received == 0


def test_keys_and_roles(client: TestClient) -> None:
    assert client.post("/v1/signals", json={}).status_code == 401
    wrong = client.post("/v1/signals", json={}, headers=auth("ivr"))
    assert wrong.status_code == 403 and "intake" in wrong.json()["detail"]
    unknown = client.post("/v1/signals", json={}, headers={"X-API-Key": "not-a-key-at-all"})
    assert unknown.status_code == 401
    admin = client.post("/v1/signals", json={}, headers=auth("admin"))
    assert admin.status_code == 422  # admin may post; the body is what is wrong


def test_rate_limit_per_key(runtime: Runtime) -> None:
    with TestClient(
        create_app(runtime, ServiceSettings(), ring(rate=0.5), clock=storm_clock)
    ) as client:
        codes = [client.get("/v1/storm", headers=auth("officer")).status_code for _ in range(3)]
        assert codes[0] == 200 and codes[-1] == 429
        limited = client.get("/v1/storm", headers=auth("officer"))
        assert int(limited.headers["Retry-After"]) >= 1
        # other keys have their own bucket
        assert client.get("/v1/ivr/lookup?premise=x", headers=auth("ivr")).status_code == 200


def test_accepted_signals_survive_a_restart(network: Network, tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = SqliteJournal(path)
    first = Runtime(network, journal)
    _, transformers = fuse_with_transformers(network)
    with TestClient(create_app(first, ServiceSettings(), ring(), clock=storm_clock)) as client:
        signals = [call(premise_of(network, t)) for t in transformers]
        assert client.post("/v1/signals", json=signals, headers=auth("intake")).status_code == 202
        before = client.get("/v1/incidents", headers=auth("officer")).json()
    journal.close()
    second = Runtime(network, SqliteJournal(path))
    with TestClient(create_app(second, ServiceSettings(), ring(), clock=storm_clock)) as client:
        after = client.get("/v1/incidents", headers=auth("officer")).json()
        premise = signals[0]["premise"]
        lookup = client.get("/v1/ivr/lookup", params={"premise": premise}, headers=auth("ivr"))
    assert after == before and after["total"] == 1
    assert lookup.json()["incident"] == before["incidents"][0]["id"]  # read view rebuilt


def test_a_refused_signal_is_named_by_its_position_in_the_request(client: TestClient) -> None:
    scada = {
        "type": "scada",
        "id": "s-9",
        "ts": "2026-07-01T10:00:00Z",
        "device": "nope",
        "state": "open",
    }
    malformed = {"type": "meter", "id": "m-9"}
    answer = client.post("/v1/signals", json=[malformed, scada], headers=auth("intake"))
    by_id = {r["id"]: r for r in answer.json()["rejected"]}
    assert by_id["m-9"]["index"] == 0
    assert by_id["s-9"]["index"] == 1  # not 0: its place in the request, not among the valid
