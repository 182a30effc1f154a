"""Small OpenDSS models written for the patterns real utility exports hold (issue 13):
per-phase parallel elements, phases taking different paths, several substations behind a
69 kV sub-transmission line with feeder-head switches and reclosers, normally-open ties
between feeders, lat/long coordinates, a true closed loop."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyproj import Geod

from grid.errors import TopologyValidationError
from grid.importers.opendss import import_opendss
from grid.model import GridTables
from grid.topology import Topology, build_topology

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "opendss"
GEOD = Geod(ellps="WGS84")

HEADER = """\
Clear
New Circuit.pp basekv=12.47 bus1=src
New Line.main bus1=src bus2=b1 length=1 units=km
"""

PER_PHASE_FUSES = (
    HEADER
    + """\
! three single-phase taps between b1 and b2, each fused, each feeding its own lateral
New Line.tap_a bus1=b1.1 bus2=b2.1 phases=1
New Line.tap_b bus1=b1.2 bus2=b2.2 phases=1
New Line.tap_c bus1=b1.3 bus2=b2.3 phases=1
New Fuse.fa MonitoredObj=Line.tap_a
New Fuse.fb MonitoredObj=Line.tap_b
New Fuse.fc MonitoredObj=Line.tap_c
New Line.lat_a bus1=b2.1 bus2=xa.1 phases=1
New Line.lat_b bus1=b2.2 bus2=xb.2 phases=1
New Line.lat_c bus1=b2.3 bus2=xc.3 phases=1
New Transformer.ta phases=1 windings=2 buses=[xa.1 ha.1] kvs=[7.2 0.24] kvas=[25 25]
New Transformer.tb phases=1 windings=2 buses=[xb.2 hb.1] kvs=[7.2 0.24] kvas=[25 25]
New Transformer.tc phases=1 windings=2 buses=[xc.3 hc.1] kvs=[7.2 0.24] kvas=[25 25]
New Load.ha bus1=ha.1 phases=1 kv=0.24 kw=5
New Load.hb bus1=hb.1 phases=1 kv=0.24 kw=5
New Load.hc bus1=hc.1 phases=1 kv=0.24 kw=5
! and a single-phase load right at b2 on phase 2
New Load.pb bus1=b2.2 phases=1 kv=7.2 kw=50
"""
)


def _different_paths(fuse: bool) -> str:
    """Phase 1 goes straight b1 -> b3; phases 2 and 3 each through a single-phase step
    transformer and a line of their own; at b3 a three-phase line takes all three on."""
    text = (
        HEADER
        + """\
New Recloser.r1 MonitoredObj=Line.main
New Line.x bus1=b1.1 bus2=b3.1 phases=1
New Transformer.step_2 phases=1 windings=2 buses=[b1.2 s2.2] kvs=[7.2 7.2] kvas=[500 500]
New Transformer.step_3 phases=1 windings=2 buses=[b1.3 s3.3] kvs=[7.2 7.2] kvas=[500 500]
New Line.y2 bus1=s2.2 bus2=b3.2 phases=1
New Line.y3 bus1=s3.3 bus2=b3.3 phases=1
New Line.down bus1=b3 bus2=b4
New Fuse.f4 MonitoredObj=Line.down
New Transformer.t4 phases=3 windings=2 buses=[b4 h4] kvs=[12.47 0.48] kvas=[75 75]
New Load.h4 bus1=h4 kv=0.48 kw=20
"""
    )
    return text + ("New Fuse.fy2 MonitoredObj=Line.y2\n" if fuse else "")


def _import(tmp_path: Path, text: str) -> tuple[GridTables, Topology]:
    path = tmp_path / "Master.dss"
    path.write_text(text)
    tables = import_opendss(path)
    return tables, build_topology(tables)


def test_per_phase_fuses_between_one_bus_pair_keep_each_phases_chain(tmp_path: Path) -> None:
    tables, topology = _import(tmp_path, PER_PHASE_FUSES)
    # Each lateral is below its own phase's fuse - not below all three, not below none.
    assert topology.trace("load.ha").devices == ("fuse.fa", "breaker.pp")
    assert topology.trace("load.hb").devices == ("fuse.fb", "breaker.pp")
    assert topology.trace("load.hc").devices == ("fuse.fc", "breaker.pp")
    assert topology.trace("load.pb").devices == ("fuse.fb", "breaker.pp")
    assert topology.warnings == []
    (cycle,) = tables.inferred["cycles"]
    assert cycle["resolution"] == "split"
    assert cycle["virtual_buses"] == {"b2": ["b2~1", "b2~2", "b2~3"]}
    assert set(cycle["elements"]) == {"fuse.fa", "fuse.fb", "fuse.fc"}
    devices = tables.devices.set_index("id")
    assert devices.loc["fuse.fb", ["from_bus", "to_bus"]].tolist() == ["b1", "b2~2"]
    for fuse in ("fuse.fa", "fuse.fb", "fuse.fc"):
        assert topology.device_premises[topology.device_index[fuse]] == 1 + (fuse == "fuse.fb")


def test_phases_taking_different_paths_and_joining_again_are_condensed(tmp_path: Path) -> None:
    tables, topology = _import(tmp_path, _different_paths(fuse=False))
    # The bus-level cycle b1 -x- b3 / b1 -step_2- s2 -y2- b3 / ... holds no device: condensing
    # it loses nothing, so it is done silently and the chain below is exact.
    assert topology.trace("load.h4").devices == ("fuse.f4", "recloser.r1")  # r1 heads it
    assert topology.warnings == [] and tables.inferred["warnings"] == []
    (cycle,) = tables.inferred["cycles"]
    assert cycle["resolution"] == "condensed" and "devices" not in cycle
    assert cycle["buses"] == ["b1", "b3", "s2", "s3"]
    sections = tables.sections.set_index("id")
    assert sections.loc["line.y2", ["from_bus", "to_bus"]].tolist() == ["b1", "b1"]


def test_a_device_on_a_condensed_phase_cycle_is_named_in_a_warning(tmp_path: Path) -> None:
    tables, topology = _import(tmp_path, _different_paths(fuse=True))
    assert topology.trace("load.h4").devices == ("fuse.f4", "recloser.r1")  # r1 heads it
    (warning,) = tables.inferred["warnings"]
    assert "fuse.fy2" in warning and "condensed" in warning
    assert tables.inferred["cycles"][0]["devices"] == ["fuse.fy2"]


def test_a_true_closed_loop_is_condensed_by_the_builder_and_strict_refuses_it(
    tmp_path: Path,
) -> None:
    text = (
        HEADER
        + """\
New Line.b bus1=b1 bus2=b2
New Line.c bus1=b2 bus2=b3
New Line.d bus1=b3 bus2=b1
New Line.e bus1=b3 bus2=b5
New Fuse.fe MonitoredObj=Line.e
New Load.l bus1=b5 kv=12.47 kw=10
"""
    )
    tables, topology = _import(tmp_path, text)
    assert tables.inferred["cycles"] == []  # a phase goes round: not the importer's to resolve
    (warning,) = topology.warnings
    assert "line.b, line.c, line.d" in warning.message
    assert topology.trace("load.l").devices == ("fuse.fe", "breaker.pp")
    with pytest.raises(TopologyValidationError, match="closed loop condensed"):
        build_topology(tables, strict=True)


@pytest.fixture(scope="module")
def metro() -> tuple[GridTables, Topology]:
    tables = import_opendss(FIXTURES / "three_substations.dss")
    return tables, build_topology(tables)


def test_three_substations_behind_a_69kv_line_are_found(metro: tuple[GridTables, Topology]) -> None:
    tables, topology = metro
    assert list(tables.substations["id"]) == [
        "substation.sub1",
        "substation.sub2a",  # sub2a and sub2b share their low-side bus: one substation
        "substation.sub3",
    ]
    heads = dict(zip(tables.feeders["head_device"], tables.feeders["substation"], strict=True))
    assert heads == {
        "recloser.f11_head": "substation.sub1",  # a recloser leaving the regulated bus
        "breaker.f12_head": "substation.sub1",  # synthesised above the switch line.f12_head
        "recloser.f21_head": "substation.sub2a",
        "breaker.sub2a": "substation.sub2a",  # for the headless line f22_a beside f21's head
        "breaker.sub3": "substation.sub3",  # no head device at all
    }
    summary = tables.inferred
    assert [f["synthesised"] for f in summary["feeders"]] == [False, True, False, True, True]
    assert summary["substations"][0]["regulators"] == [
        "transformer.s1reg_a",
        "transformer.s1reg_b",
        "transformer.s1reg_c",
    ]
    skipped = summary["skipped"]
    above = next(v for k, v in skipped.items() if k.startswith("above the substations"))
    assert set(above["elements"]) == {
        "transformer.tx_grid",
        "line.sub69_a",
        "line.sub69_b",
        "line.sub69_c",
        "line.sub69_brk",
        "transformer.sub1",
        "transformer.sub2a",
        "transformer.sub2b",
        "transformer.sub3",
    }
    assert next(v for k, v in skipped.items() if k.startswith("load"))["elements"] == [
        "load.grid_aux"
    ]
    assert topology.trace("load.h11").devices == ("recloser.f11_mid", "recloser.f11_head")
    assert topology.trace("load.h11").substation == "substation.sub1"
    assert topology.trace("load.h22").devices == ("breaker.sub2a",)
    assert topology.trace("load.p31").devices == ("breaker.sub3",)
    assert topology.trace("load.p31").feeder == "feeder.breaker.sub3"


def test_ties_between_feeders_record_both_feeders(metro: tuple[GridTables, Topology]) -> None:
    tables, topology = metro
    devices = tables.devices.set_index("id")
    assert devices.loc[
        "line.tie_11_21", ["kind", "normal_state", "feeder", "to_feeder"]
    ].tolist() == [
        "tie",
        "open",
        "feeder.recloser.f11_head",
        "feeder.recloser.f21_head",
    ]
    assert devices.loc["line.tie_12_31", ["feeder", "to_feeder"]].tolist() == [
        "feeder.line.f12_head",
        "feeder.breaker.sub3",
    ]
    assert {t["id"]: t["feeders"] for t in tables.inferred["ties"]} == {
        "line.tie_11_21": ["feeder.recloser.f11_head", "feeder.recloser.f21_head"],
        "line.tie_12_31": ["feeder.line.f12_head", "feeder.breaker.sub3"],
    }
    for feeder_id, count in (("feeder.recloser.f11_head", 3), ("feeder.breaker.sub3", 1)):
        closed = tables.devices[tables.devices["normal_state"] == "closed"]
        assert (closed["feeder"] == feeder_id).sum() == count - (
            feeder_id == "feeder.recloser.f11_head"
        )
    scada = dict(zip(topology.device_ids, topology.device_scada, strict=True))
    assert scada["breaker.sub2a"] and scada["breaker.sub3"]  # synthesised heads
    assert not scada["recloser.f11_head"] and not scada["line.f12_head"]


def test_lat_long_coordinates_are_used_as_they_are(metro: tuple[GridTables, Topology]) -> None:
    tables, _ = metro
    coordinates = tables.inferred["coordinates"]
    assert coordinates["kind"].startswith("geographic")
    # 18 buses in the file; the three above the substations are not imported
    assert coordinates["buses_located"] == 13
    assert coordinates["buses_given_a_neighbours_coordinates"] == 4  # f11_head~... stubs etc.
    substations = tables.substations.set_index("id").geometry
    # sub1 stands at its low-side bus s1lv: latitude 22.5501, longitude 113.9401 in the file
    assert (substations["substation.sub1"].x, substations["substation.sub1"].y) == pytest.approx(
        (113.9401, 22.5501), abs=1e-9
    )
    premise = tables.premises.set_index("id").geometry["load.h11"]
    distance = GEOD.inv(premise.x, premise.y, 113.9430, 22.5530)[2]  # f11_2, its load's bus...
    assert distance < 10  # ...through its filled secondary bus, a few metres away
