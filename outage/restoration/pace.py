"""The storm's pace: how much longer this storm's crew work takes than the history says.

A history table (the shipped default, or one fit from earlier storms) says how long a storm
job's crew work takes: mobilising, driving and repairing. This storm may be worse or milder
than those, and until now the queue kept quoting from the table for as long as it lasted, even
when the crews had been taking twice as long since the first hour. The storm itself measures
it: its crews have been busy for ``U`` crew-minutes, and they finished jobs the table expected
to take ``E₁ + … + E_k`` crew-minutes. The ratio is the *total time on test* estimator of a life
test with censoring (Epstein & Sobel, 1953): jobs still being worked count with the time spent
on them, finished or not, so it is not biased towards the short jobs that finish first, as a
mean of finished durations would be.

The table's own word counts as ``w`` jobs done at its pace (``w`` = the history's
``prior_weight``, the same trust the history fit gives it against data), so

    pace = (w·Ē + U) / (w·Ē + E₁ + … + E_k)

with Ē the table's mean crew work of this storm's orders: 1 before any evidence, and it moves
to the storm's measured pace as jobs finish. The storm queue multiplies every crew-work time
by it (`outage.restoration.estimate.Estimator.pace`), and its quoted quantile carries the
pace's own uncertainty (`StormPace.log_variance`): a table's word about *this* storm is worth
``w`` jobs, not certainty.

``U`` is the crews' own word where they give it: a crew that reports its statuses is busy
from "dispatched" to "available". A crew that never reports is counted from what the desk
knows: it works while an order nobody reported taking is ready for a crew (opened, and the
usual dispatch delay past), so those crews' busy count is min(crews on shift, orders ready) —
what a work-conserving dispatcher does. It over-counts while a crew is idle with orders
waiting, which a storm dispatcher avoids, and for tickets no crew is sent to at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from outage.restoration.orders import minutes_between


@dataclass
class StormPace:
    """The running estimate of one storm's pace (module docstring)."""

    #: pseudo-jobs done at the history's pace
    prior_weight: float
    #: crew-minutes the crews have been busy since the storm's first order
    busy_minutes: float = 0.0
    #: crew-minutes the history expected for the jobs finished
    expected_done: float = 0.0
    #: expected crew-minutes per job: their sum and count, over the storm's orders
    expected_sum: float = 0.0
    orders: int = 0
    finished: int = 0
    since: datetime | None = None

    @property
    def factor(self) -> float:
        """The pace: 1.0 before any evidence, > 1 when crews are slower than the history."""
        prior = self.prior_weight * self.expected_sum / self.orders if self.orders else 0.0
        if prior + self.expected_done <= 0.0:
            return 1.0
        return (prior + self.busy_minutes) / (prior + self.expected_done)

    @property
    def log_variance(self) -> float:
        """How uncertain the pace is, as the variance of its logarithm: the rate of a life
        test's Gamma posterior after ``w + k`` jobs has Var(log) ≈ 1 / (w + k). One factor
        stretches all of a storm's work at once, so this spread does not shrink with the
        number of jobs in a crew's queue, as their own spreads do."""
        jobs = self.prior_weight + self.finished
        return 1.0 / jobs if jobs > 0 else 0.0

    def opened(self, expected_minutes: float) -> None:
        """A storm order opened whose crew work the history puts at ``expected_minutes``."""
        self.expected_sum += expected_minutes
        self.orders += 1

    def finished_job(self, expected_minutes: float) -> None:
        """A storm order was restored (its crew work, as the history put it when it opened)."""
        self.expected_done += expected_minutes
        self.finished += 1

    def advance(
        self, now: datetime, busy_crews: int, crews: int, ready: Iterable[datetime]
    ) -> None:
        """Count the crews' busy time from the last call to ``now``: ``busy_crews`` that said
        they are on a job, and ``crews`` more on shift that do not report, working while
        orders are ready — the waiting orders being ready from the times in ``ready``.
        Everything is as it was since the last call: the desk advances before every change."""
        if self.since is None:
            self.since = now  # counting starts here
            return
        if now <= self.since:
            return
        total = minutes_between(self.since, now)
        # the ready count steps up by one at each order's ready time
        steps = sorted(max(minutes_between(self.since, r), 0.0) for r in ready)
        steps = [at for at in steps if at < total]
        busy = busy_crews * total
        for k, at in enumerate(steps):
            following = steps[k + 1] if k + 1 < len(steps) else total
            busy += min(k + 1, crews) * (following - at)
        self.busy_minutes += busy
        self.since = now
