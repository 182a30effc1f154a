"""The storm's physics on hand-drawn feeders, against brute force (tests/scenarios/oracle.py)."""

from __future__ import annotations

import numpy as np
import pytest

from grid.topology import build_topology
from scenarios.physics import Grid, power_episodes
from tests.conftest import tiny_tables
from tests.scenarios.oracle import interrupter_by_path


@pytest.fixture
def tiny_grid() -> Grid:
    return Grid(build_topology(tiny_tables()))


def test_section_fault_opens_nearest_interrupting_device(tiny_grid: Grid) -> None:
    tables = tiny_tables()
    topo = tiny_grid.topology
    for s, section in enumerate(topo.section_ids):
        expected = interrupter_by_path(tables, section)
        assert tiny_grid.asset_id(tiny_grid.section_interrupter(s)) == expected


def test_a_manual_switch_never_opens_on_a_fault() -> None:
    """Make rec.1 a manual switch: faults behind it now open the feeder breaker."""
    tables = tiny_tables()
    tables.devices.loc[tables.devices["id"] == "rec.1", "kind"] = "switch"
    grid = Grid(build_topology(tables))
    s2 = grid.topology.section_index["s2"]
    assert grid.asset_id(grid.section_interrupter(s2)) == "brk.1"
    assert interrupter_by_path(tables, "s2") == "brk.1"


def test_ranges_are_exactly_the_transformers_below(tiny_grid: Grid) -> None:
    topo = tiny_grid.topology
    for d in range(len(topo.device_ids)):
        lo, hi = tiny_grid.asset_range(d)
        got = {int(t) for t in tiny_grid.position_transformer[lo:hi]}
        want = set(topo.transformers_below(d)) if topo.device_chain[d] else set()
        assert got == want, topo.device_ids[d]
    for t in range(len(topo.transformer_ids)):
        lo, hi = tiny_grid.asset_range(tiny_grid.transformer_asset(t))
        assert [int(x) for x in tiny_grid.position_transformer[lo:hi]] == [t]


def test_whole_feeder_devices(tiny_grid: Grid) -> None:
    whole = {tiny_grid.asset_id(d) for d in np.flatnonzero(tiny_grid.whole_feeder).tolist()}
    assert whole == {"brk.1"}


def test_is_below(tiny_grid: Grid) -> None:
    g = tiny_grid
    assert g.is_below(g.asset_of("fuse.2"), g.asset_of("rec.1"))
    assert g.is_below(g.asset_of("tx.1"), g.asset_of("brk.1"))
    assert not g.is_below(g.asset_of("tx.1"), g.asset_of("rec.1"))
    assert not g.is_below(g.asset_of("rec.1"), g.asset_of("rec.1"))
    assert not g.is_below(g.asset_of("brk.1"), g.asset_of("fuse.1"))


def _episodes(grid: Grid, outages: list[tuple[str, int, int]]) -> dict[str, list[tuple]]:
    """transformer id -> [(start, end, cause asset, lost)] from `power_episodes`."""
    assets = np.array([grid.asset_of(a) for a, _, _ in outages])
    starts = np.array([s for _, s, _ in outages])
    ends = np.array([e for _, _, e in outages])
    ep = power_episodes(grid, assets, starts, ends)
    out: dict[str, list[tuple]] = {}
    for k, position in enumerate(ep.positions.tolist()):
        transformer = grid.topology.transformer_ids[int(grid.position_transformer[position])]
        rows = np.flatnonzero(ep.episode_signature == ep.position_signature[k])
        out[transformer] = [
            (
                int(ep.episode_start[r]),
                int(ep.episode_end[r]),
                outages[int(ep.episode_cause[r])][0],
                bool(ep.episode_lost[r]),
            )
            for r in rows.tolist()
        ]
    return out


def test_nested_parent_restored_first_calls_again(tiny_grid: Grid) -> None:
    """Breaker open 0-100, fuse.1 below it blown at 10, repaired at 200: tx.1 is dark 0-200,
    first about the breaker, then (told power is back, still out) about the fuse."""
    got = _episodes(tiny_grid, [("brk.1", 0, 100), ("fuse.1", 10, 200)])
    assert got["tx.1"] == [(0, 100, "brk.1", True), (100, 200, "fuse.1", False)]
    assert got["tx.2"] == [(0, 100, "brk.1", True)]


def test_nested_child_restored_first_goes_unnoticed(tiny_grid: Grid) -> None:
    got = _episodes(tiny_grid, [("brk.1", 0, 100), ("fuse.1", 10, 50)])
    assert got["tx.1"] == [(0, 100, "brk.1", True)]


def test_child_first_then_parent_opens_keeps_the_cause(tiny_grid: Grid) -> None:
    """fuse.1 blows at 0; the breaker opens at 20 and closes at 60; fuse.1 repaired at 90.
    tx.1's customers lost power to the fuse and stay dark until 90: one episode."""
    got = _episodes(tiny_grid, [("fuse.1", 0, 90), ("brk.1", 20, 60)])
    assert got["tx.1"] == [(0, 90, "fuse.1", True)]
    assert got["tx.2"] == [(20, 60, "brk.1", True)]


def test_dark_intervals_are_the_union(tiny_grid: Grid) -> None:
    assets = np.array([tiny_grid.asset_of("fuse.2"), tiny_grid.asset_of("tx.2")])
    ep = power_episodes(tiny_grid, assets, np.array([0, 50]), np.array([100, 300]))
    position = tiny_grid.transformer_position[tiny_grid.topology.transformer_index["tx.2"]]
    times = np.array([0, 99, 100, 299, 300, -1])
    dark = ep.dark_at(np.full(len(times), position), times)
    assert dark.tolist() == [True, True, True, True, False, False]


def test_premises_of_positions(tiny_grid: Grid) -> None:
    topo = tiny_grid.topology
    positions = np.arange(len(topo.transformer_ids))
    premises, owner = tiny_grid.premises_of_positions(positions)
    assert sorted(topo.premise_ids[p] for p in premises.tolist()) == ["p1", "p2", "p3", "p4"]
    for p, pos in zip(premises.tolist(), owner.tolist(), strict=True):
        assert int(tiny_grid.position_transformer[pos]) == topo.premise_transformer[p]
