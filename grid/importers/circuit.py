"""The neutral electrical model that format readers produce and `grid.importers.assembly` turns
into asset tables: elements with their buses, phases and state, loads, coordinates.

A reader (OpenDSS through its engine, CIM XML through lxml) only says what the model holds;
every rule about what becomes a substation, a feeder, a device or a premise lives in the
assembly, once for every format.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

#: A transformer with a winding below this many kV feeds a low-voltage secondary.
SERVICE_KV: Final = 1.0

Point = tuple[float, float]


@dataclass(frozen=True)
class Element:
    """One element of the model, buses without phase suffix.

    ``cls`` is the element's class in lower case (``line``, ``transformer``, ``switch``,
    ``load``...). ``phases`` holds, per terminal, the phase numbers it uses in order (1, 2, 3;
    ground left out). ``switch`` marks a manual/load-break switch; ``device`` names the kind
    of a switching element that is a device by itself (a CIM ``Breaker`` is ``breaker``).
    ``kv`` lists the rated kV per winding of a transformer; ``substation`` says the model
    itself names it a substation transformer (OpenDSS ``sub=yes``).
    """

    id: str
    cls: str
    buses: tuple[str, ...]
    phases: tuple[tuple[int, ...], ...]
    closed: bool
    switch: bool = False
    device: str = ""
    kv: tuple[float, ...] = ()
    kva: float = math.nan
    mrid: str = ""
    scada: str = ""
    substation: bool = False


@dataclass(frozen=True)
class Protection:
    """A protective device that switches another element (OpenDSS Fuse/Recloser/Relay)."""

    id: str
    kind: str
    target: str
    scada: str = ""


@dataclass
class Circuit:
    """What the assembly needs from a model (see the module docstring)."""

    name: str
    source_bus: str
    format: str
    edges: list[Element] = field(default_factory=list)
    loads: list[Element] = field(default_factory=list)
    protection: list[Protection] = field(default_factory=list)
    #: How many elements touch each bus (to spot a switch to a bus nothing else uses).
    touched: Counter[str] = field(default_factory=Counter)
    #: Bus coordinates: local XY in the model's unit, or (lon, lat) when ``geographic``.
    xy: dict[str, Point] = field(default_factory=dict)
    geographic: bool = False
    #: mRIDs of the model's own substation and feeder, when it names exactly one of each.
    substation_mrid: str = ""
    feeder_mrid: str = ""
    #: Elements the reader left out, by reason (shown in the import summary).
    skipped: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, reason: str, element: str) -> None:
        """Record that ``element`` is not imported, and why."""
        self.skipped.setdefault(reason, []).append(element)


def is_service_transformer(element: Element) -> bool:
    """A transformer between distinct buses with a winding below `SERVICE_KV`."""
    distinct = len(set(element.buses)) > 1
    return (
        element.cls == "transformer"
        and distinct
        and bool(element.kv)
        and min(element.kv) < SERVICE_KV
    )


def primary_first(transformer: Element) -> tuple[str, ...]:
    """Buses with the highest-voltage winding first (a model may list the LV winding first)."""
    if not transformer.kv:
        return transformer.buses
    high = max(range(len(transformer.kv)), key=lambda i: transformer.kv[i])
    rest = [bus for i, bus in enumerate(transformer.buses) if i != high]
    return (transformer.buses[high], *rest)


def phases_primary_first(transformer: Element) -> tuple[tuple[int, ...], ...]:
    """Per terminal phases in the order of `primary_first`."""
    if not transformer.kv:
        return transformer.phases
    high = max(range(len(transformer.kv)), key=lambda i: transformer.kv[i])
    rest = [p for i, p in enumerate(transformer.phases) if i != high]
    return (transformer.phases[high], *rest)


def pairs(buses: tuple[str, ...]) -> list[tuple[str, str]]:
    """Edges of an element: first bus to each other distinct bus (none for a shunt)."""
    first = buses[0]
    return [(first, bus) for bus in dict.fromkeys(buses[1:]) if bus != first]
