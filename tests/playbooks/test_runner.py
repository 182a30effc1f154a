"""The runner: firing, hold-down, re-arming, stand-down, proposals, follow-ups, failures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from playbooks.errors import NotAllowed, ProposalError
from playbooks.ports import Recorder
from tests.playbooks.conftest import Drive, at, call, predicted, restored, warning

LOCKOUT = """
id: lockout
title: Lockout
purpose: test
when: {single_outage: {min_customers: 1000}}
hold_for_minutes: HOLD
rearm_minutes: 60
then:
  - id: ivr
    ivr_announcement:
      message: {zh-CN: "停电，预计{etr}恢复", en: "Outage, back by {etr}"}
  - rule_set: {name: storm}
  - staffing: {aht_s: 300, on_shift: 2, interval_minutes: 15}
schedule:
  - {every_minutes: 15, run: [staffing]}
stand_down: {clear_for_minutes: 30}
"""


def lockout(book, hold: float = 0, extra: str = ""):  # type: ignore[no-untyped-def]
    return book(LOCKOUT.replace("HOLD", str(hold)) + extra)


def test_fires_once_runs_steps_in_order_and_audits_each(book) -> None:  # type: ignore[no-untyped-def]
    drive = Drive([lockout(book)])
    drive.feed(predicted("INC-1", 400, 0), predicted("INC-2", 1500, 5, sub="sub.b"))
    drive.feed(call(6), call(7))  # still holding: no second activation
    kinds = drive.kinds("lockout")
    assert kinds[:8] == ["activated", *["action", "result"] * 3, "scheduled"]
    assert kinds.count("activated") == 1
    activated = drive.store.rows(kind="activated")[0]
    assert activated.at == at(5) and activated.detail["area"] == ["sub.b"]
    assert activated.detail["incidents"] == ["INC-2"]
    ivr = drive.recorder.channel("ivr_publish")[0]
    assert ivr["area"] == ("sub.b",)
    assert ivr["message"]["en"] == "Outage, back by not yet known"  # no ETR yet
    assert [row["channel"] for row in drive.recorder.sent][:2] == ["ivr_publish", "rule_set"]
    assert drive.recorder.board.for_area("sub.b") and not drive.recorder.board.for_area("sub.a")


def test_hold_down_ignores_a_flapping_metric(book) -> None:  # type: ignore[no-untyped-def]
    drive = Drive([lockout(book, hold=5)])
    drive.feed(predicted("INC-1", 1500, 0), restored("INC-1", 3))  # held 3 of 5 minutes
    drive.feed(predicted("INC-2", 1500, 10), call(12))
    assert drive.kinds("lockout") == []
    drive.feed(call(16))  # INC-2 has held since minute 10: the tick at 15 fires it
    fired = drive.store.rows(kind="activated")
    assert len(fired) == 1 and fired[0].at == at(15)


def test_stand_down_withdraws_reverts_and_rearms_after_the_quiet_period(book) -> None:  # type: ignore[no-untyped-def]
    drive = Drive([lockout(book)])
    drive.feed(predicted("INC-1", 1500, 0), restored("INC-1", 20))
    drive.runner.advance(at(49))
    assert "stood_down" not in drive.kinds()  # clear for 29 of 30 minutes
    drive.runner.advance(at(51))
    down = drive.store.rows(kind="stood_down")
    assert len(down) == 1 and down[0].at == at(50)
    assert drive.recorder.channel("ivr_withdraw")[0]["id"].endswith(":ivr")
    assert drive.recorder.board.all() == []
    assert [r["name"] for r in drive.recorder.channel("rule_set")] == ["storm", "normal"]
    # Within rearm_minutes (60) of the stand-down nothing fires; after it, it does.
    drive.feed(predicted("INC-2", 1500, 80), restored("INC-2", 85))
    assert drive.kinds().count("activated") == 1
    drive.feed(predicted("INC-3", 1500, 120))
    assert drive.kinds().count("activated") == 2


def test_follow_ups_run_on_event_time_and_stop_at_stand_down(book) -> None:  # type: ignore[no-untyped-def]
    drive = Drive([lockout(book)])
    drive.feed(predicted("INC-1", 1500, 0))
    drive.runner.advance(at(46))
    staffing = [r for r in drive.store.rows(kind="result") if r.detail["step"] == "staffing"]
    assert [r.at for r in staffing] == [at(0), at(15), at(30), at(45)]
    drive.feed(restored("INC-1", 50))
    drive.runner.advance(at(200))
    staffing = [r for r in drive.store.rows(kind="result") if r.detail["step"] == "staffing"]
    assert staffing[-1].at == at(75)  # the last run before the stand-down at 80
    assert drive.store.rows(kind="stood_down")[0].at == at(80)
    assert not [j for j in drive.runner.scheduler.jobs() if "follow-up" in j.id]


def test_staffing_pages_the_roster_in_order_until_the_gap_closes(book) -> None:  # type: ignore[no-untyped-def]
    drive = Drive([lockout(book)])
    drive.feed(predicted("INC-1", 1500, 0))
    result = next(r for r in drive.store.rows(kind="result") if r.detail["step"] == "staffing")
    # 1500 customers x 0.15 x 1.4 spread over 30 min: half in the next 15 min, plus the
    # baseline (2.8 calls/h for 10,000 customers at 10:00 local) for a quarter hour.
    assert result.detail["forecast_calls"] == pytest.approx(1500 * 0.15 * 1.4 / 2 + 2.8 / 4, 0.01)
    assert result.detail["positions"] > 2 + 4  # more than on shift + the whole roster
    assert result.detail["paged"] == ["A1", "A2", "A3", "A4"]
    assert result.detail["roster_exhausted"] is True
    pages = drive.recorder.channel("page")
    assert [p["name"] for p in pages] == ["A1", "A2", "A3", "A4"]
    drive.runner.advance(at(16))  # re-evaluation pages nobody twice
    assert len(drive.recorder.channel("page")) == 4


def test_a_failed_channel_is_audited_and_the_other_steps_still_run(book) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder(fail_channels={"ivr_publish"})
    drive = Drive([lockout(book)], recorder=recorder)
    drive.feed(predicted("INC-1", 1500, 0))
    results = {r.detail["step"]: r.detail for r in drive.store.rows(kind="result")}
    assert results["ivr"]["ok"] is False and "simulated failure" in results["ivr"]["error"]
    assert results["rule_set"]["ok"] and results["staffing"]["ok"]


PROPOSE = """
id: surge
title: Surge
purpose: test
activation: {mode: propose, roles: [duty_officer], expires_minutes: 10}
when: {call_rate: {multiple: 3, window_minutes: 15, min_calls: 10}}
then:
  - escalate: {roles: [shift_lead], message: {zh-CN: "话务激增 {reason}", en: "Surge: {reason}"}}
stand_down: {clear_for_minutes: 15}
"""


def burst(start: float, n: int) -> list:  # type: ignore[type-arg]
    """``n`` calls one every 10 s from minute ``start``."""
    return [call(start + k / 6, k) for k in range(n)]


def test_proposal_confirmed_by_an_allowed_role_activates(book) -> None:  # type: ignore[no-untyped-def]
    drive = Drive([book(PROPOSE)])
    drive.feed(burst(0, 30))  # the 10th call: 40/h over 15 min >= 3 x 2.8/h
    [proposal] = drive.runner.proposals()
    assert drive.kinds() == ["proposed"] and drive.recorder.sent == []
    with pytest.raises(NotAllowed):
        drive.runner.confirm(proposal.id, "intern", role="agent", at=at(6))
    record = drive.runner.confirm(proposal.id, "Officer Wu", role="duty_officer", at=at(6))
    assert record.by == "Officer Wu"
    assert drive.kinds() == ["proposed", "confirmed", "activated", "action", "result"]
    confirmed = drive.store.rows(kind="confirmed")[0]
    assert confirmed.by == "Officer Wu" and confirmed.at == at(6)
    assert "Surge: call rate" in drive.recorder.channel("escalate")[0]["message"]["en"]
    with pytest.raises(ProposalError):
        drive.runner.confirm(proposal.id, "Officer Wu", role="duty_officer")


def test_declined_proposal_waits_for_the_condition_to_clear(book) -> None:  # type: ignore[no-untyped-def]
    drive = Drive([book(PROPOSE)])
    drive.feed(burst(0, 30))
    [proposal] = drive.runner.proposals()
    drive.runner.decline(proposal.id, "Officer Wu", "known cause", role="duty_officer", at=at(6))
    drive.feed(burst(7, 30))  # still surging: no new proposal
    assert drive.kinds() == ["proposed", "declined"]
    assert drive.store.rows(kind="declined")[0].detail["reason"] == "known cause"
    drive.runner.advance(at(40))  # quiet: the condition clears
    drive.feed(burst(60, 30))
    assert drive.kinds() == ["proposed", "declined", "proposed"]


def test_unanswered_proposal_expires(book) -> None:  # type: ignore[no-untyped-def]
    drive = Drive([book(PROPOSE)])
    drive.feed(burst(0, 30))
    [proposal] = drive.runner.proposals()
    drive.runner.advance(at(20))
    assert drive.kinds() == ["proposed", "expired"]
    expired = drive.store.rows(kind="expired")[0].at
    assert proposal.expires <= expired < proposal.expires + timedelta(minutes=1)  # next tick
    with pytest.raises(ProposalError):
        drive.runner.confirm(proposal.id, "late", role="duty_officer")


WARN = """
id: typhoon
title: Typhoon
purpose: test
when: {any: [{warning: {kinds: [typhoon], min_level: orange, default_hours: 2}},
             {customers_out: {scope: any_substation, min: 2000}}]}
then:
  - sms_push: {kind: storm_advice, text: {zh-CN: "台风", en: "Typhoon in {area}"}}
stand_down: {clear_for_minutes: 10}
"""


def test_warning_levels_and_expiry(book) -> None:  # type: ignore[no-untyped-def]
    drive = Drive([book(WARN)])
    drive.feed(warning(0, level="yellow"), warning(1, kind="heat", level="red"))
    assert drive.kinds() == []  # too weak, wrong kind
    drive.feed(warning(2, level="red"))
    assert drive.kinds().count("activated") == 1
    sms = drive.recorder.channel("sms")[0]
    assert sms["target"]["area"] == "system" and sms["text"]["en"] == "Typhoon in all areas"
    drive.runner.advance(at(2 + 120 + 9))
    assert "stood_down" not in drive.kinds()  # the warning ran out at 122; clear 9 minutes
    drive.runner.advance(at(2 + 120 + 11))
    assert drive.store.rows(kind="stood_down")[0].at == at(132)
