"""Importing the pandapower Oberrhein CSV exports (../shared/data/pandapower) into GridTables."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest

from grid.errors import GridFormatError
from grid.importers import load_source
from grid.importers.pandapower_csv import import_pandapower_csv
from grid.io import read_gpkg, write_gpkg
from grid.model import GridTables
from grid.topology import Topology, build_topology
from grid.validate import energised_graph

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
PANDAPOWER = SHARED / "data" / "pandapower"
MV = PANDAPOWER / "mv_oberrhein"
LV = PANDAPOWER / "lv_schutterwald"

shared = pytest.mark.shared


def _need_shared() -> None:
    if not (MV / "buses.csv").is_file() or not (LV / "buses.csv").is_file():
        pytest.skip(f"shared pandapower data not found under {PANDAPOWER}")


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)


@pytest.fixture(scope="module")
def mv() -> tuple[GridTables, Topology]:
    _need_shared()
    tables = import_pandapower_csv(MV)
    return tables, build_topology(tables)


@pytest.fixture(scope="module")
def lv() -> tuple[GridTables, Topology]:
    _need_shared()
    tables = import_pandapower_csv(LV)
    return tables, build_topology(tables)


@pytest.fixture(scope="module")
def both() -> tuple[GridTables, Topology]:
    _need_shared()
    tables = import_pandapower_csv(PANDAPOWER)
    return tables, build_topology(tables)


# -- mv_oberrhein --------------------------------------------------------------------------------


@shared
def test_mv_counts(mv: tuple[GridTables, Topology]) -> None:
    tables, topo = mv
    loads = _csv(MV / "loads.csv")
    assert len(tables.substations) == 2
    assert len(tables.feeders) == 4
    assert len(tables.sections) == len(_csv(MV / "lines.csv"))
    assert len(tables.devices) == len(_csv(MV / "switches.csv"))
    assert len(tables.premises) == len(loads) == 147
    assert len(tables.transformers) == len(loads)  # each station load is its own transformer
    assert topo.customer_count == len(loads)
    assert set(tables.substations["id"]) == {"trafo.114", "trafo.142"}
    assert set(tables.substations["bus"]) == {"bus.39", "bus.319"}  # the 20 kV side


@shared
def test_mv_feeders_start_at_circuit_breakers(mv: tuple[GridTables, Topology]) -> None:
    tables, _ = mv
    switches = _csv(MV / "switches.csv")
    breakers = {f"switch.{i}" for i in switches.loc[switches["type"] == "CB", "switch"]}
    assert set(tables.feeders["head_device"]) == breakers
    heads = tables.devices.set_index("id").loc[sorted(breakers)]
    assert set(heads["kind"]) == {"breaker"}
    assert set(heads["from_bus"]) <= set(tables.substations["bus"])


@shared
def test_mv_open_switches_are_excluded(mv: tuple[GridTables, Topology]) -> None:
    tables, topo = mv
    switches = _csv(MV / "switches.csv")
    open_ids = {f"switch.{i}" for i in switches.loc[~switches["closed"], "switch"]}
    assert len(open_ids) == 6
    devices = tables.devices.set_index("id")
    assert set(devices.loc[sorted(open_ids), "normal_state"]) == {"open"}
    assert set(devices.loc[devices["normal_state"] == "open"].index) == open_ids
    # ties join two feeders; an open switch inside one feeder's loop stays a "switch"
    assert set(devices.loc[sorted(open_ids), "kind"]) <= {"tie", "switch"}
    assert (devices.loc[sorted(open_ids), "kind"] == "tie").sum() >= 4
    graph_edges = {key for _, _, key in energised_graph(tables).edges(keys=True)}
    assert not open_ids & graph_edges
    for premise in tables.premises["id"]:
        assert not open_ids & set(topo.trace(premise).devices)


@shared
def test_mv_trace_from_a_load_up_to_its_feeder_breaker(mv: tuple[GridTables, Topology]) -> None:
    tables, topo = mv
    trace = topo.trace("load.0")
    assert trace.transformer == "load.0.station"
    feeders = tables.feeders.set_index("id")
    head = feeders.loc[trace.feeder, "head_device"]
    assert trace.devices[-1] == head
    assert topo.device_kind[topo.device_index[head]] == "breaker"
    assert trace.substation == feeders.loc[trace.feeder, "substation"]
    assert len(trace.devices) > 1  # load-break switches sit between the station and the breaker


@shared
def test_mv_coordinates_are_oberrhein(mv: tuple[GridTables, Topology]) -> None:
    tables, _ = mv
    for name, frame in tables.layers().items():
        assert frame.crs is not None and frame.crs.to_epsg() == 4326, name
        assert not (frame.geometry.isna() | frame.geometry.is_empty).any(), name
        lon_min, lat_min, lon_max, lat_max = frame.total_bounds
        assert lon_min >= 7.7 and lon_max <= 8.0, name
        assert lat_min >= 48.3 and lat_max <= 48.6, name
    lines = tables.sections.set_index("id")
    assert len(lines.loc["line.1", "geometry"].coords) == 4  # drawn from the CSV coords


@shared
def test_mv_geopackage_round_trip(mv: tuple[GridTables, Topology], tmp_path: Path) -> None:
    tables, topo = mv
    path = tmp_path / "oberrhein.gpkg"
    write_gpkg(tables, path)
    again = read_gpkg(path)
    for name, frame in tables.layers().items():
        assert list(again.layer(name)["id"]) == list(frame["id"]), name
    assert again.sections.geometry.geom_equals_exact(tables.sections.geometry, 1e-9).all()
    assert list(again.transformers["kva"]) == list(tables.transformers["kva"])
    topo2 = build_topology(again)
    assert topo2.customer_count == topo.customer_count
    assert topo2.trace("load.5") == topo.trace("load.5")


@shared
def test_dispatch_by_format_name() -> None:
    _need_shared()
    tables = load_source(MV, "pandapower-csv")
    assert len(tables.feeders) == 4


# -- lv_schutterwald ---------------------------------------------------------------------------


@shared
def test_lv_every_customer_is_a_premise(lv: tuple[GridTables, Topology]) -> None:
    tables, topo = lv
    assert len(tables.premises) == 1506
    assert topo.customer_count == 1506
    assert len(tables.transformers) == 14
    # no MV network in this export: each station gets its own (virtual) supply and breaker
    assert len(tables.substations) == len(tables.feeders) == 14
    assert set(tables.devices["kind"]) == {"breaker"}
    assert len(tables.sections) == 0  # LV cables are collapsed into the station


@shared
def test_lv_loads_go_to_the_station_of_their_lv_network(lv: tuple[GridTables, Topology]) -> None:
    tables, _ = lv
    buses = _csv(LV / "buses.csv").set_index("bus")
    loads = _csv(LV / "loads.csv")
    trafos = _csv(LV / "trafos.csv")
    trafo_name = {f"trafo.{i}": n for i, n in zip(trafos["trafo"], trafos["name"], strict=True)}
    # the export labels each bus with its station ("zone"); the walk over closed LV paths
    # (88 open switches left open) must agree for every single load
    zone = {
        f"load.{i}": buses.loc[b, "zone"] for i, b in zip(loads["load"], loads["bus"], strict=True)
    }
    assigned = dict(zip(tables.premises["id"], tables.premises["transformer"], strict=True))
    assert {p: trafo_name[t] for p, t in assigned.items()} == zone


# -- both networks together --------------------------------------------------------------------


@shared
def test_combined_hangs_lv_stations_below_mv_oberrhein(both: tuple[GridTables, Topology]) -> None:
    tables, topo = both
    # 13 stations match an Oberrhein bus; T_idx_ZUSATZ does not and brings its own supply
    assert len(tables.substations) == 3
    assert len(tables.feeders) == 5
    assert "lv_schutterwald.trafo.16.supply" in set(tables.substations["id"])
    # the 12 aggregate "LV Load"s on matched buses are replaced by 1,506 real customers
    assert len(tables.premises) == 147 - 12 + 1506
    assert topo.customer_count == len(tables.premises)
    transformers = tables.transformers.set_index("id")
    assert transformers.loc["lv_schutterwald.trafo.0", "bus"] == "mv_oberrhein.bus.47"
    assert "mv_oberrhein.load.117.station" not in transformers.index  # replaced by trafo.0


@shared
def test_combined_trace_from_lv_customer_to_mv_breaker(both: tuple[GridTables, Topology]) -> None:
    tables, topo = both
    trace = topo.trace("lv_schutterwald.load.0")
    assert trace.transformer.startswith("lv_schutterwald.trafo.")
    assert trace.substation.startswith("mv_oberrhein.trafo.")
    head = tables.feeders.set_index("id").loc[trace.feeder, "head_device"]
    assert trace.devices[-1] == head
    assert topo.device_kind[topo.device_index[head]] == "breaker"


@shared
def test_combined_ids_are_unique_prefixed_and_lower_case(both: tuple[GridTables, Topology]) -> None:
    tables, _ = both
    ids = [i for frame in tables.layers().values() for i in frame["id"]]
    assert len(ids) == len(set(ids))
    assert all(i == i.lower() for i in ids)
    assert all(i.startswith(("mv_oberrhein.", "lv_schutterwald.")) for i in ids)


# -- malformed input ---------------------------------------------------------------------------


@pytest.fixture
def mv_copy(tmp_path: Path) -> Path:
    _need_shared()
    return Path(shutil.copytree(MV, tmp_path / "mv_oberrhein"))


def _rows(path: Path) -> tuple[list[bytes], bytes]:
    """The lines of ``path`` and its line ending (the README says CRLF; the files use LF)."""
    data = path.read_bytes()
    ending = b"\r\n" if b"\r\n" in data else b"\n"
    return data.split(ending), ending


def _edit_line(path: Path, number: int, edit: str) -> None:
    """Replace line ``number`` (1-based) of ``path``, keeping its line endings."""
    lines, ending = _rows(path)
    lines[number - 1] = edit.encode()
    path.write_bytes(ending.join(lines))


@shared
def test_broken_row_names_file_and_line(mv_copy: Path) -> None:
    path = mv_copy / "switches.csv"
    path.chmod(0o644)
    _edit_line(path, 5, "3,35,2,l,LBS")  # a row cut short
    with pytest.raises(GridFormatError) as info:
        import_pandapower_csv(mv_copy)
    assert info.value.file == str(path)
    assert info.value.line == 5
    assert "switches.csv:5" in str(info.value)


@shared
def test_bad_value_names_file_and_line(mv_copy: Path) -> None:
    path = mv_copy / "lines.csv"
    path.chmod(0o644)
    rows, ending = _rows(path)
    index, name, _from_bus, rest = rows[3].split(b",", 3)
    rows[3] = b",".join([index, name, b"nine", rest])  # file line 4: from_bus is not a number
    path.write_bytes(ending.join(rows))
    with pytest.raises(GridFormatError, match="from_bus") as info:
        import_pandapower_csv(mv_copy)
    assert info.value.file == str(path)
    assert info.value.line == 4


@shared
def test_missing_column_names_file(mv_copy: Path) -> None:
    path = mv_copy / "trafos.csv"
    path.chmod(0o644)
    frame = pd.read_csv(path).drop(columns="lv_bus")
    frame.to_csv(path, index=False, lineterminator="\r\n")
    with pytest.raises(GridFormatError, match="lv_bus") as info:
        import_pandapower_csv(mv_copy)
    assert info.value.file == str(path)
    assert info.value.line == 1


def test_not_an_export(tmp_path: Path) -> None:
    with pytest.raises(GridFormatError, match=r"buses\.csv"):
        import_pandapower_csv(tmp_path)
    with pytest.raises(GridFormatError, match="no such folder"):
        import_pandapower_csv(tmp_path / "absent")


# -- a small synthetic network: islands, missing coordinates, unprotected feeder -----------------


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.csv").write_bytes(text.strip().replace("\n", "\r\n").encode() + b"\r\n")


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """110 kV bus 0 -> 20 kV bus 1; line 0 (breaker) -> bus 2; line 1 (no switch) -> bus 3,
    which has no coordinates; line 2 is fed only through open switch 1: a de-energised island
    with load 2 on it."""
    folder = tmp_path / "tiny"
    _write(
        folder,
        "buses",
        """
bus,name,vn_kv,type,zone,in_service,lon,lat
0,HV,110.0,b,,True,7.80,48.40
1,MV,20.0,b,,True,7.80,48.40
2,A,20.0,n,,True,7.81,48.40
3,B,20.0,n,,True,,
4,C,20.0,n,,True,7.83,48.41
5,D,20.0,n,,True,7.84,48.41
""",
    )
    _write(
        folder,
        "lines",
        """
line,name,from_bus,to_bus,length_km,in_service,coords
0,L0,1,2,1.0,True,"[[7.80, 48.40], [7.805, 48.401], [7.81, 48.40]]"
1,L1,1,3,1.0,True,
2,L2,4,5,1.0,True,
3,L3,2,4,1.0,True,
""",
    )
    _write(
        folder,
        "switches",
        """
switch,bus,element,et,type,closed,name
0,1,0,l,CB,True,Feeder A
1,2,3,l,LBS,False,Open
""",
    )
    _write(
        folder,
        "trafos",
        """
trafo,name,hv_bus,lv_bus,sn_mva,vn_hv_kv,vn_lv_kv,in_service
7,Sub,0,1,25.0,110.0,20.0,True
""",
    )
    _write(
        folder,
        "loads",
        """
load,name,bus,p_mw,q_mvar,in_service
0,L,2,0.4,0.1,True
1,L,3,0.25,0.1,True
2,L,5,0.63,0.1,True
""",
    )
    return folder


def test_island_is_dropped_with_a_warning(tiny: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="grid.importers.pandapower_csv"):
        tables = import_pandapower_csv(tiny)
    topo = build_topology(tables)
    assert list(tables.premises["id"]) == ["load.0", "load.1"]
    assert "line.2" not in set(tables.sections["id"])
    message = " ".join(r.getMessage() for r in caplog.records)
    assert "de-energised" in message
    assert "line.2" in message and "load.2" in message
    # the open switch stays (its bus side is live) but is out of every trace
    devices = tables.devices.set_index("id")
    assert devices.loc["switch.1", "normal_state"] == "open"
    assert devices.loc["switch.1", "kind"] == "switch"
    assert topo.trace("load.0").devices == ("switch.0",)


def test_unprotected_feeder_line_gets_a_virtual_breaker(tiny: Path) -> None:
    tables = import_pandapower_csv(tiny)
    topo = build_topology(tables)
    assert set(tables.feeders["head_device"]) == {"switch.0", "line.1.head"}
    assert topo.trace("load.1").devices == ("line.1.head",)


def test_bus_without_coordinates_inherits_a_neighbours(tiny: Path) -> None:
    tables = import_pandapower_csv(tiny)
    premise = tables.premises.set_index("id").loc["load.1", "geometry"]
    assert (premise.x, premise.y) == (7.80, 48.40)  # bus 3 sits where its neighbour bus 1 is
    section = tables.sections.set_index("id").loc["line.1", "geometry"]
    assert list(section.coords) == [(7.80, 48.40), (7.80, 48.40)]
