"""Which service-commitment area class (city, rural, remote) each asset is in.

A polygon layer (``restoration.area_layer``: polygons with an ``area_class`` property) wins
where it covers the asset; otherwise the asset's feeder's ``area_class``; otherwise the
configured default. Computed once per network: a lookup on the hot path is an array index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely

from grid.model import AREA_CLASSES
from grid.topology import Topology
from outage.errors import RulesError
from outage.restoration.config import RestorationRules


class AreaClasses:
    """Area class of every transformer and device."""

    def __init__(self, topology: Topology, rules: RestorationRules) -> None:
        default = rules.default_area_class
        feeder = [c or default for c in topology.feeder_area_class] or [default]
        self.transformer = [
            feeder[f] if f < len(feeder) else default for f in topology.transformer_feeder
        ]
        self.device = [
            feeder[f] if 0 <= f < len(feeder) else default for f in topology.device_feeder
        ]
        if rules.area_layer is not None:
            polygons, classes = _read_layer(Path(rules.area_layer))
            _overlay(self.transformer, topology.transformer_lonlat, polygons, classes)
            _overlay(self.device, topology.device_lonlat, polygons, classes)

    def of(self, level: str, number: int) -> str:
        """The class of a transformer (``level`` = "transformer") or device."""
        return (self.transformer if level == "transformer" else self.device)[number]


def _read_layer(path: Path) -> tuple[list[shapely.Geometry], list[str]]:
    import geopandas as gpd  # only when a layer is configured: it is slow to import

    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several kinds; the message names the problem
        raise RulesError(f"{path}: cannot read the area layer ({exc})") from exc
    if "area_class" not in frame.columns:
        raise RulesError(f"{path}: the area layer needs an area_class property")
    if frame.crs is not None:
        frame = frame.to_crs("EPSG:4326")
    polygons, classes = [], []
    for row, (geometry, value) in enumerate(zip(frame.geometry, frame["area_class"], strict=True)):
        text = str(value).strip().lower()
        if text not in AREA_CLASSES:
            raise RulesError(
                f"{path}: feature {row + 1}: area_class must be one of "
                f"{', '.join(AREA_CLASSES)}, got {value!r}"
            )
        if geometry is not None and not geometry.is_empty:
            polygons.append(geometry)
            classes.append(text)
    return polygons, classes


def _overlay(
    out: list[str], lonlat: np.ndarray, polygons: list[shapely.Geometry], classes: list[str]
) -> None:
    """Set ``out[i]`` to the class of the first polygon containing point ``i``."""
    if not polygons or not len(lonlat):
        return
    tree = shapely.STRtree(polygons)
    points = shapely.points(lonlat)
    hits, found = tree.query(points, predicate="within")
    first: dict[int, int] = {}
    for point, polygon in zip(hits.tolist(), found.tolist(), strict=True):
        if point not in first or polygon < first[point]:
            first[point] = polygon  # overlapping polygons: the file's first one wins
    for point, polygon in first.items():
        out[point] = classes[polygon]
