"""The storm's pace through the desk: crews that report how long their jobs take teach the
storm queue, so the orders still waiting are quoted from this storm's pace, not the table's."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outage.bootstrap import Network, build_engine
from outage.commands import Command
from outage.restoration.roster import Crew, Point, Roster

from .conftest import T0, Driver


def _outages(city: Network, count: int) -> list[int]:
    """Transformers under different devices (separate outages)."""
    topo = city.topology
    by_device: dict[int, int] = {}
    for t in range(len(topo.transformer_ids)):
        by_device.setdefault(topo.transformer_device[t], t)
    return list(by_device.values())[:count]


def _storm_with_one_crew(city: Network, job_minutes: float, jobs: int) -> Driver:
    """Five outages in a storm; the one crew does ``jobs`` of them, each taking
    ``job_minutes`` from its dispatch to the restore."""
    roster = Roster(crews=(Crew(id="C1", depot=Point(lon=113.3, lat=23.1)),))
    driver = Driver(build_engine(city, roster=roster))
    driver.events += driver.engine.handle(
        Command(id="storm", ts=T0, by="officer", action="rule_set", rule_set="storm")
    )
    for k, transformer in enumerate(_outages(city, 5)):
        driver.call(0.5 + 0.1 * k, driver.premise_of(transformer))
    driver.send(1.5, type="tick")
    minute = 2.0
    for _ in range(jobs):
        # the crew takes the order the desk has waited longest for among those still open
        incident = min(driver.open_incidents(), key=lambda i: (i.started, i.id))
        driver.send(minute, type="crew", crew="C1", status="dispatched", incident=incident.id)
        minute += job_minutes
        driver.send(minute, type="restore", device=incident.asset)
        minute += 1.0
    driver.send(minute + 1.0, type="tick")
    return driver


def _minutes_to_etrs(driver: Driver) -> list[float]:
    now = driver.engine.now
    assert now is not None
    return sorted(
        (i.etr - now) / timedelta(minutes=1) for i in driver.open_incidents() if i.etr is not None
    )


def test_the_crews_busy_time_is_what_they_reported(city: Network) -> None:
    driver = _storm_with_one_crew(city, job_minutes=400.0, jobs=1)
    pace = driver.engine.restoration.pace
    # dispatched at minute 2, restored at 402: 400 crew-minutes, by hand
    assert pace.busy_minutes == pytest.approx(400.0)
    assert pace.finished == 1


def test_slow_crews_push_the_waiting_orders_later_and_fast_ones_bring_them_in(
    city: Network,
) -> None:
    slow = _storm_with_one_crew(city, job_minutes=600.0, jobs=3)
    fast = _storm_with_one_crew(city, job_minutes=15.0, jobs=3)
    assert slow.engine.restoration.pace.factor > 1.0 > fast.engine.restoration.pace.factor
    slow_waits, fast_waits = _minutes_to_etrs(slow), _minutes_to_etrs(fast)
    assert len(slow_waits) == len(fast_waits) == 2  # the same two orders still wait
    assert all(s > f for s, f in zip(slow_waits, fast_waits, strict=True))
    desk = slow.engine.restoration
    assert all("crews' pace ×" in desk.basis[i.id] for i in slow.open_incidents())
