"""Which feeder energises each asset: a walk down from every feeder head, for importers.

An importer knows where feeders start (their head devices) but not, asset by asset, which
feeder each section, device and transformer belongs to; `label_feeders` fills the ``feeder``
columns by walking the energised network (closed devices only) down from each head, and
records for every normally-open device the feeder on each of its sides (``feeder`` for its
from_bus side, ``to_feeder`` for the other) - the two feeders a tie joins, which live
switching needs.
"""

from __future__ import annotations

from collections import deque

from grid.model import GridTables
from grid.validate import energised_graph


def label_feeders(tables: GridTables, above: set[str] | None = None) -> dict[str, str]:
    """Fill the feeder columns of ``tables`` in place; returns bus -> feeder id.

    ``above`` names buses above the feeder heads besides the substation buses (a
    substation's regulator buses); assets no head reaches keep a blank feeder.
    """
    graph = energised_graph(tables)
    bus_feeder: dict[str, str] = {}
    devices = tables.devices.set_index("id")
    # Substation buses are walked by nobody: a walk from one head never climbs back up
    # through the substation into a sibling feeder.
    blocked = set(tables.substations["bus"]) | (above or set())
    for feeder, head in zip(tables.feeders["id"], tables.feeders["head_device"], strict=True):
        if head not in devices.index:
            continue
        start = str(devices.at[head, "to_bus"])
        if start in bus_feeder or start in blocked:
            continue
        bus_feeder[start] = feeder
        queue = deque([start])
        while queue:
            for neighbour in graph.adj[queue.popleft()]:
                if neighbour not in bus_feeder and neighbour not in blocked:
                    bus_feeder[neighbour] = feeder
                    queue.append(neighbour)

    def side(a: str, b: str) -> str:
        return bus_feeder.get(a) or bus_feeder.get(b) or ""

    heads = dict(zip(tables.feeders["head_device"], tables.feeders["id"], strict=True))
    dev = tables.devices
    feeders, far = [], []
    for asset, a, b, state in zip(
        dev["id"], dev["from_bus"], dev["to_bus"], dev["normal_state"], strict=True
    ):
        if asset in heads:
            feeders.append(heads[asset])
            far.append("")
        elif state == "open":
            near, other = bus_feeder.get(a, ""), bus_feeder.get(b, "")
            feeders.append(near or other)
            far.append(other if near and other else "")
        else:
            feeders.append(side(a, b))
            far.append("")
    dev["feeder"] = feeders
    dev["to_feeder"] = far
    sections = tables.sections
    sections["feeder"] = [
        side(a, b) for a, b in zip(sections["from_bus"], sections["to_bus"], strict=True)
    ]
    tables.transformers["feeder"] = [bus_feeder.get(b, "") for b in tables.transformers["bus"]]
    return bus_feeder
