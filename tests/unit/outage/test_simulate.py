"""The storm simulator: determinism, realism of the signals and consistency of the truth."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import typer
from typer.testing import CliRunner

from grid.io import write_gpkg
from grid.model import GridTables
from grid.synthetic import CitySpec, generate_city
from grid.topology import Topology, build_topology
from outage.cli.simulate import simulate
from scenarios.city_storm import CityStorm, Simulation, simulate_storm, write_events
from tests.conftest import tiny_tables

START = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
PREFIX = {"call": "c", "meter": "m", "scada": "s", "restore": "r", "warning": "w"}


@pytest.fixture(scope="module")
def city() -> GridTables:
    return generate_city(CitySpec(customers=3000, seed=1))


@pytest.fixture(scope="module")
def topo(city: GridTables) -> Topology:
    return build_topology(city)


@pytest.fixture(scope="module")
def storm(city: GridTables, topo: Topology) -> Simulation:
    return simulate_storm(
        topo,
        city.customers,
        CityStorm(faults=15, seed=5, noise_rate=20.0),
        premise_xy=city.premise_points(),
    )


def run(city: GridTables, topo: Topology, **kw: Any) -> Simulation:
    spec = CityStorm(**({"faults": 15, "seed": 5} | kw))
    return simulate_storm(topo, city.customers, spec, premise_xy=city.premise_points())


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def of_type(sim: Simulation, kind: str) -> list[dict[str, Any]]:
    return [s for s in sim.signals if s["type"] == kind]


class Resolver:
    """Who a call comes from, by the customers table and premise points (as the engine would)."""

    def __init__(self, city: GridTables) -> None:
        c = city.customers
        self.by = {
            "phone": dict(zip(c["phone"], c["premise"], strict=True)),
            "account": dict(zip(c["account"], c["premise"], strict=True)),
            "address": dict(zip(c["address"], c["premise"], strict=True)),
        }
        self.ids = np.asarray(city.premises["id"], dtype=object)
        self.xy = city.premise_points()

    def premise(self, call: dict[str, Any]) -> str | None:
        if "premise" in call:
            return str(call["premise"])
        if "lon" in call:
            dx = (self.xy[:, 0] - call["lon"]) * 111_320 * np.cos(np.radians(call["lat"]))
            dy = (self.xy[:, 1] - call["lat"]) * 110_540
            distance = np.hypot(dx, dy)
            nearest = int(distance.argmin())
            assert distance[nearest] <= 5.5, call  # jitter is capped at 5 m
            return str(self.ids[nearest])
        (key,) = [k for k in ("phone", "account", "address") if k in call]
        return self.by[key].get(call[key])


def fault_premises(topo: Topology, device: str) -> set[str]:
    if device in topo.device_index:
        numbers = topo.premises_below(topo.device_index[device])
    else:
        numbers = topo.premises_of_transformer(topo.transformer_index[device])
    return {topo.premise_ids[p] for p in numbers.tolist()}


# -- determinism and shape -----------------------------------------------------------------------


def test_same_seed_same_storm_other_seed_other_storm(city: GridTables, topo: Topology) -> None:
    a, b = run(city, topo), run(city, topo)
    assert orjson.dumps(a.signals) == orjson.dumps(b.signals)
    assert a.truth == b.truth
    assert run(city, topo, seed=6).signals != a.signals


def test_signals_sorted_by_ts_then_id_with_unique_typed_ids(storm: Simulation) -> None:
    keys = [(s["ts"], s["id"]) for s in storm.signals]
    assert keys == sorted(keys)
    ids = [s["id"] for s in storm.signals]
    assert len(ids) == len(set(ids))
    for s in storm.signals:
        assert TS.match(s["ts"]), s
        assert re.fullmatch(rf"{PREFIX[s['type']]}-\d{{6,}}", s["id"]), s
    assert {"call", "meter", "restore"} <= {s["type"] for s in storm.signals}


def test_calls_identify_the_caller_one_way_with_a_realistic_mix(storm: Simulation) -> None:
    ways: Counter[str] = Counter()
    for call in of_type(storm, "call"):
        given = [k for k in ("premise", "account", "phone", "address", "lon") if k in call]
        assert len(given) == 1, call
        assert ("lon" in call) == ("lat" in call)
        ways[given[0]] += 1
        assert call.get("kind", "no_power") in {
            "no_power",
            "partial_power",
            "flicker",
            "wire_down",
            "fire",
            "other",
        }
    assert ways.most_common(1)[0][0] == "phone"
    assert set(ways) == {"phone", "account", "premise", "address", "lon"}


# -- calls -----------------------------------------------------------------------------------------


def test_calls_come_only_from_affected_premises_besides_declared_ones(
    city: GridTables, topo: Topology, storm: Simulation
) -> None:
    resolver = Resolver(city)
    calls = {c["id"]: c for c in of_type(storm, "call")}
    truth = storm.truth
    attributed = [cid for f in truth["faults"] for cid in f["calls"]]
    declared = truth["noise_calls"] + truth["unresolvable_calls"]
    assert sorted(attributed + declared) == sorted(calls)  # a partition of every call
    out_anywhere: set[str] = set()
    for fault in truth["faults"]:
        premises = fault_premises(topo, fault["device"])
        out_anywhere |= premises
        for cid in fault["calls"]:
            assert resolver.premise(calls[cid]) in premises, (fault["id"], calls[cid])
    assert truth["noise_calls"], "noise_rate=20 should give some noise calls"
    for cid in truth["noise_calls"]:
        assert calls[cid]["kind"] in ("partial_power", "flicker")
        premise = resolver.premise(calls[cid])
        assert premise is not None and premise not in out_anywhere
    assert len(truth["unresolvable_calls"]) == 5
    for cid in truth["unresolvable_calls"]:
        assert "phone" in calls[cid] and resolver.premise(calls[cid]) is None


def test_calls_come_soon_after_the_fault_and_never_after_restoration(storm: Simulation) -> None:
    ts = {c["id"]: when(c["ts"]) for c in of_type(storm, "call")}
    soon = total = 0
    for fault in storm.truth["faults"]:
        start, restored = when(fault["start"]), when(fault["restored"])
        for cid in fault["calls"]:
            assert start <= ts[cid] < restored
            soon += ts[cid] - start <= timedelta(minutes=30)
            total += 1
    assert total > 50
    assert soon / total > 0.6


def test_repeat_callers(city: GridTables, topo: Topology) -> None:
    def repeats(sim: Simulation) -> int:
        calls = {c["id"]: c for c in of_type(sim, "call")}
        count = 0
        for fault in sim.truth["faults"]:
            who = Counter(
                orjson.dumps({k: v for k, v in calls[c].items() if k not in ("id", "ts")})
                for c in fault["calls"]
                if "lon" not in calls[c]  # app locations differ call to call (GPS jitter)
            )
            count += sum(n - 1 for n in who.values())
        return count

    assert repeats(run(city, topo, repeat_callers=0.0, hazards=0.0)) == 0
    assert repeats(run(city, topo, repeat_callers=0.5, hazards=0.0)) > 20


def test_call_rate_scales_the_call_count(city: GridTables, topo: Topology) -> None:
    def count(rate: float) -> int:
        sim = run(
            city,
            topo,
            faults=20,
            call_rate=rate,
            repeat_callers=0.0,
            noise_rate=0.0,
            unresolvable=0,
        )
        return int(sim.truth["calls"])

    low, high = count(0.1), count(0.3)
    assert low > 30
    assert 2.2 < high / low < 3.8
    assert count(0.0) == 0


def test_hazard_calls_are_rare_and_mostly_one_per_fault(city: GridTables, topo: Topology) -> None:
    def hazards_per_fault(sim: Simulation) -> list[int]:
        kinds = {c["id"]: c.get("kind") for c in of_type(sim, "call")}
        return [
            sum(kinds[c] in ("wire_down", "fire") for c in f["calls"])
            for f in sim.truth["faults"]
            if f["calls"]
        ]

    none = run(city, topo, hazards=0.0)
    assert not [c for c in of_type(none, "call") if c.get("kind") in ("wire_down", "fire")]
    every = run(city, topo, hazards=1.0)  # every call would report one; most are dropped
    per_fault = hazards_per_fault(every)
    assert all(n >= 1 for n in per_fault)
    assert sum(per_fault) < 0.25 * every.truth["calls"]
    some = hazards_per_fault(run(city, topo, hazards=0.1))
    assert sum(some) > 0 and sum(n <= 1 for n in some) / len(some) >= 0.6
    hazard = [c for c in of_type(every, "call") if c.get("kind") in ("wire_down", "fire")]
    assert all(c.get("note") for c in hazard)


def test_calls_without_customers_use_premise_ids_or_locations(
    city: GridTables, topo: Topology
) -> None:
    sim = simulate_storm(topo, None, CityStorm(faults=10, seed=2), premise_xy=city.premise_points())
    ways = {next(k for k in ("premise", "lon", "phone") if k in c) for c in of_type(sim, "call")}
    assert ways == {"premise", "lon", "phone"}  # phone: only the unresolvable calls
    phones = {c["id"] for c in of_type(sim, "call") if "phone" in c}
    assert phones == set(sim.truth["unresolvable_calls"])
    bare = simulate_storm(topo, None, CityStorm(faults=10, seed=2, unresolvable=0))
    assert all("premise" in c for c in of_type(bare, "call"))


# -- meters, SCADA, restoration ------------------------------------------------------------------


def test_meters_follow_ami_delivery(city: GridTables, topo: Topology) -> None:
    assert not of_type(run(city, topo, ami_delivery=0.0), "meter")
    full = run(city, topo, ami_delivery=1.0)
    events = Counter((m["premise"], m["event"]) for m in of_type(full, "meter"))
    affected = {p for f in full.truth["faults"] for p in fault_premises(topo, f["device"])}
    assert set(events) == {(p, e) for p in affected for e in ("last_gasp", "power_restored")}
    assert set(events.values()) == {1}
    restored = {f["device"]: when(f["restored"]) for f in full.truth["faults"]}
    for fault in full.truth["faults"]:
        premises = fault_premises(topo, fault["device"])
        for m in of_type(full, "meter"):
            if m["premise"] in premises:
                if m["event"] == "last_gasp":
                    assert (
                        timedelta(0) < when(m["ts"]) - when(fault["start"]) < timedelta(minutes=5)
                    )
                else:
                    assert when(m["ts"]) > restored[fault["device"]]


def test_scada_only_for_breaker_and_recloser_faults(city: GridTables, topo: Topology) -> None:
    sim = run(city, topo, faults=25, seed=11)
    faults = {f["device"]: f for f in sim.truth["faults"]}
    scada = of_type(sim, "scada")
    scada_faults = {d for d, f in faults.items() if f["kind"] in ("breaker", "recloser")}
    assert scada_faults, "seed 11 should include a breaker or recloser fault"
    assert {s["device"] for s in scada} == scada_faults
    for s in scada:
        fault = faults[s["device"]]
        assert s["ts"] == (fault["start"] if s["state"] == "open" else fault["restored"])
    assert Counter(s["state"] for s in scada) == {
        "open": len(scada_faults),
        "closed": len(scada_faults),
    }
    restores = {r["device"]: r["ts"] for r in of_type(sim, "restore")}
    assert set(restores) == set(faults) - scada_faults
    assert all(faults[d]["restored"] == ts for d, ts in restores.items())


def test_scada_kinds_are_configurable(city: GridTables, topo: Topology) -> None:
    sim = run(city, topo, scada_kinds=("fuse",))
    fuses = {f["device"] for f in sim.truth["faults"] if f["kind"] == "fuse"}
    assert fuses and {s["device"] for s in of_type(sim, "scada")} == fuses


# -- faults ----------------------------------------------------------------------------------------


def test_faults_are_closed_not_nested_spread_over_the_window(
    storm: Simulation, topo: Topology
) -> None:
    faults = storm.truth["faults"]
    assert len(faults) == 15 and [f["id"] for f in faults] == [f"f-{i}" for i in range(1, 16)]
    premises = [fault_premises(topo, f["device"]) for f in faults]
    for i, a in enumerate(premises):  # not nested, hence disjoint
        for b in premises[i + 1 :]:
            assert not a & b
    for fault in faults:
        if fault["kind"] != "transformer":
            assert topo.device_closed[topo.device_index[fault["device"]]]
        offset = when(fault["start"]) - START
        assert timedelta(0) <= offset < timedelta(hours=6)
        assert timedelta(minutes=45) <= when(fault["restored"]) - when(fault["start"])
        assert when(fault["restored"]) - when(fault["start"]) <= timedelta(hours=5)
    kinds = Counter(f["kind"] for f in faults)
    assert kinds["fuse"] + kinds["transformer"] >= 10  # mostly small devices


def test_faults_bunch_in_the_first_half_of_the_window(city: GridTables, topo: Topology) -> None:
    sim = run(city, topo, faults=40, call_rate=0.0, ami_delivery=0.0)
    offsets = [when(f["start"]) - START for f in sim.truth["faults"]]
    assert sum(o < timedelta(hours=3) for o in offsets) / len(offsets) > 0.6


def test_nested_faults_stay_out_and_customers_call_again(city: GridTables, topo: Topology) -> None:
    sim = run(city, topo, nested=1.0, ami_delivery=1.0, call_rate=0.3)
    faults = {f["id"]: f for f in sim.truth["faults"]}
    children = [f for f in faults.values() if f["parent_fault"]]
    devices = [f for f in faults.values() if not f["parent_fault"] and f["kind"] != "transformer"]
    assert len(children) >= 0.8 * len(devices)  # a device fault nearly always has room for one
    assert all(faults[c["parent_fault"]]["kind"] != "transformer" for c in children)
    assert any(c["kind"] == "fuse" for c in children)
    calls = {c["id"]: c for c in of_type(sim, "call")}
    resolver = Resolver(city)
    late = 0
    for child in children:
        parent = faults[child["parent_fault"]]
        inside = fault_premises(topo, child["device"])
        assert inside < fault_premises(topo, parent["device"])
        assert child["start"] == parent["start"] and child["restored"] > parent["restored"]
        for cid in child["calls"]:
            assert when(parent["restored"]) <= when(calls[cid]["ts"]) < when(child["restored"])
            assert resolver.premise(calls[cid]) in inside
            late += 1
        back = [
            m
            for m in of_type(sim, "meter")
            if m["premise"] in inside and m["event"] == "power_restored"
        ]
        assert back and all(when(m["ts"]) > when(child["restored"]) for m in back)
    assert late > 10


def test_small_networks_give_fewer_faults_rather_than_nested_ones() -> None:
    tables = tiny_tables()
    topo = build_topology(tables)
    sim = simulate_storm(topo, None, CityStorm(faults=10, seed=1))
    assert sim.truth["faults_requested"] == 10
    assert 1 <= len(sim.truth["faults"]) < 10


def test_warning_two_hours_before_the_first_fault(city: GridTables, topo: Topology) -> None:
    sim = run(city, topo, warning=True)
    (warning,) = of_type(sim, "warning")
    first = min(when(f["start"]) for f in sim.truth["faults"])
    assert when(warning["ts"]) == first - timedelta(hours=2)
    assert warning["kind"] == "typhoon" and warning["area"] == "all"
    assert sim.signals[0] is warning
    assert not of_type(run(city, topo), "warning")


# -- truth and files -------------------------------------------------------------------------------


def test_truth_counts_match_the_signals(topo: Topology, storm: Simulation) -> None:
    truth = storm.truth
    assert truth["seed"] == 5 and truth["start"] == "2026-07-01T08:00:00Z"
    assert truth["signals"] == len(storm.signals)
    assert truth["calls"] == len(of_type(storm, "call"))
    assert truth["calls"] == sum(len(f["calls"]) for f in truth["faults"]) + len(
        truth["noise_calls"]
    ) + len(truth["unresolvable_calls"])
    for fault in truth["faults"]:
        assert fault["premises"] == len(fault_premises(topo, fault["device"]))
        assert fault["customers"] == fault["premises"]  # the synthetic city: one account each
        assert set(fault) == {
            "id",
            "device",
            "kind",
            "start",
            "restored",
            "customers",
            "premises",
            "calls",
            "parent_fault",
        }


def test_write_events_round_trips(storm: Simulation, tmp_path: Path) -> None:
    events, truth = tmp_path / "out" / "events.jsonl", tmp_path / "truth.json"
    write_events(storm, events, truth)
    lines = events.read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == storm.signals
    assert orjson.loads(truth.read_bytes()) == storm.truth


def test_bad_arguments_raise_value_errors(city: GridTables, topo: Topology) -> None:
    for bad in ({"call_rate": 1.5}, {"hazards": -0.1}, {"faults": 0}, {"duration_h": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            run(city, topo, **bad)


# -- CLI -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(simulate)
    return app


@pytest.fixture(scope="module")
def city_gpkg(city: GridTables, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("city") / "city.gpkg"
    write_gpkg(city, path)
    return path


def test_cli_writes_events_and_truth(cli: typer.Typer, city_gpkg: Path, tmp_path: Path) -> None:
    out, truth = tmp_path / "events.jsonl", tmp_path / "truth.json"
    result = CliRunner().invoke(
        cli,
        [
            "--topology",
            str(city_gpkg),
            "--faults",
            "8",
            "--seed",
            "3",
            "--call-rate",
            "0.2",
            "--nested",
            "0.25",
            "--warning",
            "--out",
            str(out),
            "--truth",
            str(truth),
        ],
    )
    assert result.exit_code == 0, result.stderr
    summary = orjson.loads(result.stdout)
    assert set(summary) == {"faults", "signals", "calls", "out", "truth"}
    assert summary["faults"] == 10 and summary["out"] == str(out)
    signals = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(signals) == summary["signals"] and signals[0]["type"] == "warning"
    written = orjson.loads(truth.read_bytes())
    assert written["calls"] == summary["calls"] == sum(s["type"] == "call" for s in signals)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--call-rate", "1.5"], "--call-rate"),
        (["--ami-delivery", "-0.1"], "--ami-delivery"),
        (["--faults", "0"], "--faults"),
        (["--duration-h", "0"], "--duration-h must be a positive number of hours"),
        (["--noise-rate", "-1"], "--noise-rate must be >= 0"),
        (["--start", "yesterday"], "--start"),
    ],
)
def test_cli_rejects_bad_options_with_exit_2(
    cli: typer.Typer, city_gpkg: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    base = {
        "--topology": str(city_gpkg),
        "--faults": "3",
        "--seed": "1",
        "--out": str(tmp_path / "e.jsonl"),
        "--truth": str(tmp_path / "t.json"),
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = CliRunner().invoke(cli, [part for pair in base.items() for part in pair])
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "e.jsonl").exists()
