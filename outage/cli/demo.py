"""``outage demo``: the main job on the embedded default (no Redis needed).

Loads the committed demo city, draws it, simulates a storm on it (faults, thousands of calls
with repeat callers, meter last gasps, hazards, restorations), plays it through the durable
engine with a progress bar, and ends with a summary and a map of the outages in ``out/``.
The live service and dashboard join this command as their issues land.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from grid.errors import GridError
from outage.bootstrap import Network, build_engine
from outage.cli.output import err, fail, progress_bar
from outage.evaluate import accuracy
from outage.host import EngineHost
from outage.journal import SqliteJournal
from outage.report.outage_map import draw_outages
from outage.report.topology_map import draw_topology
from outage.signals import parse_signal
from outage.simulate import premise_points, simulate_storm
from outage.state import snapshot

DEMO_TOPOLOGY = Path("data/topology/demo.gpkg")
BATCH = 500


def demo(
    topology: Annotated[Path, typer.Option(help="Topology GeoPackage to use.")] = DEMO_TOPOLOGY,
    out: Annotated[Path, typer.Option(help="Folder for the report files.")] = Path("out"),
    faults: Annotated[int, typer.Option(help="Faults in the simulated storm.", min=1)] = 25,
    seed: Annotated[int, typer.Option(help="Storm seed.")] = 7,
) -> None:
    """Play a simulated storm on the demo city through the engine; summary and maps in out/."""
    try:
        started = time.perf_counter()
        with err.status(f"loading {topology}"):
            network = Network.load(topology)
    except GridError as exc:
        fail(str(exc))
    err.print(
        f"[bold]network[/] {topology}: {len(network.topology.premise_ids):,} premises, "
        f"{len(network.topology.feeder_ids)} feeders, "
        f"loaded in {time.perf_counter() - started:.1f} s"
    )
    out.mkdir(parents=True, exist_ok=True)
    draw_topology(network.tables, out / "demo-topology.png", title="Demo city")

    with progress_bar("simulating the storm", faults) as update:
        storm = simulate_storm(
            network.topology,
            network.tables.customers,
            faults=faults,
            seed=seed,
            call_rate=0.15,
            nested=0.1,
            warning=True,
            premise_xy=premise_points(network.tables),
            on_progress=update,
        )
    journal_path = out / "demo-journal.sqlite"
    for stale in out.glob("demo-journal.sqlite*"):
        stale.unlink()
    host = EngineHost(build_engine(network), SqliteJournal(journal_path))
    signals = [parse_signal(s) for s in storm.signals]
    tick = time.perf_counter()
    peak: tuple[int, dict[str, Any] | None] = (0, None)
    with progress_bar("replaying signals through the engine", len(signals)) as update:
        for first in range(0, len(signals), BATCH):
            host.submit(signals[first : first + BATCH])
            update(min(first + BATCH, len(signals)))
            out_now = sum(i.customers for i in host.engine.outermost_open())
            if out_now > peak[0]:  # keep the storm at its worst for the map
                peak = (out_now, snapshot(host.engine))
        host.finish()
    replay_s = time.perf_counter() - tick
    state = snapshot(host.engine)
    (out / "demo-state.json").write_bytes(orjson.dumps(state, option=orjson.OPT_INDENT_2))
    worst_out, worst = peak
    at_peak = worst or state
    picture = draw_outages(
        network.tables,
        network.topology,
        at_peak,
        out / "demo-outages.png",
        title=f"Storm at its peak: {worst_out:,} customers out, "
        f"{at_peak['calls_received']:,} calls so far",
    )
    _summary(state, storm.truth, len(signals), replay_s)
    err.print(f"[bold green]maps:[/] {out / 'demo-topology.png'}, {picture}")
    err.print(
        f"[bold green]state:[/] {out / 'demo-state.json'}  [bold green]journal:[/] {journal_path}"
    )


def _summary(state: dict[str, Any], truth: dict[str, Any], signals: int, seconds: float) -> None:
    incidents = [i for i in state["incidents"] if i["status"] != "cancelled"]
    score = accuracy(state, truth)
    table = Table(title="Storm summary", show_header=False)
    table.add_row(
        "signals replayed", f"{signals:,} in {seconds:.1f} s ({signals / seconds:,.0f}/s)"
    )
    table.add_row("faults simulated", str(len(truth["faults"])))
    table.add_row("calls received", f"{state['calls_received']:,}")
    table.add_row("tickets created (incidents)", str(len(incidents)))
    table.add_row("duplicate calls suppressed", f"{state['suppressed_calls']:,}")
    hazards = sum(1 for t in state["tickets"] if t.get("priority") == "high")
    table.add_row("hazard tickets", str(hazards))
    table.add_row("unresolved calls", str(len(state["unresolved"])))
    table.add_row(
        "faults found at the true device",
        f"{score['exact_share']:.0%} of {score['faults_with_calls']}",
    )
    table.add_row("storm declared", str(state["storm"]["at"] or "no"))
    indices = state["indices"]
    table.add_row(
        "CMI / SAIDI / SAIFI",
        f"{indices['cmi']:,.0f} / {indices['saidi']:.1f} min / {indices['saifi']:.3f}",
    )
    err.print(table)
    biggest = sorted(incidents, key=lambda i: -i["customers_affected"])[:8]
    devices = Table(title="Largest outages")
    for column in ("incident", "device", "status", "customers", "calls"):
        devices.add_column(column)
    for incident in biggest:
        devices.add_row(
            incident["id"],
            incident["device"],
            incident["status"],
            f"{incident['customers_affected']:,}",
            str(len(incident["calls"])),
        )
    err.print(devices)
