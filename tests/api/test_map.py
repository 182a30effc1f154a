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
    assert layers == {"substation", "section", "device", "transformer"}
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
