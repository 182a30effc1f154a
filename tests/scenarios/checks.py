"""Invariants every generated storm must satisfy, checked against the brute-force oracle."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from grid.model import GridTables
from grid.topology import Topology
from outage.signals import parse_signal
from scenarios.generate import Storm
from scenarios.truth import NOISE, parse_time
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
