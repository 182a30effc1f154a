"""Conditions over the situation: what holds, why, and which area it concerns."""

from __future__ import annotations

from datetime import timedelta

from outage import events as ev
from playbooks.conditions import evaluate
from playbooks.model import Condition
from playbooks.situation import Situation
from tests.playbooks.conftest import SERVED, at, call, predicted, restored


def situation(*events: ev.Event) -> Situation:
    s = Situation(dict(SERVED), device_substation={"fuse.9": "sub.b"})
    for event in events:
        s.apply(event)
    return s


def cond(data: dict) -> Condition:  # type: ignore[type-arg]
    return Condition.model_validate(data)


def test_customers_out_per_substation_names_the_area() -> None:
    s = situation(predicted("I1", 1200, 0, "sub.a"), predicted("I2", 900, 1, "sub.b"))
    any_sub = cond({"customers_out": {"scope": "any_substation", "min": 1000}})
    match = evaluate(any_sub, s, at(2))
    assert match.holds and match.area == frozenset({"sub.a"})
    system = evaluate(cond({"customers_out": {"min": 2000}}), s, at(2))
    assert system.holds and system.area is None and "2100" in system.reason
    s.apply(restored("I1", 3))
    assert not evaluate(any_sub, s, at(3)).holds


def test_all_needs_every_part_and_any_joins_the_areas_that_hold() -> None:
    s = situation(
        predicted("I1", 1200, 0, "sub.a"),
        ev.StormDeclared(at=at(0), scope="sub.b", reasons=("x",), customers_out=1,
                         open_incidents=1, calls_per_hour=1.0, baseline_per_hour=1.0),
    )  # fmt: skip
    big = {"single_outage": {"min_customers": 1000}}
    storm_b = {"storm_declared": {"scope": "any"}}
    surge = {"call_rate": {"multiple": 2, "min_calls": 5}}
    assert not evaluate(cond({"all": [big, storm_b, surge]}), s, at(1)).holds
    both = evaluate(cond({"all": [big, storm_b]}), s, at(1))
    assert both.holds and both.area == frozenset({"sub.a", "sub.b"})
    assert both.incidents == ("I1",)
    either = evaluate(cond({"any": [surge, storm_b]}), s, at(1))
    assert either.holds and either.area == frozenset({"sub.b"})


def test_call_rate_is_measured_against_the_hour_baseline() -> None:
    # 10,000 customers at 10:00 Shanghai: 2.8 calls/h normally; 5 calls in 15 min = 20/h.
    s = situation(*(call(k) for k in range(5)))
    assert evaluate(cond({"call_rate": {"multiple": 7, "min_calls": 5}}), s, at(5)).holds
    assert not evaluate(cond({"call_rate": {"multiple": 8, "min_calls": 5}}), s, at(5)).holds
    # The calls age out of the window.
    assert not evaluate(cond({"call_rate": {"multiple": 2, "min_calls": 5}}), s, at(20)).holds


def test_planned_work_counts_only_inside_the_horizon() -> None:
    start = at(0) + timedelta(hours=30)
    s = situation(
        ev.PlannedOutageScheduled(at=at(0), incident="INC-9", device="fuse.9", start=start,
                                  end=start + timedelta(hours=2), reason="pole", customers=40)
    )  # fmt: skip
    within = cond({"planned_outage": {"within_hours": 24}})
    assert not evaluate(within, s, at(0)).holds
    match = evaluate(within, s, start - timedelta(hours=24))
    assert match.holds and match.area == frozenset({"sub.b"}) and match.incidents == ("INC-9",)
    s.apply(ev.PlannedOutageStarted(at=start, incident="INC-9", device="fuse.9", customers=40))
    assert not evaluate(within, s, start).holds
    assert s.customers_out("sub.b") == 40  # the work itself is now an outage


def test_overdue_orders_reason_reads_in_the_utility_zone() -> None:
    """A breach due at 01:30 UTC is read by people in Asia/Shanghai (the storm rules' zone) as
    09:30: the reason the playbook panel shows must say so."""
    from datetime import UTC, datetime

    from playbooks.situation import OverdueOrder

    s = situation()
    due = datetime(2026, 7, 1, 1, 30, tzinfo=UTC)
    s.overdue["WO-1"] = OverdueOrder("WO-1", "I1", "arrival", "breach", due, "city", None, "sub.a")
    match = evaluate(cond({"overdue_orders": {}}), s, due + timedelta(minutes=1))
    assert match.holds and "arrival breach at 09:30" in match.reason and "UTC" not in match.reason
