"""The synthetic city: deterministic, radial, realistic in shape, and it scales."""

from __future__ import annotations

import numpy as np
import pytest

from grid.synthetic import CitySpec, generate_city
from grid.topology import build_topology


def test_same_seed_same_city_other_seed_other_city() -> None:
    a = generate_city(CitySpec(customers=3000, seed=11))
    b = generate_city(CitySpec(customers=3000, seed=11))
    c = generate_city(CitySpec(customers=3000, seed=12))
    assert a.customers.equals(b.customers)
    assert a.transformers.geometry.geom_equals(b.transformers.geometry).all()
    assert not a.customers["name"].equals(c.customers["name"])


@pytest.mark.parametrize("customers", [1, 1000, 24000])
def test_exact_customer_count_and_valid_radial_network(customers: int) -> None:
    city = generate_city(CitySpec(customers=customers, seed=1))
    topo = build_topology(city)
    assert topo.customer_count == customers == len(city.premises)


def test_demo_size_city_has_the_asked_for_structure() -> None:
    city = generate_city(CitySpec(customers=24000, seed=7))
    topo = build_topology(city)
    assert len(city.substations) >= 3 and len(city.feeders) >= 10
    kinds = city.devices["kind"].value_counts()
    assert kinds["breaker"] == len(city.feeders)
    assert kinds["recloser"] == 2 * len(city.feeders)  # two on every main line
    assert kinds["fuse"] > 10 * len(city.feeders)  # every lateral is fused
    assert (city.devices.loc[city.devices["kind"] == "tie", "normal_state"] == "open").all()
    per_transformer = topo.transformer_customers
    assert per_transformer.min() >= 1 and per_transformer.max() <= 12
    # every premise below a fuse, below a feeder breaker at the top of its chain
    kinds_of = topo.device_kind
    for premise in range(0, len(topo.premise_ids), 997):
        chain = topo.premise_chain(premise)
        assert kinds_of[chain[0]] == "fuse" and kinds_of[chain[-1]] == "breaker"


def test_accounts_and_phones_are_unique_and_plausible() -> None:
    city = generate_city(CitySpec(customers=24000, seed=7))
    customers = city.customers
    assert customers["account"].is_unique and customers["phone"].is_unique
    assert customers["phone"].str.fullmatch(r"\+861[3-8]\d{9}").all()
    assert set(customers["language"]) == {"zh-CN", "en"}
    assert customers["address"].is_unique


def test_city_lies_around_its_centre() -> None:
    city = generate_city(CitySpec(customers=5000, seed=2, centre=(-0.12, 51.5)))
    west, south, east, north = city.premises.total_bounds
    assert west < -0.12 < east and south < 51.5 < north
    assert east - west < 0.2 and north - south < 0.2


def test_spec_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="customers must be between"):
        CitySpec(customers=0)
    with pytest.raises(ValueError, match="feeders_per_substation"):
        CitySpec(customers=10, feeders_per_substation=9)


@pytest.mark.slow
def test_scales_to_100k_customers() -> None:
    city = generate_city(CitySpec(customers=100_000, seed=5))
    topo = build_topology(city)
    assert topo.customer_count == 100_000
    assert len(np.unique(topo.feeder_substation)) == len(city.substations)
