"""The journal-backed host: accept once, duplicates reported, state rebuilt on reopen."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson

from outage.bootstrap import Network, build_engine
from outage.host import EngineHost
from outage.journal import SqliteJournal
from outage.signals import parse_signal
from outage.state import snapshot

from .conftest import T0, Feeder


def _signals(city: Network, feeder: Feeder) -> list[object]:
    topo = city.topology
    out = []
    for n, transformer in enumerate(feeder.transformers[:4]):
        premise = topo.premise_ids[int(topo.premises_of_transformer(transformer)[0])]
        ts = (T0 + timedelta(minutes=n)).isoformat()
        out.append(parse_signal({"type": "call", "id": f"c-{n}", "ts": ts, "premise": premise}))
    out.append(
        parse_signal(
            {
                "type": "scada",
                "id": "s-1",
                "ts": (T0 + timedelta(minutes=9)).isoformat(),
                "device": topo.device_ids[feeder.recloser],
                "state": "open",
            }
        )
    )
    return out


def test_submit_accepts_once_and_reports_duplicates_and_rejections(
    city: Network, feeder: Feeder, tmp_path: Path
) -> None:
    host = EngineHost(build_engine(city), SqliteJournal(tmp_path / "j.sqlite"))
    signals = _signals(city, feeder)
    first = host.submit(signals)  # type: ignore[arg-type]
    assert first.accepted == ["c-0", "c-1", "c-2", "c-3", "s-1"] and not first.duplicates
    bad = parse_signal(
        {
            "type": "scada",
            "id": "s-2",
            "ts": T0.isoformat(),
            "device": "breaker.nope",
            "state": "open",
        }
    )
    second = host.submit([signals[0], bad])  # type: ignore[list-item]
    assert second.duplicates == ["c-0"] and second.accepted == []
    assert second.rejected == [{"id": "s-2", "error": "device: unknown device 'breaker.nope'"}]


def test_reopening_the_journal_rebuilds_the_same_state(
    city: Network, feeder: Feeder, tmp_path: Path
) -> None:
    path = tmp_path / "j.sqlite"
    host = EngineHost(build_engine(city), SqliteJournal(path))
    host.submit(_signals(city, feeder))  # type: ignore[arg-type]
    before = snapshot(host.engine)
    events_before = host.journal.events() if host.journal else []
    host.journal.close()  # type: ignore[union-attr]

    again = EngineHost(build_engine(city), SqliteJournal(path))
    assert again.recovered_messages == 5
    assert snapshot(again.engine) == before
    assert again.journal.events() == events_before  # type: ignore[union-attr]
    assert again.submit(_signals(city, feeder)[:1]).duplicates == ["c-0"]  # type: ignore[arg-type]


def test_events_lost_in_a_crash_are_regenerated(
    city: Network, feeder: Feeder, tmp_path: Path
) -> None:
    path = tmp_path / "j.sqlite"
    host = EngineHost(build_engine(city), SqliteJournal(path))
    host.submit(_signals(city, feeder))  # type: ignore[arg-type]
    journal = host.journal
    assert journal is not None
    complete = journal.events()
    # Simulate dying after the messages were committed but before the events were.
    journal.db.execute("DELETE FROM events WHERE seq > 3")
    journal.close()
    again = EngineHost(build_engine(city), SqliteJournal(path))
    assert again.journal.events() == complete  # type: ignore[union-attr]
    types = [orjson.loads(body)["type"] for _, _, body in complete]
    assert "OutageConfirmed" in types
