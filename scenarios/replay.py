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
``{"type": "StateObserved", "at": <signal ts>, "incidents": [{id, device, status, calls}]}``,
taken from `outage.state.snapshot` (`scenarios.timeline` reads it).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from outage.bootstrap import Network, build_engine
from outage.events import to_dict
from outage.signals import parse_signal, signal_ts
from outage.state import snapshot

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


def replay(
    network: Network,
    signals: Iterable[dict[str, Any]],
    *,
    restore_faults: Mapping[str, str] | None = None,
    keep_events: bool = True,
    rules: Any = None,
) -> Replay:
    """Apply ``signals`` in the given order to a fresh engine over ``network``.

    ``restore_faults`` maps a restore signal's id to the fault it repairs; the state just
    before each is kept in ``before_restore``. ``rules`` is passed to `build_engine` as is.
    """
    engine = build_engine(network, rules)
    restore_faults = restore_faults or {}
    out = Replay(final={})
    spent = 0.0
    for raw in signals:
        fault = restore_faults.get(raw["id"])
        if fault is not None:
            out.before_restore[fault] = snapshot(engine)
        signal = parse_signal(raw)
        began = time.perf_counter()
        events = engine.handle(signal)
        spent += time.perf_counter() - began
        out.signals += 1
        if keep_events:
            out.events.extend(to_dict(e) for e in events)
            if any(e.type in STRUCTURAL for e in events):
                out.events.append(observe(snapshot(engine), signal_ts(signal).isoformat()))
    finished = engine.finish()
    if keep_events and finished:
        out.events.extend(to_dict(e) for e in finished)
    out.final = snapshot(engine)
    out.seconds = spent
    return out


def observe(state: dict[str, Any], at: str) -> dict[str, Any]:
    """The ``StateObserved`` record of a snapshot: each listed incident's device, status and
    calls (hazard calls included)."""
    return {
        "type": "StateObserved",
        "at": at,
        "incidents": [
            {
                "id": i["id"],
                "device": i["device"],
                "status": i["status"],
                "calls": sorted({*i["calls"], *i["hazards"]}),
            }
            for i in state["incidents"]
        ],
    }
