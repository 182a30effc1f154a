"""IEEE 1366 reliability indices: CMI, SAIFI, SAIDI, CAIDI, and repeat-outage premises.

Every customer's interruption time is the *union* of the intervals of all incidents that cut
them off, so a customer inside a nested outage (a parent restored while a child below it stays
open) is counted once, for the time they were really without power — not once per incident.
Interruptions shorter than the momentary limit (IEEE 1366: 5 minutes) are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


#: One outage as the indices see it: the premises it cut off, from when, until when (None:
#: still out at the end of the period).
Outage = tuple[npt.NDArray[np.int64], datetime, datetime | None]
#: Statuses whose outage did not happen as such (folded into another, withdrawn, not begun).
_NOT_OUTAGES = (Status.MERGED, Status.CANCELLED, Status.SCHEDULED)


def compute_indices(
    topology: Topology,
    incidents: Iterable[Incident],
    start: datetime,
    end: datetime,
    *,
    momentary_minutes: float = 5.0,
) -> Indices:
    """Indices for outages between ``start`` and ``end`` (open outages run to ``end``)."""
    outages: list[Outage] = []
    for incident in incidents:
        if incident.status in _NOT_OUTAGES:
            continue
        if incident.premise is not None:  # a service drop: that premise alone
            premises = np.asarray([incident.premise], dtype=np.int64)
        elif incident.level == "device":
            premises = topology.premises_below(incident.node)
        else:
            premises = topology.premises_of_transformer(incident.node)
        outages.append((premises, incident.started, incident.restored_at))
    return indices_of(topology, outages, start, end, momentary_minutes=momentary_minutes)


def premises_of_row(topology: Topology, row: Mapping[str, Any]) -> npt.NDArray[np.int64]:
    """Premise numbers an incident row (the API / STATE.json shape, `outage.state.incident_view`)
    takes out: a service drop's one premise, else every premise below its device."""
    premise = row.get("premise")
    if premise:
        return np.asarray([topology.premise_index[premise]], dtype=np.int64)
    if row["level"] == "device":
        found = topology.premises_below(topology.device_index[row["device"]])
    else:
        found = topology.premises_of_transformer(topology.transformer_index[row["device"]])
    return np.asarray(found, dtype=np.int64)


def outages_of_rows(topology: Topology, rows: Iterable[dict[str, Any]]) -> list[Outage]:
    """`Outage`s of incident rows (`premises_of_row`): what a reader without the engine (a
    Redis API worker) computes the indices from."""
    out: list[Outage] = []
    for row in rows:
        if row["status"] in _NOT_OUTAGES or not row.get("started"):
            continue
        restored = row.get("restored")
        out.append(
            (
                premises_of_row(topology, row),
                datetime.fromisoformat(row["started"]),
                datetime.fromisoformat(restored) if restored else None,
            )
        )
    return out


def indices_of(
    topology: Topology,
    outages: Iterable[Outage],
    start: datetime,
    end: datetime,
    *,
    momentary_minutes: float = 5.0,
) -> Indices:
    """Indices of these outages between ``start`` and ``end`` (see the module docstring)."""
    premises_parts: list[npt.NDArray[np.int64]] = []
    starts: list[float] = []
    ends: list[float] = []
    counts: list[int] = []
    origin = start.timestamp()
    horizon = end.timestamp() - origin
    for premises, began, restored_at in outages:
        begin = max(began.timestamp() - origin, 0.0)
        finish = (restored_at.timestamp() - origin) if restored_at else horizon
        finish = min(finish, horizon)
        if finish <= begin:
            continue
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
