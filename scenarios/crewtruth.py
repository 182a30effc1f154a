"""The crew world's part of the truth: roster, crew jobs and every premise's true outages.

Index-based results of `scenarios.crewworld` and `scenarios.physics` turned into the id- and
time-based rows of `scenarios.truth` (`Truth.roster`, `Truth.jobs`, `Truth.outages`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from scenarios.crewworld import Repair
from scenarios.dispatch import Crew
from scenarios.faults import Drawn
from scenarios.physics import Episodes, Grid, dark_premises
from scenarios.truth import CrewJob, PremiseOutage


def _td(seconds: int) -> timedelta:
    return timedelta(seconds=int(seconds))


def premise_outages(
    grid: Grid, episodes: Episodes, fault_ids: list[str], t0: datetime
) -> list[PremiseOutage]:
    """Every premise's true outages (`scenarios.physics.dark_premises`), in premise order."""
    topo = grid.topology
    premise, start, end, began, ended = dark_premises(grid, episodes)
    order = np.lexsort((start, premise))
    out = []
    for k in order.tolist():
        p = int(premise[k])
        out.append(
            PremiseOutage(
                premise=topo.premise_ids[p],
                transformer=topo.transformer_ids[topo.premise_transformer[p]],
                customers=int(topo.premise_customers[p]),
                start=t0 + _td(int(start[k])),
                restore=t0 + _td(int(end[k])),
                fault=fault_ids[int(ended[k])],
                first_fault=fault_ids[int(began[k])],
            )
        )
    return out


def roster(crews: list[Crew], timezone: str) -> dict[str, Any]:
    """The roster file's shape (`scenarios.generate.Storm.roster`)."""
    rows = []
    for crew in crews:
        row: dict[str, Any] = {"id": crew.id, "name": crew.name}
        if crew.skills != frozenset({"line", "transformer"}):
            row["skills"] = sorted(crew.skills)
        if crew.depot is not None:
            row["depot"] = {"lon": crew.depot[0], "lat": crew.depot[1]}
        if crew.shift is not None:
            row["shift"] = {
                "start": crew.shift.start.strftime("%H:%M"),
                "end": crew.shift.end.strftime("%H:%M"),
            }
        rows.append(row)
    return {"timezone": timezone, "crews": rows}


def truth_jobs(
    grid: Grid, drawn: list[Drawn], repairs: list[Repair], ids: list[str], t0: datetime
) -> list[CrewJob]:
    """The crew world's repairs as the truth's jobs (ids and times)."""
    out = []
    for r in repairs:
        where = r.where or (None, None)
        origin = r.origin or (None, None)
        out.append(
            CrewJob(
                fault=ids[r.fault],
                crew=r.crew,
                asset=grid.asset_id(drawn[r.fault].asset),
                found_by=r.found_by,
                reported=t0 + _td(r.reported),
                known=t0 + _td(r.known),
                dispatched=t0 + _td(r.dispatched),
                en_route=t0 + _td(r.en_route),
                on_site=t0 + _td(r.on_site),
                repair_start=t0 + _td(r.repair_start),
                restore=t0 + _td(r.restore),
                lon=where[0],
                lat=where[1],
                from_lon=origin[0],
                from_lat=origin[1],
                with_parent=ids[r.with_parent] if r.with_parent is not None else None,
            )
        )
    return out
