"""The asset model as tables: what every importer produces and the topology builder consumes.

The network is a set of *buses* (connection points, named only by id) joined by two kinds of
edges: conductor *sections* and switching/protective *devices*. Service *transformers* hang off
a bus, *premises* (service points) hang off a transformer, and *customer accounts* belong to a
premise. A *substation* feeds its source bus; each *feeder* starts at its head device (the
feeder breaker) just below that bus.

Every geometric layer is a GeoDataFrame in WGS84 (EPSG:4326) whose columns are listed in
`LAYER_COLUMNS`; customers are a plain DataFrame (`CUSTOMER_COLUMNS`). Ids are unique across all
layers, so a message naming an id never needs to say which layer it means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

WGS84: Final = "EPSG:4326"

#: Device kinds that interrupt or isolate a part of the network, in the order the stats list
#: them. A ``tie`` is a normally-open switch between two feeders.
DEVICE_KINDS: Final = (
    "breaker",
    "recloser",
    "relay",
    "fuse",
    "sectionalizer",
    "switch",
    "tie",
)

#: The layers of the canonical GeoPackage, in the order they are written.
LAYERS: Final = ("substations", "feeders", "devices", "sections", "transformers", "premises")

#: Attribute columns of each layer (the geometry column is always ``geometry``).
LAYER_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    # bus: the source bus the substation energises.
    "substations": ("id", "name", "bus"),
    # head_device: the feeder breaker (a device id) whose upstream end is the substation bus.
    "feeders": ("id", "name", "substation", "head_device"),
    # normal_state: "closed" or "open" (an open device is left out of the radial tree).
    "devices": ("id", "kind", "feeder", "from_bus", "to_bus", "normal_state"),
    "sections": ("id", "feeder", "from_bus", "to_bus"),
    "transformers": ("id", "feeder", "bus", "kva"),
    "premises": ("id", "transformer", "address"),
}

#: Optional attribute columns, after the required ones: always written, and read when present
#: (files written before a column existed still load; a missing or blank cell means "default").
OPTIONAL_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    # mrid: the CIM mRID of the asset the row came from (blank for other sources).
    "substations": ("mrid",),
    # area_class: the service-commitment class of the area the feeder serves (city, rural,
    # remote): it sets how soon a crew must be on site. Blank = the configured default.
    "feeders": ("mrid", "area_class"),
    # scada: "true"/"false" - does the device report its state by telemetry? Blank = default
    # (see `device_scada`). to_feeder: for an open tie, the feeder on its to_bus side.
    "devices": ("scada", "to_feeder", "mrid"),
    "sections": ("mrid",),
    "transformers": ("mrid",),
    "premises": ("mrid",),
}

#: Service-commitment area classes (State Grid: on site within 45 min in cities, 90 min in
#: rural areas, 2 h in remote ones).
AREA_CLASSES: Final = ("city", "rural", "remote")

#: Device kinds that are telemetered by default when they head a feeder.
SCADA_HEAD_KINDS: Final = frozenset({"breaker", "relay"})

_TRUE: Final = frozenset({"1", "true", "yes", "y", "t"})
_FALSE: Final = frozenset({"0", "false", "no", "n", "f"})

#: Columns of ``customers.csv``: one row per customer account.
CUSTOMER_COLUMNS: Final = (
    "account",
    "premise",
    "phone",
    "name",
    "address",
    "language",
    "sms_opt_in",
    "priority",
)

#: ``priority`` values, most urgent first (critical care = life-support equipment at home).
CUSTOMER_PRIORITIES: Final = ("critical_care", "vip", "normal")
LANGUAGES: Final = ("zh-CN", "en")


def all_columns(name: str) -> tuple[str, ...]:
    """Required then optional attribute columns of layer ``name``."""
    return LAYER_COLUMNS[name] + OPTIONAL_COLUMNS.get(name, ())


def empty_layer(name: str) -> gpd.GeoDataFrame:
    """An empty GeoDataFrame with the columns (required and optional) and CRS of ``name``."""
    columns = list(all_columns(name))
    return gpd.GeoDataFrame({c: pd.Series(dtype="object") for c in columns}, geometry=[], crs=WGS84)


def point_coords(geometry: gpd.GeoSeries) -> npt.NDArray[np.float64]:
    """(lon, lat) of a point layer's rows as an array of shape (rows, 2), in row order."""
    values = geometry.to_numpy()
    return np.column_stack([shapely.get_x(values), shapely.get_y(values)]).astype(np.float64)


def optional_column(frame: pd.DataFrame, column: str) -> list[str]:
    """The values of an optional column as strings, blank where the frame lacks it."""
    if column not in frame.columns:
        return [""] * len(frame)
    return ["" if pd.isna(v) else str(v) for v in frame[column]]


def parse_flag(text: str) -> bool | None:
    """``"true"``/``"false"`` (and 1/0, yes/no) as a bool; blank is None; else ValueError."""
    value = text.strip().lower()
    if value == "":
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def device_scada(devices: pd.DataFrame, heads: set[str]) -> list[bool]:
    """Per device row: is it telemetered? The ``scada`` cell when given, otherwise true for a
    feeder-head device (an id in ``heads``) of a kind in `SCADA_HEAD_KINDS` and false for the
    rest: a feeder breaker almost always reports to SCADA, a fuse never does. A value that is
    not a flag counts as blank here; `grid.validate.check_tables` reports it."""
    out: list[bool] = []
    for asset, kind, cell in zip(
        devices["id"], devices["kind"], optional_column(devices, "scada"), strict=True
    ):
        try:
            flag = parse_flag(cell)
        except ValueError:
            flag = None
        out.append(flag if flag is not None else (asset in heads and kind in SCADA_HEAD_KINDS))
    return out


def feeder_area_classes(feeders: pd.DataFrame) -> list[str | None]:
    """Per feeder row: its ``area_class`` cell (lower case), None where blank or unknown
    (`grid.validate.check_tables` reports an unknown one)."""
    out: list[str | None] = []
    for cell in optional_column(feeders, "area_class"):
        value = cell.strip().lower()
        out.append(value if value in AREA_CLASSES else None)
    return out


def empty_customers() -> pd.DataFrame:
    """An empty customers table with the canonical columns."""
    return pd.DataFrame({c: pd.Series(dtype="object") for c in CUSTOMER_COLUMNS})


@dataclass
class GridTables:
    """The whole asset model of one network, as tables (see the module docstring).

    ``source`` names where the tables came from (a file path or a generator description) so
    that validation errors can say which file an asset lives in.
    """

    substations: gpd.GeoDataFrame = field(default_factory=lambda: empty_layer("substations"))
    feeders: gpd.GeoDataFrame = field(default_factory=lambda: empty_layer("feeders"))
    devices: gpd.GeoDataFrame = field(default_factory=lambda: empty_layer("devices"))
    sections: gpd.GeoDataFrame = field(default_factory=lambda: empty_layer("sections"))
    transformers: gpd.GeoDataFrame = field(default_factory=lambda: empty_layer("transformers"))
    premises: gpd.GeoDataFrame = field(default_factory=lambda: empty_layer("premises"))
    customers: pd.DataFrame = field(default_factory=empty_customers)
    source: str = "<memory>"
    customers_source: str = "<memory>"
    #: What an importer inferred on the way (substations and feeder heads found, ties, cycles
    #: condensed, coordinates filled, elements skipped and why, warnings): the JSON-ready
    #: import summary. Empty for tables read from a canonical file or generated.
    inferred: dict[str, Any] = field(default_factory=dict)

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """The layer called ``name`` (one of `LAYERS`)."""
        if name not in LAYER_COLUMNS:
            raise KeyError(f"unknown layer {name!r}; layers are {', '.join(LAYERS)}")
        frame: gpd.GeoDataFrame = getattr(self, name)
        return frame

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """All geometric layers by name, in canonical order."""
        return {name: self.layer(name) for name in LAYERS}

    def premise_points(self) -> npt.NDArray[np.float64]:
        """Premise (lon, lat) as an array of shape (premises, 2) in file order, which is the
        order of `Topology.premise_ids` for a topology built from these tables."""
        return point_coords(self.premises.geometry)
