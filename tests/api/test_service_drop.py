"""A lone report is one premise's own service drop, not its transformer's whole outage.

Checked through the composed service over HTTP: the incident names the premise and counts
one customer; the IVR tells the caller, not the neighbours; SMS go to the caller's phones
only; the map draws the premise. A second premise under the transformer widens the same
ticket to the whole transformer, and only then are the neighbours told. The oracle is the
customers file and the topology (who lives where), not the engine's own tables.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from outage.api.compose import Services
from outage.bootstrap import Network

from .conftest import auth
from .helpers import call, premise_of

OFFICER, IVR = auth("officer"), auth("ivr")


def _big_transformer(network: Network) -> int:
    """A transformer with several premises, each with an opted-in phone."""
    topo, customers = network.topology, network.tables.customers
    opted = customers[customers["sms_opt_in"].astype(str).str.lower() == "true"]
    with_phone = set(opted["premise"])
    for t in range(len(topo.transformer_ids)):
        premises = [topo.premise_ids[p] for p in topo.premises_of_transformer(t)]
        if len(premises) >= 4 and sum(p in with_phone for p in premises) >= 3:
            return t
    raise AssertionError("no transformer with several opted-in premises")


def _phones(network: Network, premises: set[str]) -> set[str]:
    customers = network.tables.customers
    opted = customers["sms_opt_in"].astype(str).str.lower() == "true"
    return set(customers.loc[opted & customers["premise"].isin(premises), "phone"])


def _known(client: TestClient, premise: str) -> bool:
    answer = client.get("/v1/ivr/lookup", params={"premise": premise}, headers=IVR)
    assert answer.status_code == 200, answer.text
    return bool(answer.json()["known_outage"])


def _post(client: TestClient, services: Services, signals: list[dict[str, object]]) -> None:
    answer = client.post("/v1/signals", json=signals, headers=auth("intake"))
    assert answer.status_code == 202, answer.text
    assert services.settle(30)


def test_a_lone_report_is_its_premises_service_drop_until_a_neighbour_reports(
    app_client: TestClient, network: Network, services: Services
) -> None:
    topo = network.topology
    transformer = _big_transformer(network)
    everyone = {topo.premise_ids[p] for p in topo.premises_of_transformer(transformer)}
    opted = {p for p in everyone if _phones(network, {p})}
    caller, neighbour = sorted(opted)[:2]
    _post(app_client, services, [call(caller, minute=0)])

    (brief,) = app_client.get("/v1/incidents", headers=OFFICER).json()["incidents"]
    assert brief["device"] == topo.transformer_ids[transformer]
    assert brief["premise"] == caller and brief["customers_affected"] == 1
    assert _known(app_client, caller)
    heard = app_client.get("/v1/ivr/lookup", params={"premise": caller}, headers=IVR).json()
    assert (
        "your address only" in heard["message"]["en"] and "仅您的地址" in heard["message"]["zh-CN"]
    )
    assert heard["customers_affected"] == 1
    assert not any(_known(app_client, p) for p in everyone - {caller})
    first = services.notifier.store.rows(kind="outage_detected")
    assert {r["phone"] for r in first} == _phones(network, {caller})
    assert all("at your address" in r["body"] or "您的地址停电" in r["body"] for r in first), first
    (drawn,) = app_client.get("/v1/map/incidents", headers=OFFICER).json()["incidents"]
    lon, lat = drawn["area"]["point"]
    premises = network.tables.premises.to_crs(4326).set_index("id")
    point = premises.loc[caller, "geometry"]
    assert (lon, lat) == pytest.approx((point.x, point.y), abs=1e-5)
    assert drawn["area"]["hull"] is None

    _post(app_client, services, [call(neighbour, minute=3)])
    (widened,) = app_client.get("/v1/incidents", headers=OFFICER).json()["incidents"]
    assert widened["id"] == brief["id"] and widened["premise"] is None
    assert widened["customers_affected"] == int(topo.transformer_customers[transformer])
    assert all(_known(app_client, p) for p in everyone)
    told = {r["phone"] for r in services.notifier.store.rows(kind="outage_detected")}
    assert told == _phones(network, everyone)  # the rest are told now, nobody twice
    rows = services.notifier.store.rows(kind="outage_detected")
    assert len(rows) == len({r["phone"] for r in rows})


def test_a_lone_report_under_a_one_premise_transformer_is_the_transformer(
    app_client: TestClient, network: Network, services: Services
) -> None:
    topo = network.topology
    counts = [len(topo.premises_of_transformer(t)) for t in range(len(topo.transformer_ids))]
    assert 1 in counts, "the test city should have a one-premise transformer"
    transformer = counts.index(1)
    _post(app_client, services, [call(premise_of(network, transformer), minute=0)])
    (brief,) = app_client.get("/v1/incidents", headers=OFFICER).json()["incidents"]
    assert brief["device"] == topo.transformer_ids[transformer] and brief["premise"] is None
