"""Shared fixtures: a tiny hand-drawn feeder, the demo city, and the ../shared reference data."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point

from grid.model import WGS84, GridTables

PROJECT = Path(__file__).resolve().parents[1]
SHARED = PROJECT.parent / "shared"
DEMO_GPKG = PROJECT / "data" / "topology" / "demo.gpkg"


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data; skips the test when the shared folder is absent."""
    path = SHARED.joinpath("data", *parts)
    if not path.exists():
        pytest.skip(f"reference data not available: {path}")
    return path


def _frame(rows: list[dict[str, object]], geometry: list[object]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=geometry, crs=WGS84)


def tiny_tables() -> GridTables:
    """One substation, one feeder, a recloser on the main line, two fused laterals, a tie.

    ::

        sub.a(b0) -brk.1- b1 -s1- b2 -rec.1- b3 -s2- b4 -tie.1(open)- b9
                              |                  |
                            fuse.1             fuse.2
                              b5 -s3- b6(tx.1)   b7 -s4- b8(tx.2), b10(tx.3) via s5
    """
    p = Point
    return GridTables(
        substations=_frame([{"id": "sub.a", "name": "A", "bus": "b0"}], [p(0, 0)]),
        feeders=_frame(
            [{"id": "fdr.1", "name": "F1", "substation": "sub.a", "head_device": "brk.1"}],
            [p(0, 0)],
        ),
        devices=_frame(
            [
                {
                    "id": "brk.1",
                    "kind": "breaker",
                    "feeder": "fdr.1",
                    "from_bus": "b0",
                    "to_bus": "b1",
                    "normal_state": "closed",
                },
                {
                    "id": "rec.1",
                    "kind": "recloser",
                    "feeder": "fdr.1",
                    "from_bus": "b2",
                    "to_bus": "b3",
                    "normal_state": "closed",
                },
                {
                    "id": "fuse.1",
                    "kind": "fuse",
                    "feeder": "fdr.1",
                    "from_bus": "b2",
                    "to_bus": "b5",
                    "normal_state": "closed",
                },
                {
                    "id": "fuse.2",
                    "kind": "fuse",
                    "feeder": "fdr.1",
                    "from_bus": "b4",
                    "to_bus": "b7",
                    "normal_state": "closed",
                },
                {
                    "id": "tie.1",
                    "kind": "tie",
                    "feeder": "fdr.1",
                    "from_bus": "b4",
                    "to_bus": "b9",
                    "normal_state": "open",
                },
            ],
            [p(0.0005, 0), p(0.0025, 0), p(0.002, 0.0005), p(0.004, 0.0005), p(0.005, 0)],
        ),
        sections=_frame(
            [
                {"id": "s1", "feeder": "fdr.1", "from_bus": "b1", "to_bus": "b2"},
                {"id": "s2", "feeder": "fdr.1", "from_bus": "b3", "to_bus": "b4"},
                {"id": "s3", "feeder": "fdr.1", "from_bus": "b5", "to_bus": "b6"},
                {"id": "s4", "feeder": "fdr.1", "from_bus": "b7", "to_bus": "b8"},
                {"id": "s5", "feeder": "fdr.1", "from_bus": "b8", "to_bus": "b10"},
            ],
            [
                LineString([(0.001, 0), (0.002, 0)]),
                LineString([(0.003, 0), (0.004, 0)]),
                LineString([(0.002, 0.001), (0.002, 0.002)]),
                LineString([(0.004, 0.001), (0.004, 0.002)]),
                LineString([(0.004, 0.002), (0.004, 0.003)]),
            ],
        ),
        transformers=_frame(
            [
                {"id": "tx.1", "feeder": "fdr.1", "bus": "b6", "kva": 50.0},
                {"id": "tx.2", "feeder": "fdr.1", "bus": "b8", "kva": 25.0},
                {"id": "tx.3", "feeder": "fdr.1", "bus": "b10", "kva": 25.0},
            ],
            [p(0.002, 0.002), p(0.004, 0.002), p(0.004, 0.003)],
        ),
        premises=_frame(
            [
                {"id": "p1", "transformer": "tx.1", "address": "1 Elm St"},
                {"id": "p2", "transformer": "tx.1", "address": "2 Elm St"},
                {"id": "p3", "transformer": "tx.2", "address": "3 Oak Rd"},
                {"id": "p4", "transformer": "tx.3", "address": "4 Oak Rd"},
            ],
            [p(0.0021, 0.002), p(0.0019, 0.002), p(0.0041, 0.002), p(0.0041, 0.003)],
        ),
        source="tiny.gpkg",
        customers_source="tiny.customers.csv",
    )


@pytest.fixture
def tiny() -> GridTables:
    """A fresh copy of the tiny feeder (tests may mutate it)."""
    return tiny_tables()


@pytest.fixture(scope="session")
def demo_gpkg() -> Path:
    """The committed demo city."""
    assert DEMO_GPKG.exists(), "data/topology/demo.gpkg is missing: run `make demo-city`"
    return DEMO_GPKG
