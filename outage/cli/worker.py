"""``outage worker``: an engine worker applying partition streams from Redis."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from grid.errors import GridError
from outage.bootstrap import Network, RestorationSetup
from outage.cli.options import CrewsOption, EtrHistoryOption
from outage.cli.output import emit_json, err, fail
from outage.errors import OutageError
from outage.rules import load_rules

DEMO_TOPOLOGY = Path("data/topology/demo.gpkg")


def worker(
    store: Annotated[
        str,
        typer.Option(
            help="Redis URL: redis://HOST:PORT or redis://HOST:PORT/DB (any Cluster node)."
        ),
    ],
    topology: Annotated[Path, typer.Option(help="Topology GeoPackage.")] = DEMO_TOPOLOGY,
    customers: Annotated[
        Path | None, typer.Option(help="Customers CSV (default: next to the GeoPackage).")
    ] = None,
    rules: Annotated[Path | None, typer.Option(help="Prediction rules YAML.")] = None,
    crews: CrewsOption = None,
    etr_history: EtrHistoryOption = None,
    partitions: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated partitions (substation ids, 'system') this worker owns; "
            "default: a fair share of all, rebalanced as workers come and go."
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Consumer name (default HOSTNAME-PID); unique per worker.")
    ] = None,
    lease_ms: Annotated[
        int,
        typer.Option(help="Partition lease: a dead worker's partitions move after this.", min=300),
    ] = 10_000,
    batch: Annotated[int, typer.Option(help="Most entries applied per write.", min=1)] = 500,
    prefix: Annotated[str, typer.Option(help="Key prefix (one Redis, several systems).")] = (
        "outage"
    ),
) -> None:
    """Run an engine worker: own partitions, apply their signals exactly once, until SIGTERM."""
    from outage.redisstore.connect import connect
    from outage.redisstore.keys import Keyspace
    from outage.redisstore.worker import EngineWorker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    started = time.perf_counter()
    try:
        client = connect(store)
        with err.status(f"loading {topology}"):
            network = Network.load(topology, customers)
        engine_worker = EngineWorker(
            client,
            network,
            rules=load_rules(rules),
            restoration=RestorationSetup.load(crews, etr_history),
            keys=Keyspace(prefix),
            name=name,
            partitions=[p.strip() for p in partitions.split(",") if p.strip()]
            if partitions
            else None,
            lease_ms=lease_ms,
            batch=batch,
        )
    except (GridError, OutageError) as exc:
        fail(str(exc))
    stop = threading.Event()

    def on_signal(number: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    err.print(
        f"worker {engine_worker.name}: {len(engine_worker.candidates)} candidate partitions, "
        f"ready in {time.perf_counter() - started:.1f} s"
    )
    try:
        engine_worker.run(stop)
    except OutageError as exc:  # e.g. a pinned partition another live worker writes
        fail(str(exc))
    emit_json({"worker": engine_worker.name, "applied": engine_worker.applied_messages})
