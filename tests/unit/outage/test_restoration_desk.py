"""The restoration desk through the engine: work orders and their SLA clocks on event time,
crews, ETR sources and precedence, storm queues, follow-up and frequent-outage flags.

Deadlines are checked against the State Grid service commitments (on site within 45 min in
cities) and against limits set in the test's own rules, never against the module's constants.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from outage.bootstrap import Network, build_engine
from outage.commands import Command
from outage.errors import CommandRejected
from outage.events import to_json
from outage.restoration.config import RestorationRules, SlaLimits
from outage.restoration.roster import Crew, Point, Roster
from outage.rules import Rules, StormDetection, StormThresholds
from outage.signals import parse_signal
from scenarios.crews import storm
from scenarios.generate import generate_storm

from .conftest import T0, Driver, Feeder


def _rules(**restoration: Any) -> Rules:
    return Rules(restoration=RestorationRules(**restoration))


def _roster(*names: str) -> Roster:
    return Roster(crews=tuple(Crew(id=n, depot=Point(lon=113.3, lat=23.1)) for n in names))


@pytest.fixture
def desk_driver(city: Network) -> Callable[..., Driver]:
    def make(rules: Rules | None = None, roster: Roster | None = None) -> Driver:
        return Driver(build_engine(city, rules, roster=roster))

    return make


def _command(minute: float, action: str, **fields: Any) -> Command:
    return Command(
        id=f"cmd-{action}-{minute}",
        ts=T0 + timedelta(minutes=minute),
        by="officer-1",
        action=action,
        **fields,
    )


def _do(driver: Driver, command: Command) -> list[Any]:
    out = driver.engine.handle(command)
    driver.events.extend(out)
    return out


def _tick(driver: Driver, minute: float) -> list[Any]:
    return driver.send(minute, type="tick")


def _one_outage(driver: Driver, feeder: Feeder) -> str:
    driver.call(0, driver.premise_of(feeder.transformers[0]))
    (incident,) = driver.open_incidents()
    return str(incident.id)


def test_a_city_fault_gets_a_work_order_due_on_site_within_45_minutes(
    desk_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    driver = desk_driver()
    incident = _one_outage(driver, feeder)
    (opened,) = driver.of_type("WorkOrderOpened")
    assert opened.incident == incident  # type: ignore[attr-defined]
    assert opened.area_class == "city"  # type: ignore[attr-defined]
    assert opened.arrival_due == T0 + timedelta(minutes=45)  # type: ignore[attr-defined]


def test_arrival_deadline_escalates_before_and_at_breach_on_event_time(
    desk_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    limits = {
        c: SlaLimits(arrival_minutes=30, restoration_minutes=60)
        for c in ("city", "rural", "remote")
    }
    driver = desk_driver(_rules(sla=limits, warn_before_minutes=5))
    _one_outage(driver, feeder)
    assert not _tick(driver, 24.9) or not driver.of_type("SlaEscalated")
    _tick(driver, 26)
    (warning,) = driver.of_type("SlaEscalated")
    assert warning.at == T0 + timedelta(minutes=25)  # type: ignore[attr-defined]
    assert (warning.step, warning.level) == ("arrival", "warning")  # type: ignore[attr-defined]
    _tick(driver, 40)
    breach = driver.of_type("SlaEscalated")[-1]
    assert breach.at == T0 + timedelta(minutes=30)  # type: ignore[attr-defined]
    assert breach.level == "breach"  # type: ignore[attr-defined]
    order = driver.engine.restoration.open_orders()[0]
    assert order.clock(T0 + timedelta(minutes=40), 5) == "red"


def test_a_crew_on_site_in_time_stops_the_arrival_clock_and_starts_the_restoration_one(
    desk_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    limits = {
        c: SlaLimits(arrival_minutes=30, restoration_minutes=60)
        for c in ("city", "rural", "remote")
    }
    driver = desk_driver(_rules(sla=limits, warn_before_minutes=5), _roster("C1"))
    incident = _one_outage(driver, feeder)
    driver.send(2, type="crew", crew="C1", status="dispatched", incident=incident)
    driver.send(5, type="crew", crew="C1", status="en_route")
    driver.send(20, type="crew", crew="C1", status="on_site", lon=113.31, lat=23.11)
    _tick(driver, 60)
    assert driver.of_type("SlaEscalated") == []
    _tick(driver, 90)
    (breach,) = [e for e in driver.of_type("SlaEscalated") if e.level == "breach"]  # type: ignore[attr-defined]
    assert breach.step == "restoration"  # type: ignore[attr-defined]
    assert breach.at == T0 + timedelta(minutes=80)  # type: ignore[attr-defined]
    statuses = [(e.crew, e.status) for e in driver.of_type("CrewStatusChanged")]  # type: ignore[attr-defined]
    assert statuses == [("C1", "dispatched"), ("C1", "en_route"), ("C1", "on_site")]
    status = driver.engine.incidents[incident].status
    assert status == "dispatched"  # the crew's dispatch confirmed the outage


def test_restoration_closes_the_order_with_achieved_against_limit(
    desk_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    driver = desk_driver(None, _roster("C1"))
    incident = _one_outage(driver, feeder)
    driver.send(1, type="crew", crew="C1", status="dispatched", incident=incident)
    driver.send(31, type="crew", crew="C1", status="on_site")
    device = driver.engine.incidents[incident].asset
    driver.send(101, type="restore", device=device)
    (closed,) = driver.of_type("WorkOrderClosed")
    assert closed.outcome == "restored"  # type: ignore[attr-defined]
    assert closed.arrival_minutes == pytest.approx(31.0)  # type: ignore[attr-defined]
    assert closed.restoration_minutes == pytest.approx(70.0)  # type: ignore[attr-defined]
    assert closed.arrival_limit_minutes == 45  # type: ignore[attr-defined]
    crew = driver.engine.restoration.crews["C1"]
    assert (crew.status, crew.order) == ("available", None)


def test_every_prediction_gets_an_estimated_etr_at_once(
    desk_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    driver = desk_driver()
    incident = _one_outage(driver, feeder)
    (etr,) = driver.of_type("EtrChanged")
    assert etr.source == "estimated" and etr.incident == incident  # type: ignore[attr-defined]
    assert etr.at == T0  # type: ignore[attr-defined]
    assert etr.etr > T0 + timedelta(minutes=30)  # type: ignore[attr-defined]
    assert driver.engine.incidents[incident].etr_source == "estimated"


def test_an_officers_etr_is_never_overwritten(
    desk_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    driver = desk_driver(None, _roster("C1"))
    incident = _one_outage(driver, feeder)
    given = T0 + timedelta(minutes=50)
    _do(driver, _command(3, "set_etr", incident=incident, etr=given))
    driver.send(4, type="crew", crew="C1", status="dispatched", incident=incident)
    driver.send(20, type="crew", crew="C1", status="on_site", cause="tree")
    for minute in range(30, 400, 30):
        _tick(driver, minute)
    _do(driver, _command(401, "rule_set", rule_set="storm"))
    _tick(driver, 420)
    record = driver.engine.incidents[incident]
    assert (record.etr, record.etr_source) == (given, "officer")
    after = [e for e in driver.of_type("EtrChanged") if e.at > T0 + timedelta(minutes=3)]  # type: ignore[attr-defined]
    assert after == []


def test_a_crews_etr_wins_over_the_estimate_and_an_officer_can_change_it(
    desk_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    driver = desk_driver(None, _roster("C1"))
    incident = _one_outage(driver, feeder)
    crew_etr = T0 + timedelta(minutes=95)
    driver.send(2, type="crew", crew="C1", status="dispatched", incident=incident)
    driver.send(25, type="crew", crew="C1", status="on_site", etr=crew_etr.isoformat())
    last = driver.of_type("EtrChanged")[-1]
    assert (last.source, last.by, last.etr) == ("crew", "C1", crew_etr)  # type: ignore[attr-defined]
    for minute in range(30, 200, 20):
        _tick(driver, minute)
    assert driver.engine.incidents[incident].etr == crew_etr
    officer = T0 + timedelta(minutes=240)
    _do(driver, _command(200, "set_etr", incident=incident, etr=officer))
    assert driver.engine.incidents[incident].etr_source == "officer"


def test_an_estimate_that_passes_without_restoration_is_replaced_by_a_later_one(
    desk_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    driver = desk_driver()
    incident = _one_outage(driver, feeder)
    first = driver.engine.incidents[incident].etr
    assert first is not None
    passed = (first - T0).total_seconds() / 60
    _tick(driver, passed + 1)
    second = driver.of_type("EtrChanged")[-1]
    assert second.at == first  # type: ignore[attr-defined]
    assert second.previous == first and second.etr > first  # type: ignore[attr-defined]


def test_small_moves_of_the_estimate_are_not_republished(
    desk_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    driver = desk_driver(_rules(republish_minutes=600))
    _one_outage(driver, feeder)
    driver.call(1, driver.premise_of(feeder.transformers[1]))  # the prediction rolls up: new kind
    assert len(driver.of_type("PredictionMoved")) == 1
    assert len(driver.of_type("EtrChanged")) == 1


def test_storm_orders_queue_for_the_one_crew(
    desk_driver: Callable[..., Driver], city: Network, feeder: Feeder
) -> None:
    driver = desk_driver(None, _roster("C1"))
    _do(driver, _command(0, "rule_set", rule_set="storm"))
    topo = city.topology
    other = next(
        t
        for t in range(len(topo.transformer_ids))
        if topo.transformer_feeder[t] != topo.transformer_feeder[feeder.transformers[0]]
    )
    driver.call(0.5, driver.premise_of(feeder.transformers[0]))
    driver.call(0.6, driver.premise_of(other))
    assert driver.of_type("EtrChanged") == []  # storm: planned at the next boundary...
    _tick(driver, 1.5)
    etrs = {e.incident: e.etr for e in driver.of_type("EtrChanged")}  # type: ignore[attr-defined]
    assert len(etrs) == 2  # ...within a minute of the predictions
    first, second = sorted(etrs.values())
    assert second - first >= timedelta(minutes=60)  # the second waits for the first repair


def test_merge_closes_the_childs_order_and_the_survivor_keeps_its_own(
    desk_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    driver = desk_driver()
    driver.call(0, driver.premise_of(feeder.transformers[0]))
    (survivor,) = driver.open_incidents()
    # Far away, on the same recloser: a separate prediction an officer then merges.
    topo = driver.engine.topology
    driver.call(2, driver.premise_of(topo.device_transformers[feeder.other_fuse][0]))
    child = next(i for i in driver.open_incidents() if i.id != survivor.id)
    _do(driver, _command(3, "merge", incident=child.id, into=survivor.id))
    closed = driver.of_type("WorkOrderClosed")
    assert [(e.incident, e.outcome) for e in closed] == [(child.id, "merged")]  # type: ignore[attr-defined]
    order = driver.engine.restoration.order_for(survivor.id)
    assert order is not None and order.is_open
    assert order.kind == topo.device_kind[topo.device_index[survivor.asset]]  # moved up


def test_dispatch_names_only_rostered_idle_crews(
    desk_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    driver = desk_driver(None, _roster("C1"))
    incident = _one_outage(driver, feeder)
    with pytest.raises(CommandRejected, match="crew: unknown crew 'C9'"):
        _do(driver, _command(1, "dispatch", incident=incident, crew="C9"))
    _do(driver, _command(2, "dispatch", incident=incident, crew="C1"))
    driver.call(
        3, driver.premise_of(driver.engine.topology.device_transformers[feeder.other_fuse][0])
    )
    other = next(i for i in driver.open_incidents() if i.id != incident)
    with pytest.raises(CommandRejected, match="crew: C1 is dispatched on WO-"):
        _do(driver, _command(4, "dispatch", incident=other.id, crew="C1"))
    driver.send(5, type="crew", crew="C7", status="en_route")
    assert driver.engine.rejected[-1]["reason"] == "crew: unknown crew 'C7' (not in the roster)"


def test_follow_up_answers_are_recorded_per_incident(
    desk_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    driver = desk_driver()
    premise = driver.premise_of(feeder.transformers[0])
    incident = _one_outage(driver, feeder)
    driver.send(60, type="restore", device=driver.engine.incidents[incident].asset)
    driver.send(90, type="followup", incident=incident, premise=premise, score=4)
    (answer,) = driver.of_type("FollowUpAnswered")
    assert (answer.premise, answer.score, answer.channel) == (premise, 4, "sms")  # type: ignore[attr-defined]
    assert driver.engine.restoration.followups[incident][premise]["score"] == 4
    driver.send(91, type="followup", incident=incident, premise="nope", score=1)
    assert driver.engine.rejected[-1]["reason"] == "premise: unknown premise 'nope'"
    driver.send(92, type="followup", incident="INC-999999", premise=premise, score=1)
    assert driver.engine.rejected[-1]["reason"] == "incident: no incident 'INC-999999'"


def test_the_third_outage_within_the_window_flags_the_transformer(
    desk_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    driver = desk_driver()
    transformer = feeder.transformers[0]
    premise, neighbour = driver.premise_of(transformer), driver.premise_of(transformer, 1)
    topo = driver.engine.topology
    for day in range(4):
        start = day * 24 * 60
        driver.call(start, premise)
        driver.call(start + 1, neighbour)  # two premises: the transformer, not one service
        (incident,) = driver.open_incidents()
        assert incident.premise is None
        driver.send(start + 30, type="restore", device=incident.asset)
    (flag,) = driver.of_type("FrequentOutageFlagged")
    assert flag.transformers == (topo.transformer_ids[transformer],)  # type: ignore[attr-defined]
    assert flag.outages == 3 and flag.at == T0 + timedelta(days=2, minutes=30)  # type: ignore[attr-defined]
    history = driver.engine.restoration.outages.of_premise(
        topo.premise_index[premise], T0 + timedelta(days=4)
    )
    assert history["outages"] == 4 and history["frequent"]
    assert history["minutes_out"] == pytest.approx(120.0)


def test_a_premise_losing_its_own_service_is_in_its_history_not_its_neighbours(
    desk_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    driver = desk_driver()
    transformer = feeder.transformers[0]
    premise, neighbour = driver.premise_of(transformer), driver.premise_of(transformer, 1)
    topo = driver.engine.topology
    for day in range(4):
        start = day * 24 * 60
        driver.call(start, premise)  # nobody else under the transformer reports
        (incident,) = driver.open_incidents()
        assert incident.premise == topo.premise_index[premise] and incident.customers == 1
        driver.send(start + 30, type="restore", device=incident.asset)
    assert driver.of_type("FrequentOutageFlagged") == []  # no transformer outage happened
    outages = driver.engine.restoration.outages
    now = T0 + timedelta(days=4)
    own = outages.of_premise(topo.premise_index[premise], now)
    assert own["outages"] == 4 and own["minutes_out"] == pytest.approx(120.0)
    assert outages.of_premise(topo.premise_index[neighbour], now)["outages"] == 0
    # What another process restores from the records equals what was recorded.
    copy = type(outages)(topo, driver.engine.restoration.rules)
    copy.restore(outages.take_changes())
    assert copy.of_premise(topo.premise_index[premise], now) == own


def test_same_signals_same_restoration_events(
    desk_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    def run() -> list[bytes]:
        driver = desk_driver(None, _roster("C1", "C2"))
        incident = _one_outage(driver, feeder)
        driver.send(1, type="crew", crew="C2", status="dispatched", incident=incident)
        driver.send(30, type="crew", crew="C2", status="on_site")
        _tick(driver, 200)
        return [to_json(e) for e in driver.events]

    assert run() == run()


def test_callers_are_due_a_follow_up_and_an_sms_reply_needs_no_incident(
    desk_driver: Callable[..., Driver], city: Network, feeder: Feeder
) -> None:
    driver = desk_driver()
    premise = driver.premise_of(feeder.transformers[0])
    incident = _one_outage(driver, feeder)
    driver.call(5, premise)  # the same caller again: asked once
    driver.send(60, type="restore", device=driver.engine.incidents[incident].asset)
    (due,) = driver.of_type("FollowUpDue")
    assert (due.incident, due.premises) == (incident, (premise,))  # type: ignore[attr-defined]
    customers = city.tables.customers
    phone = str(customers.loc[customers["premise"] == premise, "phone"].iloc[0])
    driver.send(70, type="followup", phone=phone, score=5)
    (answer,) = driver.of_type("FollowUpAnswered")
    assert (answer.incident, answer.premise, answer.score) == (incident, premise, 5)  # type: ignore[attr-defined]
    driver.send(71, type="followup", phone=phone, score=2)  # nothing pending any more
    assert driver.engine.rejected[-1]["reason"].startswith("incident: no follow-up is pending")


def test_in_a_storm_every_prediction_has_an_etr_within_a_minute_and_time_only_moves_on(
    city: Network,
) -> None:
    """A blind-generator storm with its crews, replayed signal by signal: whatever made the
    prediction (a call, a meter, the silence tick inside a later signal), its first estimated
    ETR follows within a minute of event time, and no event is stamped before one already
    emitted (the scorer's clock, `scenarios.etr_score`, is the running maximum)."""
    made = generate_storm(city.topology, storm(5, faults=12), customers=city.tables.customers)
    engine = build_engine(city, roster=Roster.model_validate(made.roster()))
    events: list[Any] = []
    first = made.signals[0]["ts"]
    events += engine.handle(
        Command(id="cmd-storm", ts=first, by="duty", action="rule_set", rule_set="storm")
    )
    for signal in made.signals:
        events += engine.handle(parse_signal(signal))
    events += engine.finish()
    stamps = [e.at for e in events]
    assert stamps == sorted(stamps)
    predicted = {e.incident: e.at for e in events if e.type == "OutagePredicted"}
    first_etr: dict[str, Any] = {}
    for e in events:
        if e.type == "EtrChanged" and e.etr is not None:
            first_etr.setdefault(e.incident, e.at)
    assert len(predicted) >= 5
    late = {
        i: (at, first_etr.get(i))
        for i, at in predicted.items()
        if i in first_etr and first_etr[i] - at > timedelta(minutes=1)
    }
    assert late == {}


def _substation_storm_rules(open_incidents: int) -> Rules:
    """A substation storm declared by any customer out; the system's never."""
    never = StormThresholds(customers_out_min=10**7, open_incidents=1000, call_rate_min_calls=10**6)
    substation = StormThresholds(
        customers_out_share=1e-6, customers_out_min=1, open_incidents=open_incidents,
        call_rate_min_calls=10**6,
    )  # fmt: skip
    return Rules(storm_detection=StormDetection(system=never, substation=substation))


def _transformers_of_one_substation(city: Network, count: int) -> list[int]:
    """Transformers of one substation under different devices (three separate outages)."""
    topo = city.topology
    substation = topo.feeder_substation[topo.transformer_feeder[0]]
    by_device: dict[int, int] = {}
    for t in range(len(topo.transformer_ids)):
        if topo.feeder_substation[topo.transformer_feeder[t]] == substation:
            by_device.setdefault(topo.transformer_device[t], t)
    return list(by_device.values())[:count]


def test_a_substation_storm_of_one_outage_keeps_normal_weather_etrs(
    desk_driver: Callable[..., Driver], city: Network
) -> None:
    # One outage declares its substation's storm (the test's threshold: any customer out);
    # restoration weather stays normal until the substation has `open_incidents` (3) open
    # orders: then a new outage waits for the storm plan.
    driver = desk_driver(_substation_storm_rules(open_incidents=3), _roster("C1", "C2"))
    first, second, third = _transformers_of_one_substation(city, 3)
    desk = driver.engine.restoration
    driver.call(0, driver.premise_of(first))
    _tick(driver, 1.5)
    declared = [n for n, s in driver.engine.storm.scopes.items() if s.declared_at is not None]
    assert declared == [city.topology.substation_ids[0]]  # the substation, not the system
    driver.call(2, driver.premise_of(second))
    (incident,) = [
        i for i in driver.open_incidents() if i.asset == city.topology.transformer_ids[second]
    ]
    assert incident.etr is not None  # at once: normal weather
    assert desk.basis[incident.id].startswith("normal restoration history")
    driver.call(3, driver.premise_of(third))  # the third open order: storm weather now
    (last,) = [
        i for i in driver.open_incidents() if i.asset == city.topology.transformer_ids[third]
    ]
    assert last.etr is None  # planned at the next boundary, with the storm queue
    _tick(driver, 4.5)
    assert desk.basis[last.id].startswith("storm queue")
