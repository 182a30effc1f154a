"""Prometheus metrics for one service process (its own registry, so tests stay independent)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

#: Buckets around the IVR's 10 ms target.
LOOKUP_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)


class _Gauges(Collector):
    """Reads the runtime's figures at scrape time."""

    def __init__(self, read: Callable[[], dict[str, float]]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, value in self.read().items():
            yield GaugeMetricFamily(f"outage_{name}", name.replace("_", " "), value=value)


class Metrics:
    """Counters the routes update, plus gauges read from the runtime."""

    def __init__(self, read: Callable[[], dict[str, float]]) -> None:
        self.registry = CollectorRegistry()
        self.signals = Counter(
            "outage_signals",
            "Signals received on /v1/signals by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.lookup_seconds = Histogram(
            "outage_ivr_lookup_seconds",
            "Time to answer an IVR lookup",
            buckets=LOOKUP_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_Gauges(read))

    def count(self, result: Any) -> None:
        """Count a submitted batch's outcomes (a `SubmitResult`)."""
        for outcome, n in (
            ("accepted", len(result.accepted)),
            ("duplicate", len(result.duplicates)),
            ("rejected", len(result.rejected)),
            ("conflict", len(result.conflicts)),
            ("quarantined", len(result.quarantined)),
        ):
            self.signals.labels(outcome).inc(n)
