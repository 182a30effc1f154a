"""Replaying a crew storm: `dispatched` signals interleaved, naming the engine's incidents.

The engine on this branch does not take crew signals yet, so the engine is wrapped: crew
signals are recorded (and validated) instead of applied, everything else goes through.
"""

from __future__ import annotations

from typing import Any

import pytest

from outage.bootstrap import Network, build_engine
from outage.signals import CrewSignal, parse_signal
from scenarios.crewspec import CrewSpec
from scenarios.generate import Storm, generate_storm
from scenarios.replay import replay
from scenarios.spec import CallSpec, StormSpec
from scenarios.timeline import View, apply_event
from scenarios.truth import parse_time
from tests.conftest import tiny_tables


class CrewTolerant:
    """An engine that records crew signals instead of applying them."""

    def __init__(self, network: Network) -> None:
        self._engine = build_engine(network)
        self.crew: list[CrewSignal] = []
        self.order: list[str] = []  # every signal id, as applied

    def handle(self, message: Any) -> Any:
        self.order.append(message.id)
        if isinstance(message, CrewSignal):
            self.crew.append(message)
            return []
        return self._engine.handle(message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


@pytest.fixture(scope="module")
def network() -> Network:
    return Network.from_tables(tiny_tables())


def _storm(network: Network, signals: bool, seed: int = 2) -> Storm:
    spec = StormSpec(
        seed=seed,
        faults=2,
        allow_whole_feeder=True,
        calls=CallSpec(share=1.0),
        crews=CrewSpec(count=1, signals=signals),
    )
    return generate_storm(network.topology, spec)


def test_dispatched_names_the_incident_covering_the_job(network: Network) -> None:
    storm = _storm(network, signals=True)
    engine = CrewTolerant(network)
    result = replay(network, storm.signals, crews=storm.truth.jobs, engine=engine)  # type: ignore[arg-type]
    sent = [s for s in engine.crew if s.status == "dispatched"]
    assert len(sent) == len(storm.truth.jobs) == 2
    assert result.signals == len(storm.signals) + len(sent)
    view = View()
    stream = iter(result.events)
    topo = network.topology
    for job, signal in zip(storm.truth.jobs, sent, strict=True):
        assert signal.crew == job.crew and signal.ts == job.dispatched
        assert result.dispatched[job.fault] == signal.incident
        # the incident was shown at the job's asset or above it when the crew went
        for event in stream:
            if parse_time(str(event["at"])) > job.dispatched:
                break
            apply_event(view, event)
        shown_at = view.device[signal.incident]  # type: ignore[index]
        if job.asset in topo.transformer_index:
            device = topo.transformer_device[topo.transformer_index[job.asset]]
        else:
            device = topo.device_index[job.asset]
        chain = {job.asset} | {topo.device_ids[d] for d in topo.device_chain[device]}
        assert view.shown(signal.incident) and shown_at in chain  # type: ignore[arg-type]
    # each dispatch comes after the crew's last job ended and before its next step
    order = engine.order
    crew_ids = [s.id for s in engine.crew]
    statuses = [s.status for s in engine.crew]
    assert statuses == ["dispatched", "en_route", "on_site", "repairing", "available"] * 2
    assert crew_ids == sorted(crew_ids, key=order.index)
    for s in engine.crew:
        parse_signal(s.model_dump(mode="json", exclude_none=True))


def test_statuses_interleaved_and_a_dispatch_waits_for_an_incident(network: Network) -> None:
    storm = _storm(network, signals=False)
    assert not [s for s in storm.signals if s["type"] == "crew"]
    asked: list[str] = []

    def incident_of(asset: str) -> str | None:
        asked.append(asset)
        return None if len(asked) < 3 else f"INC-{asset}"

    engine = CrewTolerant(network)
    result = replay(
        network,
        storm.signals,
        crews=storm.truth.jobs,
        crew_statuses=True,
        incident_of=incident_of,
        engine=engine,  # type: ignore[arg-type]
        keep_events=False,
    )
    first, second = storm.truth.jobs
    got = [(s.status, s.incident, s.ts) for s in engine.crew]
    # the first dispatch found no incident twice, went out before a later signal
    assert got[0][:2] == ("en_route", None)
    late = next(g for g in got if g[0] == "dispatched")
    assert late[1] == f"INC-{first.asset}" and first.dispatched < late[2] < first.restore
    assert ("dispatched", f"INC-{second.asset}", second.dispatched) in got
    assert [g[2] for g in got] == sorted(g[2] for g in got)
    assert result.dispatched == {first.fault: late[1], second.fault: f"INC-{second.asset}"}
    assert sum(g[0] == "available" for g in got) == 2
