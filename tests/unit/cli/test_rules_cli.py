"""``outage rules fit`` on storms from the independent generator: the fitted call share,
delay and meter delivery are the generator's own parameters (the oracle), not our defaults."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from outage.bootstrap import Network
from outage.cli import app
from outage.rules import Rules, load_rules
from scenarios.distributions import LogNormal
from scenarios.generate import generate_storm
from scenarios.physics import Grid
from scenarios.spec import CallSpec, MeterSpec, StormSpec
from tests.conftest import DEMO_GPKG


def _events(tmp_path: Path, share: float, median: float, delivery: float) -> Path:
    network = Network.load(DEMO_GPKG)
    spec = StormSpec(
        seed=3,
        faults=25,
        calls=CallSpec(share=share, delay=LogNormal(median=median, sigma=0.7, low=0.1, high=600)),
        meters=MeterSpec(delivery=delivery),
    )
    storm = generate_storm(
        network.topology, spec, customers=network.tables.customers, grid=Grid(network.topology)
    )
    path = tmp_path / f"events-{median}.jsonl"
    path.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in storm.signals))
    return path


@pytest.mark.parametrize(("share", "median", "delivery"), [(0.3, 6.0, 0.8), (0.15, 20.0, 0.6)])
def test_fit_recovers_the_generators_call_share_delay_and_meter_delivery(
    tmp_path: Path, share: float, median: float, delivery: float
) -> None:
    events = _events(tmp_path, share, median, delivery)
    out = tmp_path / "fitted.yaml"
    result = CliRunner().invoke(
        app, ["rules", "fit", str(events), "--topology", str(DEMO_GPKG), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout[result.stdout.index("{") :])
    assert summary["confirmed_outages"] >= 10
    fitted = load_rules(out).inference  # a complete rules file the service loads
    assert fitted.call_share.mean == pytest.approx(share, abs=0.05)
    assert fitted.call_delay.median_minutes == pytest.approx(median, rel=0.25)
    assert fitted.last_gasp_delivery == pytest.approx(delivery, abs=0.05)
    # everything else is the base rules, untouched
    assert fitted.noise_share == Rules().inference.noise_share
    assert yaml.safe_load(out.read_text())["storm"] == Rules().model_dump(mode="json")["storm"]


def test_fit_without_confirmed_outages_is_a_clear_error(tmp_path: Path) -> None:
    events = tmp_path / "calls.jsonl"
    events.write_text(
        '{"type": "call", "id": "c1", "ts": "2024-07-01T08:00:00Z", "premise": "nowhere"}\n'
        "not json\n"
    )
    result = CliRunner().invoke(
        app, ["rules", "fit", str(events), "--topology", str(DEMO_GPKG), "-o", str(tmp_path / "x")]
    )
    assert result.exit_code != 0
    assert "no outage restored" in result.output
    assert not (tmp_path / "x").exists()


def test_defaults_prints_every_section() -> None:
    result = CliRunner().invoke(app, ["rules", "defaults"])
    assert result.exit_code == 0
    assert set(yaml.safe_load(result.stdout)) == set(Rules.model_fields)
