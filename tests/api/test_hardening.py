"""Issue 14 in process, where a real process cannot easily get there: a journal that fails
half-way through a batch (a full disk), the session cookie over TLS, and the consumers of an
ETR at the very edge of what the engine accepts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from notify.templates import format_time
from outage.api.app import create_app
from outage.api.compose import Services, compose
from outage.api.runtime import Runtime
from outage.api.settings import ServiceSettings
from outage.bootstrap import Network
from outage.errors import JournalError
from outage.ivr import IvrAnswerer
from outage.journal import SqliteJournal
from outage.signals import parse_signal

from .conftest import KEYS, auth, ring
from .helpers import call, fuse_with_transformers, premise_of, storm_clock


class FailingEvents(SqliteJournal):
    """A journal whose next ``fail`` event writes fail, as on a disk that just filled up."""

    fail = 0

    def append_events(self, *args: Any, **kwargs: Any) -> None:
        if self.fail:
            self.fail -= 1
            raise JournalError(f"{self.path}: cannot journal events (database or disk is full)")
        super().append_events(*args, **kwargs)


def test_signals_journaled_before_the_journal_fails_are_answered_as_accepted(
    network: Network, tmp_path: Path
) -> None:
    """The messages of a batch were journaled and applied when the events could not be: that
    is no 503 "nothing was accepted" (it was); the events follow with the next batch."""
    path = tmp_path / "journal.sqlite"
    journal = FailingEvents(path)
    runtime = Runtime(network, journal)
    _, transformers = fuse_with_transformers(network)
    first, second = ([call(premise_of(network, t, n))] for n, t in enumerate(transformers[:2]))
    with TestClient(create_app(runtime, ServiceSettings(), ring(), clock=storm_clock)) as client:
        journal.fail = 1
        answer = client.post("/v1/signals", json=first, headers=auth("intake"))
        assert answer.status_code == 202 and answer.json()["accepted"] == [first[0]["id"]]
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "not yet journaled" in ready.json()["detail"]
        assert client.post("/v1/signals", json=second, headers=auth("intake")).status_code == 202
        assert client.get("/readyz").status_code == 200  # the late events went with it
        before = client.get("/v1/incidents", headers=auth("officer")).json()
    seqs = [seq for seq, _, _ in journal.events()]
    assert seqs == list(range(1, len(seqs) + 1)) and seqs  # no gap in the journaled events
    journal.close()
    again = Runtime(network, SqliteJournal(path))
    with TestClient(create_app(again, ServiceSettings(), ring(), clock=storm_clock)) as client:
        assert client.get("/v1/incidents", headers=auth("officer")).json() == before


def test_a_full_disk_is_503_only_when_nothing_was_accepted(
    network: Network, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite"
    journal = SqliteJournal(path)
    runtime = Runtime(network, journal)
    pages = journal.db.execute("PRAGMA page_count").fetchone()[0]
    journal.db.execute(f"PRAGMA max_page_count={pages + 8}")  # the disk fills up soon
    topo = network.topology
    outcomes: dict[int, list[str]] = {202: [], 503: []}
    with TestClient(create_app(runtime, ServiceSettings(), ring(), clock=storm_clock)) as client:
        for n in range(40):
            batch = [
                call(topo.premise_ids[(n * 20 + i) % len(topo.premise_ids)], note="x" * 400)
                for i in range(20)
            ]
            answer = client.post("/v1/signals", json=batch, headers=auth("intake"))
            assert answer.status_code in (202, 503), answer.text
            if answer.status_code == 503:
                detail = answer.json()["detail"]
                assert "database or disk is full" in detail  # the real cause, not a rollback's
                assert "nothing of this request was accepted" in detail
            outcomes[answer.status_code] += [s["id"] for s in batch]
    assert outcomes[202] and outcomes[503]
    journal.close()
    with sqlite3.connect(path) as db:
        journaled = {row[0] for row in db.execute("SELECT id FROM messages")}
    assert set(outcomes[202]) <= journaled  # every 202 is on disk ...
    assert not set(outcomes[503]) & journaled  # ... and no 503 is


def test_the_session_cookie_is_secure_over_tls(runtime: Runtime) -> None:
    app = create_app(runtime, ServiceSettings(), ring(), clock=storm_clock)
    with TestClient(app, base_url="https://outage.example.cn") as client:
        answer = client.post("/v1/session", json={"key": KEYS["officer"]})
        cookie = answer.headers["set-cookie"]
        assert "Secure" in cookie and KEYS["officer"] not in cookie
    proxied = ServiceSettings(public_url="https://outage.example.cn")
    with TestClient(create_app(runtime, proxied, ring(), clock=storm_clock)) as client:
        cookie = client.post("/v1/session", json={"key": KEYS["officer"]}).headers["set-cookie"]
        assert "Secure" in cookie  # TLS ends at the proxy: the browser still sees https


@pytest.fixture
def composed(network: Network, tmp_path: Path) -> Iterator[Services]:
    services = compose(network, state_dir=tmp_path / "state", clock="event")
    services.start(sender=False)
    yield services
    services.stop()


def test_an_etr_at_the_edge_of_the_range_reaches_every_consumer(
    composed: Services, network: Network
) -> None:
    """The latest ETR the engine accepts (just before 2200) is spoken, texted and listed; and
    the formatters say even datetime's last minute rather than fail."""
    runtime = composed.runtime
    assert isinstance(runtime, Runtime)
    _, transformers = fuse_with_transformers(network)
    premise = premise_of(network, transformers[0])
    runtime.submit([parse_signal(call(premise))])
    (incident,) = [i.id for i in runtime.engine.open_incidents()]
    edge = datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC)
    _, result = runtime.submit_command(id="cmd-edge", by="duty", action="set_etr",
                                       incident=incident, etr=edge)  # fmt: skip
    assert result.accepted and not result.quarantined
    assert composed.settle(30)  # notify handled the event (its pump would stop on an error)
    app = create_app(runtime, ServiceSettings(), ring(), composed, clock=storm_clock)
    with TestClient(app) as client:
        heard = client.get("/v1/ivr/lookup", params={"premise": premise}, headers=auth("ivr"))
        assert heard.status_code == 200 and heard.json()["etr"] == "2199-12-31T23:59:59Z"
        assert client.get("/v1/public/outages.geojson").status_code == 200
    last = datetime.max.replace(tzinfo=UTC)
    assert format_time(last, "en", "Asia/Shanghai") and format_time(last, "zh-CN", "Asia/Tokyo")
    answerer: IvrAnswerer = runtime.ivr
    assert all(answerer._when(last))



def test_a_journal_from_before_digests_tells_resends_from_conflicts(
    network: Network, tmp_path: Path
) -> None:
    """A journal written by an earlier version (no digest column, no quarantine or meta
    table) is taken as it is: resends of what it holds are duplicates, other content under
    one of its ids a conflict, and it gets the topology's identity."""
    path = tmp_path / "journal.sqlite"
    _, transformers = fuse_with_transformers(network)
    signal = call(premise_of(network, transformers[0]))
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " id TEXT NOT NULL UNIQUE, body BLOB NOT NULL);"
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, message_seq INTEGER NOT NULL,"
            " type TEXT NOT NULL, body BLOB NOT NULL);"
        )
        body = parse_signal(signal).model_dump_json(exclude_none=True).encode()
        db.execute("INSERT INTO messages (id, body) VALUES (?, ?)", (signal["id"], body))
    journal = SqliteJournal(path)
    runtime = Runtime(network, journal)
    assert runtime.engine.signals_applied == 1
    with TestClient(create_app(runtime, ServiceSettings(), ring(), clock=storm_clock)) as client:
        resent = client.post("/v1/signals", json=[signal], headers=auth("intake")).json()
        assert resent["duplicates"] == [signal["id"]]
        other = signal | {"premise": premise_of(network, transformers[1])}
        changed = client.post("/v1/signals", json=[other], headers=auth("intake"))
        assert changed.status_code == 409 and changed.json()["conflicts"][0]["id"] == signal["id"]
    assert (journal.meta("topology") or "").startswith("sha256:")
