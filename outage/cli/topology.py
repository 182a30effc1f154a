"""``outage topology ...``: import, generate, describe, trace and locate networks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from grid.errors import GridError
from grid.importers import FORMATS, load_source
from grid.io import read_gpkg, write_gpkg
from grid.stats import describe
from grid.synthetic import CitySpec, generate_city
from grid.topology import build_topology
from outage.cli.output import emit_json, err, fail, progress_bar

app = typer.Typer(
    help="Network topology: import, generate, validate, trace, locate.", no_args_is_help=True
)

Gpkg = Annotated[Path, typer.Argument(help="A canonical topology GeoPackage.", show_default=False)]


def _pair(text: str | None, option: str) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lon, lat = (float(part) for part in text.split(","))
    except ValueError:
        fail(f"{option} expects LON,LAT (two numbers separated by a comma), got {text!r}", 2)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        fail(f"{option} is out of range: lon must be in [-180, 180] and lat in [-90, 90]", 2)
    return lon, lat


@app.command("import")
def import_(
    src: Annotated[Path, typer.Argument(help="Source file or folder.", show_default=False)],
    fmt: Annotated[str, typer.Option("--format", help=f"One of: {', '.join(FORMATS)}.")],
    out: Annotated[Path, typer.Option("--out", help="GeoPackage to write.")],
    anchor: Annotated[
        str | None,
        typer.Option(help="LON,LAT for the centre of the model's local XY extent (OpenDSS, CIM)."),
    ] = None,
    unit: Annotated[str, typer.Option(help="Unit of local XY coordinates: ft or m.")] = "ft",
    strict: Annotated[
        bool,
        typer.Option(
            help="Fail on warnings too (closed loops condensed, phase cycles through devices)."
        ),
    ] = False,
) -> None:
    """Import a network, validate it and write the canonical GeoPackage; prints its stats and,
    under "inferred", what the import inferred (substations, feeder heads, ties, cycles
    condensed, coordinates filled, elements skipped and why, warnings)."""
    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}", 2)
    if unit not in ("ft", "m"):
        fail(f"--unit must be 'ft' or 'm', got {unit!r}", 2)
    try:
        with err.status(f"reading {src} as {fmt}"):
            tables = load_source(src, fmt, anchor=_pair(anchor, "--anchor"), unit=unit)  # type: ignore[arg-type]
        with err.status("validating and tracing"):
            topology = build_topology(tables)
        inferred = dict(tables.inferred)
        warnings = [*inferred.get("warnings", []), *(str(w) for w in topology.warnings)]
        if strict and warnings:
            fail("--strict: " + "; ".join(warnings))
        with err.status(f"writing {out}"):
            write_gpkg(tables, out)
        summary = describe(tables)
        if inferred or warnings:
            inferred["warnings"] = warnings
            summary["inferred"] = inferred
        emit_json(summary)
    except GridError as exc:
        fail(str(exc))


@app.command()
def generate(
    customers: Annotated[
        int, typer.Option(help="Number of customer accounts.", min=1, max=5_000_000)
    ],
    out: Annotated[Path, typer.Option(help="GeoPackage to write (customers CSV beside it).")],
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same city.")] = 7,
    centre: Annotated[str, typer.Option(help="LON,LAT of the city centre.")] = "113.30,23.12",
) -> None:
    """Generate a synthetic city and write it; prints its stats."""
    lon_lat = _pair(centre, "--centre")
    assert lon_lat is not None
    spec = CitySpec(customers=customers, seed=seed, centre=lon_lat)
    with progress_bar("generating substations", spec.substations) as update:
        tables = generate_city(spec, on_progress=update)
    try:
        with err.status("validating and tracing"):
            build_topology(tables)
        with err.status(f"writing {out}"):
            write_gpkg(tables, out)
    except GridError as exc:
        fail(str(exc))
    emit_json(describe(tables))


@app.command()
def stats(gpkg: Gpkg) -> None:
    """Counts, radiality and bounding box of a topology (exit 1 when it is not valid; a closed
    loop, condensed into one node, is a warning)."""
    try:
        with err.status(f"reading {gpkg}"):
            tables = read_gpkg(gpkg)
    except GridError as exc:
        fail(str(exc))
    summary = describe(tables)
    emit_json(summary)
    if summary.get("problems"):
        raise typer.Exit(1)


@app.command()
def trace(
    gpkg: Gpkg,
    premise: Annotated[str, typer.Option(help="Premise id.")],
) -> None:
    """Premise -> transformer -> protective devices (nearest first) -> feeder -> substation."""
    try:
        with err.status(f"reading {gpkg}"):
            topology = build_topology(read_gpkg(gpkg))
        emit_json(topology.trace(premise).to_dict())
    except GridError as exc:
        fail(str(exc))


@app.command()
def locate(
    gpkg: Gpkg,
    lon: Annotated[float, typer.Option(help="Longitude (WGS84).")],
    lat: Annotated[float, typer.Option(help="Latitude (WGS84).")],
    max_m: Annotated[float, typer.Option("--max-m", help="Search radius in metres.")] = 200.0,
) -> None:
    """Nearest premise, transformer and section within --max-m metres of a point."""
    from grid.locate import Locator

    try:
        with err.status(f"reading {gpkg}"):
            locator = Locator(read_gpkg(gpkg))
        emit_json(locator.locate(lon, lat, max_m=max_m))
    except ValueError as exc:
        fail(str(exc), 2)
    except GridError as exc:
        fail(str(exc))
