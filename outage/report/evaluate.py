"""Prediction accuracy against a simulation's truth (``outage simulate --truth``).

For each true fault with at least one call: *exact* when all its calls ended in one incident
and that incident sits at the fault's device. Tickets per outage counts the incidents the
engine kept open as tickets (not merged away, not cancelled) per true fault.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from outage.incidents import Status


def accuracy(state: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
    """Compare a STATE.json-shaped ``state`` with ``truth``; returns the figures."""
    incident_of_call: dict[str, str] = {}
    device_of: dict[str, str] = {}
    for incident in state["incidents"]:
        device_of[incident["id"]] = incident["device"]
        for call in incident["calls"]:
            incident_of_call[call] = incident["id"]
    faults = [f for f in truth["faults"] if f["calls"]]
    exact = 0
    right_device = 0
    split = 0
    outcomes: Counter[str] = Counter()
    for fault in faults:
        incidents = {incident_of_call[c] for c in fault["calls"] if c in incident_of_call}
        devices = {device_of[i] for i in incidents}
        if fault["device"] in devices:
            right_device += 1
        if len(incidents) == 1 and devices == {fault["device"]}:
            exact += 1
            outcomes["exact"] += 1
        elif len(incidents) > 1:
            split += 1
            outcomes["split over several incidents"] += 1
        elif incidents:
            outcomes["one incident, wrong device"] += 1
        else:
            outcomes["calls not in any incident"] += 1
    tickets = sum(
        1 for i in state["incidents"] if i["status"] != Status.CANCELLED and not i["planned"]
    )
    n = len(faults) or 1
    return {
        "faults_with_calls": len(faults),
        "exact_share": round(exact / n, 3),
        "right_device_share": round(right_device / n, 3),
        "split_share": round(split / n, 3),
        "tickets": tickets,
        "tickets_per_outage": round(tickets / max(len(truth["faults"]), 1), 2),
        "outcomes": dict(outcomes),
    }
