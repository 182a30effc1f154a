"""GeoPackage, GeoJSON and customers.csv round trips and their error messages."""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
import pytest

from grid.errors import GridFormatError
from grid.io import (
    customers_path_for,
    read_customers,
    read_geojson,
    read_gpkg,
    write_geojson,
    write_gpkg,
)
from grid.model import LAYERS, GridTables
from grid.synthetic import CitySpec, generate_city
from grid.topology import build_topology


def test_gpkg_round_trip_keeps_every_layer_and_customer(tmp_path: Path) -> None:
    city = generate_city(CitySpec(customers=600, seed=3))
    target = tmp_path / "city.gpkg"
    csv = write_gpkg(city, target)
    assert csv == customers_path_for(target) == tmp_path / "city.customers.csv"
    back = read_gpkg(target)
    for name in LAYERS:
        original, read = city.layer(name), back.layer(name)
        assert list(read["id"]) == list(original["id"]), name
        assert read.geometry.geom_equals_exact(original.geometry, tolerance=1e-9).all(), name
    pd.testing.assert_frame_equal(back.customers, city.customers, check_dtype=False)
    assert back.source == str(target)
    assert build_topology(back).trace("premise.0000042") == build_topology(city).trace(
        "premise.0000042"
    )


def test_missing_gpkg_and_missing_layers_are_named(tmp_path: Path) -> None:
    with pytest.raises(GridFormatError, match=r"nope\.gpkg: no such file"):
        read_gpkg(tmp_path / "nope.gpkg")
    junk = tmp_path / "junk.gpkg"
    junk.write_text("not a geopackage")
    with pytest.raises(GridFormatError, match=r"junk\.gpkg: not a readable GeoPackage"):
        read_gpkg(junk)


def test_geojson_folder_round_trip(tmp_path: Path, tiny: GridTables) -> None:
    write_geojson(tiny, tmp_path / "net")
    back = read_geojson(tmp_path / "net")
    assert build_topology(back).trace("p4").devices == ("fuse.2", "rec.1", "brk.1")


def test_geojson_single_collection_with_layer_property(tmp_path: Path, tiny: GridTables) -> None:
    features = []
    for name in LAYERS:
        document = orjson.loads(tiny.layer(name).to_json())
        for feature in document["features"]:
            feature["properties"]["layer"] = name
            features.append(feature)
    path = tmp_path / "net.geojson"
    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": features}))
    assert build_topology(read_geojson(path)).trace("p1").transformer == "tx.1"


def test_geojson_without_layer_property_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"x"},'
        '"geometry":{"type":"Point","coordinates":[0,0]}}]}'
    )
    with pytest.raises(GridFormatError, match=r"bad\.geojson: features need a 'layer' property"):
        read_geojson(path)


def test_customers_csv_bad_opt_in_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        "account,premise,phone,name,address,language,sms_opt_in,priority\n"
        "a1,p1,+8613800000000,Li,addr,zh-CN,true,normal\n"
        "a2,p2,+8613800000001,Wu,addr,en,perhaps,normal\n",
        encoding="utf-8",
    )
    with pytest.raises(GridFormatError) as info:
        read_customers(path)
    assert f"{path}:3: sms_opt_in must be true/false, got 'perhaps'" in str(info.value)


def test_customers_csv_needs_account_and_premise(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("acct,prem\n1,2\n")
    with pytest.raises(
        GridFormatError, match=r"customers.csv:1: missing column\(s\): account, premise"
    ):
        read_customers(path)


def test_customers_csv_defaults(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("account,premise\n7,p1\n", encoding="utf-8")
    row = read_customers(path).iloc[0]
    assert (row["language"], row["priority"], bool(row["sms_opt_in"])) == ("zh-CN", "normal", False)
