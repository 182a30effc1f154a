"""The ``outage topology`` CLI contract: command names, JSON on stdout, errors on stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from outage.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, object, str]:
    result = runner.invoke(app, list(args))
    stdout = result.stdout.strip()
    return (
        result.exit_code,
        (orjson.loads(stdout) if stdout.startswith(("{", "[")) else stdout),
        result.stderr,
    )


@pytest.fixture(scope="module")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("city") / "small.gpkg"
    code, stats, _ = run(
        "topology", "generate", "--customers", "1500", "--seed", "4", "--out", str(target)
    )
    assert code == 0, stats
    return target


def test_generate_then_stats_report_the_contract_shape(small_city: Path) -> None:
    code, stats, _ = run("topology", "stats", str(small_city))
    assert code == 0
    assert isinstance(stats, dict)
    assert set(stats) >= {"substations", "feeders", "protective_devices", "transformers",
                          "premises", "customers", "radial", "bbox"}  # fmt: skip
    assert stats["customers"] == 1500 and stats["radial"] is True
    assert {"breaker", "recloser", "fuse", "switch"} <= set(stats["protective_devices"])
    west, south, east, north = stats["bbox"]
    assert west <= 113.30 <= east and south <= 23.12 <= north
    assert (small_city.parent / "small.customers.csv").exists()


def test_trace_contract(small_city: Path) -> None:
    code, trace, _ = run("topology", "trace", str(small_city), "--premise", "premise.0000700")
    assert code == 0
    assert isinstance(trace, dict)
    assert list(trace) == ["premise", "transformer", "devices", "feeder", "substation"]
    assert trace["devices"][0].startswith("fuse.") and trace["devices"][-1].startswith("breaker.")


def test_trace_unknown_premise_exits_1_with_message(small_city: Path) -> None:
    code, _, stderr = run("topology", "trace", str(small_city), "--premise", "premise.nope")
    assert code == 1
    assert "no premise with id 'premise.nope'" in stderr


def test_import_gpkg_rewrites_and_validates(small_city: Path, tmp_path: Path) -> None:
    code, stats, _ = run(
        "topology",
        "import",
        str(small_city),
        "--format",
        "gpkg",
        "--out",
        str(tmp_path / "copy.gpkg"),
    )
    assert code == 0 and isinstance(stats, dict) and stats["premises"] == 1500


def test_import_rejects_unknown_format_and_bad_anchor(small_city: Path, tmp_path: Path) -> None:
    code, _, stderr = run(
        "topology", "import", str(small_city), "--format", "shp", "--out", str(tmp_path / "x.gpkg")
    )
    assert code == 2 and "--format must be one of" in stderr
    code, _, stderr = run("topology", "import", str(small_city), "--format", "gpkg", "--out",
                          str(tmp_path / "x.gpkg"), "--anchor", "east")  # fmt: skip
    assert code == 2 and "--anchor expects LON,LAT" in stderr


def test_stats_of_missing_file_names_it(tmp_path: Path) -> None:
    code, _, stderr = run("topology", "stats", str(tmp_path / "absent.gpkg"))
    assert code == 1 and "absent.gpkg: no such file" in stderr


def test_console_script_runs_as_a_real_process(small_city: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "outage", "topology", "stats", str(small_city)],
        capture_output=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert orjson.loads(result.stdout)["feeders"] == 1


def test_locate_finds_the_nearest_assets_and_says_when_none(small_city: Path) -> None:
    from grid.io import read_gpkg

    point = read_gpkg(small_city).premises.geometry.iloc[10]
    code, found, _ = run(
        "topology", "locate", str(small_city), "--lon", str(point.x), "--lat", str(point.y)
    )
    assert code == 0 and isinstance(found, dict)
    assert found["premise"]["id"] == "premise.0000011"
    assert found["premise"]["distance_m"] < 1.0
    assert found["transformer"] is not None
    code, far, _ = run(
        "topology", "locate", str(small_city), "--lon", "0.5", "--lat", "0.5", "--max-m", "50"
    )
    assert code == 0 and isinstance(far, dict)
    assert far["premise"] is None and far["transformer"] is None and far["section"] is None
    code, _, stderr = run("topology", "locate", str(small_city), "--lon", "200", "--lat", "0")
    assert code == 2 and "lon" in stderr


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def test_import_cim_prints_stats_and_what_was_inferred(tmp_path: Path) -> None:
    from tests.conftest import shared_path

    src = shared_path("cim", "IEEE13.xml")
    out = tmp_path / "ieee13.gpkg"
    code, stats, stderr = run("topology", "import", str(src), "--format", "cim", "--out", str(out))
    assert code == 0, stderr
    assert isinstance(stats, dict)
    assert (stats["substations"], stats["feeders"], stats["premises"]) == (1, 1, 16)
    assert stats["protective_devices"]["recloser"] == 1 and stats["radial"] is True
    inferred = stats["inferred"]
    assert inferred["format"] == "cim"
    assert [f["head"] for f in inferred["feeders"]] == ["breaker.brkr1"]
    assert inferred["coordinates"]["buses_located"] == 21 and inferred["warnings"] == []
    code, trace, _ = run("topology", "trace", str(out), "--premise", "energyconsumer.611")
    assert code == 0 and isinstance(trace, dict)
    assert trace["devices"] == ["loadbreakswitch.sect1", "recloser.rec1", "breaker.brkr1"]


def test_import_of_several_substations_with_lat_long(tmp_path: Path) -> None:
    src = FIXTURES / "opendss" / "three_substations.dss"
    out = tmp_path / "metro.gpkg"
    code, stats, stderr = run("topology", "import", str(src), "--format", "opendss", "--out",
                              str(out), "--strict")  # fmt: skip
    assert code == 0, stderr
    assert isinstance(stats, dict)
    assert (stats["substations"], stats["feeders"], stats["premises"]) == (3, 5, 5)
    west, south, east, north = stats["bbox"]  # the file's lat/long, not a box at an anchor
    assert 113.93 <= west < east <= 113.97 and 22.54 <= south < north <= 22.58
    inferred = stats["inferred"]
    assert len(inferred["ties"]) == 2 and inferred["coordinates"]["kind"].startswith("geo")
    # breaker.sub2a, breaker.sub3 and the breaker above the switch line.f12_head
    assert sum(f["synthesised"] for f in inferred["feeders"]) == 3


LOOP = """\
Clear
New Circuit.loop basekv=12.47 bus1=sourcebus
New Line.a bus1=sourcebus bus2=b1
New Line.b bus1=b1 bus2=b2
New Line.c bus1=b2 bus2=b3
New Line.d bus1=b3 bus2=b1
New Load.l bus1=b3 kv=12.47 kw=10
"""


def test_a_closed_loop_warns_and_strict_refuses_it(tmp_path: Path) -> None:
    src = tmp_path / "loop.dss"
    src.write_text(LOOP)
    out = tmp_path / "loop.gpkg"
    args = ("topology", "import", str(src), "--format", "opendss", "--out", str(out))
    code, stats, _ = run(*args)
    assert code == 0 and isinstance(stats, dict)
    assert stats["radial"] is False
    (warning,) = stats["inferred"]["warnings"]
    assert "closed loop condensed into one node" in warning and "line.b" in warning
    code, stats_again, _ = run("topology", "stats", str(out))
    assert code == 0 and isinstance(stats_again, dict) and stats_again["warnings"]
    out.unlink()
    code, _, stderr = run(*args, "--strict")
    assert code == 1 and "--strict" in stderr and "closed loop condensed" in stderr
    assert not out.exists()
