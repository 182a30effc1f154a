"""A storm replayed into the service shows up live: map, incident list, banner, chart, feed."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import Page, expect

from tests.dashboard.conftest import Watched, sign_in, wait_until
from tests.dashboard.server import Dashboard


def ids(page: Page, selector: str) -> set[str]:
    return set(page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.id)"))


def test_the_network_is_the_map(watched: Watched, dashboard: Dashboard) -> None:
    page = sign_in(watched, dashboard)
    network = dashboard.get("/v1/map/network")
    layers = [f["properties"] for f in network["features"]]
    feeders = {p["feeder"] for p in layers if p["layer"] == "section"}
    substations = {p["id"] for p in layers if p["layer"] == "substation"}
    assert page.locator("#map path.section").count() == len(feeders)
    assert ids(page, "#map .substation") == substations
    drawn_kinds = set(
        page.eval_on_selector_all("#map path.device", "e => e.map(x => x.dataset.kind)")
    )
    assert drawn_kinds == {p["kind"] for p in layers if p["layer"] == "device"}
    # no tile server unless one is asked for: nothing is loaded from another origin
    assert page.locator("#map image.tile").count() == 0
    outside = page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(u => !u.startsWith(location.origin))"
    )
    assert outside == []
    assert watched.errors == []


def test_replayed_storm_appears_on_the_map_and_in_the_list(
    watched: Watched, dashboard: Dashboard, storm: list[dict[str, Any]]
) -> None:
    page = sign_in(watched, dashboard)
    fetches: list[float] = []
    page.on(
        "request",
        lambda r: fetches.append(time.monotonic()) if "/v1/map/incidents" in r.url else None,
    )
    began = time.monotonic()
    dashboard.post_signals(storm)
    posted = time.monotonic() - began

    def board_matches_api() -> Any:
        body = dashboard.get("/v1/map/incidents")
        api = {i["id"] for i in body["incidents"]}
        open_ = {i["id"] for i in body["incidents"] if i["status"] in body["open_states"]}
        listed = ids(page, "#incident-list tbody tr")
        drawn = ids(page, "#layer-incidents .incident")
        return (api and listed == open_ and drawn == api) or (len(api), len(listed), len(drawn))

    wait_until(page, board_matches_api)
    body = dashboard.get("/v1/map/incidents")
    incidents = body["incidents"]
    expect(page.locator("#incident-count")).to_have_text(str(body["open"]))

    # the biggest outage heads the list, with the service's figures
    listed_open = [i for i in incidents if i["status"] in body["open_states"]]
    biggest = sorted(listed_open, key=lambda i: (-i["customers_affected"], i["id"]))[0]
    first = page.locator("#incident-list tbody tr").first
    expect(first).to_have_attribute("data-id", biggest["id"])
    expect(first.locator(".customers")).to_have_text(f"{biggest['customers_affected']:,}")
    expect(first.locator(".calls")).to_have_text(f"{biggest['calls']:,}")

    # statuses colour the map; hazards are marked where they were reported
    statuses = page.eval_on_selector_all(
        "#layer-incidents .incident",
        "e => Object.fromEntries(e.map(x => [x.dataset.id, x.dataset.status]))",
    )
    assert statuses == {i["id"]: i["status"] for i in incidents}
    hazards = {h["ticket"] for i in incidents for h in i["hazard_tickets"] if h["point"]}
    assert ids(page, "#layer-hazards .hazard") == hazards

    # header totals and the storm banner follow /v1/storm
    storm_now = dashboard.get("/v1/storm")
    out = storm_now["scopes"]["system"]["customers_out"]
    expect(page.locator("#customers-out")).to_have_text(f"{out:,} out")
    declared = {s for s, v in storm_now["scopes"].items() if v["declared"]}
    if declared:
        expect(page.locator("#storm-banner")).to_be_visible()
        shown = set(
            page.eval_on_selector_all("#storm-banner .scope", "e => e.map(x => x.dataset.scope)")
        )
        assert shown == declared
    else:
        expect(page.locator("#storm-banner")).to_be_hidden()

    # the call-rate chart adds up to the service's buckets (event time, not the browser clock)
    rate = dashboard.get("/v1/call-rate?hours=6&bucket_minutes=5")
    calls = sum(b["calls"] for b in rate["buckets"])
    assert calls > 0

    def chart_total() -> Any:
        bars = page.eval_on_selector_all("#call-chart .bar", "e => e.map(x => +x.dataset.calls)")
        return sum(bars) == calls or sum(bars)

    wait_until(page, chart_total, timeout_s=40)
    # the feed names notable events (never one line per call) and stays capped
    feed = page.eval_on_selector_all("#feed li", "e => e.map(x => x.dataset.type)")
    assert 0 < len(feed) <= 60 and "CallAttached" not in feed

    # thousands of events, yet the incidents were refetched at most every 1.5 s
    during = [t - began for t in fetches if t - began <= posted]
    assert len(during) <= posted / 1.5 + 2, (len(during), posted)
    watched.screenshot("storm")
    assert watched.errors == []
