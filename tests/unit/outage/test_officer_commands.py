"""Officer merge / split / rule-set commands: the duty officer overrides the prediction."""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from pydantic import ValidationError

from outage.commands import Command
from outage.errors import CommandRejected

from .conftest import T0, Driver, Feeder

_ids = count(1)


def command(minute: float, action: str, **fields: Any) -> Command:
    return Command(
        id=f"cmd-{next(_ids)}",
        ts=T0 + timedelta(minutes=minute),
        by="officer.li",
        action=action,  # type: ignore[arg-type]
        **fields,
    )


def fuse_prediction(driver: Driver, feeder: Feeder) -> Any:
    """Calls from the fuse's first two transformers roll up to the fuse."""
    driver.call(0, driver.premise_of(feeder.transformers[0]))
    driver.call(2, driver.premise_of(feeder.transformers[1]))
    (incident,) = driver.open_incidents()
    assert incident.asset == driver.engine.topology.device_ids[feeder.fuse]
    return incident


def test_split_moves_the_ticket_and_opens_one_per_asset(driver: Driver, feeder: Feeder) -> None:
    topo = driver.engine.topology
    incident = fuse_prediction(driver, feeder)
    t0, t1 = (topo.transformer_ids[t] for t in feeder.transformers[:2])
    driver.engine.handle(command(5, "split", incident=incident.id, assets=(t0, t1)))
    first, second = driver.open_incidents()
    assert (first.id, first.asset) == (incident.id, t0)  # the ticket customers quote survives
    assert second.asset == t1 and second.cause.startswith(f"split from {incident.id}")
    assert [len(first.calls), len(second.calls)] == [1, 1]
    # Pinned: a further call does not roll the officer's split back up to the fuse.
    driver.call(8, driver.premise_of(feeder.transformers[1], 1))
    assert sorted(i.asset for i in driver.open_incidents()) == sorted([t0, t1])


def test_split_leftovers_start_over_at_their_transformer(driver: Driver, feeder: Feeder) -> None:
    topo = driver.engine.topology
    incident = fuse_prediction(driver, feeder)
    t0 = topo.transformer_ids[feeder.transformers[0]]
    events = driver.engine.handle(command(5, "split", incident=incident.id, assets=(t0,)))
    (new,) = [e for e in events if e.type == "OutagePredicted"]
    assert new.device == topo.transformer_ids[feeder.transformers[1]]  # type: ignore[attr-defined]
    assert sum(len(i.calls) for i in driver.open_incidents()) == 2  # no call lost


def test_split_rejects_assets_not_below_or_nested(driver: Driver, feeder: Feeder) -> None:
    topo = driver.engine.topology
    incident = fuse_prediction(driver, feeder)
    outside = topo.device_ids[feeder.other_fuse]
    with pytest.raises(CommandRejected, match="not below"):
        driver.engine.handle(command(5, "split", incident=incident.id, assets=(outside,)))
    lateral = topo.transformer_ids[feeder.transformers[0]]
    fuse = topo.device_ids[feeder.fuse]
    with pytest.raises(CommandRejected, match="not below"):
        driver.engine.handle(command(6, "split", incident=incident.id, assets=(fuse, lateral)))
    assert driver.open_incidents() == [incident]  # a rejected command changes nothing


def test_merge_of_unrelated_predictions_moves_up_to_the_common_device(
    driver: Driver, feeder: Feeder
) -> None:
    topo = driver.engine.topology
    driver.call(0, driver.premise_of(feeder.transformers[0]))
    other = topo.device_transformers[feeder.other_fuse][0]
    driver.call(1, driver.premise_of(other))
    a, b = driver.open_incidents()
    events = driver.engine.handle(command(5, "merge", incident=b.id, into=a.id))
    assert [e.type for e in events].count("IncidentMerged") == 1
    (merged,) = driver.open_incidents()
    assert merged is a and merged.asset == topo.device_ids[feeder.recloser]
    assert len(merged.calls) == 2 and b.status == "merged" and b.merged_into == a.id


def test_merge_rejects_what_cannot_be_one_outage(driver: Driver, feeder: Feeder) -> None:
    topo = driver.engine.topology
    driver.call(0, driver.premise_of(feeder.transformers[0]))
    other = topo.device_transformers[feeder.other_fuse][0]
    driver.call(1, driver.premise_of(other))
    a, b = driver.open_incidents()
    driver.engine.handle(command(2, "confirm", incident=a.id))
    with pytest.raises(CommandRejected, match="only a prediction can be merged"):
        driver.engine.handle(command(3, "merge", incident=a.id, into=b.id))
    with pytest.raises(CommandRejected, match="does not feed"):
        driver.engine.handle(command(4, "merge", incident=b.id, into=a.id))


def test_rule_set_command_switches_prediction_rules(driver: Driver) -> None:
    events = driver.engine.handle(command(0, "rule_set", rule_set="storm"))
    assert [e.type for e in events] == ["RuleSetChanged"]
    assert driver.engine.prediction_rules is driver.engine.rules.storm
    assert driver.engine.handle(command(1, "rule_set", rule_set="storm")) == []


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"action": "merge", "incident": "INC-1"}, "into is required"),
        ({"action": "merge", "incident": "INC-1", "into": "INC-1"}, "another incident"),
        ({"action": "split", "incident": "INC-1"}, "assets is required"),
        ({"action": "rule_set"}, "rule_set is required"),
        ({"action": "confirm"}, "incident is required"),
    ],
)
def test_command_validation_names_the_missing_field(fields: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        Command(id="c", ts=T0, by="x", **fields)


def test_unknown_references_are_named(driver: Driver, feeder: Feeder) -> None:
    incident = fuse_prediction(driver, feeder)
    problem = driver.engine.check_references(
        command(3, "split", incident=incident.id, assets=("no.such",))
    )
    assert problem == "assets: unknown device or transformer 'no.such'"
    problem = driver.engine.check_references(
        command(3, "merge", incident=incident.id, into="INC-999")
    )
    assert problem == "into: no incident 'INC-999'"
