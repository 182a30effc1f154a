"""Every call the engine takes ends as exactly one `outage.events.ends_call` event, and the
playbooks' situation counts each call once.

Oracle: the calls posted (their ids and times), not the engine's events or any module's list
of event types: a hazard on an outage emits `CallAttached` *and* `HazardReported`, and a count
over event types double-counts it (two calls counted as three in the call-surge input).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from outage import events as ev
from outage.bootstrap import Network, build_engine
from outage.host import EngineHost
from outage.signals import CallSignal, parse_signal
from playbooks.situation import Situation
from scenarios.city_storm import CityStorm, simulate_storm


@pytest.fixture(scope="module")
def storm(demo_gpkg: Path) -> tuple[Network, list[CallSignal], list[ev.Event]]:
    network = Network.load(demo_gpkg)
    sim = simulate_storm(
        network.topology, network.tables.customers, CityStorm(faults=12, seed=5, hazards=0.25)
    )
    signals = [parse_signal(s) for s in sim.signals]
    # A wire down reported where no outage is known (before the storm's first signal): its
    # `HazardReported` is the call's only record.
    first = min(s.ts for s in signals)
    quiet = network.topology.premise_ids[0]
    signals.insert(
        0,
        parse_signal(
            {
                "type": "call",
                "id": "wire-down-in-the-quiet",
                "ts": (first - timedelta(hours=1)).isoformat(),
                "premise": quiet,
                "kind": "wire_down",
            }
        ),
    )
    host = EngineHost(build_engine(network), None)
    events: list[ev.Event] = []
    host.listeners.append(lambda _seq, event: events.append(event))
    host.submit(signals)
    events += host.finish()
    calls = [s for s in signals if isinstance(s, CallSignal)]
    return network, calls, events


def test_every_posted_call_ends_exactly_once(
    storm: tuple[Network, list[CallSignal], list[ev.Event]],
) -> None:
    _, calls, events = storm
    ended = Counter(e.call for e in events if ev.ends_call(e))  # type: ignore[attr-defined]
    assert ended == Counter(c.id for c in calls)
    hazards = [e for e in events if isinstance(e, ev.HazardReported)]
    # Both kinds of hazard occur, so the rule for each is exercised.
    assert any(h.incident is not None for h in hazards)
    assert any(h.incident is None for h in hazards)


def test_situation_counts_each_call_once(
    storm: tuple[Network, list[CallSignal], list[ev.Event]],
) -> None:
    network, calls, events = storm
    situation = Situation.for_topology(network.topology)
    for event in events:
        situation.apply(event)
    assert sum(situation.calls_by_bucket.values()) == len(calls)
