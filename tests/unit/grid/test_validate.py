"""Validation names the asset, the layer and the file for every kind of broken network."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

from grid.errors import TopologyValidationError
from grid.model import WGS84, GridTables
from grid.topology import build_topology


def _messages(tables: GridTables) -> list[str]:
    with pytest.raises(TopologyValidationError) as info:
        build_topology(tables)
    assert all(p.file == "tiny.gpkg" or p.file == "tiny.customers.csv" for p in info.value.problems)
    return [str(p) for p in info.value.problems]


def _append(frame: gpd.GeoDataFrame, row: dict[str, object], geometry: object) -> gpd.GeoDataFrame:
    extra = gpd.GeoDataFrame([row], geometry=[geometry], crs=WGS84)
    return gpd.GeoDataFrame(pd.concat([frame, extra], ignore_index=True), crs=WGS84)


def test_valid_tiny_network_builds(tiny: GridTables) -> None:
    assert build_topology(tiny).customer_count == 4


def test_loop_after_ties_removed_is_a_warning_and_strict_makes_it_an_error(
    tiny: GridTables,
) -> None:
    tiny.devices.loc[tiny.devices["id"] == "tie.1", ["to_bus", "normal_state"]] = ["b8", "closed"]
    (warning,) = build_topology(tiny).warnings  # not a validation problem: it is condensed
    assert "closed loop condensed into one node" in str(warning)
    assert "tie.1" in str(warning) and "tiny.gpkg" in str(warning)
    with pytest.raises(TopologyValidationError, match="closed loop condensed") as caught:
        build_topology(tiny, strict=True)
    assert [p.asset for p in caught.value.problems] == ["fuse.2"]


def test_closed_path_between_substations_is_reported(tiny: GridTables) -> None:
    tiny.substations = _append(
        tiny.substations, {"id": "sub.b", "name": "B", "bus": "b9"}, Point(0.006, 0)
    )
    tiny.devices.loc[tiny.devices["id"] == "tie.1", "normal_state"] = "closed"
    messages = _messages(tiny)
    assert any("closed path joins substations" in m for m in messages)


def test_orphan_section_and_transformer(tiny: GridTables) -> None:
    tiny.sections = _append(
        tiny.sections,
        {"id": "s.island", "feeder": "fdr.1", "from_bus": "x1", "to_bus": "x2"},
        LineString([(1, 1), (1, 2)]),
    )
    tiny.transformers = _append(
        tiny.transformers,
        {"id": "tx.island", "feeder": "fdr.1", "bus": "x2", "kva": 10.0},
        Point(1, 2),
    )
    messages = _messages(tiny)
    assert "tiny.gpkg [sections] s.island: orphan: no substation reaches it" in messages
    assert "tiny.gpkg [transformers] tx.island: orphan: no substation reaches its bus" in messages


def test_unknown_references(tiny: GridTables) -> None:
    tiny.premises.loc[tiny.premises["id"] == "p2", "transformer"] = "tx.missing"
    tiny.transformers.loc[tiny.transformers["id"] == "tx.3", "bus"] = "b.missing"
    tiny.feeders.loc[0, "head_device"] = "brk.missing"
    messages = _messages(tiny)
    assert "tiny.gpkg [premises] p2: unknown transformer 'tx.missing'" in messages
    assert "tiny.gpkg [transformers] tx.3: unknown bus 'b.missing'" in messages
    assert "tiny.gpkg [feeders] fdr.1: unknown head device 'brk.missing'" in messages


def test_duplicate_ids_across_layers(tiny: GridTables) -> None:
    tiny.premises.loc[tiny.premises["id"] == "p4", "id"] = "tx.1"
    messages = _messages(tiny)
    assert "tiny.gpkg [premises] tx.1: duplicate id (also in layer 'transformers')" in messages


def test_missing_coordinates(tiny: GridTables) -> None:
    tiny.premises.loc[tiny.premises["id"] == "p1", "geometry"] = None
    assert "tiny.gpkg [premises] p1: missing coordinates" in _messages(tiny)


def test_premise_without_transformer(tiny: GridTables) -> None:
    tiny.premises.loc[tiny.premises["id"] == "p1", "transformer"] = ""
    assert "tiny.gpkg [premises] p1: premise has no transformer" in _messages(tiny)


def test_bad_kind_and_state(tiny: GridTables) -> None:
    tiny.devices.loc[tiny.devices["id"] == "fuse.1", "kind"] = "teapot"
    tiny.devices.loc[tiny.devices["id"] == "fuse.2", "normal_state"] = "ajar"
    messages = " ".join(_messages(tiny))
    assert "fuse.1: unknown device kind" in messages
    assert "fuse.2: normal_state must be 'open' or 'closed'" in messages


def test_customer_rows_name_the_csv_line(tiny: GridTables) -> None:
    tiny.customers = pd.DataFrame(
        {"account": ["a1", "a2", "a1"], "premise": ["p1", "p.nowhere", "p2"]}
    ).reindex(
        columns=[
            "account",
            "premise",
            "phone",
            "name",
            "address",
            "language",
            "sms_opt_in",
            "priority",
        ]
    )
    messages = _messages(tiny)
    assert "tiny.customers.csv [customers] a2: line 3: unknown premise 'p.nowhere'" in messages
    assert "tiny.customers.csv [customers] a1: line 4: duplicate account" in messages


def test_transformer_above_every_feeder_head_is_rejected(tiny: GridTables) -> None:
    tiny.transformers.loc[tiny.transformers["id"] == "tx.1", "bus"] = "b0"
    assert "tiny.gpkg [transformers] tx.1: not below any feeder head device" in _messages(tiny)
