"""Drill mode: run playbooks over a replayed or simulated storm with every channel recording.

`run_drill` plays signals through a fresh in-memory `EngineHost` on the given network, feeds
the engine's events to a `PlaybookRunner` whose ports are one `Recorder`, lets event time run
on for a tail (so stand-downs show), and returns a `DrillResult`: the audit log, what would
have been sent, the staffing evaluations, calls per 5 minutes and the engine's own storm
milestones. Proposals are confirmed automatically after ``confirm_after`` (the drill's stand-in
duty officer) unless ``confirm_after`` is None, in which case they expire.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from outage import events as ev
from outage.bootstrap import Network, build_engine
from outage.host import EngineHost, Message
from outage.rules import Rules
from outage.signals import parse_signal
from playbooks.loader import LoadedPlaybook
from playbooks.ports import Ports, Recorder
from playbooks.runner import PlaybookRunner
from playbooks.situation import Situation
from playbooks.store import AuditRow
from scenarios.city_storm import CityStorm, simulate_storm

BATCH = 200
MILESTONES = (ev.StormDeclared, ev.StormStoodDown, ev.WarningIssued, ev.RuleSetChanged)


def simulated_storm(
    network: Network,
    *,
    faults: int = 25,
    seed: int = 7,
    warning: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Message]:
    """The demo's storm on ``network`` (15% of customers out call, one in ten faults nested),
    as parsed signals ready for `run_drill`."""
    storm = simulate_storm(
        network.topology,
        network.tables.customers,
        CityStorm(faults=faults, seed=seed, call_rate=0.15, nested=0.1, warning=warning),
        premise_xy=network.tables.premise_points(),
        on_progress=on_progress,
    )
    return [parse_signal(s) for s in storm.signals]


@dataclass
class DrillResult:
    """Everything the review report needs."""

    playbooks: list[str]
    start: datetime | None
    end: datetime | None
    audit: list[AuditRow]
    sent: list[dict[str, Any]]
    staffing: list[dict[str, Any]]
    calls_by_bucket: dict[str, int]
    milestones: list[dict[str, Any]]
    signals: int
    events: int
    confirmations: list[dict[str, Any]] = field(default_factory=list)

    def activations(self, playbook: str | None = None) -> list[AuditRow]:
        """``activated`` audit rows (of one playbook)."""
        return [
            r
            for r in self.audit
            if r.kind == "activated" and (playbook is None or r.playbook == playbook)
        ]

    def first(self, kind: str, playbook: str) -> AuditRow | None:
        """The first audit row of ``kind`` for ``playbook``."""
        return next((r for r in self.audit if r.kind == kind and r.playbook == playbook), None)


def run_drill(
    playbooks: Sequence[LoadedPlaybook],
    network: Network,
    signals: Sequence[Message],
    *,
    rules: Rules | None = None,
    tail: timedelta = timedelta(hours=3),
    confirm_after: timedelta | None = timedelta(minutes=2),
    on_progress: Callable[[int, int], None] | None = None,
) -> DrillResult:
    """Drill ``playbooks`` on ``signals`` (see the module docstring)."""
    recorder = Recorder()
    situation = Situation.for_topology(network.topology, rules)
    runner = PlaybookRunner(playbooks, situation, Ports.recording(recorder), persist=False)
    runner.start()
    host = EngineHost(build_engine(network, rules), None)
    milestones: list[dict[str, Any]] = []
    confirmations: list[dict[str, Any]] = []
    count = 0
    first_at: datetime | None = None

    def listen(seq: int, event: ev.Event) -> None:
        nonlocal count, first_at
        count += 1
        first_at = first_at or event.at
        _officer(runner, event.at, confirm_after, confirmations)
        runner.on_event(seq, event)
        if isinstance(event, MILESTONES):
            milestones.append({"at": event.at.isoformat(), **ev.to_dict(event)})

    host.listeners.append(listen)
    for first in range(0, len(signals), BATCH):
        host.submit(signals[first : first + BATCH])
        if on_progress is not None:
            on_progress(min(first + BATCH, len(signals)), len(signals))
    for event in host.finish():
        host.event_seq += 1
        listen(host.event_seq, event)
    end = runner.now
    if end is not None:
        # The quiet after the storm, a minute at a time so the drill officer can still act.
        step, until = timedelta(minutes=1), end + tail
        while runner.now is not None and runner.now < until:
            target = runner.now + step
            _officer(runner, target, confirm_after, confirmations)
            runner.advance(target)
        end = runner.now
    staffing = [
        {"playbook": r.playbook, "activation": r.activation, **r.detail}
        for r in runner.store.rows(kind="result")
        if "positions" in r.detail
    ]
    return DrillResult(
        playbooks=[p.playbook.id for p in playbooks],
        start=first_at,
        end=end,
        audit=runner.store.rows(),
        sent=recorder.sent,
        staffing=staffing,
        calls_by_bucket=dict(runner.situation.calls_by_bucket),
        milestones=milestones,
        signals=len(signals),
        events=count,
        confirmations=confirmations,
    )


def _officer(
    runner: PlaybookRunner,
    now: datetime,
    confirm_after: timedelta | None,
    log: list[dict[str, Any]],
) -> None:
    """The drill's duty officer: confirms each proposal ``confirm_after`` after it was made."""
    if confirm_after is None:
        return
    for proposal in runner.proposals():
        decide_at = proposal.at + confirm_after
        if now >= decide_at and decide_at < proposal.expires:
            entry = runner.entries[proposal.playbook].playbook
            role = entry.activation.roles[0] if entry.activation.roles else None
            decide_at = max(decide_at, runner.now or decide_at)
            runner.confirm(proposal.id, "drill-officer", role=role, at=decide_at)
            log.append({"proposal": proposal.id, "at": decide_at.isoformat(), "by": role})
