"""Wiring for the live service: a persistent runner, catching up from the journal, rule sets.

    runner = live_runner(load_playbooks(), network, ports, Path("var/playbooks.sqlite"))
    catch_up(runner, journal)                # events journaled before the runner saw them
    host.listeners.append(runner.on_event)
    runner.start()                           # APScheduler resumes persisted follow-ups
    ...
    runner.stop()

The engine switches rule sets by an officer command; a listener must not submit to the
host it is listening to, so `QueuedRuleSetSwitch` queues the commands and the service
submits ``switch.drain()`` after each ``host.submit``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from outage import events as ev
from outage.bootstrap import Network
from outage.commands import Command
from outage.follow import follow
from outage.journal import SqliteJournal
from outage.rules import Rules
from playbooks.loader import LoadedPlaybook
from playbooks.ports import Ports
from playbooks.runner import PlaybookRunner
from playbooks.scheduler import LiveScheduler
from playbooks.situation import Situation
from playbooks.store import RunnerStore


def live_runner(
    playbooks: Sequence[LoadedPlaybook],
    network: Network,
    ports: Ports,
    state: Path,
    *,
    rules: Rules | None = None,
) -> PlaybookRunner:
    """A runner whose audit log and state live in the SQLite file ``state`` and whose
    APScheduler jobs live beside it (``*.jobs.sqlite``), all restored when they exist.
    Call ``start()`` once it is subscribed."""
    state.parent.mkdir(parents=True, exist_ok=True)
    return PlaybookRunner(
        playbooks,
        Situation.for_topology(network.topology, rules),
        ports,
        store=RunnerStore(state),
        scheduler=LiveScheduler(state.with_suffix(".jobs.sqlite")),
    )


def catch_up(runner: PlaybookRunner, journal: SqliteJournal, batch: int = 10_000) -> int:
    """Feed journaled events after the runner's high-water mark; returns how many
    (`outage.follow.follow`)."""
    return follow(journal, runner, batch=batch)


#: The decoder lives with the events (`outage.events.from_json`); named here for callers.
decode_event = ev.from_json


class QueuedRuleSetSwitch:
    """`RuleSetSwitch` that queues engine ``rule_set`` commands for the service to submit."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self._queue: list[Command] = []
        self._lock = threading.Lock()

    def set(self, name: str) -> None:
        """Queue a switch to ``name``."""
        ts = self.clock()
        command = Command(
            id=f"playbooks-rule-set-{name}-{ts.strftime('%Y%m%dT%H%M%S%f')}",
            ts=ts,
            by="playbooks",
            action="rule_set",
            rule_set=name,  # type: ignore[arg-type]
        )
        with self._lock:
            self._queue.append(command)

    def drain(self) -> list[Command]:
        """The queued commands (emptying the queue)."""
        with self._lock:
            queued, self._queue = self._queue, []
        return queued

    def requeue(self, commands: list[Command]) -> None:
        """Put back ``commands`` a failed submit did not deliver, ahead of newer ones (their
        ids make a resubmit of any that did land a duplicate, not a second switch)."""
        with self._lock:
            self._queue[:0] = commands
