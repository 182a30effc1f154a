"""Issue 14 end to end: what an adversarial probe of a real `outage serve` found, each now
answered as it must be. One service process for the module (the tests use distinct ids);
the tests that restart, kill or break a service start their own."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from outage.bootstrap import Network
from tests.conftest import DEMO_GPKG
from tests.integration.test_serve_e2e import Service, bearer, new_key

from .hardening import call, incident_of, now_iso, premises_with_phones, strict_service


@pytest.fixture(scope="module")
def network() -> Network:
    return Network.load(DEMO_GPKG)


@pytest.fixture(scope="module")
def people(network: Network) -> list[tuple[str, str]]:
    """(premise, phone) pairs on distinct transformers; each test takes its own."""
    return premises_with_phones(network, 40)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("hardened")
    path = tmp / "keys.yaml"
    keys = {
        "intake": new_key(path, "gateway", "intake"),
        "officer": new_key(path, "duty", "officer"),
        "ivr": new_key(path, "ivr", "ivr"),
    }
    service = strict_service(tmp, path)
    service.start()
    yield service, keys
    service.stop()


def post(service: Service, key: str, body: Any) -> httpx.Response:
    return httpx.post(f"{service.url}/v1/signals", json=body, headers=bearer(key), timeout=30)


# -- 1. far-future timestamps never reach the engine ------------------------------------------


def test_edge_timestamps_are_refused_per_signal_and_intake_goes_on(
    served: tuple[Service, dict[str, str]], people: list[tuple[str, str]], network: Network
) -> None:
    service, key = served
    premise = people[0][0]
    edges = [
        "9999-12-31T16:00:00Z",  # the storm check's local time overflowed here
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+01:00",
        now_iso(hours=1),  # an hour ahead of the service clock (the default skew is 5 min)
        now_iso(days=-400),  # older than the default maximum age (30 days)
    ]
    batch = [call(premise, f"edge-{n}", ts) for n, ts in enumerate(edges)]
    batch.append(call(premise, "edge-ok"))
    answer = post(service, key["intake"], batch)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] == ["edge-ok"]
    assert [r["index"] for r in body["rejected"]] == list(range(len(edges)))
    for n, rejection in enumerate(body["rejected"]):
        assert rejection["error"].startswith(f"signals[{n}]: ts: "), rejection
    assert "ahead of the service clock" in body["rejected"][3]["error"]
    assert "older than the service clock" in body["rejected"][4]["error"]
    # the engine goes on: later signals are accepted and applied
    later = post(service, key["intake"], [call(people[1][0], "edge-later")])
    assert later.status_code == 202 and later.json()["accepted"] == ["edge-later"]
    incident_of(service.url, bearer(key["officer"]), people[1][0])

    device = network.topology.device_ids[0]
    planned = {
        "type": "planned", "id": "edge-planned", "device": device,
        "start": now_iso(days=1), "end": "9999-12-31T23:00:00-14:00",
    }  # fmt: skip
    warning = {
        "type": "warning", "id": "edge-warning", "ts": now_iso(), "kind": "typhoon",
        "level": "red", "until": "9999-12-31T23:59:59Z",
    }  # fmt: skip
    refused = post(service, key["intake"], [planned, warning]).json()
    assert [r["error"].split(": ")[1] for r in refused["rejected"]] == ["end", "until"]


def test_inbound_sms_time_is_judged_like_a_signal(
    served: tuple[Service, dict[str, str]], people: list[tuple[str, str]]
) -> None:
    service, key = served
    phone = people[2][1]
    for n, received in enumerate(("9999-12-31T17:00:00Z", "0001-01-01T00:00:00+14:00")):
        answer = httpx.post(
            f"{service.url}/v1/sms/inbound",
            json={"from": phone, "text": "OUT", "id": f"edge-sms-{n}", "received_at": received},
            headers=bearer(key["intake"]),
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"].startswith("received_at: ")
    fine = httpx.post(
        f"{service.url}/v1/sms/inbound",
        json={"from": phone, "text": "OUT", "id": "edge-sms-ok", "received_at": now_iso()},
        headers=bearer(key["intake"]),
    )
    assert fine.status_code == 200 and fine.json()["keyword"] == "out"


# -- 2. an officer's ETR within a horizon; the IVR answers whatever was accepted --------------


def test_etr_beyond_the_horizon_is_422_and_the_ivr_keeps_answering(
    served: tuple[Service, dict[str, str]], people: list[tuple[str, str]]
) -> None:
    service, key = served
    premise, phone = people[3]
    assert post(service, key["intake"], [call(premise)]).status_code == 202
    officer = bearer(key["officer"])
    incident = incident_of(service.url, officer, premise)["id"]
    path = f"{service.url}/v1/incidents/{incident}/etr"
    for etr, why in (("9999-12-31T23:59:59Z", "out of range"), (now_iso(days=60), "30 days")):
        answer = httpx.post(path, json={"etr": etr}, headers=officer)
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"].startswith("etr: ") and why in answer.json()["detail"]
    edge = (datetime.now(UTC) + timedelta(days=29)).replace(microsecond=0)
    assert httpx.post(path, json={"etr": edge.isoformat()}, headers=officer).status_code == 200
    ivr = bearer(key["ivr"])
    heard = httpx.get(f"{service.url}/v1/ivr/lookup", params={"premise": premise}, headers=ivr)
    assert heard.status_code == 200 and heard.json()["etr"] is not None
    spoken = httpx.post(
        f"{service.url}/v1/ivr/twiml", data={"From": phone, "CallSid": "CA-etr"}, headers=ivr
    )
    assert spoken.status_code == 200 and b"<Say" in spoken.content


# -- 4. user input that was a 500 is a 422 naming the field -----------------------------------


def test_ivr_callers_that_are_no_phone_number_are_422(
    served: tuple[Service, dict[str, str]],
) -> None:
    service, key = served
    ivr = bearer(key["ivr"])
    for sender in ("1", "\U0001f600", "\U0001f600" * 3):
        answer = httpx.post(
            f"{service.url}/v1/ivr/twiml",
            data={"From": sender, "CallSid": "CA-bad", "Digits": "1"},
            headers=ivr,
        )
        assert answer.status_code == 422 and answer.json()["detail"].startswith("From: ")
    page = httpx.get(
        f"{service.url}/v1/ivr/voicexml", params={"phone": "zz", "choice": "1"}, headers=ivr
    )
    assert page.status_code == 422 and page.json()["detail"].startswith("phone: ")


# -- 7. conflicts are not duplicates ------------------------------------------------------------


def test_an_idempotency_key_reused_for_another_command_is_409(
    served: tuple[Service, dict[str, str]], people: list[tuple[str, str]]
) -> None:
    service, key = served
    premise = people[4][0]
    # a call may not take an officer command's id (it would make the command a duplicate)
    squatter = post(service, key["intake"], [call(premise, "cmd-retry-42")])
    assert squatter.status_code == 422
    assert squatter.json()["rejected"][0]["error"].startswith("signals[0]: id: ")
    assert post(service, key["intake"], [call(premise)]).status_code == 202
    officer = bearer(key["officer"])
    incident = incident_of(service.url, officer, premise)["id"]
    path = f"{service.url}/v1/incidents/{incident}/dispatch"
    retry = officer | {"Idempotency-Key": "retry-42"}
    first = httpx.post(path, json={"crew": "crew-1"}, headers=retry)
    assert first.status_code == 200 and first.json()["incident"]["crew"] == "crew-1"
    again = httpx.post(path, json={"crew": "crew-1"}, headers=retry)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    other = httpx.post(path, json={"crew": "crew-2"}, headers=retry)
    assert other.status_code == 409 and other.json()["detail"].startswith("Idempotency-Key: ")
    detail = httpx.get(f"{service.url}/v1/incidents/{incident}", headers=officer).json()
    assert detail["crew"] == "crew-1"
    assert [c["crew"] for c in detail["commands"] if c["action"] == "dispatch"] == ["crew-1"]


def test_a_signal_id_reused_with_other_content_is_a_conflict(
    served: tuple[Service, dict[str, str]], people: list[tuple[str, str]]
) -> None:
    service, key = served
    original = call(people[5][0], "reused-1")
    assert post(service, key["intake"], [original]).json()["accepted"] == ["reused-1"]
    resent = post(service, key["intake"], [original]).json()
    assert resent["duplicates"] == ["reused-1"] and resent["conflicts"] == []
    changed = post(service, key["intake"], [original | {"premise": people[6][0]}])
    assert changed.status_code == 409
    (conflict,) = changed.json()["conflicts"]
    assert conflict["index"] == 0 and conflict["error"].startswith("signals[0]: id: ")
    assert changed.json()["duplicates"] == []
    # within one batch too: the first is taken, the second (other content) conflicts
    twice = [call(people[7][0], "twice-1"), call(people[8][0], "twice-1")]
    both = post(service, key["intake"], twice).json()
    assert both["accepted"] == ["twice-1"] and [c["index"] for c in both["conflicts"]] == [1]


# -- 10. the event stream refuses bad resumes before it starts ------------------------------


def test_sse_refuses_bad_resume_requests_before_streaming(
    served: tuple[Service, dict[str, str]],
) -> None:
    service, key = served
    officer = bearer(key["officer"])
    cases = [
        ({"Last-Event-ID": "abc"}, {}, "Last-Event-ID: "),
        ({}, {"types": "Nope"}, "types: "),
        ({"Last-Event-ID": "99999999"}, {}, "after the newest event"),
        ({}, {"after": "99999999"}, "after the newest event"),
    ]
    for headers, params, expected in cases:
        with httpx.stream(
            "GET", f"{service.url}/v1/events", headers=officer | headers, params=params, timeout=5
        ) as answer:
            assert answer.status_code == 422, (headers, params)
            answer.read()
            assert expected in answer.json()["detail"]


# -- 11. sign-in: unknown keys are limited, the cookie holds no key; API paths --------------


def test_unknown_key_attempts_are_rate_limited(served: tuple[Service, dict[str, str]]) -> None:
    service, key = served
    # From an address of its own (all of 127/8 is loopback): failures count per address.
    guesser = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.7"))
    with guesser:
        codes = [
            guesser.get(f"{service.url}/v1/storm", headers=bearer(f"guess-{n}")).status_code
            for n in range(60)
        ]
        assert codes[0] == 401 and codes.count(429) >= 30, codes
        limited = guesser.get(f"{service.url}/v1/storm", headers=bearer("guess-x"))
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        # a valid key is never held up by the failures of its address
        good = guesser.get(f"{service.url}/v1/storm", headers=bearer(key["officer"]))
        assert good.status_code == 200
    assert httpx.get(f"{service.url}/v1/storm", headers=bearer("guess-y")).status_code == 401


def test_the_session_cookie_is_a_signed_session_not_the_key(
    served: tuple[Service, dict[str, str]],
) -> None:
    service, key = served
    with httpx.Client(base_url=service.url) as browser:
        signed_in = browser.post("/v1/session", json={"key": key["officer"]})
        assert signed_in.status_code == 200
        cookie = signed_in.headers["set-cookie"]
        assert key["officer"] not in cookie
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Secure" not in cookie  # plain HTTP on loopback (TLS: see tests/api)
        assert browser.get("/v1/storm").status_code == 200
        session = browser.cookies["outage_session"]
        payload = base64.urlsafe_b64decode(session.split(".")[0] + "==").decode()
        assert key["officer"] not in payload and "duty" in payload  # the key's name only
        assert browser.delete("/v1/session").status_code == 200
    replayed = httpx.get(f"{service.url}/v1/storm", cookies={"outage_session": session})
    assert replayed.status_code == 401  # signed out: the old cookie no longer works
    forged = httpx.get(f"{service.url}/v1/storm", cookies={"outage_session": session + "x"})
    assert forged.status_code == 401


def test_head_and_trailing_slashes_on_the_api_are_answered_by_the_api(
    served: tuple[Service, dict[str, str]],
) -> None:
    service, key = served
    officer = bearer(key["officer"])
    head = httpx.head(f"{service.url}/v1/incidents", headers=officer)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == "application/json"
    assert httpx.head(f"{service.url}/healthz").status_code == 200
    slashed = httpx.get(f"{service.url}/v1/incidents/", headers=officer)
    assert slashed.status_code == 200 and "incidents" in slashed.json()
    unknown = httpx.get(f"{service.url}/v1/no-such-thing", headers=officer)
    assert unknown.status_code == 404 and unknown.json()["detail"].startswith("path: ")
    assert httpx.get(f"{service.url}/").status_code == 200  # the dashboard is still there
