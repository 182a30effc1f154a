"""``outage playbooks``: validate playbook files, and drill them on a storm with a review."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from grid.errors import GridError
from outage.bootstrap import Network
from outage.cli.output import emit_json, err, fail, progress_bar
from outage.errors import OutageError, SignalError
from outage.host import Message
from outage.rules import load_rules
from outage.signals import parse_signal
from playbooks.drill import run_drill, simulated_storm
from playbooks.errors import PlaybookError
from playbooks.loader import LIBRARY, load_playbooks, playbook_files
from playbooks.report import write_review

app = typer.Typer(help="Contingency playbooks: validate, drill.", no_args_is_help=True)


@app.command()
def validate(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Playbook files or folders (default: the shipped library)."),
    ] = None,
) -> None:
    """Check playbook files; errors name file, line and field (exit 1)."""
    paths = files or [LIBRARY]
    try:
        loaded = load_playbooks(paths)
    except PlaybookError as exc:
        fail(str(exc))
    emit_json(
        {
            "valid": [
                {
                    "id": p.playbook.id,
                    "file": str(p.path),
                    "mode": p.playbook.activation.mode,
                    "when": p.playbook.when.kind,
                    "then": [s.name for s in p.playbook.then],
                }
                for p in loaded
            ]
        }
    )


@app.command()
def drill(
    playbook: Annotated[Path, typer.Argument(help="A playbook file or a folder of them.")],
    topology: Annotated[Path, typer.Option(help="Topology GeoPackage.")],
    out: Annotated[Path, typer.Option(help="Folder for review.html, review.json and the chart.")],
    events: Annotated[
        Path | None, typer.Option(help="Signals JSONL to replay (as for `outage replay`).")
    ] = None,
    simulate: Annotated[bool, typer.Option(help="Simulate a storm instead.")] = False,
    seed: Annotated[int, typer.Option(help="Storm seed (with --simulate).")] = 7,
    faults: Annotated[int, typer.Option(help="Faults (with --simulate).", min=1)] = 25,
    warning: Annotated[
        bool, typer.Option(help="The simulated storm starts with a typhoon warning.")
    ] = True,
    rules: Annotated[Path | None, typer.Option(help="Prediction/storm rules YAML.")] = None,
    tail_hours: Annotated[
        float, typer.Option(help="Keep the clock running this long after the last event.", min=0)
    ] = 3.0,
) -> None:
    """Run playbooks on a replayed or simulated storm, every channel recording; write a review."""
    if (events is None) == (not simulate):
        fail("give exactly one of --events FILE or --simulate", code=2)
    try:
        loaded = load_playbooks(playbook_files([playbook]))
        with err.status(f"loading {topology}"):
            network = Network.load(topology)
        rule_set = load_rules(rules)
    except (PlaybookError, GridError, OutageError) as exc:
        fail(str(exc))
    if events is not None:
        signals = _read_signals(events)
    else:
        with progress_bar("simulating the storm", faults) as update:
            signals = simulated_storm(
                network, faults=faults, seed=seed, warning=warning, on_progress=update
            )
    with progress_bar("drilling playbooks (signals)", len(signals)) as update:
        result = run_drill(
            loaded, network, signals, rules=rule_set, tail=timedelta(hours=tail_hours),
            on_progress=update,
        )  # fmt: skip
    paths = write_review(result, out)
    emit_json(
        {
            "out": str(out),
            "review": str(paths["html"]),
            "chart": str(paths["chart"]),
            "json": str(paths["json"]),
            "signals": result.signals,
            "activations": [
                {"playbook": r.playbook, "at": r.at.isoformat(), "by": r.by}
                for r in result.activations()
            ],
            "messages": len(result.sent),
        }
    )


def _read_signals(path: Path) -> list[Message]:
    if not path.is_file():
        fail(f"{path}: no such file", 2)  # a bad argument, as the README says
    signals: list[Message] = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                signals.append(parse_signal(line, where=f"{path}:{number}"))
            except SignalError as exc:
                fail(str(exc))
    return signals
