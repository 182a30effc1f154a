"""``outage serve``: the HTTP service (API keys: `outage.cli.keys`)."""

from __future__ import annotations

import os
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlparse

import typer
from pydantic import SecretStr

from grid.errors import GridError
from notify.errors import NotifyError
from outage.api.clock import DAY, ClockPolicy
from outage.api.compose import AnyServices, Services, compose, compose_redis
from outage.api.runtime import Runtime
from outage.api.serve import create_app, key_ring, serve_forever, warm
from outage.api.session import secret_file
from outage.api.settings import ServiceSettings
from outage.api.statelock import StateDirLock
from outage.api.surface import ServiceRuntime
from outage.api.ticker import WallTicker
from outage.bootstrap import Network, RestorationSetup
from outage.cli.options import CrewsOption, EtrHistoryOption
from outage.cli.output import err, fail
from outage.errors import OutageError
from outage.rules import load_rules
from playbooks.errors import PlaybookError

if TYPE_CHECKING:
    from outage.redisstore.service import RedisRuntime

DEMO_TOPOLOGY = Path("data/topology/demo.gpkg")
EMBEDDED = "embedded"
DEFAULT_CLOCK = ClockPolicy()


class Role(StrEnum):
    """What one ``outage serve`` process runs besides the HTTP API."""

    all = "all"  # also notify (SMS) and playbooks: exactly one such process per system
    api = "api"  # HTTP only (Redis store): any number behind a load balancer


def serve(
    topology: Annotated[Path, typer.Option(help="Topology GeoPackage.")] = DEMO_TOPOLOGY,
    customers: Annotated[
        Path | None, typer.Option(help="Customers CSV (default: next to the GeoPackage).")
    ] = None,
    rules: Annotated[Path | None, typer.Option(help="Prediction rules YAML.")] = None,
    crews: CrewsOption = None,
    etr_history: EtrHistoryOption = None,
    state_dir: Annotated[
        Path,
        typer.Option(help="Journal, SMS outbox, playbook state and job store live here (created)."),
    ] = Path("out/serve"),
    playbooks: Annotated[
        list[Path] | None,
        typer.Option(help="Playbook files or folders (default: the shipped library)."),
    ] = None,
    notify_config: Annotated[
        Path | None, typer.Option(help="notify.yaml (quiet hours, rates, templates).")
    ] = None,
    keys: Annotated[
        Path | None,
        typer.Option(help="API keys file; without one an admin key is written to STATE_DIR."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
    public_url: Annotated[
        str | None, typer.Option(help="Public base URL (for Twilio signature checks).")
    ] = None,
    timezone: Annotated[str, typer.Option(help="The utility's time zone.")] = "Asia/Shanghai",
    max_batch: Annotated[int, typer.Option(help="Most signals per request.", min=1)] = 10_000,
    store: Annotated[
        str,
        typer.Option(
            help="'embedded' (SQLite journal in STATE_DIR, the engine in this process) or "
            "redis://HOST:PORT or redis://HOST:PORT/DB (any Redis Cluster node): stateless API "
            "over Redis, engines in `outage worker` processes."
        ),
    ] = EMBEDDED,
    role: Annotated[
        Role,
        typer.Option(
            help="With --store redis://: 'all' also sends SMS and runs playbooks (exactly one "
            "process per system; a second one is refused), 'api' serves HTTP only (any number)."
        ),
    ] = Role.all,
    prefix: Annotated[
        str, typer.Option(help="Redis key prefix (the same as the workers' --prefix).")
    ] = "outage",
    max_clock_skew: Annotated[
        float,
        typer.Option(
            help="Seconds a signal's ts may be ahead of this service's clock (0: no limit).",
            min=0,
        ),
    ] = DEFAULT_CLOCK.max_ahead_s or 0,
    max_signal_age: Annotated[
        float,
        typer.Option(
            help="Days a signal's ts may be behind this service's clock (0: no limit).", min=0
        ),
    ] = (DEFAULT_CLOCK.max_age_s or 0) / DAY,
    etr_horizon: Annotated[
        float,
        typer.Option(help="Days an officer's ETR may be after the command (0: no limit).", min=0),
    ] = (DEFAULT_CLOCK.etr_horizon_s or 0) / DAY,
    tick_seconds: Annotated[
        float,
        typer.Option(
            help="Post a clock tick this often while no signal moves event time on, so SLA "
            "escalations and ETR updates happen on time on a quiet night (0: never; replays of "
            "storms on a fixed past date want 0).",
            min=0,
        ),
    ] = 30.0,
    migrate_topology: Annotated[
        bool,
        typer.Option(
            help="Replay a journal written against another topology onto this one (refused "
            "otherwise), writing STATE_DIR/topology-migration-*.jsonl: every message that no "
            "longer applies."
        ),
    ] = False,
) -> None:
    """Run the HTTP service: intake, duty officer, IVR, SMS, playbooks, live events, metrics."""
    started = time.perf_counter()
    redis_store = store != EMBEDDED
    if not redis_store and role is not Role.all:
        fail("--role api needs --store redis://...: the embedded store runs everything here", 2)
    if redis_store and (crews or etr_history):
        fail("--crews and --etr-history go to `outage worker` with --store redis://...", 2)
    services: AnyServices | None = None
    try:
        # Before anything in the state dir is opened: one process per state dir (the lock is
        # held until this process exits, however it exits).
        StateDirLock(state_dir).acquire()
        with err.status(f"loading {topology} and recovering {state_dir}"):
            network = Network.load(topology, customers)
            if not redis_store:
                services = compose(
                    network,
                    state_dir=state_dir,
                    rules=rules,
                    playbook_paths=playbooks,
                    notify_config=notify_config,
                    tz=timezone,
                    migrate_topology=migrate_topology,
                    restoration=RestorationSetup.load(crews, etr_history),
                )
                runtime: ServiceRuntime = services.runtime
                _report_recovery(services.runtime, state_dir)
            else:
                runtime, services = _redis(
                    network, store, prefix, role, state_dir, rules, playbooks, notify_config,
                    timezone,
                )  # fmt: skip
            warm(network)
        ring, admin_key = key_ring(keys, state_dir)
        session_secret = secret_file(state_dir)
    except (GridError, OutageError, NotifyError, PlaybookError) as exc:
        fail(str(exc))
    settings = ServiceSettings(
        keys=keys,
        twilio_auth_token=os.environ.get("OUTAGE_TWILIO_AUTH_TOKEN") or None,
        public_url=public_url,
        timezone=timezone,
        max_batch=max_batch,
        dashboard_dir=dashboard_dir(),
        clock=ClockPolicy(
            max_ahead_s=max_clock_skew or None,
            max_age_s=max_signal_age * DAY or None,
            etr_horizon_s=etr_horizon * DAY or None,
        ),
        session_secret=SecretStr(session_secret.hex()),
    )
    app = create_app(runtime, settings, ring, services)
    try:
        if services is not None:
            services.start()  # Redis store: waits for the effects lease (refused if held)
        runtime.start()  # Redis store: tail the global event feed into the SSE stream
    except OutageError as exc:
        fail(str(exc))
    if redis_store:
        err.print(
            f"[bold]ready[/] in {time.perf_counter() - started:.1f} s: "
            f"{len(network.topology.premise_ids):,} premises, Redis at {_where(store)} "
            f"(prefix {prefix!r}), role {role.value}"
            + (f", {len(services.runner.entries)} playbooks" if services is not None else "")
        )
    else:
        assert services is not None
        err.print(
            f"[bold]ready[/] in {time.perf_counter() - started:.1f} s: "
            f"{len(network.topology.premise_ids):,} premises, "
            f"{runtime.host.recovered_messages:,} journaled messages replayed, "
            f"{len(services.runner.entries)} playbooks"
        )
    if admin_key is not None:
        err.print(f"no --keys file: an admin key was written to {admin_key} (mode 600)")
    ticker = WallTicker(runtime, tick_seconds) if tick_seconds > 0 else None
    if ticker is not None:
        ticker.start()

    def ready() -> None:
        err.print(
            f"[bold green]listening[/] on http://{host}:{port}  (dashboard: /, API docs: /docs)"
        )
        sys.stderr.flush()

    try:
        serve_forever(app, host, port, ready)
    finally:
        if ticker is not None:
            ticker.stop()
        if services is not None:
            services.stop()
        runtime.close()


def _report_recovery(runtime: Runtime, state_dir: Path) -> None:
    """Say on stderr what the journal's replay quarantined, and write the topology
    migration's report (every message that no longer applies) when there was one."""
    quarantined = runtime.host.quarantined
    if quarantined:
        first = quarantined[0]
        err.print(
            f"[bold yellow]quarantined[/] {len(quarantined):,} journaled messages the engine "
            f"cannot apply (never retried; GET /v1/quarantine lists them), first: message "
            f"{first['seq']} {first['id']!r}: {first['reason']}",
            soft_wrap=True,
        )
    migration = runtime.migration
    if migration is not None:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        path = state_dir / f"topology-migration-{stamp}.jsonl"
        migration.write(path)
        err.print(
            f"[bold yellow]migrated[/] the journal from topology {migration.old} to "
            f"{migration.new}: {migration.replayed:,} messages replayed, "
            f"{len(migration.lost):,} no longer apply (each listed in {path})",
            soft_wrap=True,
        )


def _where(url: str) -> str:
    """HOST:PORT of a store URL (never its password)."""
    parsed = urlparse(url)
    return f"{parsed.hostname}:{parsed.port or 6379}"


def _redis(
    network: Network,
    store: str,
    prefix: str,
    role: Role,
    state_dir: Path,
    rules: Path | None,
    playbooks: list[Path] | None,
    notify_config: Path | None,
    timezone: str,
) -> tuple[ServiceRuntime, Services[RedisRuntime] | None]:
    """The runtime over Redis, with notify and playbooks when ``role`` is all."""
    from outage.redisstore.connect import connect
    from outage.redisstore.keys import Keyspace
    from outage.redisstore.service import RedisRuntime

    client = connect(store)
    keys = Keyspace(prefix)
    if role is Role.api:
        return RedisRuntime(network, client, rules=load_rules(rules), tz=timezone, keys=keys), None
    services = compose_redis(
        network,
        client,
        keys=keys,
        state_dir=state_dir,
        rules=rules,
        playbook_paths=playbooks,
        notify_config=notify_config,
        tz=timezone,
    )
    return services.runtime, services


def dashboard_dir() -> Path | None:
    """The dashboard's static files (None when they are not installed)."""
    here = Path(__file__).resolve().parent.parent / "dashboard"
    return here if (here / "index.html").exists() else None
