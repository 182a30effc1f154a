"""Engine accuracy benchmark: do a fault's calls end in one incident at the faulted device?

    python benchmarks/engine_accuracy.py              # 3 networks x 3 call rates x meters on/off
    python benchmarks/engine_accuracy.py --quick      # 1 seed, 10% call rate only (smoke run)
    python benchmarks/engine_accuracy.py --failures 5 # also explain the first 5 misses per network

Networks: the shared IEEE 123 feeder and EPRI ckt5 (``../shared/data/opendss``, skipped with a
note when absent) and the demo city (``data/topology/demo.gpkg``). For every network, call rate
(5%, 10%, 30%) and meter setting (``ami_delivery`` 0.8 or 0.0), ``--seeds`` (30) seeded storms
are simulated (`outage.simulate.simulate_storm`, premise lon/lat passed so that app callers
resolve), each is replayed through a fresh engine (signals validated by `parse_signal`, then
``finish``), and the snapshot is scored with `outage.evaluate.accuracy`. Figures are pooled
over the storms' faults that got at least one call:

    exact           all the fault's calls ended in exactly one incident, at the fault's device
    right device    its calls ended (at least partly) in an incident at the right device
    exact or equiv. exact, or one incident at another asset that de-energises exactly the same
                    premises (a switch feeding a single transformer, switches in series): no
                    call or meter can tell those apart
    split           its calls ended in more than one incident
    wrong device    its calls ended in one incident at a wrong asset
    tickets/outage  incidents kept as tickets (not merged, not cancelled) per simulated fault;
                    "of which noise": those opened only by noise calls (partial_power / flicker
                    from customers who were never out)

The same seed gives the same fault plan at every call rate, so the rows of one network compare
like with like. ``--failures N`` prints, for the first N misses per network at the 10% call
rate, which incidents the fault's calls ended in (asset, relation to the faulted asset, status,
cause) and what the calls told the engine. Output: a table on stdout, a markdown table for the
README, and ``.bench/engine_accuracy.json``. Takes ~30 s with the defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provenance import code_state  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench"
SHARED = ROOT.parent / "shared" / "data" / "opendss"

CALL_RATES = (0.05, 0.10, 0.30)
AMI = (0.8, 0.0)


@dataclass(frozen=True)
class NetworkCase:
    """One network to score: how to load it and how many faults a storm on it gets."""

    name: str
    faults: int
    source: Path
    load: Callable[[], Any]
    shared: bool


def cases() -> list[NetworkCase]:
    """IEEE 123 (91 premises: few faults), EPRI ckt5, and the demo city."""
    from grid.importers import load_source
    from grid.io import read_gpkg

    ieee123 = SHARED / "IEEE123"
    ckt5 = SHARED / "ckt5"
    demo = ROOT / "data" / "topology" / "demo.gpkg"
    return [
        NetworkCase("IEEE 123", 4, ieee123, lambda: load_source(ieee123, "opendss"), True),
        NetworkCase("EPRI ckt5", 10, ckt5, lambda: load_source(ckt5, "opendss"), True),
        NetworkCase("demo city", 20, demo, lambda: read_gpkg(demo), False),
    ]


def replay(network: Any, signals: list[dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """Feed ``signals`` (validated one by one) through a fresh engine; (engine, STATE)."""
    from outage.bootstrap import build_engine
    from outage.signals import parse_signal
    from outage.state import snapshot

    engine = build_engine(network)
    for raw in signals:
        engine.handle(parse_signal(raw))
    engine.finish()
    return engine, snapshot(engine)


def relation(topology: Any, fault: dict[str, Any], incident: dict[str, Any]) -> str:
    """Where ``incident`` sits relative to the faulted asset: same, above, below, elsewhere."""
    if incident["device"] == fault["device"]:
        return "same"
    if fault["kind"] == "transformer":
        t = topology.transformer_index[fault["device"]]
        above = topology.device_chain[topology.transformer_device[t]]
        if incident["level"] == "device" and topology.device_index[incident["device"]] in above:
            return "above"
        return "elsewhere"
    d = topology.device_index[fault["device"]]
    if incident["level"] == "transformer":
        t = topology.transformer_index[incident["device"]]
        chain = topology.device_chain[topology.transformer_device[t]]
        return "below" if d in chain else "elsewhere"
    e = topology.device_index[incident["device"]]
    if d in topology.device_chain[e]:
        return "below"
    if e in topology.device_chain[d]:
        return "above"
    return "elsewhere"


def premises_of(topology: Any, asset: str) -> frozenset[int]:
    """Premises an asset (device or transformer id) de-energises when it opens."""
    if asset in topology.device_index:
        return frozenset(topology.premises_below(topology.device_index[asset]).tolist())
    return frozenset(topology.premises_of_transformer(topology.transformer_index[asset]).tolist())


def equivalent_misses(topology: Any, state: dict[str, Any], truth: dict[str, Any]) -> int:
    """Faults whose calls all ended in one incident at *another* asset that de-energises exactly
    the same premises (a switch feeding one transformer, switches in series): no call or meter
    can tell those apart, so these count as right in ``exact_or_equivalent``."""
    home: dict[str, dict[str, Any]] = {}
    for incident in state["incidents"]:
        for call in incident["calls"]:
            home[call] = incident
    count = 0
    for fault in truth["faults"]:
        # as in outage.evaluate.accuracy: calls that ended in no incident are left out
        ended = {home[c]["id"]: home[c] for c in fault["calls"] if c in home}
        if len(ended) != 1:
            continue
        incident = next(iter(ended.values()))
        if incident["device"] == fault["device"]:
            continue
        if premises_of(topology, incident["device"]) == premises_of(topology, fault["device"]):
            count += 1
    return count


def noise_tickets(state: dict[str, Any], truth: dict[str, Any]) -> int:
    """Tickets (as `accuracy` counts them) opened only by calls from customers who were never
    out: partial_power noise calls are outage evidence to the engine."""
    noise = set(truth["noise_calls"])
    return sum(
        1
        for i in state["incidents"]
        if i["status"] != "cancelled"
        and not i["planned"]
        and i["calls"]
        and not i["meter_events"]
        and all(c in noise for c in i["calls"])
    )


def storm_rules_at(engine: Any, iso: str) -> bool:
    """Was a system-wide storm declared (storm rule set in force) at ``iso``?"""
    from datetime import datetime

    from outage.storm import SYSTEM

    at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    spans = [(a, b) for scope, a, b in engine.storm.history if scope == SYSTEM]
    current = engine.storm.scopes[SYSTEM].declared_at
    if current is not None:
        spans.append((current, None))
    return any(a <= at and (b is None or at < b) for a, b in spans)


def evidence(engine: Any, fault: dict[str, Any]) -> dict[str, Any]:
    """What the fault's calls told the engine about the faulted asset (rule-independent)."""
    topology = engine.topology
    premise_of: dict[str, int] = {}
    for incident in engine.incidents.values():
        premise_of.update(zip(incident.calls, incident.call_premises, strict=True))
    premises = {premise_of[c] for c in fault["calls"] if c in premise_of}
    transformers = {topology.premise_transformer[p] for p in premises}
    called = int(sum(int(topology.premise_customers[p]) for p in premises))
    out: dict[str, Any] = {
        "storm_rules_at_start": storm_rules_at(engine, fault["start"]),
        "calling_premises": len(premises),
        "calling_transformers": len(transformers),
    }
    if fault["kind"] == "transformer":
        return out
    device = topology.device_index[fault["device"]]
    total = int(topology.device_customers[device])
    below = topology.devices_below(device)
    covered = int(sum(int(topology.transformer_customers[t]) for t in transformers))
    out |= {
        "customers": total,
        "transformers_below": sum(len(topology.device_transformers[d]) for d in below),
        "devices_below": len(below) - 1,
        # share of the device's customers who called / whose transformer had a caller
        "called_share": round(called / max(total, 1), 3),
        "transformer_coverage": round(covered / max(total, 1), 3),
    }
    return out


def explain(
    engine: Any, state: dict[str, Any], truth: dict[str, Any], limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` faults that were not exact: where their calls ended and why."""
    topology = engine.topology
    incidents = {i["id"]: i for i in state["incidents"]}
    home: dict[str, str] = {}
    for incident in state["incidents"]:
        for call in incident["calls"]:
            home[call] = incident["id"]
    ticket_reason = {t["call"]: t.get("reason", t["kind"]) for t in state["tickets"]}
    ticket_reason |= {u["call"]: f"unresolved: {u['reason']}" for u in state["unresolved"]}
    out: list[dict[str, Any]] = []
    for fault in truth["faults"]:
        calls = fault["calls"]
        if not calls:
            continue
        ended = Counter(home.get(c) for c in calls)
        if len(ended) == 1 and None not in ended:
            only = incidents[next(iter(ended))]
            if only["device"] == fault["device"]:
                continue
        if len(out) >= limit:
            break
        where = []
        for incident_id, n in ended.most_common():
            if incident_id is None:
                reasons = Counter(ticket_reason.get(c, "?") for c in calls if c not in home)
                where.append({"incident": None, "calls": n, "tickets": dict(reasons)})
                continue
            incident = incidents[incident_id]
            where.append(
                {
                    "incident": incident_id,
                    "calls": n,
                    "device": incident["device"],
                    "level": incident["level"],
                    "relation": relation(topology, fault, incident),
                    "status": incident["status"],
                    "cause": incident["cause"],
                    "incident_calls": len(incident["calls"]),
                    "customers": incident["customers_affected"],
                    "started": incident["started"],
                }
            )
        out.append(
            {
                "seed": truth["seed"],
                "fault": fault["id"],
                "device": fault["device"],
                "kind": fault["kind"],
                "premises": fault["premises"],
                "start": fault["start"],
                "restored": fault["restored"],
                "calls": len(calls),
                "evidence": evidence(engine, fault),
                "ended_in": where,
            }
        )
    return out


def run_case(
    case: NetworkCase,
    seeds: list[int],
    rates: tuple[float, ...],
    failures: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Score one network; returns its rows, explained misses and a description."""
    from outage.bootstrap import Network
    from outage.evaluate import accuracy
    from outage.simulate import premise_points, simulate_storm

    started = time.perf_counter()
    tables = case.load()
    network = Network.from_tables(tables)
    topology = network.topology
    xy = premise_points(tables)
    info = {
        "network": case.name,
        "source": str(case.source.relative_to(ROOT.parent)),
        "premises": len(topology.premise_ids),
        "customers": int(topology.customer_count),
        "devices": dict(Counter(topology.device_kind)),
        "transformers": len(topology.transformer_ids),
        "faults_per_storm": case.faults,
        "load_build_s": round(time.perf_counter() - started, 2),
    }
    rows: list[dict[str, Any]] = []
    misses: list[dict[str, Any]] = []
    for ami in AMI:
        for rate in rates:
            pooled: Counter[str] = Counter()
            for seed in seeds:
                sim = simulate_storm(
                    topology,
                    tables.customers,
                    faults=case.faults,
                    seed=seed,
                    call_rate=rate,
                    ami_delivery=ami,
                    premise_xy=xy,
                )
                engine, state = replay(network, sim.signals)
                scored = accuracy(state, sim.truth)
                n = scored["faults_with_calls"]
                pooled["faults"] += n
                pooled["faults_simulated"] += len(sim.truth["faults"])
                pooled["exact"] += scored["outcomes"].get("exact", 0)
                pooled["right_device"] += round(scored["right_device_share"] * n)
                pooled["split"] += scored["outcomes"].get("split over several incidents", 0)
                pooled["wrong_device"] += scored["outcomes"].get("one incident, wrong device", 0)
                pooled["no_incident"] += scored["outcomes"].get("calls not in any incident", 0)
                pooled["equivalent"] += equivalent_misses(topology, state, sim.truth)
                pooled["tickets"] += scored["tickets"]
                pooled["noise_tickets"] += noise_tickets(state, sim.truth)
                pooled["calls"] += sim.truth["calls"]
                pooled["signals"] += sim.truth["signals"]
                pooled["unresolved"] += len(state["unresolved"])
                pooled["unresolvable"] += len(sim.truth["unresolvable_calls"])
                if failures and rate == 0.10 and len(misses) < failures:
                    for miss in explain(engine, state, sim.truth, failures - len(misses)):
                        misses.append({"network": case.name, "meters": ami > 0} | miss)
            faults = pooled["faults"] or 1
            rows.append(
                {
                    "network": case.name,
                    "call_rate": rate,
                    "ami_delivery": ami,
                    "storms": len(seeds),
                    "faults": pooled["faults"],
                    "faults_simulated": pooled["faults_simulated"],
                    "exact_share": round(pooled["exact"] / faults, 3),
                    "right_device_share": round(pooled["right_device"] / faults, 3),
                    "exact_or_equivalent_share": round(
                        (pooled["exact"] + pooled["equivalent"]) / faults, 3
                    ),
                    "split_share": round(pooled["split"] / faults, 3),
                    "wrong_device_share": round(pooled["wrong_device"] / faults, 3),
                    "no_incident_share": round(pooled["no_incident"] / faults, 3),
                    "tickets_per_outage": round(
                        pooled["tickets"] / max(pooled["faults_simulated"], 1), 2
                    ),
                    "noise_tickets_per_outage": round(
                        pooled["noise_tickets"] / max(pooled["faults_simulated"], 1), 2
                    ),
                    "calls": pooled["calls"],
                    "signals": pooled["signals"],
                    # calls the engine could not place, beyond the simulated unknown phones
                    "unresolved_extra": pooled["unresolved"] - pooled["unresolvable"],
                }
            )
    info["run_s"] = round(time.perf_counter() - started, 2)
    return rows, misses, info


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a README table."""
    lines = [
        "| network | call rate | meters | faults | exact | right device | exact or equivalent "
        "| split | tickets / outage |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['network']} | {r['call_rate']:.0%} | {'yes' if r['ami_delivery'] else 'no'} "
            f"| {r['faults']} | {r['exact_share']:.2f} | {r['right_device_share']:.2f} "
            f"| {r['exact_or_equivalent_share']:.2f} | {r['split_share']:.2f} "
            f"| {r['tickets_per_outage']:.2f} |"
        )
    return "\n".join(lines)


def print_misses(misses: list[dict[str, Any]], shown: int = 6) -> None:
    """The explained misses, one block per fault (the ``shown`` biggest incidents each)."""
    print("\nmisses at 10% call rate (where each fault's calls ended, and the evidence):")
    for m in misses:
        print(
            f"- {m['network']} seed {m['seed']} meters={'yes' if m['meters'] else 'no'} "
            f"{m['fault']} {m['kind']} {m['device']} ({m['premises']} premises, "
            f"{m['start'][11:16]}-{m['restored'][11:16]}): {m['calls']} calls"
        )
        print(f"    evidence: {m['evidence']}")
        for w in m["ended_in"][:shown]:
            if w["incident"] is None:
                print(f"    {w['calls']} calls in no incident: {w['tickets']}")
            else:
                print(
                    f"    {w['calls']} calls -> {w['incident']} at {w['level']} {w['device']} "
                    f"({w['relation']}, {w['status']}, {w['incident_calls']} calls in all, "
                    f"{w['customers']} customers, cause: {w['cause']})"
                )
        rest = m["ended_in"][shown:]
        if rest:
            kinds = Counter(f"{w['level']} {w['relation']}" for w in rest if w["incident"])
            calls = sum(w["calls"] for w in rest)
            print(f"    ... {len(rest)} more incidents ({calls} calls): {dict(kinds)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30, help="storms per combination")
    parser.add_argument("--quick", action="store_true", help="1 seed, 10%% call rate only")
    parser.add_argument(
        "--failures", type=int, default=0, help="explain up to N misses per network (10%% rate)"
    )
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    seeds = [1] if args.quick else list(range(1, args.seeds + 1))
    rates = (0.10,) if args.quick else CALL_RATES
    BENCH.mkdir(exist_ok=True)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    misses: list[dict[str, Any]] = []
    networks: list[dict[str, Any]] = []
    skipped: list[str] = []
    for case in cases():
        if case.shared and not case.source.exists():
            note = f"{case.name}: {case.source} not found (no ../shared checkout); skipped"
            print(f"note: {note}", file=sys.stderr)
            skipped.append(note)
            continue
        print(f"scoring {case.name} ({len(seeds)} storms per row)...", file=sys.stderr)
        case_rows, case_misses, info = run_case(case, seeds, rates, args.failures)
        rows += case_rows
        misses += case_misses
        networks.append(info)

    table = Table(title=f"engine accuracy ({len(seeds)} seeded storms per row, pooled over faults)")
    for name in (
        "network",
        "premises",
        "faults / storm",
        "call rate",
        "meters",
        "faults",
        "exact",
        "right device",
        "exact or equiv.",
        "split",
        "wrong device",
        "tickets / outage",
        "of which noise",
    ):
        table.add_column(name, justify="left" if name == "network" else "right")
    sizes = {n["network"]: n for n in networks}
    for r in rows:
        exact = f"{r['exact_share']:.3f}"
        if r["call_rate"] == 0.10 and r["exact_share"] < 0.8:
            exact = f"[red]{exact}[/]"
        table.add_row(
            r["network"],
            f"{sizes[r['network']]['premises']:,}",
            str(sizes[r["network"]]["faults_per_storm"]),
            f"{r['call_rate']:.0%}",
            "yes" if r["ami_delivery"] else "no",
            str(r["faults"]),
            exact,
            f"{r['right_device_share']:.3f}",
            f"{r['exact_or_equivalent_share']:.3f}",
            f"{r['split_share']:.3f}",
            f"{r['wrong_device_share']:.3f}",
            f"{r['tickets_per_outage']:.2f}",
            f"{r['noise_tickets_per_outage']:.2f}",
        )
    Console(width=150).print(table)
    print()
    print(markdown(rows))
    if misses:
        print_misses(misses)
    elapsed = round(time.perf_counter() - started, 1)
    code = code_state()
    dirty = f", uncommitted {' '.join(code['uncommitted'])}" if code["uncommitted"] else ""
    print(f"\ncode: {code['commit']}{dirty}")
    print(f"{len(rows)} rows in {elapsed} s; figures in {BENCH / 'engine_accuracy.json'}")
    document = {
        "code": code,
        "seeds": seeds,
        "call_rates": list(rates),
        "ami_delivery": list(AMI),
        "networks": networks,
        "skipped": skipped,
        "rows": rows,
        "misses": misses,
        "elapsed_s": elapsed,
    }
    (BENCH / "engine_accuracy.json").write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
