"""``outage simulate``: a seeded storm on a topology, written as events (JSONL) and truth (JSON).

Registered on the main app as a top-level command: ``app.command()(simulate.simulate)``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from grid.errors import GridError
from grid.io import read_gpkg
from grid.topology import build_topology
from outage.cli.output import emit_json, err, fail, progress_bar
from scenarios.city_storm import BadStorm, CityStorm, simulate_storm, write_events


def simulate(
    topology: Annotated[Path, typer.Option(help="Topology GeoPackage.", show_default=False)],
    faults: Annotated[int, typer.Option(help="Number of faults (>= 1).", show_default=False)],
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same storm.")],
    out: Annotated[Path, typer.Option(help="Events file to write (JSON lines).")],
    truth: Annotated[Path, typer.Option(help="Ground-truth JSON file to write.")],
    call_rate: Annotated[
        float, typer.Option(help="Probability that an affected customer calls.")
    ] = 0.1,
    repeat_callers: Annotated[
        float, typer.Option(help="Probability that a caller calls again (1-3 more times).")
    ] = 0.3,
    ami_delivery: Annotated[
        float, typer.Option(help="Probability that a meter message is delivered.")
    ] = 0.8,
    hazards: Annotated[
        float, typer.Option(help="Probability that a call reports wire_down / fire.")
    ] = 0.02,
    customers: Annotated[
        Path | None,
        typer.Option(help="Customers CSV (default: NAME.customers.csv beside the GeoPackage)."),
    ] = None,
    start: Annotated[
        str, typer.Option(help="Start of the storm window (ISO-8601, UTC if no offset).")
    ] = "2026-07-01T08:00:00Z",
    duration_h: Annotated[float, typer.Option(help="Length of the storm window in hours.")] = 6.0,
    nested: Annotated[
        float, typer.Option(help="Share of faults that get a nested child fault.")
    ] = 0.0,
    warning: Annotated[
        bool, typer.Option("--warning/--no-warning", help="Typhoon warning 2 h before.")
    ] = False,
    noise_rate: Annotated[
        float,
        typer.Option(help="Partial-power / flicker calls per 10,000 customers per hour."),
    ] = 1.0,
) -> None:
    """Simulate a storm on a topology: write its signals and the truth; prints a summary."""
    try:  # the storm's own checks, before the topology is read; named as options here
        storm = CityStorm(
            faults=faults,
            seed=seed,
            start=_start(start),
            duration_h=duration_h,
            call_rate=call_rate,
            repeat_callers=repeat_callers,
            ami_delivery=ami_delivery,
            hazards=hazards,
            nested=nested,
            warning=warning,
            noise_rate=noise_rate,
        )
    except BadStorm as exc:
        fail(f"--{exc.field.replace('_', '-')} {exc.reason}", 2)
    if customers is not None and not customers.is_file():
        fail(f"--customers: no such file {customers}", 2)
    try:
        with err.status(f"reading {topology}"):
            tables = read_gpkg(topology, customers)
        with err.status("validating and tracing"):
            topo = build_topology(tables)
    except GridError as exc:
        fail(str(exc))
    try:
        with progress_bar("simulating faults", faults) as update:
            sim = simulate_storm(
                topo,
                tables.customers,
                storm,
                premise_xy=tables.premise_points(),
                on_progress=update,
            )
    except ValueError as exc:  # e.g. a network with nothing that can fault
        fail(str(exc))
    made = sum(1 for f in sim.truth["faults"] if f["parent_fault"] is None)
    if made < faults:
        err.print(f"[yellow]note:[/] only {made} of {faults} faults fit without nesting")
    with err.status(f"writing {out}"):
        write_events(sim, out, truth)
    emit_json(
        {
            "faults": len(sim.truth["faults"]),
            "signals": sim.truth["signals"],
            "calls": sim.truth["calls"],
            "out": str(out),
            "truth": str(truth),
        }
    )


def _start(text: str) -> datetime:
    """``--start`` as an aware UTC datetime (naive times are UTC); exit 2 if unreadable."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"--start must be an ISO-8601 time such as 2026-07-01T08:00:00Z, got {text!r}", 2)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
