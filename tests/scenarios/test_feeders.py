"""The generator on the public reference feeders (skipped without ../shared)."""

from __future__ import annotations

import pytest

from grid.importers import load_source
from grid.topology import build_topology
from scenarios.generate import generate_storm
from scenarios.physics import Grid
from scenarios.spec import CallSpec, MeterSpec, NestedSpec, StormSpec
from tests.conftest import shared_path
from tests.scenarios.checks import check_storm
from tests.scenarios.oracle import interrupter_by_path

pytestmark = pytest.mark.shared

FEEDERS = {
    "ieee8500": ("opendss", "IEEE8500", "Master_protected.dss"),
    "ckt7": ("opendss", "ckt7"),
    "ieee123": ("opendss", "IEEE123"),
}


@pytest.fixture(scope="module", params=sorted(FEEDERS))
def feeder(request: pytest.FixtureRequest):
    tables = load_source(shared_path(*FEEDERS[request.param]), "opendss")
    topology = build_topology(tables)
    return request.param, tables, topology, Grid(topology)


def test_every_section_opens_what_the_path_says(feeder) -> None:
    _, tables, topology, grid = feeder
    for s in range(len(topology.section_ids)):
        if topology.section_feeder[s] < 0:
            continue
        expected = interrupter_by_path(tables, topology.section_ids[s])
        found = grid.section_interrupter(s)  # -1: nothing on the feeder interrupts it
        assert (grid.asset_id(found) if found >= 0 else None) == expected


def test_storms_hold_their_invariants(feeder) -> None:
    _, tables, topology, grid = feeder
    # A feeder headed by a manual switch (IEEE 123 as imported) has nothing that interrupts a
    # line fault, so no nested pair fits on it.
    protected = any(grid.section_interrupter(s) >= 0 for s in range(len(topology.section_ids)))
    for seed, faults in ((0, 1), (1, 10), (2, 25)):
        spec = StormSpec(
            seed=seed,
            faults=faults,
            calls=CallSpec(share=0.3),
            meters=MeterSpec(delivery=0.8 if seed % 2 else 0.0),
            nested=NestedSpec(count=1 if protected else 0),
        )
        storm = generate_storm(topology, spec, grid=grid)
        check_storm(topology, tables, storm)
        kinds = {f.asset_kind for f in storm.truth.faults}
        assert kinds <= {"breaker", "relay", "recloser", "fuse", "sectionalizer", "transformer"}


def test_ieee8500_faults_open_fuses_not_switches() -> None:
    """The feeder's main line hangs off the substation relay; every lateral off a fuse."""
    topology = build_topology(load_source(shared_path(*FEEDERS["ieee8500"]), "opendss"))
    storm = generate_storm(topology, StormSpec(seed=4, faults=25, section_share=1.0))
    assert {f.asset_kind for f in storm.truth.faults} == {"fuse"}
    whole = generate_storm(
        topology, StormSpec(seed=4, faults=1, section_share=1.0, allow_whole_feeder=True)
    )
    assert {f.asset_kind for f in whole.truth.faults} <= {"fuse", "relay"}
