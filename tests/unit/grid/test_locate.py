"""Nearest-asset search: right asset, geodesic distance, radius limit, input validation."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from grid.errors import AssetNotFound
from grid.locate import Located, Locator, utm_crs_for
from grid.model import LAYER_COLUMNS, WGS84, GridTables

GEOD = pyproj.Geod(ellps="WGS84")
# A small network in Beijing (UTM zone 50N). 0.001 deg of longitude is ~85 m here.
LON, LAT = 116.40, 39.90


def layer(name: str, rows: list[dict[str, object]]) -> gpd.GeoDataFrame:
    """A layer with the canonical columns; each row carries its shapely ``geometry``."""
    columns = LAYER_COLUMNS[name]
    data: dict[str, list[object]] = {c: [str(r.get(c, "")) for r in rows] for c in columns}
    if "kva" in columns:
        data["kva"] = [50.0 for _ in rows]
    return gpd.GeoDataFrame(data, geometry=[r["geometry"] for r in rows], crs=WGS84)


def points(name: str, coords: dict[str, tuple[float, float]]) -> gpd.GeoDataFrame:
    return layer(name, [{"id": i, "geometry": shapely.Point(xy)} for i, xy in coords.items()])


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.fixture(scope="module")
def tables() -> GridTables:
    return GridTables(
        premises=points(
            "premises",
            {
                "P1": (LON, LAT),
                "P2": (LON + 0.001, LAT),
                "P3": (LON, LAT + 0.001),
                "P-far": (LON + 0.05, LAT + 0.05),
            },
        ),
        transformers=points("transformers", {"T1": (LON + 0.0005, LAT + 0.0005)}),
        devices=points("devices", {"D1": (LON - 0.002, LAT)}),
        sections=layer(
            "sections",
            [
                # West-east along LAT + 0.0005; a north-south one further east.
                {
                    "id": "S1",
                    "geometry": shapely.LineString(
                        [(LON - 0.003, LAT + 0.0005), (LON + 0.003, LAT + 0.0005)]
                    ),
                },
                {
                    "id": "S2",
                    "geometry": shapely.LineString(
                        [(LON + 0.01, LAT - 0.01), (LON + 0.01, LAT + 0.01)]
                    ),
                },
            ],
        ),
    )


@pytest.fixture(scope="module")
def locator(tables: GridTables) -> Locator:
    return Locator(tables)


def test_picks_utm_zone_of_the_data() -> None:
    beijing = GridTables(premises=points("premises", {"P": (LON, LAT)}))
    sydney = GridTables(premises=points("premises", {"P": (151.2, -33.9)}))
    assert utm_crs_for(beijing).to_epsg() == 32650
    assert utm_crs_for(sydney).to_epsg() == 32756


def test_nearest_premise_and_its_geodesic_distance(locator: Locator) -> None:
    q_lon, q_lat = LON + 0.0007, LAT + 0.0001  # nearer P2 (~26 m) than P1 (~60 m)
    found = locator.nearest(q_lon, q_lat)
    assert found == Located(
        kind="premise",
        id="P2",
        distance_m=found.distance_m,
        lon=116.401,
        lat=LAT,
    )
    assert abs(found.distance_m - distance_m(q_lon, q_lat, LON + 0.001, LAT)) < 1.0
    assert found.to_dict() == {
        "kind": "premise",
        "id": "P2",
        "distance_m": found.distance_m,
        "lon": 116.401,
        "lat": LAT,
    }


def test_distance_is_rounded_to_a_tenth(locator: Locator) -> None:
    found = locator.nearest(LON + 0.0001, LAT)
    assert found.distance_m == round(distance_m(LON + 0.0001, LAT, LON, LAT), 1)


@pytest.mark.parametrize(("kind", "expected"), [("transformer", "T1"), ("device", "D1")])
def test_other_point_kinds(locator: Locator, kind: str, expected: str) -> None:
    assert locator.nearest(LON - 0.0005, LAT, kind=kind).id == expected  # type: ignore[arg-type]


def test_nothing_within_max_m_raises_rather_than_guessing(locator: Locator) -> None:
    q_lon = LON - 0.0006  # P1 is ~51 m east
    assert locator.nearest(q_lon, LAT, max_m=60).id == "P1"
    with pytest.raises(AssetNotFound, match=r"no premise within 50 m of \(116\.3994, 39\.9\)"):
        locator.nearest(q_lon, LAT, max_m=50)
    with pytest.raises(AssetNotFound, match="no transformer within 5 m"):
        locator.nearest(LON, LAT, kind="transformer", max_m=5)


def test_far_away_query_finds_nothing(locator: Locator) -> None:
    with pytest.raises(AssetNotFound):
        locator.nearest(-70.0, -40.0)
    assert locator.nearest_many([-70.0, 179.9], [-40.0, 0.0]) == [None, None]


def test_equidistant_assets_resolve_to_file_order() -> None:
    tables = GridTables(
        premises=points("premises", {"B": (LON + 0.001, LAT), "A": (LON - 0.001, LAT)})
    )
    assert Locator(tables).nearest(LON, LAT).id == "B"
    assert Locator(tables).nearest_many([LON], [LAT]) == ["B"]


def test_section_reports_the_nearest_point_on_it(locator: Locator) -> None:
    q_lon, q_lat = LON + 0.0012, LAT + 0.0003  # ~22 m south of S1's middle part
    found = locator.nearest(q_lon, q_lat, kind="section")
    assert found.id == "S1"
    assert found.lon == pytest.approx(q_lon, abs=1e-6)
    assert found.lat == pytest.approx(LAT + 0.0005, abs=1e-6)
    assert abs(found.distance_m - distance_m(q_lon, q_lat, q_lon, LAT + 0.0005)) < 1.0


def test_section_end_is_nearest_beyond_its_last_vertex(locator: Locator) -> None:
    found = locator.nearest(LON - 0.0035, LAT + 0.0005, kind="section")
    assert (found.id, found.lon, found.lat) == ("S1", round(LON - 0.003, 7), round(LAT + 0.0005, 7))
    assert (
        abs(found.distance_m - distance_m(LON - 0.0035, LAT + 0.0005, LON - 0.003, LAT + 0.0005))
        < 1.0
    )


@pytest.mark.parametrize("edge_lon", [0.001, -1.0])
def test_limit_is_geodesic_even_at_a_zone_edge(edge_lon: float) -> None:
    # UTM zone 31 (central meridian 3°E) at the equator. At its edge (0°) the scale is ~1.001,
    # and for a network that spills 1° into the next zone ~1.002: a 199.9 m gap measures
    # ~200.1-200.3 m in the projection, so a projected cut-off at 200 m would miss it.
    tables = GridTables(premises=points("premises", {"edge": (edge_lon, 0.0), "east": (5.0, 0.0)}))
    locator = Locator(tables)
    assert locator.crs.to_epsg() == 32631
    near_lon, near_lat, _ = GEOD.fwd(edge_lon, 0.0, 90.0, 199.9)
    found = locator.nearest(near_lon, near_lat, max_m=200)
    assert (found.id, found.distance_m) == ("edge", 199.9)
    # In bulk too, next to a query on the central meridian (where the scale is smallest).
    assert locator.nearest_many([near_lon, 3.0], [near_lat, 0.0], max_m=200) == ["edge", None]
    far_lon, far_lat, _ = GEOD.fwd(edge_lon, 0.0, 90.0, 200.2)
    with pytest.raises(AssetNotFound):
        locator.nearest(far_lon, far_lat, max_m=200)
    assert locator.nearest_many([far_lon], [far_lat], max_m=200) == [None]


@pytest.mark.parametrize(
    ("lon", "lat", "max_m", "argument"),
    [
        (180.5, LAT, 200, "lon"),
        (-181, LAT, 200, "lon"),
        (math.nan, LAT, 200, "lon"),
        (LON, 90.01, 200, "lat"),
        (LON, -91, 200, "lat"),
        (LON, "north", 200, "lat"),
        (LON, LAT, 0, "max_m"),
        (LON, LAT, -5, "max_m"),
        (LON, LAT, math.inf, "max_m"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(
    locator: Locator, lon: float, lat: float, max_m: float, argument: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{argument} must be"):
        locator.nearest(lon, lat, max_m=max_m)
    with pytest.raises(ValueError, match=rf"^{argument} must be"):
        locator.locate(lon, lat, max_m=max_m)


def test_unknown_kind_is_a_value_error(locator: Locator) -> None:
    with pytest.raises(ValueError, match="kind must be one of premise, transformer, section"):
        locator.nearest(LON, LAT, kind="meter")  # type: ignore[arg-type]


def test_locate_json_shape(locator: Locator) -> None:
    answer = locator.locate(LON + 0.0001, LAT, max_m=30)
    assert list(answer) == ["lon", "lat", "max_m", "premise", "transformer", "section"]
    assert answer["max_m"] == 30.0
    assert answer["premise"]["id"] == "P1"
    assert set(answer["premise"]) == {"id", "distance_m", "lon", "lat"}
    assert answer["transformer"] is None  # ~65 m away
    assert answer["section"] is None  # ~55 m away


def test_rows_without_geometry_are_skipped() -> None:
    premises = points("premises", {"P1": (LON, LAT), "P2": (LON, LAT)})
    premises.loc[0, "geometry"] = None
    assert Locator(GridTables(premises=premises)).nearest(LON, LAT).id == "P2"


def test_empty_layer_finds_nothing() -> None:
    locator = Locator(GridTables(premises=points("premises", {"P1": (LON, LAT)})))
    with pytest.raises(AssetNotFound, match="no device within 200 m"):
        locator.nearest(LON, LAT, kind="device")
    assert locator.nearest_many([LON], [LAT], kind="section") == [None]


def test_nearest_many_validates_its_arrays(locator: Locator) -> None:
    with pytest.raises(ValueError, match=r"lats\[1\] must be within \[-90, 90\]"):
        locator.nearest_many([LON, LON], [LAT, 95.0])
    with pytest.raises(ValueError, match="same length"):
        locator.nearest_many([LON, LON], [LAT])
    assert locator.nearest_many([], []) == []


@settings(max_examples=50, deadline=None)
@given(
    dx=st.lists(st.floats(-0.004, 0.004), min_size=1, max_size=20),
    dy=st.lists(st.floats(-0.004, 0.004), min_size=1, max_size=20),
    kind=st.sampled_from(["premise", "transformer", "section", "device"]),
    max_m=st.floats(1.0, 400.0),
)
def test_nearest_many_agrees_with_nearest(
    locator: Locator, dx: list[float], dy: list[float], kind: str, max_m: float
) -> None:
    n = min(len(dx), len(dy))
    lons, lats = LON + np.array(dx[:n]), LAT + np.array(dy[:n])
    bulk = locator.nearest_many(lons, lats, kind, max_m)  # type: ignore[arg-type]
    for lon, lat, got in zip(lons, lats, bulk, strict=True):
        try:
            expected: str | None = locator.nearest(lon, lat, kind=kind, max_m=max_m).id  # type: ignore[arg-type]
        except AssetNotFound:
            expected = None
        assert got == expected


@settings(max_examples=50, deadline=None)
@given(dx=st.floats(-0.01, 0.01), dy=st.floats(-0.01, 0.01))
def test_nearest_is_the_geodesically_nearest_premise(
    locator: Locator, tables: GridTables, dx: float, dy: float
) -> None:
    lon, lat = LON + dx, LAT + dy
    ground = {
        pid: distance_m(lon, lat, p.x, p.y)
        for pid, p in zip(tables.premises["id"], tables.premises.geometry, strict=True)
    }
    best = min(ground, key=lambda pid: ground[pid])
    found = locator.nearest(lon, lat, max_m=5000)
    assert found.id == best
    assert abs(found.distance_m - ground[best]) < 1.0
