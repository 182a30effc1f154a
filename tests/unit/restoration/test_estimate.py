"""ETR estimates: one order from its own state, and a storm's crew queue worked by hand and
checked against a Monte Carlo of the same queue."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from outage.restoration.config import RestorationRules, SlaLimits
from outage.restoration.crews import CrewState
from outage.restoration.estimate import Estimator
from outage.restoration.history import Cell, HistoryFile, RepairHistory
from outage.restoration.orders import WorkOrder
from outage.restoration.roster import Crew, Point
from outage.restoration.travel import StraightLine, great_circle_km

T0 = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
KM_PER_DEG_LAT = great_circle_km(0.0, 0.0, 0.0, 1.0)


def _history(
    repair_median: float, repair_sigma: float, outage_median: float = 200.0
) -> RepairHistory:
    """Repairs as given; dispatching and mobilising take 5 minutes each, near exactly."""
    return RepairHistory.from_file(
        HistoryFile(
            outage=[Cell(median=outage_median, sigma=0.6)],
            repair=[Cell(median=repair_median, sigma=repair_sigma)],
            dispatch=[Cell(median=5.0, sigma=0.01)],
            mobilise=[Cell(median=5.0, sigma=0.01)],
        )
    )


def _estimator(history: RepairHistory, **rules: object) -> Estimator:
    # 60 km/h and no detour: travel minutes = straight-line km
    sla = {
        c: SlaLimits(arrival_minutes=45, restoration_minutes=180, speed_kmh=60)
        for c in ("city", "rural", "remote")
    }
    config = RestorationRules(sla=sla, road_factor=1.0, **rules)  # type: ignore[arg-type]
    return Estimator(history, config, StraightLine(1.0), ZoneInfo("UTC"))


def _order(name: str, km_north: float, customers: int, opened: datetime = T0) -> WorkOrder:
    return WorkOrder(
        id=name,
        incident=name,
        kind="fuse",
        skill="line",
        area_class="city",
        lonlat=(0.0, km_north / KM_PER_DEG_LAT),
        customers=customers,
        substation="S1",
        opened_at=opened,
        weather="storm",
        arrival_limit=45,
        restoration_limit=180,
    )


def _crew(name: str, km_north: float) -> CrewState:
    return CrewState(
        Crew(id=name, depot=Point(lon=0.0, lat=km_north / KM_PER_DEG_LAT)), rostered=True
    )


def test_one_order_without_a_crew_quotes_the_outage_quantile() -> None:
    estimator = _estimator(_history(60.0, 0.5, outage_median=200.0))
    order = _order("A", 0.0, 10)
    estimate = estimator.single(order, None, "normal", T0)
    expected = 200.0 * math.exp(0.6 * 0.8416212335729143)  # lognormal q80
    assert (estimate.etr - T0).total_seconds() / 60 == pytest.approx(expected, rel=1e-6)
    later = estimator.single(order, None, "normal", T0 + timedelta(minutes=400))
    assert later.etr > T0 + timedelta(minutes=400)  # past its quantile: a later one


def test_a_crew_on_its_way_quotes_arrival_plus_repair() -> None:
    estimator = _estimator(_history(60.0, 0.5))
    order = _order("A", 30.0, 10)
    crew = _crew("C1", 0.0)
    order.dispatched_at, order.travel_minutes = T0, 30.0
    estimate = estimator.single(order, crew, "normal", T0)
    repair_q80 = 60.0 * math.exp(0.5 * 0.8416212335729143)
    # leaves after mobilising (5 min), drives 30 km at 60 km/h, then the repair's quantile
    expected_minutes = 5.0 + 30.0 + repair_q80
    assert (estimate.etr - T0).total_seconds() / 60 == pytest.approx(expected_minutes, rel=1e-3)
    order.on_site_at = T0 + timedelta(minutes=30)
    on_site = estimator.single(order, crew, "normal", T0 + timedelta(minutes=30))
    expected = order.on_site_at + timedelta(minutes=repair_q80)
    assert abs(on_site.etr - expected) < timedelta(seconds=1)


def test_storm_queue_by_hand() -> None:
    """Two crews at km 0 and km 100 (north), three orders opened now at km 10 (100
    customers), km 90 (50) and km 20 (10); an order can be dispatched 5 min after it opens, a
    crew leaves 5 min after its dispatch and drives at 60 km/h, repairs take 60 min (σ tiny, so
    quantiles are the medians). Most customers first, each to the crew there first:

    * A (km 10): X leaves at 5 + 5, arrives 20, done 80; Y would arrive at 100.
    * B (km 90): X could arrive at 80 + 5 + 80 = 165, Y at 5 + 5 + 10 = 20: Y, done 80.
    * C (km 20): X at 80 + 5 + 10 = 95, Y at 80 + 5 + 70 = 155: X, done 155.
    """
    estimator = _estimator(_history(60.0, 0.01))
    orders = [_order("A", 10.0, 100), _order("B", 90.0, 50), _order("C", 20.0, 10)]
    crews = [_crew("X", 0.0), _crew("Y", 100.0)]
    plan = estimator.plan(orders, crews, {}, T0, {})
    minutes = {k: (v.etr - T0).total_seconds() / 60 for k, v in plan.items()}
    assert minutes["A"] == pytest.approx(80.0, abs=1.5)
    assert minutes["B"] == pytest.approx(80.0, abs=1.5)
    assert minutes["C"] == pytest.approx(155.0, abs=1.5)
    assert "crew X" in plan["C"].basis


def test_oldest_first_dispatch_changes_the_queue() -> None:
    estimator = _estimator(_history(60.0, 0.01), storm_dispatch="oldest")
    orders = [
        _order("big", 10.0, 100, T0 + timedelta(minutes=5)),
        _order("old", 10.0, 1, T0),
    ]
    plan = estimator.plan(orders, [_crew("X", 0.0)], {}, T0, {})
    assert plan["old"].etr < plan["big"].etr


def test_a_busy_crew_is_free_at_its_given_etr_and_off_shift_crews_do_not_count() -> None:
    estimator = _estimator(_history(60.0, 0.01))
    busy = _order("busy", 0.0, 5)
    busy.crew, busy.dispatched_at = "X", T0
    waiting = _order("next", 0.0, 5)
    crew = _crew("X", 0.0)
    crew.status, crew.order = "repairing", "busy"
    off = _crew("Z", 0.0)
    plan = estimator.plan(
        [busy, waiting], [crew, off], {"busy": T0 + timedelta(minutes=200)}, T0, {"Z": False}
    )
    # free at 200, leaves 5 min later, no travel, 60 min of repair
    assert (plan["next"].etr - T0).total_seconds() / 60 == pytest.approx(265.0, abs=1.5)


def test_queued_etr_quantile_matches_a_monte_carlo_of_the_queue() -> None:
    """One crew, three orders in a row at one place: the third ends 5 min (its dispatch
    delay) after three rounds of mobilising (5 min) and a log-normal repair. The
    Fenton-Wilkinson quantile should be within a few percent of simulation."""
    median, sigma = 60.0, 0.6
    estimator = _estimator(_history(median, sigma))
    orders = [_order(n, 0.0, c) for n, c in (("a", 30), ("b", 20), ("c", 10))]
    plan = estimator.plan(orders, [_crew("X", 0.0)], {}, T0, {})
    rng = np.random.default_rng(11)
    total = 5.0 + 3 * 5.0 + rng.lognormal(math.log(median), sigma, size=(200_000, 3)).sum(axis=1)
    simulated = float(np.quantile(total, 0.8))
    quoted = (plan["c"].etr - T0).total_seconds() / 60
    assert quoted == pytest.approx(simulated, rel=0.04)


def test_a_crew_working_past_its_shift_finishes_its_job_but_takes_no_other() -> None:
    """Its own order is quoted from the crew on site (not queued behind the others); the
    waiting order goes to the crew on shift even though the working one is nearer."""
    estimator = _estimator(_history(60.0, 0.01))
    own = _order("own", 0.0, 5)
    own.crew, own.dispatched_at, own.on_site_at = "X", T0, T0
    waiting = _order("next", 0.0, 5)
    late, other = _crew("X", 0.0), _crew("Y", 30.0)
    late.status, late.order = "on_site", "own"
    plan = estimator.plan([own, waiting], [late, other], {}, T0, {"X": False, "Y": True})
    # on site at T0: 60 min of repair
    assert (plan["own"].etr - T0).total_seconds() / 60 == pytest.approx(60.0, abs=1.5)
    assert "crew on site" in plan["own"].basis
    # Y: 5 min dispatch delay, 5 min mobilising, 30 km at 60 km/h, 60 min repair
    assert (plan["next"].etr - T0).total_seconds() / 60 == pytest.approx(100.0, abs=1.5)
    assert "crew Y" in plan["next"].basis
