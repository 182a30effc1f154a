"""Invariants every generated storm must satisfy, checked against the brute-force oracle."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from grid.model import GridTables
from grid.topology import Topology
from outage.signals import parse_signal
from scenarios.generate import Storm
from scenarios.truth import JOB_TIMES, NOISE, parse_time
from tests.scenarios.oracle import dark_faults, dark_intervals, interrupter_by_path, premises_of


def check_storm(topology: Topology, tables: GridTables, storm: Storm) -> None:
    """Assert the contract, the physics and the truth of one storm."""
    signals, truth, spec = storm.signals, storm.truth, storm.spec
    ids = [s["id"] for s in signals]
    assert len(set(ids)) == len(ids)
    times = [parse_time(s["ts"]) for s in signals]
    assert times == sorted(times)
    for raw in signals:
        parse_signal(raw)  # the engine's input contract, exactly

    by_id = {s["id"]: s for s in signals}
    owner = _identity_owner(tables)
    for fault in truth.faults:
        assert fault.start < fault.restore
        out = premises_of(topology, fault)
        assert fault.premises_out == len(out)
        assert fault.customers_out == sum(
            int(topology.premise_customers[topology.premise_index[p]]) for p in out
        )
        if fault.kind == "section" and fault.location in topology.section_index:
            assert interrupter_by_path(tables, fault.location) == fault.asset
        if fault.kind == "transformer":
            assert fault.asset == fault.location

    for call in truth.calls:
        raw = by_id[call.id]
        assert raw["type"] == "call"
        assert parse_time(raw["ts"]) == call.ts
        named = raw.get("premise") or owner[raw.get("account") or raw.get("phone")]
        assert named == call.premise
        assert raw.get("kind", "no_power") == call.kind
        dark = dark_faults(topology, truth, call.premise, call.ts)
        if call.fault == NOISE:
            assert not dark, f"noise call {call.id} from a dark premise"
        else:
            assert call.fault in {f.id for f in dark}, f"{call.id}: premise not dark by its fault"
            assert call.ts > truth.fault(call.fault).start

    offset = timedelta(minutes=spec.meters.clock_offset_minutes)
    for meter in truth.meters:
        raw = by_id[meter.id]
        assert (raw["type"], raw["premise"], raw["event"]) == ("meter", meter.premise, meter.kind)
        spans = dark_intervals(topology, truth, meter.premise)
        edges = {a for a, _ in spans} if meter.kind == "last_gasp" else {b for _, b in spans}
        assert meter.ts - offset in edges

    restores = Counter(d.fault for d in truth.devices if d.kind == "restore")
    if spec.restores:
        assert restores == Counter(f.id for f in truth.faults)
        for d in truth.devices:
            if d.kind == "restore":
                fault = truth.fault(d.fault)
                assert (by_id[d.id]["device"], d.ts) == (fault.asset, fault.restore)
    else:
        assert not restores


def _identity_owner(tables: GridTables) -> dict[str, str]:
    """account or phone -> premise, from the customers table."""
    customers = tables.customers
    owner: dict[str, str] = {}
    for row in customers.itertuples():
        owner[str(row.account)] = row.premise
        if isinstance(row.phone, str):
            owner[row.phone] = row.premise
    return owner


def check_crew_storm(topology: Topology, tables: GridTables, storm: Storm) -> None:
    """`check_storm`, and what the crew world promises (written from the rules, not the code):
    one job per fault ending at its restore, steps in order, the utility learning at the
    first report sent, one job per crew at a time, nobody idle while a job waits, FIFO, the
    crew signals, and every premise's true outages."""
    check_storm(topology, tables, storm)
    truth, spec = storm.truth, storm.spec
    crews = spec.crews
    assert crews is not None and truth.roster is not None
    assert [j.fault for j in truth.jobs] == [f.id for f in truth.faults]
    offset = timedelta(minutes=spec.meters.clock_offset_minutes)
    first: dict[str, list[tuple[datetime, str]]] = {}
    for call in truth.calls:
        first.setdefault(call.fault, []).append((call.ts, "call"))
    for meter in truth.meters:
        if meter.kind == "last_gasp":
            first.setdefault(meter.fault, []).append((meter.ts - offset, "meter"))
    for device in truth.devices:
        if device.kind == "scada_open":
            first.setdefault(device.fault, []).append((device.ts, "scada"))
    ends: dict[str, datetime] = {}
    for job in truth.jobs:
        fault = truth.fault(job.fault)
        assert (job.asset, job.restore) == (fault.asset, fault.restore)
        steps = [getattr(job, name) for name in JOB_TIMES]
        assert steps == sorted(steps) and job.reported >= fault.start
        assert job.repair_start < job.restore
        reports = sorted(first.get(job.fault, []), key=lambda r: r[0])
        if job.found_by in ("call", "meter", "scada"):
            assert reports and reports[0][0] == job.reported, job
            assert job.found_by in {how for t, how in reports if t == job.reported}
        else:
            assert not reports or job.reported <= reports[0][0], job
            assert job.known == job.reported
        key = job.with_parent or job.fault
        ends[key] = max(ends.get(key, job.restore), job.restore)
        if job.with_parent is not None:
            parent = truth.job(job.with_parent)
            assert job.crew == parent.crew and job.restore < parent.restore
            child, above = truth.fault(job.fault), truth.fault(job.with_parent)
            assert child.parent is not None
            assert premises_of(topology, child) <= premises_of(topology, above)

    # one job at a time per crew; nobody idle while a job waits (no shifts here)
    jobs = [j for j in truth.jobs if j.with_parent is None]
    busy: dict[str, list[tuple[datetime, datetime]]] = {}
    for job in sorted(jobs, key=lambda j: j.dispatched):
        spans = busy.setdefault(job.crew, [])
        assert not spans or spans[-1][1] <= job.dispatched
        spans.append((job.dispatched, ends[job.fault]))
    assert set(busy) <= {c["id"] for c in truth.roster["crews"]}
    unlimited = crews.shift is None and all(
        m.shift is None and m.skills is None for m in crews.members
    )
    if unlimited:
        ids = [c["id"] for c in truth.roster["crews"]]
        for job in jobs:
            if job.dispatched > job.known:
                for crew in ids:
                    assert _covered(busy.get(crew, []), job.known, job.dispatched), (crew, job)
        if crews.policy == "fifo":  # of two jobs in the queue, the first reported goes first
            rank = {f.id: k for k, f in enumerate(truth.faults)}
            for a in jobs:
                for b in jobs:
                    first = (a.reported, rank[a.fault]) < (b.reported, rank[b.fault])
                    if first and a.known <= b.dispatched:
                        assert a.dispatched <= b.dispatched, (a, b)

    signals = [s for s in storm.signals if s["type"] == "crew"]
    if crews.signals:
        expected = []
        for job in jobs:
            for status, at in (
                ("en_route", job.en_route),
                ("on_site", job.on_site),
                ("repairing", job.repair_start),
                ("available", ends[job.fault]),
            ):
                expected.append((at, job.crew, status))
        got = [(parse_time(s["ts"]), s["crew"], s["status"]) for s in signals]
        assert sorted(got) == sorted(expected)
        assert all("incident" not in s for s in signals)
    else:
        assert not signals

    # every premise's true outages, against the brute-force dark intervals
    by_premise: dict[str, list[tuple[datetime, datetime, str]]] = {}
    for o in truth.outages:
        by_premise.setdefault(o.premise, []).append((o.start, o.restore, o.fault))
        premise = topology.premise_index[o.premise]
        assert o.customers == int(topology.premise_customers[premise])
        assert o.transformer == topology.transformer_ids[topology.premise_transformer[premise]]
    affected = set().union(*(premises_of(topology, f) for f in truth.faults))
    assert set(by_premise) == affected
    for premise, rows in by_premise.items():
        assert [(a, b) for a, b, _ in rows] == dark_intervals(topology, truth, premise)
        for _, end, fault in rows:
            assert truth.fault(fault).restore == end
            assert premise in premises_of(topology, truth.fault(fault))


def _covered(spans: list[tuple[datetime, datetime]], a: datetime, b: datetime) -> bool:
    """Whether the union of [start, end) spans covers [a, b)."""
    reach = a
    for start, end in sorted(spans):
        if start <= reach < end:
            reach = end
    return reach >= b
