"""A one-screen description of a network: the JSON of ``outage topology stats``."""

from __future__ import annotations

from typing import Any

from grid.errors import TopologyValidationError
from grid.model import DEVICE_KINDS, LAYERS, GridTables
from grid.topology import build_topology


def describe(tables: GridTables) -> dict[str, Any]:
    """Counts per asset kind, radiality and the WGS84 bounding box of ``tables``.

    ``radial`` is true only when the whole network validates and holds no closed loop;
    otherwise ``problems`` lists what is wrong (so a caller can show it without a second
    command) and ``warnings`` each loop the trace condenses into one node.
    """
    kinds = tables.devices["kind"].value_counts()
    protective = {kind: int(kinds.get(kind, 0)) for kind in DEVICE_KINDS}
    problems: list[str] = []
    warnings: list[str] = []
    try:
        topology = build_topology(tables)
        customers = topology.customer_count
        warnings = [str(w) for w in topology.warnings]
    except TopologyValidationError as exc:
        problems = [str(p) for p in exc.problems]
        customers = len(tables.customers) if len(tables.customers) else len(tables.premises)
    bounds = [layer.total_bounds for name in LAYERS if len(layer := tables.layer(name))]
    bbox = (
        [
            round(float(min(b[0] for b in bounds)), 6),
            round(float(min(b[1] for b in bounds)), 6),
            round(float(max(b[2] for b in bounds)), 6),
            round(float(max(b[3] for b in bounds)), 6),
        ]
        if bounds
        else None
    )
    out: dict[str, Any] = {
        "substations": len(tables.substations),
        "feeders": len(tables.feeders),
        "protective_devices": protective,
        "sections": len(tables.sections),
        "transformers": len(tables.transformers),
        "premises": len(tables.premises),
        "customers": customers,
        "radial": not problems and not warnings,
        "bbox": bbox,
    }
    if problems:
        out["problems"] = problems
    if warnings:
        out["warnings"] = warnings
    return out
