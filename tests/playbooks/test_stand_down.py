"""The shipped storm and typhoon playbooks stand down by themselves once their condition has
been clear long enough — also when a storm is replayed into a live (wall-clock) service."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.base import BaseTrigger

from outage import events as ev
from playbooks.loader import load_playbooks
from playbooks.ports import Ports, Recorder
from playbooks.runner import PlaybookRunner
from playbooks.scheduler import ScheduledJob
from playbooks.situation import Situation
from playbooks.store import RunnerStore
from tests.playbooks.conftest import SERVED, at, call

LIBRARY = {p.playbook.id: p for p in load_playbooks()}


class WallClockScheduler:
    """The live scheduler's contract without APScheduler: jobs fire only when the test says
    (with a wall-clock time), never from `due`."""

    def __init__(self) -> None:
        self.added: dict[str, dict[str, Any]] = {}

    def start(self, callback: Any) -> None:
        self.callback = callback

    def add(self, job_id: str, trigger: BaseTrigger, spec: dict[str, Any]) -> datetime | None:
        self.added[job_id] = spec
        return None

    def remove(self, job_id: str) -> None:
        self.added.pop(job_id, None)

    def jobs(self) -> list[ScheduledJob]:
        return [ScheduledJob(i, None, s) for i, s in self.added.items()]

    def due(self, until: datetime) -> Iterator[tuple[datetime, str, dict[str, Any]]]:
        return iter(())

    def stop(self) -> None:
        pass


def runner(*ids: str, live: bool = False) -> tuple[PlaybookRunner, Recorder, RunnerStore]:
    recorder, store = Recorder(), RunnerStore()
    scheduler = WallClockScheduler() if live else None
    made = PlaybookRunner(
        [LIBRARY[i] for i in ids],
        Situation(dict(SERVED)),
        Ports.recording(recorder),
        store=store,
        scheduler=scheduler,
    )
    made.start()
    return made, recorder, store


def feed(runner: PlaybookRunner, events: list[ev.Event], seq: Iterator[int]) -> None:
    for event in events:
        runner.on_event(next(seq), event)


def stood_down(store: RunnerStore, playbook: str) -> list[datetime]:
    return [r.at for r in store.rows(playbook=playbook, kind="stood_down")]


def test_storm_declared_stands_down_by_itself_and_withdraws_its_announcement() -> None:
    made, recorder, store = runner("storm-declared")
    seq = itertools.count(1)
    feed(made, [ev.StormDeclared(at=at(0), scope="system", reasons=("test",), customers_out=9000,
                                 open_incidents=30, calls_per_hour=900.0,
                                 baseline_per_hour=6.0)], seq)  # fmt: skip
    assert recorder.board.all(), "the storm announcement is up"
    feed(made, [ev.StormStoodDown(at=at(120), scope="system", declared_at=at(0))], seq)
    feed(made, [call(140)], seq)
    assert stood_down(store, "storm-declared") == []  # clear for 20 of 30 minutes
    feed(made, [call(151)], seq)  # the tick at minute 150 stands it down
    down = store.rows(playbook="storm-declared", kind="stood_down")
    assert [r.at for r in down] == [at(150)] and "ordered_by" not in down[0].detail
    assert recorder.board.all() == []  # callers no longer hear "Severe weather has cut power"
    assert any("withdrew" in u for u in down[0].detail["undone"])
    assert made.active() == []


def test_typhoon_standby_stands_down_when_the_warning_runs_out() -> None:
    made, recorder, store = runner("typhoon-rainstorm-standby")
    seq = itertools.count(1)
    until = at(180)
    warning = ev.WarningIssued(at=at(0), signal="w-1", kind="typhoon", level="orange",
                               area="all", until=until)  # fmt: skip
    feed(made, [warning], seq)
    assert made.active() and recorder.board.all()
    feed(made, [call(200)], seq)
    assert stood_down(store, "typhoon-rainstorm-standby") == []
    feed(made, [call(241)], seq)  # clear_for 60 minutes after the warning ran out at 180
    assert stood_down(store, "typhoon-rainstorm-standby") == [at(240)]
    assert recorder.board.all() == [] and made.active() == []


def test_a_live_tick_judges_a_replayed_storm_on_its_own_time_base() -> None:
    """A storm from July replayed into a live service: the wall-clock tick (months later)
    must neither stand the playbooks down at once nor drag the runner's clock to today."""
    made, recorder, store = runner("storm-declared", "typhoon-rainstorm-standby", live=True)
    seq = itertools.count(1)
    warning = ev.WarningIssued(at=at(0), signal="w-1", kind="typhoon", level="orange",
                               area="all", until=at(300))  # fmt: skip
    declared = ev.StormDeclared(at=at(10), scope="system", reasons=("test",), customers_out=9000,
                                open_incidents=30, calls_per_hour=900.0,
                                baseline_per_hour=6.0)  # fmt: skip
    feed(made, [warning, declared, call(20)], seq)
    assert {a.playbook for a in made.active()} == {"storm-declared", "typhoon-rainstorm-standby"}
    wall = at(0) + timedelta(days=150)
    made.run_job("runner:tick", {"kind": "tick"}, wall)
    assert {a.playbook for a in made.active()} == {"storm-declared", "typhoon-rainstorm-standby"}
    assert made.now is not None and made.now - at(20) < timedelta(minutes=1)
    # the replayed storm goes on, and its own clearing stands both down on its clock
    feed(made, [ev.StormStoodDown(at=at(200), scope="system", declared_at=at(10))], seq)
    feed(made, [call(m) for m in range(210, 400, 10)], seq)
    assert stood_down(store, "storm-declared") == [at(230)]
    assert stood_down(store, "typhoon-rainstorm-standby") == [at(360)]
    assert recorder.board.all() == []
