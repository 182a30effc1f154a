"""grid.importers.opendss: the shared reference feeders, and small models written per test."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from pyproj import Geod

from grid.errors import GridFormatError, TopologyValidationError
from grid.importers import load_source
from grid.importers.opendss import DEFAULT_ANCHOR, import_opendss
from grid.io import read_gpkg, write_gpkg
from grid.model import LAYERS, GridTables
from grid.topology import Topology, build_topology

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
OPENDSS = SHARED / "data" / "opendss"
GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class Feeder:
    """What the README, the published feeder descriptions and a grep of the files say."""

    master: str
    premises: int
    kinds: dict[str, int]
    head: str  # the feeder head device: synthesised breaker.<circuit>, or the model's own
    #: The substation transformers (115 or 69 kV on the high side), left out with what feeds them.
    skipped: tuple[str, ...] = ()
    #: Substation protection besides a synthesised head breaker (telemetered by default).
    station: tuple[str, ...] = ()


FEEDERS = {
    "IEEE13": Feeder(
        "IEEE13Nodeckt.dss",
        15,
        {"breaker": 1, "switch": 1},
        "breaker.ieee13nodeckt",
        ("transformer.sub",),
    ),
    "IEEE34": Feeder(
        "ieee34Mod1.dss", 68, {"breaker": 1}, "breaker.ieee34-1", ("transformer.subxf",)
    ),
    # No substation transformer (the source is the 4.16 kV bus 150); behind the regulator
    # reg1a, switch Sw1 leaves the substation. A disconnect interrupts no fault, so the feeder
    # breaker the model leaves out is synthesised above it (breaker.sw1) and heads the feeder.
    # Sw7/Sw8 run to the dead-end buses 300_OPEN/94_OPEN: the two normally-open switches.
    "IEEE123": Feeder(
        "IEEE123Master.dss", 91, {"breaker": 1, "switch": 6, "tie": 2}, "breaker.sw1"
    ),
    # 73 switch lines: 67 enabled, 6 disabled; plus 5 disabled plain lines (ties to other subs).
    "ckt5": Feeder(
        "Master_ckt5.dss",
        1379,
        {"breaker": 1, "switch": 67, "tie": 11},
        "breaker.ckt5",
        ("reactor.mdv_sub_1_hsb", "transformer.mdv_sub_1"),
    ),
    # 11 switch lines: 2 disabled, 1 (line.261249) to a bus nothing else touches.
    "ckt7": Feeder(
        "Master_ckt7.dss",
        906,
        {"breaker": 1, "switch": 8, "tie": 3},
        "breaker.ckt7",
        ("transformer.sub1", "transformer.sub2", "transformer.sub3"),
    ),
    # Lines.dss: 43 "switch=y" lines, 5 of them enabled=False; 1,177 loads (Loads.dss).
    "IEEE8500/Master.dss": Feeder(
        "Master.dss",
        1177,
        {"breaker": 1, "switch": 38, "tie": 5},
        "breaker.ieee8500",
        ("reactor.hvmv_sub_hsb", "transformer.hvmv_sub"),
    ),
    # + Fuses.DSS (30 "New Fuse") and Relay.SubBreaker on line ln5815900-1.
    # The relay, named SubBreaker, sits on the first line out of the substation: it is the
    # substation breaker's relay, so it reports to SCADA like the breaker.
    "IEEE8500/Master_protected.dss": Feeder(
        "Master_protected.dss",
        1177,
        {"breaker": 1, "relay": 1, "fuse": 30, "switch": 38, "tie": 5},
        "breaker.ieee8500",
        ("reactor.hvmv_sub_hsb", "transformer.hvmv_sub"),
        station=("relay.subbreaker",),
    ),
}


@dataclass(frozen=True)
class Imported:
    tables: GridTables
    topology: Topology
    seconds: float


@pytest.fixture(scope="module")
def feeder() -> Callable[[str], Imported]:
    """Import a reference feeder once per module (the tests only read the tables)."""
    if not OPENDSS.is_dir():
        pytest.skip(f"reference data not available: {OPENDSS}")
    cache: dict[str, Imported] = {}

    def load(name: str) -> Imported:
        if name not in cache:
            started = time.perf_counter()
            tables = import_opendss(OPENDSS / name)
            seconds = time.perf_counter() - started
            cache[name] = Imported(tables, build_topology(tables), seconds)
        return cache[name]

    return load


# ---------------------------------------------------------------------------------------------
# The shared reference feeders


@pytest.mark.shared
@pytest.mark.parametrize("name", FEEDERS)
def test_feeder_imports_as_one_valid_radial_feeder(
    feeder: Callable[[str], Imported], name: str
) -> None:
    expected = FEEDERS[name]
    imported = feeder(name)
    tables, topology = imported.tables, imported.topology
    assert Path(tables.source).name == expected.master
    assert len(tables.premises) == expected.premises
    assert topology.customer_count == expected.premises  # no customers table: one per premise
    assert len(tables.customers) == 0
    assert len(tables.substations) == len(tables.feeders) == 1
    assert topology.warnings == []
    (head,) = tables.feeders["head_device"]
    assert head == expected.head
    head_row = tables.devices.set_index("id").loc[head]
    assert head_row["from_bus"] == tables.substations["bus"].iloc[0] or head == "breaker.sw1"
    for premise in tables.premises["id"]:
        assert topology.trace(premise).devices[-1] == head
    assert all(tables.premises["id"].str.startswith("load."))
    # Telemetered: the synthesised head breaker and the substation's own protection, nothing
    # else (no SCADA in these models).
    scada = {d for d, on in zip(topology.device_ids, topology.device_scada, strict=True) if on}
    assert scada == ({head} if head.startswith("breaker.") else set()) | set(expected.station)
    inferred = tables.inferred
    assert inferred["format"] == "opendss"
    assert [f["head"] for f in inferred["feeders"]] == [head]
    assert inferred["feeders"][0]["synthesised"] == head.startswith("breaker.")
    skipped = inferred["skipped"]
    reasons = [r for r in skipped if r.startswith("above the substations")]
    elements = tuple(skipped[reasons[0]]["elements"]) if reasons else ()
    assert elements == expected.skipped
    assert not set(expected.skipped) & set(tables.sections["id"])
    (feeder_id,) = tables.feeders["id"]
    closed = tables.devices["normal_state"] == "closed"
    assert (tables.devices.loc[closed, "feeder"] == feeder_id).all()
    # Regulators above the feeder's exit (IEEE 123's reg1a, above sw1 and the breaker
    # synthesised there) stand in the substation, on no feeder.
    in_substation = tables.sections["id"].isin(inferred["substations"][0]["regulators"])
    on_feeder = tables.sections["feeder"] == feeder_id
    at_exit = name == "IEEE123" or not head.startswith("breaker.")
    assert (on_feeder | (in_substation & at_exit)).all()
    assert (tables.transformers["feeder"] == feeder_id).all()


@pytest.mark.shared
@pytest.mark.parametrize("name", FEEDERS)
def test_device_kinds(feeder: Callable[[str], Imported], name: str) -> None:
    devices = feeder(name).tables.devices
    assert dict(Counter(devices["kind"])) == FEEDERS[name].kinds
    open_kinds = set(devices.loc[devices["normal_state"] == "open", "kind"])
    assert open_kinds <= {"tie"}


@pytest.mark.shared
def test_ckt5_has_no_fuses_and_imports_fast(feeder: Callable[[str], Imported]) -> None:
    imported = feeder("ckt5")
    assert "fuse" not in set(imported.tables.devices["kind"])
    assert imported.seconds < 10, f"ckt5 took {imported.seconds:.1f}s to import"


@pytest.mark.shared
def test_ieee123_normally_open_switches_are_left_out(feeder: Callable[[str], Imported]) -> None:
    tables, topology = feeder("IEEE123").tables, feeder("IEEE123").topology
    devices = tables.devices.set_index("id")
    for switch, bus in (("line.sw7", "300_open"), ("line.sw8", "94_open")):
        assert devices.loc[switch, ["kind", "normal_state", "to_bus"]].tolist() == [
            "tie",
            "open",
            bus,
        ]
        assert not topology.device_closed[topology.device_index[switch]]
    chains = {d for p in tables.premises["id"] for d in topology.trace(p).devices}
    assert not chains & {"line.sw7", "line.sw8"}


@pytest.mark.shared
def test_ieee123_load_below_switches(feeder: Callable[[str], Imported]) -> None:
    trace = feeder("IEEE123").topology.trace("load.s68a")
    assert trace.transformer == "transformer.bus_68"  # a primary load: synthesised transformer
    assert trace.devices == ("line.sw4", "line.sw2", "line.sw1", "breaker.sw1")
    assert (trace.feeder, trace.substation) == ("feeder.ieee123", "substation.ieee123")


@pytest.mark.shared
def test_ieee13_transformers_and_switch(feeder: Callable[[str], Imported]) -> None:
    tables, topology = feeder("IEEE13").tables, feeder("IEEE13").topology
    assert topology.trace("load.634a").transformer == "transformer.xfm1"  # 4.16/0.48 kV
    assert topology.trace("load.692").devices == ("line.671692", "breaker.ieee13nodeckt")
    assert topology.trace("load.671").devices == ("breaker.ieee13nodeckt",)
    sections = set(tables.sections["id"])
    # The regulator bank is a section of the substation; the three single-phase regulators
    # between 650 and rg60 are one path. The 115/4.16 kV transformer is the substation itself.
    assert "transformer.reg1" in sections
    assert not {"transformer.reg2", "transformer.reg3", "transformer.sub"} & sections
    assert "transformer.sub" not in set(tables.transformers["id"])
    assert tables.substations["bus"].iloc[0] == "substation.ieee13nodeckt"  # a virtual bus
    head = tables.devices.set_index("id").loc["breaker.ieee13nodeckt"]
    assert (head["from_bus"], head["to_bus"]) == ("substation.ieee13nodeckt", "650")


@pytest.mark.shared
def test_ieee34_step_down_transformer_is_a_section(feeder: Callable[[str], Imported]) -> None:
    tables = feeder("IEEE34").tables
    assert "transformer.xfm1" in set(tables.sections["id"])  # 24.9/4.16 kV: not a service one
    assert feeder("IEEE34").topology.trace("load.s890").transformer == "transformer.bus_890"


@pytest.mark.shared
def test_ckt7_bank_of_single_phase_transformers_serves_by_phase(
    feeder: Callable[[str], Imported],
) -> None:
    topology = feeder("ckt7").topology
    assert topology.trace("load.1000663-da1").transformer == "transformer.1000663_xfmr_a"
    assert topology.trace("load.1000663-db1").transformer == "transformer.1000663_xfmr_b"
    # The feeder-equivalent loads on the substation bus get a synthesised transformer.
    assert topology.trace("load.25609_a").transformer == "transformer.bus_ckt7"


@pytest.mark.shared
def test_ckt5_service_transformers_serve_their_secondaries(
    feeder: Callable[[str], Imported],
) -> None:
    tables = feeder("ckt5").tables
    assert "transformer.mdv_sub_1" not in set(tables.sections["id"])  # 115/12.47 kV: the sub
    assert not tables.transformers["id"].str.startswith("transformer.bus_").any()
    served = tables.premises.set_index("id")["transformer"]
    assert served["load.mdv201_1144260fuse-1b0"] == "transformer.mdv201_1144260fuse-1b"


@pytest.mark.shared
@pytest.mark.parametrize("name", FEEDERS)
def test_geometry_lies_near_the_anchor(feeder: Callable[[str], Imported], name: str) -> None:
    tables = feeder(name).tables
    bounds = pd.DataFrame([frame.total_bounds for frame in tables.layers().values()])
    west, south = bounds[0].min(), bounds[1].min()
    east, north = bounds[2].max(), bounds[3].max()
    lon, lat = DEFAULT_ANCHOR
    assert west < lon < east and south < lat < north
    assert east - west < 0.15 and north - south < 0.15  # IEEE 8500, the widest, spans ~11 km
    for layer in LAYERS:
        geometry = tables.layer(layer).geometry
        assert not (geometry.is_empty | geometry.isna()).any(), layer
    assert not tables.premises.geometry.to_wkb().duplicated().any()


@pytest.mark.shared
def test_anchor_and_unit_place_the_model(feeder: Callable[[str], Imported]) -> None:
    in_feet = feeder("IEEE13").tables
    in_metres = import_opendss(OPENDSS / "IEEE13", anchor=(10.0, 50.0), unit="m")
    west, south, east, north = in_metres.sections.total_bounds
    assert abs((west + east) / 2 - 10.0) < 1e-3 and abs((south + north) / 2 - 50.0) < 1e-3
    feet = _span_m(in_feet, "650632")
    metres = _span_m(in_metres, "650632")
    assert metres / feet == pytest.approx(1 / 0.3048, rel=1e-3)


def _span_m(tables: GridTables, line: str) -> float:
    sections = tables.sections.set_index("id")
    (lon1, lat1), (lon2, lat2) = sections.loc[f"line.{line}"].geometry.coords
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.mark.shared
def test_round_trip_through_geopackage(feeder: Callable[[str], Imported], tmp_path: Path) -> None:
    tables = feeder("IEEE123").tables
    path = tmp_path / "ieee123.gpkg"
    write_gpkg(tables, path)
    again = read_gpkg(path)
    for layer in LAYERS:
        assert list(again.layer(layer)["id"]) == list(tables.layer(layer)["id"]), layer
    topology = build_topology(again)
    assert topology.trace("load.s68a") == feeder("IEEE123").topology.trace("load.s68a")


@pytest.mark.shared
def test_dispatch_and_engine_leave_cwd_alone() -> None:
    if not OPENDSS.is_dir():
        pytest.skip(f"reference data not available: {OPENDSS}")
    before = os.getcwd()
    tables = load_source(OPENDSS / "IEEE34", "opendss")
    assert os.getcwd() == before
    assert len(tables.premises) == 68


# ---------------------------------------------------------------------------------------------
# Small models written per test (no shared data needed)

PROTECTED = """\
Clear
New Circuit.demo basekv=12.47 bus1=sourcebus
New Line.main bus1=sourcebus bus2=b1 length=1 units=km
New Line.lat1 bus1=b1 bus2=b2 length=1 units=km
New Line.lat2 bus1=b1.1 bus2=b3.1 phases=1 length=1 units=km
New Line.sw1 bus1=b2 bus2=b4 switch=yes
New Line.tie1 bus1=b4 bus2=b3 enabled=false
New Line.stub bus1=b4 bus2=b5
Open Line.stub term=2
New Line.b2b6 bus1=b2 bus2=b6 length=0.2 units=km
! a centre-tapped (3-winding) service transformer with a service line to a house
New Transformer.ct phases=1 windings=3 buses=[b3.1 x3.1.0 x3.0.2] kvs=[7.2 0.12 0.12]
~ kvas=[25 25 25]
New Line.svc bus1=x3.1.2 bus2=h1.1.2 phases=2 length=30 units=ft
New Load.h1 bus1=h1.1.2 phases=1 kv=0.24 kw=5
New Load.h2 bus1=x3.1.2 phases=1 kv=0.24 kw=5
New Transformer.t6 phases=3 windings=2 buses=[b6 x6] kvs=[12.47 0.48] kvas=[75 75]
New Load.h6 bus1=x6 kv=0.48 kw=20
! two single-phase units feeding one secondary
New Transformer.bank_a phases=1 windings=2 buses=[b6.1 y6.1] kvs=[7.2 0.24] kvas=[25 25]
New Transformer.bank_b phases=1 windings=2 buses=[b6.2 y6.2] kvs=[7.2 0.24] kvas=[50 50]
New Load.ya bus1=y6.1 phases=1 kv=0.24 kw=5
New Load.yb bus1=y6.2 phases=1 kv=0.24 kw=5
! a service transformer defined low-voltage winding first
New Transformer.rev phases=1 windings=2 buses=[z.1 b6.3] kvs=[0.24 7.2] kvas=[10 10]
New Load.z bus1=z.1 phases=1 kv=0.24 kw=5
New Load.p1 bus1=b4 kv=12.47 kw=100
New Load.p2 bus1=b4 kv=12.47 kw=100
New Relay.rl1 MonitoredObj=Line.main MonitoredTerm=1
New Recloser.r1 MonitoredObj=Line.lat1 MonitoredTerm=1
New Fuse.f1 MonitoredObj=Line.lat2 MonitoredTerm=1
New Fuse.f2 MonitoredObj=Line.lat1 MonitoredTerm=1
New Fuse.f6 MonitoredObj=Transformer.t6 MonitoredTerm=1
"""


def _write(folder: Path, text: str, name: str = "Master.dss") -> Path:
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture
def protected(tmp_path: Path) -> GridTables:
    return import_opendss(_write(tmp_path, PROTECTED))


def test_protective_devices_replace_the_elements_they_switch(protected: GridTables) -> None:
    devices = protected.devices.set_index("id")
    rows = devices[["kind", "from_bus", "to_bus", "normal_state"]].apply(tuple, axis=1).to_dict()
    assert rows == {
        # the relay on the line leaving the source bus heads the feeder: no breaker synthesised
        "relay.rl1": ("relay", "sourcebus", "b1", "closed"),
        # two devices on line.lat1: chained, the recloser upstream of the fuse
        "recloser.r1": ("recloser", "b1", "line.lat1~1", "closed"),
        "fuse.f2": ("fuse", "line.lat1~1", "b2", "closed"),
        "fuse.f1": ("fuse", "b1", "b3", "closed"),
        "line.sw1": ("switch", "b2", "b4", "closed"),
        "line.tie1": ("tie", "b4", "b3", "open"),  # enabled=false
        "line.stub": ("tie", "b4", "b5", "open"),  # open terminal
        "fuse.f6": ("fuse", "b6", "transformer.t6~1", "closed"),  # a fused transformer
    }
    assert list(protected.sections["id"]) == ["line.b2b6"]  # secondaries are left out


def test_premises_hang_off_their_service_transformer(protected: GridTables) -> None:
    transformers = protected.transformers.set_index("id")
    assert transformers["bus"].to_dict() == {
        "transformer.ct": "b3",
        "transformer.t6": "transformer.t6~1",
        "transformer.bank_a": "b6",
        "transformer.bank_b": "b6",
        "transformer.rev": "b6",
        "transformer.bus_b4": "b4",
    }
    assert transformers.loc["transformer.bank_b", "kva"] == 50.0
    assert pd.isna(transformers.loc["transformer.bus_b4", "kva"])
    served = protected.premises.set_index("id")["transformer"].to_dict()
    assert served == {
        "load.h1": "transformer.ct",
        "load.h2": "transformer.ct",
        "load.h6": "transformer.t6",
        "load.ya": "transformer.bank_a",
        "load.yb": "transformer.bank_b",
        "load.z": "transformer.rev",
        "load.p1": "transformer.bus_b4",
        "load.p2": "transformer.bus_b4",
    }


def test_traces_of_a_protected_model(protected: GridTables) -> None:
    topology = build_topology(protected)
    assert topology.trace("load.h6").devices == (
        "fuse.f6",
        "fuse.f2",
        "recloser.r1",
        "relay.rl1",
    )
    assert topology.trace("load.p1").devices[:2] == ("line.sw1", "fuse.f2")
    assert topology.trace("load.h1").devices == ("fuse.f1", "relay.rl1")
    assert list(protected.feeders["head_device"]) == ["relay.rl1"]
    scada = dict(zip(topology.device_ids, topology.device_scada, strict=True))
    assert scada["relay.rl1"] is True and not scada["recloser.r1"]  # a relay-tripped head


def test_model_without_coordinates_is_drawn_around_the_anchor(protected: GridTables) -> None:
    for layer in ("premises", "transformers", "devices"):
        points = protected.layer(layer).geometry
        assert not points.to_wkb().duplicated().any(), layer
        lon, lat = DEFAULT_ANCHOR
        assert ((points.x - lon).abs() < 0.01).all() and ((points.y - lat).abs() < 0.01).all()


def test_coordinate_file_beside_the_master_is_loaded(tmp_path: Path) -> None:
    _write(tmp_path, "sourcebus, 0, 0\nb1, 1000, 0\n", "demo_BusXY.csv")
    master = _write(tmp_path, PROTECTED)
    for unit, metres in (("m", 500.0), ("ft", 500.0 * 0.3048)):
        tables = import_opendss(master, unit=unit)  # type: ignore[arg-type]
        substation = tables.substations.geometry.iloc[0]  # at sourcebus
        relay = tables.devices.set_index("id").geometry["relay.rl1"]  # midway to b1
        distance = GEOD.inv(substation.x, substation.y, relay.x, relay.y)[2]
        assert distance == pytest.approx(metres, rel=1e-3)


def test_loop_imports_and_is_condensed_with_a_warning(tmp_path: Path) -> None:
    text = """\
Clear
New Circuit.loop basekv=12.47 bus1=sourcebus
New Line.a bus1=sourcebus bus2=b1
New Line.b bus1=b1 bus2=b2
New Line.c bus1=b2 bus2=b3
New Line.d bus1=b3 bus2=b1
New Load.l bus1=b3 kv=12.47 kw=10
"""
    tables = import_opendss(_write(tmp_path, text))
    (warning,) = build_topology(tables).warnings
    assert "closed loop condensed" in str(warning) and "line.b, line.c, line.d" in str(warning)
    with pytest.raises(TopologyValidationError, match="closed loop condensed"):
        build_topology(tables, strict=True)


def test_folder_picks_the_master_over_run_scripts(tmp_path: Path) -> None:
    _write(tmp_path, PROTECTED, "Master_demo.dss")
    _write(tmp_path, f'Compile "{tmp_path / "Master_demo.dss"}"\nSolve\n', "Run_Master_demo.dss")
    tables = import_opendss(tmp_path)
    assert Path(tables.source).name == "Master_demo.dss"


def test_folder_without_master_picks_the_file_defining_a_circuit(tmp_path: Path) -> None:
    _write(tmp_path, "New Linecode.x nphases=1\n", "Codes.dss")
    _write(tmp_path, PROTECTED, "demo.dss")
    assert Path(import_opendss(tmp_path).source).name == "demo.dss"


def test_missing_path_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.dss"
    with pytest.raises(GridFormatError, match="no such file") as caught:
        import_opendss(missing)
    assert caught.value.file == str(missing)


def test_garbage_names_the_file_and_line(tmp_path: Path) -> None:
    before = os.getcwd()
    path = _write(tmp_path, "Clear\nNew Circuit.x bus1=a\nthis is garbage\n", "bad.dss")
    with pytest.raises(GridFormatError, match="Unknown Command") as caught:
        import_opendss(path)
    assert (caught.value.file, caught.value.line) == (str(path), 3)
    assert str(path) in str(caught.value)
    assert os.getcwd() == before


def test_error_in_a_redirected_file_names_that_file(tmp_path: Path) -> None:
    part = _write(tmp_path, "New Line.l1 bus1=a bus2=b colour=red\n", "Lines.dss")
    master = _write(tmp_path, "Clear\nNew Circuit.x bus1=a\nRedirect Lines.dss\n")
    with pytest.raises(GridFormatError, match="colour") as caught:
        import_opendss(master)
    assert (caught.value.file, caught.value.line) == (str(part), 1)


def test_file_without_circuit_or_folder_without_model(tmp_path: Path) -> None:
    with pytest.raises(GridFormatError, match="defines no circuit"):
        import_opendss(_write(tmp_path, "! only a comment\n", "empty.dss"))
    with pytest.raises(GridFormatError, match="no master"):
        import_opendss(tmp_path)  # empty.dss defines no circuit


# A 34.5 kV feeder (EPRI ckt24's shape): the model names its 230/34.5 kV transformer a
# substation (sub=yes); two 34.5/13.2 kV step-downs inside the feeder, joined on their low
# side, feed a 13.2 kV pocket. By voltage alone the step-downs would be two substations that
# a closed path joins, and the 34.5 kV feeder would be sub-transmission.
SUB_34KV = """\
Clear
New Circuit.c24 basekv=230 bus1=sourcebus
New Transformer.subx phases=3 windings=2 buses=[sourcebus low] kvs=[230 34.5] kvas=[45000 45000]
~ sub=yes
New Line.fdr bus1=low bus2=n1 length=1 units=ft
New Line.l1 bus1=n1 bus2=n2 length=1 units=km
New Transformer.step_a phases=3 windings=2 buses=[n2 p1] kvs=[34.5 13.2] kvas=[2500 2500]
New Transformer.step_b phases=3 windings=2 buses=[n2 p2] kvs=[34.5 13.2] kvas=[2500 2500]
New Line.join bus1=p1 bus2=p2 length=0.1 units=km
New Transformer.svc1 phases=1 windings=2 buses=[p2.1 s1.1] kvs=[7.62 0.24] kvas=[25 25]
New Load.h1 bus1=s1.1 phases=1 kv=0.24 kw=3
New Transformer.svc2 phases=1 windings=2 buses=[n1.1 s2.1] kvs=[19.92 0.24] kvas=[25 25]
New Load.h2 bus1=s2.1 phases=1 kv=0.24 kw=3
"""


def test_the_models_own_substation_flag_wins_over_the_voltage_rule(tmp_path: Path) -> None:
    tables = import_opendss(_write(tmp_path, SUB_34KV))
    topology = build_topology(tables)
    assert list(tables.substations["id"]) == ["substation.c24"]
    assert tables.inferred["substations"][0]["transformers"] == ["transformer.subx"]
    assert {"transformer.step_a", "transformer.step_b"} <= set(tables.sections["id"])
    for load in ("load.h1", "load.h2"):
        trace = topology.trace(load)
        assert (trace.feeder, trace.substation) == ("feeder.c24", "substation.c24")
    assert topology.trace("load.h1").transformer == "transformer.svc1"
