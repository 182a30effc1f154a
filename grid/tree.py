"""Pure questions about the radial tree of a `Topology`: what lies below what, and what is common.

An *asset* is a pair ``(level, number)``: ``("device", d)`` or ``("transformer", t)``. These
functions never change the topology and hold no state; the engine and the duty officer's
commands (merge, split) ask them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from grid.topology import NO_DEVICE, Topology

Level = Literal["device", "transformer"]
Asset = tuple[Level, int]


def chain_of(topology: Topology, asset: Asset) -> tuple[int, ...]:
    """Devices at or above ``asset``, nearest first (a transformer's start at its device)."""
    level, number = asset
    device = number if level == "device" else topology.transformer_device[number]
    return topology.device_chain[device] if device != NO_DEVICE else ()


def covers(topology: Topology, outer: Asset, inner: Asset) -> bool:
    """True when ``inner`` is ``outer`` or lies below it (so ``outer`` open cuts ``inner`` off)."""
    if outer == inner:
        return True
    level, number = outer
    return level == "device" and number in chain_of(topology, inner)


def nested(topology: Topology, a: Asset, b: Asset) -> bool:
    """Whether one of two assets lies below (or is) the other."""
    return covers(topology, a, b) or covers(topology, b, a)


def strictly_below(topology: Topology, inner: Asset, outer: Asset) -> bool:
    """True when ``inner`` lies below ``outer`` and is not ``outer`` itself."""
    return inner != outer and covers(topology, outer, inner)


def common_device(topology: Topology, assets: Iterable[Asset]) -> int | None:
    """The lowest device above every asset (None when they are on different feeders)."""
    chains = [chain_of(topology, asset) for asset in assets]
    if not chains:
        return None
    shared = set(chains[0]).intersection(*chains[1:])
    return next((device for device in chains[0] if device in shared), None)


def feeds(topology: Topology, asset: Asset, premise: int) -> bool:
    """True when ``asset`` open cuts ``premise`` off."""
    transformer = topology.premise_transformer[premise]
    return covers(topology, asset, ("transformer", transformer))


def transformer_premise_counts(topology: Topology) -> list[int]:
    """Premises served by each transformer, in transformer order."""
    counts = [0] * len(topology.transformer_ids)
    for transformer in topology.premise_transformer:
        counts[transformer] += 1
    return counts


def telemetered(topology: Topology) -> list[bool]:
    """Per device: does SCADA watch it? (the topology's ``scada`` attribute, whose default is
    the feeder-head breakers and relays)."""
    return list(topology.device_scada)
