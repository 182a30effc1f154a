"""``outage staffing``: Erlang C agents and rostered positions for a service-level target."""

from __future__ import annotations

from typing import Annotated

import typer

from outage.cli.output import emit_json, fail
from playbooks.erlang import required_staff
from playbooks.errors import StaffingError


def staffing(
    calls: Annotated[float, typer.Option(help="Calls expected in the interval.")],
    interval_s: Annotated[float, typer.Option(help="Interval length, seconds (e.g. 1800).")],
    aht_s: Annotated[float, typer.Option(help="Average handling time, seconds.")],
    target_sl: Annotated[
        float, typer.Option(help="Service-level target: share answered in time.")
    ] = 0.8,
    target_answer_s: Annotated[
        float, typer.Option(help="Service-level target answer time, seconds.")
    ] = 20.0,
    max_occupancy: Annotated[float, typer.Option(help="Highest agent occupancy allowed.")] = 0.85,
    shrinkage: Annotated[
        float, typer.Option(help="Share of rostered time not on calls (breaks, training).")
    ] = 0.3,
) -> None:
    """Agents needed (Erlang C) and positions to roster after shrinkage, as JSON."""
    try:
        result = required_staff(
            calls,
            interval_s,
            aht_s,
            target_sl=target_sl,
            target_answer_s=target_answer_s,
            max_occupancy=max_occupancy,
            shrinkage=shrinkage,
        )
    except StaffingError as exc:
        option = "--" + exc.field.replace("_", "-")
        fail(str(exc).replace(exc.field, option, 1) if exc.field else str(exc), code=2)
    emit_json(result.as_json())
