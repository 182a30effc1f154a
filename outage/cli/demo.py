"""``outage demo``: the main job — a storm played through the whole service, live.

Loads the committed demo city, simulates a typhoon storm on it (a warning, faults, thousands of
calls with repeat callers, meter last gasps, hazards, a nested outage, restorations), starts the
service on the embedded store with notify and the shipped playbooks, and plays the storm at
accelerated speed while the dashboard is live. IVR lookups go through the real HTTP endpoint;
the demo's duty officer confirms playbook proposals and gives ETRs. At the end: a summary on
the terminal and a short HTML report with charts in ``out/``. ``--no-serve`` plays as fast as
possible without the HTTP service and exits after the summary.
"""

from __future__ import annotations

import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import typer
from rich.table import Table

from grid.errors import GridError
from outage.api.app import create_app
from outage.api.clock import ClockPolicy
from outage.api.compose import Services, compose
from outage.api.runtime import Runtime
from outage.api.serve import Server, key_ring, warm
from outage.api.settings import ServiceSettings
from outage.api.statelock import StateDirLock
from outage.bootstrap import Network
from outage.cli.output import err, fail, progress_bar
from outage.cli.serve import dashboard_dir
from outage.errors import OutageError
from outage.incidents import Status
from outage.report.demo_report import sms_chart, staffing_chart, storm_chart, write_html
from outage.report.evaluate import accuracy
from outage.report.outage_map import draw_outages
from outage.report.topology_map import draw_topology
from outage.signals import parse_signal, signal_ts
from outage.storm import SYSTEM
from scenarios.city_storm import CityStorm, simulate_storm
from scenarios.player import PlayReport, StormPlayer, summary_of

DEMO_TOPOLOGY = Path("data/topology/demo.gpkg")


def demo(
    topology: Annotated[Path, typer.Option(help="Topology GeoPackage to use.")] = DEMO_TOPOLOGY,
    out: Annotated[Path, typer.Option(help="Folder for the report files.")] = Path("out"),
    faults: Annotated[int, typer.Option(help="Faults in the simulated storm.", min=1)] = 40,
    seed: Annotated[int, typer.Option(help="Storm seed.")] = 7,
    serve: Annotated[
        bool, typer.Option(help="Run the HTTP service and dashboard while the storm plays.")
    ] = True,
    host: Annotated[str, typer.Option(help="Address the dashboard listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the dashboard listens on.", min=1)] = 8000,
    minutes: Annotated[
        float, typer.Option(help="Wall-clock length of the storm replay when serving.", min=0.1)
    ] = 2.0,
    linger: Annotated[
        bool | None,
        typer.Option(help="Keep serving after the summary (default: when run from a terminal)."),
    ] = None,
    timezone: Annotated[
        str, typer.Option(help="The utility's time zone: every time a person reads is in it.")
    ] = "Asia/Shanghai",
) -> None:
    """Play a typhoon storm through the live service; summary and HTML report in out/."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--timezone: unknown time zone {timezone!r} (e.g. Asia/Shanghai)", 2)
    try:
        started = time.perf_counter()
        with err.status(f"loading {topology}"):
            network = Network.load(topology)
            warm(network)
    except GridError as exc:
        fail(str(exc))
    err.print(
        f"[bold]network[/] {topology}: {len(network.topology.premise_ids):,} premises, "
        f"{len(network.topology.feeder_ids)} feeders, "
        f"loaded in {time.perf_counter() - started:.1f} s"
    )
    out.mkdir(parents=True, exist_ok=True)
    draw_topology(network.tables, out / "demo-topology.png", title="Demo city")

    # The storm starts now, so what the service says (ETRs, SMS times) reads naturally.
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    with progress_bar(f"simulating {faults} faults", faults) as update:
        storm = simulate_storm(
            network.topology,
            network.tables.customers,
            CityStorm(
                faults=faults, seed=seed, start=start, call_rate=0.35, nested=0.1, warning=True
            ),
            premise_xy=network.tables.premise_points(),
            on_progress=update,
        )
    lifted = _lift_warning(storm.signals, storm.truth)
    signals = [parse_signal(s) for s in storm.signals]
    counts = fault_counts(storm.truth)
    err.print(
        f"[bold]storm[/] {counts['simulated']} faults: the {counts['asked']} asked for and "
        f"{counts['nested']} nested inside them (each restored on its own); "
        f"{len(signals):,} signals; the typhoon warning is lifted at {_local(lifted, zone)}"
    )
    state_dir = out / "demo"
    try:  # one demo per out/ folder: a second one would wipe the first one's journal
        StateDirLock(out / "demo-lock").acquire()
    except OutageError as exc:
        fail(str(exc))
    shutil.rmtree(state_dir, ignore_errors=True)  # every demo starts from a clean journal
    services = compose(network, state_dir=state_dir, clock="event", tz=timezone)
    services.start(sender=False)  # SMS go out on event time, driven by the player
    server, url, key = None, None, None
    if serve:
        ring, key_file = key_ring(None, state_dir)
        assert key_file is not None
        key = key_file.read_text().strip()
        # The storm plays hours of event time in minutes, ahead of the wall clock: what
        # arrives over HTTP (the IVR keypad, the dashboard's officer) is judged against the
        # storm's clock, with the skew the accelerated replay runs ahead by between batches.
        settings = ServiceSettings(
            dashboard_dir=dashboard_dir(),
            timezone=timezone,
            clock=ClockPolicy(max_ahead_s=3600.0),
        )
        app = create_app(services.runtime, settings, ring, services)
        server = Server(app, host, port)
        try:
            server.start()
        except RuntimeError as exc:
            services.stop()
            fail(f"{exc}; try --port with another number, or --no-serve")
        url = f"http://{host}:{port}"
        err.print(
            f"[bold green]dashboard[/] {url}/  — sign in with the key in {key_file}  "
            f"(API docs: {url}/docs)"
        )
    span = (signal_ts(signals[-1]) - signal_ts(signals[0])).total_seconds()
    speed = span / (minutes * 60) if serve else None
    player = StormPlayer(services, signals, speed=speed, base_url=url, key=key)
    peak: dict[str, Any] = {"out": 0, "state": None}

    with progress_bar("playing the storm", len(signals)) as update:

        def progress(done: int, total: int, now: datetime) -> None:
            update(done)
            latest = player.report.samples[-1].customers_out if player.report.samples else 0
            if latest > peak["out"]:  # keep the storm at its worst for the map
                peak["out"], peak["state"] = latest, services.runtime.state()

        report = player.play(progress)
    # The storm's last signal is not its end: the scopes and playbooks stand down by
    # themselves once event time has run on quietly for long enough.
    with progress_bar("after the storm: standing down", None) as update:
        quiet = player.after_the_storm(lambda n, total, now: update(n, total))
        update(len(quiet), len(quiet) or 1)
    queued = services.sms_counts().get("pending", 0)
    if queued:
        with progress_bar("sending the SMS queue", queued) as update:
            held = player.drain_sms(lambda done, total: update(done, total))
        if held:
            err.print(f"[bold]SMS[/] {held:,} held for quiet hours, sent when they end")
    else:
        player.drain_sms()
        err.print("[bold]SMS[/] queue empty: every text went out as the storm played")
    state = services.runtime.state()
    (out / "demo-state.json").write_bytes(orjson.dumps(state, option=orjson.OPT_INDENT_2))
    figures = summary_of(services, report)
    paths = _report(out, network, services, report, state, peak, figures, storm.truth, zone)
    _summary(state, storm.truth, report, figures, zone)
    err.print(
        f"[bold green]report:[/] {paths['html']}  [bold green]state:[/] {out / 'demo-state.json'}"
    )
    err.print(
        f"[bold green]SMS outbox:[/] {services.sms_outbox}  [bold green]journal:[/] {state_dir}"
    )
    try:
        if server is not None and (linger if linger is not None else sys.stdin.isatty()):
            err.print(f"[bold]the dashboard stays live at {url}/ — Ctrl-C to stop[/]")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.stop()
        services.stop()


def _lift_warning(signals: list[dict[str, Any]], truth: dict[str, Any]) -> datetime:
    """Give the simulated typhoon warning an end: an hour after the storm's last fault, as a
    real warning is lifted once the typhoon has passed. (The simulator issues it open-ended,
    and a warning without an end stays in force for the playbook's default twelve hours.)"""
    last_fault = max(datetime.fromisoformat(f["start"]) for f in truth["faults"])
    lifted = last_fault + timedelta(hours=1)
    for signal in signals:
        if signal["type"] == "warning" and not signal.get("until"):
            signal["until"] = lifted.isoformat()
    return lifted


def fault_counts(truth: dict[str, Any]) -> dict[str, int]:
    """One count of faults, explained: those asked for, the nested ones the simulator adds
    inside them (a fuse blown under a breaker that trips), and how many drew calls or meter
    reports at all (a fault nobody reports cannot be found)."""
    faults = truth["faults"]
    nested = sum(1 for f in faults if f.get("parent_fault"))
    return {
        "simulated": len(faults),
        "asked": len(faults) - nested,
        "nested": nested,
        "reported": sum(1 for f in faults if f["calls"]),
    }


def _local(ts: datetime | str | None, zone: ZoneInfo, *, day: bool = False) -> str:
    """A time as a person reads it: the utility's zone, 24-hour."""
    if ts is None:
        return "–"
    at = datetime.fromisoformat(ts.replace("Z", "+00:00")) if isinstance(ts, str) else ts
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M" if day else "%H:%M")


def _report(
    out: Path,
    network: Network,
    services: Services[Runtime],
    report: PlayReport,
    state: dict[str, Any],
    peak: dict[str, Any],
    figures: dict[str, Any],
    truth: dict[str, Any],
    zone: ZoneInfo,
) -> dict[str, Path]:
    at_peak = peak["state"] or state
    outage_map = draw_outages(
        network.tables,
        network.topology,
        at_peak,
        out / "demo-outages.png",
        title=f"Storm at its peak: {peak['out']:,} customers out, "
        f"{at_peak['calls_received']:,} calls so far",
    )
    detector = services.runtime.engine.storm
    baseline = [
        detector.config.baseline_calls_per_hour_per_10k[h]
        * detector.scopes[SYSTEM].customers_served
        / 10_000
        for h in range(24)
    ]
    storm_png = storm_chart(
        report, services.runtime.call_minutes, baseline, out / "demo-storm.png", zone=zone
    )
    staffing_png = staffing_chart(figures["staffing"], out / "demo-staffing.png", zone=zone)
    sms_png = sms_chart(figures["sms_by_kind"], out / "demo-sms.png")
    score = accuracy(state, truth)
    incidents = [i for i in state["incidents"] if i["status"] != Status.CANCELLED]
    counts = fault_counts(truth)
    by_id = {i["id"]: i for i in state["incidents"]}
    merged = {m["id"]: m["into"] for m in state["merged"]}
    premises = network.tables.premises
    addresses = dict(zip(premises["id"], premises["address"], strict=True))

    def survivor(incident: str | None) -> str | None:
        """The incident a merged one lives on in (its calls and hazards went there)."""
        while incident in merged:
            incident = merged[incident]
        return incident

    html = write_html(
        out / "demo-report.html",
        subtitle=f"{counts['simulated']} faults ({counts['asked']} asked for + "
        f"{counts['nested']} nested), {report.signals:,} signals played in "
        f"{report.seconds:.0f} s on the demo city ({len(network.topology.premise_ids):,} "
        f"premises); times in {zone.key}",
        figures=_figure_rows(state, score, figures, truth, zone),
        outage_map=outage_map.name,
        topology_map="demo-topology.png",
        storm_chart=storm_png.name,
        staffing_chart=staffing_png.name if staffing_png else None,
        staffing_words=staffing_in_words(figures["staffing"], zone),
        sms_chart=sms_png.name if sms_png else None,
        largest=[
            i | {"etr_local": _local(i["etr"], zone)}
            for i in sorted(incidents, key=lambda i: -i["customers_affected"])[:10]
        ],
        hazards=[
            t
            | {
                "at_local": _local(t["at"], zone),
                "where": addresses.get(t["premise"]) or t["premise"],
                "incident": survivor(t["incident"]),
                "status": by_id.get(survivor(t["incident"]) or "", {}),
            }
            for t in state["tickets"]
            if t.get("priority") == "high"
        ],
        etrs=[
            {
                "incident": incident,
                "given": _local(given, zone),
                "etr": _local(etr, zone),
                "restored": _local(by_id.get(incident, {}).get("restored"), zone),
                "kept": _kept(etr, by_id.get(incident, {}).get("restored")),
            }
            for incident, etr, given in report.etr_log
        ],
        playbooks=[p | {"at_local": _local(p["at"], zone)} for p in figures["playbooks_fired"]],
        stood_down=[p | {"at_local": _local(p["at"], zone)} for p in figures["stood_down"]],
    )
    return {"html": html}


def _kept(etr: datetime, restored: str | None) -> str:
    if restored is None:
        return "still out"
    back = datetime.fromisoformat(restored.replace("Z", "+00:00"))
    minutes = round((back - etr).total_seconds() / 60)
    return "kept" if minutes <= 0 else f"{minutes} min late"


def staffing_in_words(staffing: list[dict[str, Any]], zone: ZoneInfo) -> str:
    """The staffing gap at the storm's busiest evaluation, as a sentence."""
    if not staffing:
        return "No staffing playbook ran."
    worst = max(staffing, key=lambda s: s["positions"])
    there = worst["on_shift"] + worst["called_in"]
    gap = worst["positions"] - there
    said = (
        f"At the busiest moment ({_local(worst['at'], zone)}) the hotline needed "
        f"{worst['positions']:,} positions (Erlang C, {worst['forecast_calls']:,.0f} calls "
        f"forecast per {worst['interval_minutes']:g} minutes); {there:,} were there "
        f"({worst['on_shift']} on shift + {worst['called_in']} called in from standby)"
    )
    if gap > 0:
        return (
            f"{said}: short by {gap:,}. The standby roster ran out — more staff must come "
            "from elsewhere (other call centres, overflow to the IVR and SMS)."
        )
    return f"{said}: covered."


def _figure_rows(
    state: dict[str, Any],
    score: dict[str, Any],
    figures: dict[str, Any],
    truth: dict[str, Any],
    zone: ZoneInfo,
) -> list[tuple[str, str]]:
    incidents = [i for i in state["incidents"] if i["status"] != Status.CANCELLED]
    hazards = sum(1 for t in state["tickets"] if t.get("priority") == "high")
    sms = figures["sms"]
    staffing = figures["staffing"]
    peak_positions = max((s["positions"] for s in staffing), default=0)
    indices = state["indices"]
    counts = fault_counts(truth)
    exact = round(score["exact_share"] * score["faults_with_calls"])
    restored = sum(1 for i in incidents if i["status"] in (Status.RESTORED, Status.CLOSED))
    worst = max(staffing, key=lambda s: s["positions"], default=None)
    storm = state["storm"]
    stood = [h for h in storm["history"] if h["scope"] == SYSTEM and h["stood_down"]]
    routine = figures["routine_calls"]
    routine = f" ({routine} of them routine, after the storm)" if routine else ""
    return [
        (
            "faults simulated",
            f"{counts['simulated']} ({counts['asked']} asked for + {counts['nested']} nested "
            f"inside them); {counts['reported']} drew calls or meter reports",
        ),
        ("calls received", f"{state['calls_received']:,}" + routine),
        (
            "tickets created (incidents)",
            f"{len(state['incidents']):,} ({restored:,} restored by the end"
            + (
                f", {figures['patrolled']} cancelled after a patrol found power on)"
                if figures["patrolled"]
                else ")"
            ),
        ),
        ("duplicate calls suppressed", f"{state['suppressed_calls']:,}"),
        ("hazard tickets", f"{hazards:,}"),
        (
            "faults found at the true device",
            f"{exact} of the {score['faults_with_calls']} reported ({score['exact_share']:.0%})",
        ),
        (
            "IVR lookups answered",
            f"{figures['ivr_lookups']:,} ({figures['ivr_known']:,} told of a known outage)",
        ),
        (
            "SMS decided / sent",
            f"{sms.get('decided', 0):,} / {sms.get('sent', 0) + sms.get('delivered', 0):,}"
            + (f"; {figures['sms_held']:,} held for quiet hours" if figures["sms_held"] else "")
            + (
                f"; {sms['superseded']:,} superseded (power back before they went)"
                if sms.get("superseded")
                else ""
            ),
        ),
        (
            "playbooks fired",
            f"{len(figures['playbooks_fired'])} ({figures['playbooks_proposed']} proposed); "
            f"{len(figures['stood_down'])} stood down by themselves",
        ),
        ("standby agents paged", f"{figures['pages']}"),
        (
            "peak positions needed (Erlang C)",
            f"{peak_positions}"
            + (
                f" with {worst['on_shift'] + worst['called_in']} there "
                f"({worst['on_shift']} on shift + {worst['called_in']} called in)"
                if worst
                else ""
            ),
        ),
        ("staffing curve (positions, hourly max)", _sparkline(staffing, zone)),
        ("ETRs given by the officer", f"{figures['etrs_given']}"),
        (
            "storm declared",
            (_local(storm["at"], zone, day=True) if storm["at"] else "no")
            + (f", stood down {_local(stood[-1]['stood_down'], zone)}" if stood else ""),
        ),
        (
            "CMI / SAIDI / SAIFI",
            f"{indices['cmi']:,.0f} / {indices['saidi']:.1f} min / {indices['saifi']:.3f}",
        ),
    ]


def _sparkline(staffing: list[dict[str, Any]], zone: ZoneInfo) -> str:
    """Positions needed per local hour as a row of block characters (the report has the
    chart)."""
    hourly: dict[str, int] = {}
    for row in staffing:
        hour = _local(row["at"], zone, day=True)[:13]  # YYYY-MM-DD HH, local
        hourly[hour] = max(hourly.get(hour, 0), row["positions"])
    if not hourly:
        return "-"
    top = max(hourly.values()) or 1
    blocks = "▁▂▃▄▅▆▇█"
    hours = sorted(hourly)
    line = "".join(blocks[min(7, round(hourly[h] / top * 7))] for h in hours)
    return f"{hours[0][11:13]}h {line} {hours[-1][11:13]}h (max {top})"


def _summary(
    state: dict[str, Any],
    truth: dict[str, Any],
    report: PlayReport,
    figures: dict[str, Any],
    zone: ZoneInfo,
) -> None:
    score = accuracy(state, truth)
    table = Table(title=f"Storm summary (times in {zone.key})", show_header=False)
    table.add_row(
        "signals played",
        f"{report.signals:,} in {report.seconds:.1f} s ({report.signals / report.seconds:,.0f}/s)",
    )
    for name, value in _figure_rows(state, score, figures, truth, zone):
        table.add_row(name, value)
    err.print(table)
    err.print(staffing_in_words(figures["staffing"], zone))
    incidents = [i for i in state["incidents"] if i["status"] != Status.CANCELLED]
    biggest = sorted(incidents, key=lambda i: -i["customers_affected"])[:8]
    devices = Table(title="Largest outages")
    for column in ("incident", "device", "status", "customers", "calls", "suppressed", "ETR"):
        devices.add_column(column)
    for incident in biggest:
        devices.add_row(
            incident["id"],
            incident["device"],
            incident["status"],
            f"{incident['customers_affected']:,}",
            str(len(incident["calls"])),
            str(incident["suppressed"]),
            _local(incident["etr"], zone) if incident["etr"] else "",
        )
    err.print(devices)
