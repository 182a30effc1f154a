"""How long a crew takes to get somewhere: the routing port and its straight-line adapter.

`StraightLine` is great-circle distance times a road factor at the area's speed; a real routing
engine (OSRM, Valhalla...) can stand in behind the same `Routing` protocol later.
"""

from __future__ import annotations

import math
from typing import Protocol

EARTH_RADIUS_KM = 6371.0088


def great_circle_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine distance in km between two WGS84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class Routing(Protocol):
    """Travel time in minutes between two points (NaN coordinates: unknown -> 0)."""

    def minutes(
        self, origin: tuple[float, float], target: tuple[float, float], speed_kmh: float
    ) -> float: ...


class StraightLine:
    """Great-circle distance x ``road_factor`` at ``speed_kmh``."""

    def __init__(self, road_factor: float) -> None:
        self.road_factor = road_factor

    def minutes(
        self, origin: tuple[float, float], target: tuple[float, float], speed_kmh: float
    ) -> float:
        """Minutes from ``origin`` to ``target`` (0 when either is unknown)."""
        if any(math.isnan(v) for v in (*origin, *target)):
            return 0.0
        return great_circle_km(*origin, *target) * self.road_factor / speed_kmh * 60.0
