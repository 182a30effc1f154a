"""Checks that a `GridTables` describes a valid radial network, naming each bad asset and file.

Two passes: `check_tables` looks at rows alone (duplicate ids, missing coordinates, unknown
kinds/states, references to ids that do not exist, premises with no transformer);
`check_graph` looks at the energised network built from current switch states (two substations
joined, buses and transformers no substation reaches). Closed loops are condensed, with a
warning, by `grid.topology.build_topology` (see `grid.loops`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Final

import networkx as nx
import pandas as pd

from grid.errors import Problem
from grid.model import (
    AREA_CLASSES,
    DEVICE_KINDS,
    LAYERS,
    GridTables,
    optional_column,
    parse_flag,
)

NORMAL_STATES: Final = frozenset({"open", "closed"})


def check_tables(tables: GridTables) -> list[Problem]:
    """Row-level problems: duplicates, coordinates, unknown references, missing transformer."""
    problems: list[Problem] = []
    src = tables.source

    def add(layer: str, ids: Iterable[str], message: str) -> None:
        problems.extend(Problem(src, layer, str(i) or "<blank id>", message) for i in ids)

    seen: dict[str, str] = {}
    for layer in LAYERS:
        frame = tables.layer(layer)
        for asset in frame["id"]:
            if asset == "":
                add(layer, [""], "asset has an empty id")
            elif asset in seen:
                add(layer, [asset], f"duplicate id (also in layer {seen[asset]!r})")
            else:
                seen[asset] = layer
        geometry = frame.geometry
        no_coordinates = geometry.isna() | geometry.is_empty
        add(layer, frame.loc[no_coordinates, "id"], "missing coordinates")

    devices = tables.devices
    add(
        "devices",
        devices.loc[~devices["kind"].isin(DEVICE_KINDS), "id"],
        f"unknown device kind (expected one of {', '.join(DEVICE_KINDS)})",
    )
    add(
        "devices",
        devices.loc[~devices["normal_state"].isin(NORMAL_STATES), "id"],
        "normal_state must be 'open' or 'closed'",
    )
    for asset, cell in zip(devices["id"], optional_column(devices, "scada"), strict=True):
        try:
            parse_flag(cell)
        except ValueError:
            add("devices", [asset], f"scada must be true, false or blank, got {cell!r}")
    for asset, cell in zip(
        tables.feeders["id"], optional_column(tables.feeders, "area_class"), strict=True
    ):
        if cell.strip() and cell.strip().lower() not in AREA_CLASSES:
            add(
                "feeders",
                [asset],
                f"area_class must be one of {', '.join(AREA_CLASSES)} or blank, got {cell!r}",
            )
    for layer in ("devices", "sections"):
        frame = tables.layer(layer)
        blank = (frame["from_bus"] == "") | (frame["to_bus"] == "")
        add(layer, frame.loc[blank, "id"], "edge needs both from_bus and to_bus")

    substation_ids = set(tables.substations["id"])
    feeder_ids = set(tables.feeders["id"])
    device_ids = set(devices["id"])
    transformer_ids = set(tables.transformers["id"])
    buses = known_buses(tables)

    feeders = tables.feeders
    _unknown(add, "feeders", feeders, "substation", substation_ids, "substation")
    _unknown(add, "feeders", feeders, "head_device", device_ids, "head device")
    for layer in ("devices", "sections", "transformers"):
        _unknown(add, layer, tables.layer(layer), "feeder", feeder_ids, "feeder", optional=True)
    _unknown(add, "transformers", tables.transformers, "bus", buses, "bus")

    premises = tables.premises
    add("premises", premises.loc[premises["transformer"] == "", "id"], "premise has no transformer")
    has_transformer = premises[premises["transformer"] != ""]
    _unknown(add, "premises", has_transformer, "transformer", transformer_ids, "transformer")

    customers = tables.customers
    if len(customers):
        premise_ids = set(premises["id"])
        csv = tables.customers_source
        dup = customers["account"].duplicated(keep="first")
        for line, row in _rows_with_lines(customers, dup):
            problems.append(
                Problem(csv, "customers", row["account"], f"line {line}: duplicate account")
            )
        unknown = ~customers["premise"].isin(premise_ids)
        for line, row in _rows_with_lines(customers, unknown):
            message = f"line {line}: unknown premise {row['premise']!r}"
            problems.append(Problem(csv, "customers", row["account"], message))
    return problems


def known_buses(tables: GridTables) -> set[str]:
    """Every bus named by a substation, device or section."""
    buses: set[str] = set(tables.substations["bus"])
    for layer in ("devices", "sections"):
        frame = tables.layer(layer)
        buses.update(frame["from_bus"])
        buses.update(frame["to_bus"])
    buses.discard("")
    return buses


def energised_graph(tables: GridTables) -> nx.MultiGraph:
    """The network as it is switched now: buses joined by sections and *closed* devices.

    Edge keys are asset ids; attribute ``device`` is True for device edges. A MultiGraph, so
    that two assets in parallel between the same buses show up as the loop they are.
    """
    graph: nx.MultiGraph = nx.MultiGraph()
    graph.add_nodes_from(tables.substations["bus"])
    sections = tables.sections
    graph.add_edges_from(
        (a, b, key, {"device": False})
        for key, a, b in zip(sections["id"], sections["from_bus"], sections["to_bus"], strict=True)
    )
    devices = tables.devices
    closed = devices[devices["normal_state"] == "closed"]
    graph.add_edges_from(
        (a, b, key, {"device": True})
        for key, a, b in zip(closed["id"], closed["from_bus"], closed["to_bus"], strict=True)
    )
    return graph


def check_graph(tables: GridTables, graph: nx.MultiGraph) -> list[Problem]:
    """Network-level problems: joined substations, assets no substation reaches.

    A closed loop is not a problem here: the topology builder condenses it into one node and
    warns (`grid.loops`)."""
    problems: list[Problem] = []
    src = tables.source
    source_of = {
        bus: sub
        for sub, bus in zip(tables.substations["id"], tables.substations["bus"], strict=True)
    }
    orphan_buses: set[str] = set()
    for component in nx.connected_components(graph):
        sources = [source_of[bus] for bus in component if bus in source_of]
        if len(sources) > 1:
            joined = ", ".join(sorted(sources))
            problems.append(
                Problem(
                    src,
                    "substations",
                    sources[0],
                    f"energised together with {joined}: a closed path joins substations",
                )
            )
        if not sources:
            orphan_buses.update(component)
    if orphan_buses:
        closed_devices = tables.devices[tables.devices["normal_state"] == "closed"]
        for layer, frame in (("devices", closed_devices), ("sections", tables.sections)):
            cut = frame["from_bus"].isin(orphan_buses)
            problems.extend(
                Problem(src, layer, asset, "orphan: no substation reaches it")
                for asset in frame.loc[cut, "id"]
            )
    transformers = tables.transformers
    unreached = transformers["bus"].isin(orphan_buses) | ~transformers["bus"].isin(graph.nodes)
    problems.extend(
        Problem(src, "transformers", asset, "orphan: no substation reaches its bus")
        for asset in transformers.loc[unreached & (transformers["bus"] != ""), "id"]
    )
    return problems


def _unknown(
    add: Callable[[str, Iterable[str], str], None],
    layer: str,
    frame: pd.DataFrame,
    column: str,
    valid: set[str],
    what: str,
    *,
    optional: bool = False,
) -> None:
    values = frame[column]
    bad = ~values.isin(valid)
    if optional:
        bad &= values != ""
    for asset, value in zip(frame.loc[bad, "id"], values[bad], strict=True):
        add(layer, [asset], f"unknown {what} {value!r}")


def _rows_with_lines(frame: pd.DataFrame, mask: pd.Series) -> Iterator[tuple[int, pd.Series]]:
    for position in mask.to_numpy().nonzero()[0]:
        yield int(position) + 2, frame.iloc[int(position)]
