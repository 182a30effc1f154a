"""kill -9 in the middle of a replay, restart: same final state, no accepted signal lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.conftest import DEMO_GPKG

COMPARED = ("incidents", "merged", "tickets", "unresolved", "suppressed_calls", "indices", "storm")


def _outage(*args: str) -> list[str]:
    return [sys.executable, "-m", "outage", *args]


@pytest.mark.slow
def test_kill_9_mid_replay_then_restart_gives_the_same_state(tmp_path: Path) -> None:
    events, truth = tmp_path / "storm.jsonl", tmp_path / "truth.json"
    subprocess.run(
        _outage(
            "simulate",
            "--topology",
            str(DEMO_GPKG),
            "--faults",
            "25",
            "--seed",
            "11",
            "--call-rate",
            "0.3",
            "--out",
            str(events),
            "--truth",
            str(truth),
        ),
        check=True,
        capture_output=True,
        timeout=300,
    )
    reference = tmp_path / "reference.json"
    subprocess.run(
        _outage("replay", str(events), "--topology", str(DEMO_GPKG), "--out", str(reference)),
        check=True,
        capture_output=True,
        timeout=300,
    )

    journal = tmp_path / "journal.sqlite"
    crashed = tmp_path / "crashed.json"
    process = subprocess.Popen(
        _outage(
            "replay",
            str(events),
            "--topology",
            str(DEMO_GPKG),
            "--out",
            str(crashed),
            "--journal",
            str(journal),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    # Wait until the journal holds part of the storm, then kill without warning.
    while time.monotonic() < deadline:
        if journal.exists() and _journaled(journal) > 2000:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert not crashed.exists(), "the replay finished before it could be killed; use a bigger storm"
    journaled = _journaled(journal)
    assert journaled > 0

    restarted = tmp_path / "restarted.json"
    subprocess.run(
        _outage(
            "replay",
            str(events),
            "--topology",
            str(DEMO_GPKG),
            "--out",
            str(restarted),
            "--journal",
            str(journal),
        ),
        check=True,
        capture_output=True,
        timeout=300,
    )
    after = orjson.loads(restarted.read_bytes())
    expected = orjson.loads(reference.read_bytes())
    assert after["replay"]["recovered"] == journaled
    assert after["replay"]["duplicates"] == journaled  # the file's first lines were already in
    for key in COMPARED:
        assert after[key] == expected[key], key


def _journaled(path: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
    except sqlite3.Error:
        return 0
