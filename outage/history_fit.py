"""Confirmed outages of a replayed history, as the evidence-model fit needs them.

`outage.inference.fit` fits the call share, the call delay and the last-gasp delivery to
outages whose asset is known. This module picks those out of an engine that has replayed a
history (``outage rules fit``): incidents restored by a crew, SCADA or an officer — not ones
the meters or the inference ended, not service drops, not outages nested in another, not
planned work — and reduces each to an `OutageSample`.
"""

from __future__ import annotations

from collections.abc import Mapping

from outage.engine import Engine
from outage.incidents import Status
from outage.inference.fit import OutageSample
from outage.registry import seconds

#: A last gasp this long before the incident's start still counts as its outage's (skew).
GASP_SLACK_S = 120


def confirmed_outages(
    engine: Engine, gasps: Mapping[int, list[int]], metered_feeders: set[int]
) -> list[OutageSample]:
    """The engine's confirmed outages. ``gasps``: premise number -> epoch seconds of its last
    gasps; ``metered_feeders``: feeder numbers any meter message came from."""
    registry, tree = engine.registry, engine.tree
    out: list[OutageSample] = []
    for incident in engine.incidents.values():
        if (
            incident.status not in (Status.RESTORED, Status.CLOSED)
            or incident.planned
            or incident.premise is not None
            or incident.parent is not None
            or incident.restored_at is None
            # ended by the inference seeing its meters report power: a prediction, not a fact
            or incident.restored_by == "meters"
        ):
            continue
        premises = tree.premises_below_all(registry.node_of(incident))
        if not premises:
            continue
        end = seconds(incident.restored_at)
        first: dict[int, int] = {}
        for held in incident.held.values():
            if held.at <= end and not held.hazard:
                first[held.premise] = min(first.get(held.premise, held.at), held.at)
        # The outage's start, dated by its meters: the median of the premises' last gasps
        # (the earliest would be an outage nested below that began before it).
        begun = seconds(incident.started) - GASP_SLACK_S
        sent = sorted(
            min(times)
            for p in premises
            if (times := [t for t in gasps.get(p, ()) if begun <= t <= end])
        )
        start = sent[len(sent) // 2] if sent else None
        delays = tuple(float(t - start) for t in first.values() if start is not None and t > start)
        metered = incident.feeder in metered_feeders
        out.append(OutageSample(len(premises), len(first), delays, len(sent) if metered else None))
    return out
