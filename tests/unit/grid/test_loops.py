"""Closed loops are condensed into one node: what stands on and below a loop, and the warning."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import pandas as pd
from shapely.geometry import LineString

from grid.loops import Loop, find_loops
from grid.model import WGS84, GridTables
from grid.topology import NO_DEVICE, build_topology


def _close_tie(tables: GridTables, to_bus: str) -> None:
    tables.devices.loc[tables.devices["id"] == "tie.1", ["to_bus", "normal_state"]] = [
        to_bus,
        "closed",
    ]


def _add_section(tables: GridTables, asset: str, a: str, b: str) -> None:
    row = {"id": asset, "feeder": "fdr.1", "from_bus": a, "to_bus": b}
    extra = gpd.GeoDataFrame([row], geometry=[LineString([(0, 0), (0.001, 0)])], crs=WGS84)
    tables.sections = gpd.GeoDataFrame(pd.concat([tables.sections, extra]), crs=WGS84)


def test_find_loops_groups_blocks_and_ignores_trees_and_self_edges() -> None:
    graph: nx.MultiGraph = nx.MultiGraph()
    graph.add_edges_from([("s", "a", "sa"), ("a", "b", "ab"), ("b", "c", "bc")])
    assert find_loops(graph) == []
    graph.add_edge("c", "c", "self")  # an edge inside one bus is not a loop
    assert find_loops(graph) == []
    graph.add_edge("a", "b", "twin")  # two edges between one pair
    graph.add_edge("b", "d", "bd")
    graph.add_edge("d", "e", "de")
    graph.add_edge("e", "b", "eb")  # a triangle touching the pair at b: one loop with it
    (loop,) = find_loops(graph)
    assert loop.buses == ("a", "b", "d", "e") and loop.node == "a"
    assert loop.elements == ("ab", "bd", "de", "eb", "twin")
    assert isinstance(loop, Loop)


def test_premises_on_and_below_a_loop_hang_below_the_device_above_it(tiny: GridTables) -> None:
    # tie.1 closed to b8: b4 -fuse.2- b7 -s4- b8 -tie.1- b4 is a loop under rec.1
    _close_tie(tiny, "b8")
    topology = build_topology(tiny)
    assert topology.trace("p3").devices == ("rec.1", "brk.1")  # tx.2 at b8, on the loop
    assert topology.trace("p4").devices == ("rec.1", "brk.1")  # tx.3 below the loop
    assert topology.trace("p1").devices == ("fuse.1", "brk.1")  # elsewhere: unchanged
    fuse = topology.device_index["fuse.2"]
    # A device on the loop: fed from both sides, it de-energises nothing when it opens.
    assert topology.device_parent[fuse] == topology.device_index["rec.1"]
    assert topology.device_premises[fuse] == 0 and topology.device_children[fuse] == []
    assert topology.device_premises[topology.device_index["rec.1"]] == 2
    section = topology.section_index["s4"]
    assert topology.section_device[section] == topology.device_index["rec.1"]
    (warning,) = topology.warnings
    assert warning.layer == "devices" and warning.asset == "fuse.2"
    assert "3 buses: b4, b7, b8; elements: fuse.2, s4, tie.1" in warning.message


def test_two_sections_in_parallel_are_a_loop_of_two(tiny: GridTables) -> None:
    _add_section(tiny, "s3bis", "b5", "b6")
    topology = build_topology(tiny)
    assert topology.trace("p1").devices == ("fuse.1", "brk.1")
    (warning,) = topology.warnings
    assert "elements: s3, s3bis" in warning.message
    assert topology.section_device[topology.section_index["s3bis"]] == topology.device_index[
        "fuse.1"
    ]


def test_a_section_from_a_bus_to_itself_is_inside_that_bus(tiny: GridTables) -> None:
    _add_section(tiny, "inner", "b8", "b8")  # how an importer writes a condensed cycle
    topology = build_topology(tiny)
    assert topology.warnings == []
    assert topology.section_device[topology.section_index["inner"]] == topology.device_index[
        "fuse.2"
    ]
    assert topology.section_device[topology.section_index["s1"]] != NO_DEVICE
