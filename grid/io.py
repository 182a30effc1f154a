"""Reading and writing the canonical formats: GeoPackage (+ customers CSV) and GeoJSON.

A topology on disk is ``NAME.gpkg`` with one layer per entry of `grid.model.LAYERS` (WGS84) and
``NAME.customers.csv`` beside it (columns `grid.model.CUSTOMER_COLUMNS`). GeoJSON is accepted as
either a folder holding ``<layer>.geojson`` files (+ ``customers.csv``) or a single
FeatureCollection whose features carry a ``layer`` property.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Final

import geopandas as gpd
import orjson
import pandas as pd
import pyogrio
import shapely

from grid.errors import GridFormatError
from grid.model import (
    CUSTOMER_COLUMNS,
    LAYER_COLUMNS,
    LAYERS,
    OPTIONAL_COLUMNS,
    WGS84,
    GridTables,
    empty_customers,
    empty_layer,
)

GEOMETRY_TYPES: Final = {
    "substations": "Point",
    "feeders": "Point",
    "devices": "Point",
    "sections": "LineString",
    "transformers": "Point",
    "premises": "Point",
}

_TRUE: Final = frozenset({"1", "true", "yes", "y", "t"})
_FALSE: Final = frozenset({"0", "false", "no", "n", "f", ""})


def customers_path_for(gpkg: Path) -> Path:
    """Where the customers table of ``gpkg`` lives: ``city.gpkg`` -> ``city.customers.csv``."""
    return gpkg.with_name(gpkg.stem + ".customers.csv")


# ---------------------------------------------------------------------------------------------
# GeoPackage


def write_gpkg(tables: GridTables, path: Path) -> Path:
    """Write ``tables`` as ``path`` (all layers) plus its customers CSV; returns the CSV path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    for name in LAYERS:
        frame = _conform(tables.layer(name), name)
        pyogrio.write_dataframe(
            frame, path, layer=name, driver="GPKG", geometry_type=GEOMETRY_TYPES[name]
        )
    customers_path = customers_path_for(path)
    write_customers(tables.customers, customers_path)
    return customers_path


def read_gpkg(path: Path, customers: Path | None = None) -> GridTables:
    """Read a canonical GeoPackage (and its customers CSV, or ``customers`` if given)."""
    path = Path(path)
    if not path.is_file():
        raise GridFormatError(str(path), "no such file")
    try:
        present = {row[0] for row in pyogrio.list_layers(path)}
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise GridFormatError(str(path), f"not a readable GeoPackage ({exc})") from exc
    missing = [name for name in LAYERS if name not in present]
    if missing:
        raise GridFormatError(str(path), f"missing layer(s): {', '.join(missing)}")
    frames = {}
    for name in LAYERS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GDAL chatter on empty layers
            frame = pyogrio.read_dataframe(path, layer=name, use_arrow=True)
        frames[name] = _conform(frame, name, source=f"{path} [{name}]")
    customers_path = Path(customers) if customers else customers_path_for(path)
    table = read_customers(customers_path) if customers_path.exists() else empty_customers()
    return GridTables(
        **frames,
        customers=table,
        source=str(path),
        customers_source=str(customers_path),
    )


# ---------------------------------------------------------------------------------------------
# GeoJSON


def read_geojson(path: Path, customers: Path | None = None) -> GridTables:
    """Read a GeoJSON topology: a folder of ``<layer>.geojson`` files or one FeatureCollection."""
    path = Path(path)
    frames: dict[str, gpd.GeoDataFrame] = {}
    if path.is_dir():
        for name in LAYERS:
            layer_file = path / f"{name}.geojson"
            if not layer_file.exists():
                raise GridFormatError(str(layer_file), f"missing layer file for {name!r}")
            frames[name] = _conform(_read_geojson_file(layer_file), name, source=str(layer_file))
        default_customers = path / "customers.csv"
    elif path.is_file():
        whole = _read_geojson_file(path)
        if "layer" not in whole.columns:
            raise GridFormatError(
                str(path), "features need a 'layer' property naming one of " + ", ".join(LAYERS)
            )
        unknown = sorted(set(whole["layer"].dropna()) - set(LAYERS))
        if unknown:
            raise GridFormatError(str(path), f"unknown layer value(s): {', '.join(unknown)}")
        for name in LAYERS:
            part = whole[whole["layer"] == name].drop(columns="layer")
            frames[name] = _conform(part, name, source=f"{path} [{name}]")
        default_customers = customers_path_for(path)
    else:
        raise GridFormatError(str(path), "no such file or folder")
    customers_path = Path(customers) if customers else default_customers
    table = read_customers(customers_path) if customers_path.exists() else empty_customers()
    return GridTables(
        **frames, customers=table, source=str(path), customers_source=str(customers_path)
    )


def write_geojson(tables: GridTables, folder: Path) -> None:
    """Write ``tables`` as a folder of ``<layer>.geojson`` files plus ``customers.csv``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in LAYERS:
        target = folder / f"{name}.geojson"
        target.unlink(missing_ok=True)
        frame = _conform(tables.layer(name), name)
        pyogrio.write_dataframe(frame, target, driver="GeoJSON", geometry_type=GEOMETRY_TYPES[name])
    write_customers(tables.customers, folder / "customers.csv")


def _read_geojson_file(path: Path) -> gpd.GeoDataFrame:
    try:
        document = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise GridFormatError(str(path), f"not valid JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise GridFormatError(str(path), "expected a GeoJSON FeatureCollection")
    features = document.get("features") or []
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or "properties" not in feature:
            raise GridFormatError(str(path), f"feature #{number} has no properties")
    if not features:
        return gpd.GeoDataFrame({"layer": []}, geometry=[], crs=WGS84)
    frame = gpd.GeoDataFrame.from_features(features, crs=WGS84)
    return frame


# ---------------------------------------------------------------------------------------------
# customers.csv


def read_customers(path: Path) -> pd.DataFrame:
    """Read ``customers.csv``; a bad row raises `GridFormatError` naming the file and line."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise GridFormatError(str(path), f"cannot read customers CSV ({exc})") from exc
    missing = [c for c in ("account", "premise") if c not in frame.columns]
    if missing:
        raise GridFormatError(str(path), f"missing column(s): {', '.join(missing)}", line=1)
    for column in CUSTOMER_COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    opt_in = frame["sms_opt_in"].str.strip().str.lower()
    bad = ~opt_in.isin(_TRUE | _FALSE)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise GridFormatError(
            str(path),
            f"sms_opt_in must be true/false, got {frame['sms_opt_in'].iloc[row]!r}",
            line=row + 2,  # +1 for the header, +1 because lines count from 1
        )
    frame["sms_opt_in"] = opt_in.isin(_TRUE)
    frame["language"] = frame["language"].replace("", "zh-CN")
    frame["priority"] = frame["priority"].replace("", "normal")
    return frame[list(CUSTOMER_COLUMNS)].reset_index(drop=True)


def write_customers(frame: pd.DataFrame, path: Path) -> None:
    """Write the customers table as UTF-8 CSV with the canonical columns."""
    out = frame.reindex(columns=list(CUSTOMER_COLUMNS)).copy()
    out["sms_opt_in"] = out["sms_opt_in"].map(lambda v: "true" if bool(v) else "false")
    out.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL, encoding="utf-8")


# ---------------------------------------------------------------------------------------------


def _conform(frame: pd.DataFrame, name: str, *, source: str = "<memory>") -> gpd.GeoDataFrame:
    """Return ``frame`` with exactly the layer's columns (ids as strings) in WGS84.

    Optional columns (`grid.model.OPTIONAL_COLUMNS`) are kept when present and blank when not,
    so a file written before such a column existed reads as "default" everywhere."""
    columns = LAYER_COLUMNS[name]
    optional = OPTIONAL_COLUMNS.get(name, ())
    if len(frame) == 0:
        return empty_layer(name)
    missing = [c for c in columns if c not in frame.columns and c != "kva"]
    if missing:
        raise GridFormatError(source, f"layer {name!r} lacks column(s): {', '.join(missing)}")
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry is None:
        raise GridFormatError(source, f"layer {name!r} has no geometry")
    gdf = frame
    if gdf.crs is None:
        gdf = gdf.set_crs(WGS84)
    elif not gdf.crs.equals(WGS84):
        gdf = gdf.to_crs(WGS84)
    data: dict[str, object] = {}
    for column in columns:
        if column == "kva":
            values = (
                gdf["kva"] if "kva" in gdf.columns else pd.Series(float("nan"), index=gdf.index)
            )
            data[column] = pd.to_numeric(values, errors="coerce").to_numpy()
        else:
            data[column] = _text(gdf[column])
    for column in optional:
        data[column] = _text(gdf[column]) if column in gdf.columns else [""] * len(gdf)
    geometry = shapely.force_2d(gdf.geometry.to_numpy())
    return gpd.GeoDataFrame(data, geometry=geometry, crs=WGS84)


def _text(values: pd.Series) -> object:
    """A column as plain strings, blank for missing values (booleans as "true"/"false")."""
    if values.dtype == bool:
        return values.map(lambda v: "true" if v else "false").astype(object).to_numpy()
    return values.astype("string").fillna("").astype(object).to_numpy()
