"""Helpers for playbook tests: event time, hand-made engine events, small runners."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from outage import events as ev
from playbooks.loader import LoadedPlaybook, load_playbook
from playbooks.ports import Ports, Recorder
from playbooks.runner import PlaybookRunner
from playbooks.situation import Situation
from playbooks.store import RunnerStore

#: 10:00 local time in Shanghai (baseline 2.8 calls/h per 10k customers).
T0 = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
SERVED = {"sub.a": 5000, "sub.b": 5000}
ROSTER = """\
standby:
  - {name: A1, phone: "+8613800000001", priority: 1}
  - {name: A2, phone: "+8613800000002", priority: 1}
  - {name: A3, phone: "+8613800000003", priority: 2}
  - {name: A4, phone: "+8613800000004", priority: 3}
"""


def at(minutes: float) -> datetime:
    """``T0`` plus ``minutes``."""
    return T0 + timedelta(minutes=minutes)


def predicted(incident: str, customers: int, minutes: float, sub: str = "sub.a") -> ev.Event:
    """An outage predicted at a device."""
    return ev.OutagePredicted(
        at=at(minutes), incident=incident, device=f"dev.{incident}", level="device",
        customers=customers, substation=sub, feeder="fdr.1", cause="calls",
    )  # fmt: skip


def restored(incident: str, minutes: float) -> ev.Event:
    """An outage restored."""
    return ev.OutageRestored(
        at=at(minutes), incident=incident, device=f"dev.{incident}", customers=0, cause="crew"
    )


def call(minutes: float, n: int = 0) -> ev.Event:
    """A call (counted by the situation's call rate)."""
    return ev.CallAttached(
        at=at(minutes), incident="INC-1", call=f"c-{minutes}-{n}", premise="p", suppressed=True
    )


def warning(minutes: float, kind: str = "typhoon", level: str = "orange") -> ev.Event:
    """A weather warning."""
    return ev.WarningIssued(
        at=at(minutes), signal=f"w-{minutes}", kind=kind, level=level, area="all", until=None
    )


class Drive:
    """A runner over `SERVED` fed hand-made events with increasing seqs."""

    def __init__(
        self,
        playbooks: list[LoadedPlaybook],
        store: RunnerStore | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.recorder = recorder or Recorder()
        self.store = store or RunnerStore()
        self.runner = PlaybookRunner(
            playbooks, Situation(dict(SERVED)), Ports.recording(self.recorder), store=self.store
        )
        self.runner.start()
        self.seq = itertools.count(self.runner.high_water + 1)

    def feed(self, *events: ev.Event | Iterable[ev.Event]) -> None:
        """Feed events (or iterables of them) in order."""
        for item in events:
            for event in [item] if isinstance(item, ev.Event) else item:
                self.runner.on_event(next(self.seq), event)

    def kinds(self, playbook: str | None = None) -> list[str]:
        """Audit kinds in order."""
        return [r.kind for r in self.store.rows(playbook=playbook)]


@pytest.fixture
def book(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a playbook YAML (and the test roster beside it) and load it."""

    def make(text: str, name: str = "pb.yaml") -> LoadedPlaybook:
        (tmp_path / "roster.yaml").write_text(ROSTER, encoding="utf-8")
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return load_playbook(path)

    return make
