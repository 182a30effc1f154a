"""A service drop decided by silence: the ticket narrows on a tick, not only on a report.

With a low ``service_share`` a lone call first reads as its transformer (its 11 neighbours
have barely had time to call); as their silence grows the "that premise alone" half wins and
the same ticket narrows to the premise — on the silence tick, with no new report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pandas as pd

from grid.synthetic import CitySpec, generate_city
from outage.bootstrap import Network, build_engine
from outage.commands import Command
from outage.rules import InferenceModel, Rules

from .conftest import T0, Driver


def test_growing_silence_narrows_a_transformer_ticket_to_the_premise(
    make_driver: Callable[..., Driver],
) -> None:
    rules = Rules(inference=InferenceModel(service_share=0.2))
    driver = make_driver(rules)
    topo = driver.engine.topology
    transformer = next(
        t for t in range(len(topo.transformer_ids)) if len(topo.premises_of_transformer(t)) == 12
    )
    caller = driver.premise_of(transformer)
    driver.call(0, caller)
    (incident,) = driver.open_incidents()
    assert incident.premise is None and incident.customers == 12  # the transformer, for now
    for minute in range(2, 62, 2):
        driver.send(minute, type="tick")
    (still,) = driver.open_incidents()
    assert still is incident and incident.premise == topo.premise_index[caller]
    assert incident.customers == 1
    (narrowed,) = [e for e in driver.of_type("PredictionMoved") if e.premise is not None]  # type: ignore[attr-defined]
    assert narrowed.premise == caller and narrowed.customers == 1  # type: ignore[attr-defined]
    # A neighbour's call widens it again, on the report itself.
    driver.call(63, driver.premise_of(transformer, 1))
    assert incident.premise is None and incident.customers == 12


def test_a_confirmed_service_drop_widens_when_a_neighbour_reports(
    make_driver: Callable[..., Driver],
) -> None:
    driver = make_driver()
    topo = driver.engine.topology
    transformer = next(
        t for t in range(len(topo.transformer_ids)) if len(topo.premises_of_transformer(t)) >= 4
    )
    caller, neighbour = driver.premise_of(transformer), driver.premise_of(transformer, 1)
    driver.call(0, caller)
    (incident,) = driver.open_incidents()
    assert incident.premise == topo.premise_index[caller]
    driver.engine.handle(
        Command(id="cmd-1", ts=T0 + timedelta(minutes=1), by="officer", action="confirm",
                incident=incident.id)
    )  # fmt: skip
    assert incident.status == "confirmed" and incident.premise is not None  # a fact now
    driver.call(5, neighbour)
    assert driver.open_incidents() == [incident]
    assert incident.premise is None  # the neighbour is out too: the whole transformer
    assert incident.customers == int(topo.transformer_customers[transformer])
    assert driver.engine.covering_incident(topo.premise_index[neighbour]) is incident
    assert len(incident.calls) == 2  # the neighbour's call joined it, no ticket of its own


def test_a_service_drop_counts_every_customer_of_its_premise() -> None:
    # One premise with three accounts (a shop and two flats above it, one service drop): its
    # lone report is its service drop, and all three customers are out, not one.
    tables = generate_city(CitySpec(customers=600, seed=2))
    network = Network.from_tables(tables)
    topo = network.topology
    transformer = next(
        t for t in range(len(topo.transformer_ids)) if len(topo.premises_of_transformer(t)) >= 4
    )
    premise = topo.premise_ids[int(topo.premises_of_transformer(transformer)[0])]
    row = tables.customers[tables.customers["premise"] == premise].iloc[0]
    extra = pd.DataFrame([{**row.to_dict(), "account": f"{row['account']}-{n}"} for n in (1, 2)])
    customers = pd.concat([tables.customers, extra], ignore_index=True)
    driver = Driver(build_engine(Network.from_tables(replace(tables, customers=customers))))
    driver.call(0, premise)
    (incident,) = driver.open_incidents()
    assert incident.premise == driver.engine.topology.premise_index[premise]
    assert incident.customers == int((customers["premise"] == premise).sum()) == 3
    (predicted,) = driver.of_type("OutagePredicted")
    assert predicted.customers == 3  # type: ignore[attr-defined]
