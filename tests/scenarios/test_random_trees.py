"""Property tests on random radial feeders: the physics and the storms against brute force."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from grid.model import WGS84, GridTables, empty_layer
from grid.topology import build_topology
from scenarios.generate import generate_storm
from scenarios.physics import Grid, power_episodes
from scenarios.spec import CallSpec, MeterSpec, NestedSpec, StormSpec
from tests.scenarios.checks import check_storm
from tests.scenarios.oracle import interrupter_by_path

KINDS = ("recloser", "fuse", "sectionalizer", "switch", "relay", "section", "section", "section")


def _frame(rows: list[dict[str, object]], geometry: list[object]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=geometry, crs=WGS84)


@st.composite
def feeders(draw: st.DrawFn) -> GridTables:
    """A head breaker, then each new bus hangs off an earlier one through a section or a device
    of a random kind; service transformers with 1-3 premises on random buses."""
    n = draw(st.integers(3, 25))
    where = {0: (0.0, 0.0), 1: (0.001, 0.0)}
    devices = [
        {
            "id": "brk",
            "kind": "breaker",
            "feeder": "f",
            "from_bus": "b0",
            "to_bus": "b1",
            "normal_state": "closed",
        }
    ]
    device_geometry = [Point(0.0005, 0.0)]
    sections, section_geometry = [], []
    for bus in range(2, n + 2):
        up = draw(st.integers(1, bus - 1))
        kind = draw(st.sampled_from(KINDS))
        where[bus] = (where[up][0] + 0.001, where[up][1] + 0.001 * draw(st.integers(-3, 3)))
        if kind == "section":
            sections.append(
                {"id": f"s{bus}", "feeder": "f", "from_bus": f"b{up}", "to_bus": f"b{bus}"}
            )
            section_geometry.append(LineString([where[up], where[bus]]))
        else:
            devices.append(
                {
                    "id": f"d{bus}",
                    "kind": kind,
                    "feeder": "f",
                    "from_bus": f"b{up}",
                    "to_bus": f"b{bus}",
                    "normal_state": "closed",
                }
            )
            device_geometry.append(Point(*where[bus]))
    buses = draw(st.lists(st.integers(1, n + 1), min_size=1, max_size=12, unique=True))
    transformers, premises = [], []
    for t, bus in enumerate(buses):
        transformers.append({"id": f"t{t}", "feeder": "f", "bus": f"b{bus}", "kva": 25.0})
        for k in range(draw(st.integers(1, 3))):
            premises.append({"id": f"p{t}.{k}", "transformer": f"t{t}", "address": ""})
    return GridTables(
        substations=_frame([{"id": "sub", "name": "S", "bus": "b0"}], [Point(0, 0)]),
        feeders=_frame(
            [{"id": "f", "name": "F", "substation": "sub", "head_device": "brk"}], [Point(0, 0)]
        ),
        devices=_frame(devices, device_geometry),
        sections=_frame(sections, section_geometry) if sections else empty_layer("sections"),
        transformers=_frame(transformers, [Point(*where[b]) for b in buses]),
        premises=_frame(premises, [Point(0, 0)] * len(premises)),
    )


@settings(max_examples=60, deadline=None)
@given(feeders())
def test_interrupter_and_ranges_match_brute_force(tables: GridTables) -> None:
    topology = build_topology(tables)
    grid = Grid(topology)
    for s, section in enumerate(topology.section_ids):
        assert grid.asset_id(grid.section_interrupter(s)) == interrupter_by_path(tables, section)
    for d in range(len(topology.device_ids)):
        lo, hi = grid.asset_range(d)
        assert {int(t) for t in grid.position_transformer[lo:hi]} == set(
            topology.transformers_below(d)
        )


@settings(max_examples=60, deadline=None)
@given(feeders(), st.data())
def test_dark_intervals_match_brute_force(tables: GridTables, data: st.DataObject) -> None:
    topology = build_topology(tables)
    grid = Grid(topology)
    n_assets = len(topology.device_ids) + len(topology.transformer_ids)
    chosen = data.draw(st.lists(st.integers(0, n_assets - 1), min_size=1, max_size=5, unique=True))
    spans = [
        sorted(data.draw(st.lists(st.integers(0, 100), min_size=2, max_size=2, unique=True)))
        for _ in chosen
    ]
    assets = np.array(chosen)
    starts = np.array([a for a, _ in spans])
    ends = np.array([b for _, b in spans])
    episodes = power_episodes(grid, assets, starts, ends)
    for t in range(len(topology.transformer_ids)):
        position = int(grid.transformer_position[t])
        for when in range(0, 101, 5):
            covering = [
                j
                for j, a in enumerate(chosen)
                if starts[j] <= when < ends[j]
                and (
                    (a < grid.n_devices and t in topology.transformers_below(a))
                    or a == grid.n_devices + t
                )
            ]
            dark = episodes.dark_at(np.array([position]), np.array([when]))[0]
            assert dark == bool(covering)
            if covering:  # exactly one episode holds this instant, and its cause is open then
                sig = episodes.signature_of(np.array([position]))[0]
                rows = np.flatnonzero(
                    (episodes.episode_signature == sig)
                    & (episodes.episode_start <= when)
                    & (when < episodes.episode_end)
                )
                assert len(rows) == 1
                assert int(episodes.episode_cause[rows[0]]) in covering


@settings(max_examples=40, deadline=None)
@given(feeders(), st.integers(0, 2**16), st.booleans())
def test_storms_on_random_feeders_hold_their_invariants(
    tables: GridTables, seed: int, nested: bool
) -> None:
    topology = build_topology(tables)
    spec = StormSpec(
        seed=seed,
        faults=min(2, len(topology.transformer_ids)),
        allow_whole_feeder=True,
        calls=CallSpec(share=1.0, repeat_share=0.5),
        meters=MeterSpec(delivery=0.5),
        nested=NestedSpec(count=1 if nested else 0),
    )
    try:
        storm = generate_storm(topology, spec)
    except ValueError as exc:  # a feeder with nothing to nest a fault in, or too few assets
        assert "nest" in str(exc) or "fewer free assets" in str(exc)
        return
    check_storm(topology, tables, storm)
