"""The radial network, traced once at load time so that every per-call question is array work.

`build_topology` validates a `GridTables`, builds the energised graph with networkx (open
devices left out), walks it breadth-first from every substation and keeps, for each asset, the
answers the engine asks thousands of times a second:

* premise -> service transformer -> nearest upstream device -> chain of devices up to the
  feeder head (one shared tuple per device, nearest first);
* device -> parent device, children, feeder, substation, and how many premises and customers
  sit below it.

Assets are numbered in file order; ``*_ids`` turn numbers back into ids and ``*_index`` turn ids
into numbers. Per-element arrays that the hot path indexes one at a time are Python lists
(indexing a numpy array one element at a time is several times slower); arrays used in bulk are
numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt

from grid.errors import AssetNotFound, Problem, TopologyValidationError
from grid.loops import Loop, find_loops
from grid.model import (
    SCADA_HEAD_KINDS,
    GridTables,
    device_scada,
    feeder_area_classes,
    point_coords,
)
from grid.validate import check_graph, check_tables, energised_graph

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
NO_DEVICE = -1


@dataclass(frozen=True, slots=True)
class Trace:
    """Everything upstream of one premise, nearest device first."""

    premise: str
    transformer: str
    devices: tuple[str, ...]
    feeder: str
    substation: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``outage topology trace``."""
        return {
            "premise": self.premise,
            "transformer": self.transformer,
            "devices": list(self.devices),
            "feeder": self.feeder,
            "substation": self.substation,
        }


@dataclass(eq=False)
class Topology:
    """Read-only, precomputed view of a validated radial network (see the module docstring)."""

    substation_ids: list[str]
    feeder_ids: list[str]
    feeder_substation: list[int]
    feeder_head: list[int]
    device_ids: list[str]
    device_kind: list[str]
    device_closed: list[bool]
    device_parent: list[int]
    device_chain: list[tuple[int, ...]]
    device_children: list[list[int]]
    device_feeder: list[int]
    device_substation: list[int]
    device_transformers: list[list[int]]
    device_premises: IntArray
    device_customers: IntArray
    device_transformer_count: IntArray
    transformer_ids: list[str]
    transformer_device: list[int]
    transformer_feeder: list[int]
    transformer_customers: IntArray
    premise_ids: list[str]
    premise_transformer: list[int]
    premise_customers: IntArray
    section_ids: list[str]
    section_device: IntArray
    section_feeder: IntArray
    _transformer_premise_order: IntArray
    _transformer_premise_start: IntArray
    #: Per device: does it report its state by telemetry (the devices layer's ``scada`` column,
    #: else true for a feeder-head breaker or relay, or one below the head protecting the whole
    #: feeder; see `grid.model.device_scada`).
    device_scada: list[bool] = field(default_factory=list)
    #: Findings that did not stop the build: each closed loop condensed into one node.
    warnings: list[Problem] = field(default_factory=list)
    #: (lon, lat) of every device and transformer, shape (n, 2), WGS84; NaN where unknown.
    #: Crews travel to these points (`outage.restoration`).
    device_lonlat: FloatArray = field(default_factory=lambda: np.empty((0, 2)))
    transformer_lonlat: FloatArray = field(default_factory=lambda: np.empty((0, 2)))
    #: Per feeder: its service-commitment area class (``city``, ``rural``, ``remote``) from the
    #: feeders layer's ``area_class`` column, None where blank.
    feeder_area_class: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.substation_index = {s: i for i, s in enumerate(self.substation_ids)}
        self.feeder_index = {f: i for i, f in enumerate(self.feeder_ids)}
        self.device_index = {d: i for i, d in enumerate(self.device_ids)}
        self.transformer_index = {t: i for i, t in enumerate(self.transformer_ids)}
        self.premise_index = {p: i for i, p in enumerate(self.premise_ids)}
        self.section_index = {s: i for i, s in enumerate(self.section_ids)}

    # -- per-premise questions (the hot path) ---------------------------------------------

    def premise_chain(self, premise: int) -> tuple[int, ...]:
        """Device numbers above ``premise``, nearest first (a shared tuple: do not copy)."""
        return self.device_chain[self.transformer_device[self.premise_transformer[premise]]]

    def trace(self, premise_id: str) -> Trace:
        """Premise -> transformer -> devices (nearest first) -> feeder -> substation."""
        premise = self.premise_index.get(premise_id)
        if premise is None:
            raise AssetNotFound(f"no premise with id {premise_id!r}")
        transformer = self.premise_transformer[premise]
        feeder = self.transformer_feeder[transformer]
        return Trace(
            premise=premise_id,
            transformer=self.transformer_ids[transformer],
            devices=tuple(self.device_ids[d] for d in self.premise_chain(premise)),
            feeder=self.feeder_ids[feeder],
            substation=self.substation_ids[self.feeder_substation[feeder]],
        )

    # -- per-device questions ---------------------------------------------------------------

    def branch_count(self, device: int) -> int:
        """Direct children of ``device``: child devices and transformers it feeds directly."""
        return len(self.device_children[device]) + len(self.device_transformers[device])

    def devices_below(self, device: int) -> list[int]:
        """``device`` and every device under it, parents before children."""
        out = [device]
        for current in out:  # the list grows while we walk it: a breadth-first expansion
            out.extend(self.device_children[current])
        return out

    def transformers_below(self, device: int) -> list[int]:
        """Every transformer fed through ``device``."""
        return [t for d in self.devices_below(device) for t in self.device_transformers[d]]

    def premises_of_transformer(self, transformer: int) -> IntArray:
        """Premise numbers served by ``transformer``."""
        start = self._transformer_premise_start
        return self._transformer_premise_order[start[transformer] : start[transformer + 1]]

    def premises_below(self, device: int) -> IntArray:
        """Premise numbers fed through ``device``."""
        parts = [self.premises_of_transformer(t) for t in self.transformers_below(device)]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def is_below(self, device: int, ancestor: int) -> bool:
        """True when ``ancestor`` is ``device`` or lies on its path to the substation."""
        return ancestor in self.device_chain[device]

    @property
    def customer_count(self) -> int:
        """Customers served by energised transformers."""
        return int(self.premise_customers.sum())


def build_topology(tables: GridTables, *, validate: bool = True, strict: bool = False) -> Topology:
    """Validate ``tables`` and precompute the radial view; raises `TopologyValidationError`.

    A closed loop is condensed into one node (`grid.loops`) and reported in
    ``Topology.warnings``; with ``strict`` every warning is an error instead.
    """
    graph = energised_graph(tables)
    if validate:
        problems = check_tables(tables)
        if not problems:  # graph checks on broken references would only repeat the same news
            problems = check_graph(tables, graph)
        if problems:
            raise TopologyValidationError(problems)
    loops = find_loops(graph)
    warnings = loop_warnings(tables, loops)
    if strict and warnings:
        raise TopologyValidationError(warnings)
    return _Builder(tables, graph, loops).build(warnings)


def loop_warnings(tables: GridTables, loops: list[Loop]) -> list[Problem]:
    """One finding per condensed loop, on its first element, naming its buses and elements."""
    layer_of = dict.fromkeys(tables.sections["id"], "sections")
    layer_of.update(dict.fromkeys(tables.devices["id"], "devices"))
    out = []
    for loop in loops:
        first = loop.elements[0]
        message = (
            f"closed loop condensed into one node ({len(loop.buses)} buses: "
            f"{', '.join(loop.buses)}; elements: {', '.join(loop.elements)})"
        )
        out.append(Problem(tables.source, layer_of.get(first, "sections"), first, message))
    return out


class _Builder:
    """One breadth-first walk per substation; fills the arrays `Topology` serves."""

    def __init__(self, tables: GridTables, graph: nx.MultiGraph, loops: list[Loop]) -> None:
        self.tables = tables
        #: Bus -> the bus standing for its condensed loop (only buses on a loop are keys).
        self.node_of = {bus: loop.node for loop in loops for bus in loop.buses}
        self.graph = _condensed(graph, self.node_of) if loops else graph
        self.device_ids: list[str] = list(tables.devices["id"])
        self.device_index = {d: i for i, d in enumerate(self.device_ids)}
        self.section_ids: list[str] = list(tables.sections["id"])
        self.section_index = {s: i for i, s in enumerate(self.section_ids)}
        self.feeder_ids: list[str] = list(tables.feeders["id"])
        self.feeder_index = {f: i for i, f in enumerate(self.feeder_ids)}
        self.substation_ids: list[str] = list(tables.substations["id"])

    def build(self, warnings: list[Problem]) -> Topology:
        tables = self.tables
        node_of = self.node_of
        n_dev = len(self.device_ids)
        substation_index = {s: i for i, s in enumerate(self.substation_ids)}
        feeder_of_head = {
            self.device_index[head]: f
            for f, head in enumerate(tables.feeders["head_device"])
            if head in self.device_index
        }
        parent = [NO_DEVICE] * n_dev
        chain: list[tuple[int, ...]] = [()] * n_dev
        children: list[list[int]] = [[] for _ in range(n_dev)]
        dev_feeder = [self._declared_feeder(f) for f in tables.devices["feeder"]]
        dev_substation = [NO_DEVICE] * n_dev
        discovery: list[int] = []
        section_device = np.full(len(self.section_ids), NO_DEVICE, dtype=np.int64)
        section_feeder = np.full(len(self.section_ids), NO_DEVICE, dtype=np.int64)
        bus_device: dict[str, int] = {}
        bus_feeder: dict[str, int] = {}
        adjacency = self.graph.adj
        substation_of_bus: dict[str, int] = {}

        def place_device(device: int, above: int, feeder: int, s: int) -> None:
            parent[device] = above
            chain[device] = (device, *chain[above]) if above != NO_DEVICE else (device,)
            if above != NO_DEVICE:
                children[above].append(device)
            dev_feeder[device] = feeder
            dev_substation[device] = s
            discovery.append(device)

        for sub, source_bus in zip(self.substation_ids, tables.substations["bus"], strict=True):
            s = substation_index[sub]
            bus = node_of.get(source_bus, source_bus)
            bus_device[bus] = NO_DEVICE
            bus_feeder[bus] = NO_DEVICE
            substation_of_bus[bus] = s
            for u, v in nx.bfs_edges(self.graph, bus):
                key = next(iter(adjacency[u][v]))
                above = bus_device[u]
                substation_of_bus[v] = s
                device = self.device_index.get(key) if adjacency[u][v][key]["device"] else None
                if device is None:
                    bus_device[v] = above
                    bus_feeder[v] = bus_feeder[u]
                    section = self.section_index[key]
                    section_device[section] = above
                    section_feeder[section] = bus_feeder[u]
                    continue
                feeder = feeder_of_head.get(device, bus_feeder[u])
                place_device(device, above, feeder, s)
                bus_device[v] = device
                bus_feeder[v] = feeder
        # Edges inside a condensed loop (or from a bus to itself) were not walked: they stand
        # below whatever feeds their node, and a device there has nothing of its own below it.
        for key, a, is_device in self._inner_edges():
            node = node_of.get(a, a)
            if node not in bus_device:
                continue  # an orphan: validation has already said so
            above, feeder = bus_device[node], bus_feeder[node]
            if is_device:
                device = self.device_index[key]
                if parent[device] == NO_DEVICE and not chain[device]:
                    place_device(device, above, feeder, substation_of_bus[node])
            else:
                section = self.section_index[key]
                section_device[section] = above
                section_feeder[section] = feeder

        transformer_ids: list[str] = list(tables.transformers["id"])
        transformer_index = {t: i for i, t in enumerate(transformer_ids)}
        transformer_nodes = [node_of.get(bus, bus) for bus in tables.transformers["bus"]]
        transformer_device = [bus_device.get(node, NO_DEVICE) for node in transformer_nodes]
        transformer_feeder = [bus_feeder.get(node, NO_DEVICE) for node in transformer_nodes]
        device_transformers: list[list[int]] = [[] for _ in range(n_dev)]
        problems: list[Problem] = []
        for t, (d, f) in enumerate(zip(transformer_device, transformer_feeder, strict=True)):
            if f == NO_DEVICE:
                problems.append(
                    Problem(
                        tables.source,
                        "transformers",
                        transformer_ids[t],
                        "not below any feeder head device",
                    )
                )
                continue
            if d != NO_DEVICE:
                device_transformers[d].append(t)
        if problems:
            raise TopologyValidationError(problems)

        premise_ids: list[str] = list(tables.premises["id"])
        premise_transformer = [transformer_index[t] for t in tables.premises["transformer"]]
        premise_customers = self._customers_per_premise(premise_ids)
        pt = np.asarray(premise_transformer, dtype=np.int64)
        n_tr = len(transformer_ids)
        transformer_customers = np.bincount(pt, weights=premise_customers, minlength=n_tr).astype(
            np.int64
        )
        transformer_premises = np.bincount(pt, minlength=n_tr).astype(np.int64)
        order = np.argsort(pt, kind="stable").astype(np.int64)
        start = np.zeros(n_tr + 1, dtype=np.int64)
        np.cumsum(transformer_premises, out=start[1:])

        td = np.asarray(transformer_device, dtype=np.int64)
        energised = td != NO_DEVICE
        device_customers = np.bincount(
            td[energised], weights=transformer_customers[energised], minlength=n_dev
        ).astype(np.int64)
        device_premises = np.bincount(
            td[energised], weights=transformer_premises[energised], minlength=n_dev
        ).astype(np.int64)
        device_transformer_count = np.asarray(
            [len(ts) for ts in device_transformers], dtype=np.int64
        )
        for device in reversed(discovery):  # children are discovered after their parents
            up = parent[device]
            if up != NO_DEVICE:
                device_customers[up] += device_customers[device]
                device_premises[up] += device_premises[device]
                device_transformer_count[up] += device_transformer_count[device]

        feeder_substation = [
            substation_index.get(s, NO_DEVICE) for s in tables.feeders["substation"]
        ]
        feeder_head = [self.device_index.get(h, NO_DEVICE) for h in tables.feeders["head_device"]]
        station = _station_devices(
            list(tables.devices["kind"]), dev_feeder, chain, feeder_head, device_customers
        )
        return Topology(
            substation_ids=self.substation_ids,
            feeder_ids=self.feeder_ids,
            feeder_substation=feeder_substation,
            feeder_head=feeder_head,
            device_ids=self.device_ids,
            device_kind=list(tables.devices["kind"]),
            device_closed=[state == "closed" for state in tables.devices["normal_state"]],
            device_parent=parent,
            device_chain=chain,
            device_children=children,
            device_feeder=dev_feeder,
            device_substation=dev_substation,
            device_transformers=device_transformers,
            device_premises=device_premises,
            device_customers=device_customers,
            device_transformer_count=device_transformer_count,
            transformer_ids=transformer_ids,
            transformer_device=transformer_device,
            transformer_feeder=transformer_feeder,
            transformer_customers=transformer_customers,
            premise_ids=premise_ids,
            premise_transformer=premise_transformer,
            premise_customers=premise_customers,
            section_ids=self.section_ids,
            section_device=section_device,
            section_feeder=section_feeder,
            _transformer_premise_order=order,
            _transformer_premise_start=start,
            device_scada=device_scada(tables.devices, {self.device_ids[d] for d in station}),
            warnings=warnings,
            device_lonlat=point_coords(tables.devices.geometry),
            transformer_lonlat=point_coords(tables.transformers.geometry),
            feeder_area_class=feeder_area_classes(tables.feeders),
        )

    def _inner_edges(self) -> list[tuple[str, str, bool]]:
        """(id, from_bus, is_device) of closed edges whose two ends are one node."""
        node_of = self.node_of
        out: list[tuple[str, str, bool]] = []
        devices = self.tables.devices
        closed = devices[devices["normal_state"] == "closed"]
        for frame, is_device in ((self.tables.sections, False), (closed, True)):
            a, b = frame["from_bus"], frame["to_bus"]
            if node_of:  # rare: map every end to its node
                inner = [node_of.get(x, x) == node_of.get(y, y) for x, y in zip(a, b, strict=True)]
            else:  # the common case, vectorised: only an edge from a bus to itself
                inner = list(a == b)
            for key, bus in zip(frame["id"][inner], a[inner], strict=True):
                out.append((key, bus, is_device))
        return out

    def _declared_feeder(self, feeder_id: str) -> int:
        return self.feeder_index.get(feeder_id, NO_DEVICE)

    def _customers_per_premise(self, premise_ids: list[str]) -> IntArray:
        """Accounts per premise; with no customer table at all, one customer per premise."""
        customers = self.tables.customers
        if len(customers) == 0:
            return np.ones(len(premise_ids), dtype=np.int64)
        counts = customers["premise"].value_counts()
        return np.asarray(counts.reindex(premise_ids, fill_value=0), dtype=np.int64)


def _condensed(graph: nx.MultiGraph, node_of: dict[str, str]) -> nx.MultiGraph:
    """``graph`` with each loop's buses merged into its node and the loop's own edges left out
    (they join a node to itself); what remains is a forest."""
    out: nx.MultiGraph = nx.MultiGraph()
    out.add_nodes_from(node_of.get(bus, bus) for bus in graph.nodes)
    for a, b, key, data in graph.edges(keys=True, data=True):
        u, v = node_of.get(a, a), node_of.get(b, b)
        if u != v:
            out.add_edge(u, v, key, **data)
    return out


def _station_devices(
    kinds: list[str],
    feeder_of: list[int],
    chain: list[tuple[int, ...]],
    feeder_head: list[int],
    customers: IntArray,
) -> set[int]:
    """The feeder heads, and the breakers and relays below a head that still protect its
    whole feeder (every one of its customers): with no load between them and the head they
    are substation equipment, which reports to SCADA. (IEEE 8500's ``relay.subbreaker``, the
    relay that trips the feeder breaker, is one.)"""
    station = {head for head in feeder_head if head != NO_DEVICE}
    for device, kind in enumerate(kinds):
        feeder = feeder_of[device]
        if kind not in SCADA_HEAD_KINDS or feeder < 0 or feeder_head[feeder] == NO_DEVICE:
            continue
        head = feeder_head[feeder]
        if head in chain[device] and customers[device] == customers[head]:
            station.add(device)
    return station

