"""Issue 14 end to end, the defects seen across processes: a poison signal in the journal, an
engine failure live, two services on one state dir, the journal removed under a running
service, a restart on another topology, and a corrupt journal. Each test runs its own
`outage serve` process(es)."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from outage.bootstrap import Network
from outage.journal import SqliteJournal
from tests.conftest import DEMO_GPKG, PROJECT
from tests.integration.test_serve_e2e import Service, bearer, free_port, new_key

from .hardening import call, incident_of, premises_with_phones, strict_service

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def network() -> Network:
    return Network.load(DEMO_GPKG)


@pytest.fixture(scope="module")
def premises(network: Network) -> list[str]:
    return [p for p, _ in premises_with_phones(network, 12)]


@pytest.fixture
def ops(tmp_path: Path) -> tuple[Path, str]:
    """A keys file with one key for intake, officer reads and metrics."""
    path = tmp_path / "keys.yaml"
    return path, new_key(path, "ops", "intake", "officer", "metrics")


def post(service: Service, key: str, body: Any) -> httpx.Response:
    return httpx.post(f"{service.url}/v1/signals", json=body, headers=bearer(key), timeout=30)


def metric(service: Service, key: str, name: str) -> float:
    """One sample of /metrics (``name`` with its labels, as Prometheus prints it)."""
    text = httpx.get(f"{service.url}/metrics", headers=bearer(key)).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


# -- 1. a poison signal never bricks the engine -----------------------------------------------


def test_a_journal_holding_a_poison_signal_starts_and_quarantines_it(
    tmp_path: Path, ops: tuple[Path, str], premises: list[str]
) -> None:
    """What today's intake let in (``ts`` 9999-12-31T17:00Z) made every restart die in the
    replay: the service must start, quarantine it and apply the signals around it."""
    keys, key = ops
    (tmp_path / "state").mkdir()
    journal = SqliteJournal(tmp_path / "state" / "journal.sqlite")
    bodies = [
        call(premises[0], "before-poison"),
        {"type": "call", "id": "old-poison", "ts": "9999-12-31T17:00:00Z", "premise": premises[1]},
        call(premises[2], "after-poison"),
    ]
    journal.append_messages((b["id"], orjson.dumps(b)) for b in bodies)
    journal.close()
    service = strict_service(tmp_path, keys)
    service.start()
    try:
        listed = httpx.get(f"{service.url}/v1/quarantine", headers=bearer(key)).json()
        assert [q["id"] for q in listed["quarantined"]] == ["old-poison"]
        assert "ts: " in listed["quarantined"][0]["reason"]
        officer = bearer(key)
        incident_of(service.url, officer, premises[0])
        incident_of(service.url, officer, premises[2])
        assert metric(service, key, "outage_quarantined") == 1.0
        assert post(service, key, [call(premises[3], "later")]).json()["accepted"] == ["later"]
        assert "quarantined 1 journaled messages" in " ".join(service.log.read_text().split())
        service.kill()
        service.start()  # quarantined once: a restart neither fails nor lists it twice
        again = httpx.get(f"{service.url}/v1/quarantine", headers=bearer(key)).json()
        assert [q["id"] for q in again["quarantined"]] == ["old-poison"]
        incident_of(service.url, officer, premises[3])
    finally:
        service.stop()


def test_a_signal_the_engine_fails_on_is_quarantined_not_retried(
    tmp_path: Path, ops: tuple[Path, str], premises: list[str]
) -> None:
    """An engine bug (injected: `tests.integration.faulty_engine`) must cost one signal, not
    the service: quarantined, listed, counted, never retried, the signals behind it applied."""
    keys, key = ops
    service = strict_service(tmp_path, keys)
    service.args[2] = "tests.integration.faulty_engine"  # python -m <this> serve ...
    service.start()
    try:
        poison = call(premises[0], "poison-1")
        answer = post(service, key, [poison, call(premises[1], "good-1")])
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["accepted"] == ["poison-1", "good-1"]
        (quarantined,) = body["quarantined"]
        assert quarantined["index"] == 0 and "injected engine failure" in quarantined["error"]
        officer = bearer(key)
        incident_of(service.url, officer, premises[1])
        assert post(service, key, [call(premises[2], "good-2")]).json()["accepted"] == ["good-2"]
        incident_of(service.url, officer, premises[2])
        resent = post(service, key, [poison]).json()
        assert resent["duplicates"] == ["poison-1"] and resent["quarantined"] == []
        listed = httpx.get(f"{service.url}/v1/quarantine", headers=officer).json()
        assert [q["id"] for q in listed["quarantined"]] == ["poison-1"]
        assert metric(service, key, 'outage_signals_total{outcome="quarantined"}') == 1.0
        before = httpx.get(f"{service.url}/v1/incidents?limit=5000", headers=officer).json()
        service.kill()
        service.start()
        after = httpx.get(f"{service.url}/v1/incidents?limit=5000", headers=officer).json()
        assert after == before
        again = httpx.get(f"{service.url}/v1/quarantine", headers=officer).json()
        assert [q["id"] for q in again["quarantined"]] == ["poison-1"]
    finally:
        service.stop()


# -- 3. one writer per state dir --------------------------------------------------------------


def test_a_second_service_on_the_same_state_dir_exits_with_a_clear_message(
    tmp_path: Path, ops: tuple[Path, str], premises: list[str]
) -> None:
    keys, key = ops
    first = strict_service(tmp_path, keys)
    first.start()
    try:
        second = strict_service(tmp_path, keys)  # same tmp: same --state-dir
        at = second.args.index("--port")
        second.args[at + 1] = str(free_port())
        done = subprocess.run(
            second.args, cwd=PROJECT, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 1, done.stderr
        message = " ".join(done.stderr.split())
        assert str(tmp_path / "state") in message and "in use by pid" in message
        assert "Traceback" not in done.stderr
        # the first one never noticed
        assert post(first, key, [call(premises[0], "still-one")]).json()["accepted"]
    finally:
        first.stop()


# -- 5. the journal removed under a running service ---------------------------------------------


@pytest.mark.parametrize("how", ["removed", "replaced", "wal-removed"])
def test_a_journal_removed_or_replaced_while_running_stops_intake(
    how: str, tmp_path: Path, ops: tuple[Path, str], premises: list[str]
) -> None:
    keys, key = ops
    service = strict_service(tmp_path, keys)
    service.start()
    try:
        assert post(service, key, [call(premises[0])]).status_code == 202
        path = tmp_path / "state" / "journal.sqlite"
        if how == "removed":
            path.unlink()
        elif how == "wal-removed":  # what is committed but not yet checkpointed lives there
            path = path.with_name("journal.sqlite-wal")
            path.unlink()
        else:
            copy = path.with_suffix(".copy")
            copy.write_bytes(path.read_bytes())
            copy.replace(path)
        answer = post(service, key, [call(premises[1], f"after-{how}")])
        assert answer.status_code == 503
        detail = answer.json()["detail"]
        assert str(path) in detail and "removed or replaced" in detail
        assert "nothing of this request was accepted" in detail
        ready = httpx.get(f"{service.url}/readyz")
        assert ready.status_code == 503 and str(path) in ready.json()["detail"]
        assert httpx.get(f"{service.url}/healthz").status_code == 200  # alive, not ready
    finally:
        service.stop()


# -- 6. the topology is part of the journal's identity ---------------------------------------


def test_a_restart_on_another_topology_is_refused_unless_migrating(
    tmp_path: Path, ops: tuple[Path, str], network: Network
) -> None:
    keys, key = ops
    service = strict_service(tmp_path, keys)
    service.start()
    ids = [f"topo-{n}" for n in range(6)]
    # premises far down the demo city's list: a 600-customer city has no such ids
    gone = [p for p, _ in premises_with_phones(network, len(ids), last=True)]
    try:
        batch = [call(p, i) for p, i in zip(gone, ids, strict=True)]
        assert post(service, key, batch).json()["accepted"] == ids
    finally:
        service.stop()
    other = tmp_path / "other.gpkg"
    subprocess.run(
        [sys.executable, "-m", "outage", "topology", "generate", "--customers", "600",
         "--seed", "11", "--out", str(other)],
        cwd=PROJECT, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    moved = strict_service(tmp_path, keys)
    moved.args[moved.args.index("--topology") + 1] = str(other)
    refused = subprocess.run(moved.args, cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1, refused.stderr
    message = " ".join(refused.stderr.split())
    assert "journal.sqlite: written against topology sha256:" in message
    assert "--migrate-topology" in message and "Traceback" not in refused.stderr

    moved.args.append("--migrate-topology")
    moved.start()
    try:
        reports = list((tmp_path / "state").glob("topology-migration-*.jsonl"))
        assert len(reports) == 1
        head, *lost = [orjson.loads(line) for line in reports[0].read_bytes().splitlines()]
        assert head["replayed"] == len(ids) and head["lost"] == len(lost)
        assert sorted(r["id"] for r in lost) == ids  # the demo city's premises are gone
        assert all("premise" in r["reason"] for r in lost)
        assert f"{len(ids)} no longer apply" in " ".join(moved.log.read_text().split())
    finally:
        moved.stop()
    # migrated: the journal now belongs to the new topology and starts without the flag
    moved.args.remove("--migrate-topology")
    moved.start()
    moved.stop()


# -- 11. a corrupt journal is one line naming the file and where ------------------------------


def test_a_corrupt_journal_is_one_line_naming_the_file_and_offset(
    tmp_path: Path, ops: tuple[Path, str], premises: list[str]
) -> None:
    keys, key = ops
    service = strict_service(tmp_path, keys)
    service.start()
    try:
        for n in range(8):
            many = [call(premises[n % len(premises)], f"bulk-{n}-{i}") for i in range(150)]
            assert post(service, key, many).status_code == 202
    finally:
        service.stop()
    path = tmp_path / "state" / "journal.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        leaves = [
            row[0]
            for row in db.execute(
                "SELECT pageno FROM dbstat WHERE name = 'messages' AND pagetype = 'leaf'"
                " ORDER BY pageno"
            )
        ]
        size = db.execute("PRAGMA page_size").fetchone()[0]
    page = leaves[len(leaves) // 2]
    with path.open("r+b") as raw:  # random bytes over one page of the messages
        raw.seek((page - 1) * size)
        raw.write(random.Random(14).randbytes(size))
    broken = subprocess.run(service.args, cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1
    assert "Traceback" not in broken.stderr
    (line,) = [ln for ln in broken.stderr.splitlines() if ln.startswith("error:")]
    assert str(path) in line and f"byte offset {(page - 1) * size:,} (page {page})" in line

