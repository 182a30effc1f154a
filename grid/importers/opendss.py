"""Import an OpenDSS feeder model into `grid.model.GridTables`, reading it through the engine.

The model is compiled by opendssdirect.py (never parsed by hand) and read back element by
element into a `grid.importers.circuit.Circuit`; `grid.importers.assembly` then applies the
rules every format shares (substations and feeder heads found in the model, devices, service
transformers and premises, phases, coordinates). What is particular to OpenDSS:

Master file
    ``src`` names the master ``.dss`` file or a folder. In a folder the master is the first
    ``.dss`` file in name order whose name contains "master" (``IEEE123Master.dss``,
    ``Master_ckt5.dss``, ``Master_ckt7.dss``, which redirects to the file defining the
    circuit) but does not start with "run" (``Run_Master_ckt5.dss`` compiles the master and
    then solves and plots). Failing that, it is the first file in name order that defines a
    circuit (``New Circuit.``): ``IEEE13Nodeckt.dss``, ``ieee34Mod1.dss`` before
    ``ieee34Mod2.dss``. To import another file, name it.

Ids, buses, phases
    An asset taken from the model is named by its element's full name in lower case
    (``load.671``, ``line.671692``, ``transformer.xfm1``, ``fuse.f1``). Bus names lose their
    phase suffix (``632.1.2.3`` -> ``632``) and are lower-cased; the suffix gives the phases
    each terminal uses (none: the element's first ``phases`` nodes). The source is the first
    Vsource's bus. Lines, transformers, autotransformers, reactors and capacitors join buses;
    ``Switch=yes`` lines are switches. A Fuse, Recloser or Relay switches the element named by
    its SwitchedObj (else MonitoredObj); a relay-tripped feeder head is telemetered. A disabled
    element or one with an open terminal is normally open.

Coordinates
    Bus coordinates come from the engine. When the master loads none, each file beside it named
    like ``*BusXY*`` or ``*BusCoord*`` (.csv/.dat/.txt/.dss) is loaded with the engine's
    ``Buscoords`` command (IEEE34_BusXY.csv, IEEE123's BusCoords.dat). When the model's files
    run ``LatLongCoords`` (the engine then holds longitude as X and latitude as Y) they are
    geographic and land where they are; otherwise they are local XY in ``unit``, centred on
    ``anchor``.

Customers are left empty: the topology builder then counts one customer per premise.
Premises carry no address (OpenDSS has none).
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Final, Literal

import opendssdirect as dss

from grid.errors import GridFormatError
from grid.importers.assembly import assemble
from grid.importers.circuit import Circuit, Element, Point, Protection
from grid.model import GridTables

#: Where the centre of the model's XY lands when no anchor is given (lon, lat: Shanghai).
DEFAULT_ANCHOR: Final = (121.47, 31.23)
#: Metres per unit of the model's XY.
METRES_PER_UNIT: Final = {"ft": 0.3048, "m": 1.0}

_EDGE_CLASSES: Final = frozenset({"line", "transformer", "autotrans", "reactor", "capacitor"})
_PROTECTIVE: Final = ("relay", "recloser", "fuse")
_NO_BUS_CLASSES: Final = frozenset({*_PROTECTIVE, "energymeter", "monitor", "sensor"})
_COORDINATE_FILE: Final = re.compile(r"busxy|buscoord", re.IGNORECASE)
_COORDINATE_SUFFIXES: Final = frozenset({".csv", ".dat", ".txt", ".dss"})
_DEFINES_CIRCUIT: Final = re.compile(rb"^\s*new\s+(object\s*=\s*)?circuit\.", re.I | re.M)
_ERROR_WHERE: Final = re.compile(r'\s*\[file: "(?P<file>[^"]*)", line: (?P<line>\d+)\]\s*')
# Commands that bring in other files, and the one that loads geographic coordinates: only
# looked for (the engine runs them), to tell whether the coordinates it holds are lon/lat.
_INCLUDES: Final = re.compile(r"^\s*(?:redirect|compile)\s+\(?[\"']?([^\"'\s)]+)", re.I | re.M)
_LATLONG: Final = re.compile(r"^\s*latlongcoords\b", re.I | re.M)
_ENGINE_LOCK: Final = threading.Lock()  # the OpenDSS engine is one per process


def import_opendss(
    src: Path,
    *,
    anchor: tuple[float, float] | None = None,
    unit: Literal["ft", "m"] = "ft",
) -> GridTables:
    """Compile the OpenDSS model at ``src`` (master file or folder) into asset tables.

    ``anchor`` is the (lon, lat) where the centre of the model's local XY extent is placed
    (default `DEFAULT_ANCHOR`); ``unit`` is the unit of that XY. Geographic coordinates
    (``LatLongCoords``) need neither. See the module docstring and `grid.importers.assembly`
    for how elements map to assets; ``tables.inferred`` summarises what was inferred. Raises
    `GridFormatError` naming the file (and line) when the model cannot be found or compiled.
    """
    if unit not in METRES_PER_UNIT:
        raise ValueError(f"unit must be 'ft' or 'm', got {unit!r}")
    master = _find_master(Path(src))
    circuit = _read_model(master)
    tables = assemble(
        circuit,
        anchor=anchor or DEFAULT_ANCHOR,
        metres_per_unit=METRES_PER_UNIT[unit],
        source=str(master),
        unit=unit,
    )
    if circuit.geographic and anchor is not None:
        tables.inferred["warnings"].append(
            "--anchor ignored: the model's coordinates are geographic (LatLongCoords)"
        )
    return tables


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


def _read_model(master: Path) -> Circuit:
    with _compiled(master):
        if int(dss.Basic.NumCircuits()) == 0:
            raise GridFormatError(str(master), "defines no circuit ('New Circuit.' missing)")
        xy, geographic = _bus_coordinates(master)
        circuit = Circuit(
            name=str(dss.Circuit.Name()).lower(),
            source_bus="",
            format="opendss",
            xy=xy,
            geographic=geographic,
        )
        for full_name in dss.Circuit.AllElementNames():
            _read_element(circuit, str(full_name).lower())
    if not circuit.source_bus:
        raise GridFormatError(str(master), "the circuit has no Vsource")
    return circuit


@contextmanager
def _compiled(master: Path) -> Iterator[None]:
    """Hold the engine with ``master`` compiled; restore cwd and engine settings afterwards."""
    with _ENGINE_LOCK:
        cwd = os.getcwd()
        change_dir, editor = dss.Basic.AllowChangeDir(), dss.Basic.AllowEditor()
        try:
            # The engine would chdir the process into the model's folder and leave it there;
            # we do it ourselves (below), and restore the working directory afterwards.
            dss.Basic.AllowChangeDir(False)
            dss.Basic.AllowEditor(False)  # a "Show" in a master must not launch an editor
            # Relative paths in the model are the model folder's, as when OpenDSS runs it
            # (the IEEE 9500's `uuids` file is opened relative to the working directory),
            # and what it writes as it compiles (a RegControl's debugtrace CSV in EPRI
            # ckt24) lands there too, never in the user's working directory.
            os.chdir(master.parent)
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


def _bus_coordinates(master: Path) -> tuple[dict[str, Point], bool]:
    """Bus coordinates from the engine (loading coordinate files beside the master if it
    loaded none) and whether they are geographic."""
    if int(dss.Circuit.NumBuses()) == 0:
        _command("makebuslist", master)  # the bus list exists only after a solve or calcv
    xy = _engine_xy()
    if xy:
        return xy, _runs_latlong(master)
    for path in sorted(master.parent.iterdir()):
        if _COORDINATE_FILE.search(path.name) and path.suffix.lower() in _COORDINATE_SUFFIXES:
            _command(f'buscoords "{path}"', path)
    return _engine_xy(), False


def _runs_latlong(master: Path) -> bool:
    """Does the master, or a file it redirects to, run ``LatLongCoords``?"""
    seen: set[Path] = set()
    pending = [master]
    while pending:
        path = pending.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        text = path.read_text(errors="replace")
        text = re.sub(r"(!|//).*", "", text)  # comments
        if _LATLONG.search(text):
            return True
        pending.extend((path.parent / name).resolve() for name in _INCLUDES.findall(text))
    return False


def _engine_xy() -> dict[str, Point]:
    xy: dict[str, Point] = {}
    for index, name in enumerate(dss.Circuit.AllBusNames()):
        dss.Circuit.SetActiveBusi(index)
        if dss.Bus.Coorddefined():
            xy[str(name).lower()] = (float(dss.Bus.X()), float(dss.Bus.Y()))
    return xy


def _read_element(circuit: Circuit, full_name: str) -> None:
    """Add the active circuit's element ``full_name`` (``class.name``) to ``circuit``."""
    cls, _, name = full_name.partition(".")
    if cls in _PROTECTIVE:
        circuit.protection.append(Protection(full_name, cls, _switched_object(cls, name)))
        return
    if cls in _NO_BUS_CLASSES or cls.endswith("control"):
        return  # meters and controls name the buses of the element they watch
    dss.Circuit.SetActiveElement(full_name)
    count = int(dss.CktElement.NumPhases())
    terminals = [_split_bus(str(b), count) for b in dss.CktElement.BusNames()]
    buses = tuple(bus for bus, _ in terminals)
    phases = tuple(p for _, p in terminals)
    circuit.touched.update(set(buses))
    if cls == "vsource" and not circuit.source_bus:
        circuit.source_bus = buses[0]
    if cls == "load":
        circuit.loads.append(Element(full_name, cls, buses, phases, closed=True))
    if cls not in _EDGE_CLASSES:
        return
    terminal_count = int(dss.CktElement.NumTerminals())
    is_open = any(dss.CktElement.IsOpen(t, 0) for t in range(1, terminal_count + 1))
    closed = bool(dss.CktElement.Enabled()) and not is_open
    element = Element(full_name, cls, buses, phases, closed)
    if cls == "line":
        dss.Lines.Name(name)
        element = replace(element, switch=bool(dss.Lines.IsSwitch()))
    elif cls == "transformer":
        element = replace(element, **_windings(name))
    circuit.edges.append(element)


def _switched_object(cls: str, name: str) -> str:
    api: Any = {"fuse": dss.Fuses, "recloser": dss.Reclosers, "relay": dss.Relays}[cls]
    api.Name(name)
    return str(api.SwitchedObj() or api.MonitoredObj()).lower()


def _windings(name: str) -> dict[str, Any]:
    dss.Transformers.Name(name)
    # "sub=yes": the model's own word that this is a substation transformer (the voltage rule
    # of `grid.importers.substations` would take a 230/34.5 kV one for transmission).
    dss.Text.Command(f"? transformer.{name}.sub")
    substation = dss.Text.Result().strip().lower().startswith("y")
    kv: list[float] = []
    kva = math.nan
    for winding in range(1, int(dss.Transformers.NumWindings()) + 1):
        dss.Transformers.Wdg(winding)
        kv.append(float(dss.Transformers.kV()))
        if winding == 1:
            kva = float(dss.Transformers.kVA())
    return {"kv": tuple(kv), "kva": kva, "substation": substation}


def _split_bus(text: str, phases: int) -> tuple[str, tuple[int, ...]]:
    """``'632.1.3'`` -> ``('632', (1, 3))``; no suffix means the first ``phases`` nodes; 0 is
    ground and left out."""
    bus, *nodes = text.lower().split(".")
    if not nodes:
        return bus, tuple(range(1, max(phases, 1) + 1))
    return bus, tuple(int(n) for n in nodes if n.isdigit() and int(n) > 0)
