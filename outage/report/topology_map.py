"""A picture of the network: feeders in colour, devices marked, customers as dots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: reports are files, never windows

import matplotlib.pyplot as plt
import numpy as np
import shapely
from geopandas import GeoSeries
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection

from grid.model import GridTables

MARKERS = {
    "breaker": ("s", 46, "#111111"),
    "recloser": ("^", 34, "#d62728"),
    "switch": ("D", 18, "#9467bd"),
    "sectionalizer": ("D", 18, "#9467bd"),
    "fuse": ("o", 5, "#ff7f0e"),
    "relay": ("P", 30, "#8c564b"),
}


def _scatter(ax: Axes, points: GeoSeries, **style: Any) -> None:
    ax.scatter(shapely.get_x(points), shapely.get_y(points), **style)


def draw_topology(tables: GridTables, target: Path, *, title: str = "Network") -> Path:
    """Render ``tables`` as a PNG map at ``target`` (sections coloured by feeder)."""
    fig, ax = plt.subplots(figsize=(11, 10), dpi=110)
    feeders = list(tables.feeders["id"])
    palette = plt.get_cmap("tab20")
    colour = {f: palette(i % 20) for i, f in enumerate(feeders)}
    sections = tables.sections
    segments = [np.asarray(line.coords) for line in sections.geometry]
    colours = [colour.get(f, (0.5, 0.5, 0.5, 1.0)) for f in sections["feeder"]]
    ax.add_collection(LineCollection(segments, colors=colours, linewidths=0.8))
    premises = tables.premises.geometry
    _scatter(
        ax,
        premises,
        s=0.3,
        c="#888888",
        alpha=0.4,
        linewidths=0,
        label=f"premises ({len(premises):,})",
    )
    devices = tables.devices
    closed = devices["normal_state"] == "closed"
    for kind, (marker, size, tone) in MARKERS.items():
        chosen = devices[closed & (devices["kind"] == kind)]
        if len(chosen):
            _scatter(
                ax,
                chosen.geometry,
                marker=marker,
                s=size,
                c=tone,
                label=f"{kind} ({len(chosen)})",
                zorder=3,
            )
    ties = devices[~closed]
    if len(ties):
        _scatter(
            ax,
            ties.geometry,
            marker="x",
            s=30,
            c="#17becf",
            label=f"open tie ({len(ties)})",
            zorder=3,
        )
    subs = tables.substations
    _scatter(
        ax,
        subs.geometry,
        marker="s",
        s=160,
        c="#ffd700",
        edgecolors="#111111",
        label=f"substation ({len(subs)})",
        zorder=4,
    )
    for sid, point in zip(subs["name"], subs.geometry, strict=True):
        ax.annotate(sid, (point.x, point.y), xytext=(6, 6), textcoords="offset points", fontsize=8)
    ax.set_title(f"{title}: {len(feeders)} feeders, {len(tables.transformers):,} transformers")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_aspect(1 / np.cos(np.radians(float(np.mean(ax.get_ylim())))))
    ax.autoscale()
    ax.legend(loc="upper right", fontsize=8, markerscale=1.5)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)
    return target
