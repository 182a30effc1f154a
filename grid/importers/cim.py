"""Import IEC 61968/61970 CIM XML (the CIM100 distribution profile GridAPPS-D/CIMHub and
utility GIS exports use) into `grid.model.GridTables`.

The RDF/XML is streamed once with lxml's ``iterparse`` (each top-level object is read and then
freed), keeping only the classes below; `grid.importers.assembly` then applies the rules every
format shares. PNNL's ``cim-graph`` was evaluated and not used: it is an alpha release that
pulls in a knowledge-graph stack (rdflib, SPARQL, Neo4j and MySQL clients, gridappsd-python)
to answer what one streaming pass over the file answers here.

What is read
    ``ConnectivityNode`` (a bus, named by its name, lower case) and ``Terminal`` (which node
    each terminal of a ``ConductingEquipment`` stands on, by ``sequenceNumber``); the source:
    the first ``EnergySource``; ``ACLineSegment`` (phases from its ``ACLineSegmentPhase``),
    ``SeriesCompensator`` and ``Jumper`` as lines; ``Breaker``, ``Recloser``, ``Fuse``,
    ``Sectionaliser`` (kind ``sectionalizer``), ``LoadBreakSwitch``, ``Disconnector`` and
    ``Switch`` (kind ``switch``) with ``Switch.normalOpen``; ``PowerTransformer`` with its
    ``PowerTransformerEnd`` (ratedU) or ``TransformerTank``/``TransformerTankEnd`` (phases;
    ratedU from the tank's ``TransformerEndInfo``), each end one winding on its terminal's
    node; ``EnergyConsumer`` (phases from ``EnergyConsumerPhase``) as a load; the model's
    ``Substation`` and ``Feeder`` (names and mRIDs); ``Location``/``PositionPoint`` coordinates;
    a ``Measurement`` (``Discrete``, ``Analog``...) naming a switch as its
    PowerSystemResource marks that switch telemetered (``scada`` true).

Ids
    ``<class in lower case>.<name in lower case>`` (``breaker.brkr1``, ``loadbreakswitch.sw1``,
    ``aclinesegment.650632``, ``powertransformer.xfm1``, ``energyconsumer.671``); a name used
    twice in one class gets ``.<first 8 of its mRID>`` appended. Every row keeps its asset's
    mRID in the ``mrid`` column. The circuit is named after the model's one ``Feeder`` (else
    the file's stem): ``substation.<feeder name>``, ``feeder.<feeder name>`` when the model
    maps onto one substation and one feeder.

Coordinates
    The ``PositionPoint`` numbered *n* of an equipment's ``Location`` stands at its *n*-th
    terminal's node (CIMHub writes one per terminal). They are geographic when the Location's
    ``CoordinateSystem.crsUrn`` names EPSG:4326/WGS84 (x = longitude), otherwise local XY
    (CIMHub's ``OpenDSSLocalBusCoordinates``) in ``unit``, centred on ``anchor``.

One-terminal equipment other than loads (capacitors, PV, batteries) joins no buses and is not
imported; any other class of two-terminal equipment is skipped and counted in the summary.
Bad input fails with `GridFormatError` naming the file, the element (class and mRID) and why.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from lxml import etree

from grid.errors import GridFormatError
from grid.importers.assembly import assemble
from grid.importers.circuit import Circuit, Element
from grid.model import GridTables

CIM_NAMESPACES: Final = ("http://iec.ch/TC57/CIM100#", "http://iec.ch/TC57/2013/CIM-schema-cim16#")
RDF: Final = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
#: Switching classes and the device kind each becomes.
SWITCH_KINDS: Final = {
    "Breaker": "breaker",
    "Recloser": "recloser",
    "Fuse": "fuse",
    "Sectionaliser": "sectionalizer",
    "LoadBreakSwitch": "switch",
    "Disconnector": "switch",
    "Switch": "switch",
}
LINE_CLASSES: Final = frozenset({"ACLineSegment", "SeriesCompensator", "Jumper"})
MEASUREMENT_CLASSES: Final = frozenset({"Discrete", "Analog", "Accumulator", "StringMeasurement"})
_ONE_TERMINAL: Final = frozenset(
    {
        "EnergySource",
        "LinearShuntCompensator",
        "NonlinearShuntCompensator",
        "PowerElectronicsConnection",
        "SynchronousMachine",
        "AsynchronousMachine",
        "Ground",
    }
)
#: Classes whose objects are kept (with the properties read from them).
_KEPT: Final = frozenset(
    {
        *SWITCH_KINDS,
        *LINE_CLASSES,
        *MEASUREMENT_CLASSES,
        *_ONE_TERMINAL,
        "ConnectivityNode",
        "Terminal",
        "ACLineSegmentPhase",
        "PowerTransformer",
        "PowerTransformerEnd",
        "TransformerTank",
        "TransformerTankEnd",
        "TransformerEndInfo",
        "EnergyConsumer",
        "EnergyConsumerPhase",
        "Substation",
        "Feeder",
        "Location",
        "PositionPoint",
        "CoordinateSystem",
    }
)
_GEOGRAPHIC: Final = re.compile(r"4326|wgs\s*-?84|crs84", re.I)
_PHASE_LETTERS: Final = {"A": 1, "B": 2, "C": 3}

Point = tuple[float, float]


@dataclass
class _Object:
    """One top-level RDF object: its class, mRID and properties (``Class.prop`` -> text or
    the referenced object's id)."""

    cls: str
    about: str
    props: dict[str, str] = field(default_factory=dict)

    @property
    def mrid(self) -> str:
        return self.props.get("IdentifiedObject.mRID") or self.about.removeprefix(
            "urn:uuid:"
        ).lstrip("_#")

    @property
    def name(self) -> str:
        return (self.props.get("IdentifiedObject.name") or self.mrid).strip()


def import_cim(
    src: Path,
    *,
    anchor: tuple[float, float] = (121.47, 31.23),
    unit: Literal["ft", "m"] = "ft",
) -> GridTables:
    """Read the CIM XML file ``src`` into asset tables (see the module docstring)."""
    path = Path(src)
    if not path.is_file():
        raise GridFormatError(str(path), "no such file")
    objects = _parse(path)
    circuit = _Reader(path, objects).circuit()
    metres = {"ft": 0.3048, "m": 1.0}[unit]
    return assemble(circuit, anchor=anchor, metres_per_unit=metres, source=str(path), unit=unit)


def _parse(path: Path) -> dict[str, _Object]:
    """Every kept object by its id (``rdf:about``/``rdf:ID``, as references name it)."""
    objects: dict[str, _Object] = {}
    try:
        context = etree.iterparse(
            str(path), events=("end",), resolve_entities=False, no_network=True, huge_tree=True
        )
        for _, element in context:
            parent = element.getparent()
            if parent is None or parent.getparent() is not None:
                continue  # only the RDF root's children are objects
            cls = etree.QName(element).localname
            if cls in _KEPT and etree.QName(element).namespace in CIM_NAMESPACES:
                about = element.get(f"{RDF}about") or element.get(f"{RDF}ID") or ""
                if not about:
                    raise GridFormatError(str(path), f"{cls} without rdf:about or rdf:ID")
                about = _ref(about)
                props: dict[str, str] = {}
                for child in element:
                    key = etree.QName(child).localname
                    resource = child.get(f"{RDF}resource")
                    props[key] = _ref(resource) if resource is not None else (child.text or "")
                objects[about] = _Object(cls, about, props)
            element.clear()
            while element.getprevious() is not None:
                del parent[0]  # free what has been read
    except etree.XMLSyntaxError as exc:
        raise GridFormatError(
            str(path), f"not well-formed XML ({exc.msg})", line=exc.lineno
        ) from exc
    return objects


def _ref(text: str) -> str:
    """A reference as the referenced object's id: ``#_X``, ``_X`` and ``urn:uuid:X`` -> ``X``."""
    return text.removeprefix("#").removeprefix("urn:uuid:").lstrip("_").upper()


def _phases(kind: str) -> tuple[int, ...]:
    """``SinglePhaseKind.A`` -> (1,); ``OrderedPhaseCodeKind.ABN`` -> (1, 2); ``s12N`` -> (1, 2)."""
    code = kind.rpartition(".")[2].rpartition("#")[2]
    if code.startswith("s"):
        return tuple(int(d) for d in code[1:] if d in "12")
    return tuple(_PHASE_LETTERS[c] for c in code if c in _PHASE_LETTERS)


class _Reader:
    """Builds the `Circuit` from the parsed objects."""

    def __init__(self, path: Path, objects: dict[str, _Object]) -> None:
        self.path = path
        self.objects = objects
        self.by_class: defaultdict[str, list[_Object]] = defaultdict(list)
        for obj in objects.values():
            self.by_class[obj.cls].append(obj)
        self.ids: dict[str, str] = {}
        self.used: Counter[str] = Counter()
        #: Equipment id -> its terminals as (sequence number, node id, terminal id), in order.
        self.terminals: defaultdict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for terminal in self.by_class["Terminal"]:
            equipment = terminal.props.get("Terminal.ConductingEquipment", "")
            node = terminal.props.get("Terminal.ConnectivityNode", "")
            if not equipment or not node:
                raise self.fail(terminal, "has no ConductingEquipment or ConnectivityNode")
            if node not in objects:
                raise self.fail(terminal, f"names ConnectivityNode {node} that is not in the file")
            number = self.number(terminal, "ACDCTerminal.sequenceNumber", 1)
            self.terminals[equipment].append((number, node, terminal.about))
        for items in self.terminals.values():
            items.sort()

    def fail(self, obj: _Object, message: str) -> GridFormatError:
        return GridFormatError(
            str(self.path), f"{obj.cls} {obj.name!r} (mRID {obj.mrid}): {message}"
        )

    def number(self, obj: _Object, prop: str, default: float) -> int:
        return int(self.real(obj, prop, default))

    def real(self, obj: _Object, prop: str, default: float) -> float:
        text = obj.props.get(prop, "").strip()
        if not text:
            return default
        try:
            return float(text)
        except ValueError:
            raise self.fail(obj, f"{prop} must be a number, got {text!r}") from None

    def bus(self, node: str) -> str:
        return self.objects[node].name.lower()

    def asset_id(self, obj: _Object) -> str:
        """``<class>.<name>`` in lower case, unique (see the module docstring)."""
        if obj.about not in self.ids:
            base = f"{obj.cls.lower()}.{obj.name.lower()}"
            self.used[base] += 1
            self.ids[obj.about] = base if self.used[base] == 1 else f"{base}.{obj.mrid[:8].lower()}"
        return self.ids[obj.about]

    def buses(self, obj: _Object, want: int) -> tuple[str, ...]:
        terminals = self.terminals.get(obj.about, [])
        if len(terminals) < want:
            raise self.fail(obj, f"has {len(terminals)} terminal(s), needs {want}")
        return tuple(self.bus(node) for _, node, _ in terminals)

    # -- the circuit -----------------------------------------------------------------------

    def circuit(self) -> Circuit:
        sources = self.by_class["EnergySource"]
        if not sources:
            raise GridFormatError(str(self.path), "no EnergySource: the model has no source")
        feeders, substations = self.by_class["Feeder"], self.by_class["Substation"]
        name = feeders[0].name.lower() if len(feeders) == 1 else self.path.stem.lower()
        circuit = Circuit(
            name=name,
            source_bus=self.buses(sources[0], 1)[0],
            format="cim",
            substation_mrid=substations[0].mrid if len(substations) == 1 else "",
            feeder_mrid=feeders[0].mrid if len(feeders) == 1 else "",
        )
        telemetered = {
            m.props.get("Measurement.PowerSystemResource", "")
            for cls in MEASUREMENT_CLASSES
            for m in self.by_class[cls]
        }
        line_phases = self._member_phases("ACLineSegmentPhase", "ACLineSegmentPhase.ACLineSegment")
        for cls in sorted(LINE_CLASSES):
            for obj in self.by_class[cls]:
                phases = line_phases.get(obj.about) or (1, 2, 3)
                buses = self.buses(obj, 2)[:2]
                circuit.edges.append(
                    Element(
                        self.asset_id(obj), "line", buses, (phases, phases), True, mrid=obj.mrid
                    )
                )
        for cls, kind in SWITCH_KINDS.items():
            for obj in self.by_class[cls]:
                buses = self.buses(obj, 2)[:2]
                normal_open = obj.props.get("Switch.normalOpen", "false").strip().lower() == "true"
                circuit.edges.append(
                    Element(
                        self.asset_id(obj),
                        "switch",
                        buses,
                        ((1, 2, 3), (1, 2, 3)),
                        closed=not normal_open,
                        switch=kind == "switch",
                        device="" if kind == "switch" else kind,
                        mrid=obj.mrid,
                        scada="true" if obj.about in telemetered else "",
                    )
                )
        for transformer in self.by_class["PowerTransformer"]:
            element = self._transformer(transformer)
            if element is not None:
                circuit.edges.append(element)
        consumer_phases = self._member_phases(
            "EnergyConsumerPhase", "EnergyConsumerPhase.EnergyConsumer"
        )
        for obj in self.by_class["EnergyConsumer"]:
            phases = consumer_phases.get(obj.about) or (1, 2, 3)
            bus = self.buses(obj, 1)[0]
            circuit.loads.append(
                Element(self.asset_id(obj), "load", (bus,), (phases,), True, mrid=obj.mrid)
            )
        for element in [*circuit.edges, *circuit.loads]:
            circuit.touched.update(set(element.buses))
        for obj in self.by_class["EnergySource"]:
            circuit.touched.update(set(self.buses(obj, 1)))
        circuit.xy, circuit.geographic = self._coordinates()
        self._skip_unknown(circuit)
        return circuit

    def _member_phases(self, cls: str, owner_prop: str) -> dict[str, tuple[int, ...]]:
        out: defaultdict[str, set[int]] = defaultdict(set)
        for member in self.by_class[cls]:
            owner = member.props.get(owner_prop, "")
            out[owner].update(_phases(member.props.get(f"{cls}.phase", "")))
        return {owner: tuple(sorted(p)) for owner, p in out.items() if p}

    def _transformer(self, obj: _Object) -> Element | None:
        """One winding per end number: its node, phases and rated kV."""
        terminal_node = {t: node for _, node, t in self.terminals.get(obj.about, [])}
        ends: dict[int, tuple[str, set[int], float]] = {}

        def add(end: _Object, number: int, phases: tuple[int, ...], volts: float) -> None:
            terminal = end.props.get("TransformerEnd.Terminal", "")
            if terminal not in terminal_node:
                raise self.fail(end, f"names Terminal {terminal or '(none)'} not of {obj.name}")
            bus, known, kv = ends.get(number, (self.bus(terminal_node[terminal]), set(), math.nan))
            known.update(phases)
            ends[number] = (bus, known, kv if not math.isnan(kv) else volts / 1000)

        for end in self.by_class["PowerTransformerEnd"]:
            if end.props.get("PowerTransformerEnd.PowerTransformer") == obj.about:
                volts = self.real(end, "PowerTransformerEnd.ratedU", math.nan)
                add(end, self.number(end, "TransformerEnd.endNumber", 1), (1, 2, 3), volts)
        kva = math.nan
        for tank in self.by_class["TransformerTank"]:
            if tank.props.get("TransformerTank.PowerTransformer") != obj.about:
                continue
            info = tank.props.get("TransformerTank.TransformerTankInfo", "")
            rated = {
                self.number(i, "TransformerEndInfo.endNumber", 1): i
                for i in self.by_class["TransformerEndInfo"]
                if i.props.get("TransformerEndInfo.TransformerTankInfo") == info
            }
            for end in self.by_class["TransformerTankEnd"]:
                if end.props.get("TransformerTankEnd.TransformerTank") != tank.about:
                    continue
                number = self.number(end, "TransformerEnd.endNumber", 1)
                info_end = rated.get(number)
                volts = (
                    self.real(info_end, "TransformerEndInfo.ratedU", math.nan)
                    if info_end
                    else math.nan
                )
                if info_end is not None and number == 1 and math.isnan(kva):
                    kva = self.real(info_end, "TransformerEndInfo.ratedS", math.nan) / 1000
                phases = _phases(end.props.get("TransformerTankEnd.orderedPhases", "")) or (1, 2, 3)
                add(end, number, phases, volts)
        if len(ends) < 2:
            raise self.fail(
                obj, "needs two or more ends (PowerTransformerEnd or TransformerTankEnd)"
            )
        numbers = sorted(ends)
        kv = tuple(ends[n][2] for n in numbers)
        if any(math.isnan(v) for v in kv):
            raise self.fail(
                obj, "an end has no ratedU: cannot tell service from substation transformers"
            )
        return Element(
            self.asset_id(obj),
            "transformer",
            tuple(ends[n][0] for n in numbers),
            tuple(tuple(sorted(ends[n][1])) for n in numbers),
            True,
            kv=kv,
            kva=kva,
            mrid=obj.mrid,
        )

    def _coordinates(self) -> tuple[dict[str, Point], bool]:
        points: defaultdict[str, dict[int, Point]] = defaultdict(dict)
        for point in self.by_class["PositionPoint"]:
            location = point.props.get("PositionPoint.Location", "")
            x = self.real(point, "PositionPoint.xPosition", math.nan)
            y = self.real(point, "PositionPoint.yPosition", math.nan)
            if not (math.isnan(x) or math.isnan(y)):
                points[location][self.number(point, "PositionPoint.sequenceNumber", 1)] = (x, y)
        geographic = False
        for place in self.by_class["Location"]:
            system = self.objects.get(place.props.get("Location.CoordinateSystem", ""))
            if system is not None and _GEOGRAPHIC.search(
                system.props.get("CoordinateSystem.crsUrn", "")
            ):
                geographic = True
        xy: dict[str, Point] = {}
        for equipment, terminals in self.terminals.items():
            obj = self.objects.get(equipment)
            location = obj.props.get("PowerSystemResource.Location", "") if obj else ""
            placed = points.get(location, {})
            for position, (_, node, _) in enumerate(terminals, start=1):
                bus = self.bus(node)
                if bus not in xy and position in placed:
                    xy[bus] = placed[position]
        return xy, geographic

    def _skip_unknown(self, circuit: Circuit) -> None:
        known = {*SWITCH_KINDS, *LINE_CLASSES, *_ONE_TERMINAL, "PowerTransformer", "EnergyConsumer"}
        for equipment in self.terminals:
            obj = self.objects.get(equipment)
            if obj is None:
                circuit.skip("equipment of a CIM class not imported", equipment)
            elif obj.cls not in known:
                circuit.skip(f"CIM class {obj.cls} not imported", self.asset_id(obj))
