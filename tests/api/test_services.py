"""The composed service: notify and playbooks subscribed to the engine, over HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outage.api.app import create_app
from outage.api.compose import Services, compose
from outage.api.settings import ServiceSettings
from outage.bootstrap import Network

from .conftest import auth, ring
from .helpers import at, call, premise_of, storm_clock

OFFICER = auth("officer")


def lockout_signals(network: Network) -> tuple[str, list[dict[str, Any]]]:
    """A feeder breaker trips (1,500 customers) and calls keep coming for ten minutes: the
    breaker's id and the signals."""
    topo = network.topology
    breaker = next(d for d, k in enumerate(topo.device_kind) if k == "breaker")
    trip = {
        "type": "scada",
        "id": "trip-1",
        "ts": at(0),
        "device": topo.device_ids[breaker],
        "state": "open",
    }
    transformers = topo.transformers_below(breaker)
    calls = [
        call(premise_of(network, t), minute=1 + n / 2) for n, t in enumerate(transformers[:20])
    ]
    return topo.device_ids[breaker], [trip, *calls]


def feeder_lockout(client: TestClient, network: Network, services: Services) -> str:
    """Post `lockout_signals` and wait until notify and playbooks have handled them."""
    breaker, signals = lockout_signals(network)
    answer = client.post("/v1/signals", json=signals, headers=auth("intake"))
    assert answer.status_code == 202
    assert services.settle(30)
    return breaker


def wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_feeder_lockout_is_proposed_confirmed_announced_and_stood_down(
    app_client: TestClient, network: Network, services: Services
) -> None:
    feeder_lockout(app_client, network, services)
    board = app_client.get("/v1/playbooks", headers=OFFICER).json()
    (proposal,) = [p for p in board["proposals"] if p["playbook"] == "feeder-lockout"]
    assert "1500" in proposal["reason"].replace(",", "")
    confirmed = app_client.post(
        f"/v1/playbooks/proposals/{proposal['id']}/confirm", headers=OFFICER
    )
    assert confirmed.status_code == 200, confirmed.text
    activation = confirmed.json()["activation"]
    board = app_client.get("/v1/playbooks", headers=OFFICER).json()
    (active,) = [a for a in board["active"] if a["activation"] == activation]
    assert active["next_steps"] and active["announcements"]
    again = app_client.post(f"/v1/playbooks/proposals/{proposal['id']}/confirm", headers=OFFICER)
    assert again.status_code == 409  # already settled

    premise = premise_of(network, network.topology.transformers_below(0)[0])
    heard = app_client.get("/v1/ivr/lookup", params={"premise": premise}, headers=auth("ivr"))
    announced = {a["id"]: a["message"]["en"] for a in heard.json()["announcements"]}
    mine = [i for i in announced if i.startswith(activation)]
    assert len(mine) == 1 and "line fault" in announced[mine[0]]

    stood = app_client.post(f"/v1/playbooks/activations/{activation}/stand-down", headers=OFFICER)
    assert stood.status_code == 200
    heard = app_client.get("/v1/ivr/lookup", params={"premise": premise}, headers=auth("ivr"))
    assert not [a for a in heard.json()["announcements"] if a["id"].startswith(activation)]
    kinds = [
        r["kind"] for r in app_client.get("/v1/playbooks/audit", headers=OFFICER).json()["rows"]
    ]
    assert kinds[0] == "proposed" and "confirmed" in kinds and kinds[-1] == "stood_down"


def test_sms_are_decided_for_the_affected_customers(
    app_client: TestClient, network: Network, services: Services
) -> None:
    breaker = feeder_lockout(app_client, network, services)
    stats = app_client.get("/v1/notify/stats", headers=OFFICER).json()
    topo = network.topology
    below = {topo.premise_ids[p] for p in topo.premises_below(topo.device_index[breaker])}
    customers = network.tables.customers
    opted_in = customers["sms_opt_in"].astype(str).str.lower() == "true"
    eligible = set(customers.loc[opted_in & customers["premise"].isin(below), "phone"])
    told = [r["phone"] for r in services.notifier.store.rows(kind="outage_detected")]
    assert told and set(told) <= eligible and len(told) == len(set(told))
    assert stats["decided"] >= len(told)
    services.notifier.dispatch(services.event_time())
    sent = app_client.get("/v1/notify/stats", headers=OFFICER).json()
    assert sent["sent"] > 0 and sent["queued"] < stats["queued"] + 1
    assert services.sms_outbox.exists()


def test_inbound_sms_keywords(app_client: TestClient, network: Network, services: Services) -> None:
    feeder_lockout(app_client, network, services)
    topo = network.topology
    premise = premise_of(network, topo.transformers_below(0)[3])
    customers = network.tables.customers
    phone = customers.loc[customers["premise"] == premise, "phone"].iloc[0]
    status = app_client.post(
        "/v1/sms/inbound",
        json={"from": phone, "text": "STATUS", "id": "sms-1"},
        headers=auth("intake"),
    ).json()
    assert status["keyword"] == "status" and "1500" in status["reply"]
    calls_before = services.runtime.engine.calls_received
    twilio = app_client.post(
        "/v1/sms/inbound",
        data={"From": phone, "Body": "OUT", "MessageSid": "SM1"},
        headers=auth("intake"),
    )
    assert twilio.status_code == 200 and b"<Message>" in twilio.content
    assert services.runtime.engine.calls_received == calls_before + 1
    stop = app_client.post(
        "/v1/sms/inbound",
        json={"from": phone, "text": "退订", "id": "sms-3"},
        headers=auth("intake"),
    ).json()
    assert stop["keyword"] == "stop" and services.notifier.may_text(phone) is False
    stranger = app_client.post(
        "/v1/sms/inbound",
        json={"from": "+8613900000001", "text": "STATUS", "id": "sms-4"},
        headers=auth("intake"),
    ).json()
    assert "1500" not in stranger["reply"]  # nothing about anyone else
    bad = app_client.post("/v1/sms/inbound", json={"text": "x"}, headers=auth("intake"))
    assert bad.status_code == 422 and "from" in bad.json()["detail"]


def test_public_feeds_show_areas_not_customers(
    app_client: TestClient, network: Network, services: Services
) -> None:
    feeder_lockout(app_client, network, services)
    feed = app_client.get("/v1/public/outages.geojson").json()
    assert feed["type"] == "FeatureCollection" and feed["features"]
    biggest = max(feed["features"], key=lambda f: f["properties"]["customers_out"])
    assert biggest["geometry"]["type"] in ("Polygon", "MultiPolygon")
    alerts = app_client.get("/v1/public/cap").json()["alerts"]
    assert alerts
    xml = app_client.get(alerts[0]["url"])
    assert xml.status_code == 200 and b"urn:oasis:names:tc:emergency:cap:1.2" in xml.content


def test_pump_runs_calls_in_order_with_events_on_its_thread() -> None:
    import threading

    from outage.api.pump import EventPump

    seen: list[str] = []
    pump = EventPump("t", lambda seq, event: seen.append(f"event {seq}"))
    pump.start()
    threads: set[str] = set()

    def work() -> int:
        threads.add(threading.current_thread().name)
        seen.append("call")
        return 42

    pump.offer(1, None)  # type: ignore[arg-type]
    assert pump.call(work) == 42
    pump.offer(2, None)  # type: ignore[arg-type]
    assert pump.wait_idle(5)
    assert seen == ["event 1", "call", "event 2"] and threads == {"pump-t"}

    def broken() -> int:
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        pump.call(broken)
    pump.offer(3, None)  # type: ignore[arg-type]
    assert pump.wait_idle(5) and seen[-1] == "event 3"  # the pump goes on
    pump.stop()


def test_a_replayed_storm_proposal_can_be_confirmed_in_a_live_service(
    network: Network, tmp_path: Path
) -> None:
    """Live (wall-clock) playbooks on a storm replayed from months ago: the proposal is judged
    on the events' time base, so it has not 'expired' the moment it appears."""
    live = compose(network, state_dir=tmp_path / "live", clock="wall")
    live.start()
    try:
        app = create_app(live.runtime, ServiceSettings(), ring(), live, clock=storm_clock)
        with TestClient(app) as client:
            feeder_lockout(client, network, live)
            board = client.get("/v1/playbooks", headers=OFFICER).json()
            (proposal,) = [p for p in board["proposals"] if p["playbook"] == "feeder-lockout"]
            answer = client.post(
                f"/v1/playbooks/proposals/{proposal['id']}/confirm", headers=OFFICER
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["since"].startswith(proposal["at"][:13])  # event-time base
    finally:
        live.stop()


def test_keypad_2_texts_the_caller_now_and_when_power_is_back(
    app_client: TestClient, network: Network, services: Services
) -> None:
    breaker = feeder_lockout(app_client, network, services)
    topo = network.topology
    below = {topo.premise_ids[p] for p in topo.premises_below(topo.device_index[breaker])}
    customers = network.tables.customers
    opted_out = customers[
        customers["premise"].isin(below)
        & (customers["sms_opt_in"].astype(str).str.lower() != "true")
    ]
    phone = opted_out["phone"].iloc[0]  # never texted: the customers file says no
    assert not services.notifier.store.rows(phone=phone)
    # (?lang=en: the caller had pressed 9 for English; the menu's link carries the choice)
    answer = app_client.post(
        "/v1/ivr/twiml?lang=en",
        data={"From": phone, "CallSid": "CA77", "Digits": "2"},
        headers=auth("ivr"),
    )
    assert answer.status_code == 200 and b"text you when power is back" in answer.content
    (told,) = services.notifier.store.rows(phone=phone)
    assert told["kind"] == "outage_detected"
    # The keypad text is due now (the wall clock: the caller is on the phone); the sender works
    # through the storm's backlog (the throttle's clock moved on, not waited for) and sends it
    # before power comes back.
    clock = time.monotonic()
    while services.notifier.store.rows(phone=phone)[0]["status"] == "pending":
        clock += 3600
        assert services.notifier.dispatch(datetime.now(UTC), clock=clock).handled
    restore = {"type": "scada", "id": "close-1", "ts": at(90), "device": breaker, "state": "closed"}
    app_client.post("/v1/signals", json=restore, headers=auth("intake"))
    assert services.settle(30)
    kinds = [r["kind"] for r in services.notifier.store.rows(phone=phone)]
    assert kinds == ["outage_detected", "restored"]
    again = app_client.post(
        "/v1/ivr/twiml?lang=en",
        data={"From": phone, "CallSid": "CA78", "Digits": "2"},
        headers=auth("ivr"),
    )
    assert b"no known outage" in again.content  # power is back: nothing to text about
