"""Storms with crews on the demo city: invariants, determinism, presets, roster; and storms
without crews unchanged, signal for signal, from before the crew world existed."""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest
import yaml

from grid.io import read_gpkg
from grid.model import GridTables
from grid.topology import Topology, build_topology
from scenarios.crews import normal_weather, storm
from scenarios.crewspec import CrewMember, CrewSpec, LonLat, Shift
from scenarios.distributions import Fixed
from scenarios.generate import generate_storm
from scenarios.physics import Grid
from scenarios.spec import CallSpec, MeterSpec, NestedSpec, NoiseSpec, ScadaSpec, StormSpec
from scenarios.truth import Truth
from tests.conftest import tiny_tables
from tests.scenarios.checks import check_crew_storm


@pytest.fixture(scope="module")
def demo(demo_gpkg: Path) -> Iterator[tuple[GridTables, Topology, Grid]]:
    tables = read_gpkg(demo_gpkg)
    topology = build_topology(tables)
    yield tables, topology, Grid(topology)


def _storm(demo: tuple[GridTables, Topology, Grid], spec: StormSpec):
    tables, topology, grid = demo
    return generate_storm(topology, spec, customers=tables.customers, grid=grid)


SPECS = [
    StormSpec(seed=1, faults=4, crews=CrewSpec(count=2, signals=True)),
    StormSpec(
        seed=2,
        faults=12,
        nested=NestedSpec(count=3),
        meters=MeterSpec(delivery=0.8, clock_offset_minutes=5),
        scada=ScadaSpec(enabled=True),
        crews=CrewSpec(count=2, signals=True),
    ),
    StormSpec(
        seed=3,
        faults=20,
        nested=NestedSpec(count=4, restore_order="child_first"),
        calls=CallSpec(share=0.2, identify={"premise": 1, "account": 1, "phone": 1}),
        noise=NoiseSpec(per_1000_customers_per_hour=3.0),
        crews=CrewSpec(count=3, policy="most_customers"),
    ),
    StormSpec(
        seed=4,
        faults=10,
        nested=NestedSpec(count=2, restore_order="parent_first"),
        crews=CrewSpec(
            count=3,
            members=[CrewMember(skills=["transformer"]), CrewMember(skills=["line"])],
            shift=Shift(start="20:00", end="08:00"),
            signals=True,
        ),
    ),
    storm(5, faults=25),
    normal_weather(6),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"seed{s.seed}")
def test_crew_storms_hold_their_invariants(demo, spec: StormSpec) -> None:
    tables, topology, _ = demo
    made = _storm(demo, spec)
    assert made.truth.calls
    check_crew_storm(topology, tables, made)


def test_tiny_feeder_crew_storms_hold_their_invariants() -> None:
    tables = tiny_tables()
    topology = build_topology(tables)
    for seed in range(12):
        spec = StormSpec(
            seed=seed,
            faults=2,
            section_share=0.5,
            allow_whole_feeder=True,
            calls=CallSpec(share=0.5, repeat_share=0.5),
            meters=MeterSpec(delivery=0.5 * (seed % 2)),
            nested=NestedSpec(count=seed % 2),
            crews=CrewSpec(count=1 + seed % 2, signals=True),
        )
        check_crew_storm(topology, tables, generate_storm(topology, spec))


def test_same_spec_same_crew_storm(demo) -> None:
    spec = SPECS[1]
    a, b = _storm(demo, spec), _storm(demo, spec)
    assert a.signals == b.signals and a.truth.to_dict() == b.truth.to_dict()
    c = _storm(demo, spec.model_copy(update={"seed": 98}))
    assert c.signals != a.signals


def test_crews_keep_the_faults_where_and_when_they_were(demo) -> None:
    plain = _storm(demo, StormSpec(seed=9, faults=8, nested=NestedSpec(count=2)))
    crewed = _storm(demo, StormSpec(seed=9, faults=8, nested=NestedSpec(count=2), crews=CrewSpec()))
    key = [(f.id, f.asset, f.location, f.start) for f in plain.truth.faults]
    assert key == [(f.id, f.asset, f.location, f.start) for f in crewed.truth.faults]
    assert [f.restore for f in plain.truth.faults] != [f.restore for f in crewed.truth.faults]


# digests of storms made by main (9136bd5, before crews existed): signals + truth without its
# spec (a spec with crews=None dumps as it did; its frozenset once dumped in any order)
GOLDEN = {
    1: "fe8f5ae221888492d338bc556ef0a6b902466d85cb01f5e3990ffedb6e90c2eb",
    2: "218317a1dc5ed961efa171bef29681eb1a2a2ade8ba3228719e88c76f9934459",
    3: "dcfffefbc24638bb89ed8857e578d5682f8696e4e1a0d5ae72bc4832167af29a",
    8: "8815a14aeb201d7c820f9c2f58ae5792ee25b30f56bdcac1a19dfb8d6133101f",
}
OLD_SPECS = [
    StormSpec(seed=1, faults=4),
    StormSpec(
        seed=2,
        faults=10,
        meters=MeterSpec(delivery=0.8, clock_offset_minutes=10),
        nested=NestedSpec(count=2),
    ),
    StormSpec(
        seed=3,
        faults=12,
        scada=ScadaSpec(enabled=True),
        calls=CallSpec(identify={"premise": 1, "account": 1, "phone": 1}),
        noise=NoiseSpec(per_1000_customers_per_hour=3, scope="network"),
    ),
    StormSpec(
        seed=8,
        faults=6,
        nested=NestedSpec(count=3, restore_order="parent_first"),
        meters=MeterSpec(delivery=0.5),
    ),
]


@pytest.mark.parametrize("spec", OLD_SPECS, ids=lambda s: f"seed{s.seed}")
def test_storms_without_crews_are_unchanged(demo, spec: StormSpec) -> None:
    made = _storm(demo, spec)
    truth = made.truth.to_dict()
    assert "crews" not in truth["spec"] and "roster" not in truth and "jobs" not in truth
    body = {k: v for k, v in truth.items() if k != "spec"}
    digest = hashlib.sha256(
        orjson.dumps(made.signals) + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    ).hexdigest()
    assert digest == GOLDEN[spec.seed]
    with pytest.raises(ValueError, match="no crews"):
        made.roster()


def test_roster_and_files(demo, tmp_path: Path) -> None:
    spec = StormSpec(
        seed=3,
        faults=3,
        crews=CrewSpec(
            count=3,
            members=[
                CrewMember(id="A", name="Alpha", depot=LonLat(lon=113.27, lat=23.09)),
                CrewMember(skills=["line"], shift=Shift(start="20:00", end="08:00")),
            ],
        ),
    )
    made = _storm(demo, spec)
    roster = made.roster()
    assert roster["timezone"] == "Asia/Shanghai"
    a, b, c = roster["crews"]
    assert a == {"id": "A", "name": "Alpha", "depot": {"lon": 113.27, "lat": 23.09}}
    assert b["id"] == "C02" and b["skills"] == ["line"]
    assert b["shift"] == {"start": "20:00", "end": "08:00"} and "shift" not in c
    assert c["name"] == "Crew 3" and "skills" not in c
    _, topology, _ = demo
    feeder = topology.feeder_index[made.truth.feeder]
    mine = [d for d, f in enumerate(topology.device_feeder) if f == feeder]
    lonlat = topology.device_lonlat[mine]
    for crew in (b, c):  # drawn within depot_km (2 km, ~0.02°) of an asset of the feeder
        lon, lat = crew["depot"]["lon"], crew["depot"]["lat"]
        assert lonlat[:, 0].min() - 0.03 < lon < lonlat[:, 0].max() + 0.03
        assert lonlat[:, 1].min() - 0.03 < lat < lonlat[:, 1].max() + 0.03
    made.write(tmp_path / "s.jsonl", tmp_path / "t.json", tmp_path / "crews.yaml")
    assert yaml.safe_load((tmp_path / "crews.yaml").read_text()) == roster
    made.write(tmp_path / "s.jsonl", None, tmp_path / "crews.json")
    assert orjson.loads((tmp_path / "crews.json").read_bytes()) == roster
    back = Truth.from_dict(orjson.loads((tmp_path / "t.json").read_bytes()))
    assert back.to_dict() == made.truth.to_dict() and back.jobs == made.truth.jobs


def _minutes(a, b) -> float:
    return (b - a).total_seconds() / 60.0


def test_normal_weather_has_no_queue_and_a_storm_does(demo) -> None:
    """The presets say what they promise: on a normal day crews are free and on site within
    the 45-minute city commitment; in a typhoon most jobs wait for a crew."""
    normal = [j for seed in range(6) for j in _storm(demo, normal_weather(seed)).truth.jobs]
    waited = [j for j in normal if j.dispatched > j.known]
    assert len(waited) <= len(normal) // 10
    on_site = sorted(_minutes(j.reported, j.on_site) for j in normal if j.with_parent is None)
    assert on_site[int(0.8 * len(on_site))] < 45
    typhoon = [j for seed in range(3) for j in _storm(demo, storm(seed)).truth.jobs]
    assert sum(j.dispatched > j.known for j in typhoon) > len(typhoon) / 2
    days = statistics.median(_minutes(j.reported, j.restore) for j in normal)
    storms = statistics.median(_minutes(j.reported, j.restore) for j in typhoon)
    assert 60 < days < 240 < storms


def test_a_network_without_coordinates_uses_the_fallback_travel_time() -> None:
    tables = tiny_tables()
    topology = build_topology(tables)
    topology.device_lonlat[:] = np.nan
    topology.transformer_lonlat[:] = np.nan
    crews = CrewSpec(
        count=2, signals=True, travel_fallback=Fixed(value=25), mobilise=Fixed(value=0)
    )
    made = generate_storm(topology, StormSpec(seed=1, faults=2, crews=crews))
    check_crew_storm(topology, tables, made)
    assert all("depot" not in crew for crew in made.roster()["crews"])
    for job in made.truth.jobs:
        assert job.lon is None and job.from_lon is None
        assert (job.on_site - job.en_route).total_seconds() == 25 * 60
    assert all("lon" not in s for s in made.signals if s["type"] == "crew")
