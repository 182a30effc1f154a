"""Work not yet reported: the delay-cycle wait checked against a brute-force simulation of a
priority queue, and the storm plan quoting a small order later while larger ones keep coming."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from outage.restoration.arrivals import NO_ARRIVALS, ArrivalLoad

from .test_estimate import T0, _crew, _estimator, _history, _order


def _simulated_start(
    ahead: float, rate: float, service: float, horizon: float, runs: int, seed: int
) -> float:
    """Mean time until one server that has ``ahead`` minutes of work first falls idle, while
    higher-priority jobs (exponential service, mean ``service``) arrive as a Poisson process
    of ``rate`` per minute during the first ``horizon`` minutes: brute force, event by event."""
    rng = np.random.default_rng(seed)
    starts = []
    for _ in range(runs):
        free_at, t = ahead, 0.0
        while True:
            t += rng.exponential(1.0 / rate)
            if t >= min(free_at, horizon):
                break  # the server emptied first (or the storm ended): the order starts
            free_at += rng.exponential(service)
        starts.append(free_at)
    return float(np.mean(starts))


def _load(rate: float, service: float, elapsed: float, crews: int = 1) -> ArrivalLoad:
    # every recent order is larger than the one asked about (customers 0)
    return ArrivalLoad(rate, (10,), service, crews, elapsed)


@pytest.mark.parametrize(
    ("ahead", "rate", "service", "horizon"),
    [
        (60.0, 0.01, 30.0, 1e9),  # ρ = 0.3, arrivals for ever: the busy period W / (1 − ρ)
        (60.0, 0.02, 30.0, 1e9),  # ρ = 0.6
        (100.0, 0.05, 40.0, 50.0),  # ρ = 2 (crews outrun): only the horizon's work, W + ρR
    ],
)
def test_wait_matches_a_simulated_priority_queue(
    ahead: float, rate: float, service: float, horizon: float
) -> None:
    expected = _simulated_start(ahead, rate, service, horizon, runs=20_000, seed=7)
    assert _load(rate, service, horizon).wait(0, ahead) == pytest.approx(expected, rel=0.03)


def test_only_larger_orders_go_ahead() -> None:
    load = ArrivalLoad(0.02, (1, 5, 5, 20), 30.0, 1, 1e9)
    assert load.higher_share(5) == 0.25  # a tie goes to the older order
    assert load.wait(20, 60.0) == 60.0  # the largest: nothing comes ahead
    assert load.wait(1, 60.0) > load.wait(5, 60.0) > 60.0
    assert NO_ARRIVALS.wait(1, 60.0) == 60.0


def test_storm_plan_quotes_a_small_order_later_while_larger_orders_keep_coming() -> None:
    estimator = _estimator(_history(60.0, 0.3))
    now = T0 + timedelta(minutes=60)
    big, small = _order("BIG", 5.0, 50, opened=now), _order("SMALL", 5.0, 2, opened=now)
    # in the last hour: six orders larger than SMALL, one every ten minutes
    recent = [_order(f"R{i}", 5.0, 30, opened=T0 + timedelta(minutes=10 * i)) for i in range(6)]
    crews = [_crew("X", 0.0)]
    quiet = estimator.plan([big, small], crews, {}, now, {})
    busy = estimator.plan([big, small], crews, {}, now, {}, [*recent, big, small], T0)
    assert busy["BIG"].etr == quiet["BIG"].etr  # nothing larger is coming
    assert busy["SMALL"].etr > quiet["SMALL"].etr + timedelta(minutes=30)
    oldest = _estimator(_history(60.0, 0.3), storm_dispatch="oldest")
    fifo = oldest.plan([big, small], crews, {}, now, {}, [*recent, big, small], T0)
    assert fifo == oldest.plan([big, small], crews, {}, now, {})  # later orders never go first
