"""The SMS pipeline on event histories: select, inhibit, dedup, policy, supersede."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notify.channels import read_outbox
from outage import events as ev
from tests.notify.conftest import T0, expected_phones


def _phones(notifier, **where) -> set[str]:
    return {row["phone"] for row in notifier.store.rows(**where)}


def test_outage_texts_every_opted_in_customer_below_the_device_once(
    make_notifier, city, assets
) -> None:
    notifier, stream = make_notifier()
    count = stream.predicted("INC-1", assets.fuse)
    expected = expected_phones(city, assets.fuse)
    everyone = expected_phones(city, assets.fuse, opted_in_only=False)
    assert expected and everyone - expected, "fixture needs opted-out customers below the fuse"
    assert count == len(expected)
    assert _phones(notifier, kind="outage_detected") == expected
    # the same event number again (a replay) decides nothing
    assert notifier.on_event(1, ev.OutagePredicted(
        at=T0, incident="INC-1", device=assets.fuse, level="device", customers=0,
        substation="s", feeder="f", cause="calls"))  == 0
    assert len(notifier.store.rows()) == len(expected)


def test_critical_care_customers_are_sent_first(make_notifier, city, assets) -> None:
    customers = city.tables.customers.copy()
    below = expected_phones(city, assets.recloser)
    chosen = sorted(below)[-3:]
    customers["priority"] = "normal"
    customers.loc[customers["phone"].isin(chosen), "priority"] = "critical_care"
    notifier, stream = make_notifier(customers=customers, rate_per_second=1, burst=3)
    stream.predicted("INC-1", assets.recloser)
    report = notifier.dispatch(T0)
    assert report.sent == 3
    first = {r["to"] for r in read_outbox(notifier.channel.path)}
    assert first == set(chosen)


def test_a_roll_up_texts_only_the_newly_covered_customers(make_notifier, city, assets) -> None:
    notifier, stream = make_notifier()
    stream.predicted("INC-1", assets.transformer, level="transformer")
    stream.predicted("INC-2", assets.fuse, minute=1)
    stream.emit(ev.IncidentMerged, 1, incident="INC-2", into="INC-1")
    moved = stream.emit(
        ev.PredictionMoved, 1, incident="INC-1", from_device=assets.transformer,
        to_device=assets.fuse, customers=0, reason="roll-up",
    )
    assert moved == 0  # INC-2 had already told everyone below the fuse
    stream.emit(
        ev.PredictionMoved, 2, incident="INC-1", from_device=assets.fuse,
        to_device=assets.recloser, customers=0, reason="roll-up",
    )
    rows = notifier.store.rows(kind="outage_detected")
    phones = [r["phone"] for r in rows]
    assert len(phones) == len(set(phones)), "someone was told twice"
    assert set(phones) == expected_phones(city, assets.recloser)
    assert {r["incident"] for r in rows} == {"INC-1"}  # merged rows follow the survivor


def test_a_customer_told_about_the_parent_is_not_told_about_the_child(
    make_notifier, city, assets
) -> None:
    notifier, stream = make_notifier()
    stream.predicted("INC-P", assets.recloser)
    assert stream.predicted("INC-C", assets.fuse, minute=5) == 0
    notifier.dispatch(T0 + timedelta(minutes=6))
    # partial restoration: the restored part gets "still out? reply OUT", the child is announced
    stream.emit(
        ev.OutagePartiallyRestored, 30, incident="INC-P", device=assets.recloser,
        customers_restored=0, customers_still_out=0, still_out_incidents=("INC-C",),
    )
    child = expected_phones(city, assets.fuse)
    assert _phones(notifier, kind="outage_detected", incident="INC-C") == child
    checks = notifier.store.rows(kind="still_out_check")
    assert {r["phone"] for r in checks} == expected_phones(city, assets.recloser) - child
    assert all(r["not_before"] == (T0 + timedelta(minutes=40)).timestamp() for r in checks)
    assert "OUT" in checks[0]["body"]


def test_etr_changes_respect_the_threshold_and_refresh_pending_texts(
    make_notifier, city, assets
) -> None:
    notifier, stream = make_notifier(etr_change_threshold_minutes=30)
    stream.predicted("INC-1", assets.fuse)
    etr = T0 + timedelta(hours=3)
    # nothing sent yet: no etr_changed, the pending outage texts carry the new ETR
    assert stream.emit(ev.EtrChanged, 1, incident="INC-1", etr=etr, previous=None, by="x") == 0
    bodies = {r["language"]: r["body"] for r in notifier.store.rows(kind="outage_detected")}
    assert "13:00" in bodies["en"] and "13:00" in bodies["zh-CN"]  # 02:00Z + 3 h = 13:00 CST
    notifier.dispatch(T0 + timedelta(minutes=2))
    small = etr + timedelta(minutes=10)
    assert stream.emit(ev.EtrChanged, 3, incident="INC-1", etr=small, previous=etr, by="x") == 0
    big = etr + timedelta(minutes=45)
    sent = stream.emit(ev.EtrChanged, 4, incident="INC-1", etr=big, previous=small, by="x")
    assert sent == len(expected_phones(city, assets.fuse))
    # the same ETR again is a duplicate
    assert stream.emit(ev.EtrChanged, 5, incident="INC-1", etr=big, previous=big, by="x") == 0


def test_restoration_supersedes_unsent_texts_and_skips_the_never_told(
    make_notifier, city, assets
) -> None:
    notifier, stream = make_notifier(detect_delay_minutes=5)
    stream.predicted("INC-Q", assets.other_fuse)  # momentary: restored inside the delay
    assert stream.restored("INC-Q", assets.other_fuse, minute=2) == 0
    assert notifier.dispatch(T0 + timedelta(minutes=10)).sent == 0
    assert {r["status"] for r in notifier.store.rows(incident="INC-Q")} == {"superseded"}

    stream.predicted("INC-1", assets.fuse, minute=20)
    notifier.dispatch(T0 + timedelta(minutes=30))
    stream.emit(ev.CrewDispatched, 31, incident="INC-1", crew="crew-7", by="officer")
    restored = stream.restored("INC-1", assets.fuse, minute=32)
    assert restored == len(expected_phones(city, assets.fuse))
    assert {r["status"] for r in notifier.store.rows(kind="crew_dispatched")} == {"superseded"}


def test_quiet_hours_hold_texts_except_critical_care_and_restorations(
    make_notifier, city, assets
) -> None:
    customers = city.tables.customers.copy()
    phone = sorted(expected_phones(city, assets.fuse))[0]
    customers.loc[customers["phone"] == phone, "priority"] = "critical_care"
    notifier, stream = make_notifier(customers=customers, quiet_hours={"zh-CN": {}, "en": {}})
    night = datetime(2026, 7, 1, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    stream.notifier.on_event(1, ev.OutagePredicted(
        at=night, incident="INC-N", device=assets.fuse, level="device", customers=0,
        substation="s", feeder="f", cause="calls"))
    seven = datetime(2026, 7, 1, 23, 0, tzinfo=UTC).timestamp()  # 07:00 next day in Shanghai
    held = {r["phone"]: r["not_before"] for r in notifier.store.rows(kind="outage_detected")}
    assert held.pop(phone) == night.timestamp()
    assert set(held.values()) == {seven}
    # one dispatch at 01:00 sends only the critical-care customer
    assert notifier.dispatch(night + timedelta(hours=1, minutes=30)).sent == 1
    notifier.on_event(2, ev.OutageRestored(
        at=night + timedelta(hours=2), incident="INC-N", device=assets.fuse, customers=0,
        cause="crew"))
    restored = notifier.store.rows(kind="restored")
    assert [r["phone"] for r in restored] == [phone]  # the others never heard of it
    assert restored[0]["not_before"] == (night + timedelta(hours=2)).timestamp()


def test_stop_after_the_decision_still_wins(make_notifier, city, assets) -> None:
    notifier, stream = make_notifier()
    stream.predicted("INC-1", assets.fuse)
    phone = sorted(expected_phones(city, assets.fuse))[0]
    result = notifier.handle_inbound(phone, "STOP", "mo-1", T0)
    assert result.keyword == "stop"
    report = notifier.dispatch(T0 + timedelta(minutes=1))
    assert report.suppressed == 1
    assert phone not in {r["to"] for r in read_outbox(notifier.channel.path)}
    # and later decisions leave the number out entirely
    stream.predicted("INC-2", assets.other_fuse, minute=2)
    stream.emit(ev.CrewDispatched, 3, incident="INC-1", crew="c", by="o")
    assert phone not in _phones(notifier, kind="crew_dispatched")


def test_planned_notice_goes_out_the_lead_time_ahead(make_notifier, city, assets) -> None:
    notifier, stream = make_notifier(planned_notice_lead_hours=24)
    start = T0 + timedelta(days=3)
    stream.emit(
        ev.PlannedOutageScheduled, 0, incident="PLN-1", device=assets.fuse, start=start,
        end=start + timedelta(hours=2), reason="pole replacement", customers=0,
    )
    rows = notifier.store.rows(kind="planned_notice")
    assert {r["phone"] for r in rows} == expected_phones(city, assets.fuse)
    assert {r["not_before"] for r in rows} == {(start - timedelta(hours=24)).timestamp()}
    assert any("pole replacement" in r["body"] for r in rows)
    notifier.dispatch(start - timedelta(hours=23))
    # once it starts and ends, the customers noticed are told it is over
    stream.emit(ev.PlannedOutageStarted, 60 * 72, incident="PLN-1", device=assets.fuse,
                customers=0)
    assert _phones(notifier, kind="outage_detected") == set()
    stream.restored("PLN-1", assets.fuse, 60 * 74)
    assert _phones(notifier, kind="restored") == expected_phones(city, assets.fuse)


def test_push_goes_through_the_same_stages_once_per_push_id(make_notifier, city, assets) -> None:
    notifier, stream = make_notifier()
    stream.predicted("INC-1", assets.fuse)
    text = {"zh-CN": "台风期间请注意安全", "en": "Stay safe during the typhoon"}
    count = notifier.push(text, push_id="pb-1", at=T0, incident="INC-1")
    assert count == len(expected_phones(city, assets.fuse))
    assert notifier.push(text, push_id="pb-1", at=T0, incident="INC-1") == 0
    bodies = {r["language"]: r["body"] for r in notifier.store.rows(kind="announcement")}
    assert bodies == {
        "zh-CN": "【供电服务】台风期间请注意安全",
        "en": "[Power] Stay safe during the typhoon",
    }
    for bad, field in (({"asset": "nope"}, "asset"), ({}, "exactly one")):
        try:
            notifier.push("x", push_id="pb-2", at=T0, **bad)
        except ValueError as exc:
            assert field in str(exc)
        else:
            raise AssertionError("push accepted a bad target")


def test_a_hazard_warns_the_neighbours_even_at_night(make_notifier, city, assets) -> None:
    notifier, _ = make_notifier(quiet_hours={"zh-CN": {}, "en": {}})
    topo = city.topology
    premise = topo.premise_ids[topo.premises_of_transformer(
        topo.transformer_index[assets.transformer])[0]]
    night = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
    notifier.on_event(1, ev.HazardReported(
        at=night, ticket="HAZ-1", call="c1", kind="wire_down", premise=premise, incident=None))
    rows = notifier.store.rows(kind="hazard")
    assert {r["phone"] for r in rows} == expected_phones(city, assets.transformer)
    assert {r["not_before"] for r in rows} == {night.timestamp()}


def test_a_failed_decision_leaves_no_trace_and_is_decided_again(
    make_notifier, city, assets, monkeypatch
) -> None:
    notifier, stream = make_notifier()
    real = notifier.decider.decide

    def broken(*args, **kwargs):
        real(*args, **kwargs)  # writes its rows, then the process "fails"
        raise RuntimeError("disk full")

    monkeypatch.setattr(notifier.decider, "decide", broken)
    with pytest.raises(RuntimeError):
        stream.predicted("INC-1", assets.fuse)
    assert notifier.high_water == 0 and notifier.store.rows() == []
    assert "INC-1" not in notifier.book.incidents  # the projection rolled back too
    monkeypatch.undo()
    event = ev.OutagePredicted(at=T0, incident="INC-1", device=assets.fuse, level="device",
                               customers=0, substation="s", feeder="f", cause="calls")
    assert notifier.catch_up([(1, event), (1, event)]) == len(expected_phones(city, assets.fuse))
    assert notifier.high_water == 1


def test_callers_get_a_follow_up_after_the_delay_unless_out_again(
    make_notifier, city, assets
) -> None:
    notifier, stream = make_notifier()
    topo = city.topology
    premises = [
        topo.premise_ids[p]
        for p in topo.premises_of_transformer(topo.transformer_index[assets.transformer])
    ]
    customers = city.tables.customers
    opted = customers[customers["premise"].isin(premises) & customers["sms_opt_in"].astype(bool)]
    assert len(opted) >= 1, "fixture needs an opted-in caller"
    callers = tuple(sorted(set(opted["premise"])))
    count = stream.emit(ev.FollowUpDue, 60, incident="INC-9", premises=callers)
    assert count == len(set(opted["phone"]))
    rows = notifier.store.rows(kind="follow_up")
    assert {r["phone"] for r in rows} == set(opted["phone"])
    # sent 30 minutes (the default delay) after the restoration
    assert {r["not_before"] for r in rows} == {(T0 + timedelta(minutes=90)).timestamp()}
    assert all("1" in r["body"] and "5" in r["body"] for r in rows)


def test_an_estimated_etr_reads_as_an_estimate_and_an_officers_does_not(
    make_notifier, assets
) -> None:
    notifier, stream = make_notifier()
    etr = T0 + timedelta(hours=3)
    stream.predicted("INC-1", assets.fuse)
    stream.emit(
        ev.EtrChanged, 0, incident="INC-1", etr=etr, previous=None, by="engine", source="estimated"
    )
    texts = {r["language"]: r["body"] for r in notifier.store.rows(kind="outage_detected")}
    assert all("系统估计" in t or "automatic estimate" in t for t in texts.values()), texts
    other, stream2 = make_notifier()
    stream2.predicted("INC-2", assets.fuse)
    stream2.emit(
        ev.EtrChanged, 1, incident="INC-2", etr=etr, previous=None, by="officer-1", source="officer"
    )
    refreshed = {r["language"]: r["body"] for r in other.store.rows(kind="outage_detected")}
    assert "系统估计" not in refreshed["zh-CN"] and "预计" in refreshed["zh-CN"]
