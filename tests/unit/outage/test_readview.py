"""The IVR read view, built from events only, agrees with the engine at every step."""

from __future__ import annotations

import numpy as np

from outage.bootstrap import Network, build_engine
from outage.host import EngineHost
from outage.readview import OutageReadView
from outage.signals import parse_signal
from scenarios.city_storm import CityStorm, simulate_storm


def test_read_view_matches_engine_through_a_storm(city: Network) -> None:
    storm = simulate_storm(
        city.topology, city.tables.customers, CityStorm(faults=12, seed=3, nested=0.3, warning=True)
    )
    host = EngineHost(build_engine(city), None)
    view = OutageReadView(city.topology)
    host.listeners.append(view.apply)
    premises = np.arange(len(city.topology.premise_ids))
    checked = covered = 0
    signals = [parse_signal(s) for s in storm.signals]
    for start in range(0, len(signals), 40):
        host.submit(signals[start : start + 40])
        for premise in premises[::7].tolist():
            engine_says = host.engine.covering_incident(premise)
            view_says = view.covering(premise)
            assert (engine_says.id if engine_says else None) == (
                view_says.id if view_says else None
            ), f"premise {premise} after {start + 40} signals"
            if engine_says is not None:
                covered += 1
                assert view_says is not None
                assert view_says.status == engine_says.status
                assert view_says.etr == engine_says.etr
                assert view_says.customers == engine_says.customers
            checked += 1
    assert covered > 100  # the storm really put premises out while we compared
    open_ids = {i.id for i in host.engine.open_incidents()}
    assert {s.id for s in view.open_incidents()} == open_ids


def test_planned_work_is_listed_before_it_starts(city: Network) -> None:
    topo = city.topology
    device = next(d for d, k in enumerate(topo.device_kind) if k == "fuse")
    premise = int(topo.premises_below(device)[0])
    host = EngineHost(build_engine(city), None)
    view = OutageReadView(topo)
    host.listeners.append(view.apply)
    planned = {
        "type": "planned",
        "id": "plan-1",
        "ts": "2026-07-01T08:00:00Z",
        "device": topo.device_ids[device],
        "start": "2026-07-01T10:00:00Z",
        "end": "2026-07-01T12:00:00Z",
        "reason": "pole replacement",
    }
    host.submit([parse_signal(planned)])
    (upcoming,) = view.scheduled_for(premise)
    assert upcoming.planned and upcoming.cause == "pole replacement"
    assert view.covering(premise) is None
    tick = {
        "type": "warning",
        "id": "w",
        "ts": "2026-07-01T10:30:00Z",
        "kind": "heat",
        "level": "yellow",
    }
    host.submit([parse_signal(tick)])
    now = view.covering(premise)
    assert now is not None and now.id == upcoming.id and now.status == "confirmed"
    assert view.scheduled_for(premise) == []
