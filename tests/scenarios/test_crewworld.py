"""The crew world on hand-built storms whose schedule is worked out by hand.

The tiny feeder (tests/conftest.py) has tx.1 at (0.002, 0.002) with two premises, tx.2 at
(0.004, 0.002) and tx.3 at (0.004, 0.003) with one each. Every duration is Fixed, every
customer calls one minute after losing power, and crews drive 6 km/h on straight roads, so a
trip of d degrees of latitude takes round(600 s/km · d · π/180 · 6371.0088 km) seconds:
0.002° → 133 s, 0.003° → 200 s, and tx.1 → tx.3 (0.002° east, 0.001° north on the equator,
√5·0.001° of arc) → 149 s.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from grid.topology import Topology, build_topology
from scenarios.crewspec import CrewMember, CrewSpec, LonLat, RepairSpec, Shift
from scenarios.crewworld import Result, build_crews, simulate
from scenarios.dispatch import ShiftClock
from scenarios.distributions import Fixed
from scenarios.faults import Drawn
from scenarios.keyed import KeyedReports
from scenarios.physics import Grid
from scenarios.spec import CallSpec, MeterSpec
from tests.conftest import tiny_tables

START = datetime(2024, 7, 1, 8, 0, tzinfo=UTC)  # 16:00 in Asia/Shanghai
HOUR = 3600


@pytest.fixture(scope="module")
def tiny() -> tuple[Topology, Grid]:
    topology = build_topology(tiny_tables())
    return topology, Grid(topology)


def _spec(**fields: object) -> CrewSpec:
    base: dict[str, object] = {
        "count": 2,
        "members": [
            CrewMember(depot=LonLat(lon=0.002, lat=0.0)),
            CrewMember(depot=LonLat(lon=0.004, lat=0.0)),
        ],
        "dispatch_delay": Fixed(value=5),
        "mobilise": Fixed(value=2),
        "road_factor": Fixed(value=1.0),
        "speed_kmh": Fixed(value=6.0),
        "assess": Fixed(value=10),
        "repair": RepairSpec(
            section=Fixed(value=30), transformer=Fixed(value=60), nested=Fixed(value=20)
        ),
        "child_found": Fixed(value=7),
        "unreported": Fixed(value=1000),
    }
    base.update(fields)
    return CrewSpec.model_validate(base)


def _run(
    tiny: tuple[Topology, Grid],
    faults: list[Drawn],
    spec: CrewSpec,
    scada: list[int | None] | None = None,
    **calls: object,
) -> Result:
    _, grid = tiny
    call_spec = CallSpec.model_validate(
        {"share": 1.0, "delay": Fixed(value=1), "repeat_share": 0.0, **calls}
    )
    reports = KeyedReports(
        grid,
        np.array([f.asset for f in faults]),
        np.array([f.start for f in faults]),
        7,
        call_spec,
        MeterSpec(),
    )
    rng = np.random.default_rng(0)
    crews = build_crews(grid, 0, spec, START, rng)
    seen = scada or [None] * len(faults)
    return simulate(grid, faults, crews, spec, reports, seen, rng)


def _tx(tiny: tuple[Topology, Grid], name: str, start: int, **kw: object) -> Drawn:
    topology, grid = tiny
    t = topology.transformer_index[name]
    return Drawn(grid.transformer_asset(t), "transformer", t, start, start + 1, **kw)  # type: ignore[arg-type]


def _steps(result: Result, i: int) -> tuple[str, int, int, int, int, int, int, int]:
    r = result.repairs[i]
    return (
        r.crew,
        r.reported,
        r.known,
        r.dispatched,
        r.en_route,
        r.on_site,
        r.repair_start,
        r.restore,
    )


def test_three_faults_two_crews_by_hand(tiny) -> None:
    faults = [_tx(tiny, "tx.1", 0), _tx(tiny, "tx.2", 60), _tx(tiny, "tx.3", 120)]
    result = _run(tiny, faults, _spec())
    # F0: called at 60, known 5 min later; C01 is nearest (0.002° south of tx.1)
    assert _steps(result, 0) == ("C01", 60, 360, 360, 480, 613, 1213, 4813)
    # F1: C01 is busy; C02 drives 0.002° north
    assert _steps(result, 1) == ("C02", 120, 420, 420, 540, 673, 1273, 4873)
    # F2 waits for the first crew free: C01 at tx.1 at 4813, then 149 s to tx.3
    assert _steps(result, 2) == ("C01", 180, 480, 4813, 4933, 5082, 5682, 9282)
    assert [f.end for f in result.drawn] == [4813, 4873, 9282]
    assert all(r.found_by == "call" for r in result.repairs)
    assert result.repairs[2].origin == (0.002, 0.002) and result.repairs[2].where == (0.004, 0.003)


def test_fifo_and_most_customers_order_the_queue(tiny) -> None:
    """One crew, busy on tx.3; tx.2 (1 customer) becomes known before tx.1 (2 customers)."""
    faults = [_tx(tiny, "tx.3", 0), _tx(tiny, "tx.2", 60), _tx(tiny, "tx.1", 120)]
    one = {"count": 1, "members": [CrewMember(depot=LonLat(lon=0.004, lat=0.0))]}
    fifo = _run(tiny, faults, _spec(**one))
    # tx.3: known 360, 200 s trip; free at 360+120+200+600+3600 = 4880
    assert _steps(fifo, 0)[3:] == (360, 480, 680, 1280, 4880)
    # fifo: tx.2 (known 420) before tx.1 (known 480); tx.3 -> tx.2 is 0.001° north: 67 s
    assert fifo.repairs[1].dispatched == 4880
    assert fifo.repairs[1].on_site == 4880 + 120 + 67
    assert fifo.repairs[2].dispatched == fifo.repairs[1].restore
    most = _run(tiny, faults, _spec(policy="most_customers", **one))
    assert most.repairs[2].dispatched == 4880  # tx.1 has two customers
    assert most.repairs[1].dispatched == most.repairs[2].restore


def test_skills_beat_distance(tiny) -> None:
    members = [
        CrewMember(id="L1", depot=LonLat(lon=0.002, lat=0.0019), skills=["line"]),
        CrewMember(id="T1", depot=LonLat(lon=0.004, lat=0.0), skills=["transformer"]),
    ]
    result = _run(tiny, [_tx(tiny, "tx.1", 0)], _spec(members=members))
    assert result.repairs[0].crew == "T1"


def test_shifts_hold_jobs_until_the_crew_comes_on(tiny) -> None:
    """A fault at 21:00 local (13:00 UTC) waits for the 08:00 shift, which starts at home."""
    spec = _spec(
        count=1,
        members=[CrewMember(depot=LonLat(lon=0.002, lat=0.0))],
        shift=Shift(start="08:00", end="20:00"),
    )
    result = _run(tiny, [_tx(tiny, "tx.1", 5 * HOUR)], spec)
    next_morning = 24 * HOUR  # 08:00 UTC next day = 16:00 local; 08:00 local is 00:00 UTC
    assert result.repairs[0].known == 5 * HOUR + 60 + 300
    assert result.repairs[0].dispatched == next_morning - 8 * HOUR
    assert result.repairs[0].origin == (0.002, 0.0)


def test_shift_clock_by_hand() -> None:
    from datetime import time
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Shanghai")
    day = ShiftClock(time(8), time(20), zone, START)  # START is 16:00 local
    assert day.on(0) and day.on(4 * HOUR - 1) and not day.on(4 * HOUR)
    assert day.next_start(4 * HOUR) == 16 * HOUR  # 08:00 local next morning
    assert day.went_home(0, 4 * HOUR) and not day.went_home(0, 4 * HOUR - 1)
    night = ShiftClock(time(20), time(8), zone, START)
    assert not night.on(0) and night.on(4 * HOUR) and night.on(15 * HOUR)
    assert not night.on(16 * HOUR) and night.next_start(0) == 4 * HOUR


def _pair(tiny, order: str) -> list[Drawn]:
    """fuse.2 opens at 0 (tx.2 and tx.3 dark), tx.3 fails under it at 30 s; the drawn ends
    only say the restore order."""
    topology, grid = tiny
    fuse = topology.device_index["fuse.2"]
    t3 = topology.transformer_index["tx.3"]
    child_end = 999 if order == "child_first" else 10**6
    return [
        Drawn(fuse, "section", 0, 0, 1000),
        Drawn(grid.transformer_asset(t3), "transformer", t3, 30, child_end, nested_under=0),
    ]


def test_child_first_is_repaired_on_the_parents_job(tiny) -> None:
    result = _run(tiny, _pair(tiny, "child_first"), _spec())
    child = result.repairs[1]
    # fuse.2 at (0.004, 0.0005): C02 is 0.0005° away, 33 s; called at 60, known at 360
    assert _steps(result, 0) == ("C02", 60, 360, 360, 480, 513, 1113, 1113 + 1200 + 1800)
    assert child.with_parent == 0 and child.crew == "C02" and child.found_by == "crew"
    assert child.restore == 1113 + 1200  # the child first (20 min), then the fuse (30 min)


def test_parent_first_child_is_noticed_or_reported_after_the_parent(tiny) -> None:
    result = _run(tiny, _pair(tiny, "parent_first"), _spec())
    parent, child = result.repairs
    assert parent.restore == 1113 + 1800
    # tx.3's customer calls again one minute after fuse.2 closes, before the crew's 7 minutes
    assert child.found_by == "call" and child.reported == parent.restore + 60
    assert child.known == child.reported + 300
    assert child.crew == "C02" and child.dispatched == child.known
    # nobody calls (fuse.2 is seen by SCADA at 2 s): the crew notices the child 7 min after
    # the restore, and the utility knows it at once
    quiet = _run(tiny, _pair(tiny, "parent_first"), _spec(), scada=[2, None], share=0.0)
    q_parent, q_child = quiet.repairs
    assert (q_parent.found_by, q_parent.reported, q_parent.known) == ("scada", 2, 302)
    assert q_parent.restore == 302 + 120 + 33 + 600 + 1800
    assert q_child.found_by == "crew" and q_child.reported == q_parent.restore + 7 * 60
    assert q_child.known == q_child.reported and q_child.with_parent is None
    # and nothing found at all: a patrol finds it `unreported` after it began
    lost = _run(tiny, [_tx(tiny, "tx.2", 0)], _spec(), share=0.0)
    assert (lost.repairs[0].found_by, lost.repairs[0].reported) == ("patrol", 1000 * 60)


def test_spec_checks() -> None:
    with pytest.raises(ValueError, match="skill transformer"):
        CrewSpec(count=1, members=[CrewMember(skills=["line"])])
    with pytest.raises(ValueError, match="smaller than members"):
        CrewSpec(count=1, members=[CrewMember(), CrewMember()])
    with pytest.raises(ValueError, match="unique"):
        CrewSpec(count=2, members=[CrewMember(), CrewMember(id="C01")])
    with pytest.raises(ValueError, match="time zone"):
        CrewSpec(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="HH:MM"):
        Shift(start="8:00", end="20:00")
    with pytest.raises(ValueError, match="24 hours"):
        Shift(start="08:00", end="08:00")
