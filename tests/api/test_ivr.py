"""IVR: JSON lookup by every identity, TwiML with Twilio signatures, VoiceXML 2.1."""

from __future__ import annotations

import base64
import copy
from xml.etree import ElementTree as etree

from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from outage.api.app import create_app
from outage.api.runtime import Runtime
from outage.api.settings import ServiceSettings
from outage.bootstrap import Network
from outage.host import decode

from .conftest import KEYS, auth, ring
from .helpers import call, fuse_with_transformers, premise_of, storm_clock

IVR = auth("ivr")


def outage_at_fuse(client: TestClient, network: Network) -> list[str]:
    _, transformers = fuse_with_transformers(network)
    signals = [call(premise_of(network, t), minute=n) for n, t in enumerate(transformers)]
    client.post("/v1/signals", json=signals, headers=auth("intake"))
    return [s["premise"] for s in signals]


def customer_of(network: Network, premise: str) -> dict[str, str]:
    table = network.tables.customers
    row = table[table["premise"] == premise].iloc[0]
    return {"phone": row["phone"], "account": str(row["account"]), "address": row["address"]}


def test_every_identity_finds_the_same_outage(client: TestClient, network: Network) -> None:
    premise = outage_at_fuse(client, network)[0]
    customer = customer_of(network, premise)
    lon, lat = network.tables.premises.set_index("id").geometry[premise].coords[0]
    queries = [
        {"premise": premise},
        {"phone": customer["phone"]},
        {"phone": customer["phone"].replace("+86", "")},  # written without the country code
        {"account": customer["account"]},
        {"address": customer["address"].upper()},
        {"lon": lon, "lat": lat},
    ]
    answers = [client.get("/v1/ivr/lookup", params=q, headers=IVR).json() for q in queries]
    assert {a["incident"] for a in answers} == {answers[0]["incident"]}
    assert all(a["known_outage"] and a["identified"] for a in answers)
    assert answers[1]["callback_offered"] is True  # a phone caller can get an SMS update
    assert answers[0]["customers_affected"] > 3


def test_bad_queries_are_422_naming_the_field(client: TestClient) -> None:
    cases = [
        ({}, "query"),
        ({"phone": "+8613812345678", "account": "1"}, "query"),
        ({"phone": "not a phone"}, "phone"),
        ({"lon": 121.0}, "lat"),
        ({"lat": 95, "lon": 1}, "lat"),
    ]
    for params, field in cases:
        answer = client.get("/v1/ivr/lookup", params=params, headers=IVR)
        assert answer.status_code == 422, params
        assert answer.json()["detail"].split(":")[0].endswith(field), answer.json()


def test_unknown_caller_gets_a_polite_answer(client: TestClient) -> None:
    answer = client.get("/v1/ivr/lookup", params={"phone": "+8613900000000"}, headers=IVR).json()
    assert answer["identified"] is False and answer["known_outage"] is False
    assert "account" in answer["message"]["en"] and answer["premises"] == []


def test_caller_with_several_premises_gets_each_listed(network: Network) -> None:
    tables = copy.deepcopy(network.tables)
    _, transformers = fuse_with_transformers(network)
    affected = premise_of(network, transformers[0])
    elsewhere = network.topology.premise_ids[-1]
    customers = tables.customers
    phone = customers.loc[customers["premise"] == elsewhere, "phone"].iloc[0]
    customers.loc[customers["premise"] == affected, "phone"] = phone
    shared = Network.from_tables(tables)
    with TestClient(
        create_app(Runtime(shared, None), ServiceSettings(), ring(), clock=storm_clock)
    ) as client:
        outage_at_fuse(client, shared)
        answer = client.get("/v1/ivr/lookup", params={"phone": phone}, headers=IVR).json()
    listed = {p["premise"]: p["known_outage"] for p in answer["premises"]}
    assert listed == {affected: True, elsewhere: False}
    assert answer["premise"] == affected and answer["known_outage"] is True
    assert "several" in answer["message"]["en"]


def test_planned_work_is_announced(client: TestClient, network: Network) -> None:
    fuse, transformers = fuse_with_transformers(network)
    planned = {
        "type": "planned",
        "id": "plan-1",
        "ts": "2026-07-01T08:00:00Z",
        "device": fuse,
        "start": "2026-07-01T10:00:00Z",
        "end": "2026-07-01T12:00:00Z",
        "reason": "pole work",
    }
    client.post("/v1/signals", json=planned, headers=auth("intake"))
    premise = premise_of(network, transformers[0])
    before = client.get("/v1/ivr/lookup", params={"premise": premise}, headers=IVR).json()
    assert before["known_outage"] is False
    assert before["upcoming_planned"][0]["reason"] == "pole work"
    client.post("/v1/signals", json=call(premise, minute=30), headers=auth("intake"))
    during = client.get("/v1/ivr/lookup", params={"premise": premise}, headers=IVR).json()
    assert during["planned"] is True and "pole work" in during["message"]["en"]


def test_twiml_menu_report_and_sms(client: TestClient, network: Network, runtime: Runtime) -> None:
    premise = outage_at_fuse(client, network)[0]
    phone = customer_of(network, premise)["phone"]
    menu = client.post("/v1/ivr/twiml", data={"From": phone, "CallSid": "CA1"}, headers=IVR)
    assert menu.status_code == 200 and menu.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(menu.content)
    gather = root.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1"
    spoken = [s.get("language") for s in gather.findall("Say")]
    # a zh-CN customer hears zh-CN only, then the offer of English (in English)
    assert spoken[-1] == "en-US" and set(spoken[:-1]) == {"zh-CN"}
    calls_before = runtime.engine.calls_received
    report = client.post(
        "/v1/ivr/twiml", data={"From": phone, "CallSid": "CA1", "Digits": "1"}, headers=IVR
    )
    assert "已记录" in report.text and runtime.engine.calls_received == calls_before + 1
    again = client.post(
        "/v1/ivr/twiml", data={"From": phone, "CallSid": "CA1", "Digits": "1"}, headers=IVR
    )
    assert again.status_code == 200 and runtime.engine.calls_received == calls_before + 1
    texted = client.post(
        "/v1/ivr/twiml", data={"From": phone, "CallSid": "CA2", "Digits": "2"}, headers=IVR
    )
    assert runtime.sms_requests[-1]["phone"] == phone
    # this app runs no SMS pipeline (an IVR-only worker): it must not promise a text
    assert "暂不可用" in texted.text and runtime.sms_requests[-1]["queued"] == 0
    missing = client.post("/v1/ivr/twiml", data={"CallSid": "CA3"}, headers=IVR)
    assert missing.status_code == 422 and missing.json()["detail"].startswith("From")


def test_twilio_signature_is_required_when_a_token_is_set(runtime: Runtime) -> None:
    token = "twilio-test-token"
    settings = ServiceSettings(twilio_auth_token=token, public_url="https://ivr.example.cn")
    form = {"From": "+8613812345678", "CallSid": "CA9"}
    good = RequestValidator(token).compute_signature("https://ivr.example.cn/v1/ivr/twiml", form)
    with TestClient(create_app(runtime, settings, ring(), clock=storm_clock)) as client:
        ok = client.post("/v1/ivr/twiml", data=form, headers={"X-Twilio-Signature": good})
        assert ok.status_code == 200
        forged = client.post("/v1/ivr/twiml", data=form, headers={"X-Twilio-Signature": "AAAA"})
        assert forged.status_code == 403
        tampered = client.post(
            "/v1/ivr/twiml", data=form | {"Digits": "1"}, headers={"X-Twilio-Signature": good}
        )
        assert tampered.status_code == 403
    assert runtime.engine.calls_received == 0  # the forged keypad report never got in


def test_voicexml_document_and_choice(client: TestClient, network: Network) -> None:
    premise = outage_at_fuse(client, network)[0]
    phone = customer_of(network, premise)["phone"]
    basic = base64.b64encode(f"ivr:{KEYS['ivr']}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}  # what VoiceXML platforms can send
    page = client.get("/v1/ivr/voicexml", params={"phone": phone}, headers=headers)
    assert page.status_code == 200
    root = etree.fromstring(page.content)
    ns = {"v": "http://www.w3.org/2001/vxml"}
    assert root.tag == "{http://www.w3.org/2001/vxml}vxml" and root.get("version") == "2.1"
    prompts = root.findall(".//v:block/v:prompt", ns)
    assert any("已知停电" in (p.text or "") for p in prompts)
    submit = root.find(".//v:field/v:filled/v:submit", ns)
    assert submit is not None and submit.get("namelist") == "choice phone callid lang"
    english = client.post(
        "/v1/ivr/voicexml",
        data={"phone": phone, "callid": "v-1", "choice": "9", "lang": "zh-CN"},
        headers=headers,
    )
    english_root = etree.fromstring(english.content)
    assert english_root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en-US"
    assert any(
        "known power outage" in (p.text or "")
        for p in english_root.findall(".//v:block/v:prompt", ns)
    )
    chosen = client.post(
        "/v1/ivr/voicexml",
        data={"phone": phone, "callid": "v-1", "choice": "2", "lang": "en"},
        headers=headers,
    )
    assert chosen.status_code == 200 and b"not available" in chosen.content  # no SMS here


def test_the_caller_hears_their_own_language_first(client: TestClient, network: Network) -> None:
    """An ``en`` customer hears only English before the menu (then the offer of zh-CN, in
    zh-CN); 9 gives everything in zh-CN, and the menu's link keeps that choice."""
    outage_at_fuse(client, network)
    fuse, _ = fuse_with_transformers(network)
    topo = network.topology
    premises = [topo.premise_ids[p] for p in topo.premises_below(topo.device_index[fuse])]
    table = network.tables.customers
    english = table[table["premise"].isin(premises) & (table["language"] == "en")]
    chinese = table[table["premise"].isin(premises) & (table["language"] == "zh-CN")]
    assert len(english) and len(chinese), "the fuse should have callers of both languages"
    phone = english.iloc[0]["phone"]
    looked_up = client.get("/v1/ivr/lookup", params={"phone": phone}, headers=IVR).json()
    assert looked_up["language"] == "en" and looked_up["known_outage"]
    zh_phone = chinese.iloc[0]["phone"]
    zh = client.get("/v1/ivr/lookup", params={"phone": zh_phone}, headers=IVR).json()
    assert zh["language"] == "zh-CN"

    menu = etree.fromstring(
        client.post("/v1/ivr/twiml", data={"From": phone, "CallSid": "CA-en"}, headers=IVR).content
    )
    says = menu.find("Gather").findall("Say")  # type: ignore[union-attr]
    assert [s.get("language") for s in says[:-1]] == ["en-US"] * (len(says) - 1)
    assert "known power outage" in (says[0].text or "") and "press 1" in (says[-2].text or "")
    assert says[-1].get("language") == "zh-CN" and "9" in (says[-1].text or "")
    assert len(says) == len(looked_up["announcements"]) + 3  # answer, menu, offer
    action = menu.find("Gather").get("action")  # type: ignore[union-attr]
    assert action == "/v1/ivr/twiml?lang=en"

    switched = etree.fromstring(
        client.post(
            action, data={"From": phone, "CallSid": "CA-en", "Digits": "9"}, headers=IVR
        ).content
    )
    gather = switched.find("Gather")
    assert gather is not None and gather.get("action") == "/v1/ivr/twiml?lang=zh-CN"
    zh_says = gather.findall("Say")
    assert {s.get("language") for s in zh_says[:-1]} == {"zh-CN"}
    assert "已知停电" in (zh_says[0].text or "") and zh_says[-1].get("language") == "en-US"


def test_a_keypad_report_is_never_stamped_before_the_engine_clock(
    runtime: Runtime, network: Network
) -> None:
    """A storm replayed ahead of the wall clock (a drill on tomorrow's date): the keypad
    report takes the commands' clock, not the raw wall clock, so it does not land in the
    storm's past. Oracle: the time of the last signal posted."""
    from datetime import UTC, datetime, timedelta

    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    app = create_app(runtime, ServiceSettings(), ring(), clock=lambda: ahead)
    _, transformers = fuse_with_transformers(network)
    premises = [premise_of(network, t) for t in transformers]
    signals = [
        call(p) | {"ts": (ahead - timedelta(minutes=5 - n)).isoformat()}
        for n, p in enumerate(premises[:3])
    ]
    latest = max(datetime.fromisoformat(s["ts"]) for s in signals)
    with TestClient(app) as client:
        assert client.post("/v1/signals", json=signals, headers=auth("intake")).status_code == 202
        phone = customer_of(network, premises[-1])["phone"]
        form = {"From": phone, "CallSid": "CA9", "Digits": "1"}
        assert client.post("/v1/ivr/twiml", data=form, headers=IVR).status_code == 200
    assert runtime.journal is not None
    taken = [decode(body) for _, body in runtime.journal.messages()]
    (keypad,) = [m for m in taken if m.id == "ivr-CA9"]
    assert keypad.ts >= latest
