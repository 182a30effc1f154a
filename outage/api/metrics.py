"""Prometheus metrics for one service process (its own registry, so tests stay independent)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .pump import EventPump

#: Buckets around the IVR's 10 ms target.
LOOKUP_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)


class _Gauges(Collector):
    """Reads the runtime's figures at scrape time."""

    def __init__(self, read: Callable[[], dict[str, float]]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, value in self.read().items():
            yield GaugeMetricFamily(f"outage_{name}", name.replace("_", " "), value=value)


class _Consumers(Collector):
    """Each event consumer's pump at scrape time: handled, failed attempts, backlog, stalled."""

    def __init__(self, pumps: Mapping[str, EventPump]) -> None:
        self.pumps = pumps

    def collect(self) -> Iterator[Metric]:
        handled = CounterMetricFamily(
            "outage_consumer_handled", "Events a consumer took", labels=["consumer"]
        )
        errors = CounterMetricFamily(
            "outage_consumer_errors",
            "Failed attempts at an event (each retry counts)",
            labels=["consumer"],
        )
        backlog = GaugeMetricFamily(
            "outage_consumer_backlog", "Events queued, not yet handled", labels=["consumer"]
        )
        stalled = GaugeMetricFamily(
            "outage_consumer_stalled",
            "1 while the consumer keeps failing on an event (it is retried, never skipped)",
            labels=["consumer"],
        )
        for name, pump in self.pumps.items():
            handled.add_metric([name], pump.handled)
            errors.add_metric([name], pump.errors)
            backlog.add_metric([name], pump.backlog)
            stalled.add_metric([name], 0 if pump.stalled is None else 1)
        yield from (handled, errors, backlog, stalled)


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
        self._consumers: _Consumers | None = None

    def watch_consumers(self, pumps: Mapping[str, EventPump]) -> None:
        """Export the event consumers' pumps (once per registry, however many apps share it)."""
        if self._consumers is None:
            self._consumers = _Consumers(pumps)
            self.registry.register(self._consumers)
        else:
            self._consumers.pumps = pumps

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
