"""Feed a storm's signals through the engine's public calls and keep what the scorer needs.

This is the only module of `scenarios` that touches `outage`, and only through what any user of
the engine has: `outage.bootstrap.build_engine`, ``engine.handle(parse_signal(raw))``,
``engine.finish()``, `outage.state.snapshot` and `outage.events.to_dict`.

The prediction an officer acted on is the one shown *before* the crew reported the repair
(after a restore, any engine can read the answer off the signal), so before each crew restore
named in ``restore_faults`` the harness takes a snapshot and files it under that fault.

The events alone do not say where calls go when the engine splits an incident (no
``CallAttached`` is emitted for the calls that move), so after every signal whose events change
the incident structure the harness appends an observation to the event list:
``{"type": "StateObserved", "at": <signal ts>, "incidents": [{id, device, premise, status,
calls}]}``,
taken from `outage.state.snapshot` (`scenarios.timeline` reads it).

Crews. A storm with crews knows who went where and when (``Truth.jobs``), but a crew's
``dispatched`` signal must name the engine's incident, which only the replay can see. Given
``crews`` (the truth's jobs), the harness interleaves one ``dispatched`` per job at its
dispatch time (before the crew's next signal when they share a second), naming the incident
``incident_of(asset)`` returns — by default the one the engine shows now at the job's asset or
the nearest device above it (else the oldest shown below it), rebuilt from the events as
`scenarios.timeline` does. When no incident covers the asset yet, the dispatch waits and is
retried before each later signal until the job ends; `Replay.dispatched` says which
incident each job went to (None: none ever covered it). ``crew_statuses`` also interleaves the
other steps of each job (en_route, on_site, repairing, available — what a storm generated with
``crews.signals`` already carries; see `scenarios.crewsignals`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from outage.bootstrap import Network, build_engine
from outage.engine import Engine
from outage.events import to_dict
from outage.signals import parse_signal, signal_ts
from outage.state import snapshot
from scenarios.crewsignals import Step, job_steps
from scenarios.physics import Grid
from scenarios.timeline import View, apply_event
from scenarios.truth import CrewJob, parse_time

#: Events after which the harness observes the incidents (see the module docstring).
STRUCTURAL = frozenset(
    {
        "OutagePredicted",
        "PredictionMoved",
        "IncidentMerged",
        "IncidentStatusChanged",
        "IncidentCancelled",
        "OutageRestored",
        "OutagePartiallyRestored",
    }
)


@dataclass
class Replay:
    """What one replay produced."""

    final: dict[str, Any]  # STATE.json after finish()
    before_restore: dict[str, dict[str, Any]] = field(default_factory=dict)  # fault id -> state
    events: list[dict[str, Any]] = field(default_factory=list)  # event dicts, in order
    signals: int = 0
    seconds: float = 0.0  # wall time inside handle() (snapshots excluded)
    dispatched: dict[str, str | None] = field(default_factory=dict)  # fault -> incident


def replay(
    network: Network,
    signals: Iterable[dict[str, Any]],
    *,
    restore_faults: Mapping[str, str] | None = None,
    keep_events: bool = True,
    rules: Any = None,
    engine: Engine | None = None,
    crews: Sequence[CrewJob] | None = None,
    crew_statuses: bool = False,
    incident_of: Callable[[str], str | None] | None = None,
) -> Replay:
    """Apply ``signals`` in the given order to a fresh engine over ``network``.

    ``restore_faults`` maps a restore signal's id to the fault it repairs; the state just
    before each is kept in ``before_restore``. ``rules`` is passed to `build_engine` as is;
    ``engine`` replaces the fresh engine (one built with a crew roster, say). ``crews``,
    ``crew_statuses`` and ``incident_of``: crew signals interleaved (module docstring).
    """
    engine = engine if engine is not None else build_engine(network, rules)
    restore_faults = restore_faults or {}
    out = Replay(final={})
    view = View()
    feed = None
    if crews is not None:
        lookup = incident_of or _Covering(Grid(network.topology), view)
        feed = _CrewFeed(crews, crew_statuses, lookup, out.dispatched)
    spent = 0.0

    def apply(raw: dict[str, Any]) -> None:
        nonlocal spent
        fault = restore_faults.get(raw["id"])
        if fault is not None:
            out.before_restore[fault] = snapshot(engine)
        signal = parse_signal(raw)
        began = time.perf_counter()
        events = engine.handle(signal)
        spent += time.perf_counter() - began
        out.signals += 1
        dicts = [to_dict(e) for e in events] if keep_events or feed is not None else []
        if keep_events:
            out.events.extend(dicts)
        if feed is not None:
            for event in dicts:
                apply_event(view, event)
        if keep_events and any(e.type in STRUCTURAL for e in events):
            observed = observe(snapshot(engine), signal_ts(signal).isoformat())
            out.events.append(observed)
            if feed is not None:
                apply_event(view, observed)

    for raw in signals:
        if feed is not None:
            for extra in feed.before(raw):
                apply(extra)
        apply(raw)
    if feed is not None:
        for extra in feed.rest():
            apply(extra)
    finished = engine.finish()
    if keep_events and finished:
        out.events.extend(to_dict(e) for e in finished)
    out.final = snapshot(engine)
    out.seconds = spent
    return out


class _Covering:
    """The default ``incident_of``: the incident the engine shows now at the asset or the
    nearest device above it, else the oldest one shown below it (by id), else None."""

    def __init__(self, grid: Grid, view: View) -> None:
        self.grid, self.view = grid, view

    def __call__(self, asset_id: str) -> str | None:
        grid, view = self.grid, self.view
        asset = grid.asset_of(asset_id)
        if asset is None:
            return None
        topo = grid.topology
        if asset >= grid.n_devices:
            device = topo.transformer_device[asset - grid.n_devices]
            chain = [asset_id, *(topo.device_ids[d] for d in topo.device_chain[device])]
        else:
            chain = [topo.device_ids[d] for d in topo.device_chain[asset]]
        for at in chain:
            shown = view.incidents_at(at)
            if shown:
                return min(shown)
        below = [
            incident
            for incident, device in view.device.items()
            if view.shown(incident)
            and (a := grid.asset_of(device)) is not None
            and grid.is_below(a, asset)
        ]
        return min(below) if below else None


class _CrewFeed:
    """The crew signals to interleave (module docstring), in time order."""

    def __init__(
        self,
        crews: Sequence[CrewJob],
        statuses: bool,
        lookup: Callable[[str], str | None],
        dispatched: dict[str, str | None],
    ) -> None:
        every = job_steps(crews, dispatched=True)
        #: when each job ends (its crew is available again)
        self.until = {s.fault: s.ts for s in every if s.status == "available"}
        steps = [s for s in every if statuses or s.rank == 0]
        # at one second a crew ends its last job before it is sent on the next
        steps.sort(key=lambda s: (s.ts, s.status != "available", s.rank))
        self.steps = steps
        self.lookup = lookup
        self.dispatched = dispatched
        self.waiting: dict[str, Step] = {}  # job (fault) -> its dispatch, not sent yet

    def before(self, raw: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Crew signals due before ``raw``: steps before its time (a dispatch at its very
        second when ``raw`` is that crew's next step), and waiting dispatches that an
        incident now covers."""
        ts = _ts(raw)
        next_step = raw.get("type") == "crew" and raw.get("status") != "available"
        out = self._retry(ts)
        while self.steps and (
            self.steps[0].ts < ts
            or (
                self.steps[0].ts == ts
                and self.steps[0].rank == 0
                and next_step
                and raw.get("crew") == self.steps[0].crew
            )
        ):
            out.extend(self._emit(self.steps.pop(0)))
        return out

    def rest(self) -> list[dict[str, Any]]:
        """The crew signals after the last storm signal."""
        out: list[dict[str, Any]] = []
        while self.steps:
            out.extend(self._emit(self.steps.pop(0)))
        return out

    def _emit(self, step: Step) -> list[dict[str, Any]]:
        out = self._retry(step.ts)
        if step.rank != 0:
            out.append(step.signal(_id(step)))
            return out
        self.dispatched.setdefault(step.fault, None)
        incident = self.lookup(step.asset)
        if incident is None:
            self.waiting[step.fault] = step
        else:
            self.dispatched[step.fault] = incident
            out.append(step.signal(_id(step), incident))
        return out

    def _retry(self, ts: datetime) -> list[dict[str, Any]]:
        """Waiting dispatches sent at ``ts`` now that an incident covers their job (given up
        once the job is over)."""
        out = []
        for fault, step in list(self.waiting.items()):
            if ts >= self.until.get(fault, ts):
                del self.waiting[fault]
                continue
            incident = self.lookup(step.asset)
            if incident is None:
                continue
            del self.waiting[fault]
            self.dispatched[fault] = incident
            late = Step(step.fault, step.asset, step.crew, step.status, ts, None, None)
            out.append(late.signal(_id(step), incident))
        return out


def _id(step: Step) -> str:
    return f"crew-{step.fault}-{step.status}"


def _ts(raw: Mapping[str, Any]) -> datetime:
    stamp = raw.get("ts") or raw.get("start")
    return parse_time(str(stamp))


def observe(state: dict[str, Any], at: str) -> dict[str, Any]:
    """The ``StateObserved`` record of a snapshot: each listed incident's device (and premise,
    for a service drop), status and calls (hazard calls included)."""
    return {
        "type": "StateObserved",
        "at": at,
        "incidents": [
            {
                "id": i["id"],
                "device": i["device"],
                "premise": i.get("premise"),
                "status": i["status"],
                "calls": sorted({*i["calls"], *i["hazards"]}),
            }
            for i in state["incidents"]
        ],
    }
