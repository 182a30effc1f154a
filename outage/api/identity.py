"""The identity of a network: a content hash of everything a replay depends on.

A journal is only the truth *for the network it was written against*: the same signals
replayed onto another topology resolve to other premises, name devices that no longer exist,
and build other incidents — silently. So the journal records the identity of its topology
(`TOPOLOGY_KEY` in its ``meta`` table), and a service refuses to start on a different one
unless told to migrate (`outage serve --migrate-topology`), in which case it reports every
journaled message that no longer applies.

The hash covers what the engine reads: asset ids and the radial structure built from the
current switch states (substations, feeders, devices with kind, state and parent,
transformers with their device and customer count, premises with their transformer) and the
customer accounts (account, premise, phone), which callers are resolved by. File names,
geometry and column order do not count: re-saving the same network keeps its identity.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from outage.bootstrap import Network
from outage.errors import OutageError
from outage.events import CallUnresolved, Event

#: The journal ``meta`` key holding the topology identity.
TOPOLOGY_KEY = "topology"


def topology_identity(network: Network) -> str:
    """``sha256:<hex>`` of the network's content (see the module docstring)."""
    topo = network.topology
    digest = hashlib.sha256()

    def part(name: str, values: Iterable[object]) -> None:
        digest.update(f"\n[{name}]\n".encode())
        digest.update("\x1f".join(str(v) for v in values).encode())

    part("substations", topo.substation_ids)
    part("feeders", topo.feeder_ids)
    part("feeder_substation", topo.feeder_substation)
    part("devices", topo.device_ids)
    part("device_kind", topo.device_kind)
    part("device_closed", topo.device_closed)
    part("device_parent", topo.device_parent)
    part("device_feeder", topo.device_feeder)
    part("transformers", topo.transformer_ids)
    part("transformer_device", topo.transformer_device)
    part("transformer_feeder", topo.transformer_feeder)
    part("transformer_customers", topo.transformer_customers.tolist())
    part("premises", topo.premise_ids)
    part("premise_transformer", topo.premise_transformer)
    customers = network.tables.customers
    for column in ("account", "premise", "phone"):
        if column in customers:
            part(f"customers.{column}", customers[column].astype(str).tolist())
    return "sha256:" + digest.hexdigest()


class TopologyMismatch(OutageError):
    """The journal was written against another topology (and no migration was asked for)."""


@dataclass
class Migration:
    """A journal replayed onto a topology other than the one it was written against: every
    message that no longer applies, for the report (`EngineHost`'s replay observer)."""

    old: str
    new: str
    replayed: int = 0
    lost: list[dict[str, Any]] = field(default_factory=list)

    def observe(self, seq: int, message: Any, problem: str | None, events: list[Event]) -> None:
        """Record ``message`` when the new network cannot take it: it names an asset that is
        gone, or its caller can no longer be placed."""
        self.replayed += 1
        reason = problem
        if reason is None:
            unresolved = [e for e in events if isinstance(e, CallUnresolved)]
            if unresolved:
                reason = f"caller: {unresolved[0].reason}"
        if reason is not None:
            self.lost.append({"seq": seq, "id": message.id, "type": message.type, "reason": reason})

    def write(self, path: Path) -> None:
        """The report as JSON lines: a header, then one line per message that no longer
        applies."""
        head = {"from": self.old, "to": self.new, "replayed": self.replayed, "lost": len(self.lost)}
        with path.open("wb") as out:
            out.write(orjson.dumps(head) + b"\n")
            for row in self.lost:
                out.write(orjson.dumps(row) + b"\n")


def mismatch(journal: str, stored: str, current: str, messages: int) -> TopologyMismatch:
    """The start-up refusal, naming the journal and both identities."""
    return TopologyMismatch(
        f"{journal}: written against topology {stored}, but the topology given now is "
        f"{current}; replaying its {messages:,} messages onto another network would silently "
        "drop or re-route signals. Start with the topology the journal was written against, "
        "or pass --migrate-topology to replay onto this one and get a report of every "
        "message that no longer applies"
    )
