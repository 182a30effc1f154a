"""Small random radial feeders for property tests: a device tree with transformers and premises."""

from __future__ import annotations

import random

import geopandas as gpd
from shapely.geometry import Point

from grid.model import WGS84, GridTables
from grid.topology import Topology, build_topology

KINDS = ("fuse", "fuse", "recloser", "switch", "sectionalizer", "fuse")


def random_topology(seed: int, devices: int = 8, transformers: int = 12) -> Topology:
    """One substation, one feeder headed by a breaker, ``devices - 1`` more devices hung at
    random below it, ``transformers`` transformers at random devices' buses, 1-4 premises each."""
    rng = random.Random(seed)

    def frame(rows: list[dict[str, object]]) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(
            rows, geometry=[Point(0.001 * i, 0.0) for i in range(len(rows))], crs=WGS84
        )

    device_rows = [
        {
            "id": "dev.0",
            "kind": "breaker",
            "feeder": "fdr.1",
            "from_bus": "b.sub",
            "to_bus": "b.0",
            "normal_state": "closed",
        }
    ]
    for i in range(1, devices):
        parent = rng.randrange(i)
        device_rows.append(
            {
                "id": f"dev.{i}",
                "kind": rng.choice(KINDS),
                "feeder": "fdr.1",
                "from_bus": f"b.{parent}",
                "to_bus": f"b.{i}",
                "normal_state": "closed",
            }
        )
    transformer_rows = []
    premise_rows = []
    for t in range(transformers):
        transformer_rows.append(
            {"id": f"tx.{t}", "feeder": "fdr.1", "bus": f"b.{rng.randrange(devices)}", "kva": 25.0}
        )
        for p in range(rng.randint(1, 4)):
            premise_rows.append({"id": f"p.{t}.{p}", "transformer": f"tx.{t}", "address": ""})
    tables = GridTables(
        substations=frame([{"id": "sub.1", "name": "S", "bus": "b.sub"}]),
        feeders=frame(
            [{"id": "fdr.1", "name": "F", "substation": "sub.1", "head_device": "dev.0"}]
        ),
        devices=frame(device_rows),
        transformers=frame(transformer_rows),
        premises=frame(premise_rows),
        source=f"random-{seed}",
    )
    return build_topology(tables)
