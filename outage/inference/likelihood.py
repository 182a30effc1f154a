"""The likelihood model: what an open device makes customers and meters do.

Hypothesis: a set of open assets; an open asset de-energises every premise below it. For one
open asset ``v`` whose outage began at ``s`` (its earliest report) the evidence of the premises
below it is scored against the alternative that they all have power (the baseline every
score is relative to, so a closed asset with nothing open below scores 0):

* **calls** — each out premise calls with a share ρ that is unknown per outage, Beta(a, b)
  over outages, and by ``now`` with probability ``F(now − s)``, F the lognormal delay CDF.
  With k premises reporting and m silent, integrating ρ out (silence thinned by F, the
  first-order form of (1 − ρF)^m ≈ (1 − ρ)^{mF}) gives
  ``log B(a + k, b + m·F) − log B(a, b)``; under the baseline the k reports are noise at
  ``noise_share`` each, so the term adds ``− k·log(noise_share)``. Silence is evidence: many
  quiet premises below a device drive its score down, more so as the outage ages.
* **report kinds** — each reporting premise adds the ``kind_llr`` of its most specific report;
  flicker/"other" reporters add ``weak_llr`` without counting as callers.
* **service drops** — a transformer node also stands for one premise's own service: with a
  single premise reporting, its score mixes "the transformer" with "that premise alone"
  (``service_share``), so a lone report is not undone by its neighbours' silence.
* **meters** — on a feeder whose meters are known to report (a meter message from it was
  seen), each out premise's last gasp reaches us with a share that is Beta over outages
  (mean ``last_gasp_delivery``), so g gasps among n premises score
  ``log B(c + g, d + n − g) − log B(c, d) − g·log(false_rate)``: silent meters count
  against. A feeder whose meters never reported says nothing by its meters. Each premise
  below whose meter said "power restored" after ``s`` adds ``power_restored_llr``
  (near-certain against: one is enough to undo a weak prediction, a crew's restoration —
  most meters below reporting — undoes any).

Scores are returned in micro-nats as integers, so that sums over the tree are exact and do
not depend on the order evidence arrived in.
"""

from __future__ import annotations

import math

from outage.rules import InferenceModel

MICRO = 1_000_000
#: The delay CDF is treated as settled (silence no longer grows) above this value.
SETTLED = 0.99
#: The standard normal quantile of `SETTLED`.
_Z_SETTLED = 2.3263478740408408


def micro(nats: float) -> int:
    """Nats as integer micro-nats."""
    return round(nats * MICRO)


def _silence_gain(c: float, d: float) -> float:
    """The most that one silent meter fewer (and one gasp more) can add to the Beta part of
    `Likelihood.meters_term` at any lag CDF G in [0, 1], beyond log(c + g): lgamma(S − G) −
    lgamma(S) and lgamma(T) − lgamma(T + 1 − G) fall as S and T grow (lgamma is convex), so
    their largest values are at S = d + G and T = c + d; the grid's step is covered by the
    margin (both are smooth with slopes below 2 there)."""
    grid = [i / 400 for i in range(401)]
    silence = max(math.lgamma(d) - math.lgamma(d + x) for x in grid)
    total = max(math.lgamma(c + d) - math.lgamma(c + d + 1 - x) for x in grid)
    return silence + total + 0.01


class Likelihood:
    """Precomputed constants of an `InferenceModel` and the per-asset score.

    The hot path scores one node per tree level on every new report, so the Beta functions
    come from lgamma tables at integer offsets wherever the arguments allow (they all do but
    the thinned silence of a young outage).
    """

    def __init__(self, model: InferenceModel) -> None:
        share = model.call_share
        self.a = a = share.mean * share.concentration
        self.b = b = (1.0 - share.mean) * share.concentration
        self.log_beta_ab = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
        self.log_noise = math.log(model.noise_share)
        sigma = model.call_delay.sigma
        self.delay_mu = mu = math.log(model.call_delay.median_minutes * 60.0)
        self.delay_scale = sigma * math.sqrt(2.0)
        # F(τ) = SETTLED at τ = exp(mu + sigma·z), z the standard normal quantile of SETTLED.
        self.call_settle_seconds = int(math.exp(mu + sigma * _Z_SETTLED)) + 1
        lag = model.last_gasp_lag
        self.lag_mu = lag_mu = math.log(lag.median_minutes * 60.0)
        self.lag_scale = lag.sigma * math.sqrt(2.0)
        self.lag_settle_seconds = int(math.exp(lag_mu + lag.sigma * _Z_SETTLED)) + 1
        #: Silence of callers and of meters no longer grows after this long.
        self.settle_seconds = max(self.call_settle_seconds, self.lag_settle_seconds)
        self.gasp_c = c = model.last_gasp_delivery * model.last_gasp_concentration
        self.gasp_d = d = (1.0 - model.last_gasp_delivery) * model.last_gasp_concentration
        self.log_beta_gasp = math.lgamma(c) + math.lgamma(d) - math.lgamma(c + d)
        self.log_gasp_false = math.log(model.last_gasp_false)
        self.log_transformer = math.log1p(-model.service_share)
        self.log_service = math.log(model.service_share)
        #: An outage began this long before its first call: the mode of the delay lognormal.
        self.lead_seconds = int(model.call_delay.median_minutes * 60 * math.exp(-(sigma**2)))
        self.restored_llr = model.power_restored_llr
        #: The largest kind factor a report can add (micro-nats).
        self.max_kind = max(0, micro(max(model.kind_llr.values())))
        # lgamma(base + i) for i = 0, 1, ...: grown on demand.
        self._la: list[float] = []
        self._lb: list[float] = []
        self._lab: list[float] = []
        self._lc: list[float] = []
        self._ld: list[float] = []
        self._lcd: list[float] = []
        self._grow(64)
        #: `report_gain` and `gasp_gain` by their integer argument (the hot path's bounds).
        self._gasp_silence_gain = _silence_gain(self.gasp_c, self.gasp_d)
        self.report_gains: list[int] = []
        self.gasp_gains: list[int] = []
        self.grow_gains(64)
        # One premise alone: its call term when it called, its meter term when it gasped.
        self._single_called = self.calls_term(1, 0, self.call_settle_seconds)
        self._single_gasp = (
            self.meters_term(1, 1, self.lag_settle_seconds),
            self.meters_term(0, 1, self.lag_settle_seconds),
        )

    @classmethod
    def of(cls, model: InferenceModel) -> Likelihood:
        """The constants of ``model``."""
        return cls(model)

    def _grow(self, n: int) -> None:
        size = max(n + 1, 2 * len(self._la))
        for table, base in (
            (self._la, self.a),
            (self._lb, self.b),
            (self._lab, self.a + self.b),
            (self._lc, self.gasp_c),
            (self._ld, self.gasp_d),
            (self._lcd, self.gasp_c + self.gasp_d),
        ):
            table.extend(math.lgamma(base + i) for i in range(len(table), size))

    def grow_gains(self, n: int) -> None:
        """Extend the tables of `report_gain` and `gasp_gain` to cover ``n``."""
        size = max(n + 1, 2 * len(self.report_gains))
        self.report_gains.extend(self.report_gain(k) for k in range(len(self.report_gains), size))
        self.gasp_gains.extend(self.gasp_gain(g) for g in range(len(self.gasp_gains), size))

    def report_gain(self, k: int) -> int:
        """An upper bound (micro-nats) on how much one more reporting premise, the k-th, can
        raise `calls_term`: log(a + k − 1) − log(noise); silence only ever lowers it."""
        return micro(math.log(self.a + k) - self.log_noise) + self.max_kind

    def gasp_gain(self, g: int) -> int:
        """An upper bound (micro-nats) on how much the g-th last gasp can raise
        `meters_term`: log(c + g) − log(false_rate), plus the most one silent meter fewer can
        add to the Beta function at any lag CDF G (settled, G = 1: −log d)."""
        return micro(math.log(self.gasp_c + g) + self._gasp_silence_gain - self.log_gasp_false)

    def delay_cdf(self, seconds: float) -> float:
        """Probability that a caller who will call has called ``seconds`` after the outage.

        Exactly 1 from ``call_settle_seconds`` on, so that an outage's score stops changing at
        a known moment and a node last weighed after it never needs weighing again.
        """
        if seconds <= 0:
            return 0.0
        if seconds >= self.call_settle_seconds:
            return 1.0
        return 0.5 * (1.0 + math.erf((math.log(seconds) - self.delay_mu) / self.delay_scale))

    def lag_cdf(self, seconds: float) -> float:
        """Probability that a last gasp that will reach us has reached us ``seconds`` after
        the outage (exactly 1 from ``lag_settle_seconds`` on, as `delay_cdf`)."""
        if seconds <= 0:
            return 0.0
        if seconds >= self.lag_settle_seconds:
            return 1.0
        return 0.5 * (1.0 + math.erf((math.log(seconds) - self.lag_mu) / self.lag_scale))

    def lgamma_at(self, base: float, n: int) -> float:
        """``lgamma(base + n)`` for an integer ``n >= 0`` (from a table for the model's own
        bases)."""
        return math.lgamma(base + n)

    def calls_term(self, k: int, m: int, elapsed: float) -> float:
        """Call-channel log-likelihood ratio of k reporting and m silent premises (nats)."""
        if k + m >= len(self._la):
            self._grow(k + m)
        settled = self.delay_cdf(elapsed)
        if settled == 1.0:
            beta = self._la[k] + self._lb[m] - self._lab[k + m]
        else:
            silent = self.b + m * settled
            beta = self._la[k] + math.lgamma(silent) - math.lgamma(self.a + k + silent)
        return beta - self.log_beta_ab - k * self.log_noise

    def meters_term(self, g: int, metered: int, elapsed: float) -> float:
        """Meter-channel log-likelihood ratio of g last gasps among ``metered`` premises known
        to have reporting meters, ``elapsed`` seconds into the outage (nats): the silent
        meters thinned by the lag CDF, as silent callers are by the delay CDF."""
        if metered <= 0:
            return 0.0
        if metered >= len(self._lc):
            self._grow(metered)
        arrived = self.lag_cdf(elapsed)
        if arrived == 1.0:
            beta = self._lc[g] + self._ld[metered - g] - self._lcd[metered]
        else:
            silent = self.gasp_d + (metered - g) * arrived
            beta = self._lc[g] + math.lgamma(silent) - math.lgamma(self.gasp_c + g + silent)
        return beta - self.log_beta_gasp - g * self.log_gasp_false

    def score(
        self,
        k: int,
        m: int,
        elapsed: float,
        kind_micro: int,
        gasps: int,
        metered: int,
        restored: int,
    ) -> int:
        """Log-likelihood ratio (micro-nats) of 'this asset is open' over 'all have power';
        ``restored`` premises below say (by meter) they have power since it began."""
        nats = self.calls_term(k, m, elapsed)
        if metered > 0:
            nats += self.meters_term(gasps, metered, elapsed)
        if restored:
            nats += restored * self.restored_llr
        return round(nats * MICRO) + kind_micro

    def score_transformer(
        self,
        k: int,
        m: int,
        elapsed: float,
        kind_micro: int,
        gasps: int,
        metered: int,
        restored: int,
        reporting: int,
        single_metered: bool,
    ) -> int:
        """`score` for a transformer node, which also stands for one premise's service drop:
        with a single premise reporting (metered or not), a mixture of the two."""
        whole, single = self.transformer_halves(
            k, m, elapsed, kind_micro, gasps, metered, restored, reporting, single_metered
        )
        if single is None:
            return round(whole * MICRO)
        high, low = (whole, single) if whole >= single else (single, whole)
        return round((high + math.log1p(math.exp(low - high))) * MICRO)

    def transformer_halves(
        self,
        k: int,
        m: int,
        elapsed: float,
        kind_micro: int,
        gasps: int,
        metered: int,
        restored: int,
        reporting: int,
        single_metered: bool,
    ) -> tuple[float, float | None]:
        """The two halves of `score_transformer` (nats): "the whole transformer is out" and,
        with a single premise reporting, "that premise's own service alone" (else None)."""
        whole = self.score(k, m, elapsed, kind_micro, gasps, metered, restored) / MICRO
        whole += self.log_transformer
        if reporting != 1:
            return whole, None
        # One premise out on its own: its evidence alone, nobody else's silence.
        single = self._single_called if k else self.calls_term(0, 1, elapsed)
        if single_metered:
            single += self.meters_term(1 if gasps else 0, 1, elapsed)
        single += kind_micro / MICRO + self.log_service
        return whole, single
