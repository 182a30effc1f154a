"""Map data for the dashboard: the network as GeoJSON, and open incidents as areas.

The network itself is the map (no tile server needed): substations, feeders' sections, devices
and transformers, drawn once. Each open incident is drawn as the sections it de-energises, its
device, hazard locations and a hull around the affected premises. Premises themselves are not
sent (24,000 points per refresh would swamp the page; a hull shows the area just as well).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import orjson
import shapely
from shapely.geometry import MultiPoint, mapping

from grid.model import point_coords
from outage.bootstrap import Network

#: Degrees; about 30 m, so a hull around a handful of premises is still visible.
HULL_BUFFER = 0.0003


class MapData:
    """Precomputed geometry of one network (built once, answers from arrays)."""

    def __init__(self, network: Network) -> None:
        self.network = network
        tables = network.tables
        topo = network.topology
        self.premise_xy = point_coords(tables.premises.geometry)
        self.section_coords = [
            [[round(x, 6), round(y, 6)] for x, y in geom.coords]
            for geom in tables.sections.geometry
        ]
        self.device_xy = point_coords(tables.devices.geometry)
        self.transformer_xy = point_coords(tables.transformers.geometry)
        self.section_device = np.asarray(topo.section_device)
        self._network_json: bytes | None = None
        self._areas: dict[tuple[str, str], dict[str, Any]] = {}
        self._addresses: list[str] | None = None

    def network_geojson(self) -> bytes:
        """Substations, sections, devices and transformers as one FeatureCollection."""
        if self._network_json is None:
            tables = self.network.tables
            topo = self.network.topology
            features: list[dict[str, Any]] = []
            for row, xy in zip(
                tables.substations.itertuples(),
                point_coords(tables.substations.geometry),
                strict=True,
            ):
                features.append(_point(xy, layer="substation", id=row.id, name=row.name))
            for row, xy in zip(
                tables.feeders.itertuples(), point_coords(tables.feeders.geometry), strict=True
            ):  # the feeder's head: the dashboard labels the feeder at its far end from here
                features.append(
                    _point(xy, layer="feeder", id=row.id, name=row.name, substation=row.substation)
                )
            for i, coords in enumerate(self.section_coords):
                features.append(
                    {
                        "type": "Feature",
                        "geometry": {"type": "LineString", "coordinates": coords},
                        "properties": {
                            "layer": "section",
                            "id": topo.section_ids[i],
                            "feeder": topo.feeder_ids[int(topo.section_feeder[i])],
                        },
                    }
                )
            for d, xy in enumerate(self.device_xy):
                features.append(
                    _point(
                        xy,
                        layer="device",
                        id=topo.device_ids[d],
                        kind=topo.device_kind[d],
                        feeder=topo.feeder_ids[topo.device_feeder[d]],
                        closed=bool(topo.device_closed[d]),
                    )
                )
            for t, xy in enumerate(self.transformer_xy):
                features.append(
                    _point(
                        xy,
                        layer="transformer",
                        id=topo.transformer_ids[t],
                        customers=int(topo.transformer_customers[t]),
                    )
                )
            lons, lats = self.premise_xy[:, 0], self.premise_xy[:, 1]
            bbox = [float(lons.min()), float(lats.min()), float(lons.max()), float(lats.max())]
            self._network_json = orjson.dumps(
                {"type": "FeatureCollection", "bbox": bbox, "features": features}
            )
        return self._network_json

    def incident_area(self, incident: str, level: str, asset: str) -> dict[str, Any]:
        """The sections, asset point and premise hull of an incident at ``asset`` (at level
        "premise", a service drop: the premise's point alone)."""
        key = (incident, asset)
        cached = self._areas.get(key)
        if cached is not None:
            return cached
        topo = self.network.topology
        if level == "premise":  # a service drop: the premise itself, no area around it
            service: dict[str, Any] = {
                "sections": [],
                "point": self.premise_point(asset),
                "hull": None,
            }
            self._areas[key] = service
            return service
        if level == "device":
            device = topo.device_index[asset]
            below = np.asarray(topo.devices_below(device))
            sections = np.flatnonzero(np.isin(self.section_device, below)).tolist()
            premises = topo.premises_below(device)
            xy = self.device_xy[device]
        else:
            transformer = topo.transformer_index[asset]
            sections = []
            premises = topo.premises_of_transformer(transformer)
            xy = self.transformer_xy[transformer]
        hull = None
        if len(premises):
            # one (n, 2) coordinate array makes one MultiPoint; shapely's stubs cannot tell it
            # from an array of point arrays (which makes an array of them)
            points = cast(MultiPoint, shapely.multipoints(self.premise_xy[np.asarray(premises)]))
            hull = mapping(shapely.convex_hull(points).buffer(HULL_BUFFER, quad_segs=4))
        area = {
            "sections": [self.section_coords[s] for s in sections],
            "point": [round(float(xy[0]), 6), round(float(xy[1]), 6)],
            "hull": hull,
        }
        self._areas[key] = area
        return area

    def premise_point(self, premise: str) -> list[float] | None:
        """A premise's (lon, lat) (for hazard markers), or None if unknown."""
        number = self.network.topology.premise_index.get(premise)
        if number is None:
            return None
        x, y = self.premise_xy[number]
        return [round(float(x), 6), round(float(y), 6)]

    def premise_place(self, premise: str) -> dict[str, str | None]:
        """Where a premise is, in words: its address, feeder and substation."""
        topo = self.network.topology
        number = topo.premise_index.get(premise)
        if number is None:
            return {"address": None, "feeder": None, "substation": None}
        if self._addresses is None:
            self._addresses = self.network.tables.premises["address"].tolist()
        feeder = topo.transformer_feeder[topo.premise_transformer[number]]
        return {
            "address": self._addresses[number] or None,
            "feeder": topo.feeder_ids[feeder],
            "substation": topo.substation_ids[topo.feeder_substation[feeder]],
        }


def _point(xy: Any, **properties: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {
            "type": "Point",
            "coordinates": [round(float(xy[0]), 6), round(float(xy[1]), 6)],
        },
        "properties": properties,
    }
