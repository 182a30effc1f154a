"""Crew status signals from the truth's crew jobs: one definition for the generator and replay.

A job (`scenarios.truth.CrewJob`) goes ``dispatched`` → ``en_route`` (from where the crew set
off) → ``on_site`` and ``repairing`` (at the asset) → ``available`` (there, once the last
restore of the job is done — a child repaired on its parent's job has no signals of its own).
The ``restore`` itself is the generator's ordinary restore signal. ``dispatched`` must name
the engine's incident, which only a replay can know (`scenarios.replay`); the generator emits
the other steps, without an incident (the crew's current order is meant).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scenarios.truth import CrewJob, iso

#: The steps of a job, in order.
STEPS = ("dispatched", "en_route", "on_site", "repairing", "available")


@dataclass(frozen=True)
class Step:
    """One crew status of one job."""

    fault: str  # the job's fault
    asset: str  # where the job is
    crew: str
    status: str
    ts: datetime
    lon: float | None
    lat: float | None

    @property
    def rank(self) -> int:
        """Position of the status in `STEPS`."""
        return STEPS.index(self.status)

    def signal(self, signal_id: str, incident: str | None = None) -> dict[str, Any]:
        """The step as an input signal (``outage.signals.CrewSignal``)."""
        body: dict[str, Any] = {
            "id": signal_id,
            "ts": iso(self.ts),
            "type": "crew",
            "crew": self.crew,
            "status": self.status,
        }
        if incident is not None:
            body["incident"] = incident
        if self.lon is not None and self.lat is not None:
            body["lon"], body["lat"] = self.lon, self.lat
        return body


def job_steps(jobs: Sequence[CrewJob], *, dispatched: bool = False) -> list[Step]:
    """Every job's steps (module docstring), job by job; ``dispatched`` adds that step."""
    done: dict[str, datetime] = {}
    for job in jobs:
        key = job.with_parent or job.fault
        done[key] = max(done.get(key, job.restore), job.restore)
    out = []
    for job in jobs:
        if job.with_parent is not None:
            continue
        here = (job.lon, job.lat)
        steps = [
            ("en_route", job.en_route, (job.from_lon, job.from_lat)),
            ("on_site", job.on_site, here),
            ("repairing", job.repair_start, here),
            ("available", done[job.fault], here),
        ]
        if dispatched:
            steps.insert(0, ("dispatched", job.dispatched, (None, None)))
        for status, ts, (lon, lat) in steps:
            out.append(Step(job.fault, job.asset, job.crew, status, ts, lon, lat))
    return out
