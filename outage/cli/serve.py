"""``outage serve`` (the HTTP service) and ``outage keys new`` (API keys with roles)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from grid.errors import GridError
from outage.api.auth import ROLES, KeyEntry, append_key, hash_key, new_key
from outage.api.serve import create_app, key_ring, load_runtime, serve_forever
from outage.api.settings import ServiceSettings
from outage.cli.output import err, fail
from outage.errors import OutageError

DEMO_TOPOLOGY = Path("data/topology/demo.gpkg")

keys_app = typer.Typer(
    help="API keys: create keys with roles (stored hashed).", no_args_is_help=True
)


def serve(
    topology: Annotated[Path, typer.Option(help="Topology GeoPackage.")] = DEMO_TOPOLOGY,
    customers: Annotated[
        Path | None, typer.Option(help="Customers CSV (default: next to the GeoPackage).")
    ] = None,
    rules: Annotated[Path | None, typer.Option(help="Prediction rules YAML.")] = None,
    journal: Annotated[
        Path | None, typer.Option(help="SQLite journal (default out/serve.journal).")
    ] = Path("out/serve.journal"),
    keys: Annotated[
        Path | None,
        typer.Option(help="API keys file; without one an admin key is written to out/admin.key."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
    public_url: Annotated[
        str | None, typer.Option(help="Public base URL (for Twilio signature checks).")
    ] = None,
    timezone: Annotated[str, typer.Option(help="The utility's time zone.")] = "Asia/Shanghai",
    max_batch: Annotated[int, typer.Option(help="Most signals per request.", min=1)] = 10_000,
) -> None:
    """Run the HTTP service: intake, duty officer, IVR, live events, metrics."""
    started = time.perf_counter()
    try:
        with err.status(f"loading {topology} and recovering the journal"):
            runtime = load_runtime(
                topology, customers=customers, rules=rules, journal=journal, tz=timezone
            )
        ring, admin_key = key_ring(keys, (journal.parent if journal else Path("out")))
    except (GridError, OutageError) as exc:
        fail(str(exc))
    settings = ServiceSettings(
        keys=keys,
        twilio_auth_token=os.environ.get("OUTAGE_TWILIO_AUTH_TOKEN") or None,
        public_url=public_url,
        timezone=timezone,
        max_batch=max_batch,
        dashboard_dir=_dashboard_dir(),
    )
    app = create_app(runtime, settings, ring)
    recovered = runtime.host.recovered_messages
    err.print(
        f"[bold]ready[/] in {time.perf_counter() - started:.1f} s: "
        f"{len(runtime.network.topology.premise_ids):,} premises, {recovered:,} journaled "
        "messages replayed"
    )
    if admin_key is not None:
        err.print(f"no --keys file: an admin key was written to {admin_key} (mode 600)")

    def ready() -> None:
        err.print(f"[bold green]listening[/] on http://{host}:{port}  (API docs: /docs)")
        sys.stderr.flush()

    serve_forever(app, host, port, ready)


def _dashboard_dir() -> Path | None:
    here = Path(__file__).resolve().parent.parent / "dashboard"
    return here if (here / "index.html").exists() else None


@keys_app.command("new")
def new(
    name: Annotated[str, typer.Option(help="Who uses the key (unique).")],
    role: Annotated[
        list[str], typer.Option(help=f"Role(s): {', '.join(ROLES)}. Repeat for several.")
    ],
    keys: Annotated[Path, typer.Option(help="Keys file to add it to.")] = Path("keys.yaml"),
    rate: Annotated[float, typer.Option(help="Requests per second allowed.", min=0.01)] = 50.0,
) -> None:
    """Create a key: prints it once on stdout and stores only its SHA-256 in the keys file."""
    unknown = [r for r in role if r not in ROLES]
    if unknown:
        fail(f"--role: unknown role(s) {', '.join(unknown)}; expected {', '.join(ROLES)}")
    key = new_key()
    entry = KeyEntry(name=name, sha256=hash_key(key), roles=tuple(role), rate_per_s=rate)  # type: ignore[arg-type]
    try:
        append_key(keys, entry)
    except OutageError as exc:
        fail(str(exc))
    sys.stdout.write(key + "\n")
    err.print(f"added {name!r} ({', '.join(role)}) to {keys}; the key is shown only this once")
