"""IEEE 1366 reliability indices: CMI, SAIFI, SAIDI, CAIDI, and repeat-outage premises.

Every customer's interruption time is the *union* of the intervals of all incidents that cut
them off, so a customer inside a nested outage (a parent restored while a child below it stays
open) is counted once, for the time they were really without power — not once per incident.
Interruptions shorter than the momentary limit (IEEE 1366: 5 minutes) are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from grid.topology import Topology
from outage.incidents import Incident, Status

_SPAN = 1e9  # seconds: larger than any period, so premise * _SPAN keeps premises apart


@dataclass(frozen=True, slots=True)
class Indices:
    """Indices over a period, plus per-premise sustained interruption counts."""

    cmi: float
    saifi: float
    saidi: float
    caidi: float
    customers_served: int
    customer_interruptions: int
    interruptions_per_premise: npt.NDArray[np.int64]

    def to_dict(self) -> dict[str, float | int]:
        """The JSON shape in STATE.json (minutes; SAIFI in interruptions per customer)."""
        return {
            "cmi": round(self.cmi, 1),
            "saidi": round(self.saidi, 3),
            "saifi": round(self.saifi, 5),
            "caidi": round(self.caidi, 2),
            "customers_served": self.customers_served,
            "customer_interruptions": self.customer_interruptions,
        }


def compute_indices(
    topology: Topology,
    incidents: Iterable[Incident],
    start: datetime,
    end: datetime,
    *,
    momentary_minutes: float = 5.0,
) -> Indices:
    """Indices for outages between ``start`` and ``end`` (open outages run to ``end``)."""
    premises_parts: list[npt.NDArray[np.int64]] = []
    starts: list[float] = []
    ends: list[float] = []
    counts: list[int] = []
    origin = start.timestamp()
    horizon = end.timestamp() - origin
    for incident in incidents:
        if incident.status in (Status.MERGED, Status.CANCELLED, Status.SCHEDULED):
            continue
        begin = max(incident.started.timestamp() - origin, 0.0)
        finish = (incident.restored_at.timestamp() - origin) if incident.restored_at else horizon
        finish = min(finish, horizon)
        if finish <= begin:
            continue
        if incident.premise is not None:  # a service drop: that premise alone
            premises = np.asarray([incident.premise], dtype=np.int64)
        elif incident.level == "device":
            premises = topology.premises_below(incident.node)
        else:
            premises = topology.premises_of_transformer(incident.node)
        premises_parts.append(premises)
        starts.append(begin)
        ends.append(finish)
        counts.append(len(premises))
    served = topology.customer_count
    empty = np.zeros(len(topology.premise_ids), dtype=np.int64)
    if not premises_parts:
        return Indices(0.0, 0.0, 0.0, 0.0, served, 0, empty)
    premise = np.concatenate(premises_parts)
    s = np.repeat(np.asarray(starts), counts) + premise * _SPAN
    e = np.repeat(np.asarray(ends), counts) + premise * _SPAN
    order = np.argsort(s, kind="stable")
    s, e, premise = s[order], e[order], premise[order]
    reach = np.maximum.accumulate(e)
    # A new interruption starts where an interval begins after everything before it ended
    # (premise offsets make a new premise always start a new interruption).
    first = np.concatenate(([True], s[1:] > reach[:-1]))
    heads = np.flatnonzero(first)
    block_end = np.maximum.reduceat(e, heads)
    minutes = (block_end - s[heads]) / 60.0
    block_premise = premise[heads]
    sustained = minutes >= momentary_minutes
    weights = topology.premise_customers[block_premise]
    cmi = float(np.sum(minutes[sustained] * weights[sustained]))
    interruptions = int(np.sum(weights[sustained]))
    per_premise = np.bincount(block_premise[sustained], minlength=len(topology.premise_ids))
    saifi = interruptions / served if served else 0.0
    saidi = cmi / served if served else 0.0
    caidi = cmi / interruptions if interruptions else 0.0
    return Indices(cmi, saifi, saidi, caidi, served, interruptions, per_premise.astype(np.int64))
