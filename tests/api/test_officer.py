"""Duty officer endpoints: incident lists and details, audited commands, storm, indices."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from outage.bootstrap import Network

from .conftest import auth
from .helpers import call, fuse_with_transformers, premise_of

OFFICER = auth("officer")


def post(client: TestClient, path: str, body: Any = None, **headers: str) -> Any:
    return client.post(path, json=body, headers=OFFICER | headers)


def fuse_outage(client: TestClient, network: Network) -> dict[str, Any]:
    """Calls from three transformers of a fuse: one incident at the fuse."""
    _, transformers = fuse_with_transformers(network)
    signals = [call(premise_of(network, t), minute=n) for n, t in enumerate(transformers)]
    assert client.post("/v1/signals", json=signals, headers=auth("intake")).status_code == 202
    (incident,) = client.get("/v1/incidents", headers=OFFICER).json()["incidents"]
    return incident  # type: ignore[no-any-return]


def test_lifecycle_commands_are_audited_and_reach_the_ivr(
    client: TestClient, network: Network
) -> None:
    incident = fuse_outage(client, network)
    path = f"/v1/incidents/{incident['id']}"
    assert post(client, f"{path}/confirm").json()["incident"]["status"] == "confirmed"
    dispatched = post(client, f"{path}/dispatch", {"crew": "crew-07"}).json()
    assert dispatched["incident"]["crew"] == "crew-07"
    assert "CrewDispatched" in [e["type"] for e in dispatched["events"]]
    etr = post(client, f"{path}/etr", {"etr": "2026-07-01T20:30:00+08:00"}).json()
    assert etr["incident"]["etr"] == "2026-07-01T12:30:00Z"
    premise = client.get(path, headers=OFFICER).json()["calls"][0]["premise"]
    heard = client.get("/v1/ivr/lookup", params={"premise": premise}, headers=auth("ivr")).json()
    assert heard["status"] == "dispatched" and heard["etr"] == "2026-07-01T12:30:00Z"
    assert "20:30" in heard["message"]["zh-CN"] and "20:30" in heard["message"]["en"]
    restored = post(client, f"{path}/restore").json()["incident"]
    assert restored["status"] == "restored"
    assert post(client, f"{path}/close").json()["incident"]["status"] == "closed"
    detail = client.get(path, headers=OFFICER).json()
    assert [c["action"] for c in detail["commands"]] == [
        "confirm",
        "dispatch",
        "set_etr",
        "restore",
        "close",
    ]
    assert {c["by"] for c in detail["commands"]} == {"officer"}
    assert [t["status"] for t in detail["timeline"]] == [
        "predicted",
        "confirmed",
        "dispatched",
        "restored",
        "closed",
    ]
    after = client.get("/v1/ivr/lookup", params={"premise": premise}, headers=auth("ivr")).json()
    assert after["known_outage"] is False


def test_refused_commands_are_409_and_audited(client: TestClient, network: Network) -> None:
    incident = fuse_outage(client, network)
    refused = post(client, f"/v1/incidents/{incident['id']}/close")
    assert refused.status_code == 409 and "restore it first" in refused.json()["detail"]
    audit = client.get("/v1/audit", headers=OFFICER).json()["commands"]
    assert audit[-1]["outcome"] == "refused" and audit[-1]["action"] == "close"
    assert post(client, "/v1/incidents/INC-999999/confirm").status_code == 404
    missing = post(client, f"/v1/incidents/{incident['id']}/dispatch", {})
    assert missing.status_code == 422 and "crew" in missing.json()["detail"]


def test_idempotency_key_makes_a_retry_a_no_op(client: TestClient, network: Network) -> None:
    incident = fuse_outage(client, network)
    path = f"/v1/incidents/{incident['id']}/dispatch"
    first = post(client, path, {"crew": "c1"}, **{"Idempotency-Key": "k-1"}).json()
    second = post(client, path, {"crew": "c1"}, **{"Idempotency-Key": "k-1"}).json()
    assert first["duplicate"] is False and second["duplicate"] is True
    assert second["events"] == []
    detail = client.get(f"/v1/incidents/{incident['id']}", headers=OFFICER).json()
    assert [c["action"] for c in detail["commands"]] == ["dispatch"]


def test_split_and_merge_through_the_api(client: TestClient, network: Network) -> None:
    incident = fuse_outage(client, network)
    topo = network.topology
    _, transformers = fuse_with_transformers(network)
    assets = [topo.transformer_ids[t] for t in transformers[:2]]
    split = post(client, f"/v1/incidents/{incident['id']}/split", {"assets": assets})
    assert split.status_code == 200, split.text
    listed = client.get("/v1/incidents", params={"status": "predicted"}, headers=OFFICER).json()
    assert listed["total"] == 3  # two officer-placed, one left-over transformer
    ids = sorted(i["id"] for i in listed["incidents"])
    merged = post(client, f"/v1/incidents/{ids[1]}/merge", {"into": ids[0]})
    assert merged.status_code == 200, merged.text
    assert ids[1] in merged.json()["incident"]["merged_from"]
    bad = post(client, f"/v1/incidents/{ids[0]}/split", {"assets": ["no.such.asset"]})
    assert bad.status_code == 422 and "assets" in bad.json()["detail"]


def test_filters_and_validation(client: TestClient, network: Network) -> None:
    incident = fuse_outage(client, network)
    by = {"feeder": incident["feeder"], "substation": incident["substation"]}
    assert client.get("/v1/incidents", params=by, headers=OFFICER).json()["total"] == 1
    other = client.get("/v1/incidents", params={"feeder": "nope"}, headers=OFFICER).json()
    assert other["total"] == 0
    since = {"since": "2026-07-01T11:00:00Z"}
    assert client.get("/v1/incidents", params=since, headers=OFFICER).json()["total"] == 0
    naive = client.get("/v1/incidents", params={"since": "2026-07-01T09:00:00"}, headers=OFFICER)
    assert naive.status_code == 422 and naive.json()["detail"].startswith("since")
    bad = client.get("/v1/incidents", params={"status": "sleeping"}, headers=OFFICER)
    assert bad.status_code == 422 and "status" in bad.json()["detail"]


def test_storm_indices_repeat_outages_and_rule_set(client: TestClient, network: Network) -> None:
    fuse_outage(client, network)
    storm = client.get("/v1/storm", headers=OFFICER).json()
    assert storm["declared"] is False and storm["rule_set"] == "normal"
    assert "system" in storm["scopes"]
    switched = post(client, "/v1/rule-set", {"rule_set": "storm"}).json()
    # The switch itself, and what event time catching up to the command's wall-clock time
    # brings due: the work order's escalations and ETR revisions.
    types = [e["type"] for e in switched["events"]]
    assert types.count("RuleSetChanged") == 1
    assert set(types) <= {"RuleSetChanged", "SlaEscalated", "EtrChanged", "SubstationEtrChanged"}
    assert client.get("/v1/storm", headers=OFFICER).json()["rule_set"] == "storm"
    indices = client.get("/v1/indices", headers=OFFICER).json()
    assert set(indices) >= {"saidi", "saifi", "cmi"}
    assert "premises" in client.get("/v1/repeat-outages", headers=OFFICER).json()
    public = client.get("/v1/public/summary").json()
    assert public["customers_out"] > 0 and public["open_outages"] == 1
    assert "premise" not in str(public)  # the anonymous summary names no premise


def test_an_officer_declares_and_stands_down_a_system_storm(
    client: TestClient, network: Network
) -> None:
    fuse_outage(client, network)  # far below every storm threshold
    declared = post(client, "/v1/storm", {"storm": "declare", "reason": "typhoon landfall"})
    assert declared.status_code == 200, declared.text
    types = [e["type"] for e in declared.json()["events"]]
    assert types.count("StormDeclared") == 1 and types.count("RuleSetChanged") == 1
    (event,) = [e for e in declared.json()["events"] if e["type"] == "StormDeclared"]
    assert event["scope"] == "system" and event["reasons"] == ["typhoon landfall"]
    storm = client.get("/v1/storm", headers=OFFICER).json()
    assert storm["declared"] and storm["rule_set"] == "storm"
    again = post(client, "/v1/storm", {"storm": "declare"}).json()
    assert "StormDeclared" not in [e["type"] for e in again["events"]]  # already declared
    stood = post(client, "/v1/storm", {"storm": "stand_down"}).json()
    assert [e["type"] for e in stood["events"]].count("StormStoodDown") == 1
    storm = client.get("/v1/storm", headers=OFFICER).json()
    assert not storm["declared"] and storm["rule_set"] == "normal"
    bad = post(client, "/v1/storm", {"storm": "maybe"})
    assert bad.status_code == 422 and "storm" in bad.text
