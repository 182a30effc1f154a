"""The evidence-model fit recovers the parameters that made the data (the oracle: the known
parameters of a draw, never the engine's own defaults)."""

from __future__ import annotations

import numpy as np
import pytest

from outage.inference.fit import OutageSample, beta_binomial, fit_model
from outage.rules import InferenceModel


def test_beta_binomial_recovers_a_known_beta() -> None:
    rng = np.random.default_rng(7)
    shares = rng.beta(3.0, 17.0, size=600)  # mean 0.15, concentration 20
    sizes = rng.integers(10, 80, size=600)
    counts = [(int(rng.binomial(n, p)), int(n)) for p, n in zip(shares, sizes, strict=True)]
    mean, concentration = beta_binomial(counts)
    assert mean == pytest.approx(0.15, abs=0.015)
    assert 12 <= concentration <= 33


def test_a_fixed_share_fits_a_high_concentration() -> None:
    rng = np.random.default_rng(8)
    counts = [(int(rng.binomial(40, 0.8)), 40) for _ in range(300)]
    mean, concentration = beta_binomial(counts)
    assert mean == pytest.approx(0.8, abs=0.01)
    assert concentration > 200  # the share barely varies between outages


def test_fit_model_takes_delays_shares_and_gasps_and_keeps_the_base_where_data_is_thin() -> None:
    rng = np.random.default_rng(9)
    samples = []
    for _ in range(40):
        n = int(rng.integers(5, 60))
        callers = int(rng.binomial(n, 0.25))
        delays = tuple(float(x) for x in rng.lognormal(np.log(300.0), 0.6, size=callers))
        samples.append(OutageSample(n, callers, delays, int(rng.binomial(n, 0.7))))
    base = InferenceModel()
    fitted = fit_model(samples, base)
    model = fitted.model
    assert model.call_delay.median_minutes == pytest.approx(5.0, rel=0.1)
    assert model.call_delay.sigma == pytest.approx(0.6, abs=0.06)
    assert model.call_share.mean == pytest.approx(0.25, abs=0.03)
    assert model.last_gasp_delivery == pytest.approx(0.7, abs=0.03)
    assert (fitted.outages, fitted.metered_outages) == (40, 40)
    assert model.noise_share == base.noise_share  # not fit: untouched
    thin = fit_model(  # too few outages, too few delays
        [OutageSample(10, 3, (60.0, 120.0, 300.0), 8), OutageSample(4, 1, (90.0,), None)], base
    )
    assert thin.model == base
    assert (thin.outages, thin.delays, thin.metered_outages) == (0, 0, 0)
