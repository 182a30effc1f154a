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
from dataclasses import dataclass, field

from outage.rules import InferenceModel

MICRO = 1_000_000
#: The delay CDF is treated as settled (silence no longer grows) above this value.
SETTLED = 0.99
#: The standard normal quantile of `SETTLED`.
_Z_SETTLED = 2.3263478740408408


def micro(nats: float) -> int:
    """Nats as integer micro-nats."""
    return round(nats * MICRO)


@dataclass(frozen=True, slots=True)
class Likelihood:
    """Precomputed constants of an `InferenceModel` and the per-asset score."""

    a: float
    b: float
    log_beta_ab: float
    log_noise: float
    delay_mu: float
    delay_scale: float
    settle_seconds: int
    gasp_c: float
    gasp_d: float
    log_beta_gasp: float
    log_gasp_false: float
    log_transformer: float
    log_service: float
    lead_seconds: int
    restored_llr: float
    #: lgamma at (base + integer), grown on demand: most arguments are integer offsets.
    _tables: dict[float, list[float]] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, model: InferenceModel) -> Likelihood:
        """The constants of ``model``."""
        share = model.call_share
        a = share.mean * share.concentration
        b = (1.0 - share.mean) * share.concentration
        mu = math.log(model.call_delay.median_minutes * 60.0)
        sigma = model.call_delay.sigma
        # F(τ) = SETTLED at τ = exp(mu + sigma·z), z the standard normal quantile of SETTLED.
        z = _Z_SETTLED
        gasp_c = model.last_gasp_delivery * model.last_gasp_concentration
        gasp_d = (1.0 - model.last_gasp_delivery) * model.last_gasp_concentration
        return cls(
            a=a,
            b=b,
            log_beta_ab=math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b),
            log_noise=math.log(model.noise_share),
            delay_mu=mu,
            delay_scale=sigma * math.sqrt(2.0),
            settle_seconds=int(math.exp(mu + sigma * z)) + 1,
            gasp_c=gasp_c,
            gasp_d=gasp_d,
            log_beta_gasp=math.lgamma(gasp_c) + math.lgamma(gasp_d) - math.lgamma(gasp_c + gasp_d),
            log_gasp_false=math.log(model.last_gasp_false),
            log_transformer=math.log1p(-model.service_share),
            log_service=math.log(model.service_share),
            lead_seconds=int(model.call_delay.median_minutes * 60 * math.exp(-(sigma**2))),
            restored_llr=model.power_restored_llr,
        )

    def delay_cdf(self, seconds: float) -> float:
        """Probability that a caller who will call has called ``seconds`` after the outage.

        Exactly 1 from ``settle_seconds`` on, so that an outage's score stops changing at a
        known moment and a node last weighed after it never needs weighing again.
        """
        if seconds <= 0:
            return 0.0
        if seconds >= self.settle_seconds:
            return 1.0
        return 0.5 * (1.0 + math.erf((math.log(seconds) - self.delay_mu) / self.delay_scale))

    def lgamma_at(self, base: float, n: int) -> float:
        """``lgamma(base + n)`` for an integer ``n >= 0``, from a table."""
        table = self._tables.get(base)
        if table is None:
            table = self._tables[base] = []
        if n >= len(table):
            table.extend(
                math.lgamma(base + i) for i in range(len(table), max(n + 1, 2 * len(table)))
            )
        return table[n]

    def calls_term(self, k: int, m: int, elapsed: float) -> float:
        """Call-channel log-likelihood ratio of k reporting and m silent premises (nats)."""
        lg = self.lgamma_at
        settled = self.delay_cdf(elapsed)
        if settled == 1.0:
            beta = lg(self.a, k) + lg(self.b, m) - lg(self.a + self.b, k + m)
        else:
            silent = self.b + m * settled
            beta = lg(self.a, k) + math.lgamma(silent) - math.lgamma(self.a + k + silent)
        return beta - self.log_beta_ab - k * self.log_noise

    def meters_term(self, g: int, metered: int) -> float:
        """Meter-channel log-likelihood ratio of g last gasps among ``metered`` premises known
        to have reporting meters (nats)."""
        if metered <= 0:
            return 0.0
        lg = self.lgamma_at
        c, d = self.gasp_c, self.gasp_d
        beta = lg(c, g) + lg(d, metered - g) - lg(c + d, metered) - self.log_beta_gasp
        return beta - g * self.log_gasp_false

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
        nats = self.calls_term(k, m, elapsed) + self.meters_term(gasps, metered)
        nats += restored * self.restored_llr
        return micro(nats) + kind_micro

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
        whole = self.score(k, m, elapsed, kind_micro, gasps, metered, restored) / MICRO
        whole += self.log_transformer
        if reporting != 1:
            return micro(whole)
        # One premise out on its own: its evidence alone, nobody else's silence.
        single = (
            self.calls_term(k, 1 - k, elapsed)
            + self.meters_term(gasps, int(single_metered))
            + kind_micro / MICRO
        )
        single += self.log_service
        high, low = max(whole, single), min(whole, single)
        return micro(high + math.log1p(math.exp(low - high)))
