"""``outage demo``: the main job runs end to end and leaves its report files."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import orjson
from typer.testing import CliRunner

from notify.channels.file import read_outbox
from outage.cli import app
from tests.conftest import DEMO_GPKG


def test_no_serve_plays_a_storm_and_writes_the_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "demo",
            "--topology",
            str(DEMO_GPKG),
            "--out",
            str(tmp_path),
            "--faults",
            "8",
            "--no-serve",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert "Storm summary" in result.stderr and "duplicate calls suppressed" in result.stderr
    for name in ("demo-topology.png", "demo-outages.png", "demo-storm.png", "demo-sms.png"):
        assert (tmp_path / name).stat().st_size > 1000, name
    page = (tmp_path / "demo-report.html").read_text()
    assert all(f'src="{n}"' in page for n in ("demo-outages.png", "demo-storm.png"))
    state = orjson.loads((tmp_path / "demo-state.json").read_bytes())
    assert state["calls_received"] > state["suppressed_calls"] > 0
    assert len(state["incidents"]) >= 8
    # the summary's SMS and IVR figures come from the real pipelines
    sent = int(
        re.search(r"SMS decided / sent\s*│\s*[\d,]+ / ([\d,]+)", result.stderr)[1].replace(",", "")  # type: ignore[index]
    )
    assert sent == len(read_outbox(tmp_path / "demo" / "sms-outbox.jsonl")) > 0
    lookups = re.search(r"IVR lookups answered\s*│\s*([\d,]+)", result.stderr)
    assert lookups is not None and int(lookups[1].replace(",", "")) > 0
    # one count of faults, explained: the ones asked for plus the nested ones inside them
    counted = r"faults simulated\s*│\s*(\d+) \((\d+) asked for \+ (\d+) nested"
    faults = re.search(counted, result.stderr)
    assert faults is not None and int(faults[2]) == 8
    assert int(faults[1]) == int(faults[2]) + int(faults[3])
    # after the last signal the storm stands down by itself: its own progress step
    assert "after the storm: standing down" in result.stderr
    assert state["storm"]["scopes_declared"] == [] and state["storm"]["history"]
    assert re.search(r"stood down by themselves", result.stderr)
    # times a person reads are in the utility's zone, 24-hour, not UTC "Z"
    table = result.stderr[result.stderr.index("Storm summary") :]
    assert "(times in Asia/Shanghai)" in table and not re.search(r"\d\d:\d\d(:\d\d)?Z", table)
    # the report: hazards, the officer's ETRs, the staffing gap in words, the network picture
    assert "<h2>Hazards (" in page and "ETRs given by the duty officer" in page
    assert re.search(r"the hotline needed [\d,]+ positions", page)
    assert 'src="demo-topology.png"' in page


def test_serving_demo_answers_http_while_it_plays(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = CliRunner().invoke(
        app,
        [
            "demo",
            "--topology",
            str(DEMO_GPKG),
            "--out",
            str(tmp_path),
            "--faults",
            "4",
            "--port",
            str(port),
            "--minutes",
            "0.2",
            "--no-linger",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert f"http://127.0.0.1:{port}/" in result.stderr
    key = (tmp_path / "demo" / "admin.key").read_text().strip()
    assert key and key not in result.stderr  # the key is in a file, never on the terminal
    lookups = re.search(r"IVR lookups answered\s*│\s*([\d,]+)", result.stderr)
    assert lookups is not None and int(lookups[1].replace(",", "")) > 0
