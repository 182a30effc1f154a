"""From a `Circuit` (what a model holds) to asset tables: the rules every importer shares.

Ids and buses
    Assets keep the ids the reader gave their elements (``line.671692``, ``fuse.f1``); buses
    are the model's, lower case, without phase suffix.

Substations, feeders, head devices
    Found in the model (`grid.importers.substations`): the source is the transmission grid,
    every substation transformer starts a substation, and what lies above the substations is
    left out. Each breaker, recloser, relay-tripped element or switch leaving a substation's
    bus group starts a feeder with that device as its head. Where power leaves the group with
    no such device (a plain line, or loads standing in the substation) a head breaker is
    synthesised: ``breaker.<circuit>`` when the model has one substation, else
    ``breaker.<substation transformer>``. With no real head at all it stands between a virtual
    bus named like the substation (``substation.<circuit>``; a dot never occurs in an OpenDSS
    bus name) and the substation's low-side bus; beside real heads it stands between that bus
    and a virtual bus ``<bus>~head`` that the headless lines and loads are moved to. A
    switch leaving the group is a disconnect, not protection: a breaker
    ``breaker.<switch name>`` is synthesised above it (between the group's bus and a virtual
    bus ``<bus>~<switch name>`` the switch is moved to) and heads its feeder, which keeps the
    switch's name (``feeder.<switch id>``). Ids: one
    substation is ``substation.<circuit>``, several are ``substation.<transformer>``; one
    feeder is ``feeder.<circuit>``, several are ``feeder.<head device id>``. A synthesised or
    relay-tripped head is marked telemetered (``scada`` true).

Edges
    Lines, transformers, reactors and series capacitors are sections; a multi-winding element
    is one edge from its first bus to each other distinct bus (``<id>~<bus>`` for the second
    and later). Elements joining the same two buses with no device among them (three
    single-phase regulators, a bank, per-phase lines) are one edge: only the first becomes a
    section. A switch element is a device of kind "switch". A protective device switching an
    element (OpenDSS Fuse/Recloser/Relay) is a device of its kind in place of that element's
    section; several on one element are chained in series, relay first, through virtual buses
    ``<element>~1``, ``~2``... A fused service transformer stands below its fuse. A device on a
    shunt switches no path and is left out. Normally open: a disabled or open element, or a
    switch to a bus no other element touches; it becomes a device with normal_state "open" -
    kind "tie", or its own/protective kind. Ties keep the feeders of both their sides.
    Cycles that exist only at bus level (phases taking different paths) are split per phase
    or condensed (`grid.importers.phases`); a true loop is imported as it is and condensed, with
    a warning, by the topology builder.

Service transformers and premises
    A transformer whose lowest winding is below 1 kV feeds a low-voltage secondary: a point on
    its highest-voltage bus. Its secondary is below the model's resolution and left out; each
    load there is a premise of that transformer, or, where a bank of single-phase units feeds
    one secondary, of the unit sharing most of the load's phases. Other transformers are
    sections. A load on a primary bus gets a synthesised ``transformer.bus_<bus>`` (kva NaN)
    shared by every load of that bus. A low-voltage transformer fed from another secondary is
    part of that secondary.

Coordinates: see `grid.importers.placement`. Premises sit `PREMISE_RING_M` around their
load's bus, transformers at their secondary bus, devices at the middle of their edge.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from grid.feeders import label_feeders
from grid.importers.circuit import (
    Circuit,
    Element,
    is_service_transformer,
    pairs,
    phases_primary_first,
    primary_first,
)
from grid.importers.phases import ALL_PHASES, Attachment, PhaseEdge, resolve_phase_paths
from grid.importers.placement import Placed, Rows, frame, place, ring
from grid.importers.substations import Plan, Substation, plan_substations
from grid.model import DEVICE_KINDS, LAYERS, GridTables

#: Device kinds that start a feeder when they leave a substation's bus group.
HEAD_KINDS: Final = frozenset({"breaker", "recloser", "relay", "switch"})
#: Upstream first when several devices switch one element.
_CHAIN_ORDER: Final = ("relay", "breaker", "recloser", "sectionalizer", "fuse")
#: Radius (m) of the ring of premises around their load's bus.
PREMISE_RING_M: Final = 2.0
#: Radius (m) by which transformers sharing one position are moved apart.
TRANSFORMER_RING_M: Final = 1.0
#: How many element ids the summary lists per skip reason.
_EXAMPLES: Final = 10

ABOVE_SUBSTATIONS: Final = (
    "above the substations (transmission, sub-transmission, substation transformers)"
)


@dataclass
class _Edge:
    """A device or section row in the making; ``at`` are the buses it is drawn between."""

    asset: str
    kind: str  # "section" or a device kind
    a: Attachment
    b: Attachment
    state: str
    at: tuple[str, str]
    mrid: str = ""
    scada: str = ""


@dataclass
class _Standing:
    """A transformer standing at a bus (service, or synthesised for primary loads)."""

    asset: str
    att: Attachment
    drawn_at: str
    kva: float
    mrid: str = ""


@dataclass
class _Load:
    element: Element
    att: Attachment
    transformer: str  # "" until decided (a synthesised one is named after its final bus)


@dataclass
class _Head:
    substation: str
    device: str
    kind: str
    synthesised: bool
    feeder: str = ""
    #: The model's element the feeder is named after (default: the head device).
    named_after: str = ""


@dataclass
class _Heads:
    substation_rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    heads: list[_Head] = field(default_factory=list)
    above: set[str] = field(default_factory=set)
    info: list[dict[str, Any]] = field(default_factory=list)


def assemble(
    circuit: Circuit,
    *,
    anchor: tuple[float, float],
    metres_per_unit: float,
    source: str,
    unit: str = "",
) -> GridTables:
    """Asset tables of ``circuit`` (see the module docstring); ``tables.inferred`` says what
    was inferred on the way."""
    return _Assembly(circuit).tables(anchor, metres_per_unit, source, unit)


class _Assembly:
    def __init__(self, circuit: Circuit) -> None:
        self.circuit = circuit
        self.rows = {layer: Rows() for layer in LAYERS}
        #: Every bus pair any element joins, open or not: used to place buses without XY.
        self.adjacency: defaultdict[str, set[str]] = defaultdict(set)
        self.service = {e.id: e for e in circuit.edges if is_service_transformer(e)}
        self.plan: Plan = plan_substations(circuit.edges, circuit.source_bus, set(self.service))
        for element in list(self.service.values()):
            if element.id in self.plan.upstream or element.buses[0] in self.plan.upstream_buses:
                del self.service[element.id]
        self.service_at: dict[str, Attachment] = {}
        self.secondary, self.feeds = self._secondaries()
        self.warnings: list[str] = []
        self.parallel = 0

    def tables(
        self, anchor: tuple[float, float], metres: float, source: str, unit: str
    ) -> GridTables:
        circuit = self.circuit
        edges = self._edges()
        loads = self._loads()
        standing = self._service_standing()
        heads = self._heads(edges, loads, standing)
        resolutions = self._resolve(edges, loads, standing, heads)
        self._synthesised_transformers(loads, standing)
        for element in circuit.edges:
            _join(self.adjacency, element.buses)
        for bus in circuit.touched:
            self.adjacency.setdefault(bus, set())
        placed = place(
            circuit.xy,
            geographic=circuit.geographic,
            anchor=anchor,
            metres_per_unit=metres,
            adjacency=self.adjacency,
            start=circuit.source_bus,
        )
        self._rows(edges, loads, standing, heads)
        frames = {layer: frame(layer, rows, placed) for layer, rows in self.rows.items()}
        tables = GridTables(**frames, source=source)
        label_feeders(tables, heads.above)
        tables.inferred = self._summary(tables, heads, resolutions, placed, anchor, unit)
        return tables

    # -- structure ---------------------------------------------------------------------------

    def _secondaries(self) -> tuple[dict[str, int], dict[int, list[Element]]]:
        """Label each bus below a service transformer with its secondary network.

        A secondary network is what is left connected to a service transformer's low-voltage
        side once service transformers are taken out; ``feeds`` lists the transformers of each.
        Buses connected to the source that way are primary, even if a transformer feeds them.
        """
        lv: defaultdict[str, set[str]] = defaultdict(set)
        for element in self.circuit.edges:
            if element.id not in self.service:
                _join(lv, element.buses)
        primary = _reach(lv, [self.circuit.source_bus], set())
        for element in list(self.service.values()):
            if primary_first(element)[0] not in primary:
                # Fed from another secondary (480/208 V in a building) or from nowhere: part of
                # the secondary it stands in, not a transformer of the model.
                del self.service[element.id]
                _join(lv, element.buses)
        label: dict[str, int] = {}
        feeds: defaultdict[int, list[Element]] = defaultdict(list)
        for transformer in self.service.values():
            for bus in primary_first(transformer)[1:]:
                if bus in primary:
                    continue
                if bus not in label:
                    label.update(dict.fromkeys(_reach(lv, [bus], primary), len(feeds)))
                if transformer not in feeds[label[bus]]:
                    feeds[label[bus]].append(transformer)
        return label, dict(feeds)

    def _edges(self) -> list[_Edge]:
        by_target: defaultdict[str, list[tuple[str, str, str]]] = defaultdict(list)
        upstream_first = sorted(self.circuit.protection, key=lambda p: _CHAIN_ORDER.index(p.kind))
        for device in upstream_first:
            by_target[device.target].append((device.id, device.kind, device.scada))
        joined: set[frozenset[str]] = set()
        out: list[_Edge] = []
        for element in self.circuit.edges:
            if element.id in self.plan.upstream:
                self.circuit.skip(ABOVE_SUBSTATIONS, element.id)
                continue
            if element.id not in self.service and element.buses[0] in self.secondary:
                continue  # below a service transformer: not part of the asset model
            protection = by_target.get(element.id, [])
            if element.device:
                protection = [(element.id, element.device, element.scada), *protection]
            out.extend(self._element(element, protection, joined))
        return out

    def _element(
        self,
        element: Element,
        protection: list[tuple[str, str, str]],
        joined: set[frozenset[str]],
    ) -> list[_Edge]:
        """Edges for one primary element: its protective devices, then itself."""
        service = element.id in self.service
        buses = primary_first(element) if service else element.buses
        phases = phases_primary_first(element) if service else element.phases
        phase_at = {
            bus: phases[i] if i < len(phases) else ALL_PHASES for i, bus in enumerate(buses)
        }
        edge_pairs = pairs(buses)
        if not edge_pairs:
            return []  # a shunt (capacitor, reactor to ground): no path, nothing to switch
        closed = element.closed and not self._dead_end_switch(element)
        state = "closed" if closed else "open"
        out: list[_Edge] = []
        start = edge_pairs[0][0]
        first_phases = phase_at[start]
        whole = len(edge_pairs) == 1 and not service
        for number, (device, kind, scada) in enumerate(protection, start=1):
            last = whole and number == len(protection)
            end = edge_pairs[0][1] if last else f"{element.id}~{number}"
            mrid = element.mrid if device == element.id else ""
            out.append(
                _Edge(
                    device,
                    kind,
                    Attachment(start, phase_at.get(start, first_phases)),
                    Attachment(end, phase_at.get(end, first_phases)),
                    state,
                    (start, end),
                    mrid,
                    scada,
                )
            )
            _join(self.adjacency, (start, end))
            start = end
        if service:
            self.service_at[element.id] = Attachment(start, first_phases)
            return out
        if protection and whole:
            return out  # the device stands in place of the element
        for number, (_, bus) in enumerate(edge_pairs):
            asset = element.id if number == 0 else f"{element.id}~{bus}"
            ends = (
                Attachment(start, phase_at.get(start, first_phases)),
                Attachment(bus, phase_at[bus]),
            )
            if element.switch or state == "open":
                kind = "switch" if state == "closed" else "tie"
                out.append(
                    _Edge(asset, kind, *ends, state, (start, bus), element.mrid, element.scada)
                )
                _join(self.adjacency, (start, bus))
            elif (pair := frozenset((start, bus))) not in joined:
                joined.add(pair)
                out.append(_Edge(asset, "section", *ends, state, (start, bus), element.mrid))
            else:
                self.parallel += 1
        return out

    def _dead_end_switch(self, element: Element) -> bool:
        """A switch to a bus nothing else touches is an open point drawn as a stub."""
        return element.switch and any(self.circuit.touched[bus] == 1 for bus in element.buses)

    def _loads(self) -> list[_Load]:
        out = []
        for load in self.circuit.loads:
            bus = load.buses[0]
            if bus in self.plan.upstream_buses:
                self.circuit.skip("load on the transmission side of the substations", load.id)
                continue
            network = self.secondary.get(bus)
            transformer = ""
            if network is not None and network in self.feeds:
                transformer = _closest_phase(load, self.feeds[network]).id
            phases = load.phases[0] if load.phases else ALL_PHASES
            out.append(_Load(load, Attachment(bus, phases), transformer))
        return out

    def _service_standing(self) -> list[_Standing]:
        out = []
        for transformer in self.service.values():
            _, secondary, *_ = primary_first(transformer)
            att = self.service_at.get(transformer.id)
            if att is None:
                continue  # skipped with the element (above the substations)
            out.append(_Standing(transformer.id, att, secondary, transformer.kva, transformer.mrid))
        return out

    # -- substations and feeder heads ---------------------------------------------------------

    def _heads(self, edges: list[_Edge], loads: list[_Load], standing: list[_Standing]) -> _Heads:
        circuit = self.circuit
        subs = self.plan.substations
        out = _Heads()
        for substation in subs:
            short = _short(substation.transformers[0]) if substation.transformers else circuit.name
            sid = f"substation.{circuit.name}" if len(subs) == 1 else f"substation.{short}"
            breaker = f"breaker.{circuit.name}" if len(subs) == 1 else f"breaker.{short}"
            self._substation_heads(substation, sid, breaker, edges, loads, standing, out)
        feeders = len(out.heads)
        for head in out.heads:
            named = head.named_after or head.device
            head.feeder = f"feeder.{circuit.name}" if feeders == 1 else f"feeder.{named}"
        return out

    def _substation_heads(
        self,
        substation: Substation,
        sid: str,
        breaker: str,
        edges: list[_Edge],
        loads: list[_Load],
        standing: list[_Standing],
        out: _Heads,
    ) -> None:
        group = substation.group
        low = substation.low_buses[0]
        exits: list[tuple[_Edge, Attachment]] = []  # the edge and its end inside the group
        for edge in edges:
            inside_a, inside_b = edge.a.bus in group, edge.b.bus in group
            if inside_a != inside_b and edge.state == "closed":
                if inside_b:  # a head is oriented away from the substation
                    edge.a, edge.b = edge.b, edge.a
                exits.append((edge, edge.a))
        real = [edge for edge, _ in exits if edge.kind in HEAD_KINDS]
        headless = [end for edge, end in exits if edge.kind not in HEAD_KINDS]
        inside = [x.att for x in loads if x.att.bus in group]
        inside += [x.att for x in standing if x.att.bus in group]
        taken = {e.asset for e in edges}
        for edge in real:
            if edge.kind == "relay" and not edge.scada:
                edge.scada = "true"  # a relay-tripped head breaker reports to SCADA
            if edge.kind == "switch":
                # A disconnect at the substation's exit interrupts no fault: the model left
                # out the feeder breaker that stands above it (every feeder leaves through
                # one), so it is synthesised there and the switch stays, below it.
                head = f"breaker.{_short(edge.asset)}"
                head = head if head not in taken else f"{head}~head"
                below = f"{edge.a.bus}~{_short(edge.asset)}"
                edges.append(self._synthesised(head, edge.a.bus, below))
                edge.a.bus = below
                # the feeder keeps the name of the model's own element
                out.heads.append(
                    _Head(sid, head, "breaker", synthesised=True, named_after=edge.asset)
                )
                continue
            out.heads.append(_Head(sid, edge.asset, edge.kind, synthesised=False))
        info: dict[str, Any] = {
            "id": sid,
            "bus": low,
            "transformers": substation.transformers,
            "regulators": substation.regulators,
        }
        if not real:
            # Everything leaves through the synthesised breaker: it stands above the group.
            bus = sid
            edges.append(self._synthesised(breaker, bus, low))
            out.heads.append(_Head(sid, breaker, "breaker", synthesised=True))
        else:
            bus = low
            out.above |= group
            if headless or inside:
                # Real heads and headless exits side by side: the headless ones move below a
                # synthesised breaker of their own.
                below = f"{low}~head"
                edges.append(self._synthesised(breaker, low, below))
                out.heads.append(_Head(sid, breaker, "breaker", synthesised=True))
                for attachment in [*headless, *inside]:
                    attachment.bus = below
        mrid = circuit_mrid(self.circuit.substation_mrid, len(self.plan.substations))
        name = (
            _short(substation.transformers[0])
            if len(self.plan.substations) > 1
            else self.circuit.name
        )
        out.substation_rows.append((sid, name, bus, low, mrid))
        out.info.append(info)

    def _synthesised(self, breaker: str, a: str, b: str) -> _Edge:
        at = b if a.startswith("substation.") else a
        return _Edge(
            breaker, "breaker", Attachment(a), Attachment(b), "closed", (at, at), "", "true"
        )

    # -- phases ---------------------------------------------------------------------------------

    def _resolve(
        self, edges: list[_Edge], loads: list[_Load], standing: list[_Standing], heads: _Heads
    ) -> list[dict[str, Any]]:
        closed = [e for e in edges if e.state == "closed" and e.a.bus != e.b.bus]
        distance = _distances([row[2] for row in heads.substation_rows], closed)
        phase_edges = [PhaseEdge(e.asset, e.kind != "section", e.a, e.b) for e in closed]
        others = [x.att for x in loads] + [x.att for x in standing]
        out = []
        for resolution in resolve_phase_paths(phase_edges, others, distance):
            if resolution.kind == "loop":
                continue  # a true loop: the topology builder condenses it and warns
            item: dict[str, Any] = {
                "resolution": resolution.kind,
                "buses": list(resolution.buses),
                "elements": list(resolution.elements),
            }
            if resolution.made:
                item["virtual_buses"] = {k: list(v) for k, v in resolution.made.items()}
            if resolution.devices:
                item["devices"] = list(resolution.devices)
                self.warnings.append(
                    f"phases take different paths through {', '.join(resolution.devices)} "
                    f"and join again below them: buses {', '.join(resolution.buses)} condensed "
                    "into one node, so premises below keep only the devices above it"
                )
            out.append(item)
        return out

    def _synthesised_transformers(self, loads: list[_Load], standing: list[_Standing]) -> None:
        """A transformer for the loads on each primary bus (named after the final bus)."""
        made: set[str] = set()
        for load in loads:
            if load.transformer:
                continue
            bus = load.att.bus
            load.transformer = f"transformer.bus_{bus}"
            if load.transformer not in made:
                made.add(load.transformer)
                standing.append(
                    _Standing(load.transformer, Attachment(bus), load.element.buses[0], math.nan)
                )

    # -- rows ---------------------------------------------------------------------------------

    def _rows(
        self, edges: list[_Edge], loads: list[_Load], standing: list[_Standing], heads: _Heads
    ) -> None:
        rows = self.rows
        for sid, name, bus, low, mrid in heads.substation_rows:
            rows["substations"].add((sid, name, bus, mrid), low)
        single_feeder_mrid = circuit_mrid(self.circuit.feeder_mrid, len(heads.heads))
        for head in heads.heads:
            low = next(r[3] for r in heads.substation_rows if r[0] == head.substation)
            name = self.circuit.name if len(heads.heads) == 1 else _short(head.device)
            rows["feeders"].add(
                (head.feeder, name, head.substation, head.device, single_feeder_mrid), low
            )
        for edge in edges:
            if edge.kind == "section":
                record: tuple[object, ...] = (edge.asset, "", edge.a.bus, edge.b.bus, edge.mrid)
                rows["sections"].add(record, *edge.at)
            else:
                assert edge.kind in DEVICE_KINDS, edge.kind
                record = (
                    edge.asset,
                    edge.kind,
                    "",
                    edge.a.bus,
                    edge.b.bus,
                    edge.state,
                    edge.scada,
                    "",
                    edge.mrid,
                )
                rows["devices"].add(record, *edge.at)
        shared: Counter[str] = Counter()  # transformers already drawn at a bus
        for item in standing:
            at = item.drawn_at
            offset = ring(at, shared[at] - 1, TRANSFORMER_RING_M) if shared[at] else (0.0, 0.0)
            shared[at] += 1
            rows["transformers"].add(
                (item.asset, "", item.att.bus, item.kva, item.mrid), at, offset=offset
            )
        per_bus: Counter[str] = Counter()
        for load in loads:
            bus = load.element.buses[0]
            offset = ring(bus, per_bus[bus], PREMISE_RING_M)
            per_bus[bus] += 1
            rows["premises"].add(
                (load.element.id, load.transformer, "", load.element.mrid), bus, offset=offset
            )

    # -- what was inferred ---------------------------------------------------------------------

    def _summary(
        self,
        tables: GridTables,
        heads: _Heads,
        cycles: list[dict[str, Any]],
        placed: Placed,
        anchor: tuple[float, float],
        unit: str,
    ) -> dict[str, Any]:
        circuit = self.circuit
        devices = tables.devices
        open_devices = devices[devices["normal_state"] == "open"]
        ties = [
            {"id": asset, "kind": kind, "feeders": [f for f in (near, far) if f]}
            for asset, kind, near, far in zip(
                open_devices["id"],
                open_devices["kind"],
                open_devices["feeder"],
                open_devices["to_feeder"],
                strict=True,
            )
        ]
        real = set(circuit.touched) - self.plan.upstream_buses
        located = len(real & set(circuit.xy))
        if not circuit.xy:
            coordinates: dict[str, Any] = {"kind": "none", "anchor": list(anchor)}
        elif circuit.geographic:
            coordinates = {"kind": "geographic (WGS84 lon/lat)"}
        else:
            coordinates = {"kind": "local XY", "unit": unit, "anchor": list(anchor)}
        coordinates["buses_located"] = located
        coordinates["buses_given_a_neighbours_coordinates"] = len(real & placed.filled)
        return {
            "format": circuit.format,
            "substations": heads.info,
            "feeders": [
                {
                    "id": h.feeder,
                    "substation": h.substation,
                    "head": h.device,
                    "kind": h.kind,
                    "synthesised": h.synthesised,
                }
                for h in heads.heads
            ],
            "ties": ties,
            "cycles": cycles,
            "parallel_elements_merged": self.parallel,
            "coordinates": coordinates,
            "skipped": {
                reason: {"count": len(ids), "elements": ids[:_EXAMPLES]}
                for reason, ids in circuit.skipped.items()
            },
            "warnings": list(self.warnings),
        }


def circuit_mrid(mrid: str, count: int) -> str:
    """The model's own mRID applies to a row only when the model maps one-to-one onto it."""
    return mrid if count == 1 else ""


def _short(asset: str) -> str:
    """``transformer.sub1`` -> ``sub1``."""
    return asset.partition(".")[2] or asset


def _distances(starts: list[str], edges: list[_Edge]) -> dict[str, int]:
    adjacency: defaultdict[str, list[str]] = defaultdict(list)
    for edge in edges:
        adjacency[edge.a.bus].append(edge.b.bus)
        adjacency[edge.b.bus].append(edge.a.bus)
    distance = dict.fromkeys(starts, 0)
    queue = deque(starts)
    while queue:
        bus = queue.popleft()
        for neighbour in adjacency[bus]:
            if neighbour not in distance:
                distance[neighbour] = distance[bus] + 1
                queue.append(neighbour)
    return distance


def _join(adjacency: defaultdict[str, set[str]], buses: tuple[str, ...]) -> None:
    for a, b in pairs(buses):
        adjacency[a].add(b)
        adjacency[b].add(a)


def _reach(adjacency: dict[str, set[str]], start: Iterable[str], avoid: set[str]) -> set[str]:
    seen = {bus for bus in start if bus not in avoid}
    queue = deque(seen)
    while queue:
        for neighbour in adjacency.get(queue.popleft(), ()):
            if neighbour not in seen and neighbour not in avoid:
                seen.add(neighbour)
                queue.append(neighbour)
    return seen


def _closest_phase(load: Element, transformers: list[Element]) -> Element:
    """The transformer of a secondary whose low-voltage phases overlap the load's most."""
    phases = set(load.phases[0]) if load.phases else set(ALL_PHASES)

    def overlap(transformer: Element) -> int:
        low_voltage: set[int] = set().union(
            *(set(p) for p in phases_primary_first(transformer)[1:])
        )
        return len(phases & low_voltage)

    return max(transformers, key=overlap)  # max keeps the first of equals: file order wins
