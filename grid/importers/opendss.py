"""Import an OpenDSS feeder model into `grid.model.GridTables`, reading it through the engine.

The model is compiled by opendssdirect.py (never parsed by hand) and read back element by
element. The rules that turn OpenDSS's flat list of elements into the asset tables:

Master file
    ``src`` names the master ``.dss`` file or a folder. In a folder the master is the first
    ``.dss`` file in name order whose name contains "master" (``IEEE123Master.dss``,
    ``Master_ckt5.dss``, ``Master_ckt7.dss``, which redirects to the file defining the
    circuit) but does not start with "run" (``Run_Master_ckt5.dss`` compiles the master and
    then solves and plots). Failing that, it is the first file in name order that defines a
    circuit (``New Circuit.``): ``IEEE13Nodeckt.dss``, ``ieee34Mod1.dss`` before
    ``ieee34Mod2.dss``. To import another file, name it.

Ids and buses
    An asset taken from the model is named by its element's full name in lower case
    (``load.671``, ``line.671692``, ``transformer.xfm1``, ``fuse.f1``). Bus names lose their
    phase suffix (``632.1.2.3`` -> ``632``) and are lower-cased.

Substation, feeder, head breaker
    One substation ``substation.<circuit>`` and one feeder ``feeder.<circuit>`` per circuit
    (the engine holds one circuit). The grid behind the circuit's Vsource is a virtual bus,
    also called ``substation.<circuit>`` (a dot cannot occur in an OpenDSS bus name, so it
    never clashes); the feeder head is a synthesised ``breaker.<circuit>`` from that bus to
    the Vsource's bus (``sourcebus``). OpenDSS has no breaker element, and a relay's kind is
    not "breaker", so the head is always synthesised.

Edges
    Lines, transformers, autotransformers, reactors and series capacitors are sections; a
    multi-winding element is one edge from its first bus to each other distinct bus (the
    second and later edges are called ``<id>~<bus>``). Elements joining the same two buses
    (three single-phase regulators, parallel substation transformers) are one path, so only
    the first becomes a section; otherwise every bank would read as a loop. A ``Switch=yes``
    line is a device of kind "switch". A Fuse, Recloser or Relay is a device of its kind in
    place of the section of the element it switches (SwitchedObj, else MonitoredObj); several
    on one element are chained in series, relay first, through virtual buses
    ``<element>~1``, ``~2``... A fused service transformer stands below its fuse, on such a
    virtual bus. A device on a shunt (a capacitor fuse) switches no path and is left out.
    Normally open: a disabled element, one with an open terminal, or a switch line to a bus
    no other element touches (IEEE123's ``Sw7`` to ``300_OPEN``). It becomes a device with
    normal_state "open": kind "tie", or its protective kind if a fuse/recloser/relay sits on
    it. The topology builder leaves open devices out of the radial tree; a loop that remains
    is imported as it is, for validation to name.

Service transformers
    A transformer whose lowest winding is below 1 kV feeds a low-voltage secondary: it is a
    service transformer, a point on its highest-voltage bus. Its secondary (service lines and
    buses up to the meters) is below the model's resolution and left out; each load there is a
    premise of that transformer, or, where a bank of single-phase units feeds one secondary,
    of the unit sharing most of the load's phases (first in file order on a tie). All other
    transformers (substation, regulators, IEEE34's 24.9/4.16 kV ``XFM1``) are sections. A load
    on a primary bus gets a synthesised ``transformer.bus_<bus>`` (kva unknown: NaN) shared by
    every load of that bus, so each premise has a transformer. A low-voltage transformer fed
    from another secondary (480/208 V) is part of that secondary.

Coordinates
    Bus XY comes from the engine. When the master loads none, each file beside it named like
    ``*BusXY*`` or ``*BusCoord*`` (.csv/.dat/.txt/.dss) is loaded with the engine's
    ``Buscoords`` command (IEEE34_BusXY.csv, IEEE123's BusCoords.dat). XY are in ``unit``;
    the centre of their bounding box is put at ``anchor`` (lon, lat; default `DEFAULT_ANCHOR`)
    through an azimuthal equidistant projection centred there, so state-plane models (ckt5,
    ckt7) land beside the anchor rather than hundreds of kilometres away. A bus without XY
    (secondaries, switch stubs, virtual buses) is placed `FILL_STEP_M` from its nearest
    placed neighbour (breadth-first over every element, open ones included) in a direction
    derived from the bus names: filled buses do not pile up, and a re-import gives the same map.
    Premises sit `PREMISE_RING_M` around their load's bus (one angle per load), transformers
    at their secondary bus, devices at the middle of their edge, sections run from bus to bus,
    and the substation and feeder stand on the source bus.

Customers are left empty: the topology builder then counts one customer per premise.
Premises carry no address (OpenDSS has none).
"""

from __future__ import annotations

import math
import os
import re
import threading
import zlib
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal

import geopandas as gpd
import numpy as np
import opendssdirect as dss
import shapely
from pyproj import Transformer

from grid.errors import GridFormatError
from grid.model import DEVICE_KINDS, LAYER_COLUMNS, WGS84, GridTables, empty_layer

#: Where the centre of the model's XY lands when no anchor is given (lon, lat: Shanghai).
DEFAULT_ANCHOR: Final = (121.47, 31.23)
#: Metres per unit of the model's XY.
METRES_PER_UNIT: Final = {"ft": 0.3048, "m": 1.0}
#: A transformer with a winding below this many kV feeds a low-voltage secondary.
SERVICE_KV: Final = 1.0
#: Distance (m) between a bus without XY and the neighbour it is placed from.
FILL_STEP_M: Final = 5.0
#: Radius (m) of the ring of premises around their load's bus.
PREMISE_RING_M: Final = 2.0
#: Radius (m) by which transformers sharing one position are moved apart.
TRANSFORMER_RING_M: Final = 1.0

_EDGE_CLASSES: Final = frozenset({"line", "transformer", "autotrans", "reactor", "capacitor"})
_PROTECTIVE: Final = ("relay", "recloser", "fuse")  # upstream first when chained on one element
_NO_BUS_CLASSES: Final = frozenset({*_PROTECTIVE, "energymeter", "monitor", "sensor"})
_COORDINATE_FILE: Final = re.compile(r"busxy|buscoord", re.IGNORECASE)
_COORDINATE_SUFFIXES: Final = frozenset({".csv", ".dat", ".txt", ".dss"})
_DEFINES_CIRCUIT: Final = re.compile(rb"^\s*new\s+(object\s*=\s*)?circuit\.", re.I | re.M)
_ERROR_WHERE: Final = re.compile(r'\s*\[file: "(?P<file>[^"]*)", line: (?P<line>\d+)\]\s*')
_GOLDEN_ANGLE: Final = math.pi * (3.0 - math.sqrt(5.0))
_ENGINE_LOCK: Final = threading.Lock()  # the OpenDSS engine is one per process

Point = tuple[float, float]


def import_opendss(
    src: Path,
    *,
    anchor: tuple[float, float] | None = None,
    unit: Literal["ft", "m"] = "ft",
) -> GridTables:
    """Compile the OpenDSS model at ``src`` (master file or folder) into asset tables.

    ``anchor`` is the (lon, lat) where the centre of the model's XY extent is placed
    (default `DEFAULT_ANCHOR`); ``unit`` is the unit of that XY. See the module docstring for
    how elements map to assets. Raises `GridFormatError` naming the file (and line) when the
    model cannot be found or compiled.
    """
    if unit not in METRES_PER_UNIT:
        raise ValueError(f"unit must be 'ft' or 'm', got {unit!r}")
    master = _find_master(Path(src))
    model = _read_model(master)
    return _Assembly(model).tables(anchor or DEFAULT_ANCHOR, METRES_PER_UNIT[unit], str(master))


def _find_master(src: Path) -> Path:
    """The master file of ``src``: the file itself, or the one chosen in a folder (see above)."""
    if src.is_file():
        return src.resolve()
    if not src.is_dir():
        raise GridFormatError(str(src), "no such file or folder")
    files = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() == ".dss")
    for path in files:
        stem = path.stem.lower()
        if "master" in stem and not stem.startswith("run"):
            return path.resolve()
    for path in files:
        if _DEFINES_CIRCUIT.search(path.read_bytes()):
            return path.resolve()
    raise GridFormatError(str(src), "no master .dss file here (none defines a circuit)")


# ---------------------------------------------------------------------------------------------
# Reading the model through the engine


@dataclass(frozen=True)
class _Element:
    """One circuit element as the engine reports it (buses without phase suffix)."""

    id: str
    cls: str
    buses: tuple[str, ...]
    phases: tuple[frozenset[int], ...]
    closed: bool
    switch: bool = False
    kv: tuple[float, ...] = ()
    kva: float = math.nan


@dataclass
class _Model:
    """What the importer needs from a compiled circuit."""

    name: str
    source_bus: str
    edges: list[_Element] = field(default_factory=list)
    loads: list[_Element] = field(default_factory=list)
    #: (device id, kind, id of the element it switches), in file order.
    protection: list[tuple[str, str, str]] = field(default_factory=list)
    #: How many elements touch each bus (to spot a switch to a bus nothing else uses).
    touched: Counter[str] = field(default_factory=Counter)
    xy: dict[str, Point] = field(default_factory=dict)


def _read_model(master: Path) -> _Model:
    with _compiled(master):
        if int(dss.Basic.NumCircuits()) == 0:
            raise GridFormatError(str(master), "defines no circuit ('New Circuit.' missing)")
        xy = _bus_coordinates(master)
        model = _Model(name=str(dss.Circuit.Name()).lower(), source_bus="", xy=xy)
        for full_name in dss.Circuit.AllElementNames():
            _read_element(model, str(full_name).lower())
    if not model.source_bus:
        raise GridFormatError(str(master), "the circuit has no Vsource")
    return model


@contextmanager
def _compiled(master: Path) -> Iterator[None]:
    """Hold the engine with ``master`` compiled; restore cwd and engine settings afterwards."""
    with _ENGINE_LOCK:
        cwd = os.getcwd()
        change_dir, editor = dss.Basic.AllowChangeDir(), dss.Basic.AllowEditor()
        try:
            # Without this, compile chdirs the whole process into the model's folder.
            dss.Basic.AllowChangeDir(False)
            dss.Basic.AllowEditor(False)  # a "Show" in a master must not launch an editor
            _command("clear", master)
            _command(f'compile "{master}"', master)
            yield
        finally:
            try:
                dss.Text.Command("clear")  # free the circuit (ckt7's load shapes are large)
            finally:
                dss.Basic.AllowChangeDir(change_dir)
                dss.Basic.AllowEditor(editor)
                os.chdir(cwd)


def _command(text: str, file: Path) -> None:
    """Run one engine command, turning an engine error into `GridFormatError`."""
    try:
        dss.Text.Command(text)
    except dss.DSSException as exc:
        raise _format_error(exc, file) from exc


def _format_error(exc: Exception, file: Path) -> GridFormatError:
    """The engine's message names the file and line that failed (maybe a redirected one)."""
    message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    where = _ERROR_WHERE.search(message)
    line = int(where["line"]) if where else None
    culprit = where["file"] if where else str(file)
    text = "; ".join(part.strip() for part in _ERROR_WHERE.sub("", message).splitlines())
    return GridFormatError(culprit, f"OpenDSS: {text.strip('; ')}", line=line)


def _bus_coordinates(master: Path) -> dict[str, Point]:
    """Bus XY from the engine, loading coordinate files beside the master if it loaded none."""
    if int(dss.Circuit.NumBuses()) == 0:
        _command("makebuslist", master)  # the bus list exists only after a solve or calcv
    xy = _engine_xy()
    if xy:
        return xy
    for path in sorted(master.parent.iterdir()):
        if _COORDINATE_FILE.search(path.name) and path.suffix.lower() in _COORDINATE_SUFFIXES:
            _command(f'buscoords "{path}"', path)
    return _engine_xy()


def _engine_xy() -> dict[str, Point]:
    xy: dict[str, Point] = {}
    for index, name in enumerate(dss.Circuit.AllBusNames()):
        dss.Circuit.SetActiveBusi(index)
        if dss.Bus.Coorddefined():
            xy[str(name).lower()] = (float(dss.Bus.X()), float(dss.Bus.Y()))
    return xy


def _read_element(model: _Model, full_name: str) -> None:
    """Add the active circuit's element ``full_name`` (``class.name``) to ``model``."""
    cls, _, name = full_name.partition(".")
    if cls in _PROTECTIVE:
        model.protection.append((full_name, cls, _switched_object(cls, name)))
        return
    if cls in _NO_BUS_CLASSES or cls.endswith("control"):
        return  # meters and controls name the buses of the element they watch
    dss.Circuit.SetActiveElement(full_name)
    terminals = [_split_bus(str(b)) for b in dss.CktElement.BusNames()]
    buses = tuple(bus for bus, _ in terminals)
    model.touched.update(set(buses))
    if cls == "vsource" and not model.source_bus:
        model.source_bus = buses[0]
    if cls == "load":
        model.loads.append(_Element(full_name, cls, buses, _phases(terminals), closed=True))
    if cls not in _EDGE_CLASSES:
        return
    count = int(dss.CktElement.NumTerminals())
    is_open = any(dss.CktElement.IsOpen(t, 0) for t in range(1, count + 1))
    closed = bool(dss.CktElement.Enabled()) and not is_open
    element = _Element(full_name, cls, buses, _phases(terminals), closed)
    if cls == "line":
        dss.Lines.Name(name)
        element = replace(element, switch=bool(dss.Lines.IsSwitch()))
    elif cls == "transformer":
        element = replace(element, **_windings(name))
    model.edges.append(element)


def _switched_object(cls: str, name: str) -> str:
    api: Any = {"fuse": dss.Fuses, "recloser": dss.Reclosers, "relay": dss.Relays}[cls]
    api.Name(name)
    return str(api.SwitchedObj() or api.MonitoredObj()).lower()


def _windings(name: str) -> dict[str, Any]:
    dss.Transformers.Name(name)
    kv: list[float] = []
    kva = math.nan
    for winding in range(1, int(dss.Transformers.NumWindings()) + 1):
        dss.Transformers.Wdg(winding)
        kv.append(float(dss.Transformers.kV()))
        if winding == 1:
            kva = float(dss.Transformers.kVA())
    return {"kv": tuple(kv), "kva": kva}


def _split_bus(text: str) -> tuple[str, frozenset[int]]:
    """``'632.1.3'`` -> ``('632', {1, 3})``; no suffix means all three phases; 0 is ground."""
    bus, *nodes = text.lower().split(".")
    phases = frozenset(int(n) for n in nodes if n.isdigit() and int(n) > 0)
    return bus, phases if nodes else frozenset({1, 2, 3})


def _phases(terminals: list[tuple[str, frozenset[int]]]) -> tuple[frozenset[int], ...]:
    return tuple(phases for _, phases in terminals)


# ---------------------------------------------------------------------------------------------
# From elements to asset tables


@dataclass
class _Rows:
    """Rows of one layer plus, per row, where it stands: a bus, or an edge's two buses."""

    records: list[tuple[object, ...]] = field(default_factory=list)
    at: list[tuple[str, ...]] = field(default_factory=list)
    offset: list[Point] = field(default_factory=list)

    def add(self, record: tuple[object, ...], *buses: str, offset: Point = (0.0, 0.0)) -> None:
        self.records.append(record)
        self.at.append(buses)
        self.offset.append(offset)


class _Assembly:
    """Turns a `_Model` into rows of every layer (see the module docstring for the rules)."""

    def __init__(self, model: _Model) -> None:
        self.model = model
        name = model.name
        self.feeder = f"feeder.{name}"
        self.substation_bus = f"substation.{name}"
        self.rows = {layer: _Rows() for layer in LAYER_COLUMNS}
        #: Every bus pair any element joins, open or not: used to place buses without XY.
        self.adjacency: defaultdict[str, set[str]] = defaultdict(set)
        self.service = {e.id: e for e in model.edges if _is_service_transformer(e)}
        #: Bus each service transformer stands on (below its fuse, if it has one).
        self.service_bus: dict[str, str] = {}
        self.secondary, self.feeds = self._secondaries()

    def tables(self, anchor: tuple[float, float], metres: float, source: str) -> GridTables:
        self._head()
        self._edges()
        self._premises_and_transformers()
        for bus in self.model.touched:  # a bus only loads or shunts touch needs a place too
            self.adjacency.setdefault(bus, set())
        positions = _place(self.model.xy, metres, self.adjacency, self.model.source_bus)
        project = Transformer.from_crs(_local_crs(anchor), WGS84, always_xy=True).transform
        frames = {
            layer: _frame(layer, rows, positions, project) for layer, rows in self.rows.items()
        }
        return GridTables(**frames, source=source)

    # -- structure -------------------------------------------------------------------------

    def _secondaries(self) -> tuple[dict[str, int], dict[int, list[_Element]]]:
        """Label each bus below a service transformer with its secondary network.

        A secondary network is what is left connected to a service transformer's low-voltage
        side once service transformers are taken out; ``feeds`` lists the transformers of each.
        Buses connected to the source that way are primary, even if a transformer feeds them.
        """
        lv: defaultdict[str, set[str]] = defaultdict(set)
        for element in self.model.edges:
            if element.id not in self.service:
                _join(lv, element.buses)
        primary = _reach(lv, [self.model.source_bus], set())
        for element in list(self.service.values()):
            if _primary_first(element)[0] not in primary:
                # Fed from another secondary (480/208 V in a building) or from nowhere: part of
                # the secondary it stands in, not a transformer of the model.
                del self.service[element.id]
                _join(lv, element.buses)
        label: dict[str, int] = {}
        feeds: defaultdict[int, list[_Element]] = defaultdict(list)
        for transformer in self.service.values():
            for bus in _primary_first(transformer)[1:]:
                if bus in primary:
                    continue
                if bus not in label:
                    label.update(dict.fromkeys(_reach(lv, [bus], primary), len(feeds)))
                if transformer not in feeds[label[bus]]:
                    feeds[label[bus]].append(transformer)
        return label, dict(feeds)

    def _head(self) -> None:
        name, source_bus = self.model.name, self.model.source_bus
        substation, breaker = f"substation.{name}", f"breaker.{name}"
        self.rows["substations"].add((substation, name, self.substation_bus), source_bus)
        self.rows["feeders"].add((self.feeder, name, substation, breaker), source_bus)
        self._device(breaker, "breaker", self.substation_bus, source_bus, "closed")

    def _edges(self) -> None:
        by_target: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)
        upstream_first = sorted(self.model.protection, key=lambda p: _PROTECTIVE.index(p[1]))
        for device, kind, target in upstream_first:
            by_target[target].append((device, kind))
        joined: set[frozenset[str]] = set()
        for element in self.model.edges:
            _join(self.adjacency, element.buses)  # every element, to place buses without XY
            if element.id not in self.service and element.buses[0] in self.secondary:
                continue  # below a service transformer: not part of the asset model
            self._element(element, by_target.get(element.id, []), joined)

    def _element(
        self, element: _Element, protection: list[tuple[str, str]], joined: set[frozenset[str]]
    ) -> None:
        """Rows for one primary element: its protective devices, then itself."""
        pairs = _pairs(_primary_first(element) if element.id in self.service else element.buses)
        if not pairs:
            return  # a shunt (capacitor, reactor to ground): no path, nothing to switch
        state = "closed" if element.closed and not self._dead_end_switch(element) else "open"
        start = pairs[0][0]
        whole = len(pairs) == 1 and element.id not in self.service
        for number, (device, kind) in enumerate(protection, start=1):
            end = pairs[0][1] if whole and number == len(protection) else f"{element.id}~{number}"
            self._device(device, kind, start, end, state)
            start = end
        if element.id in self.service:
            self.service_bus[element.id] = start
            return
        if protection and whole:
            return  # the device stands in place of the element
        for number, (_, bus) in enumerate(pairs):
            asset = element.id if number == 0 else f"{element.id}~{bus}"
            if element.switch or state == "open":
                kind = "switch" if state == "closed" else "tie"
                self._device(asset, kind, start, bus, state)
            elif (pair := frozenset((start, bus))) not in joined:
                joined.add(pair)
                self.rows["sections"].add((asset, self.feeder, start, bus), start, bus)

    def _dead_end_switch(self, element: _Element) -> bool:
        """A switch to a bus nothing else touches is an open point drawn as a stub."""
        return element.switch and any(self.model.touched[bus] == 1 for bus in element.buses)

    def _device(self, asset: str, kind: str, a: str, b: str, state: str) -> None:
        assert kind in DEVICE_KINDS
        self.rows["devices"].add((asset, kind, self.feeder, a, b, state), a, b)
        _join(self.adjacency, (a, b))

    def _premises_and_transformers(self) -> None:
        served: dict[str, str] = {}  # premise -> transformer
        synthesised: dict[str, str] = {}  # transformer id -> its (primary) bus
        for load in self.model.loads:
            bus = load.buses[0]
            network = self.secondary.get(bus)
            if network is not None and network in self.feeds:
                served[load.id] = _closest_phase(load, self.feeds[network]).id
            else:
                transformer = f"transformer.bus_{bus}"
                synthesised.setdefault(transformer, bus)
                served[load.id] = transformer
        self._transformers(synthesised)
        per_bus: Counter[str] = Counter()
        for load in self.model.loads:
            bus = load.buses[0]
            ring = _ring(bus, per_bus[bus], PREMISE_RING_M)
            per_bus[bus] += 1
            self.rows["premises"].add((load.id, served[load.id], ""), bus, offset=ring)

    def _transformers(self, synthesised: dict[str, str]) -> None:
        """Service transformers (on their primary bus, drawn at their secondary bus) and then
        the synthesised ones (on and at the bus of their loads)."""
        standing: list[tuple[str, str, str, float]] = []  # id, bus, drawn at, kva
        for transformer in self.service.values():
            primary, secondary, *_ = _primary_first(transformer)
            bus = self.service_bus.get(transformer.id, primary)
            standing.append((transformer.id, bus, secondary, transformer.kva))
        standing += [(asset, bus, bus, math.nan) for asset, bus in synthesised.items()]
        shared: Counter[str] = Counter()  # transformers already drawn at a bus
        rows = self.rows["transformers"]
        for asset, bus, at, kva in standing:
            offset = _ring(at, shared[at] - 1, TRANSFORMER_RING_M) if shared[at] else (0.0, 0.0)
            shared[at] += 1
            rows.add((asset, self.feeder, bus, kva), at, offset=offset)


def _is_service_transformer(element: _Element) -> bool:
    distinct = len(set(element.buses)) > 1
    return element.cls == "transformer" and distinct and min(element.kv) < SERVICE_KV


def _primary_first(transformer: _Element) -> tuple[str, ...]:
    """Buses with the highest-voltage winding first (a model may list the LV winding first)."""
    if not transformer.kv:
        return transformer.buses
    high = max(range(len(transformer.kv)), key=lambda i: transformer.kv[i])
    rest = [bus for i, bus in enumerate(transformer.buses) if i != high]
    return (transformer.buses[high], *rest)


def _join(adjacency: defaultdict[str, set[str]], buses: tuple[str, ...]) -> None:
    for a, b in _pairs(buses):
        adjacency[a].add(b)
        adjacency[b].add(a)


def _pairs(buses: tuple[str, ...]) -> list[tuple[str, str]]:
    """Edges of an element: first bus to each other distinct bus (none for a shunt)."""
    first = buses[0]
    return [(first, bus) for bus in dict.fromkeys(buses[1:]) if bus != first]


def _reach(adjacency: dict[str, set[str]], start: Iterable[str], avoid: set[str]) -> set[str]:
    seen = {bus for bus in start if bus not in avoid}
    queue = deque(seen)
    while queue:
        for neighbour in adjacency.get(queue.popleft(), ()):
            if neighbour not in seen and neighbour not in avoid:
                seen.add(neighbour)
                queue.append(neighbour)
    return seen


def _closest_phase(load: _Element, transformers: list[_Element]) -> _Element:
    """The transformer of a secondary whose low-voltage phases overlap the load's most."""
    phases = load.phases[0]

    def overlap(transformer: _Element) -> int:
        low_voltage: frozenset[int] = frozenset().union(*transformer.phases[1:])
        return len(phases & low_voltage)

    return max(transformers, key=overlap)  # max keeps the first of equals: file order wins


# ---------------------------------------------------------------------------------------------
# Coordinates


def _place(
    xy: dict[str, Point], metres: float, adjacency: dict[str, set[str]], source_bus: str
) -> dict[str, Point]:
    """Local metres for every bus: known XY centred on their extent, the rest filled in."""
    known = {bus: (x * metres, y * metres) for bus, (x, y) in xy.items()}
    if known:
        xs, ys = zip(*known.values(), strict=True)
        cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
        known = {bus: (x - cx, y - cy) for bus, (x, y) in known.items()}
    positions = dict(known)
    if not positions:  # a model without XY at all: grow the drawing from the source
        positions[source_bus] = (0.0, 0.0)
    _spread(positions, sorted(positions), adjacency)
    for bus in sorted(adjacency):  # islands no placed bus reaches start at the centre
        if bus not in positions:
            positions[bus] = (0.0, 0.0)
            _spread(positions, [bus], adjacency)
    return positions


def _spread(positions: dict[str, Point], start: list[str], adjacency: dict[str, set[str]]) -> None:
    """Breadth-first: each unplaced neighbour goes `FILL_STEP_M` from the bus that found it."""
    queue = deque(start)
    while queue:
        bus = queue.popleft()
        x, y = positions[bus]
        placed = 0
        for neighbour in sorted(adjacency.get(bus, ())):
            if neighbour not in positions:
                dx, dy = _ring(bus, placed, FILL_STEP_M)
                positions[neighbour] = (x + dx, y + dy)
                placed += 1
                queue.append(neighbour)


def _ring(key: str, number: int, radius: float) -> Point:
    """The ``number``-th point on a circle around ``key``; the start angle comes from the name
    (a stable hash, unlike ``hash()``) so neighbouring rings do not all begin due east."""
    angle = zlib.crc32(key.encode()) / 2**32 * 2 * math.pi + number * _GOLDEN_ANGLE
    return radius * math.cos(angle), radius * math.sin(angle)


def _local_crs(anchor: tuple[float, float]) -> str:
    lon, lat = anchor
    return f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m +no_defs"


def _frame(layer: str, rows: _Rows, positions: dict[str, Point], project: Any) -> gpd.GeoDataFrame:
    """The layer's GeoDataFrame: columns from the records, geometry from the buses."""
    if not rows.records:
        return empty_layer(layer)
    columns = LAYER_COLUMNS[layer]
    data = {column: [r[i] for r in rows.records] for i, column in enumerate(columns)}
    if layer == "sections":
        xy = np.array([[positions[a], positions[b]] for a, b in rows.at], dtype=np.float64)
        lon, lat = project(xy[..., 0], xy[..., 1])
        geometry = shapely.linestrings(np.stack([lon, lat], axis=-1))
    else:
        points = np.array([_middle(positions, at) for at in rows.at], dtype=np.float64)
        points += np.array(rows.offset, dtype=np.float64)
        lon, lat = project(points[:, 0], points[:, 1])
        geometry = shapely.points(lon, lat)
    return gpd.GeoDataFrame(data, geometry=geometry, crs=WGS84)


def _middle(positions: dict[str, Point], buses: tuple[str, ...]) -> Point:
    xs, ys = zip(*(positions[bus] for bus in buses), strict=True)
    return sum(xs) / len(xs), sum(ys) / len(ys)
