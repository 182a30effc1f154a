"""``outage rules``: the inference's rules — print the defaults, fit them to a history.

``outage rules fit`` replays a history of signals (EVENTS.jsonl, as ``outage replay`` takes)
through the engine, picks the outages crews, SCADA or officers restored (`outage.history_fit`)
and fits the evidence model to them (`outage.inference.fit`): the call-in share, the call
delay and the last-gasp delivery. It writes a complete rules YAML — the base rules with those
fields replaced — for ``outage serve --rules`` and ``outage replay --rules``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Annotated

import typer
import yaml

from grid.errors import GridError
from outage.bootstrap import Network, build_engine
from outage.cli.output import emit_json, err, fail
from outage.cli.replay import feed_file
from outage.errors import OutageError
from outage.history_fit import confirmed_outages
from outage.host import EngineHost, Message
from outage.inference.fit import fit_model
from outage.registry import seconds
from outage.rules import dump_default_rules, load_rules
from outage.signals import MeterSignal

app = typer.Typer(
    help="Inference rules: print the defaults, fit them to a history.", no_args_is_help=True
)


@app.command("defaults")
def defaults() -> None:
    """Print the default rules as YAML (every field, with its default)."""
    typer.echo(dump_default_rules(), nl=False)


@app.command("fit")
def fit(
    events: Annotated[
        Path, typer.Argument(help="JSONL file: one signal per line.", show_default=False)
    ],
    topology: Annotated[Path, typer.Option(help="Topology GeoPackage.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Where to write the rules YAML.")],
    customers: Annotated[
        Path | None, typer.Option(help="customers.csv (default: beside the GeoPackage).")
    ] = None,
    rules: Annotated[
        Path | None, typer.Option(help="The rules the fit starts from (default: the defaults).")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Stop at the first malformed line.")] = False,
) -> None:
    """Fit the call share, call delay and last-gasp delivery to a replayed history."""
    if not events.is_file():
        fail(f"{events}: no such file", 2)
    try:
        base = load_rules(rules)
        with err.status(f"loading {topology}"):
            network = Network.load(topology, customers)
        engine = build_engine(network, base)
    except (GridError, OutageError) as exc:
        fail(str(exc))
    topo = network.topology
    gasps: dict[int, list[int]] = defaultdict(list)
    metered: set[int] = set()

    def seen(message: Message) -> None:
        if isinstance(message, MeterSignal) and message.premise in topo.premise_index:
            premise = topo.premise_index[message.premise]
            metered.add(topo.transformer_feeder[topo.premise_transformer[premise]])
            if message.event == "last_gasp":
                gasps[premise].append(seconds(message.ts))

    accepted, _, malformed = feed_file(EngineHost(engine, None), events, strict, seen)
    samples = confirmed_outages(engine, gasps, metered)
    if not samples:
        fail(f"{events}: no outage restored by a crew, SCADA or an officer to fit to")
    fitted = fit_model(samples, base.inference)
    result = base.model_copy(update={"inference": fitted.model})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        yaml.safe_dump(result.model_dump(mode="json"), sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    model = fitted.model
    err.print(f"[green]wrote[/] {out}: fit to {len(samples)} confirmed outages")
    emit_json(
        {
            "out": str(out),
            "signals": accepted,
            "malformed": len(malformed),
            "confirmed_outages": len(samples),
            "call_share": model.call_share.model_dump() | {"fit_from_outages": fitted.outages},
            "call_delay": model.call_delay.model_dump() | {"fit_from_calls": fitted.delays},
            "last_gasp": {
                "delivery": model.last_gasp_delivery,
                "concentration": model.last_gasp_concentration,
                "fit_from_outages": fitted.metered_outages,
            },
        }
    )
