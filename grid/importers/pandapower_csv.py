"""Import a pandapower network exported as CSV tables (buses, lines, switches, trafos, loads).

``src`` is either one network's folder (holding ``buses.csv`` ...) or a parent folder whose
subfolders are networks; several networks are combined into one model (see *Combining*).
Element indices become stable, lower-case ids ``<element>.<index>`` (``bus.39``, ``line.162``,
``switch.99``, ``trafo.114``, ``load.7``); when networks are combined every id is prefixed
with the lower-cased folder name (``mv_oberrhein.line.162``) so ids stay unique.

Mapping rules
-------------
* An *HV/MV trafo* (LV side >= 1 kV) makes a substation ``trafo.<idx>`` whose bus is the
  trafo's MV-side bus (parallel trafos on one bus make one substation).
* Every closed device touching a substation bus heads a feeder ``<device id>.feeder``. A line
  that leaves a substation bus with no switch gets a virtual breaker ``line.<idx>.head`` so its
  customers still sit below a feeder head.
* MV lines (both ends >= 1 kV) become sections ``line.<idx>``, drawn from the ``coords``/``geo``
  column when it holds two or more points, else straight between the two bus positions.
* A bus-line switch sits between the bus and that end of the line: the line end becomes a
  virtual bus ``line.<idx>.from``/``.to`` and the switch a device edge bus -> virtual bus
  (several switches on one end are chained). A bus-bus switch is a device between its buses.
  Switch type CB -> ``breaker``, anything else (LBS, DS, ...) -> ``switch``; an open switch is
  ``normal_state="open"`` and of kind ``tie`` when the buses on its two sides belong to two
  different feeders. A trafo switch only matters when open: the trafo is then out of service.
* Devices and sections carry the feeder their bus side is energised from (found by a walk over
  closed edges from each feeder head); a tie carries the feeder of its bus side.
* A load on an MV bus (Oberrhein models each MV/LV station as one aggregate "LV Load", plus
  six "MV Load" customers) becomes a service transformer ``load.<idx>.station`` at that bus with
  one premise ``load.<idx>``. Its ``kva`` is ``p_mw * 1000``: Oberrhein's station loads are
  exactly the standard ratings 250/400/630 kVA, so it reads as the station size (for other
  exports it is the load, not a nameplate).
* An *MV/LV trafo* (LV side < 1 kV) is a service transformer ``trafo.<idx>`` (``kva`` from
  ``sn_mva``) at its MV-side bus, drawn at its LV busbar. The LV network below it has no place
  in the model (premises hang directly off a transformer), so LV lines and switches are not
  emitted: they only decide which station feeds each LV load, by a breadth-first walk from
  every station's LV busbar over in-service LV lines with no open switch (and closed bus-bus
  switches). Each LV load becomes premise ``load.<idx>`` of the station that reaches it; where
  an LV mesh is reachable from two stations the nearest (fewest hops) wins and a warning says so.
* When an MV/LV station's MV bus has no MV line or switch at all (the MV side is simply not in
  the export, as in ``lv_schutterwald``), the station gets its own supply: substation
  ``trafo.<idx>.supply`` at that bus and a virtual feeder breaker ``trafo.<idx>.breaker`` (feeder
  ``trafo.<idx>.feeder``) down to a virtual bus ``bus.<hv>.station`` where the transformer sits.
* Customers: none are written; the topology builder counts one customer per premise.

Coordinates are WGS84 lon/lat. A bus without ``lon``/``lat`` (or ``geo``) takes the matching end
of a line's coordinates, else the position of the nearest positioned neighbour (over lines,
bus-bus switches and trafos). Virtual buses and devices sit at their physical bus.

Out-of-service elements are left out, as is anything attached to an out-of-service bus. Parts
that no substation reaches with open switches left open (de-energised islands) are dropped and
logged as one warning naming every dropped asset, rather than failing. A closed loop is *not*
repaired: `grid.topology.build_topology` reports it, naming the assets on it.

Combining
---------
One network holding HV/MV trafos is the host (``mv_oberrhein``). A station of another network
whose MV bus has no MV edges is hung below the host when its MV bus (or trafo) name ends in
``idx_<n>`` and host bus ``<n>`` is an MV bus within `MATCH_RADIUS_M` of it: ``lv_schutterwald``
names its station buses ``MS_bus_idx_<n>`` after the Oberrhein bus they stand on (13 of 14
match within 29 m). The station trafo then sits at the host bus and the host's loads on that
bus are dropped (they were the station's aggregate, now replaced by its real customers). A
station that does not match (``MS_bus_idx_ZUSATZ``, "additional", names no bus; its nearest
Oberrhein bus is 355 m away) becomes an extra area with its own supply as described above.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from grid.errors import GridFormatError
from grid.model import LAYER_COLUMNS, WGS84, GridTables, empty_customers, empty_layer

log = logging.getLogger(__name__)

#: Below this voltage a bus is low voltage: LV detail is collapsed into service transformers.
LV_MAX_KV: Final = 1.0
#: How far (metres) a station's MV bus may lie from the host bus its name points at.
MATCH_RADIUS_M: Final = 100.0

_TRUE: Final = frozenset({"true", "1", "yes", "t"})
_FALSE: Final = frozenset({"false", "0", "no", "f"})
_STATION_INDEX: Final = re.compile(r"idx_(\d+)$", re.IGNORECASE)
_EARTH_RADIUS_M: Final = 6_371_000.0

LonLat = tuple[float, float]


def import_pandapower_csv(src: Path) -> GridTables:
    """Read a pandapower CSV export (one network's folder, or a folder of networks).

    Raises `GridFormatError` naming the file (and line) of anything unreadable. De-energised
    islands are dropped with a logged warning; see the module docstring for every rule.
    """
    src = Path(src)
    if not src.is_dir():
        raise GridFormatError(str(src), "no such folder (expected a pandapower CSV export)")
    if (src / "buses.csv").is_file():
        network = _read_network(src, prefix="")
    else:
        folders = sorted(p for p in src.iterdir() if (p / "buses.csv").is_file())
        if not folders:
            raise GridFormatError(
                str(src), "no buses.csv here or in any subfolder: not a pandapower CSV export"
            )
        networks = [_read_network(f, prefix=f"{f.name.lower()}.") for f in folders]
        network = networks[0] if len(networks) == 1 else _combine(networks)
    return _Assembler(network, source=str(src)).tables()


# ---------------------------------------------------------------------------------------------
# Reading CSV rows with their line numbers


@dataclass(frozen=True, slots=True)
class _Row:
    """One CSV record and where it came from, so every parse error can name file and line."""

    file: str
    line: int
    values: dict[str, str]

    def fail(self, message: str) -> GridFormatError:
        return GridFormatError(self.file, message, line=self.line)

    def text(self, column: str) -> str:
        return self.values.get(column, "").strip()

    def integer(self, column: str) -> int:
        raw = self.text(column)
        try:
            return int(raw)
        except ValueError:
            pass
        try:  # some exports write indices as floats ("12.0")
            number = float(raw)
        except ValueError:
            number = math.nan
        if not number.is_integer():
            raise self.fail(f"column {column!r} must be an integer, got {raw!r}")
        return int(number)

    def number(self, column: str) -> float:
        """A float; empty or absent means NaN."""
        raw = self.text(column)
        if raw == "":
            return math.nan
        try:
            return float(raw)
        except ValueError:
            raise self.fail(f"column {column!r} must be a number, got {raw!r}") from None

    def flag(self, column: str, default: bool) -> bool:
        raw = self.text(column).lower()
        if raw == "":
            return default
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise self.fail(f"column {column!r} must be True or False, got {raw!r}")


def _read_rows(path: Path, required: Sequence[str]) -> list[_Row]:
    """Rows of ``path`` (CRLF or LF); a missing column or a ragged row raises with its line."""
    file = str(path)
    if not path.is_file():
        raise GridFormatError(file, "missing file")
    rows: list[_Row] = []
    line = 1
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise GridFormatError(file, f"missing column(s): {', '.join(missing)}", line=1)
            line = reader.line_num + 1  # where the next record starts (quoted fields may wrap)
            for fields in reader:
                start, line = line, reader.line_num + 1
                if not any(f.strip() for f in fields):
                    continue
                if len(fields) != len(header):
                    message = f"expected {len(header)} fields, found {len(fields)}"
                    raise GridFormatError(file, message, line=start)
                rows.append(_Row(file, start, dict(zip(header, fields, strict=True))))
    except UnicodeDecodeError as exc:
        raise GridFormatError(file, f"not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise GridFormatError(file, f"malformed CSV ({exc})", line=line) from exc
    except OSError as exc:
        raise GridFormatError(file, f"cannot read ({exc.strerror})") from exc
    return rows


def _unique(rows: Iterable[_Row], column: str) -> Iterator[tuple[int, _Row]]:
    """``(index, row)`` pairs; a repeated element index is a format error."""
    seen: set[int] = set()
    for row in rows:
        index = row.integer(column)
        if index in seen:
            raise row.fail(f"duplicate {column} index {index}")
        seen.add(index)
        yield index, row


def _coordinates(raw: str) -> list[LonLat]:
    """Points of a ``coords`` list (``[[lon, lat], ...]``) or a GeoJSON ``geo`` object."""
    if raw in ("", "nan", "None"):
        return []
    value = json.loads(raw)
    if isinstance(value, dict):
        value = value.get("coordinates", [])
    if value and isinstance(value[0], int | float):  # a GeoJSON Point: one pair
        value = [value]
    return [(float(p[0]), float(p[1])) for p in value]


# ---------------------------------------------------------------------------------------------
# One network in memory, with ids already built


@dataclass(slots=True)
class _Bus:
    id: str
    name: str
    kv: float
    lonlat: LonLat | None


@dataclass(slots=True)
class _Line:
    id: str
    from_bus: str
    to_bus: str
    coords: list[LonLat]


@dataclass(slots=True)
class _Switch:
    id: str
    bus: str
    et: str  # "l" (bus-line) or "b" (bus-bus)
    element: str  # line id or bus id
    type: str
    closed: bool
    name: str


@dataclass(slots=True)
class _Trafo:
    id: str
    name: str
    hv_bus: str
    lv_bus: str
    kva: float
    substation: bool  # HV/MV: defines a substation; else an MV/LV service transformer


@dataclass(slots=True)
class _Load:
    id: str
    bus: str
    kva: float


@dataclass
class _Network:
    """The in-service part of one (or several combined) pandapower networks."""

    prefix: str = ""  # id prefix of this network ("" when imported alone)
    buses: dict[str, _Bus] = field(default_factory=dict)
    lines: dict[str, _Line] = field(default_factory=dict)
    switches: list[_Switch] = field(default_factory=list)
    trafos: dict[str, _Trafo] = field(default_factory=dict)
    loads: list[_Load] = field(default_factory=list)

    def edge_buses(self) -> set[str]:
        """Buses that some line or bus-bus switch touches."""
        out = {b for line in self.lines.values() for b in (line.from_bus, line.to_bus)}
        out.update(b for s in self.switches if s.et == "b" for b in (s.bus, s.element))
        return out

    def kv(self, bus: str) -> float:
        return self.buses[bus].kv


def _read_network(folder: Path, prefix: str) -> _Network:
    """Read one network's CSVs; out-of-service elements are left out."""
    net = _Network(prefix=prefix)
    # ids of buses and lines that exist but are out of service: references to them are fine
    net.buses, dead = _read_buses(folder / "buses.csv", prefix)
    net.lines, dead_lines = _read_lines(folder / "lines.csv", prefix, net.buses, dead)
    dead |= dead_lines
    net.trafos = _read_trafos(folder / "trafos.csv", prefix, net.buses, dead)
    # a network may have no switches or no loads at all; buses, lines and trafos are required
    if (folder / "switches.csv").is_file():
        _read_switches(folder / "switches.csv", prefix, net, dead)
    if (folder / "loads.csv").is_file():
        net.loads = _read_loads(folder / "loads.csv", prefix, net.buses, dead)
    return net


def _read_buses(path: Path, prefix: str) -> tuple[dict[str, _Bus], set[str]]:
    buses: dict[str, _Bus] = {}
    dead: set[str] = set()
    for index, row in _unique(_read_rows(path, ("bus", "vn_kv")), "bus"):
        bus_id = f"{prefix}bus.{index}"
        if not row.flag("in_service", True):
            dead.add(bus_id)
            continue
        kv = row.number("vn_kv")
        if not math.isfinite(kv):  # the voltage decides MV graph vs collapsed LV detail
            raise row.fail(f"column 'vn_kv' must be a voltage, got {row.text('vn_kv')!r}")
        buses[bus_id] = _Bus(bus_id, row.text("name"), kv, _bus_lonlat(row))
    return buses, dead


def _bus_lonlat(row: _Row) -> LonLat | None:
    lon, lat = row.number("lon"), row.number("lat")
    if math.isfinite(lon) and math.isfinite(lat):
        return (lon, lat)
    try:
        points = _coordinates(row.text("geo"))
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise row.fail(f"column 'geo' is not a GeoJSON point ({exc})") from None
    return points[0] if points else None


def _bus_ref(row: _Row, column: str, prefix: str, buses: dict[str, _Bus], dead: set[str]) -> str:
    """The bus id in ``column``, or "" when that bus is out of service."""
    bus_id = f"{prefix}bus.{row.integer(column)}"
    if bus_id in buses:
        return bus_id
    if bus_id in dead:
        return ""
    raise row.fail(f"{column} {row.text(column)} is not in buses.csv")


def _read_lines(
    path: Path, prefix: str, buses: dict[str, _Bus], dead: set[str]
) -> tuple[dict[str, _Line], set[str]]:
    lines: dict[str, _Line] = {}
    dead_lines: set[str] = set()
    for index, row in _unique(_read_rows(path, ("line", "from_bus", "to_bus")), "line"):
        line_id = f"{prefix}line.{index}"
        ends = [_bus_ref(row, c, prefix, buses, dead) for c in ("from_bus", "to_bus")]
        if ends[0] == ends[1] and ends[0]:
            raise row.fail(f"line {index} joins bus {row.text('from_bus')} to itself")
        if not row.flag("in_service", True) or "" in ends:
            dead_lines.add(line_id)
            continue
        column = "coords" if "coords" in row.values else "geo"
        try:
            coords = _coordinates(row.text(column))
        except (ValueError, TypeError, IndexError, KeyError) as exc:
            raise row.fail(f"column {column!r} is not a list of [lon, lat] ({exc})") from None
        lines[line_id] = _Line(line_id, ends[0], ends[1], coords)
    return lines, dead_lines


def _read_trafos(
    path: Path, prefix: str, buses: dict[str, _Bus], dead: set[str]
) -> dict[str, _Trafo]:
    trafos: dict[str, _Trafo] = {}
    for index, row in _unique(_read_rows(path, ("trafo", "hv_bus", "lv_bus")), "trafo"):
        hv, lv = (_bus_ref(row, c, prefix, buses, dead) for c in ("hv_bus", "lv_bus"))
        if not row.flag("in_service", True) or not hv or not lv:
            continue
        lv_kv = row.number("vn_lv_kv")
        if not math.isfinite(lv_kv):
            lv_kv = buses[lv].kv
        trafo_id = f"{prefix}trafo.{index}"
        kva = row.number("sn_mva") * 1000.0
        trafos[trafo_id] = _Trafo(trafo_id, row.text("name"), hv, lv, kva, lv_kv >= LV_MAX_KV)
    return trafos


def _read_switches(path: Path, prefix: str, net: _Network, dead: set[str]) -> None:
    """Bus-line and bus-bus switches; an open trafo switch takes its trafo out of service."""
    required = ("switch", "bus", "element", "et", "closed")
    for index, row in _unique(_read_rows(path, required), "switch"):
        bus = _bus_ref(row, "bus", prefix, net.buses, dead)
        et, element, closed = (
            row.text("et").lower(),
            row.integer("element"),
            row.flag("closed", True),
        )
        if et == "l":
            target = f"{prefix}line.{element}"
            if target not in net.lines:
                if target in dead:
                    continue
                raise row.fail(f"element {element} is not an in-service line in lines.csv")
            line = net.lines[target]
            if bus and bus not in (line.from_bus, line.to_bus):
                raise row.fail(f"bus {row.text('bus')} is not an end of line {element}")
        elif et == "b":
            target = _bus_ref(row, "element", prefix, net.buses, dead)
        elif et == "t":
            if not closed:
                net.trafos.pop(f"{prefix}trafo.{element}", None)
            continue
        else:  # three-winding trafo switches: that element type is not imported at all
            log.warning("%s:%d: switch on element type %r ignored", row.file, row.line, et)
            continue
        if not bus or not target:
            continue
        switch_id = f"{prefix}switch.{index}"
        net.switches.append(
            _Switch(switch_id, bus, et, target, row.text("type"), closed, row.text("name"))
        )


def _read_loads(path: Path, prefix: str, buses: dict[str, _Bus], dead: set[str]) -> list[_Load]:
    loads: list[_Load] = []
    for index, row in _unique(_read_rows(path, ("load", "bus")), "load"):
        bus = _bus_ref(row, "bus", prefix, buses, dead)
        if bus and row.flag("in_service", True):
            loads.append(_Load(f"{prefix}load.{index}", bus, row.number("p_mw") * 1000.0))
    return loads


# ---------------------------------------------------------------------------------------------
# Combining several networks


def _combine(networks: list[_Network]) -> _Network:
    """Merge networks, hanging matching stations of the others below the host's MV buses."""
    host = next((n for n in networks if any(t.substation for t in n.trafos.values())), None)
    merged = _Network()
    for net in networks:
        if host is not None and net is not host:
            _hang_stations(host, net)
    for net in networks:
        merged.buses.update(net.buses)
        merged.lines.update(net.lines)
        merged.switches.extend(net.switches)
        merged.trafos.update(net.trafos)
        merged.loads.extend(net.loads)
    return merged


def _hang_stations(host: _Network, net: _Network) -> None:
    """Move each station of ``net`` whose MV side is absent onto the host bus it names."""
    has_edges = net.edge_buses()
    matched: dict[str, str] = {}  # station MV bus in ``net`` -> host bus
    for trafo in net.trafos.values():
        if trafo.substation or trafo.hv_bus in has_edges:
            continue
        target = _station_target(host, net, trafo)
        if target:
            matched[trafo.hv_bus] = target
            trafo.hv_bus = target
    if not matched:
        return
    replaced = [load.id for load in host.loads if load.bus in matched.values()]
    host.loads = [load for load in host.loads if load.bus not in matched.values()]
    for bus in matched:
        net.buses.pop(bus, None)
    log.info(
        "hung %d station(s) below host buses (%s); replaced aggregate load(s): %s",
        len(matched),
        ", ".join(f"{a} -> {b}" for a, b in matched.items()),
        ", ".join(replaced) or "none",
    )


def _station_target(host: _Network, net: _Network, trafo: _Trafo) -> str:
    """The host bus a station's name points at, if it is an MV bus close enough; else ""."""
    station_bus = net.buses[trafo.hv_bus]
    found = _STATION_INDEX.search(station_bus.name) or _STATION_INDEX.search(trafo.name)
    if found is None:
        return ""
    target = host.buses.get(f"{host.prefix}bus.{found.group(1)}")
    if target is None or target.kv < LV_MAX_KV:
        return ""
    here = station_bus.lonlat or net.buses[trafo.lv_bus].lonlat
    if here is None or target.lonlat is None:
        return ""
    distance = _metres(here, target.lonlat)
    if distance > MATCH_RADIUS_M:
        log.warning(
            "station %s names host bus %s but lies %.0f m from it: imported as its own area",
            trafo.id,
            target.id,
            distance,
        )
        return ""
    return target.id


def _metres(a: LonLat, b: LonLat) -> float:
    """Great-circle distance (haversine) between two lon/lat points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(math.sqrt(h))


# ---------------------------------------------------------------------------------------------
# Building the canonical tables


@dataclass(slots=True)
class _Edge:
    """A section or device between two buses of the emitted MV graph."""

    id: str
    a: str
    b: str
    device: bool
    closed: bool = True
    kind: str = ""
    geometry: BaseGeometry | None = None
    feeder: str = ""
    name: str = ""


@dataclass(slots=True)
class _Feature:
    """One output row (attributes in layer order) and its geometry."""

    values: tuple[object, ...]
    geometry: BaseGeometry | None


class _Assembler:
    """Turn a `_Network` into `GridTables`: MV graph, substations, feeders, stations, premises."""

    def __init__(self, net: _Network, source: str) -> None:
        self.net = net
        self.source = source
        self.pos = _bus_positions(net)
        self.edges: list[_Edge] = []
        self.substations: dict[str, tuple[str, str]] = {}  # bus -> (substation id, name)
        self.feeders: list[tuple[str, str, str]] = []  # (feeder id, substation bus, head id)
        self.bus_feeder: dict[str, str] = {}
        self.station_bus: dict[str, str] = {}  # service transformer id -> its bus
        self.feeder_of_head: dict[str, str] = {}  # feeder ids that are not "<head id>.feeder"
        self.dropped: list[str] = []

    def tables(self) -> GridTables:
        self._mv_edges()
        self._substations()
        self._bare_stations()
        self._feeder_heads()
        self._label_feeders()
        self._drop_islands()
        self._classify_open_devices()
        transformers, premises = self._stations_and_premises()
        if self.dropped:
            log.warning(
                "%s: dropped %d asset(s) that no substation reaches (de-energised): %s",
                self.source,
                len(self.dropped),
                ", ".join(self.dropped),
            )
        return GridTables(
            substations=self._substation_layer(),
            feeders=self._feeder_layer(),
            devices=_layer("devices", self._device_features()),
            sections=_layer("sections", self._section_features()),
            transformers=_layer("transformers", transformers),
            premises=_layer("premises", premises),
            customers=empty_customers(),
            source=self.source,
        )

    # -- the MV graph -----------------------------------------------------------------------

    def _is_mv(self, bus: str) -> bool:
        return self.net.kv(bus) >= LV_MAX_KV

    def _point(self, bus: str) -> Point | None:
        lonlat = self.pos.get(bus)
        return Point(lonlat) if lonlat else None

    def _mv_edges(self) -> None:
        """Sections for MV lines, device edges for MV switches (line ends become virtual buses)."""
        on_end: dict[tuple[str, str], list[_Switch]] = {}
        for switch in self.net.switches:
            if not self._is_mv(switch.bus):
                continue  # LV switches only steer which station feeds an LV load
            if switch.et == "b":
                if not self._is_mv(switch.element):
                    continue
                self._add_device(switch, switch.bus, switch.element)
            else:
                on_end.setdefault((switch.element, switch.bus), []).append(switch)
        for line in self.net.lines.values():
            if not (self._is_mv(line.from_bus) and self._is_mv(line.to_bus)):
                continue
            ends = [
                self._switched_end(line, bus, side, on_end.get((line.id, bus), []))
                for side, bus in (("from", line.from_bus), ("to", line.to_bus))
            ]
            geometry = self._line_geometry(line)
            self.edges.append(_Edge(line.id, ends[0], ends[1], device=False, geometry=geometry))

    def _switched_end(self, line: _Line, bus: str, side: str, switches: list[_Switch]) -> str:
        """Chain the switches on one line end from ``bus``; returns the bus the line starts at."""
        current = bus
        for n, switch in enumerate(switches):
            virtual = f"{line.id}.{side}" + (f".{n + 1}" if n else "")
            self._place(virtual, bus)
            self._add_device(switch, current, virtual)
            current = virtual
        return current

    def _place(self, virtual: str, bus: str) -> None:
        """A virtual bus sits where its physical bus is."""
        if bus in self.pos:
            self.pos[virtual] = self.pos[bus]

    def _add_device(self, switch: _Switch, a: str, b: str) -> None:
        kind = "breaker" if switch.type.upper() == "CB" else "switch"
        edge = _Edge(switch.id, a, b, device=True, closed=switch.closed, kind=kind)
        edge.geometry, edge.name = self._point(a), switch.name
        self.edges.append(edge)

    def _line_geometry(self, line: _Line) -> LineString | None:
        if len(line.coords) >= 2:
            return LineString(line.coords)
        a, b = self.pos.get(line.from_bus), self.pos.get(line.to_bus)
        return LineString([a, b]) if a and b else None

    # -- substations and feeders --------------------------------------------------------------

    def _substations(self) -> None:
        """One substation per MV bus fed by HV/MV trafos."""
        for trafo in self.net.trafos.values():
            if not trafo.substation:
                continue
            if trafo.lv_bus in self.substations:
                sub_id, name = self.substations[trafo.lv_bus]
                self.substations[trafo.lv_bus] = (sub_id, f"{name} + {trafo.name}")
            else:
                self.substations[trafo.lv_bus] = (trafo.id, trafo.name or trafo.id)

    def _bare_stations(self) -> None:
        """Give each MV/LV station with no MV network around it its own supply and feeder."""
        has_edges = self.net.edge_buses()
        for trafo in self.net.trafos.values():
            if trafo.substation or trafo.hv_bus in has_edges or trafo.hv_bus in self.substations:
                continue
            virtual = f"{trafo.hv_bus}.station"
            self._place(virtual, trafo.hv_bus)
            label = trafo.name or trafo.id
            self.substations[trafo.hv_bus] = (f"{trafo.id}.supply", f"{label} MV supply")
            breaker = _Edge(f"{trafo.id}.breaker", trafo.hv_bus, virtual, device=True)
            breaker.kind, breaker.name = "breaker", f"{label} supply breaker (virtual)"
            breaker.geometry = self._point(trafo.hv_bus)
            self.edges.append(breaker)
            self.feeder_of_head[breaker.id] = f"{trafo.id}.feeder"
            self.station_bus[trafo.id] = virtual

    def _feeder_heads(self) -> None:
        """Every closed edge touching a substation bus heads a feeder (lines get a breaker)."""
        for edge in list(self.edges):
            ends = [bus for bus in (edge.a, edge.b) if bus in self.substations]
            if not edge.closed or len(ends) != 1:  # a coupler between substations heads nothing
                continue
            sub_bus = ends[0]
            if not edge.device:  # an unprotected line: give it a virtual feeder breaker
                head = self._insert_head_breaker(edge, sub_bus)
            else:
                head = edge
                if head.b == sub_bus:  # a head's upstream end (from_bus) is the substation
                    head.a, head.b = head.b, head.a
                    head.geometry = self._point(sub_bus)
            feeder_id = self.feeder_of_head.get(head.id, f"{head.id}.feeder")
            self.feeders.append((feeder_id, sub_bus, head.id))

    def _insert_head_breaker(self, section: _Edge, bus: str) -> _Edge:
        side = "from" if section.a == bus else "to"
        virtual = f"{section.id}.{side}"
        self._place(virtual, bus)
        if side == "from":
            section.a = virtual
        else:
            section.b = virtual
        head = _Edge(f"{section.id}.head", bus, virtual, device=True, kind="breaker")
        head.geometry, head.name = self._point(bus), f"{section.id} head breaker (virtual)"
        self.edges.append(head)
        return head

    def _adjacency(self) -> dict[str, list[_Edge]]:
        """Closed edges by bus."""
        adjacency: dict[str, list[_Edge]] = {}
        for edge in self.edges:
            if edge.closed:
                adjacency.setdefault(edge.a, []).append(edge)
                adjacency.setdefault(edge.b, []).append(edge)
        return adjacency

    def _label_feeders(self) -> None:
        """Walk from each feeder head over closed edges, never back through a substation bus."""
        adjacency = self._adjacency()
        by_id = {edge.id: edge for edge in self.edges}
        for feeder_id, sub_bus, head_id in self.feeders:
            head = by_id[head_id]
            start = head.b if head.a == sub_bus else head.a
            head.feeder = feeder_id
            if start in self.bus_feeder:
                continue  # reached already: two heads share a path (validation reports the loop)
            self.bus_feeder[start] = feeder_id
            queue = deque([start])
            while queue:
                bus = queue.popleft()
                for edge in adjacency.get(bus, ()):
                    nxt = edge.b if edge.a == bus else edge.a
                    if nxt in self.substations or nxt in self.bus_feeder:
                        continue
                    self.bus_feeder[nxt] = feeder_id
                    queue.append(nxt)
        for edge in self.edges:
            if not edge.feeder:
                edge.feeder = self.bus_feeder.get(edge.a) or self.bus_feeder.get(edge.b, "")

    def _energised(self, bus: str) -> bool:
        return bus in self.bus_feeder or bus in self.substations

    def _drop_islands(self) -> None:
        """Leave out edges no substation reaches; an open switch stays if one side is live."""
        kept: list[_Edge] = []
        for edge in self.edges:
            live = [self._energised(edge.a), self._energised(edge.b)]
            if all(live) or (not edge.closed and any(live)):
                kept.append(edge)
            else:
                self.dropped.append(edge.id)
        self.edges = kept

    def _classify_open_devices(self) -> None:
        """An open device between two different feeders is a tie."""
        for edge in self.edges:
            if not edge.device or edge.closed:
                continue
            sides = {self.bus_feeder.get(edge.a, ""), self.bus_feeder.get(edge.b, "")}
            edge.kind = "tie" if len(sides) == 2 and "" not in sides else "switch"

    # -- service transformers and premises ---------------------------------------------------

    def _stations_and_premises(self) -> tuple[list[_Feature], list[_Feature]]:
        """Service transformers (MV/LV trafos, then MV loads) and one premise per load."""
        transformers = self._station_transformers()
        premises: list[_Feature] = []
        lv_station = self._lv_stations()
        for load in self.net.loads:
            if self._is_mv(load.bus):  # an MV load stands for a whole station: it is both
                station = f"{load.id}.station"
                if self._energised(load.bus):
                    self.station_bus[station] = load.bus
                    values = (station, self.bus_feeder.get(load.bus, ""), load.bus, load.kva)
                    transformers.append(_Feature(values, self._point(load.bus)))
            else:
                station = lv_station.get(load.bus, "")
            if station not in self.station_bus:
                self.dropped.append(load.id)
                continue
            premises.append(_Feature((load.id, station, ""), self._point(load.bus)))
        return transformers, premises

    def _station_transformers(self) -> list[_Feature]:
        """MV/LV trafos at their MV bus (or virtual station bus), drawn at their LV busbar."""
        features: list[_Feature] = []
        for trafo in self.net.trafos.values():
            if trafo.substation:
                continue
            bus = self.station_bus.pop(trafo.id, trafo.hv_bus)
            if not self._energised(bus):
                self.dropped.append(trafo.id)
                continue
            self.station_bus[trafo.id] = bus
            where = self._point(trafo.lv_bus) or self._point(bus)
            values = (trafo.id, self.bus_feeder.get(bus, ""), bus, trafo.kva)
            features.append(_Feature(values, where))
        return features

    def _lv_stations(self) -> dict[str, str]:
        """LV bus -> the MV/LV trafo nearest to it over closed LV paths (multi-source BFS)."""
        adjacency = self._lv_adjacency()
        station: dict[str, str] = {}
        queue: deque[str] = deque()
        for trafo in self.net.trafos.values():
            if not trafo.substation and trafo.lv_bus not in station:
                station[trafo.lv_bus] = trafo.id
                queue.append(trafo.lv_bus)
        contested: set[str] = set()
        while queue:
            bus = queue.popleft()
            for nxt in adjacency.get(bus, ()):
                if nxt not in station:
                    station[nxt] = station[bus]
                    queue.append(nxt)
                elif station[nxt] != station[bus]:
                    contested.update((station[nxt], station[bus]))
        if contested:
            log.warning(
                "%s: closed LV paths join stations %s; each load goes to the nearest station",
                self.source,
                ", ".join(sorted(contested)),
            )
        return station

    def _lv_adjacency(self) -> dict[str, list[str]]:
        """LV buses joined by in-service LV lines with no open switch, and closed bus couplers."""
        open_lines = {s.element for s in self.net.switches if s.et == "l" and not s.closed}
        adjacency: dict[str, list[str]] = {}
        pairs = [
            (line.from_bus, line.to_bus)
            for line in self.net.lines.values()
            if line.id not in open_lines
        ]
        pairs += [(s.bus, s.element) for s in self.net.switches if s.et == "b" and s.closed]
        for a, b in pairs:
            if self._is_mv(a) or self._is_mv(b):
                continue
            adjacency.setdefault(a, []).append(b)
            adjacency.setdefault(b, []).append(a)
        return adjacency

    # -- output layers --------------------------------------------------------------------

    def _substation_layer(self) -> gpd.GeoDataFrame:
        features = [
            _Feature((sub_id, name, bus), self._point(bus))
            for bus, (sub_id, name) in self.substations.items()
        ]
        return _layer("substations", features)

    def _feeder_layer(self) -> gpd.GeoDataFrame:
        by_id = {edge.id: edge for edge in self.edges}
        features = []
        for feeder_id, bus, head_id in self.feeders:
            sub_id, sub_name = self.substations[bus]
            head = by_id[head_id]
            name = f"{sub_name} / {head.name or head.id}"
            features.append(_Feature((feeder_id, name, sub_id, head_id), head.geometry))
        return _layer("feeders", features)

    def _device_features(self) -> list[_Feature]:
        return [
            _Feature(
                (e.id, e.kind, e.feeder, e.a, e.b, "closed" if e.closed else "open"), e.geometry
            )
            for e in self.edges
            if e.device
        ]

    def _section_features(self) -> list[_Feature]:
        return [
            _Feature((e.id, e.feeder, e.a, e.b), e.geometry) for e in self.edges if not e.device
        ]


def _bus_positions(net: _Network) -> dict[str, LonLat]:
    """Bus -> lon/lat; buses without one take a line end's point, else a neighbour's."""
    pos = {bus.id: bus.lonlat for bus in net.buses.values() if bus.lonlat is not None}
    for line in net.lines.values():
        if line.coords:  # the line's own first/last point is the best guess for its end bus
            pos.setdefault(line.from_bus, line.coords[0])
            pos.setdefault(line.to_bus, line.coords[-1])
    adjacency: dict[str, list[str]] = {}
    pairs = [(line.from_bus, line.to_bus) for line in net.lines.values()]
    pairs += [(s.bus, s.element) for s in net.switches if s.et == "b"]
    pairs += [(t.hv_bus, t.lv_bus) for t in net.trafos.values()]
    for a, b in pairs:
        adjacency.setdefault(a, []).append(b)
        adjacency.setdefault(b, []).append(a)
    queue = deque(pos)
    inherited = 0
    while queue:
        bus = queue.popleft()
        for nxt in adjacency.get(bus, ()):
            if nxt not in pos:
                pos[nxt] = pos[bus]
                inherited += 1
                queue.append(nxt)
    if inherited:
        log.info("%d bus(es) without coordinates placed at a neighbour's position", inherited)
    return pos


def _layer(name: str, features: list[_Feature]) -> gpd.GeoDataFrame:
    """A layer GeoDataFrame in WGS84 with exactly the columns of `LAYER_COLUMNS`."""
    if not features:
        return empty_layer(name)
    columns = LAYER_COLUMNS[name]
    data: dict[str, list[object]] = {
        c: [f.values[i] for f in features] for i, c in enumerate(columns)
    }
    frame = pd.DataFrame(data)
    if "kva" in frame.columns:
        frame["kva"] = pd.to_numeric(frame["kva"], errors="coerce")
    return gpd.GeoDataFrame(frame, geometry=[f.geometry for f in features], crs=WGS84)
