"""Where the distribution network starts: substations found in the model.

The model's source (OpenDSS Vsource, CIM EnergySource) is the transmission grid. Every
*substation transformer* - one the model itself names so (OpenDSS ``sub=yes``), or a
transformer, not a service one, whose high side is at transmission or sub-transmission voltage
(at least `SUBTRANSMISSION_KV`) and whose low side is below it - starts a substation, unless
the source reaches it only through another substation (a step-down inside a feeder, as on a
34.5 kV feeder with 13.2 kV pockets: a section of that feeder); transformers sharing a low-side
bus (a bank, parallel units) are one substation. The substation's bus group is its low-side bus
plus the buses behind the voltage regulators standing there (transformers whose windings differ
by less than `REGULATOR_RATIO`): a regulator bank between the transformer and the feeder
breakers is substation equipment. What the source reaches without passing a substation
transformer (transmission and sub-transmission lines, transmission transformers) and the
substation transformers themselves lie above the distribution network: they are left out and
the import summary counts them.

A model without any substation transformer (IEEE 123: the source is the 4.16 kV bus) has one
substation at its source bus.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Final

from grid.importers.circuit import Element, pairs

#: A winding at this voltage or above (kV) is transmission or sub-transmission.
SUBTRANSMISSION_KV: Final = 30.0
#: A transformer whose highest and lowest winding differ by less than this ratio regulates
#: voltage rather than stepping it (a regulator; 7.2/7.2 kV, 2.4/2.4 kV).
REGULATOR_RATIO: Final = 1.2


@dataclass
class Substation:
    """One substation found in the model."""

    transformers: list[str]
    low_buses: list[str]
    #: Low-side buses and the buses behind their regulators.
    group: set[str] = field(default_factory=set)
    regulators: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """The substations and what lies above them."""

    substations: list[Substation]
    #: Elements above the distribution network (skipped), including substation transformers.
    upstream: set[str]
    upstream_buses: set[str]


def is_substation_transformer(element: Element) -> bool:
    """Named a substation by the model, or high side at sub-transmission voltage or above and
    low side below it."""
    if element.cls != "transformer" or not element.kv or len(set(element.buses)) < 2:
        return False
    return element.substation or max(element.kv) >= SUBTRANSMISSION_KV > min(element.kv)


def is_regulator(element: Element) -> bool:
    """A transformer whose windings are (nearly) at one voltage."""
    if element.cls != "transformer" or not element.kv or min(element.kv) <= 0:
        return False
    return max(element.kv) / min(element.kv) < REGULATOR_RATIO


def plan_substations(edges: list[Element], source_bus: str, service: set[str]) -> Plan:
    """Find the substations of a model whose source is ``source_bus`` (see the module doc).

    ``edges`` are every element that joins buses; ``service`` the ids of service transformers.
    """
    subs = [e for e in edges if e.id not in service and is_substation_transformer(e)]
    if not subs:
        plan = Plan([Substation([], [source_bus], {source_bus})], set(), set())
        _grow_groups(plan, edges, service)
        return plan
    sub_ids = {e.id for e in subs}
    adjacency: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)
    for element in edges:
        if element.id in sub_ids:
            continue
        for a, b in pairs(element.buses):
            adjacency[a].append((b, element.id))
            adjacency[b].append((a, element.id))
    upstream_buses = {source_bus}
    upstream: set[str] = set()
    queue = deque([source_bus])
    while queue:
        for neighbour, element_id in adjacency[queue.popleft()]:
            upstream.add(element_id)
            if neighbour not in upstream_buses:
                upstream_buses.add(neighbour)
                queue.append(neighbour)
    # Transformers that share a low-side bus are one substation (union-find on low buses).
    owner: dict[str, int] = {}
    substations: list[Substation] = []
    for transformer in subs:
        high = max(range(len(transformer.kv)), key=lambda i: transformer.kv[i])
        if transformer.buses[high] not in upstream_buses:
            continue  # a step-down further down a feeder (fed from a substation): a section
        low = [b for i, b in enumerate(transformer.buses) if i != high and b not in upstream_buses]
        found = {owner[b] for b in low if b in owner}
        if found:
            target = substations[min(found)]
            target.transformers.append(transformer.id)
            target.low_buses.extend(b for b in low if b not in target.low_buses)
        else:
            substations.append(Substation([transformer.id], list(dict.fromkeys(low))))
            target = substations[-1]
        for bus in low:
            owner[bus] = substations.index(target)
        upstream.add(transformer.id)
    plan = Plan([s for s in substations if s.low_buses], upstream, upstream_buses)
    for substation in plan.substations:
        substation.group = set(substation.low_buses)
    _grow_groups(plan, edges, service)
    return plan


def _grow_groups(plan: Plan, edges: list[Element], service: set[str]) -> None:
    """Add to each substation the buses behind regulators standing at its group."""
    regulators = [
        e for e in edges if e.id not in service and e.id not in plan.upstream and is_regulator(e)
    ]
    for substation in plan.substations:
        grown = True
        while grown:
            grown = False
            for regulator in regulators:
                buses = set(regulator.buses)
                if buses & substation.group and not buses <= substation.group:
                    substation.group |= buses
                    substation.regulators.append(regulator.id)
                    grown = True
                elif buses <= substation.group and regulator.id not in substation.regulators:
                    substation.regulators.append(regulator.id)
