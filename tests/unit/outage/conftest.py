"""Engine fixtures: a small synthetic city (built once) and a signal factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest

from grid.synthetic import CitySpec, generate_city
from outage.bootstrap import Network, build_engine
from outage.engine import Engine
from outage.events import Event
from outage.rules import Rules
from outage.signals import parse_signal

T0 = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def city() -> Network:
    """3,000 customers, two feeders with reclosers, a switch and fused laterals."""
    return Network.from_tables(generate_city(CitySpec(customers=3000, seed=1)))


@dataclass
class Feeder:
    """Handy assets of the test city: a fuse under a recloser, and its transformers."""

    recloser: int
    fuse: int
    other_fuse: int
    transformers: list[int]


@pytest.fixture(scope="session")
def feeder(city: Network) -> Feeder:
    topo = city.topology
    for device, kind in enumerate(topo.device_kind):
        if kind != "recloser":
            continue
        fuses = [d for d in topo.device_children[device] if topo.device_kind[d] == "fuse"]
        fuses = [f for f in fuses if len(topo.device_transformers[f]) >= 4]
        if len(fuses) >= 2:
            return Feeder(device, fuses[0], fuses[1], topo.device_transformers[fuses[0]])
    raise AssertionError("test city has no recloser with two fused laterals")


class Driver:
    """Feeds signals to an engine, minute by minute, and keeps every event."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.events: list[Event] = []
        self._ids = count(1)

    def send(self, minute: float, **fields: Any) -> list[Event]:
        fields.setdefault("id", f"{fields['type']}-{next(self._ids)}")
        if fields["type"] != "planned":
            fields.setdefault("ts", (T0 + timedelta(minutes=minute)).isoformat())
        out = self.engine.handle(parse_signal(fields))
        self.events.extend(out)
        return out

    def call(self, minute: float, premise: str, **extra: Any) -> list[Event]:
        return self.send(minute, type="call", premise=premise, **extra)

    def of_type(self, name: str) -> list[Event]:
        return [e for e in self.events if e.type == name]

    def premise_of(self, transformer: int, nth: int = 0) -> str:
        topo = self.engine.topology
        return topo.premise_ids[int(topo.premises_of_transformer(transformer)[nth])]

    def open_incidents(self) -> list[Any]:
        return sorted(self.engine.open_incidents(), key=lambda i: i.id)


@pytest.fixture
def make_driver(city: Network) -> Callable[..., Driver]:
    def make(rules: Rules | None = None) -> Driver:
        return Driver(build_engine(city, rules))

    return make


@pytest.fixture
def driver(make_driver: Callable[..., Driver]) -> Iterator[Driver]:
    yield make_driver()
