"""Phase-aware connectivity: cycles that exist only at bus level, resolved per phase.

A utility model often draws single-phase laterals and step transformers per phase: separate
single-phase elements between the same two buses, or phases that take different paths between
two buses (phase A straight on, phases B and C through a step transformer and back). Per phase
such a feeder is radial; only the bus-level graph has a cycle. Each cycle of the closed
bus-level graph (`grid.loops.find_loops`) is tested per phase and handled here:

* **A true loop** - some phase goes round it, e.g. a meshed secondary or two feeders
  paralleled - is left as it is: the topology builder condenses it with a warning.
* **Phases taking different paths** are **split**: each bus where phases arrive by different
  paths becomes one virtual bus per path, ``<bus>~<phases>`` (``b2~1``, ``b2~2.3``), and
  everything standing at that bus moves to the virtual bus carrying its phases. The bus-level
  tree is then exact: a premise on phase A keeps phase A's fuse in its chain.
* When the split cannot be made - an element downstream uses phases from two paths at once, so
  no single path feeds it - the cycle is **condensed**: all its buses become its root (the bus
  nearest the source) and its own edges join that bus to itself. A premise below then keeps
  every device above the cycle; the devices inside the cycle are named in a warning, as their
  chains are no longer exact.

The functions here change the buses of `Attachment` objects in place and report what they did.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Literal

import networkx as nx

from grid.loops import Loop, find_loops

#: The phases of an end that names none (a three-phase element).
ALL_PHASES: tuple[int, ...] = (1, 2, 3)

Node = tuple[str, int]


@dataclass
class Attachment:
    """Something standing at a bus on some phases: an edge's end, a load, a transformer."""

    bus: str
    phases: tuple[int, ...] = ALL_PHASES


@dataclass
class PhaseEdge:
    """A closed edge of the primary network, its two ends and whether it is a device."""

    id: str
    device: bool
    a: Attachment
    b: Attachment


@dataclass(frozen=True)
class Resolution:
    """What was done with one bus-level cycle."""

    kind: Literal["split", "condensed", "loop"]
    buses: tuple[str, ...]
    elements: tuple[str, ...]
    #: Devices on a condensed cycle: their chains are no longer exact (a warning names them).
    devices: tuple[str, ...] = ()
    #: For a split: the virtual buses made, by original bus.
    made: dict[str, tuple[str, ...]] = field(default_factory=dict)


def resolve_phase_paths(
    edges: list[PhaseEdge], others: list[Attachment], distance: dict[str, int]
) -> list[Resolution]:
    """Find every bus-level cycle of ``edges`` and split or condense those that are not true
    loops, moving the ends of ``edges`` and the ``others`` (loads, transformers) in place.

    ``distance`` (hops from the source) picks each cycle's root: the bus nearest the source.
    """
    graph: nx.MultiGraph = nx.MultiGraph()
    for edge in edges:
        graph.add_edge(edge.a.bus, edge.b.bus, edge.id)
    loops = find_loops(graph)
    if not loops:
        return []
    at_bus: defaultdict[str, list[Attachment]] = defaultdict(list)
    for edge in edges:
        at_bus[edge.a.bus].append(edge.a)
        at_bus[edge.b.bus].append(edge.b)
    for other in others:
        at_bus[other.bus].append(other)
    by_id = {edge.id: edge for edge in edges}
    out = []
    for loop in loops:
        members = [by_id[key] for key in loop.elements]
        if _has_phase_cycle(members):
            out.append(Resolution("loop", loop.buses, loop.elements))
            continue
        root = min(loop.buses, key=lambda bus: (distance.get(bus, len(distance)), bus))
        made = _split(loop, members, root, at_bus)
        if made is not None:
            out.append(Resolution("split", loop.buses, loop.elements, made=made))
            continue
        for bus in loop.buses:
            for attachment in at_bus[bus]:
                attachment.bus = root
        devices = tuple(edge.id for edge in members if edge.device)
        out.append(Resolution("condensed", loop.buses, loop.elements, devices=devices))
    return out


def _links(edge: PhaseEdge) -> list[tuple[Node, Node]]:
    """Phase-to-phase connections of an edge: node by node when both ends have as many
    phases (a line, a three-phase transformer), else a star from each end's first phase (a
    single-phase transformer on two primary phases), which adds no cycle of its own."""
    a, b = edge.a, edge.b
    pa, pb = a.phases or ALL_PHASES, b.phases or ALL_PHASES
    if len(pa) == len(pb):
        pairs = list(zip(pa, pb, strict=True))
    else:
        pairs = [(pa[0], q) for q in pb] + [(p, pb[0]) for p in pa[1:]]
    return [((a.bus, p), (b.bus, q)) for p, q in pairs]


def _has_phase_cycle(members: list[PhaseEdge]) -> bool:
    """True when some phase goes round the cycle (union-find over (bus, phase) nodes)."""
    parent: dict[Node, Node] = {}

    def find(node: Node) -> Node:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for edge in members:
        for u, v in _links(edge):
            ru, rv = find(u), find(v)
            if ru == rv:
                return True
            parent[ru] = rv
    return False


def _split(
    loop: Loop,
    members: list[PhaseEdge],
    root: str,
    at_bus: dict[str, list[Attachment]],
) -> dict[str, tuple[str, ...]] | None:
    """Give each path through the cycle its own buses; None when that cannot be done."""
    adjacency: defaultdict[Node, list[tuple[Node, str]]] = defaultdict(list)
    for edge in members:
        for u, v in _links(edge):
            adjacency[u].append((v, edge.id))
            adjacency[v].append((u, edge.id))
    # Per phase node, the path (edge ids) from the root: phases with one path share a bus.
    path: dict[Node, tuple[str, ...]] = {}
    queue: deque[Node] = deque()
    for node in adjacency:
        if node[0] == root:
            path[node] = ()
            queue.append(node)
    while queue:
        node = queue.popleft()
        for neighbour, key in adjacency[node]:
            if neighbour not in path:
                path[neighbour] = (*path[node], key)
                queue.append(neighbour)
    moves: list[tuple[Attachment, str]] = []
    made: dict[str, tuple[str, ...]] = {}
    for bus in loop.buses:
        if bus == root:
            continue
        groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for (name, phase), route in path.items():
            if name == bus:
                groups[route].append(phase)
        if len(groups) < 2:
            continue
        names = {
            route: f"{bus}~{'.'.join(str(p) for p in sorted(phases))}"
            for route, phases in groups.items()
        }
        made[bus] = tuple(sorted(names.values()))
        for attachment in at_bus.get(bus, []):
            wanted = set(attachment.phases or ALL_PHASES)
            fits = [r for r, phases in groups.items() if wanted <= set(phases)]
            if len(fits) != 1:
                return None  # fed through two paths at once: no single chain feeds it
            moves.append((attachment, names[fits[0]]))
    if not made:
        return None
    before = [(attachment, attachment.bus) for attachment, _ in moves]
    for attachment, bus in moves:
        attachment.bus = bus
    check: nx.MultiGraph = nx.MultiGraph()
    for edge in members:
        check.add_edge(edge.a.bus, edge.b.bus, edge.id)
    if find_loops(check):  # paths that still meet: undo, and let the caller condense
        for attachment, bus in before:
            attachment.bus = bus
        return None
    return made
