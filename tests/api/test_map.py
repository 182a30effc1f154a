"""Dashboard data: network GeoJSON, incident areas, the call-rate chart."""

from __future__ import annotations

from fastapi.testclient import TestClient

from outage.bootstrap import Network

from .conftest import auth
from .helpers import call, fuse_with_transformers, premise_of

OFFICER = auth("officer")


def test_network_map_has_every_layer(client: TestClient, network: Network) -> None:
    body = client.get("/v1/map/network", headers=OFFICER).json()
    layers = {f["properties"]["layer"] for f in body["features"]}
    assert layers == {"substation", "feeder", "section", "device", "transformer"}
    feeders = [f["properties"] for f in body["features"] if f["properties"]["layer"] == "feeder"]
    assert {f["id"] for f in feeders} == set(network.topology.feeder_ids)
    assert all(f["name"] for f in feeders)  # the map labels feeders by name
    sections = [f for f in body["features"] if f["properties"]["layer"] == "section"]
    assert len(sections) == len(network.topology.section_ids)
    west, south, east, north = body["bbox"]
    assert west < east and south < north


def test_incident_area_covers_the_sections_below_its_device(
    client: TestClient, network: Network
) -> None:
    fuse, transformers = fuse_with_transformers(network)
    signals = [call(premise_of(network, t), minute=n) for n, t in enumerate(transformers)]
    hazard = call(premise_of(network, transformers[0], 1), minute=5, kind="wire_down")
    client.post("/v1/signals", json=[*signals, hazard], headers=auth("intake"))
    (incident,) = client.get("/v1/map/incidents", headers=OFFICER).json()["incidents"]
    assert incident["device"] == fuse and incident["status"] == "predicted"
    topo = network.topology
    below = set(topo.devices_below(topo.device_index[fuse]))
    expected = sum(1 for d in topo.section_device.tolist() if d in below)
    assert len(incident["area"]["sections"]) == expected > 0
    assert incident["area"]["hull"]["type"] == "Polygon"
    (marker,) = incident["hazard_tickets"]
    assert marker["kind"] == "wire_down" and len(marker["point"]) == 2


def test_call_rate_counts_calls_per_bucket(client: TestClient, network: Network) -> None:
    _, transformers = fuse_with_transformers(network)
    signals = [call(premise_of(network, t), minute=n * 10) for n, t in enumerate(transformers)]
    client.post("/v1/signals", json=signals, headers=auth("intake"))
    body = client.get("/v1/call-rate", params={"hours": 1, "bucket_minutes": 10}, headers=OFFICER)
    buckets = body.json()["buckets"]
    assert len(buckets) == 6 and sum(b["calls"] for b in buckets) == 3
    assert buckets[-1]["calls"] == 1 and all(b["baseline"] >= 0 for b in buckets)


def test_call_rate_buckets_are_aligned_to_the_clock_and_stable(
    client: TestClient, network: Network
) -> None:
    """A bucket starts at a multiple of its size; a refresh a few minutes later shows the
    same complete buckets with the same counts (no re-binning)."""
    _, transformers = fuse_with_transformers(network, n=4)
    premises = [premise_of(network, t) for t in transformers]
    first = [call(p, minute=m) for p, m in zip(premises, (1, 3, 7, 12), strict=True)]
    client.post("/v1/signals", json=first, headers=auth("intake"))
    params = {"hours": 1, "bucket_minutes": 5}
    before = client.get("/v1/call-rate", params=params, headers=OFFICER).json()
    assert before["end"] == "2026-07-01T10:12:00Z"
    starts = [b["start"] for b in before["buckets"]]
    assert all(int(s[14:16]) % 5 == 0 and s.endswith(":00Z") for s in starts)
    assert starts[-1] == "2026-07-01T10:10:00Z" and before["buckets"][-1]["complete"] is False
    assert all(b["complete"] for b in before["buckets"][:-1])
    counts = {b["start"]: b["calls"] for b in before["buckets"]}
    assert counts["2026-07-01T10:00:00Z"] == 2 and counts["2026-07-01T10:05:00Z"] == 1
    # three minutes later (one more call): the earlier buckets are the same bars
    client.post("/v1/signals", json=call(premises[0], minute=15), headers=auth("intake"))
    after = client.get("/v1/call-rate", params=params, headers=OFFICER).json()
    later = {b["start"]: b["calls"] for b in after["buckets"]}
    assert {s: later[s] for s in counts if s in later and s != starts[-1]} == {
        s: n for s, n in counts.items() if s in later and s != starts[-1]
    }
    assert later["2026-07-01T10:10:00Z"] == 1 and later["2026-07-01T10:15:00Z"] == 1


def test_one_definition_of_open_across_storm_and_map(client: TestClient, network: Network) -> None:
    """/v1/storm counts per scope and /v1/map/incidents's ``open`` use OPEN_STATES: a nested
    fuse inside an open breaker outage counts (its own ticket) but its customers do not twice;
    planned work not yet started is drawn but not open."""
    topo = network.topology
    fuse, transformers = fuse_with_transformers(network)
    chain = topo.device_chain[topo.device_index[fuse]]
    breaker = topo.device_ids[chain[-1]]
    signals = [call(premise_of(network, t), minute=n) for n, t in enumerate(transformers)]
    scada = {"type": "scada", "id": "s-open", "ts": "2026-07-01T10:05:00Z", "device": breaker,
             "state": "open"}  # fmt: skip
    planned = {"type": "planned", "id": "p-1", "ts": "2026-07-01T10:06:00Z",
               "device": topo.device_ids[topo.device_index[fuse]],
               "start": "2026-07-02T01:00:00Z", "end": "2026-07-02T03:00:00Z",
               "reason": "pole"}  # fmt: skip
    client.post("/v1/signals", json=[*signals, scada, planned], headers=auth("intake"))
    mapped = client.get("/v1/map/incidents", headers=OFFICER).json()
    storm = client.get("/v1/storm", headers=OFFICER).json()
    listed = client.get(
        "/v1/incidents",
        params={"status": mapped["open_states"], "limit": 5000},
        headers=OFFICER,
    ).json()
    statuses = sorted(i["status"] for i in mapped["incidents"])
    assert "scheduled" in statuses
    assert mapped["open_states"] == storm["open_states"] == ["confirmed", "dispatched", "predicted"]
    open_rows = [i for i in mapped["incidents"] if i["status"] in mapped["open_states"]]
    assert mapped["open"] == len(open_rows) == listed["total"]
    assert storm["scopes"]["system"]["open_incidents"] == mapped["open"]
    substation = open_rows[0]["substation"]
    assert storm["scopes"][substation]["open_incidents"] == sum(
        1 for i in open_rows if i["substation"] == substation
    )
    open_ids = {r["id"] for r in open_rows}
    outermost = sum(i["customers_affected"] for i in open_rows if i["parent"] not in open_ids)
    assert storm["scopes"]["system"]["customers_out"] == outermost
    assert "measured" in storm["scopes"]["system"]
    assert storm["timezone"] == "Asia/Shanghai"


def test_hazards_list_their_place_and_outage_and_close_with_it(
    client: TestClient, network: Network
) -> None:
    _, transformers = fuse_with_transformers(network)
    signals = [call(premise_of(network, t), minute=n) for n, t in enumerate(transformers)]
    hazard = call(premise_of(network, transformers[0], 1), minute=5, kind="wire_down")
    client.post("/v1/signals", json=[*signals, hazard], headers=auth("intake"))
    (row,) = client.get("/v1/hazards", headers=OFFICER).json()["hazards"]
    incident = client.get("/v1/map/incidents", headers=OFFICER).json()["incidents"][0]["id"]
    assert row["kind"] == "wire_down" and row["incident"] == incident and row["open"] is True
    assert row["at"] == "2026-07-01T10:05:00Z" and len(row["point"]) == 2
    assert row["address"] and row["feeder"].startswith("feeder.") and row["incident_status"]
    client.post(f"/v1/incidents/{incident}/restore", headers=OFFICER)
    (after,) = client.get("/v1/hazards", headers=OFFICER).json()["hazards"]
    assert after["incident_status"] == "restored" and after["open"] is False
