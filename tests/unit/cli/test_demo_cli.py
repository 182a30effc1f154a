"""``outage demo``: the main job runs end to end and leaves its report files."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from outage.cli import app
from tests.conftest import DEMO_GPKG


def test_demo_plays_a_storm_and_writes_maps_and_state(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--topology", str(DEMO_GPKG), "--out", str(tmp_path), "--faults", "6"]
    )
    assert result.exit_code == 0, result.stderr
    assert "Storm summary" in result.stderr and "duplicate calls suppressed" in result.stderr
    for name in ("demo-topology.png", "demo-outages.png", "demo-journal.sqlite"):
        assert (tmp_path / name).stat().st_size > 1000, name
    state = orjson.loads((tmp_path / "demo-state.json").read_bytes())
    assert state["calls_received"] > state["suppressed_calls"] > 0
    assert len(state["incidents"]) >= 6
