"""Brute-force answers the scenario tests compare against, computed another way.

Nothing here shares code with `scenarios.physics`: the interrupting device is found by walking
the path from the substation in a networkx graph of the raw tables, and who is dark when is
found by asking every fault, one premise and one instant at a time.
"""

from __future__ import annotations

from datetime import datetime

import networkx as nx

from grid.model import GridTables
from grid.topology import Topology
from scenarios.spec import INTERRUPTING_KINDS
from scenarios.truth import Fault, Truth


def interrupter_by_path(tables: GridTables, section_id: str) -> str | None:
    """The last fault-interrupting device on the path from the substation to the section."""
    return interrupters_by_path(tables)[section_id]


_PATHS: dict[int, tuple[GridTables, dict[str, str | None]]] = {}


def interrupters_by_path(tables: GridTables) -> dict[str, str | None]:
    """`interrupter_by_path` of every energised section, from one breadth-first search of a
    networkx graph of the raw tables (closed devices and sections as edges)."""
    cached = _PATHS.get(id(tables))
    if cached is not None and cached[0] is tables:
        return cached[1]
    graph = nx.Graph()
    kind = {}
    for row in tables.devices.itertuples():
        if row.normal_state == "closed":
            graph.add_edge(row.from_bus, row.to_bus, asset=row.id)
            kind[row.id] = row.kind
    for row in tables.sections.itertuples():
        graph.add_edge(row.from_bus, row.to_bus, asset=row.id)
    root = ("every substation",)  # one virtual root above all substation buses
    for bus in tables.substations["bus"]:
        graph.add_edge(root, bus, asset=None)
    parent = dict(nx.bfs_predecessors(graph, root))
    depth = {root: 0}
    for bus in nx.bfs_tree(graph, root):
        if bus != root:
            depth[bus] = depth[parent[bus]] + 1

    def last_interrupter(bus: object) -> str | None:
        while bus != root:
            up = parent[bus]
            if kind.get(graph.edges[up, bus]["asset"]) in INTERRUPTING_KINDS:
                return str(graph.edges[up, bus]["asset"])
            bus = up
        return None

    answers: dict[str, str | None] = {}
    for row in tables.sections.itertuples():
        ends = [b for b in (row.from_bus, row.to_bus) if b in depth]
        if ends:
            answers[row.id] = last_interrupter(min(ends, key=lambda b: depth[b]))
    _PATHS[id(tables)] = (tables, answers)
    return answers


def premises_of(topology: Topology, fault: Fault) -> set[str]:
    """Premises de-energised while the fault's asset is open (grid's own tree queries)."""
    return _premises(topology, fault.asset)


#: (id of the topology, asset) -> (that topology, its premises). The topology is kept with the
#: answer and checked by identity: an id is reused once its object is gone, and hypothesis
#: makes many random topologies in one run (a stale answer for a new topology failed a test).
_CACHE: dict[tuple[int, str], tuple[Topology, set[str]]] = {}


def _premises(topology: Topology, asset: str) -> set[str]:
    key = (id(topology), asset)
    cached = _CACHE.get(key)
    if cached is None or cached[0] is not topology:
        if asset in topology.device_index:
            numbers = topology.premises_below(topology.device_index[asset])
        else:
            numbers = topology.premises_of_transformer(topology.transformer_index[asset])
        cached = _CACHE[key] = (topology, {topology.premise_ids[p] for p in numbers.tolist()})
    return cached[1]


def dark_faults(topology: Topology, truth: Truth, premise: str, at: datetime) -> list[Fault]:
    """Faults open at ``at`` whose asset feeds ``premise``."""
    return [
        f for f in truth.faults if f.start <= at < f.restore and premise in premises_of(topology, f)
    ]


def dark_intervals(
    topology: Topology, truth: Truth, premise: str
) -> list[tuple[datetime, datetime]]:
    """The premise's intervals without power (union over the faults feeding it)."""
    spans = sorted(
        (f.start, f.restore) for f in truth.faults if premise in premises_of(topology, f)
    )
    merged: list[tuple[datetime, datetime]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged
