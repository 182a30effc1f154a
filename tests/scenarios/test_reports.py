"""Who reports what: exact counts where the spec leaves no chance, rates where it does."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from grid.io import read_gpkg
from grid.topology import build_topology
from scenarios.distributions import (
    Exponential,
    Fixed,
    Gamma,
    LogNormal,
    LogNormalMixture,
    Uniform,
    Weibull,
)
from scenarios.generate import generate_storm
from scenarios.physics import Grid
from scenarios.spec import CallSpec, MeterSpec, NoiseSpec, StormSpec
from scenarios.truth import NOISE
from tests.scenarios.oracle import dark_intervals, premises_of


@pytest.fixture(scope="module")
def demo(demo_gpkg: Path):
    tables = read_gpkg(demo_gpkg)
    topology = build_topology(tables)
    return tables, topology, Grid(topology)


QUIET = NoiseSpec(per_1000_customers_per_hour=0)


@pytest.mark.parametrize(
    "family",
    [
        Fixed(value=3),
        Uniform(a=1, b=5),
        Exponential(mean=10, high=60),
        Gamma(shape=2, mean=10),
        Weibull(shape=0.7, scale=8),
        LogNormal(median=90, sigma=0.5, low=20, high=480),
        LogNormalMixture(),
    ],
    ids=lambda f: f.family,
)
def test_families_stay_within_their_clip(family) -> None:
    draws = family.sample(np.random.default_rng(0), 20_000)
    assert draws.shape == (20_000,) and draws.min() >= family.low and draws.max() <= family.high


def test_gamma_mean_is_the_mean() -> None:
    draws = Gamma(shape=1.5, mean=12, high=1e9).sample(np.random.default_rng(1), 200_000)
    assert draws.mean() == pytest.approx(12, rel=0.02)


def test_everyone_calls_once_when_the_spec_says_so(demo) -> None:
    tables, topology, grid = demo
    spec = StormSpec(
        seed=5,
        faults=4,
        restore_minutes=Fixed(value=120),
        calls=CallSpec(share=1.0, delay=Fixed(value=5), repeat_share=0, hazard_share=0),
        noise=QUIET,
    )
    truth = generate_storm(topology, spec, customers=tables.customers, grid=grid).truth
    for fault in truth.faults:
        calls = [c for c in truth.calls if c.fault == fault.id]
        assert len(calls) == fault.customers_out  # one customer per premise in the demo city
        assert {c.premise for c in calls} == premises_of(topology, fault)
        assert {(c.ts - fault.start).total_seconds() for c in calls} == {300}


def test_repeat_callers_call_again_within_the_outage(demo) -> None:
    tables, topology, grid = demo
    spec = StormSpec(
        seed=6,
        faults=3,
        restore_minutes=Fixed(value=240),
        calls=CallSpec(
            share=1.0,
            repeat_share=1.0,
            repeat_gap=Fixed(value=10),
            max_calls_per_caller=3,
            delay=Fixed(value=1),
        ),
        noise=QUIET,
    )
    truth = generate_storm(topology, spec, customers=tables.customers, grid=grid).truth
    per_premise = Counter(c.premise for c in truth.calls)
    assert set(per_premise.values()) == {3}


def test_meters_report_every_dark_interval_when_all_delivered(demo) -> None:
    tables, topology, grid = demo
    spec = StormSpec(seed=8, faults=5, meters=MeterSpec(delivery=1.0), noise=QUIET)
    truth = generate_storm(topology, spec, customers=tables.customers, grid=grid).truth
    dark = set().union(*(premises_of(topology, f) for f in truth.faults))
    gasps = Counter(m.premise for m in truth.meters if m.kind == "last_gasp")
    back = Counter(m.premise for m in truth.meters if m.kind == "power_restored")
    for premise in dark:
        n = len(dark_intervals(topology, truth, premise))
        assert gasps[premise] == back[premise] == n


def test_meter_delivery_share(demo) -> None:
    tables, topology, grid = demo
    spec = StormSpec(seed=9, faults=25, meters=MeterSpec(delivery=0.8), noise=QUIET)
    truth = generate_storm(topology, spec, customers=tables.customers, grid=grid).truth
    full = generate_storm(
        topology, spec.model_copy(update={"meters": MeterSpec(delivery=1.0)}), grid=grid
    ).truth
    assert len(truth.meters) / len(full.meters) == pytest.approx(0.8, abs=0.05)


def test_noise_rate_and_kinds(demo) -> None:
    tables, topology, grid = demo
    noise = NoiseSpec(per_1000_customers_per_hour=20, scope="network", kinds={"flicker": 1})
    spec = StormSpec(seed=10, faults=1, calls=CallSpec(share=0), noise=noise)
    truth = generate_storm(topology, spec, customers=tables.customers, grid=grid).truth
    hours = (truth.horizon_end - truth.start).total_seconds() / 3600
    expected = 20 * topology.customer_count / 1000 * hours
    calls = [c for c in truth.calls if c.fault == NOISE]
    assert len(calls) == pytest.approx(expected, rel=0.1)
    assert {c.kind for c in calls} == {"flicker"}


def test_callers_name_themselves_by_account_or_phone(demo) -> None:
    tables, topology, grid = demo
    spec = StormSpec(
        seed=12,
        faults=5,
        calls=CallSpec(share=0.5, identify={"account": 1, "phone": 1}),
        noise=QUIET,
    )
    storm = generate_storm(topology, spec, customers=tables.customers, grid=grid)
    calls = [s for s in storm.signals if s["type"] == "call"]
    named = Counter(next(k for k in ("premise", "account", "phone") if k in s) for s in calls)
    assert named["account"] and named["phone"] and not named["premise"]
    # without a customers table everyone names the premise
    bare = generate_storm(topology, spec, grid=grid)
    assert all("premise" in s for s in bare.signals if s["type"] == "call")


def test_hazard_share(demo) -> None:
    _, topology, grid = demo
    spec = StormSpec(seed=13, faults=25, calls=CallSpec(share=1.0, hazard_share=0.1), noise=QUIET)
    truth = generate_storm(topology, spec, grid=grid).truth
    kinds = Counter(c.kind for c in truth.calls)
    hazards = kinds["wire_down"] + kinds["fire"]
    assert hazards / sum(kinds.values()) == pytest.approx(0.1, abs=0.02)
    assert kinds["fire"] < kinds["wire_down"]
