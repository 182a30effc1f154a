"""Areas drawn from premises, never exposing one customer's location.

An outage big enough (``min_customers``) is drawn as the convex hull of its premises, buffered
by ``buffer_m`` metres (computed in a local metric frame so the buffer is round on the ground).
Smaller outages are only shown as the fixed grid cell (``cell_degrees``) their premises fall
in, aggregated with the other small outages of that cell; a cell still under ``min_customers``
does not say how many customers it holds.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from shapely import affinity
from shapely.geometry import MultiPoint, Polygon, box

METRES_PER_DEGREE = 111_320.0


def hull_area(points: npt.NDArray[np.float64], buffer_m: float) -> Polygon:
    """Buffered convex hull of (lon, lat) ``points`` as a WGS84 polygon."""
    lat0 = float(np.mean(points[:, 1]))
    x_scale = METRES_PER_DEGREE * math.cos(math.radians(lat0))
    metric = MultiPoint(
        np.column_stack([points[:, 0] * x_scale, points[:, 1] * METRES_PER_DEGREE])
    )
    shape = metric.convex_hull.buffer(max(buffer_m, 1.0), quad_segs=4)
    return affinity.scale(shape, 1 / x_scale, 1 / METRES_PER_DEGREE, origin=(0, 0))


def cell_of(point: npt.NDArray[np.float64], cell_degrees: float) -> tuple[int, int]:
    """Grid cell (column, row) holding a (lon, lat) point."""
    return (math.floor(point[0] / cell_degrees), math.floor(point[1] / cell_degrees))


def cell_area(cell: tuple[int, int], cell_degrees: float) -> Polygon:
    """The square of a grid cell."""
    x, y = cell
    return box(x * cell_degrees, y * cell_degrees, (x + 1) * cell_degrees, (y + 1) * cell_degrees)
