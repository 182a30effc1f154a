"""Restoration reads over HTTP: work orders with SLA clocks, crews, outage history, follow-ups.

The arrival deadline is checked against the State Grid commitment (on site within 45 min in a
city), the clocks against times the test computes from the signals it posted.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from outage.bootstrap import Network

from .conftest import auth
from .helpers import T0, at, call, fuse_with_transformers, premise_of


def _post(client: TestClient, signals: list[dict[str, Any]]) -> None:
    answer = client.post("/v1/signals", json=signals, headers=auth("intake"))
    assert answer.status_code == 202, answer.text
    assert not answer.json()["rejected"], answer.json()


def _fault(client: TestClient, network: Network, minute: float = 0) -> tuple[str, list[str]]:
    """Calls from three transformers below one fuse; the fuse and the callers' premises."""
    fuse, transformers = fuse_with_transformers(network)
    premises = [premise_of(network, t) for t in transformers]
    _post(client, [call(p, minute + i) for i, p in enumerate(premises)])
    return fuse, premises


def _orders(client: TestClient, **query: Any) -> dict[str, Any]:
    answer = client.get("/v1/work-orders", params=query, headers=auth("officer"))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _tick(client: TestClient, minute: float) -> None:
    _post(client, [{"type": "tick", "id": f"tick-{minute}", "ts": at(minute)}])


def test_a_fault_shows_one_open_order_due_on_site_in_45_minutes(
    client: TestClient, network: Network
) -> None:
    _fault(client, network)
    body = _orders(client)
    (order,) = body["work_orders"]
    incident = client.get(f"/v1/incidents/{order['incident']}", headers=auth("officer")).json()
    opened = datetime.fromisoformat(order["opened_at"])
    assert datetime.fromisoformat(order["arrival"]["due"]) - opened == timedelta(minutes=45)
    assert order["clock"] == "green" and order["step"] == "arrival" and order["crew"] is None
    assert incident["work_order"]["id"] == order["id"]
    assert incident["etr"] is not None and incident["etr_source"] == "estimated"
    # One read per order; an unknown one is a 404 naming the field.
    one = client.get(f"/v1/work-orders/{order['id']}", headers=auth("officer")).json()
    assert one == order
    missing = client.get("/v1/work-orders/WO-nope", headers=auth("officer"))
    assert missing.status_code == 404 and "order_id" in missing.text


def test_the_clock_goes_red_after_the_deadline_and_the_filter_finds_it(
    client: TestClient, network: Network
) -> None:
    _fault(client, network)
    (order,) = _orders(client)["work_orders"]
    due = datetime.fromisoformat(order["arrival"]["due"])
    _tick(client, (due - T0).total_seconds() / 60 + 1)
    (late,) = _orders(client, clock="red")["work_orders"]
    assert late["id"] == order["id"] and late["minutes_left"] < 0
    assert [e["level"] for e in late["escalations"]][-1] == "breach"
    assert _orders(client, clock="green")["work_orders"] == []
    bad = client.get("/v1/work-orders?clock=purple", headers=auth("officer"))
    assert bad.status_code == 422 and "clock" in bad.text


def test_a_crew_report_shows_on_the_crew_list_and_the_order(
    client: TestClient, network: Network
) -> None:
    _fault(client, network)
    (order,) = _orders(client)["work_orders"]
    point = {"lon": 113.25, "lat": 23.12}
    _post(
        client,
        [
            {"type": "crew", "id": "crew-1", "ts": at(10), "crew": "line-7",
             "status": "dispatched", "incident": order["incident"]},
            {"type": "crew", "id": "crew-2", "ts": at(20), "crew": "line-7",
             "status": "on_site", "incident": order["incident"]} | point,
        ],
    )  # fmt: skip
    crews = client.get("/v1/crews", headers=auth("officer")).json()["crews"]
    (crew,) = [c for c in crews if c["id"] == "line-7"]
    assert crew["status"] == "on_site" and crew["order"] == order["id"]
    assert (crew["lon"], crew["lat"]) == (point["lon"], point["lat"])
    (now,) = _orders(client)["work_orders"]
    assert now["crew"] == "line-7" and now["step"] == "restoration"
    assert now["arrival"]["achieved_minutes"] == (
        20 - (datetime.fromisoformat(order["opened_at"]) - T0).total_seconds() / 60
    )


def test_a_restored_outage_is_in_the_premises_history_and_closed_orders_list(
    client: TestClient, network: Network
) -> None:
    fuse, premises = _fault(client, network)
    _post(client, [{"type": "restore", "id": "r-1", "ts": at(95), "device": fuse}])
    assert _orders(client)["work_orders"] == []
    (closed,) = _orders(client, open="false")["work_orders"]
    assert closed["closed_at"] == at(95).replace("+00:00", "Z")
    history = client.get(f"/v1/premises/{premises[0]}/history", headers=auth("ivr")).json()
    assert history["outages"] == 1 and history["frequent"] is False
    (row,) = history["history"]
    start = datetime.fromisoformat(row["start"])
    assert row["minutes"] == round((T0 + timedelta(minutes=95) - start).total_seconds() / 60, 1)
    unknown = client.get("/v1/premises/nobody/history", headers=auth("ivr"))
    assert unknown.status_code == 404 and "premise" in unknown.text


def test_a_follow_up_answer_is_listed_under_its_incident(
    client: TestClient, network: Network
) -> None:
    fuse, premises = _fault(client, network)
    _post(client, [{"type": "restore", "id": "r-1", "ts": at(60), "device": fuse}])
    (closed,) = _orders(client, open="false")["work_orders"]
    _post(
        client,
        [{"type": "followup", "id": "f-1", "ts": at(120), "incident": closed["incident"],
          "premise": premises[0], "score": 4, "channel": "sms"}],
    )  # fmt: skip
    body = client.get(
        "/v1/followups", params={"incident": closed["incident"]}, headers=auth("officer")
    ).json()
    (answer,) = body["followups"][closed["incident"]]
    assert answer["score"] == 4 and answer["premise"] == premises[0]


def test_restoration_reads_need_the_officer_role(client: TestClient) -> None:
    for path in ("/v1/work-orders", "/v1/crews", "/v1/frequent-outages", "/v1/followups"):
        assert client.get(path, headers=auth("ivr")).status_code == 403
        assert client.get(path).status_code == 401


def _lookup(client: TestClient, premise: str) -> dict[str, Any]:
    answer = client.get("/v1/ivr/lookup", params={"premise": premise}, headers=auth("ivr"))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_the_ivr_says_when_the_etr_is_the_engines_estimate_and_when_an_officers(
    client: TestClient, network: Network
) -> None:
    _, premises = _fault(client, network)
    heard = _lookup(client, premises[0])
    assert heard["known_outage"] and heard["etr"] is not None
    assert heard["etr_source"] == "estimated"
    assert "automatic estimate" in heard["message"]["en"]
    assert "系统估计" in heard["message"]["zh-CN"]
    etr = "2026-07-01T20:30:00+08:00"
    answer = client.post(
        f"/v1/incidents/{heard['incident']}/etr", json={"etr": etr}, headers=auth("officer")
    )
    assert answer.status_code == 200, answer.text
    heard = _lookup(client, premises[0])
    assert heard["etr_source"] == "officer" and heard["etr"] == "2026-07-01T12:30:00Z"
    assert "We expect power back by 20:30" in heard["message"]["en"]
    assert "automatic estimate" not in heard["message"]["en"]


def test_the_ivr_answers_again_with_the_addresss_earlier_outages(
    client: TestClient, network: Network
) -> None:
    fuse, premises = _fault(client, network)
    first = _lookup(client, premises[0])
    assert first["history"]["outages"] == 0 and "outage number" not in first["message"]["en"]
    _post(client, [{"type": "restore", "id": "r-1", "ts": at(80), "device": fuse}])
    _post(client, [call(p, 300 + i) for i, p in enumerate(premises)])
    again = _lookup(client, premises[0])
    assert again["known_outage"] and again["history"]["outages"] == 1
    assert again["history"]["last"]["end"] == at(80).replace("+00:00", "Z")
    assert "outage number 2 at your address in the last 60 days" in again["message"]["en"]
    assert "第2次停电" in again["message"]["zh-CN"]
