"""``outage replay``: run a JSONL file of signals through the engine and write STATE.json."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import orjson
import typer

from grid.errors import GridError
from outage.bootstrap import Network, build_engine, open_journal
from outage.cli.output import emit_json, err, fail, progress_bar
from outage.errors import OutageError, SignalError
from outage.host import EngineHost, Message
from outage.incidents import Status
from outage.signals import parse_signal
from outage.state import snapshot

BATCH = 2000


def replay(
    events: Annotated[
        Path, typer.Argument(help="JSONL file: one signal per line.", show_default=False)
    ],
    topology: Annotated[Path, typer.Option(help="Topology GeoPackage.")],
    out: Annotated[Path, typer.Option(help="Where to write STATE.json.")],
    customers: Annotated[
        Path | None, typer.Option(help="customers.csv (default: beside the GeoPackage).")
    ] = None,
    rules: Annotated[Path | None, typer.Option(help="Prediction/storm rules YAML.")] = None,
    journal: Annotated[
        Path | None,
        typer.Option(help="SQLite journal; an existing one is replayed first (crash recovery)."),
    ] = None,
    strict: Annotated[bool, typer.Option(help="Stop at the first malformed line.")] = False,
) -> None:
    """Replay EVENTS.jsonl through the engine; malformed lines are reported and skipped."""
    if not events.is_file():
        fail(f"{events}: no such file", 2)  # a bad argument, as the README says
    try:
        with err.status(f"loading {topology}"):
            network = Network.load(topology, customers)
        engine = build_engine(network, rules)
        with progress_bar("recovering journal") as recover:
            host = EngineHost(engine, open_journal(journal), on_progress=recover)
    except (GridError, OutageError) as exc:
        fail(str(exc))
    accepted, duplicates, malformed = feed_file(host, events, strict)
    state = snapshot(engine)
    state["malformed_lines"] = malformed
    state["replay"] = {
        "accepted": accepted,
        "duplicates": duplicates,
        "recovered": host.recovered_messages,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(state, option=orjson.OPT_INDENT_2))
    live = [i for i in state["incidents"] if i["status"] != Status.CANCELLED]
    emit_json(
        {
            "out": str(out),
            "signals_accepted": accepted,
            "duplicates": duplicates,
            "malformed": len(malformed),
            "incidents": len(live),
            "calls": state["calls_received"],
            "suppressed_calls": state["suppressed_calls"],
            "unresolved": len(state["unresolved"]),
            "storm": state["storm"]["at"],
        }
    )


def feed_file(
    host: EngineHost,
    events: Path,
    strict: bool,
    seen: Callable[[Message], None] | None = None,
) -> tuple[int, int, list[dict[str, object]]]:
    """Submit every signal of a JSONL file in batches, with a progress bar; malformed lines
    are reported and skipped (``strict``: the first one stops the command). ``seen`` is shown
    every parsed signal. Returns (accepted, duplicates, malformed)."""
    size = events.stat().st_size
    malformed: list[dict[str, object]] = []
    accepted = duplicates = 0
    with (
        events.open("rb") as lines,
        progress_bar(f"replaying {events.name} (bytes)", size) as update,
    ):
        batch: list[Message] = []
        done = 0
        for number, line in enumerate(lines, start=1):
            done += len(line)
            if not line.strip():
                continue
            try:
                message = parse_signal(line, where=f"{events}:{number}")
            except SignalError as exc:
                if strict:
                    fail(str(exc))
                err.print(f"[yellow]skipped[/] {exc}", highlight=False)
                malformed.append({"line": number, "error": exc.detail})
                continue
            batch.append(message)
            if seen is not None:
                seen(message)
            if len(batch) >= BATCH:
                accepted, duplicates = _submit(host, batch, accepted, duplicates, malformed)
                batch = []
                update(done)
        accepted, duplicates = _submit(host, batch, accepted, duplicates, malformed)
        host.finish()
        update(size)
    return accepted, duplicates, malformed


def _submit(
    host: EngineHost,
    batch: list[Message],
    accepted: int,
    duplicates: int,
    malformed: list[dict[str, object]],
) -> tuple[int, int]:
    result = host.submit(batch)
    malformed.extend({"id": r["id"], "error": r["error"]} for r in result.rejected)
    return accepted + len(result.accepted), duplicates + len(result.duplicates)
