"""The devices layer's optional ``scada`` column and `Topology.device_scada`."""

from __future__ import annotations

from pathlib import Path

import pyogrio
import pytest

from grid.errors import TopologyValidationError
from grid.io import read_geojson, read_gpkg, write_geojson, write_gpkg
from grid.model import LAYERS, GridTables
from grid.topology import build_topology


def _scada(tables: GridTables) -> dict[str, bool]:
    topology = build_topology(tables)
    return dict(zip(topology.device_ids, topology.device_scada, strict=True))


def test_default_is_true_only_for_a_feeder_head_breaker_or_relay(tiny: GridTables) -> None:
    assert "scada" not in tiny.devices.columns  # an in-memory table may lack optional columns
    assert _scada(tiny) == {
        "brk.1": True,  # the head of fdr.1
        "rec.1": False,
        "fuse.1": False,
        "fuse.2": False,
        "tie.1": False,
    }


def test_a_relay_heading_a_feeder_is_telemetered_by_default(tiny: GridTables) -> None:
    tiny.devices.loc[tiny.devices["id"] == "brk.1", "kind"] = "relay"
    assert _scada(tiny)["brk.1"] is True
    tiny.devices.loc[tiny.devices["id"] == "brk.1", "kind"] = "recloser"
    assert _scada(tiny)["brk.1"] is False  # a head recloser: not by default


def test_a_relay_on_part_of_the_feeder_is_line_equipment(tiny: GridTables) -> None:
    """rec.1 carries 2 of the feeder's 4 customers: a relay there is not telemetered by
    default. (One protecting the whole feeder is: IEEE 8500's relay.subbreaker, in
    test_import_opendss.)"""
    tiny.devices.loc[tiny.devices["id"] == "rec.1", "kind"] = "relay"
    assert _scada(tiny)["rec.1"] is False
    topology = build_topology(tiny)
    head = topology.device_index["brk.1"]
    below = [d for d, up in enumerate(topology.device_parent) if up == head]
    customers = topology.device_customers
    assert customers[topology.device_index["rec.1"]] < customers[head]
    assert len(below) == 2  # rec.1 and fuse.1 split the feeder


def test_explicit_values_win_and_blank_means_default(tiny: GridTables) -> None:
    tiny.devices["scada"] = ["false", "TRUE", "", "yes", ""]
    assert _scada(tiny) == {
        "brk.1": False,
        "rec.1": True,
        "fuse.1": False,
        "fuse.2": True,
        "tie.1": False,
    }


def test_bad_value_is_named(tiny: GridTables) -> None:
    tiny.devices["scada"] = ["", "maybe", "", "", ""]
    with pytest.raises(TopologyValidationError, match=r"rec\.1: scada must be true, false"):
        build_topology(tiny)


def test_gpkg_and_geojson_round_trip_the_column(tiny: GridTables, tmp_path: Path) -> None:
    tiny.devices["scada"] = ["false", "true", "", "", ""]
    write_gpkg(tiny, tmp_path / "t.gpkg")
    write_geojson(tiny, tmp_path / "t")
    for back in (read_gpkg(tmp_path / "t.gpkg"), read_geojson(tmp_path / "t")):
        assert list(back.devices["scada"]) == ["false", "true", "", "", ""]
        assert _scada(back)["brk.1"] is False and _scada(back)["rec.1"] is True


def test_old_gpkg_without_the_column_loads_with_defaults(tiny: GridTables, tmp_path: Path) -> None:
    path = tmp_path / "old.gpkg"
    for name in LAYERS:  # written the way files were before the column existed
        pyogrio.write_dataframe(tiny.layer(name), path, layer=name, driver="GPKG")
    assert "scada" not in pyogrio.read_dataframe(path, layer="devices").columns
    back = read_gpkg(path)
    assert list(back.devices["scada"]) == [""] * 5
    assert _scada(back) == _scada(tiny)
