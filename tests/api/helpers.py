"""Signal builders for service tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from outage.bootstrap import Network

T0 = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
_ids = count(1)


def storm_clock() -> datetime:
    """The service clock the tests' storms are judged against: two days after T0, so the
    signals the tests post (at T0 and the hours after) are neither ahead nor too old."""
    return T0 + timedelta(days=2)


def at(minute: float) -> str:
    """An ISO timestamp ``minute`` minutes after T0."""
    return (T0 + timedelta(minutes=minute)).isoformat()


def call(premise: str, minute: float = 0.0, **extra: Any) -> dict[str, Any]:
    """A no-power call from ``premise``."""
    return {
        "type": "call",
        "id": f"call-{next(_ids)}",
        "ts": at(minute),
        "premise": premise,
    } | extra


def fuse_with_transformers(network: Network, n: int = 3) -> tuple[str, list[int]]:
    """A fuse id and ``n`` of its transformers (each with premises)."""
    topo = network.topology
    for device, kind in enumerate(topo.device_kind):
        transformers = topo.device_transformers[device]
        if kind == "fuse" and len(transformers) >= n:
            return topo.device_ids[device], list(transformers[:n])
    raise AssertionError("no fuse with enough transformers")


def premise_of(network: Network, transformer: int, nth: int = 0) -> str:
    """The ``nth`` premise fed by ``transformer``."""
    topo = network.topology
    return topo.premise_ids[int(topo.premises_of_transformer(transformer)[nth])]
