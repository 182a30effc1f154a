"""Arrival orders: the same storm delivered the way real intake delivers it.

Meters lag, several intake workers post concurrently, batches overtake each other. Each
function returns a new list of the same, unmodified signals, so one storm can be replayed in
every order and the final incidents compared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

Signal = dict[str, Any]


def shuffled_within(signals: Sequence[Signal], window: int, seed: int = 0) -> list[Signal]:
    """Consecutive windows of ``window`` signals, each shuffled."""
    rng = np.random.default_rng(seed)
    out: list[Signal] = []
    for start in range(0, len(signals), window):
        chunk = list(signals[start : start + window])
        out.extend(chunk[i] for i in rng.permutation(len(chunk)).tolist())
    return out


def swapped_batches(signals: Sequence[Signal], size: int, at: int | None = None) -> list[Signal]:
    """Two adjacent batches of ``size`` signals swapped (by default in the middle)."""
    out = list(signals)
    if len(out) < 2 * size:
        return out
    at = (len(out) - 2 * size) // 2 if at is None else at
    first, second = out[at : at + size], out[at + size : at + 2 * size]
    out[at : at + 2 * size] = second + first
    return out


def meters_late(signals: Sequence[Signal], minutes: float) -> list[Signal]:
    """Meter signals delivered ``minutes`` after their own timestamps (an AMI head end that
    lags, as meters do by tens of minutes), everything else on time: the same signals, in
    another arrival order."""
    shift = timedelta(minutes=minutes)

    def arrival(indexed: tuple[int, Signal]) -> tuple[datetime, int]:
        position, signal = indexed
        at = _stamp(signal)
        return (at + shift if signal.get("type") == "meter" else at, position)

    return [signal for _, signal in sorted(enumerate(signals), key=arrival)]


def _stamp(signal: Signal) -> datetime:
    stamp = signal.get("ts") or signal.get("start")
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))


def lateness(signals: Sequence[Signal], bound_minutes: float) -> tuple[float, int]:
    """How late an arrival order delivers its signals: the most minutes a signal's own time
    lies behind the latest time already delivered, and how many lie more than
    ``bound_minutes`` behind (an engine promises the same answer only within its bound)."""
    latest: datetime | None = None
    worst = 0.0
    beyond = 0
    for signal in signals:
        at = _stamp(signal)
        if latest is not None:
            behind = (latest - at).total_seconds() / 60
            worst = max(worst, behind)
            beyond += behind > bound_minutes
        latest = at if latest is None or at > latest else latest
    return worst, beyond


def incident_keys(state: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """What "the same final incidents" compares: device, status, sorted calls, started,
    restored — one tuple per listed incident, sorted."""
    return sorted(
        (
            i["device"],
            i["status"],
            tuple(sorted(i["calls"])),
            i["started"] or "",
            i["restored"] or "",
        )
        for i in state["incidents"]
    )


def differing(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
    """Incidents of either state with no identical incident in the other (multiset)."""
    left, right = incident_keys(a), incident_keys(b)
    pool: dict[tuple[Any, ...], int] = {}
    for key in left:
        pool[key] = pool.get(key, 0) + 1
    unmatched = 0
    for key in right:
        if pool.get(key, 0) > 0:
            pool[key] -= 1
        else:
            unmatched += 1
    return unmatched + sum(pool.values())
