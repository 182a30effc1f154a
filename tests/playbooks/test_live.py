"""Live wiring: journal catch-up after a restart, event decoding, rule-set commands."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from outage import events as ev
from outage.bootstrap import Network, build_engine
from outage.host import EngineHost
from outage.journal import SqliteJournal
from playbooks.drill import simulated_storm
from playbooks.live import QueuedRuleSetSwitch, catch_up, decode_event, live_runner
from playbooks.loader import load_playbooks
from playbooks.ports import Ports, Recorder


def test_journal_catch_up_feeds_only_what_the_runner_has_not_seen(
    demo_gpkg: Path, tmp_path: Path
) -> None:
    network = Network.load(demo_gpkg)
    journal = SqliteJournal(tmp_path / "journal.sqlite")
    host = EngineHost(build_engine(network), journal)
    storm = simulated_storm(network)
    journaled: list[ev.Event] = []
    host.listeners.append(lambda _seq, event: journaled.append(event))
    host.submit(storm)
    # Every journaled event decodes back to what the engine emitted.
    rows = journal.events(after=0, limit=100_000)
    assert [decode_event(kind, body) for _, kind, body in rows] == journaled

    recorder = Recorder()
    state = tmp_path / "playbooks.sqlite"
    runner = live_runner(load_playbooks(), network, Ports.recording(recorder), state)
    assert catch_up(runner, journal) == len(rows)
    activated = [r.playbook for r in runner.store.rows(kind="activated")]
    assert "storm-declared" in activated
    sent = len(recorder.sent)
    runner.stop()

    again = live_runner(load_playbooks(), network, Ports.recording(Recorder()), state)
    assert again.high_water == len(rows)
    assert catch_up(again, journal) == 0
    assert [r.playbook for r in again.store.rows(kind="activated")] == activated
    assert sent > 0
    again.stop()


def test_rule_set_switch_becomes_an_engine_command(demo_gpkg: Path) -> None:
    network = Network.load(demo_gpkg)
    host = EngineHost(build_engine(network), None)
    switch = QueuedRuleSetSwitch(clock=lambda: datetime(2026, 7, 1, 9, tzinfo=UTC))
    switch.set("storm")
    commands = switch.drain()
    assert switch.drain() == []
    result = host.submit(commands)
    assert result.accepted == [commands[0].id]
    assert [e.rule_set for e in result.events if isinstance(e, ev.RuleSetChanged)] == ["storm"]
    assert host.engine.rule_set == "storm"
