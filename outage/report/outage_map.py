"""A picture of a storm's outcome: the network in grey, customers out coloured by incident,
the biggest outages labelled where their labels fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

from outage.incidents import Status
from outage.indices import premises_of_row

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import shapely
from matplotlib.collections import LineCollection

from grid.model import GridTables
from grid.topology import Topology

STATUS_COLOUR = {
    "predicted": "#ff7f0e",
    "confirmed": "#d62728",
    "dispatched": "#9467bd",
    "partially_restored": "#bcbd22",
    "restored": "#2ca02c",
    "closed": "#7f7f7f",
}


def draw_outages(
    tables: GridTables, topology: Topology, state: dict[str, Any], target: Path, *, title: str
) -> Path:
    """Render the incidents of a STATE.json-shaped ``state`` over the network as a PNG."""
    fig, ax = plt.subplots(figsize=(11, 10), dpi=110)
    segments = [np.asarray(line.coords) for line in tables.sections.geometry]
    ax.add_collection(LineCollection(segments, colors="#c8c8c8", linewidths=0.6))
    xs = shapely.get_x(tables.premises.geometry.to_numpy())
    ys = shapely.get_y(tables.premises.geometry.to_numpy())
    ax.scatter(xs, ys, s=0.2, c="#dddddd", linewidths=0)
    device_xy = {
        d: (p.x, p.y) for d, p in zip(tables.devices["id"], tables.devices.geometry, strict=True)
    }
    counts: dict[str, int] = {}
    marked: list[tuple[dict[str, Any], tuple[float, float]]] = []
    for incident in sorted(state["incidents"], key=lambda i: -i["customers_affected"]):
        status = incident["status"]
        if status == Status.CANCELLED:
            continue
        premises = premises_of_row(topology, incident)
        colour = STATUS_COLOUR.get(status, "#1f77b4")
        ax.scatter(xs[premises], ys[premises], s=1.5, c=colour, linewidths=0)
        counts[status] = counts.get(status, 0) + 1
        if incident["device"] in device_xy and incident["customers_affected"] >= 30:
            x, y = device_xy[incident["device"]]
            ax.scatter([x], [y], marker="v", s=60, c=colour, edgecolors="black", zorder=4)
            marked.append((incident, (x, y)))
    hazards = [t for t in state.get("tickets", []) if t.get("priority") == "high"]
    index = topology.premise_index
    hazard_points = [index[t["premise"]] for t in hazards if t.get("premise") in index]
    if hazard_points:
        ax.scatter(
            xs[hazard_points],
            ys[hazard_points],
            marker="*",
            s=120,
            c="#000000",
            zorder=5,
            label=f"hazard ({len(hazard_points)})",
        )
    for status, colour in STATUS_COLOUR.items():
        if status in counts:
            ax.scatter([], [], c=colour, s=30, label=f"{status} ({counts[status]})")
    ax.set_title(title)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.autoscale()
    ax.set_aspect(1 / np.cos(np.radians(float(np.mean(ax.get_ylim())))))
    legend = ax.legend(loc="upper right", fontsize=8)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    _label(fig, ax, marked, legend)
    fig.savefig(target)
    plt.close(fig)
    return target


#: Where a label may go around its marker (points), tried in order.
_OFFSETS = ((6, 6), (6, -16), (-8, 6), (-8, -16), (6, 18), (-8, 18))
MAX_LABELS = 16


def _label(
    fig: Any, ax: Any, marked: list[tuple[dict[str, Any], tuple[float, float]]], legend: Any
) -> None:
    """Label the biggest outages (the largest first), each where it overlaps no label placed
    before it, no other marker and not the legend; an outage with no free place stays
    unlabelled rather than printed over another."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    taken = [legend.get_window_extent(renderer)]
    markers = [ax.transData.transform(xy) for _, xy in marked]
    for incident, (x, y) in marked[:MAX_LABELS]:
        text = f"{incident['id']}  {incident['customers_affected']:,}"
        for dx, dy in _OFFSETS:
            label = ax.annotate(
                text,
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                fontsize=7.5,
                ha="left" if dx > 0 else "right",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
                zorder=6,
            )
            box = label.get_window_extent(renderer)
            own = ax.transData.transform((x, y))
            hits_marker = any(box.contains(mx, my) for mx, my in markers if (mx, my) != tuple(own))
            if not hits_marker and not any(box.overlaps(b) for b in taken):
                taken.append(box)
                break
            label.remove()
