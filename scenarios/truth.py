"""The ground truth of one generated storm, and its JSON shape (``truth.json``).

Everything the scorer needs to know about the simulated world — and nothing the engine could
see: which asset really opened, when it opened and was repaired, and which fault's outage each
call and meter message was about. Times are aware UTC datetimes; in JSON they are ISO strings
ending in ``Z``.

With crews (``StormSpec.crews``), the truth also holds the roster the crews were drawn as
(``roster``, the shape of `Storm.roster`), each fault's way through the crew world (``jobs``,
one per fault: who repaired it and when it was reported, known, dispatched, reached and
repaired) and every premise's true outages (``outages``: when its power went and came back,
and which fault's repair brought it back). Storms without crews leave the three out.

``calls[i].fault`` is the id of the fault whose outage the caller was in at the call time (the
one that de-energised the premise, see `scenarios.physics`), or `NOISE` (``"noise"``) for a call
from a premise that had power. A meter message names the fault whose outage it began or ended.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

FORMAT = "scenarios.truth/1"
#: The ``fault`` of a call from a premise that had power.
NOISE = "noise"


def iso(ts: datetime) -> str:
    """A UTC time as ``2024-07-01T08:00:00Z``."""
    return ts.isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """The inverse of `iso`."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Fault:
    """One fault: where it happened, which asset opened, and when."""

    id: str
    kind: str  # "section" | "transformer"
    location: str  # the section or transformer id where the fault is
    asset: str  # the device that opened, or the transformer that failed
    asset_kind: str  # device kind or "transformer"
    feeder: str
    start: datetime
    restore: datetime
    premises_out: int  # premises below the asset
    customers_out: int
    parent: str | None = None  # the nearest upstream fault open at the same time
    whole_feeder: bool = False  # the asset feeds the whole feeder


@dataclass(frozen=True)
class Report:
    """One generated signal that speaks about a premise: a call or a meter message."""

    id: str
    ts: datetime  # the time in the signal (meters: their own clock)
    premise: str
    transformer: str
    fault: str  # a fault id, or NOISE
    kind: str  # call kind, or the meter event


@dataclass(frozen=True)
class DeviceSignal:
    """A crew restore or a SCADA message about a fault's asset."""

    id: str
    ts: datetime
    device: str
    fault: str
    kind: str  # "restore" | "scada_open" | "scada_closed"


@dataclass(frozen=True)
class CrewJob:
    """One fault's way through the crew world (`scenarios.crewworld`)."""

    fault: str
    crew: str
    asset: str
    found_by: str  # call | meter | scada (first report), crew | patrol (found by the utility)
    reported: datetime  # the first report, or when it was found
    known: datetime  # the utility knows it as a job (reported + dispatch delay)
    dispatched: datetime
    en_route: datetime
    on_site: datetime
    repair_start: datetime
    restore: datetime
    lon: float | None = None  # where the crew worked
    lat: float | None = None
    from_lon: float | None = None  # where it set off from
    from_lat: float | None = None
    with_parent: str | None = None  # repaired on its parent's job (nested, child first)


#: The time fields of a `CrewJob`, in the order a job goes through them.
JOB_TIMES = ("reported", "known", "dispatched", "en_route", "on_site", "repair_start", "restore")


@dataclass(frozen=True)
class PremiseOutage:
    """One premise without power over ``[start, restore)`` (overlapping faults merged): its
    true restoration time, and the faults that took the power and gave it back."""

    premise: str
    transformer: str
    customers: int
    start: datetime
    restore: datetime
    fault: str  # the fault whose repair brought the power back (the last one open above it)
    first_fault: str  # the fault that took it away


@dataclass
class Truth:
    """Ground truth of one storm (see the module docstring)."""

    feeder: str
    start: datetime
    horizon_end: datetime
    faults: list[Fault]
    calls: list[Report] = field(default_factory=list)
    meters: list[Report] = field(default_factory=list)
    devices: list[DeviceSignal] = field(default_factory=list)
    spec: dict[str, Any] = field(default_factory=dict)
    roster: dict[str, Any] | None = None  # crews only (module docstring)
    jobs: list[CrewJob] = field(default_factory=list)
    outages: list[PremiseOutage] = field(default_factory=list)

    def fault(self, fault_id: str) -> Fault:
        """The fault called ``fault_id``."""
        for f in self.faults:
            if f.id == fault_id:
                return f
        raise KeyError(fault_id)

    def job(self, fault_id: str) -> CrewJob:
        """The crew job that repaired fault ``fault_id``."""
        for j in self.jobs:
            if j.fault == fault_id:
                return j
        raise KeyError(fault_id)

    def restore_signals(self) -> dict[str, str]:
        """Restore signal id -> the fault it repairs."""
        return {d.id: d.fault for d in self.devices if d.kind == "restore"}

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape."""

        def row(obj: Any) -> dict[str, Any]:
            return {k: iso(v) if isinstance(v, datetime) else v for k, v in asdict(obj).items()}

        out = {
            "format": FORMAT,
            "feeder": self.feeder,
            "start": iso(self.start),
            "horizon_end": iso(self.horizon_end),
            "faults": [row(f) for f in self.faults],
            "calls": [row(c) for c in self.calls],
            "meters": [row(m) for m in self.meters],
            "devices": [row(d) for d in self.devices],
            "spec": self.spec,
        }
        if self.roster is not None:
            out["roster"] = self.roster
            out["jobs"] = [row(j) for j in self.jobs]
            out["outages"] = [row(o) for o in self.outages]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Truth:
        """Read the JSON shape back."""
        if data.get("format") != FORMAT:
            raise ValueError(f"format: expected {FORMAT!r}, got {data.get('format')!r}")

        def timed(raw: dict[str, Any], *names: str) -> dict[str, Any]:
            return {k: parse_time(v) if k in names else v for k, v in raw.items()}

        return cls(
            feeder=data["feeder"],
            start=parse_time(data["start"]),
            horizon_end=parse_time(data["horizon_end"]),
            faults=[Fault(**timed(f, "start", "restore")) for f in data["faults"]],
            calls=[Report(**timed(c, "ts")) for c in data["calls"]],
            meters=[Report(**timed(m, "ts")) for m in data["meters"]],
            devices=[DeviceSignal(**timed(d, "ts")) for d in data["devices"]],
            spec=data.get("spec", {}),
            roster=data.get("roster"),
            jobs=[CrewJob(**timed(j, *JOB_TIMES)) for j in data.get("jobs", [])],
            outages=[
                PremiseOutage(**timed(o, "start", "restore")) for o in data.get("outages", [])
            ],
        )
