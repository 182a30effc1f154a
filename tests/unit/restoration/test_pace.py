"""The storm's pace (total time on test) against a brute-force simulation of crews working a
queue whose jobs take a known multiple of what the history expects, and the busy-time integral
against a fine grid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from outage.restoration.pace import StormPace

T0 = datetime(2024, 7, 1, 8, 0, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _simulate(
    pace: float, crews: int, jobs: int, seed: int, until: float
) -> tuple[StormPace, float]:
    """``crews`` crews work ``jobs`` orders, all ready at 0, first come first served; job i
    is expected (by the history) to take E_i and takes pace x E_i x Exp(1). The estimator is
    fed only what the desk would see: orders opening, the ready times of the orders still
    open, and restorations — never the durations. Returns it at ``until`` and the true pace."""
    rng = np.random.default_rng(seed)
    expected = rng.uniform(30.0, 300.0, jobs)
    took = pace * expected * rng.exponential(1.0, jobs)
    free = np.zeros(crews)
    done = np.empty(jobs)
    for i in range(jobs):  # FIFO, to the crew free first
        k = int(np.argmin(free))
        free[k] += took[i]
        done[i] = free[k]
    estimator = StormPace(prior_weight=0.0)
    for e in expected:
        estimator.opened(float(e))
    estimator.advance(_at(0), 0, crews, [])
    open_ = set(range(jobs))
    for i in sorted(range(jobs), key=lambda j: done[j]):
        if done[i] > until:
            break
        estimator.advance(_at(float(done[i])), 0, crews, [_at(0)] * len(open_))
        open_.discard(i)
        estimator.finished_job(float(expected[i]))
    estimator.advance(_at(until), 0, crews, [_at(0)] * len(open_))
    return estimator, pace


@pytest.mark.parametrize("pace", [0.6, 1.0, 2.5])
def test_the_pace_of_a_long_storm_is_found_whatever_it_is(pace: float) -> None:
    estimates = []
    for seed in range(20):
        estimator, _ = _simulate(pace, crews=6, jobs=400, seed=seed, until=1e9)
        estimates.append(estimator.factor)
    assert np.mean(estimates) == pytest.approx(pace, rel=0.03)


def test_jobs_still_being_worked_count_so_the_early_estimate_is_not_too_short() -> None:
    # Half-way through, a mean of the finished jobs alone would be biased short (the long
    # ones are still running); total time on test counts them with the time spent so far.
    estimates, naive = [], []
    for seed in range(200):
        estimator, _ = _simulate(2.0, crews=6, jobs=60, seed=seed, until=300.0)
        if estimator.finished >= 3:
            estimates.append(estimator.factor)
    assert 1.8 < float(np.median(estimates)) < 2.3
    # the naive ratio for comparison, from the same simulation: finished jobs only
    for seed in range(200):
        rng = np.random.default_rng(seed)
        expected = rng.uniform(30.0, 300.0, 60)
        took = 2.0 * expected * rng.exponential(1.0, 60)
        short = [t / e for t, e in zip(took, expected, strict=True) if t < 300.0]
        if len(short) >= 3:
            naive.append(float(np.mean(short)))
    assert float(np.median(naive)) < 1.5


def test_the_historys_word_counts_as_prior_weight_jobs_at_its_own_pace() -> None:
    estimator = StormPace(prior_weight=10.0)
    assert estimator.factor == 1.0  # no storm yet
    for _ in range(4):
        estimator.opened(100.0)
    assert estimator.factor == 1.0  # orders, but no time on test yet
    estimator.advance(_at(0), 0, 2, [])
    estimator.advance(_at(300), 0, 2, [_at(0)] * 4)  # two crews busy 300 min: 600
    estimator.finished_job(100.0)
    estimator.finished_job(100.0)
    # (10 x 100 + 600) / (10 x 100 + 200), by hand
    assert estimator.factor == pytest.approx(1600 / 1200)


def test_busy_time_is_the_integral_of_min_crews_ready_orders() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        crews = int(rng.integers(1, 6))
        reporting_busy = int(rng.integers(0, 3))
        ready = [float(x) for x in rng.uniform(-30.0, 120.0, int(rng.integers(0, 12)))]
        estimator = StormPace(prior_weight=1.0)
        estimator.advance(_at(0), 0, crews, [])
        estimator.advance(_at(100), reporting_busy, crews, [_at(r) for r in ready])
        grid = np.arange(0.0, 100.0, 0.001) + 0.0005
        counts = np.array([sum(r <= t for r in ready) for t in grid[::100]])
        brute = float(np.sum(np.minimum(counts, crews) + reporting_busy) * 0.1)
        assert estimator.busy_minutes == pytest.approx(brute, abs=0.5)
