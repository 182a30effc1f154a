"""Coordinates for every bus of an imported model, and the layer frames drawn from them.

Known bus coordinates are either **geographic** (lon, lat in WGS84, e.g. OpenDSS
``LatLongCoords`` or a CIM ``CoordinateSystem`` whose crsUrn names EPSG:4326) or **local XY**
in a unit. Local XY is centred on the anchor (lon, lat) through an azimuthal equidistant
projection centred there, so state-plane models land beside the anchor rather than hundreds of
kilometres away; geographic ones are projected the same way around the centre of their own
extent, only so that the filling below works in metres, and come back exactly where they were.

A bus without coordinates (secondaries, switch stubs, virtual buses) is placed `FILL_STEP_M`
from its nearest placed neighbour (breadth-first over every element, open ones included) in a
direction derived from the bus names, so that filled buses do not pile up and a re-import gives
the same map.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from grid.model import WGS84, all_columns, empty_layer

#: Distance (m) between a bus without XY and the neighbour it is placed from.
FILL_STEP_M: Final = 5.0
_GOLDEN_ANGLE: Final = math.pi * (3.0 - math.sqrt(5.0))

Point = tuple[float, float]


@dataclass
class Placed:
    """Every bus in local metres, how to bring them to WGS84, and how many were filled."""

    positions: dict[str, Point]
    project: Any
    filled: set[str] = field(default_factory=set)


def place(
    xy: dict[str, Point],
    *,
    geographic: bool,
    anchor: Point,
    metres_per_unit: float,
    adjacency: dict[str, set[str]],
    start: str,
) -> Placed:
    """Positions for every bus of ``adjacency`` (see the module docstring)."""
    if geographic and xy:
        lons, lats = zip(*xy.values(), strict=True)
        centre = ((min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2)
        local = Transformer.from_crs(WGS84, _local_crs(centre), always_xy=True)
        names = list(xy)
        x, y = local.transform([xy[n][0] for n in names], [xy[n][1] for n in names])
        known = {n: (float(a), float(b)) for n, a, b in zip(names, x, y, strict=True)}
    else:
        centre = anchor
        known = {bus: (x * metres_per_unit, y * metres_per_unit) for bus, (x, y) in xy.items()}
        if known:
            xs, ys = zip(*known.values(), strict=True)
            cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
            known = {bus: (x - cx, y - cy) for bus, (x, y) in known.items()}
    positions = dict(known)
    if not positions:  # a model without XY at all: grow the drawing from the source
        positions[start] = (0.0, 0.0)
    _spread(positions, sorted(positions), adjacency)
    for bus in sorted(adjacency):  # islands no placed bus reaches start at the centre
        if bus not in positions:
            positions[bus] = (0.0, 0.0)
            _spread(positions, [bus], adjacency)
    project = Transformer.from_crs(_local_crs(centre), WGS84, always_xy=True).transform
    return Placed(positions, project, set(positions) - set(known))


def _spread(positions: dict[str, Point], start: list[str], adjacency: dict[str, set[str]]) -> None:
    """Breadth-first: each unplaced neighbour goes `FILL_STEP_M` from the bus that found it."""
    queue = deque(start)
    while queue:
        bus = queue.popleft()
        x, y = positions[bus]
        placed = 0
        for neighbour in sorted(adjacency.get(bus, ())):
            if neighbour not in positions:
                dx, dy = ring(bus, placed, FILL_STEP_M)
                positions[neighbour] = (x + dx, y + dy)
                placed += 1
                queue.append(neighbour)


def ring(key: str, number: int, radius: float) -> Point:
    """The ``number``-th point on a circle around ``key``; the start angle comes from the name
    (a stable hash, unlike ``hash()``) so neighbouring rings do not all begin due east."""
    angle = zlib.crc32(key.encode()) / 2**32 * 2 * math.pi + number * _GOLDEN_ANGLE
    return radius * math.cos(angle), radius * math.sin(angle)


def _local_crs(centre: Point) -> str:
    lon, lat = centre
    return f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m +no_defs"


@dataclass
class Rows:
    """Rows of one layer plus, per row, where it stands: a bus, or an edge's two buses."""

    records: list[tuple[object, ...]] = field(default_factory=list)
    at: list[tuple[str, ...]] = field(default_factory=list)
    offset: list[Point] = field(default_factory=list)

    def add(self, record: tuple[object, ...], *buses: str, offset: Point = (0.0, 0.0)) -> None:
        """A row (values of `grid.model.all_columns` in order) drawn at ``buses``."""
        self.records.append(record)
        self.at.append(buses)
        self.offset.append(offset)


def frame(layer: str, rows: Rows, placed: Placed) -> gpd.GeoDataFrame:
    """The layer's GeoDataFrame: columns from the records, geometry from the buses."""
    if not rows.records:
        return empty_layer(layer)
    positions, project = placed.positions, placed.project
    columns = all_columns(layer)
    # A record may stop before the last optional columns (an importer that cannot know a
    # feeder's area class): those cells are blank, which means "default".
    data = {
        column: [r[i] if i < len(r) else "" for r in rows.records]
        for i, column in enumerate(columns)
    }
    if layer == "sections":
        xy = np.array([[positions[a], positions[b]] for a, b in rows.at], dtype=np.float64)
        lon, lat = project(xy[..., 0], xy[..., 1])
        geometry = shapely.linestrings(np.stack([lon, lat], axis=-1))
    else:
        points = np.array([_middle(positions, at) for at in rows.at], dtype=np.float64)
        points += np.array(rows.offset, dtype=np.float64)
        lon, lat = project(points[:, 0], points[:, 1])
        geometry = shapely.points(lon, lat)
    return gpd.GeoDataFrame(data, geometry=geometry, crs=WGS84)


def _middle(positions: dict[str, Point], buses: tuple[str, ...]) -> Point:
    xs, ys = zip(*(positions[bus] for bus in buses), strict=True)
    return sum(xs) / len(xs), sum(ys) / len(ys)
