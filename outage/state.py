"""The engine's state as a JSON document: what ``outage replay --out STATE.json`` writes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from grid.topology import Topology
from outage.engine import Engine
from outage.events import iso as _iso
from outage.incidents import OPEN_STATES, Incident, Status
from outage.indices import Indices, compute_indices
from outage.storm import SYSTEM

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def incident_view(engine: Engine, incident: Incident) -> dict[str, Any]:
    """One incident as JSON (the STATE.json and API shape)."""
    topo = engine.topology
    return {
        "id": incident.id,
        "device": incident.asset,
        "level": incident.level,
        "status": incident.status,
        "planned": incident.planned,
        "cause": incident.cause,
        "customers_affected": incident.customers,
        # A service drop: the one premise out under transformer ``device`` (else null).
        "premise": engine.registry.premise_id(incident.premise),
        "calls": incident.calls,
        "hazards": incident.hazards,
        "suppressed": len(incident.suppressed()),
        "meter_events": incident.meter_events,
        "started": _iso(incident.started),
        "restored": _iso(incident.restored_at),
        "closed": _iso(incident.closed_at),
        "etr": _iso(incident.etr),
        # Whose ETR: "officer", "crew" or "estimated" (and what the estimate stands on).
        "etr_source": incident.etr_source,
        "etr_basis": engine.restoration.basis.get(incident.id),
        "work_order": work_order_brief(engine, incident),
        "crew": incident.crew,
        "parent": incident.parent,
        "feeder": topo.feeder_ids[incident.feeder],
        "substation": topo.substation_ids[incident.substation],
        "timeline": [{"status": s, "at": _iso(t)} for s, t in incident.timeline],
        # Why the engine holds it there, in numbers (the latest, for one no longer open).
        "explanation": engine.explain(incident),
    }


def drawn_asset(row: dict[str, Any]) -> tuple[str, str]:
    """(level, asset) an `incident_view` row is drawn at on the map: its premise for a
    service drop (level "premise"), else its device or transformer."""
    premise = row.get("premise")
    return ("premise", premise) if premise else (row["level"], row["device"])


def work_order_brief(engine: Engine, incident: Incident) -> dict[str, Any] | None:
    """The incident's work order in brief: id, SLA light, running deadline, crew."""
    desk = engine.restoration
    order = desk.order_for(incident.id)
    if order is None:
        return None
    now = engine.now or order.opened_at
    return {
        "id": order.id,
        "clock": order.clock(now, desk.rules.warn_before_minutes),
        "step": order.step if order.is_open else None,
        "due": _iso(order.due()) if order.is_open else None,
        "crew": order.crew,
        "area_class": order.area_class,
    }


def restoration_view(engine: Engine) -> dict[str, Any]:
    """Work orders, crews, substation ETRs, frequent-outage flags and follow-up answers (the
    shape `merge_restoration` combines across Redis partitions)."""
    desk = engine.restoration
    now = engine.now
    at = now or _EPOCH
    warn = desk.rules.warn_before_minutes
    return {
        "as_of": _iso(now),
        "work_orders": [o.to_dict(at, warn) for o in desk.orders.values()],
        "crews": desk.crews_view(at),
        "substation_etrs": {k: _iso(v) for k, v in sorted(desk.substation_etr.items())},
        "frequent_outages": desk.outages.frequent(at) if now is not None else [],
        "followups": {k: list(v.values()) for k, v in sorted(desk.followups.items())},
    }


def merge_restoration(views: list[dict[str, Any]]) -> dict[str, Any]:
    """Several partitions' `restoration_view` as one. Every partition knows the whole roster;
    a crew's latest report (``since``) is the one that counts."""
    crews: dict[str, dict[str, Any]] = {}
    merged: dict[str, Any] = {
        "as_of": max((v["as_of"] for v in views if v["as_of"]), default=None),
        "work_orders": [],
        "substation_etrs": {},
        "frequent_outages": [],
        "followups": {},
    }
    for view in views:
        merged["work_orders"] += view["work_orders"]
        merged["substation_etrs"] |= view["substation_etrs"]
        merged["frequent_outages"] += view["frequent_outages"]
        merged["followups"] |= view["followups"]
        for crew in view["crews"]:
            known = crews.get(crew["id"])
            if known is None or (crew["since"] or "") > (known["since"] or ""):
                crews[crew["id"]] = crew
    merged["crews"] = [crews[c] for c in sorted(crews)]
    merged["substation_etrs"] = dict(sorted(merged["substation_etrs"].items()))
    merged["frequent_outages"].sort(key=lambda f: -f["outages"])
    return merged


def work_order_rows(
    view: dict[str, Any], *, open_only: bool = True, substation: str | None = None
) -> list[dict[str, Any]]:
    """The work orders of a `restoration_view`, the most urgent first: open ones by due time,
    then closed ones, latest closed first."""
    rows = [
        o
        for o in view["work_orders"]
        if (not open_only or o["closed_at"] is None)
        and (substation is None or o["substation"] == substation)
    ]
    open_rows = sorted((o for o in rows if o["closed_at"] is None), key=lambda o: o["due"] or "")
    closed = sorted((o for o in rows if o["closed_at"] is not None), key=lambda o: o["closed_at"])
    return open_rows + closed[::-1]


def indices_view(
    topology: Topology,
    computed: Indices | None,
    start: datetime | None,
    end: datetime | None,
    repeat_threshold: int = 2,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the indices, the repeat-outage premises) as STATE.json and the API give them; zeros
    before there is a period."""
    if computed is None:
        return {"cmi": 0.0, "saidi": 0.0, "saifi": 0.0, "caidi": 0.0}, []
    indices = computed.to_dict() | {"period": {"start": _iso(start), "end": _iso(end)}}
    counts = computed.interruptions_per_premise
    repeats = [
        {"premise": topology.premise_ids[p], "interruptions": int(counts[p])}
        for p in np.flatnonzero(counts >= repeat_threshold)[:1000].tolist()
    ]
    return indices, repeats


def engine_indices(
    engine: Engine, repeat_threshold: int = 2
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`indices_view` of the engine's incidents from its first signal to its clock."""
    start, end = engine.first_ts, engine.now
    computed = None
    if start is not None and end is not None and end > start:
        computed = compute_indices(
            engine.topology,
            engine.incidents.values(),
            start,
            end,
            momentary_minutes=engine.rules.normal.momentary_minutes,
        )
    return indices_view(engine.topology, computed, start, end, repeat_threshold)


def snapshot(engine: Engine, *, repeat_threshold: int = 2) -> dict[str, Any]:
    """Everything a replay decided (see README: STATE.json)."""
    topo = engine.topology
    listed = [i for i in engine.incidents.values() if i.status != Status.MERGED]
    indices, repeats = engine_indices(engine, repeat_threshold)
    storm = engine.storm
    system = storm.scopes[SYSTEM]
    last_system = [h for h in storm.history if h[0] == SYSTEM]
    declared_at = system.declared_at or (last_system[-1][1] if last_system else None)
    return {
        "incidents": [incident_view(engine, i) for i in listed],
        "merged": [
            {"id": i.id, "into": i.merged_into}
            for i in engine.incidents.values()
            if i.status == Status.MERGED
        ],
        "tickets": [
            {k: _iso(v) if isinstance(v, datetime) else v for k, v in t.items()}
            for t in engine.tickets
        ],
        "unresolved": [
            {"call": u["call"], "reason": u["reason"], "ticket": u["ticket"]}
            for u in engine.unresolved
        ],
        "rejected": engine.rejected,
        "calls_received": engine.calls_received,
        "suppressed_calls": engine.suppressed_total,
        "suppressed_by_premise": {
            topo.premise_ids[p]: n for p, n in engine.suppressed_by_premise.most_common(100)
        },
        "storm": {
            "declared": system.declared_at is not None,
            "at": _iso(declared_at),
            "rule_set": engine.rule_set,
            "history": [
                {"scope": scope, "declared": _iso(a), "stood_down": _iso(b)}
                for scope, a, b in storm.history
            ],
            "scopes_declared": sorted(
                name for name, s in storm.scopes.items() if s.declared_at is not None
            ),
        },
        "restoration": restoration_view(engine),
        "indices": indices,
        "repeat_outages": repeats,
        "signals_applied": engine.signals_applied,
    }


def open_by_scope(engine: Engine) -> dict[str, dict[str, int]]:
    """Open incidents and customers out per scope (``system`` and each substation), now.

    One definition of "open" for every read a person compares (the board's list, its header,
    the storm banner, ``/v1/storm``, ``/v1/map/incidents``): an incident whose status is in
    `OPEN_STATES`, nested ones included — each is a ticket someone works on. Customers out
    count each customer once: a nested outage inside an open parent adds nothing.
    """
    topo = engine.topology
    counts: dict[str, dict[str, int]] = {}
    for incident in engine.incidents.values():
        if incident.status not in OPEN_STATES:
            continue
        parent = engine.incidents.get(incident.parent) if incident.parent else None
        nested = parent is not None and parent.status in OPEN_STATES
        for scope in (SYSTEM, topo.substation_ids[incident.substation]):
            row = counts.setdefault(scope, {"open_incidents": 0, "customers_out": 0})
            row["open_incidents"] += 1
            row["customers_out"] += 0 if nested else incident.customers
    return counts
