"""Score the engine's ETRs (estimated times of restoration) against the true restorations.

Inputs: the storm's truth (`scenarios.truth.Truth`; with crews it lists every premise's true
outages, ``Truth.outages``, else they are derived from its faults the same way), the network,
and the engine's domain events as dicts (`outage.events.to_dict`, optionally with the
``StateObserved`` records `scenarios.replay` inserts). Nothing of the engine is imported: the
events are read by name and field.

Who was told what. An incident *covers* a premise while it is shown (predicted and not yet
restored, merged, cancelled or closed — `scenarios.timeline` rebuilds this from
``OutagePredicted``, ``PredictionMoved``, ``IncidentStatusChanged``, ``IncidentMerged`` and
``StateObserved``; ``OutageRestored`` and ``IncidentCancelled`` end it too) at a device the
premise lies below: its service transformer or any device above it. That is the incident the
IVR and the SMS would quote to the customer, whether or not the engine placed it at the true
device; a merged incident's premises follow ``into`` by that same rule (the surviving
incident's device covers them). The ETR *in force* for a premise at an instant is the latest
ETR of the incidents covering it then (its power is back only when every outage above it is
repaired); an ETR of None (cleared) counts as none. Each incident's ETR at an instant is the
``etr`` of its last ``EtrChanged`` up to then.

Per true outage of a premise, ``[start, restore)``, weighted by the premise's customers:

first ETR
    the ETR in force at the first instant of the outage at which there is one (before the
    restore); *on time* when the true restore is at or before it.
last ETR
    the ETR in force at the last instant before the restore at which there was one.

Errors are ``|ETR - restore|`` in minutes (``mean_error_min`` keeps the sign: positive is a
conservative ETR); medians are weighted (the smallest value with half the customers at or
below it). Per incident: minutes from its ``OutagePredicted`` to its first non-empty ETR
(max, p95 by nearest rank, mean), incidents predicted but never given one (those merged away
are not counted: their customers went to the surviving incident), and how often the ETR
moved — an ``EtrChanged`` to a value other than the incident's previous non-empty ETR.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from grid.topology import Topology
from scenarios.crewtruth import premise_outages
from scenarios.physics import Grid, power_episodes
from scenarios.timeline import Shown, Timeline
from scenarios.truth import PremiseOutage, Truth, parse_time

#: Events that end an incident's showing besides its status changes.
_ENDING = {"OutageRestored": "restored", "IncidentCancelled": "cancelled"}


@dataclass
class ErrorFigures:
    """One ETR (first or last) against the true restorations, weighted by customers."""

    customers: int  # customers out who had this ETR
    on_time_share: float | None  # restored at or before it, of those who had one
    on_time_share_of_all: float | None  # the same, of every customer out
    mean_abs_error_min: float | None
    median_abs_error_min: float | None
    mean_error_min: float | None  # ETR - restore: positive = conservative


@dataclass
class FaultEtr:
    """The figures of the customers one fault's repair brought back."""

    fault: str
    customers: int
    customers_with_etr: int
    first_on_time_share: float | None
    first_mean_abs_error_min: float | None


@dataclass
class EtrScore:
    """The per-storm ETR figures (module docstring)."""

    customers_out: int  # customer-outages: a customer out twice counts twice
    customers_with_etr: int
    share_with_etr: float | None
    first_etr: ErrorFigures
    last_etr: ErrorFigures
    median_minutes_to_etr: float | None  # outage start to its first ETR, per customer
    incidents: int  # incidents predicted (OutagePredicted)
    incidents_with_etr: int
    incidents_without_etr: list[str]  # never given one (merged-away excluded)
    prediction_to_etr_max_min: float | None
    prediction_to_etr_p95_min: float | None
    prediction_to_etr_mean_min: float | None
    etr_moves_mean: float | None  # per incident with an ETR
    share_incidents_moved: float | None  # incidents with >= 1 move, of those with an ETR
    etr_moves_by_source: dict[str, int] = field(default_factory=dict)
    etr_sources: dict[str, int] = field(default_factory=dict)  # first ETRs by source
    per_fault: list[FaultEtr] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


@dataclass
class _Group:
    """Premises under one transformer out over the same interval."""

    transformer: str
    start: datetime
    restore: datetime
    fault: str
    customers: int


class _Etrs:
    """Each incident's ETR over time, from ``EtrChanged`` events."""

    def __init__(self, events: Iterable[Mapping[str, Any]]) -> None:
        #: incident -> [(when, etr or None, source)] in event order
        self.history: defaultdict[str, list[tuple[datetime, datetime | None, str]]] = defaultdict(
            list
        )
        self.predicted: dict[str, datetime] = {}
        self.merged: set[str] = set()
        self.first: dict[str, tuple[datetime, str]] = {}  # incident -> (at, source)
        self.moves: Counter[str] = Counter()
        self.moves_by_source: Counter[str] = Counter()
        last: dict[str, datetime] = {}
        now: datetime | None = None
        for event in events:
            at = _time(event["at"])
            now = at if now is None or at > now else now
            kind = event.get("type")
            if kind == "OutagePredicted":
                self.predicted.setdefault(event["incident"], now)
            elif kind == "IncidentMerged":
                self.merged.add(event["incident"])
            elif kind == "EtrChanged":
                incident = event["incident"]
                etr = _time(event["etr"]) if event.get("etr") else None
                source = str(event.get("source", "officer"))
                self.history[incident].append((now, etr, source))
                if etr is None:
                    continue
                if incident not in self.first:
                    self.first[incident] = (now, source)
                elif etr != last[incident]:
                    self.moves[incident] += 1
                    self.moves_by_source[source] += 1
                last[incident] = etr

    def at(self, incident: str, t: datetime) -> tuple[datetime | None, str]:
        """The incident's ETR at instant ``t`` (after the changes at ``t``) and its source."""
        value: tuple[datetime | None, str] = (None, "")
        for when, etr, source in self.history.get(incident, ()):
            if when > t:
                break
            value = (etr, source)
        return value

    def changes(self, incident: str) -> list[datetime]:
        """When its ETR changed."""
        return [when for when, _, _ in self.history.get(incident, ())]


def score_etr(
    network: Topology | Grid,
    truth: Truth,
    events: Sequence[Mapping[str, Any]],
) -> EtrScore:
    """Score the ETRs of one storm (module docstring)."""
    grid = network if isinstance(network, Grid) else Grid(network)
    events = list(events)
    etrs = _Etrs(events)
    shown = Timeline(_with_endings(events)).run()
    by_device: defaultdict[str, list[Shown]] = defaultdict(list)
    for interval in shown:
        by_device[interval.device].append(interval)

    firsts: list[tuple[float, float, float]] = []  # (weight, error min, wait min)
    lasts: list[tuple[float, float]] = []
    first_source: Counter[str] = Counter()
    total = 0
    fault_rows: defaultdict[str, list[tuple[int, float | None]]] = defaultdict(list)
    for group in _groups(grid, truth):
        total += group.customers
        relevant = [
            iv
            for device in _covering(grid, group.transformer)
            for iv in by_device.get(device, ())
            if iv.start < group.restore and (iv.end is None or iv.end > group.start)
        ]
        first, last, first_at, source = _told(relevant, etrs, group.start, group.restore)
        error = None
        if first is not None and first_at is not None:
            error = _minutes(first - group.restore)
            firsts.append((group.customers, error, _minutes(first_at - group.start)))
            first_source[source or "?"] += group.customers
        if last is not None:
            lasts.append((group.customers, _minutes(last - group.restore)))
        fault_rows[group.fault].append((group.customers, error))

    with_etr = int(sum(w for w, _, _ in firsts))
    latencies = [
        _minutes(etrs.first[i][0] - t) for i, t in etrs.predicted.items() if i in etrs.first
    ]
    given = [i for i in etrs.predicted if i in etrs.first]
    return EtrScore(
        customers_out=total,
        customers_with_etr=with_etr,
        share_with_etr=with_etr / total if total else None,
        first_etr=_figures([(w, e) for w, e, _ in firsts], total),
        last_etr=_figures(lasts, total),
        median_minutes_to_etr=_weighted_median([(w, t) for w, _, t in firsts]),
        incidents=len(etrs.predicted),
        incidents_with_etr=len(given),
        incidents_without_etr=sorted(
            i for i in etrs.predicted if i not in etrs.first and i not in etrs.merged
        ),
        prediction_to_etr_max_min=max(latencies) if latencies else None,
        prediction_to_etr_p95_min=_nearest_rank(latencies, 0.95),
        prediction_to_etr_mean_min=float(np.mean(latencies)) if latencies else None,
        etr_moves_mean=sum(etrs.moves[i] for i in given) / len(given) if given else None,
        share_incidents_moved=(
            sum(1 for i in given if etrs.moves[i] > 0) / len(given) if given else None
        ),
        etr_moves_by_source=dict(sorted(etrs.moves_by_source.items())),
        etr_sources=dict(sorted(first_source.items())),
        per_fault=[_fault_row(f, rows) for f, rows in sorted(fault_rows.items())],
    )


def _told(
    relevant: list[Shown], etrs: _Etrs, start: datetime, restore: datetime
) -> tuple[datetime | None, datetime | None, datetime | None, str | None]:
    """(first ETR, last ETR, when the first was in force, the first one's source)."""
    instants = {start}
    for iv in relevant:
        if start < iv.start < restore:
            instants.add(iv.start)
        for when in etrs.changes(iv.incident):
            if start < when < restore:
                instants.add(when)
    first = last = first_at = None
    first_source = None
    for t in sorted(instants):
        best: tuple[datetime, str] | None = None
        for iv in relevant:
            if iv.start <= t and (iv.end is None or t < iv.end):
                etr, source = etrs.at(iv.incident, t)
                if etr is not None and (best is None or etr > best[0]):
                    best = (etr, source)
        if best is None:
            continue
        if first is None:
            first, first_at, first_source = best[0], t, best[1]
        last = best[0]
    return first, last, first_at, first_source


def _groups(grid: Grid, truth: Truth) -> list[_Group]:
    """The truth's premise outages, grouped by (transformer, start, restore)."""
    outages = truth.outages or derive_outages(grid, truth)
    groups: dict[tuple[str, datetime, datetime], _Group] = {}
    for o in outages:
        key = (o.transformer, o.start, o.restore)
        group = groups.get(key)
        if group is None:
            groups[key] = _Group(o.transformer, o.start, o.restore, o.fault, o.customers)
        else:
            group.customers += o.customers
    return list(groups.values())


def derive_outages(grid: Grid, truth: Truth) -> list[PremiseOutage]:
    """Every premise's true outages from the truth's faults (what a storm with crews stores
    in ``Truth.outages``, by the same rule: `scenarios.crewtruth.premise_outages`)."""
    kept = [(f, grid.asset_of(f.asset)) for f in truth.faults]
    known = [(f, a) for f, a in kept if a is not None]
    if not known:
        return []

    def sec(t: datetime) -> int:
        return round((t - truth.start).total_seconds())

    episodes = power_episodes(
        grid,
        np.array([a for _, a in known], dtype=np.int64),
        np.array([sec(f.start) for f, _ in known], dtype=np.int64),
        np.array([sec(f.restore) for f, _ in known], dtype=np.int64),
    )
    return premise_outages(grid, episodes, [f.id for f, _ in known], truth.start)


def _covering(grid: Grid, transformer: str) -> list[str]:
    """The assets an incident may stand at to cover the transformer's premises."""
    topo = grid.topology
    t = topo.transformer_index.get(transformer)
    if t is None:
        return [transformer]
    device = topo.transformer_device[t]
    chain = topo.device_chain[device] if device >= 0 else ()
    return [transformer, *(topo.device_ids[d] for d in chain)]


def _with_endings(events: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The events, each ``OutageRestored`` / ``IncidentCancelled`` followed by the status
    change it implies (the engine emits that change itself; hand-made lists may not)."""
    out: list[dict[str, Any]] = []
    for event in events:
        out.append(dict(event))
        status = _ENDING.get(str(event.get("type")))
        if status is not None:
            out.append(
                {
                    "type": "IncidentStatusChanged",
                    "at": event["at"],
                    "incident": event["incident"],
                    "new": status,
                }
            )
    return out


def _figures(rows: list[tuple[float, float]], total: int) -> ErrorFigures:
    """Weighted error figures of (customers, ETR - restore minutes) rows."""
    weight = sum(w for w, _ in rows)
    if not weight:
        return ErrorFigures(0, None, 0.0 if total else None, None, None, None)
    on_time = sum(w for w, e in rows if e >= 0)
    return ErrorFigures(
        customers=int(weight),
        on_time_share=on_time / weight,
        on_time_share_of_all=on_time / total if total else None,
        mean_abs_error_min=sum(w * abs(e) for w, e in rows) / weight,
        median_abs_error_min=_weighted_median([(w, abs(e)) for w, e in rows]),
        mean_error_min=sum(w * e for w, e in rows) / weight,
    )


def _fault_row(fault: str, rows: list[tuple[int, float | None]]) -> FaultEtr:
    given = [(w, e) for w, e in rows if e is not None]
    weight = sum(w for w, _ in given)
    return FaultEtr(
        fault=fault,
        customers=sum(w for w, _ in rows),
        customers_with_etr=weight,
        first_on_time_share=sum(w for w, e in given if e >= 0) / weight if weight else None,
        first_mean_abs_error_min=sum(w * abs(e) for w, e in given) / weight if weight else None,
    )


def _weighted_median(rows: list[tuple[float, float]]) -> float | None:
    """The smallest value with at least half the weight at or below it."""
    rows = [(w, v) for w, v in rows if w > 0]
    if not rows:
        return None
    rows.sort(key=lambda r: r[1])
    half = sum(w for w, _ in rows) / 2.0
    acc = 0.0
    for w, v in rows:
        acc += w
        if acc >= half:
            return v
    return rows[-1][1]  # pragma: no cover - acc reaches the total


def _nearest_rank(values: list[float], q: float) -> float | None:
    """The ``q`` quantile by nearest rank: the ceil(q·n)-th smallest value."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _minutes(delta: Any) -> float:
    return float(delta.total_seconds()) / 60.0


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return parse_time(str(value))
