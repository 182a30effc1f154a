"""One node of the tree weighed, as fast as plain Python allows.

`InferenceTree` weighs a node on every report at every level of its path, a million times in
a big storm, so this is the inner loop of the engine. `make_evaluator` returns a closure with
every list and constant bound as a free variable (no attribute lookups) and the score of
`outage.inference.likelihood.Likelihood` written out inline. The reference implementation
stays `Likelihood.score` / `score_transformer`; tests hold the two equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from outage.inference.likelihood import MICRO

if TYPE_CHECKING:
    from outage.inference.tree import InferenceTree


def make_evaluator(tree: InferenceTree) -> Callable[[int], None]:
    """``evaluate(v)``: set ``A[v]``, ``B[v]``, ``dec[v]`` of ``tree`` from its aggregates."""
    lik = tree.likelihood
    A, B, C, F = tree.A, tree.B, tree.C, tree.F
    dec, stale, forced, veto, shown = tree.dec, tree.stale, tree.forced, tree.veto, tree.shown
    prior_, ev_, s_, k_, n_, kk_, g_, rr_, e_ = (
        tree.prior,
        tree.ev,
        tree.s,
        tree.k,
        tree.n,
        tree.kk,
        tree.g,
        tree.rr,
        tree.e,
    )
    root_of, metered_roots = tree.root_of, tree.metered_roots
    devices, hysteresis = tree.devices, tree.hysteresis
    lead, settle = lik.lead_seconds, lik.call_settle_seconds
    mu, scale = lik.delay_mu, lik.delay_scale
    lag_settle, lag_mu, lag_scale = lik.lag_settle_seconds, lik.lag_mu, lik.lag_scale
    gasp_c, gasp_d = lik.gasp_c, lik.gasp_d
    cd = gasp_c + gasp_d
    a, b = lik.a, lik.b
    ab = a + b
    log_beta_ab, log_noise = lik.log_beta_ab, lik.log_noise
    log_beta_gasp, log_gasp_false = lik.log_beta_gasp, lik.log_gasp_false
    restored_llr = lik.restored_llr
    log_transformer, log_service = lik.log_transformer, lik.log_service
    single_called = lik._single_called
    single_gasp, single_quiet = lik._single_gasp
    ld_cd = math.lgamma(cd) - math.lgamma(gasp_d)  # − log B(c, d) + lgamma(c), for one meter
    la, lb, lab, lc, ld, lcd = lik._la, lik._lb, lik._lab, lik._lc, lik._ld, lik._lcd
    lgamma, erf, log, log1p, exp = math.lgamma, math.erf, math.log, math.log1p, math.exp
    grow = lik._grow

    def evaluate(v: int) -> None:
        stale[v] = False
        prior = prior_[v]
        fixed = forced[v]
        if not fixed and (prior is None or veto[v]):
            A[v] = 0
            B[v] = C[v]
            dec[v] = False
            return
        ev = ev_[v]
        if ev > 0:
            s = s_[v]
            k = k_[v]
            n = n_[v]
            m = n - k
            if n >= len(la):
                grow(n)
            elapsed = tree.clock - s
            if elapsed < lead:
                elapsed = lead
            # Calls: Beta-binomial, silence thinned by the lognormal delay CDF.
            if elapsed >= settle:
                settled = 1.0
                nats = la[k] + lb[m] - lab[n]
            else:
                settled = 0.5 * (1.0 + erf((log(elapsed) - mu) / scale))
                silent = b + m * settled
                nats = la[k] + lgamma(silent) - lgamma(a + k + silent)
            nats -= log_beta_ab + k * log_noise
            metered = root_of[v] in metered_roots
            if metered:  # Meters: Beta-binomial over every premise of a reporting feeder,
                g = g_[v]  # silent meters thinned by the lag CDF.
                if elapsed >= lag_settle:
                    arrived = 1.0
                    nats += lc[g] + ld[n - g] - lcd[n]
                else:
                    arrived = 0.5 * (1.0 + erf((log(elapsed) - lag_mu) / lag_scale))
                    silent = gasp_d + (n - g) * arrived
                    nats += lc[g] + lgamma(silent) - lgamma(gasp_c + g + silent)
                nats -= log_beta_gasp + g * log_gasp_false
            if e_[v] > s:
                nats += rr_[v] * restored_llr
            kind = kk_[v]
            if v >= devices:  # a transformer, or one premise's own service drop
                whole = nats + kind / MICRO + log_transformer
                if ev == 1:
                    if k:
                        single = single_called
                    else:
                        silent = b + settled
                        single = la[0] + lgamma(silent) - lgamma(ab + settled) - log_beta_ab
                    if metered:
                        if g_[v]:
                            single += single_gasp
                        elif arrived == 1.0:
                            single += single_quiet
                        else:
                            silent = gasp_d + arrived
                            single += lgamma(silent) - lgamma(cd + arrived) + ld_cd

                    single += kind / MICRO + log_service
                    if whole < single:
                        whole, single = single, whole
                    whole += log1p(exp(single - whole))
                score = round(whole * MICRO)
            else:
                score = round(nats * MICRO) + kind
            A[v] = score
        else:
            score = A[v] = 0
        if fixed or prior is None:
            B[v] = score + F[v]
            dec[v] = False
            return
        open_v = prior + score + F[v]
        if shown[v]:
            open_v += hysteresis
        c = C[v]
        if open_v > c:
            B[v] = open_v
            dec[v] = True
        else:
            B[v] = c
            dec[v] = False

    return evaluate
