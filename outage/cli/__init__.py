"""The ``outage`` command line: one Typer app, a sub-app per area."""

from __future__ import annotations

import typer

from outage.cli import (
    demo,
    etr,
    keys,
    playbooks,
    replay,
    rules,
    serve,
    simulate,
    staffing,
    topology,
    worker,
)

app = typer.Typer(
    name="outage",
    help="Outage-aware emergency response engine for utility customer hotlines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(topology.app, name="topology")
app.add_typer(playbooks.app, name="playbooks")
app.add_typer(etr.app, name="etr")
app.add_typer(rules.app, name="rules")
app.command()(demo.demo)
app.command()(replay.replay)
app.command()(simulate.simulate)
app.command()(staffing.staffing)
app.command()(serve.serve)
app.add_typer(keys.app, name="keys")
app.command()(worker.worker)


def main() -> None:
    """Console-script entry point."""
    app()
