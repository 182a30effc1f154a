"""GeoJSON outage feed for public outage maps (areas, customers out, ETR, cause).

One feature per open outage of at least ``min_customers`` customers, drawn as an area around
its premises; smaller outages are merged into grid-cell features (`notify.feeds.area`), so the
feed never points at a single home. Restored, merged and partially restored parents are left
out (their nested outages still out have features of their own), so nobody is counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from shapely.geometry import mapping

from notify.audience import Audience
from notify.config import FeedConfig
from notify.feeds.area import cell_area, cell_of, hull_area
from notify.projection import IncidentView


def _coordinates_rounded(geometry: dict[str, Any]) -> dict[str, Any]:
    rings = [[[round(x, 5), round(y, 5)] for x, y in ring] for ring in geometry["coordinates"]]
    return {"type": geometry["type"], "coordinates": rings}


def outage_feed(
    incidents: Iterable[IncidentView],
    audience: Audience,
    premise_xy: npt.NDArray[np.float64],
    config: FeedConfig,
    generated: datetime,
) -> dict[str, Any]:
    """The feed as a GeoJSON FeatureCollection dict."""
    topology = audience.topology
    features: list[dict[str, Any]] = []
    cells: dict[tuple[int, int], dict[str, Any]] = {}
    for view in sorted((v for v in incidents if v.status == "open"), key=lambda v: v.id):
        premises = audience.premises_of(view)
        if not len(premises):
            continue
        customers = int(topology.premise_customers[premises].sum())
        points = premise_xy[premises]
        if customers >= config.min_customers:
            area = hull_area(points, config.buffer_m)
            features.append(_feature(area, [view], customers, "outage", config))
            continue
        cell = cell_of(points.mean(axis=0), config.cell_degrees)
        entry = cells.setdefault(cell, {"incidents": [], "customers": 0})
        entry["incidents"].append(view)
        entry["customers"] += customers
    for cell, entry in sorted(cells.items()):
        area = cell_area(cell, config.cell_degrees)
        features.append(_feature(area, entry["incidents"], entry["customers"], "grid_cell", config))
    total = sum(f["properties"]["customers_out"] or 0 for f in features)
    hidden = sum(e["customers"] for e in cells.values() if e["customers"] < config.min_customers)
    return {
        "type": "FeatureCollection",
        "generated": generated.isoformat(),
        "customers_out": total + hidden,
        "outages": sum(len(f["properties"]["incidents"]) for f in features),
        "features": features,
    }


def _feature(
    area: Any, views: list[IncidentView], customers: int, kind: str, config: FeedConfig
) -> dict[str, Any]:
    causes = {v.cause for v in views}
    etrs = [v.etr for v in views if v.etr]
    shown = customers >= config.min_customers
    return {
        "type": "Feature",
        "geometry": _coordinates_rounded(mapping(area)),
        "properties": {
            "area_type": kind,
            "incidents": [v.id for v in views],
            "customers_out": customers if shown else None,
            "customers_band": None if shown else f"<{config.min_customers}",
            "etr": max(etrs) if etrs else None,
            "cause": causes.pop() if len(causes) == 1 else "multiple",
            "started": min((v.started for v in views if v.started), default=None),
            "planned": any(v.planned for v in views),
            "crew_assigned": any(v.crew for v in views),
        },
    }
