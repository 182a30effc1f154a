"""Inbound keywords: STOP / START / OUT / STATUS / HELP, unknown numbers, redelivery."""

from __future__ import annotations

from datetime import timedelta

import pytest

from notify.errors import InboundError
from notify.inbound import keyword_of
from outage.signals import CallSignal
from tests.notify.conftest import T0, expected_phones


@pytest.mark.parametrize(
    ("text", "keyword"),
    [("STOP", "stop"), ("stop please", "stop"), ("退订", "stop"), ("TD", "stop"),
     ("Start", "start"), ("out", "out"), ("停电了", "out"), ("STATUS?", "status"),
     ("查询", "status"), ("help", "help"), ("hello", "help"), ("", "help")],
)
def test_keywords(text: str, keyword: str) -> None:
    assert keyword_of(text) == keyword


def _notifier(make_notifier, calls, statuses):
    notifier, stream = make_notifier()
    notifier.inbound.submit_call = calls.append
    notifier.inbound.status_for_phone = statuses.get
    return notifier, stream


def test_out_becomes_one_call_signal_even_when_redelivered(make_notifier, city, assets) -> None:
    calls: list[CallSignal] = []
    notifier, _ = _notifier(make_notifier, calls, {})
    phone = sorted(expected_phones(city, assets.fuse))[0]
    local = phone.removeprefix("+86")  # as a carrier may deliver it
    result = notifier.handle_inbound(local, "OUT", "mo-77", T0)
    assert result.keyword == "out" and result.call is not None
    assert (result.call.type, result.call.kind, result.call.phone) == ("call", "no_power", phone)
    assert result.call.id == "sms-mo-77" and result.call.ts == T0
    assert calls == [result.call]
    again = notifier.handle_inbound(local, "OUT", "mo-77", T0 + timedelta(minutes=1))
    assert again.keyword == "duplicate" and again.call is None and again.reply == result.reply
    assert len(calls) == 1


def test_status_answers_only_for_the_sender(make_notifier, city, assets) -> None:
    phone = sorted(expected_phones(city, assets.fuse))[0]
    statuses = {phone: "Outage INC-1, crew on site, ETR 18:30"}
    notifier, _ = _notifier(make_notifier, [], statuses)
    assert "crew on site" in notifier.handle_inbound(phone, "STATUS", "mo-1", T0).reply
    other = sorted(expected_phones(city, assets.fuse))[1]
    reply = notifier.handle_inbound(other, "status", "mo-2", T0).reply
    assert "crew on site" not in reply and ("no outage" in reply or "没有" in reply)


def test_unknown_numbers_get_a_polite_answer_and_no_data(make_notifier) -> None:
    calls: list[CallSignal] = []
    notifier, _ = _notifier(make_notifier, calls, {"+8613000000000": "secret"})
    for text in ("OUT", "STATUS"):
        result = notifier.handle_inbound("+8613000000000", text, f"mo-{text}", T0)
        assert "95598" in result.reply and "secret" not in result.reply
    assert calls == []
    # a Chinese text from an unknown number is answered in Chinese
    assert "【供电服务】" in notifier.handle_inbound("+8613000000001", "停电", "mo-z", T0).reply


def test_stop_and_start(make_notifier, city, assets) -> None:
    notifier, stream = make_notifier()
    phone = sorted(expected_phones(city, assets.fuse))[0]
    notifier.handle_inbound(phone, "退订", "mo-1", T0)
    stream.predicted("INC-1", assets.fuse)
    assert phone not in {r["phone"] for r in notifier.store.rows()}
    notifier.handle_inbound(phone, "START", "mo-2", T0)
    stream.predicted("INC-2", assets.other_fuse)
    stream.emit(
        __import__("outage.events").events.PredictionMoved, 1, incident="INC-2",
        from_device=assets.other_fuse, to_device=assets.recloser, customers=0, reason="r",
    )
    assert phone in {r["phone"] for r in notifier.store.rows(incident="INC-2")}
    # a STOP from a number we do not know is still honoured
    notifier.handle_inbound("+8613000000002", "STOP", "mo-3", T0)
    assert notifier.store.consent()["+8613000000002"] == "out"


def test_malformed_inbound_names_the_field(make_notifier) -> None:
    notifier, _ = make_notifier()
    with pytest.raises(InboundError, match="message_id"):
        notifier.handle_inbound("+8613000000000", "OUT", "", T0)
    with pytest.raises(InboundError, match="received_at"):
        notifier.handle_inbound("+8613000000000", "OUT", "m", T0.replace(tzinfo=None))


@pytest.mark.parametrize(("text", "score"), [("4", 4), (" 5 ", 5), ("1分", 1), ("3。", 3)])
def test_a_lone_rating_answers_the_follow_up(make_notifier, city, assets, text, score) -> None:
    signals: list[object] = []
    notifier, _ = _notifier(make_notifier, signals, {})
    phone = sorted(expected_phones(city, assets.fuse))[0]
    result = notifier.handle_inbound(phone, text, f"mo-{score}", T0)
    assert result.keyword == "score"
    answer = result.call
    assert answer is not None and answer.type == "followup"
    assert (answer.phone, answer.score, answer.channel, answer.incident) == (
        phone,
        score,
        "sms",
        None,
    )
    assert signals == [answer]


@pytest.mark.parametrize("text", ["6", "45", "0", "4 stars and more text"])
def test_other_numbers_are_not_ratings(text: str) -> None:
    assert keyword_of(text) != "score"
