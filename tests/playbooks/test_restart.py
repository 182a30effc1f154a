"""Restart safety: persisted runner state and APScheduler jobs neither drop nor double."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playbooks.ports import Recorder
from playbooks.scheduler import LiveScheduler, every, once
from playbooks.store import RunnerStore
from tests.playbooks.conftest import Drive, at, call, predicted, restored

BOOK = """
id: lockout
title: Lockout
purpose: test
when: {single_outage: {min_customers: 1000}}
then:
  - sms_push: {kind: outage_notice, text: {zh-CN: "停电", en: "Outage"}}
  - staffing: {on_shift: 2}
schedule:
  - {every_minutes: 15, run: [staffing]}
stand_down: {clear_for_minutes: 30}
"""


def test_refeeding_seen_events_after_a_restart_changes_nothing(book, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    playbook = book(BOOK)
    history = [predicted("INC-1", 1500, 0), call(1), call(2), call(3)]
    first = Drive([playbook], store=RunnerStore(tmp_path / "runner.sqlite"))
    first.feed(history)
    sent_before = len(first.recorder.sent)
    assert first.kinds().count("activated") == 1 and sent_before >= 2
    first.runner.store.close()  # the process dies here

    recorder = Recorder()
    second = Drive([playbook], store=RunnerStore(tmp_path / "runner.sqlite"), recorder=recorder)
    # Committed with the activation (seq 1); later events had no effect worth a commit yet.
    assert second.runner.high_water == 1
    for seq, event in enumerate(history, start=1):  # the host re-delivers everything
        second.runner.on_event(seq, event)
    assert recorder.sent == []  # nothing sent twice
    assert second.runner.high_water == len(history)
    assert second.runner.situation.calls_within(at(3), timedelta(minutes=15)) == 3
    assert second.kinds().count("activated") == 1
    [active] = second.runner.active()
    assert active.paged == first.runner.active()[0].paged  # who was called in survives
    # The restored activation carries on: it stands down when its outage is restored.
    second.runner.on_event(len(history) + 1, restored("INC-1", 10))
    second.runner.advance(at(45))
    assert second.kinds().count("stood_down") == 1


def test_situation_survives_a_restart(book, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = Drive([book(BOOK)], store=RunnerStore(tmp_path / "runner.sqlite"))
    first.feed(predicted("INC-1", 600, 0, sub="sub.b"), call(1))
    first.runner.stop()
    second = Drive([book(BOOK)], store=RunnerStore(tmp_path / "runner.sqlite"))
    assert second.runner.situation.customers_out("sub.b") == 600
    assert second.runner.situation.calls_within(at(2), timedelta(minutes=5)) == 1


def test_live_scheduler_persists_jobs_and_replaces_instead_of_doubling(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    start = datetime.now(UTC) + timedelta(hours=1)
    live = LiveScheduler(path, name="restart-test")
    live.start(lambda *_: None)
    spec = {"kind": "follow_up", "playbook": "p", "activation": "a", "steps": ["staffing"]}
    live.add("a:follow-up-0", every(15, start), spec)
    live.add("a:follow-up-0", every(15, start), spec)  # re-added: replaced, not doubled
    live.add("a:once", once(start + timedelta(hours=2)), spec)
    live.stop()

    again = LiveScheduler(path, name="restart-test")
    again.start(lambda *_: None)
    jobs = {job.id: job for job in again.jobs()}
    assert sorted(jobs) == ["a:follow-up-0", "a:once"]
    assert jobs["a:follow-up-0"].next_fire == start + timedelta(minutes=15)
    assert jobs["a:follow-up-0"].spec == spec
    again.remove("a:once")
    again.remove("a:never-existed")  # no error
    assert [job.id for job in again.jobs()] == ["a:follow-up-0"]
    again.stop()


def test_live_scheduler_fires_through_the_registered_callback(tmp_path: Path) -> None:
    fired: list[tuple[str, dict[str, object]]] = []
    done = threading.Event()

    def callback(job_id: str, spec: dict[str, object], when: datetime) -> None:
        fired.append((job_id, spec))
        done.set()

    live = LiveScheduler(tmp_path / "jobs.sqlite", name="fire-test")
    live.start(callback)
    live.add("tick", once(datetime.now(UTC) + timedelta(seconds=0.3)), {"kind": "tick"})
    try:
        assert done.wait(10), "the job never fired"
        # A one-shot job is removed by the scheduler's thread after it ran; stopping before
        # that races APScheduler's own bookkeeping.
        deadline = time.monotonic() + 5
        while live.jobs() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert live.jobs() == []
    finally:
        live.stop()
    assert fired == [("tick", {"kind": "tick"})]
