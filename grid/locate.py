"""Which asset is nearest to a caller's position: premise, transformer, section or device.

`Locator` keeps one shapely `STRtree` per asset kind, built on first use, over geometries
projected into the UTM zone of the network's bounding-box centre, so that search radii are in
metres. Reported distances are *geodesic* (WGS84 ellipsoid, `pyproj.Geod`) from the query point
to the asset's point, or to the nearest point of a section, so they do not carry the few tenths
of a per cent of scale error UTM has away from its central meridian. Nothing within ``max_m``
metres is an answer in itself (`AssetNotFound`), never a guess at something farther away.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, get_args

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pyproj
import shapely

from grid.errors import AssetNotFound
from grid.model import WGS84, GridTables

Kind = Literal["premise", "transformer", "section", "device"]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
#: Kinds reported by `Locator.locate` (the ``outage topology locate`` JSON).
LOCATE_KINDS: Final[tuple[Kind, ...]] = ("premise", "transformer", "section")

_LAYER_OF: Final[dict[Kind, str]] = {
    "premise": "premises",
    "transformer": "transformers",
    "section": "sections",
    "device": "devices",
}
_GEOD: Final = pyproj.Geod(ellps="WGS84")
# Transverse Mercator point scale on a sphere is k0 * cosh(easting offset / (k0 * R)); the
# ellipsoid differs from that by far less than the 0.1 % margin added in `_search_radius`.
_UTM_K0: Final = 0.9996
_UTM_FALSE_EASTING: Final = 500_000.0
_EARTH_RADIUS_M: Final = 6_371_000.0

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
GeomArray = npt.NDArray[np.object_]


@dataclass(frozen=True, slots=True)
class Located:
    """The nearest asset of one kind: its id, geodesic distance and the point measured to.

    ``lon``/``lat`` are the asset's own point, or for a section the point on it nearest to
    the query; ``distance_m`` is rounded to 0.1 m and coordinates to 7 decimals (~1 cm).
    """

    kind: Kind
    id: str
    distance_m: float
    lon: float
    lat: float

    def to_dict(self) -> dict[str, Any]:
        """``{"kind", "id", "distance_m", "lon", "lat"}``."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _KindIndex:
    """Tree over one layer's located rows (rows with no geometry are left out)."""

    ids: list[str]
    tree: shapely.STRtree
    geoms: GeomArray  # projected, tree order
    lonlat: FloatArray | None  # (n, 2) WGS84 coordinates of point layers; None for sections


class Locator:
    """Nearest-asset search over the point and line layers of a `GridTables`.

    Construction only picks the projection; each kind's tree is built the first time that
    kind is asked for (about a second per million points), under a lock so that concurrent
    first calls build it once.
    """

    def __init__(self, tables: GridTables) -> None:
        self._tables = tables
        self.crs = utm_crs_for(tables)
        # Transformers are cached: creating one costs ~1 ms, far more than a transform.
        self._to_metric = pyproj.Transformer.from_crs(WGS84, self.crs, always_xy=True)
        self._to_wgs84 = pyproj.Transformer.from_crs(self.crs, WGS84, always_xy=True)
        self._indexes: dict[Kind, _KindIndex] = {}
        self._lock = threading.Lock()

    # -- queries ----------------------------------------------------------------------------

    def nearest(
        self, lon: float, lat: float, *, kind: Kind = "premise", max_m: float = 200.0
    ) -> Located:
        """The ``kind`` asset nearest to (``lon``, ``lat``), at most ``max_m`` metres away.

        Raises `ValueError` for coordinates out of range, a non-positive ``max_m`` or an
        unknown ``kind``, and `AssetNotFound` when no such asset lies within ``max_m``.
        Equidistant assets resolve to the first in file order.
        """
        lon, lat, max_m = _check_lon(lon), _check_lat(lat), _check_max_m(max_m)
        index = self._index(_check_kind(kind))
        x, y = self._to_metric.transform(lon, lat)
        hit: int | None = None
        if math.isfinite(x) and math.isfinite(y) and index.ids:
            found = index.tree.query_nearest(
                shapely.Point(x, y), max_distance=_search_radius(x, max_m), all_matches=True
            )
            hit = int(found.min()) if len(found) else None
        if hit is not None and index.lonlat is not None:
            hit = self._geodesic_nearest(index, x, y, lon, lat, hit)
        if hit is not None:
            rows = np.array([hit], dtype=np.int64)
            points = _points(np.array([[x, y]]))
            a_lon, a_lat = self._asset_lonlat(index, rows, points)
            distance = float(_GEOD.inv(lon, lat, a_lon[0], a_lat[0])[2])
            if distance <= max_m:
                return Located(
                    kind=kind,
                    id=index.ids[hit],
                    distance_m=round(distance, 1),
                    lon=round(float(a_lon[0]), 7),
                    lat=round(float(a_lat[0]), 7),
                )
        raise AssetNotFound(f"no {kind} within {max_m:g} m of ({lon}, {lat})")

    def nearest_many(
        self,
        lons: Sequence[float] | FloatArray,
        lats: Sequence[float] | FloatArray,
        kind: Kind = "premise",
        max_m: float = 200.0,
    ) -> list[str | None]:
        """Vectorised `nearest`: the id for each point, or None where nothing is within ``max_m``.

        One tree query and one geodesic pass for the whole batch (for benchmarks and
        simulation). Raises `ValueError` naming the first out-of-range position.
        """
        lon_a = np.asarray(lons, dtype=np.float64)
        lat_a = np.asarray(lats, dtype=np.float64)
        if lon_a.ndim != 1 or lon_a.shape != lat_a.shape:
            raise ValueError(
                f"lons and lats must be 1-D and the same length, got {lon_a.shape} and "
                f"{lat_a.shape}"
            )
        _check_range(lon_a, "lons", 180.0)
        _check_range(lat_a, "lats", 90.0)
        max_m = _check_max_m(max_m)
        index = self._index(_check_kind(kind))
        out: list[str | None] = [None] * len(lon_a)
        if not index.ids or not len(lon_a):
            return out
        xs, ys = self._to_metric.transform(lon_a, lat_a)
        finite = np.flatnonzero(np.isfinite(xs) & np.isfinite(ys))
        if not len(finite):
            return out
        points = _points(np.column_stack([xs[finite], ys[finite]]))
        radius = _search_radius(xs[finite], max_m)  # one radius: the widest any point needs
        pairs = index.tree.query_nearest(points, max_distance=radius, all_matches=True)
        # Ties come back as several pairs per query: keep the lowest tree index (file order).
        order = np.lexsort((pairs[1], pairs[0]))
        queries, first = np.unique(pairs[0][order], return_index=True)
        rows = pairs[1][order][first].astype(np.int64)
        if index.lonlat is not None:  # the same near-tie rule as `nearest`
            for n, q in enumerate(queries.tolist()):
                at = finite[q]
                rows[n] = self._geodesic_nearest(
                    index, xs[at], ys[at], lon_a[at], lat_a[at], int(rows[n])
                )
        a_lon, a_lat = self._asset_lonlat(index, rows, points[queries])
        source = finite[queries]
        distance = _GEOD.inv(lon_a[source], lat_a[source], a_lon, a_lat)[2]
        ids = index.ids
        for position, row, d in zip(source.tolist(), rows.tolist(), distance.tolist(), strict=True):
            if d <= max_m:
                out[position] = ids[row]
        return out

    def locate(self, lon: float, lat: float, max_m: float = 200.0) -> dict[str, Any]:
        """The JSON answer of ``outage topology locate FILE.gpkg --lon X --lat Y [--max-m M]``.

        Shape::

            {
              "lon": 116.4, "lat": 39.9, "max_m": 200.0,
              "premise":     {"id": "P1", "distance_m": 12.3, "lon": ..., "lat": ...} | null,
              "transformer": {"id": "T1", "distance_m": 40.0, "lon": ..., "lat": ...} | null,
              "section":     {"id": "S7", "distance_m": 3.1,  "lon": ..., "lat": ...} | null
            }

        Each kind is looked up independently; ``null`` means none of that kind lies within
        ``max_m`` metres (for a section, ``lon``/``lat`` is the nearest point on it). Invalid
        input raises `ValueError` as `nearest` does.
        """
        lon, lat, max_m = _check_lon(lon), _check_lat(lat), _check_max_m(max_m)
        answer: dict[str, Any] = {"lon": lon, "lat": lat, "max_m": max_m}
        for kind in LOCATE_KINDS:
            try:
                found = self.nearest(lon, lat, kind=kind, max_m=max_m).to_dict()
            except AssetNotFound:
                answer[kind] = None
            else:
                del found["kind"]  # the key already says it
                answer[kind] = found
        return answer

    # -- building ---------------------------------------------------------------------------

    def _index(self, kind: Kind) -> _KindIndex:
        index = self._indexes.get(kind)
        if index is None:
            with self._lock:
                index = self._indexes.get(kind)
                if index is None:
                    index = self._build(kind)
                    self._indexes[kind] = index
        return index

    def _build(self, kind: Kind) -> _KindIndex:
        frame: gpd.GeoDataFrame = self._tables.layer(_LAYER_OF[kind])
        geoms: GeomArray = np.asarray(frame.geometry.to_numpy(), dtype=object)
        located = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
        ids = [str(i) for i in frame["id"].to_numpy()[located]]
        geoms = geoms[located]
        lonlat: FloatArray | None = None
        if kind == "section":
            projected = shapely.transform(geoms, self._project_coords)
        else:
            # Points: project the coordinate array directly (much faster than per geometry)
            # and keep the WGS84 coordinates to measure geodesic distances from.
            lonlat = shapely.get_coordinates(geoms).astype(np.float64)
            xs, ys = self._to_metric.transform(lonlat[:, 0], lonlat[:, 1])
            projected = _points(np.column_stack([xs, ys]))
        return _KindIndex(ids=ids, tree=shapely.STRtree(projected), geoms=projected, lonlat=lonlat)

    def _geodesic_nearest(
        self, index: _KindIndex, x: float, y: float, lon: float, lat: float, hit: int
    ) -> int:
        """Among points the projection ranks (almost) as near as ``hit``, the geodesically
        nearest: UTM distorts distances by up to ~0.1%, enough to swap two near-ties."""
        point = shapely.Point(x, y)
        reach = float(shapely.distance(point, index.geoms[hit])) * 1.002 + 0.5
        rows = index.tree.query(point, predicate="dwithin", distance=reach)
        if len(rows) <= 1:
            return hit
        assert index.lonlat is not None
        rows = np.sort(rows)
        ground = _GEOD.inv(
            np.full(len(rows), lon),
            np.full(len(rows), lat),
            index.lonlat[rows, 0],
            index.lonlat[rows, 1],
        )[2]
        return int(rows[int(np.argmin(ground))])  # argmin keeps the first of equals

    def _project_coords(self, coords: FloatArray) -> FloatArray:
        xs, ys = self._to_metric.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([xs, ys])

    def _asset_lonlat(
        self, index: _KindIndex, rows: IntArray, queries: GeomArray
    ) -> tuple[FloatArray, FloatArray]:
        """WGS84 point of each matched asset: its own point, or the nearest point of a line."""
        if index.lonlat is not None:
            picked = index.lonlat[rows]
            return picked[:, 0], picked[:, 1]
        # shortest_line runs from the query point to the nearest point of the section.
        lines = shapely.shortest_line(queries, index.geoms[rows])
        ends = shapely.get_coordinates(lines).reshape(-1, 2, 2)[:, 1]
        lons, lats = self._to_wgs84.transform(ends[:, 0], ends[:, 1])
        return np.asarray(lons, dtype=np.float64), np.asarray(lats, dtype=np.float64)


def utm_crs_for(tables: GridTables) -> pyproj.CRS:
    """WGS84 UTM zone (EPSG 326xx north / 327xx south) of the centre of all layers' bbox.

    The zone is computed from the longitude directly rather than through the PROJ database:
    it is deterministic, instant, and the special Norway/Svalbard zones do not matter for
    distances of a few hundred metres. An empty network gets zone 31N (any zone would do).
    """
    boxes = [
        layer.total_bounds
        for layer in tables.layers().values()
        if len(layer) and not np.isnan(layer.total_bounds).all()
    ]
    if boxes:
        stacked = np.vstack(boxes)
        lon = (stacked[:, 0].min() + stacked[:, 2].max()) / 2
        lat = (stacked[:, 1].min() + stacked[:, 3].max()) / 2
    else:
        lon = lat = 0.0
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _points(xy: FloatArray) -> GeomArray:
    """Point geometries from an (n, 2) coordinate array (always an array, even for n == 1)."""
    return np.asarray(shapely.points(xy), dtype=object)


def _search_radius(eastings: float | FloatArray, max_m: float) -> float:
    """Projected radius that holds everything within ``max_m`` metres on the ground.

    UTM stretches distances by its point scale factor, which grows with the distance from the
    zone's central meridian (up to ~1.001 at a zone's edge, more for networks wider than a
    zone), so the tree is asked for a slightly larger radius, sized for the query farthest
    from the meridian, and the geodesic check afterwards applies the exact limit.
    """
    offset = float(np.max(np.abs(np.asarray(eastings) - _UTM_FALSE_EASTING))) + 2.0 * max_m
    scale = _UTM_K0 * math.cosh(min(offset / (_UTM_K0 * _EARTH_RADIUS_M), 10.0))
    return max_m * max(scale, 1.0) * 1.001


def _check_kind(kind: str) -> Kind:
    if kind not in _LAYER_OF:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return kind  # narrowed to Kind by the membership test


def _number(value: object, name: str) -> float:
    try:
        return float(value)  # type: ignore[arg-type]  # anything float() accepts is fine
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None


def _check_lon(lon: object) -> float:
    value = _number(lon, "lon")
    if not -180.0 <= value <= 180.0:  # also rejects NaN
        raise ValueError(f"lon must be within [-180, 180], got {lon!r}")
    return value


def _check_lat(lat: object) -> float:
    value = _number(lat, "lat")
    if not -90.0 <= value <= 90.0:
        raise ValueError(f"lat must be within [-90, 90], got {lat!r}")
    return value


def _check_max_m(max_m: object) -> float:
    value = _number(max_m, "max_m")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"max_m must be a positive number of metres, got {max_m!r}")
    return value


def _check_range(values: FloatArray, name: str, limit: float) -> None:
    bad = np.flatnonzero(~((values >= -limit) & (values <= limit)))
    if len(bad):
        first = int(bad[0])
        raise ValueError(
            f"{name}[{first}] must be within [-{limit:g}, {limit:g}], got {values[first]!r}"
        )
