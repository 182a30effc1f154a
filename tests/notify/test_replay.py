"""Catching up from the engine's journal decides the same texts as listening live."""

from __future__ import annotations

from pathlib import Path

import pytest

from notify import Notifier, NotifyConfig, SqliteStore
from notify.replay import decode_event, journal_events
from outage import events as ev
from outage.bootstrap import build_engine
from outage.host import EngineHost
from outage.journal import SqliteJournal
from outage.signals import parse_signal
from scenarios.city_storm import CityStorm, simulate_storm
from tests.notify.conftest import T0


def test_every_event_type_round_trips() -> None:
    event = ev.OutagePartiallyRestored(at=T0, incident="I", device="d", customers_restored=3,
                                       customers_still_out=2, still_out_incidents=("J", "K"))
    assert decode_event(ev.to_json(event)) == event
    etr = ev.EtrChanged(at=T0, incident="I", etr=None, previous=T0, by="o")
    assert decode_event(ev.to_json(etr)) == etr
    with pytest.raises(ValueError, match="type: unknown event type 'Nope'"):
        decode_event(b'{"type":"Nope"}')


def test_catch_up_from_the_journal_matches_live_decisions(city, tmp_path: Path) -> None:
    storm = CityStorm(faults=5, seed=9)
    signals = simulate_storm(city.topology, city.tables.customers, storm).signals
    config = NotifyConfig(quiet_hours={})
    live = Notifier(city.topology, city.tables.customers, config, SqliteStore())
    journal = SqliteJournal(tmp_path / "journal.sqlite")
    host = EngineHost(build_engine(city), journal)
    host.listeners.append(live.on_event)
    host.submit(parse_signal(s) for s in signals)
    assert live.high_water == journal.last_event_seq() > 0

    late = Notifier(city.topology, city.tables.customers, config, SqliteStore())
    decided = late.catch_up(journal_events(journal, late.high_water, batch=50))
    assert decided == len(live.store.rows()) > 0
    assert late.high_water == live.high_water

    def shape(notifier: Notifier) -> list[tuple[str, str, str, str]]:
        return sorted((r["key"], r["kind"], r["status"], r["body"]) for r in notifier.store.rows())

    assert shape(late) == shape(live)
