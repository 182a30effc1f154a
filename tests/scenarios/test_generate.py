"""The storm generator: contract, physics, truth, nesting and determinism."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from grid.io import read_gpkg
from grid.model import GridTables
from grid.topology import Topology, build_topology
from scenarios.distributions import Fixed
from scenarios.generate import generate_storm
from scenarios.physics import Grid
from scenarios.spec import CallSpec, MeterSpec, NestedSpec, NoiseSpec, ScadaSpec, StormSpec
from scenarios.truth import Truth
from tests.conftest import tiny_tables
from tests.scenarios.checks import check_storm
from tests.scenarios.oracle import premises_of


@pytest.fixture(scope="module")
def demo(demo_gpkg: Path) -> Iterator[tuple[GridTables, Topology, Grid]]:
    tables = read_gpkg(demo_gpkg)
    topology = build_topology(tables)
    yield tables, topology, Grid(topology)


def _storm(demo: tuple[GridTables, Topology, Grid], spec: StormSpec):
    tables, topology, grid = demo
    return generate_storm(topology, spec, customers=tables.customers, grid=grid)


SPECS = [
    StormSpec(seed=1, faults=1),
    StormSpec(seed=2, faults=10, meters=MeterSpec(delivery=0.8, clock_offset_minutes=10)),
    StormSpec(
        seed=3,
        faults=25,
        calls=CallSpec(share=0.3, identify={"premise": 1, "account": 1, "phone": 1}),
        noise=NoiseSpec(per_1000_customers_per_hour=5.0, scope="network"),
        scada=ScadaSpec(enabled=True),
    ),
    StormSpec(seed=4, faults=3, nested=NestedSpec(count=2), restores=False),
    StormSpec(seed=5, faults=5, section_share=1.0, allow_whole_feeder=True, spacing="even"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"seed{s.seed}")
def test_demo_city_storms_hold_their_invariants(demo, spec: StormSpec) -> None:
    tables, topology, _ = demo
    storm = _storm(demo, spec)
    assert storm.truth.calls, "a storm this size should draw calls"
    check_storm(topology, tables, storm)


def test_tiny_feeder_storms_hold_their_invariants() -> None:
    tables = tiny_tables()
    topology = build_topology(tables)
    for seed in range(20):
        spec = StormSpec(
            seed=seed,
            faults=2,
            section_share=0.5,
            allow_whole_feeder=True,
            calls=CallSpec(share=1.0, repeat_share=0.5),
            meters=MeterSpec(delivery=1.0),
            nested=NestedSpec(count=seed % 2),
        )
        check_storm(topology, tables, generate_storm(topology, spec))


def test_same_spec_same_storm_other_seed_other_storm(demo) -> None:
    spec = SPECS[1]
    a, b = _storm(demo, spec), _storm(demo, spec)
    assert a.signals == b.signals
    assert a.truth.to_dict() == b.truth.to_dict()
    c = _storm(demo, spec.model_copy(update={"seed": 99}))
    assert c.signals != a.signals


def test_meters_do_not_change_faults_or_calls(demo) -> None:
    """Each part of the world draws from its own stream: rows differing in meters compare."""
    plain = _storm(demo, StormSpec(seed=7, faults=5))
    metered = _storm(demo, StormSpec(seed=7, faults=5, meters=MeterSpec(delivery=0.8)))
    assert plain.truth.faults == metered.truth.faults
    key = [(c.ts, c.premise, c.kind, c.fault) for c in plain.truth.calls]
    assert key == [(c.ts, c.premise, c.kind, c.fault) for c in metered.truth.calls]
    assert not plain.truth.meters and metered.truth.meters


def test_whole_feeder_faults_only_when_allowed(demo) -> None:
    for seed in range(5):
        storm = _storm(demo, StormSpec(seed=seed, faults=10, section_share=1.0))
        assert not any(f.whole_feeder for f in storm.truth.faults)


def test_even_spacing(demo) -> None:
    storm = _storm(demo, StormSpec(seed=3, faults=3, spacing="even", window_minutes=20))
    starts = sorted(f.start for f in storm.truth.faults)
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(starts)] == [600, 600]


def _nested(demo, order: str) -> tuple[Truth, str, str]:
    spec = StormSpec(
        seed=11,
        faults=1,
        calls=CallSpec(share=1.0, repeat_share=0.0),
        nested=NestedSpec(count=1, restore_order=order),
        noise=NoiseSpec(per_1000_customers_per_hour=0),
    )
    truth = _storm(demo, spec).truth
    parent, child = truth.faults
    assert child.parent == parent.id
    return truth, parent.id, child.id


def test_nested_parent_restored_first(demo) -> None:
    """The child's area calls about the parent while it is open, then again about the child."""
    _, topology, _ = demo
    truth, parent, child = _nested(demo, "parent_first")
    p, c = truth.fault(parent), truth.fault(child)
    assert c.restore > p.restore and c.asset_kind in {"fuse", "recloser", "transformer"}
    area = premises_of(topology, c)
    about_parent = [x for x in truth.calls if x.fault == parent and x.premise in area]
    about_child = [x for x in truth.calls if x.fault == child]
    assert about_parent and about_child
    assert all(x.ts < p.restore for x in about_parent)
    assert all(p.restore < x.ts < c.restore for x in about_child)
    assert {x.premise for x in about_child} <= area


def test_nested_child_restored_first_goes_unnoticed(demo) -> None:
    truth, parent, child = _nested(demo, "child_first")
    p, c = truth.fault(parent), truth.fault(child)
    assert p.start <= c.start < c.restore < p.restore
    assert not [x for x in truth.calls if x.fault == child]


def test_calls_never_after_power_returns() -> None:
    """A delay longer than the outage means no call at all."""
    tables = tiny_tables()
    topology = build_topology(tables)
    spec = StormSpec(
        seed=0,
        faults=1,
        restore_minutes=Fixed(value=30),
        calls=CallSpec(share=1.0, delay=Fixed(value=45), repeat_share=0),
        noise=NoiseSpec(per_1000_customers_per_hour=0),
    )
    assert generate_storm(topology, spec).truth.calls == []


def test_spec_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError, match="extra"):
        StormSpec.model_validate({"faults": 1, "falts": 2})
    with pytest.raises(ValueError):
        StormSpec(faults=1, nested=NestedSpec(count=2))


def test_truth_round_trips_through_json(demo, tmp_path: Path) -> None:
    storm = _storm(demo, SPECS[1])
    storm.write(tmp_path / "storm.jsonl", tmp_path / "truth.json")
    lines = (tmp_path / "storm.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == storm.signals
    back = Truth.from_dict(orjson.loads((tmp_path / "truth.json").read_bytes()))
    assert back.to_dict() == storm.truth.to_dict()
