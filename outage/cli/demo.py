"""``outage demo``: the main job on the embedded default.

For now it loads the committed demo city, validates and traces it, prints what it holds and
draws it; the storm demo (issue 8) grows from here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from grid.errors import GridError
from grid.io import read_gpkg
from grid.stats import describe
from grid.topology import build_topology
from outage.cli.output import err, fail
from outage.report.topology_map import draw_topology

DEMO_TOPOLOGY = Path("data/topology/demo.gpkg")


def demo(
    topology: Annotated[Path, typer.Option(help="Topology GeoPackage to use.")] = DEMO_TOPOLOGY,
    out: Annotated[Path, typer.Option(help="Folder for the report files.")] = Path("out"),
) -> None:
    """Load, validate and describe the demo city, and draw its map."""
    try:
        started = time.perf_counter()
        with err.status(f"loading {topology}"):
            tables = read_gpkg(topology)
        with err.status("validating and tracing"):
            topo = build_topology(tables)
        elapsed = time.perf_counter() - started
    except GridError as exc:
        fail(str(exc))
    summary = describe(tables)
    table = Table(title=f"Demo city — {topology}", show_header=False)
    for key in ("substations", "feeders", "transformers", "premises", "customers"):
        table.add_row(key, f"{summary[key]:,}")
    for kind, count in summary["protective_devices"].items():
        if count:
            table.add_row(f"  {kind}", f"{count:,}")
    table.add_row("radial", str(summary["radial"]))
    table.add_row("loaded + traced in", f"{elapsed:.2f} s")
    err.print(table)
    sample = topo.premise_ids[len(topo.premise_ids) // 2]
    trace = topo.trace(sample)
    err.print(
        f"[bold]trace[/] {sample} -> {trace.transformer} -> {' -> '.join(trace.devices)}"
        f" -> {trace.feeder} -> {trace.substation}"
    )
    with err.status("drawing the map"):
        picture = draw_topology(tables, out / "demo-topology.png", title="Demo city")
    err.print(f"[bold green]map:[/] {picture}")
