"""Closed loops of the energised network, found so that the radial view can condense them.

A distribution network is run radially, but a model can still hold a path that closes on
itself in normal state: a meshed secondary network, two feeders paralleled through a closed
switch, two lines in parallel between one pair of buses. Such a loop has no "upstream" inside
it - power reaches every bus of it from both sides - so the radial trace treats the whole loop
as **one node**: everything attached to the loop hangs below the device above the loop, and a
device on the loop (opening it de-energises nothing, the other side still feeds) has nothing
below it. Each condensed loop is reported, naming its buses and elements, as a warning rather
than a failure (`grid.topology.build_topology` with ``strict=True`` makes it one).

Loops are the 2-connected blocks of the graph that hold a cycle (parallel edges count: two
assets between one bus pair are a loop); blocks that share a bus are one loop, so every bus
belongs to at most one condensed node. An edge from a bus to itself is not a loop: it is what a
cycle already condensed by an importer looks like.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx


@dataclass(frozen=True)
class Loop:
    """One condensed node: its buses (sorted) and the edges (asset ids, sorted) closing it."""

    buses: tuple[str, ...]
    elements: tuple[str, ...]

    @property
    def node(self) -> str:
        """The bus that stands for the whole loop (the first in name order)."""
        return self.buses[0]


def find_loops(graph: nx.MultiGraph) -> list[Loop]:
    """Every closed loop of ``graph`` (edge keys are asset ids), in order of their node."""
    components = list(nx.connected_components(graph))
    edges = graph.number_of_edges() - nx.number_of_selfloops(graph)
    if edges == graph.number_of_nodes() - len(components):
        return []  # a forest: the common case, decided by counting (no block search)
    loops: list[Loop] = []
    for component in components:
        sub = graph.subgraph(component)
        if sub.number_of_edges() - nx.number_of_selfloops(sub) > len(component) - 1:
            loops.extend(_loops_of(sub))
    return sorted(loops, key=lambda loop: loop.node)


def _loops_of(sub: nx.MultiGraph) -> list[Loop]:
    # Subdivide every edge with a node of its own, so that parallel edges become a cycle of a
    # simple graph and biconnected blocks can be asked for directly.
    simple: nx.Graph = nx.Graph()
    for a, b, key in sub.edges(keys=True):
        if a == b:
            continue
        edge = ("edge", key, a, b)
        simple.add_edge(("bus", a), edge)
        simple.add_edge(edge, ("bus", b))
    merged: nx.Graph = nx.Graph()  # buses of cyclic blocks, joined when blocks touch
    elements: dict[str, set[str]] = {}
    for block in nx.biconnected_components(simple):
        if len(block) < 4:  # an edge node and its two buses: a bridge, not a cycle
            continue
        buses = [node[1] for node in block if node[0] == "bus"]
        edge_keys = [str(node[1]) for node in block if node[0] == "edge"]
        merged.add_nodes_from(buses)
        nx.add_path(merged, buses)
        for bus in buses:
            elements.setdefault(bus, set()).update(edge_keys)
    out = []
    for group in nx.connected_components(merged):
        keys: set[str] = set().union(*(elements[bus] for bus in group))
        out.append(Loop(tuple(sorted(group)), tuple(sorted(keys))))
    return out
