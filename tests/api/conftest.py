"""Service fixtures: a small city, a runtime with a journal, keys for every role, a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from grid.synthetic import CitySpec, generate_city
from outage.api.app import create_app
from outage.api.auth import KeyEntry, KeyRing, hash_key
from outage.api.compose import Services, compose
from outage.api.runtime import Runtime
from outage.api.settings import ServiceSettings
from outage.bootstrap import Network
from outage.journal import SqliteJournal

from .helpers import storm_clock

#: One raw key per role (the ring stores only their hashes).
KEYS = {role: f"test-key-{role}-0123456789" for role in ("intake", "ivr", "officer", "admin")}


def auth(role: str) -> dict[str, str]:
    """Headers carrying the test key of ``role``."""
    return {"Authorization": f"Bearer {KEYS[role]}"}


def ring(rate: float = 10_000.0) -> KeyRing:
    return KeyRing(
        [
            KeyEntry(name=role, sha256=hash_key(key), roles=(role,), rate_per_s=rate)  # type: ignore[arg-type]
            for role, key in KEYS.items()
        ]
    )


@pytest.fixture(scope="session")
def network() -> Network:
    """3,000 customers with phones, accounts and addresses."""
    return Network.from_tables(generate_city(CitySpec(customers=3000, seed=1)))


@pytest.fixture
def runtime(network: Network, tmp_path: Path) -> Iterator[Runtime]:
    journal = SqliteJournal(tmp_path / "journal.db")
    yield Runtime(network, journal)
    journal.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(runtime, ServiceSettings(), ring(), clock=storm_clock)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def services(network: Network, tmp_path: Path) -> Iterator[Services]:
    """The fully composed service (notify, playbooks) on event time, started."""
    composed = compose(network, state_dir=tmp_path / "state", clock="event")
    composed.start()
    yield composed
    composed.stop()


@pytest.fixture
def app_client(services: Services) -> Iterator[TestClient]:
    """A client of the app over `services` (the tests' storm clock)."""
    app = create_app(services.runtime, ServiceSettings(), ring(), services, clock=storm_clock)
    with TestClient(app) as client:
        yield client
