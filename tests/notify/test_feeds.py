"""Public feeds: GeoJSON areas that never expose one home, CAP 1.2 valid against OASIS."""

from __future__ import annotations

from datetime import timedelta

import pytest
import xmlschema
from shapely.geometry import Point, shape

from notify.feeds import cap
from outage import events as ev
from tests.notify.conftest import T0


@pytest.fixture
def feeds(make_notifier, city):
    notifier, stream = make_notifier(feed={"min_customers": 10, "cap_min_customers": 50})
    notifier.premise_xy = city.tables.premise_points()
    return notifier, stream


def test_geojson_draws_big_outages_and_hides_small_ones(make_notifier, city, assets) -> None:
    topo = city.topology
    # a small outage elsewhere: one transformer of the other lateral
    other = topo.device_transformers[topo.device_index[assets.other_fuse]][0]
    small_premises = topo.premises_of_transformer(other)
    below = topo.premises_below(topo.device_index[assets.fuse])
    small_customers = int(topo.premise_customers[small_premises].sum())
    big_customers = int(topo.premise_customers[below].sum())
    assert small_customers < big_customers
    notifier, stream = make_notifier(feed={"min_customers": small_customers + 1})
    notifier.premise_xy = xy = city.tables.premise_points()
    stream.predicted("INC-BIG", assets.fuse)
    stream.predicted("INC-SMALL", topo.transformer_ids[other], level="transformer")
    feed = notifier.outage_geojson(T0)
    assert feed["customers_out"] == small_customers + big_customers
    by_type = {f["properties"]["area_type"]: f for f in feed["features"]}
    big = by_type["outage"]
    assert big["properties"]["incidents"] == ["INC-BIG"]
    assert big["properties"]["customers_out"] == big_customers
    area = shape(big["geometry"])
    assert all(area.contains(Point(*xy[p])) for p in below)
    small = by_type["grid_cell"]
    assert small["properties"]["incidents"] == ["INC-SMALL"]
    assert small["properties"]["customers_out"] is None
    assert small["properties"]["customers_band"] == f"<{small_customers + 1}"
    cell = shape(small["geometry"])
    # a fixed grid square around the premises, not a shape fitted to them
    assert cell.area == pytest.approx(0.01 * 0.01)
    assert cell.contains(Point(*xy[small_premises].mean(axis=0)))
    corners = {tuple(c) for c in small["geometry"]["coordinates"][0]}
    assert not corners & {(round(x, 5), round(y, 5)) for x, y in xy[small_premises]}
    # restoring takes the big outage off the map
    stream.restored("INC-BIG", assets.fuse, 5)
    kinds = [f["properties"]["area_type"] for f in notifier.outage_geojson(T0)["features"]]
    assert kinds == ["grid_cell"]


def test_cap_alert_update_cancel_validate_against_the_oasis_schema(feeds, assets) -> None:
    notifier, stream = feeds
    stream.predicted("INC-1", assets.recloser)  # customers in the event: 0, under threshold
    assert notifier.book.incidents["INC-1"].cap == []
    stream.emit(
        ev.PredictionMoved, 1, incident="INC-1", from_device=assets.recloser,
        to_device=assets.recloser, customers=800, reason="count",
    )
    stream.emit(ev.EtrChanged, 2, incident="INC-1", etr=T0 + timedelta(hours=4), previous=None,
                by="officer")
    stream.emit(ev.EtrChanged, 3, incident="INC-1", etr=T0 + timedelta(hours=4),
                previous=T0 + timedelta(hours=4), by="officer")  # no change: no new message
    stream.restored("INC-1", assets.recloser, 90)
    messages = notifier.cap_messages("INC-1")
    assert [m.split("<msgType>")[1].split("<")[0] for m in messages] == [
        "Alert", "Update", "Cancel"]
    for message in messages:
        cap.validate(message)
    assert "INC-1-1" in messages[2] and "<references>" in messages[2]
    assert "<polygon>" in messages[0] and "停电" in messages[0]
    assert notifier.cap_alerts() == [messages[-1]]


def test_an_invalid_cap_document_is_refused() -> None:
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        cap.validate(
            '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier>'
            "</alert>"
        )
