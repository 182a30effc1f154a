"""``outage playbooks drill``: a review with a chart, from a simulated or a replayed storm."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from outage.cli import app

cli = CliRunner()
LIBRARY = Path(__file__).resolve().parents[2] / "playbooks" / "library"


def test_drill_simulated_storm_writes_review_chart_and_json(
    demo_gpkg: Path, tmp_path: Path
) -> None:
    out = tmp_path / "review"
    args = ["playbooks", "drill", str(LIBRARY), "--topology", str(demo_gpkg)]
    result = cli.invoke(app, [*args, "--simulate", "--seed", "7", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    summary = orjson.loads(result.stdout)
    fired = {a["playbook"] for a in summary["activations"]}
    assert {"typhoon-rainstorm-standby", "storm-declared", "call-surge"} <= fired
    review = orjson.loads((out / "review.json").read_bytes())
    assert review["fired"]["heat-wave"] == []
    assert [f["kind"] for f in review["fired"]["feeder-lockout"]][:3] == [
        "proposed", "confirmed", "activated",
    ]  # fmt: skip
    assert review["staffing"] and review["messages"] and review["calls_per_5min"]
    assert sum(review["calls_per_5min"].values()) > 300
    png = (out / "review-chart.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    html = (out / "review.html").read_text(encoding="utf-8")
    assert 'src="review-chart.png"' in html and "storm-declared" in html
    assert "did not fire" in html  # heat-wave and the planned notice on this storm


def test_drill_replays_an_events_file(demo_gpkg: Path, tmp_path: Path) -> None:
    events = tmp_path / "heat.jsonl"
    events.write_bytes(
        b'{"type":"warning","id":"w-1","ts":"2026-07-01T06:00:00Z","kind":"heat",'
        b'"level":"orange","area":"all"}\n'
        b'{"type":"call","id":"c-1","ts":"2026-07-01T06:30:00Z","premise":"nowhere"}\n'
    )
    args = ["playbooks", "drill", str(LIBRARY / "heat-wave.yaml"), "--topology", str(demo_gpkg)]
    result = cli.invoke(app, [*args, "--events", str(events), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.stderr
    summary = orjson.loads(result.stdout)
    assert [a["playbook"] for a in summary["activations"]] == ["heat-wave"]
    assert summary["activations"][0]["at"] == "2026-07-01T06:00:00+00:00"


def test_drill_argument_errors(demo_gpkg: Path, tmp_path: Path) -> None:
    base = ["playbooks", "drill", str(LIBRARY), "--topology", str(demo_gpkg), "--out", "x"]
    neither = cli.invoke(app, base)
    assert neither.exit_code == 2 and "--events" in neither.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type":"warning","id":"w","ts":"2026-07-01T06:00:00Z","kind":"hail"}\n')
    result = cli.invoke(app, [*base, "--events", str(bad)])
    assert result.exit_code == 1 and f"{bad}:1" in result.stderr and "kind" in result.stderr
