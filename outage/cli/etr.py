"""``outage etr fit``: a restoration-time history fit from a journal's closed work orders.

The engine estimates ETRs from a table of log-normal restoration durations by device kind,
cause, time of day and weather (``outage/restoration/default_history.yaml``). This command
reads the ``WorkOrderClosed`` events a running service journaled, fits the table to them
(each cell shrunk towards its parent, so a few orders move it a little and many move it to
the data) and writes a YAML file for ``outage serve --etr-history``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import typer

from outage.cli.output import emit_json, err, fail, progress_bar
from outage.errors import OutageError
from outage.journal import SqliteJournal
from outage.restoration.history import MEASURES, RepairHistory, fit, restorations

app = typer.Typer(help="Automatic ETRs: fit the restoration-time history.", no_args_is_help=True)
PAGE = 10_000


@app.command("fit")
def fit_history(
    out: Annotated[Path, typer.Option("-o", "--out", help="Where to write the history YAML.")],
    state_dir: Annotated[
        Path | None,
        typer.Option(help="A service's state dir (its journal.sqlite is read)."),
    ] = None,
    journal: Annotated[
        Path | None, typer.Option(help="A journal file (instead of --state-dir).")
    ] = None,
    base: Annotated[
        Path | None,
        typer.Option(help="The history the fit starts from (default: the shipped table)."),
    ] = None,
    timezone: Annotated[
        str, typer.Option(help="The utility's time zone (time-of-day periods).")
    ] = "Asia/Shanghai",
) -> None:
    """Fit restoration, dispatch, travel and calibration times to the journal's work orders."""
    if (state_dir is None) == (journal is None):
        fail("give exactly one of --state-dir and --journal", 2)
    path = journal if journal is not None else state_dir / "journal.sqlite"  # type: ignore[operator]
    if not path.is_file():
        fail(f"{path}: no such journal", 2)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--timezone: unknown time zone {timezone!r}", 2)
    try:
        prior = RepairHistory.load(base)
        store = SqliteJournal(path)
    except OutageError as exc:
        fail(str(exc))
    try:
        total = store.last_event_seq()
        closed: list[dict[str, object]] = []
        with progress_bar(f"reading {path.name} (events)", total) as update:
            after = 0
            while rows := store.events(after, PAGE):
                for seq, kind, body in rows:
                    if kind == "WorkOrderClosed":
                        closed.append(orjson.loads(body) | {"type": kind})
                    after = seq
                update(after)
    finally:
        store.close()
    records = restorations(closed, zone)
    if not records:
        fail(f"{path}: no restored work orders to fit (closed orders: {len(closed)})")
    fitted = fit(records, prior, source=f"{len(records)} work orders from {path}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(fitted.dump(), encoding="utf-8")
    counts = {m: sum(1 for r in records if r.value(m) is not None) for m in MEASURES}
    err.print(f"[green]wrote[/] {out}: {len(records)} restored work orders of {len(closed)} closed")
    emit_json({"out": str(out), "work_orders": len(records), "closed": len(closed)} | counts)
