"""The engine, driven by histories of signals: predictions, tickets, restoration, storms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from outage.commands import Command
from outage.errors import CommandRejected, RulesError
from outage.indices import compute_indices
from outage.rules import Rules, StormDetection, StormThresholds, load_rules
from outage.state import snapshot

from .conftest import T0, Driver, Feeder


def test_single_call_predicts_its_service_transformer(driver: Driver, feeder: Feeder) -> None:
    premise = driver.premise_of(feeder.transformers[0])
    events = driver.call(0, premise)
    predicted = [e for e in events if e.type == "OutagePredicted"]
    assert len(predicted) == 1
    assert predicted[0].level == "transformer"  # type: ignore[attr-defined]
    assert predicted[0].device == driver.engine.topology.transformer_ids[feeder.transformers[0]]  # type: ignore[attr-defined]


def test_repeat_calls_attach_and_are_counted_as_suppressed(driver: Driver, feeder: Feeder) -> None:
    premise = driver.premise_of(feeder.transformers[0])
    driver.call(0, premise)
    driver.call(3, premise)
    driver.call(9, premise)
    (incident,) = driver.open_incidents()
    assert len(incident.calls) == 3
    assert driver.engine.suppressed_total == 2
    topo = driver.engine.topology
    assert driver.engine.suppressed_by_premise[topo.premise_index[premise]] == 2
    attached = driver.of_type("CallAttached")
    assert [e.suppressed for e in attached] == [False, True, True]  # type: ignore[attr-defined]


def test_calls_from_two_transformers_roll_up_to_the_fuse(driver: Driver, feeder: Feeder) -> None:
    first = driver.premise_of(feeder.transformers[0])
    second = driver.premise_of(feeder.transformers[1])
    driver.call(0, first)
    driver.call(4, second)
    (incident,) = driver.open_incidents()
    topo = driver.engine.topology
    assert incident.asset == topo.device_ids[feeder.fuse]
    assert incident.id == "INC-000001"  # the first ticket moves up: customers quote its number
    assert set(incident.calls) == {"call-1", "call-2"}
    (moved,) = driver.of_type("PredictionMoved")
    assert moved.incident == "INC-000001" and moved.to_device == incident.asset  # type: ignore[attr-defined]
    assert all(e.into == "INC-000001" for e in driver.of_type("IncidentMerged"))  # type: ignore[attr-defined]


def test_unrelated_fuses_under_one_recloser_stay_separate(driver: Driver, feeder: Feeder) -> None:
    topo = driver.engine.topology
    for n, transformer in enumerate(topo.device_transformers[feeder.fuse][:3]):
        driver.call(n, driver.premise_of(transformer))
    for n, transformer in enumerate(topo.device_transformers[feeder.other_fuse][:3]):
        driver.call(5 + n, driver.premise_of(transformer))
    assets = sorted(i.asset for i in driver.open_incidents())
    assert assets == sorted([topo.device_ids[feeder.fuse], topo.device_ids[feeder.other_fuse]])


def test_a_recloser_outage_rolls_up_when_its_laterals_report(
    driver: Driver, feeder: Feeder
) -> None:
    topo = driver.engine.topology
    call_every_lateral(driver, feeder, every=0.5)
    (incident,) = driver.open_incidents()
    assert incident.asset == topo.device_ids[feeder.recloser]
    assert incident.customers == int(topo.device_customers[feeder.recloser])


def call_every_lateral(driver: Driver, feeder: Feeder, *, every: float) -> None:
    """Two calls from every lateral below the recloser, ``every`` minutes apart."""
    topo = driver.engine.topology
    minute = 0.0
    for device in topo.devices_below(feeder.recloser):
        for transformer in topo.device_transformers[device][:2]:
            driver.call(minute, driver.premise_of(transformer))
            minute += every


def test_duplicate_signal_ids_change_nothing(driver: Driver, feeder: Feeder) -> None:
    premise = driver.premise_of(feeder.transformers[0])
    assert driver.send(0, type="call", id="c-1", premise=premise)
    assert driver.send(1, type="call", id="c-1", premise=premise) == []
    (incident,) = driver.open_incidents()
    assert incident.calls == ["c-1"]
    assert driver.engine.calls_received == 1


def test_unresolvable_call_is_kept_with_its_reason(driver: Driver) -> None:
    events = driver.send(0, type="call", phone="+8617000000000")
    (unresolved,) = driver.engine.unresolved
    assert unresolved["call"] == events[0].call  # type: ignore[attr-defined]
    assert "phone" in unresolved["reason"]
    assert driver.send(1, type="call", premise="premise.nope")
    assert "unknown premise 'premise.nope'" in driver.engine.unresolved[1]["reason"]


def test_callers_resolve_by_account_phone_address_and_location(driver: Driver, city) -> None:  # type: ignore[no-untyped-def]
    row = city.tables.customers.iloc[100]
    point = city.tables.premises.geometry.iloc[100]
    driver.send(0, type="call", account=row["account"])
    driver.send(1, type="call", phone=row["phone"].replace("+86", ""))
    driver.send(2, type="call", address=row["address"].upper())
    driver.send(3, type="call", lon=point.x, lat=point.y)
    attached = driver.of_type("CallAttached")
    assert [e.premise for e in attached] == [row["premise"]] * 4  # type: ignore[attr-defined]
    assert driver.engine.unresolved == []


def test_hazard_calls_get_their_own_ticket_and_are_never_suppressed(
    driver: Driver, feeder: Feeder
) -> None:
    premise = driver.premise_of(feeder.transformers[0])
    driver.call(0, premise)
    driver.call(2, premise, kind="wire_down", note="line on the road")
    (hazard,) = driver.of_type("HazardReported")
    (incident,) = driver.open_incidents()
    assert hazard.incident == incident.id and hazard.kind == "wire_down"  # type: ignore[attr-defined]
    assert incident.hazards == ["call-2"]
    assert driver.engine.suppressed_total == 0
    assert driver.engine.tickets[0]["priority"] == "high"


def test_scada_open_confirms_and_absorbs_predictions_below(driver: Driver, feeder: Feeder) -> None:
    topo = driver.engine.topology
    driver.call(0, driver.premise_of(feeder.transformers[0]))
    driver.call(1, driver.premise_of(feeder.transformers[1]))
    driver.send(2, type="scada", device=topo.device_ids[feeder.recloser], state="open")
    (incident,) = driver.open_incidents()
    assert incident.asset == topo.device_ids[feeder.recloser]
    assert incident.status == "confirmed" and incident.confirmed_by == "scada"
    assert len(incident.calls) == 2
    driver.send(60, type="scada", device=topo.device_ids[feeder.recloser], state="closed")
    assert driver.open_incidents() == []
    assert incident.status == "restored"


def test_crew_restore_below_a_well_supported_outage_is_nested(
    driver: Driver, feeder: Feeder
) -> None:
    """Every lateral of the recloser reported: closing one fuse below it ends nothing, the
    customers elsewhere under the recloser are still out."""
    topo = driver.engine.topology
    call_every_lateral(driver, feeder, every=0.1)
    (predicted,) = driver.open_incidents()
    assert predicted.asset == topo.device_ids[feeder.recloser]
    driver.send(30, type="restore", device=topo.device_ids[feeder.fuse])
    assert driver.open_incidents() == [predicted]
    assert predicted.asset == topo.device_ids[feeder.recloser] and predicted.is_open
    assert len(predicted.calls) == driver.engine.calls_received
    assert driver.of_type("DeviceOperated")[-1].device == topo.device_ids[feeder.fuse]  # type: ignore[attr-defined]


def test_crew_restoring_below_a_prediction_it_explains_moves_it_down(
    driver: Driver, feeder: Feeder
) -> None:
    """Two transformers under the fuse reported; the crew re-fuses one of them: the outage was
    that transformer (the ticket moves down and is restored), the other report starts over."""
    topo = driver.engine.topology
    first, second = feeder.transformers[:2]
    driver.call(0, driver.premise_of(first))
    driver.call(1, driver.premise_of(second))
    (predicted,) = driver.open_incidents()
    assert predicted.asset == topo.device_ids[feeder.fuse]
    driver.send(30, type="restore", device=topo.transformer_ids[first])
    assert predicted.asset == topo.transformer_ids[first] and predicted.status == "restored"
    assert predicted.calls == ["call-1"]
    (rest,) = driver.open_incidents()
    assert rest.asset == topo.transformer_ids[second] and rest.calls == ["call-2"]


def test_nested_outage_partial_restoration_and_cmi_counted_once(
    driver: Driver, feeder: Feeder
) -> None:
    topo = driver.engine.topology
    engine = driver.engine
    driver.call(0, driver.premise_of(feeder.transformers[0]))
    driver.call(1, driver.premise_of(feeder.transformers[1]))
    (fuse_incident,) = driver.open_incidents()
    engine.handle(
        Command(
            id="cmd-1",
            ts=T0 + timedelta(minutes=5),
            by="duty",
            action="confirm",
            incident=fuse_incident.id,
        )
    )
    driver.send(10, type="scada", device=topo.device_ids[feeder.recloser], state="open")
    recloser_incident = engine.registry.open_at[feeder.recloser]
    assert fuse_incident.parent == recloser_incident.id
    driver.send(70, type="scada", device=topo.device_ids[feeder.recloser], state="closed")
    assert recloser_incident.status == "partially_restored"
    (partial,) = driver.of_type("OutagePartiallyRestored")
    fuse_customers = int(topo.device_customers[feeder.fuse])
    assert partial.customers_still_out == fuse_customers  # type: ignore[attr-defined]
    assert driver.open_incidents() == [fuse_incident]
    driver.send(130, type="restore", device=topo.device_ids[feeder.fuse])
    assert fuse_incident.status == "restored" and recloser_incident.status == "restored"

    indices = compute_indices(topo, engine.incidents.values(), T0, T0 + timedelta(hours=3))
    recloser_customers = int(topo.device_customers[feeder.recloser])
    # fuse customers: out from minute 0 to 130; the rest of the recloser: minute 10 to 70.
    expected = fuse_customers * 130 + (recloser_customers - fuse_customers) * 60
    assert indices.cmi == pytest.approx(expected)
    double_counted = fuse_customers * 130 + recloser_customers * 60
    assert indices.cmi < double_counted
    assert indices.customer_interruptions == recloser_customers


def test_planned_outage_collects_calls_inside_its_window(driver: Driver, feeder: Feeder) -> None:
    topo = driver.engine.topology
    start, end = T0 + timedelta(minutes=30), T0 + timedelta(minutes=90)
    driver.send(
        0,
        type="planned",
        device=topo.device_ids[feeder.fuse],
        start=start.isoformat(),
        end=end.isoformat(),
        reason="pole replacement",
        ts=T0.isoformat(),
    )
    assert driver.open_incidents() == []
    driver.call(40, driver.premise_of(feeder.transformers[0]))
    (planned,) = driver.open_incidents()
    assert planned.planned and planned.status == "confirmed"
    assert planned.calls == ["call-2"] and driver.engine.suppressed_total == 1
    driver.call(100, driver.premise_of(feeder.transformers[2]))  # after the end: a new outage
    assert planned.status == "restored"
    assert [e.type for e in driver.events if e.type.startswith("Planned")] == [
        "PlannedOutageScheduled",
        "PlannedOutageStarted",
    ]


def test_last_gasps_predict_and_power_restored_self_clears(driver: Driver, feeder: Feeder) -> None:
    premise = driver.premise_of(feeder.transformers[0])
    driver.send(0, type="meter", premise=premise, event="last_gasp")
    (incident,) = driver.open_incidents()
    assert incident.cause == "meter last gasp"
    driver.send(3, type="meter", premise=premise, event="power_restored")
    assert incident.status == "restored"


def test_energised_premises_split_a_fuse_prediction(driver: Driver, feeder: Feeder) -> None:
    """Every meter under the fuse gasps except those of three transformers: the fuse is out.
    Then their meters say they have power: the fuse cannot be open; what is left are the
    transformers that did report, and the fuse's ticket survives on one of them."""
    topo = driver.engine.topology
    quiet = feeder.transformers[2:5]
    reporting = [t for t in topo.device_transformers[feeder.fuse] if t not in quiet]
    for t in reporting:
        for premise in topo.premises_of_transformer(t):
            driver.send(0, type="meter", premise=topo.premise_ids[premise], event="last_gasp")
    (incident,) = driver.open_incidents()
    assert incident.asset == topo.device_ids[feeder.fuse]
    for premise in [p for t in quiet for p in topo.premises_of_transformer(t)]:
        driver.send(3, type="meter", premise=topo.premise_ids[premise], event="power_restored")
    assets = sorted(i.asset for i in driver.open_incidents())
    assert assets == sorted(topo.transformer_ids[t] for t in reporting)
    assert incident.is_open and incident.asset in assets


def test_call_from_a_premise_the_meter_shows_energised_is_a_service_ticket(
    driver: Driver, feeder: Feeder
) -> None:
    premise = driver.premise_of(feeder.transformers[0])
    driver.send(0, type="meter", premise=premise, event="power_restored")
    driver.call(1, premise)
    assert driver.open_incidents() == []
    (ticket,) = driver.of_type("ServiceTicketOpened")
    assert "meter shows power" in ticket.reason  # type: ignore[attr-defined]


def test_flicker_outside_an_outage_is_a_service_ticket(driver: Driver, feeder: Feeder) -> None:
    driver.call(0, driver.premise_of(feeder.transformers[0]), kind="flicker")
    assert driver.open_incidents() == []
    assert len(driver.of_type("ServiceTicketOpened")) == 1


def test_storm_is_declared_and_switches_the_rule_set(
    make_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    rules = Rules(
        storm_detection=StormDetection(
            system=StormThresholds(
                open_incidents=4, customers_out_min=10_000, call_rate_min_calls=1000
            ),
            substation=StormThresholds(
                open_incidents=1000, customers_out_min=10_000, call_rate_min_calls=1000
            ),
        )
    )
    driver = make_driver(rules)
    topo = driver.engine.topology
    transformers = [t for t in range(0, len(topo.transformer_ids), 40)][:5]
    for n, transformer in enumerate(transformers):
        driver.call(n * 2, driver.premise_of(transformer))
    driver.call(12, driver.premise_of(transformers[0]))
    (declared,) = driver.of_type("StormDeclared")
    assert declared.scope == "system"  # type: ignore[attr-defined]
    assert "open incidents" in declared.reasons[0]  # type: ignore[attr-defined]
    assert driver.engine.rule_set == "storm"
    for transformer in transformers:
        driver.send(20, type="restore", device=topo.transformer_ids[transformer])
    driver.call(200, driver.premise_of(feeder.transformers[0]), kind="flicker")
    assert [e.scope for e in driver.of_type("StormStoodDown")] == ["system"]  # type: ignore[attr-defined]
    assert driver.engine.rule_set == "normal"


def test_officer_commands_walk_the_lifecycle(driver: Driver, feeder: Feeder) -> None:
    engine = driver.engine
    driver.call(0, driver.premise_of(feeder.transformers[0]))
    (incident,) = driver.open_incidents()

    def command(n: int, action: str, **extra: object) -> None:
        engine.handle(
            Command(
                id=f"cmd-{n}",
                ts=T0 + timedelta(minutes=n),
                by="duty.li",
                action=action,
                incident=incident.id,
                **extra,
            )
        )  # type: ignore[arg-type]

    command(1, "dispatch", crew="crew-7")
    command(2, "set_etr", etr=T0 + timedelta(hours=2))
    command(3, "restore")
    command(4, "close")
    assert [s for s, _ in incident.timeline] == [
        "predicted",
        "confirmed",
        "dispatched",
        "restored",
        "closed",
    ]
    assert incident.crew == "crew-7" and incident.etr == T0 + timedelta(hours=2)
    with pytest.raises(CommandRejected, match="closed; cannot dispatch"):
        command(5, "dispatch", crew="crew-8")


def test_replaying_the_same_signals_gives_the_same_events(
    make_driver: Callable[..., Driver], feeder: Feeder
) -> None:
    def run() -> list[str]:
        driver = make_driver()
        for n, transformer in enumerate(feeder.transformers):
            driver.call(n, driver.premise_of(transformer))
            driver.send(
                n + 0.5, type="meter", premise=driver.premise_of(transformer, 1), event="last_gasp"
            )
        driver.send(50, type="restore", device=driver.engine.topology.device_ids[feeder.fuse])
        return [repr(e) for e in driver.events]

    assert run() == run()


def test_snapshot_has_the_contract_keys(driver: Driver, feeder: Feeder) -> None:
    driver.call(0, driver.premise_of(feeder.transformers[0]))
    driver.send(
        30, type="restore", device=driver.engine.topology.transformer_ids[feeder.transformers[0]]
    )
    state = snapshot(driver.engine)
    assert {"incidents", "unresolved", "suppressed_calls", "storm", "indices"} <= set(state)
    incident = state["incidents"][0]
    assert {
        "id",
        "device",
        "status",
        "customers_affected",
        "calls",
        "hazards",
        "started",
        "restored",
        "parent",
    } <= set(incident)
    assert state["storm"] == state["storm"] | {"declared": False, "at": None}
    assert set(state["indices"]) >= {"cmi", "saidi", "saifi", "caidi"}
    assert state["indices"]["cmi"] > 0


def test_rules_file_errors_name_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("normal:\n  prior_open: {fuse: 1.5}\n")
    with pytest.raises(
        RulesError, match=r"rules\.yaml: normal\.prior_open\.fuse: Input should be less than 1"
    ):
        load_rules(path)
    path.write_text("normal:\n  close_after_minutes: 30\n  min_transformers: {fuse: 3}\n")
    with pytest.raises(
        RulesError, match=r"normal\.min_transformers: Extra inputs are not permitted"
    ):
        load_rules(path)
    path.write_text("inference:\n  call_share: {mean: 0.2}\nnormal:\n  close_after_minutes: 30\n")
    rules = load_rules(path)
    assert rules.normal.close_after_minutes == 30 and rules.storm.close_after_minutes == 120
    assert rules.inference.call_share.mean == 0.2 and rules.inference.call_share.concentration == 20
    path.write_text("normal: [unclosed\n")
    with pytest.raises(RulesError, match=r"rules\.yaml:\d+: not valid YAML"):
        load_rules(path)


def test_suppressed_calls_follow_their_incident_through_a_roll_up(
    driver: Driver, feeder: Feeder
) -> None:
    first = driver.premise_of(feeder.transformers[0])
    driver.call(0, first)
    driver.call(1, first)  # a repeat: suppressed on the transformer ticket
    # Moves the ticket up to the fuse: it opens no ticket of its own, so it is suppressed too.
    driver.call(2, driver.premise_of(feeder.transformers[1]))
    driver.call(3, first)  # suppressed on the fuse ticket
    (incident,) = driver.open_incidents()
    (view,) = [i for i in snapshot(driver.engine)["incidents"] if i["id"] == incident.id]
    assert view["suppressed"] == driver.engine.suppressed_total == 3
    assert len(view["calls"]) == 4


def test_the_incident_list_filter_offers_exactly_the_listed_states() -> None:
    """The OpenAPI enum of ``GET /v1/incidents?status=`` is spelled out for the schema; it
    must stay the lifecycle's listed states (every status but merged)."""
    from typing import get_args

    from outage.api.officer import ListedStatus
    from outage.incidents import LISTED_STATES, Status

    assert set(get_args(ListedStatus)) == {s.value for s in LISTED_STATES}
    assert Status.MERGED not in LISTED_STATES and len(LISTED_STATES) == len(Status) - 1
