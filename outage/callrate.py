"""Calls per interval for the call-rate chart, in buckets aligned to the clock.

A bucket starts at a whole multiple of its size (10:00, 10:05, ...), not at "the latest minute
minus n × size": otherwise every refresh a minute later re-bins every bar, and a peak reads
206 on one refresh and 185 on the next. Only the last bucket (the one holding ``end``) is
still filling; it says so with ``complete: false``. Alignment is on UTC minutes, which is the
local clock too in every zone whose offset is a whole number of the bucket size (all zones for
5-minute buckets, Asia/Shanghai for any size up to an hour).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from math import ceil
from typing import Any

from outage.events import iso


def call_rate_buckets(
    calls_per_minute: Mapping[int, int],
    end: datetime,
    hours: float,
    bucket_minutes: int,
    baseline_per_hour: Callable[[datetime], float],
) -> dict[str, Any]:
    """Buckets covering at least the ``hours`` before ``end`` (event time), the last one
    holding ``end``; ``calls_per_minute`` counts calls per epoch minute."""
    end_minute = int(end.timestamp()) // 60
    last = end_minute - end_minute % bucket_minutes
    count = max(1, ceil(hours * 60 / bucket_minutes))
    first = last - (count - 1) * bucket_minutes
    buckets = []
    for start in range(first, last + 1, bucket_minutes):
        calls = sum(calls_per_minute.get(m, 0) for m in range(start, start + bucket_minutes))
        at = datetime.fromtimestamp(start * 60, UTC)
        baseline = baseline_per_hour(at) * bucket_minutes / 60
        buckets.append(
            {
                "start": iso(at),
                "calls": calls,
                "baseline": round(baseline, 2),
                "complete": start + bucket_minutes <= end_minute,
            }
        )
    return {"bucket_minutes": bucket_minutes, "end": iso(end), "buckets": buckets}
