"""The wall ticker: event time follows the wall clock on a quiet night, so an overdue work
order escalates at its deadline, not at the next call."""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson

from outage.api.runtime import Runtime
from outage.api.ticker import WallTicker
from outage.bootstrap import Network
from outage.signals import parse_signal

from .helpers import T0, call, fuse_with_transformers, premise_of


class FakeClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def test_a_tick_moves_event_time_on_and_the_deadline_escalates(
    runtime: Runtime, network: Network
) -> None:
    _, transformers = fuse_with_transformers(network)
    runtime.submit(
        [parse_signal(call(premise_of(network, t), i)) for i, t in enumerate(transformers)]
    )
    (order,) = runtime.restoration()["work_orders"]
    due = datetime.fromisoformat(order["arrival"]["due"])
    clock = FakeClock(due + timedelta(seconds=40))
    ticker = WallTicker(runtime, 30, clock)
    assert ticker.tick_once()
    assert runtime.engine.now == clock.at.replace(microsecond=0)
    (late,) = runtime.restoration()["work_orders"]
    assert late["clock"] == "red" and late["escalations"][-1]["level"] == "breach"
    # Event time is current: no tick; and a second process in the same slot is a duplicate.
    assert not ticker.tick_once()
    clock.at += timedelta(seconds=31)
    other = WallTicker(runtime, 30, clock)
    assert other.tick_once() is True
    assert WallTicker(runtime, 30, FakeClock(clock.at + timedelta(hours=1))).tick_once()
    # The ticks are journaled signals: a replay fires the same escalation.
    assert runtime.journal is not None
    kinds = [orjson.loads(body)["type"] for _, body in runtime.journal.messages()]
    assert kinds.count("tick") == 3


def test_a_tick_before_any_signal_is_harmless(runtime: Runtime) -> None:
    assert WallTicker(runtime, 30, FakeClock(T0)).tick_once()
    assert runtime.engine.now == T0
    assert runtime.restoration()["work_orders"] == []
