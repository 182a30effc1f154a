"""Options more than one command takes, defined once so their help reads the same."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

#: ``--crews``: the crew roster the restoration desk starts from.
CrewsOption = Annotated[
    Path | None,
    typer.Option(
        "--crews",
        help="Crew roster YAML (ids, skills, depot lon/lat, shift); without one, crews are "
        "whoever is dispatched.",
    ),
]
#: ``--etr-history``: the restoration-time history automatic ETRs are estimated from.
EtrHistoryOption = Annotated[
    Path | None,
    typer.Option(
        "--etr-history",
        help="Restoration-time history YAML (from `outage etr fit`; default: the shipped table).",
    ),
]
