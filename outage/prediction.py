"""Prediction logic: does a device explain the reports below it? which devices explain a set?

Pure functions over the topology, the rules and the evidence the engine hands in; no state of
their own, so they are easy to test and to reason about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from grid.topology import Topology
from outage.incidents import Incident
from outage.rules import PredictionRules


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the predicted incidents below one device report, within the rules' window.

    ``outside_*`` figures leave out the branch with the most coverage: a child outage that
    alone covers most of its parent's customers must not implicate the parent; the parent's
    *other* branches have to report too.
    """

    transformers: int
    customers: int
    outside_coverage: float
    outside_share: float
    #: Branches other than the biggest one with at least one report.
    outside_branches: int
    predicted_branches: int
    earliest: datetime | None


def gather(
    topology: Topology, device: int, pending: Iterable[Incident], cutoff: datetime
) -> Evidence:
    """Count reports from ``pending`` (predicted incidents below ``device``) newer than cutoff.

    A *branch* of a device is one of its direct children: a child device or a transformer it
    feeds with no device in between. *Coverage* is the customers the pending incidents
    already predict out (disjoint: predicted incidents never nest). A device outage makes all
    its branches report and roll up; unrelated faults below it cover only their own laterals.
    """
    transformers: set[int] = set()
    covered: dict[int, int] = {}
    reporting: dict[int, int] = {}
    predicted_branches: set[int] = set()
    customers = 0
    earliest: datetime | None = None
    premise_transformer = topology.premise_transformer
    premise_customers = topology.premise_customers
    for incident in pending:
        recent = [(p, ts) for p, ts in incident.reports.items() if ts >= cutoff]
        if not recent:
            continue
        branch = _branch_of_incident(topology, device, incident)
        covered[branch] = covered.get(branch, 0) + incident.customers
        if incident.level == "device":
            predicted_branches.add(branch)
        reported = 0
        for premise, ts in recent:
            transformers.add(premise_transformer[premise])
            reported += int(premise_customers[premise])
            if earliest is None or ts < earliest:
                earliest = ts
        reporting[branch] = reporting.get(branch, 0) + reported
        customers += reported
    if not covered:
        return Evidence(0, 0, 0.0, 0.0, 0, 0, None)
    biggest = max(covered, key=covered.__getitem__)
    outside = int(topology.device_customers[device]) - _branch_customers(topology, biggest)
    outside_coverage = (sum(covered.values()) - covered[biggest]) / outside if outside > 0 else 0.0
    outside_share = (customers - reporting[biggest]) / outside if outside > 0 else 0.0
    return Evidence(
        len(transformers),
        customers,
        outside_coverage,
        outside_share,
        len(covered) - 1,
        len(predicted_branches),
        earliest,
    )


def _branch_of_incident(topology: Topology, device: int, incident: Incident) -> int:
    """The branch of ``device`` holding ``incident``: a device number, or -1 - transformer."""
    if incident.level == "transformer":
        below = topology.transformer_device[incident.node]
        if below == device:
            return -1 - incident.node
        chain = topology.device_chain[below]
    else:
        chain = topology.device_chain[incident.node]
    return chain[chain.index(device) - 1]


def _branch_customers(topology: Topology, branch: int) -> int:
    if branch < 0:
        return int(topology.transformer_customers[-1 - branch])
    return int(topology.device_customers[branch])


def qualifies(
    topology: Topology,
    rules: PredictionRules,
    device: int,
    evidence: Evidence,
    energised_since: datetime | None,
) -> bool:
    """Should the prediction move up to ``device``? (rules documented in `outage.rules`)."""
    if evidence.earliest is None:
        return False
    if energised_since is not None and energised_since >= evidence.earliest:
        return False  # a premise below has power: this device cannot be open
    total = int(topology.device_customers[device])
    if total <= 0:
        return False
    if rules.all_reported and evidence.customers >= total:
        return True
    kind = topology.device_kind[device]
    # A small device cannot show more spread than it has: cap the asks at what lies below it.
    transformers_below = int(topology.device_transformer_count[device])
    needed = min(rules.min_transformers.get(kind, 2), transformers_below)  # type: ignore[call-overload]
    if evidence.transformers < max(needed, 2):
        return False
    spread = min(rules.min_outside_branches.get(kind, 1), topology.branch_count(device) - 1)  # type: ignore[call-overload]
    if evidence.outside_branches < spread:
        return False  # one lateral reporting outside a big child outage is not spread
    if evidence.transformers >= rules.strong_transformers.get(kind, 10**9):  # type: ignore[call-overload]
        return True  # many transformers in several branches: feeders without fuses or meters
    coverage_needed = rules.min_coverage.get(kind, 1.0)  # type: ignore[call-overload]
    return (
        evidence.outside_coverage >= coverage_needed
        or evidence.outside_share >= rules.min_share.get(kind, 1.0)  # type: ignore[call-overload]
        or (
            evidence.predicted_branches >= rules.escalate_children.get(kind, 99)  # type: ignore[call-overload]
            and evidence.outside_coverage >= coverage_needed / 2
        )
    )


def window_cutoff(now: datetime, rules: PredictionRules) -> datetime:
    """Reports older than this do not group with new ones."""
    return now - timedelta(minutes=rules.window_minutes)


def lowest_common(topology: Topology, premises: list[int]) -> tuple[str, int]:
    """The lowest asset above every premise: ``("transformer", t)`` or ``("device", d)``."""
    transformers = {topology.premise_transformer[p] for p in premises}
    if len(transformers) == 1:
        return "transformer", next(iter(transformers))
    chains = [topology.device_chain[topology.transformer_device[t]] for t in transformers]
    common = set(chains[0]).intersection(*chains[1:])
    for device in chains[0]:
        if device in common:
            return "device", device
    raise ValueError("premises share no device: they are on different feeders")


def branch_of(topology: Topology, device: int, premise: int) -> tuple[str, int]:
    """The direct child of ``device`` (transformer or device) that feeds ``premise``."""
    t = topology.premise_transformer[premise]
    below = topology.transformer_device[t]
    if below == device:
        return "transformer", t
    chain = topology.device_chain[below]
    return "device", chain[chain.index(device) - 1]
