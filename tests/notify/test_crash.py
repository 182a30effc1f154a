"""kill -9 the notifier mid-storm, again and again: no text lost, none duplicated, none to a
customer who sent STOP — the same texts as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from notify.channels import read_outbox
from notify.store import SqliteStore
from tests.conftest import PROJECT
from tests.notify.crash_worker import stopped_phones, storm


def _run(state: Path, *, pause: float = 0.0, kill_after_lines: int | None = None) -> bool:
    """Run the worker; True when it finished, False when we killed it."""
    state.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.notify.crash_worker", str(state), "--pause", str(pause)],
        cwd=PROJECT,
    )
    outbox = state / "outbox.jsonl"
    deadline = time.monotonic() + 240
    while process.poll() is None and time.monotonic() < deadline:
        lines = outbox.read_bytes().count(b"\n") if outbox.exists() else 0
        if kill_after_lines is not None and lines >= kill_after_lines:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            return False
        time.sleep(0.01)
    assert process.wait(timeout=240) == 0, "worker failed"
    return True


@pytest.mark.slow
def test_kill_9_and_restart_sends_each_text_exactly_once(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    assert _run(reference)
    expected = read_outbox(reference / "outbox.jsonl")
    assert len(expected) > 200, "the storm should text a few hundred customers"

    crashed = tmp_path / "crashed"
    kills = 0
    for fraction in (0.15, 0.4, 0.65, 0.85):
        if _run(crashed, pause=0.002, kill_after_lines=int(len(expected) * fraction)):
            break
        kills += 1
    assert kills >= 2, "the worker finished before it could be killed twice"
    while not (crashed / "done").exists():
        _run(crashed)

    sent = read_outbox(crashed / "outbox.jsonl")
    keys = Counter(line["key"] for line in sent)
    assert [k for k, n in keys.items() if n > 1] == []
    assert set(keys) == {line["key"] for line in expected}
    network, _ = storm()
    stopped = set(stopped_phones(network))
    assert stopped and not stopped & {line["to"] for line in sent}
    # the outbox agrees: each sent text once per customer, incident and kind
    store = SqliteStore(crashed / "notify.sqlite")
    done = [r for r in store.rows() if r["status"] in ("sent", "delivered")]
    assert len(done) == len(sent)
    per_message = Counter((r["phone"], r["incident"], r["kind"]) for r in done)
    assert max(per_message.values()) == 1
    assert store.counts().get("sending", 0) == 0
