"""Fit the inference's evidence model to outages the engine has seen restored.

The likelihood (`outage.inference.likelihood`) needs three things about how customers and
meters behave: the share of an outage's premises that call (a Beta over outages), how long
after the outage a caller first calls (a lognormal), and the share of premises whose last gasp
reaches us (a Beta over outages). The defaults are guesses from hotline practice; a utility's
own history says better. This module reads them off *confirmed* outages — restored by a crew,
SCADA or an officer, so the asset and the premises out are known, not predicted — each
reduced to an `OutageSample`:

* the **call delay** is fit where the outage's start is a fact rather than its first call (a
  last gasp or a SCADA trip dated it): maximum likelihood of a lognormal over every calling
  premise's first call after that start;
* the **call share** and the **last-gasp delivery** are Beta-binomial maximum likelihood over
  the outages (k of n premises called; g of n sent a gasp), mean and concentration found on a
  grid (a few thousand evaluations of log-Beta functions, no optimiser needed).

Calls after restoration are not counted, so a very slow caller of a short outage is missing
from both the share and the delays (both lean low when outages are short next to the delay).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from outage.rules import CallDelay, CallShare, InferenceModel

#: Fewer than these and the base value is kept (too little to fit).
MIN_DELAYS = 20
MIN_OUTAGES = 5
#: The grids the Beta-binomial fits search: means, and concentrations spaced by ratio.
_MEANS = [i / 200 for i in range(1, 200)]
_CONCENTRATIONS = [0.6 * 1.15**i for i in range(0, 53)]  # 0.6 .. ~990


@dataclass(frozen=True)
class OutageSample:
    """One confirmed outage, as the fit sees it."""

    #: Premises below the restored asset (every one was out).
    premises: int
    #: Premises that called before restoration.
    callers: int
    #: Seconds from the outage's dated start to each calling premise's first call (empty when
    #: the start was only the first call itself).
    delays: tuple[float, ...] = ()
    #: Premises whose last gasp arrived; None where the feeder's meters do not report.
    gasps: int | None = None


@dataclass(frozen=True)
class Fitted:
    """The fitted parameters and what each was fit from (0: the base value kept)."""

    model: InferenceModel
    outages: int
    delays: int
    metered_outages: int


def fit_model(samples: Iterable[OutageSample], base: InferenceModel) -> Fitted:
    """``base`` with its call share, call delay and last-gasp delivery fit to ``samples``."""
    rows = [s for s in samples if s.premises > 0]
    delays = [d for s in rows for d in s.delays if d > 0]
    metered = [s for s in rows if s.gasps is not None]
    update: dict[str, object] = {}
    if len(delays) >= MIN_DELAYS:
        update["call_delay"] = _lognormal(delays)
    if len(rows) >= MIN_OUTAGES:
        mean, concentration = beta_binomial([(s.callers, s.premises) for s in rows])
        update["call_share"] = CallShare(mean=mean, concentration=concentration)
    if len(metered) >= MIN_OUTAGES:
        mean, concentration = beta_binomial([(s.gasps or 0, s.premises) for s in metered])
        update["last_gasp_delivery"] = mean
        update["last_gasp_concentration"] = concentration
    return Fitted(
        base.model_copy(update=update),
        outages=len(rows) if "call_share" in update else 0,
        delays=len(delays) if "call_delay" in update else 0,
        metered_outages=len(metered) if "last_gasp_delivery" in update else 0,
    )


def _lognormal(delays: Sequence[float]) -> CallDelay:
    """Maximum-likelihood lognormal of ``delays`` (seconds), as a `CallDelay` (minutes)."""
    logs = [math.log(d) for d in delays]
    mu = sum(logs) / len(logs)
    sigma = math.sqrt(sum((x - mu) ** 2 for x in logs) / len(logs))
    median = min(max(math.exp(mu) / 60.0, 0.1), 24 * 60)
    return CallDelay(median_minutes=round(median, 2), sigma=round(min(max(sigma, 0.05), 4.0), 3))


def beta_binomial(counts: Sequence[tuple[int, int]]) -> tuple[float, float]:
    """(mean, concentration) of the Beta that maximises the Beta-binomial likelihood of
    ``counts`` (successes, trials), on a grid of means and concentrations."""
    # Outages of one size with as many callers score alike: each distinct pair once.
    distinct = Counter(counts).items()
    best = (-math.inf, 0.5, 1.0)
    for concentration in _CONCENTRATIONS:
        for mean in _MEANS:
            a, b = mean * concentration, (1.0 - mean) * concentration
            log_ab = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
            total = 0.0
            for (k, n), times in distinct:
                pair = math.lgamma(a + k) + math.lgamma(b + n - k) - math.lgamma(a + b + n)
                total += times * pair
            total -= len(counts) * log_ab
            if total > best[0]:
                best = (total, mean, concentration)
    return best[1], round(best[2], 2)
