"""``python -m scenarios generate`` / ``score`` round trip on the demo city."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from outage.signals import parse_signal
from scenarios.__main__ import main


def test_generate_then_score(
    demo_gpkg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("faults: 2\nrestores: false\nnoise: {per_1000_customers_per_hour: 0}\n")
    storm, truth = tmp_path / "storm.jsonl", tmp_path / "truth.json"
    argv = ["generate", "--topology", str(demo_gpkg), "--spec", str(spec), "--seed", "4"]
    assert main([*argv, "--call-share", "1.0", "--out", str(storm), "--truth", str(truth)]) == 0
    made = orjson.loads(capsys.readouterr().out)
    lines = storm.read_bytes().splitlines()
    assert made["signals"] == len(lines) > 0 and made["faults"] == 2
    for line in lines:
        parse_signal(line)
    state = tmp_path / "state.json"
    state.write_bytes(orjson.dumps({"incidents": []}))
    argv = ["score", "--topology", str(demo_gpkg), "--truth", str(truth), "--state", str(state)]
    assert main(argv) == 0
    score = orjson.loads(capsys.readouterr().out)
    assert score["faults"] == 2 and score["exact"] == 0 and score["tickets"] == 0
    assert score["wrongly_out_cmin"] == 0 and score["truly_out_cmin"] > 0


def test_generate_with_crews_writes_a_roster(
    demo_gpkg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    out, truth, roster = tmp_path / "s.jsonl", tmp_path / "t.json", tmp_path / "crews.yaml"
    argv = ["generate", "--topology", str(demo_gpkg), "--preset", "normal_weather", "--seed", "2"]
    argv += ["--crews", "2", "--crew-signals", "--out", str(out), "--truth", str(truth)]
    assert main([*argv, "--roster", str(roster)]) == 0
    assert orjson.loads(capsys.readouterr().out)["crews"] == 2
    crews = yaml.safe_load(roster.read_text())["crews"]
    assert [c["id"] for c in crews] == ["C01", "C02"] and all("depot" in c for c in crews)
    signals = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert any(s["type"] == "crew" for s in signals)
    for signal in signals:
        parse_signal(signal)
    with pytest.raises(SystemExit):
        main([*argv, "--spec", str(truth)])  # --spec and --preset together
