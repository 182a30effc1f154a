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


#: What `_Consumers` exports per consumer: (family, name, help, the figure of a pump).
_Family = type[CounterMetricFamily] | type[GaugeMetricFamily]
_CONSUMER_FIGURES: tuple[tuple[_Family, str, str, Callable[[EventPump], float]], ...] = (
    (CounterMetricFamily, "outage_consumer_handled", "Events a consumer took", lambda p: p.handled),
    (
        CounterMetricFamily,
        "outage_consumer_errors",
        "Failed attempts at an event (each retry counts)",
        lambda p: p.errors,
    ),
    (
        GaugeMetricFamily,
        "outage_consumer_backlog",
        "Events queued, not yet handled",
        lambda p: p.backlog,
    ),
    (
        GaugeMetricFamily,
        "outage_consumer_stalled",
        "1 while the consumer keeps failing on an event (it is retried, never skipped)",
        lambda p: 0 if p.stalled is None else 1,
    ),
)


class _Consumers(Collector):
    """Each event consumer's pump at scrape time: handled, failed attempts, backlog, stalled."""

    def __init__(self, pumps: Mapping[str, EventPump]) -> None:
        self.pumps = pumps

    def collect(self) -> Iterator[Metric]:
        for family, name, text, figure in _CONSUMER_FIGURES:
            metric = family(name, text, labels=["consumer"])
            for consumer, pump in self.pumps.items():
                metric.add_metric([consumer], figure(pump))
            yield metric


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
