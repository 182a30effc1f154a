"""Importers: turn a foreign network description into canonical `grid.model.GridTables`.

Each importer is one module with one public function; `load_source` picks one by format name
so that the CLI and tests share a single dispatch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from grid.errors import GridFormatError
from grid.model import GridTables

#: Where the centre of a model's local XY lands when no anchor is given (lon, lat: Shanghai).
DEFAULT_ANCHOR: Final = (121.47, 31.23)
FORMATS: Final = ("opendss", "cim", "pandapower-csv", "gpkg", "geojson")
Unit = Literal["ft", "m"]


def load_source(
    src: Path,
    fmt: str,
    *,
    anchor: tuple[float, float] | None = None,
    unit: Unit = "ft",
    customers: Path | None = None,
) -> GridTables:
    """Read ``src`` as ``fmt`` (one of `FORMATS`)."""
    if fmt == "gpkg":
        from grid.io import read_gpkg

        return read_gpkg(src, customers)
    if fmt == "geojson":
        from grid.io import read_geojson

        return read_geojson(src, customers)
    if fmt == "opendss":
        from grid.importers.opendss import import_opendss

        tables: GridTables = import_opendss(src, anchor=anchor, unit=unit)
        return tables
    if fmt == "cim":
        from grid.importers.cim import import_cim

        return import_cim(src, anchor=anchor or DEFAULT_ANCHOR, unit=unit)
    if fmt == "pandapower-csv":
        from grid.importers.pandapower_csv import import_pandapower_csv

        return import_pandapower_csv(src)
    raise GridFormatError(str(src), f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
