"""Crews, work orders and whose ETR it is, on the duty officer's board (issue 17).

A storm goes into a real `outage serve` started with a crew roster; crews report by crew
signals (dispatched, on site, then repairing with their own ETR). The page must show what the
API says: the work-order queue (soonest due first) with each order's SLA clock, the red and
amber counts and the substations' "most customers back by" times; every crew on the map with
its status; and beside every ETR, in the list and the incident panel, whose it is. The oracle
is the API's answer at the time, never a constant. The browser runs in New York time: every
time on the page must still read in the utility's zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import Watched, sign_in, wait_until
from tests.dashboard.server import Dashboard, start, storm_signals

ZONE = ZoneInfo("Asia/Shanghai")
BAD_TEXT = re.compile(r"NaN|undefined|null|Invalid Date|\b[AP]M\b")
#: Three crews with depots in the demo city (its premises lie in 113.25-113.35 E,
#: 23.07-23.17 N) and one that is never on shift while the storm plays.
ROSTER = """\
timezone: Asia/Shanghai
crews:
  - {id: c1, name: "Line crew 1", skills: [line, transformer], depot: {lon: 113.30, lat: 23.10},
     shift: {start: "00:00", end: "23:59"}}
  - {id: c2, name: "Line crew 2", skills: [line, transformer], depot: {lon: 113.30, lat: 23.10}}
  - {id: c3, name: "Transformer crew", skills: [transformer], depot: {lon: 113.26, lat: 23.15}}
  - {id: c4, name: "Night crew", skills: [line], depot: {lon: 113.33, lat: 23.08},
     shift: {start: "03:00", end: "03:30"}}
"""


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """A service of its own, with the roster: its crews and orders are this test's."""
    tmp = tmp_path_factory.mktemp("restoration-board")
    roster = tmp / "crews.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    running = start(tmp, extra=("--crews", str(roster)))
    yield running
    running.service.stop()


def when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def zulu(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def shanghai(iso: str) -> str:
    return when(iso).astimezone(ZONE).strftime("%H:%M")


def open_orders(board: Dashboard) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The API's open work orders by due time (then id), and its substation ETRs."""
    body = board.get("/v1/work-orders")
    orders = sorted(body["work_orders"], key=lambda o: (o["due"] or "~", o["id"]))
    return orders, body["substation_etrs"]


def crews_by_id(board: Dashboard) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in board.get("/v1/crews")["crews"]}


def queue(page: Page) -> list[list[str]]:
    """The queue's rows as [order, incident, clock badge's clock, its row's clock]."""
    return page.eval_on_selector_all(  # type: ignore[no-any-return]
        "#order-list tbody tr[data-id]",
        "rows => rows.map(r => [r.dataset.id, r.dataset.incident,"
        " r.querySelector('.sla')?.dataset.clock, r.dataset.clock])",
    )


def crew_marks(page: Page) -> dict[str, str]:
    return dict(
        page.eval_on_selector_all(
            "#layer-crews .crew", "e => e.map(x => [x.dataset.id, x.dataset.status])"
        )
    )


def etr_sources(page: Page) -> dict[str, str | None]:
    """Each listed incident's ETR source tag (None where the row shows no ETR)."""
    return dict(
        page.eval_on_selector_all(
            "#incident-list tbody tr",
            "rows => rows.map(r => [r.dataset.id,"
            " r.querySelector('.etr-source')?.dataset.source ?? null])",
        )
    )


def api_sources(board: Dashboard) -> dict[str, str | None]:
    mapped = board.get("/v1/map/incidents")
    return {
        i["id"]: i["etr_source"] if i["etr"] else None
        for i in mapped["incidents"]
        if i["status"] in mapped["open_states"]
    }


def no_bad_text(page: Page) -> None:
    text = page.evaluate("document.body.innerText") + " ".join(
        page.eval_on_selector_all("input", "e => e.map(x => x.value)")
    )
    found = BAD_TEXT.findall(text)
    assert not found, f"the page shows {found!r}"


def test_crews_work_orders_and_etr_sources_on_the_board(
    officer_page: Watched, board: Dashboard
) -> None:
    page = sign_in(officer_page, board)
    board.post_signals(storm_signals(), batch=500)
    wait_until(page, lambda: len(open_orders(board)[0]) >= 3 or open_orders(board)[0])

    # -- crews report from the field: one on its way, one on site -------------------------------
    orders, _ = open_orders(board)
    travelling, working = orders[0], orders[1]
    now = when(board.get("/v1/storm")["engine_time"])
    board.post_signals(
        [
            {
                "type": "crew",
                "id": "crew-c1-1",
                "ts": zulu(now + timedelta(seconds=1)),
                "crew": "c1",
                "status": "dispatched",
                "incident": travelling["incident"],
                "lon": round((113.30 + travelling["lon"]) / 2, 6),
                "lat": round((23.10 + travelling["lat"]) / 2, 6),
            },
            {
                "type": "crew",
                "id": "crew-c2-1",
                "ts": zulu(now + timedelta(seconds=1)),
                "crew": "c2",
                "status": "dispatched",
                "incident": working["incident"],
            },
            {
                "type": "crew",
                "id": "crew-c2-2",
                "ts": zulu(now + timedelta(seconds=2)),
                "crew": "c2",
                "status": "on_site",
                "lon": working["lon"],
                "lat": working["lat"],
            },
        ]
    )
    wait_until(page, lambda: crews_by_id(board)["c2"]["status"] == "on_site" or crews_by_id(board))

    # -- the queue: every open order, soonest due first, each with the API's clock --------------
    def queue_matches() -> Any:
        api, _ = open_orders(board)
        want = [[o["id"], o["incident"], o["clock"], o["clock"]] for o in api]
        shown = queue(page)
        return (bool(want) and shown == want) or (shown, want)

    wait_until(page, queue_matches)
    orders, substation_etrs = open_orders(board)
    crews = crews_by_id(board)
    expect(page.locator("#order-count")).to_have_text(str(len(orders)))
    reds = sum(o["clock"] == "red" for o in orders)
    ambers = sum(o["clock"] == "amber" for o in orders)
    expect(page.locator("#sla-red")).to_have_text(f"{reds} overdue")
    expect(page.locator("#sla-amber")).to_have_text(f"{ambers} due soon")
    for order in orders:
        row = page.locator(f'#order-list tr[data-id="{order["id"]}"]')
        crew = crews[order["crew"]]["name"] if order["crew"] else "unassigned"
        expect(row.locator(".crew")).to_have_text(crew)
        expect(row.locator(".step")).to_have_text(order["step"])
        expect(row.locator(".due")).to_contain_text(shanghai(order["due"]))
        left = round(order["minutes_left"])
        expect(row.locator(".left")).to_have_text(f"{'−' if left < 0 else ''}{abs(left):,}")
        expect(row).to_contain_text(order["area_class"])
        expect(row).to_contain_text(f"{order['customers']:,}")
    assert (
        page.locator(f'#order-list tr[data-id="{working["id"]}"] .step').inner_text()
        == (next(o for o in orders if o["id"] == working["id"])["step"])
    )  # on site: the restoration clock runs

    # -- a storm is declared: when most customers of each substation should be back -------------
    shown_etrs = page.locator("#substation-etrs .sub-etr")
    if substation_etrs:
        wait_until(page, lambda: shown_etrs.count() == len(substation_etrs) or shown_etrs.count())
        for substation, etr in substation_etrs.items():
            tag = page.locator(f'#substation-etrs .sub-etr[data-substation="{substation}"]')
            expect(tag).to_contain_text(shanghai(etr))
    else:
        expect(page.locator("#substation-etrs")).to_be_hidden()

    # -- every crew on the map, with the API's status; a working one names its incident ---------
    def crews_match() -> Any:
        api = {
            c["id"]: c["status"]
            for c in crews_by_id(board).values()
            if c["lon"] is not None or c["depot"]
        }
        shown = crew_marks(page)
        return (shown == api) or (shown, api)

    wait_until(page, crews_match)
    c1 = page.locator('#layer-crews .crew[data-id="c1"]')
    expect(c1).to_have_attribute("data-incident", travelling["incident"])
    expect(c1.locator("title")).to_contain_text("Line crew 1")
    expect(c1.locator("title")).to_contain_text(travelling["id"])
    expect(page.locator('#layer-labels .crew-label[data-crew="c1"]')).to_have_text("Line crew 1")
    # on site: beside the outage's own marker, not at its depot
    distance = page.evaluate(
        """([crew, incident]) => {
            const centre = (e) => { const r = e.getBoundingClientRect();
                                    return [r.x + r.width / 2, r.y + r.height / 2]; };
            const a = centre(document.querySelector(`#layer-crews .crew[data-id="${crew}"]`));
            const b = centre(document.querySelector(
                `#layer-incidents .incident[data-id="${incident}"] .marker`));
            return Math.hypot(a[0] - b[0], a[1] - b[1]); }""",
        ["c2", working["incident"]],
    )
    assert distance < 30, distance
    legend = page.locator("#legend-crews")
    expect(legend).to_be_visible()
    for status in ("dispatched", "en route", "on site", "repairing", "available", "off shift"):
        expect(legend).to_contain_text(status)
    expect(page.locator("#legend")).to_contain_text("Outage status")  # the groups stay apart
    expect(page.locator("#legend")).to_contain_text("Network")

    # -- whose ETR it is, on every listed incident -----------------------------------------------
    def sources_match() -> Any:
        api = api_sources(board)
        shown = etr_sources(page)
        return (bool(api) and shown == api) or (shown, api)

    wait_until(page, sources_match)
    no_bad_text(page)
    officer_page.screenshot("restoration-board")

    # -- the incident panel, selected from the queue: ETR, its source and basis, the order -------
    page.locator(f'#order-list tr[data-id="{working["id"]}"]').click()
    target = working["incident"]
    expect(page.locator("#detail")).to_have_attribute("data-id", target)
    expect(page.locator(f'#order-list tr[data-id="{working["id"]}"]')).to_have_class("selected")
    incident = board.get(f"/v1/incidents/{target}")

    def detail_matches() -> Any:
        api = board.get(f"/v1/incidents/{target}")
        source = api["etr_source"] if api["etr"] else ""
        shown = page.locator("#detail-etr").get_attribute("data-source")
        clock = page.locator("#detail-work-order").get_attribute("data-clock")
        want = (source, api["work_order"]["clock"])
        return (shown, clock) == want or ((shown, clock), want)

    wait_until(page, detail_matches)
    if incident["etr"]:
        expect(page.locator("#detail-etr")).to_contain_text(shanghai(incident["etr"]))
        expect(page.locator("#detail-etr .etr-source")).to_have_text(incident["etr_source"])
    if incident["etr"] and incident["etr_basis"]:
        expect(page.locator("#detail-etr-basis")).to_have_text(str(incident["etr_basis"]))
    brief = incident["work_order"]
    work_order = page.locator("#detail-work-order")
    expect(work_order).to_contain_text(brief["id"])
    expect(work_order).to_contain_text(f"crew {brief['crew']}")
    expect(work_order).to_contain_text(f"{brief['step']} due")
    expect(work_order).to_contain_text(shanghai(brief["due"]))
    expect(work_order.locator(".sla")).to_have_attribute("data-clock", brief["clock"])
    officer_page.screenshot("restoration-detail")

    # -- the crew gives its own ETR while repairing: the page follows the API --------------------
    crew_etr = now + timedelta(hours=3, minutes=10)
    board.post_signals(
        [
            {
                "type": "crew",
                "id": "crew-c2-3",
                "ts": zulu(now + timedelta(seconds=3)),
                "crew": "c2",
                "status": "repairing",
                "etr": zulu(crew_etr),
            }
        ]
    )
    wait_until(page, lambda: crews_by_id(board)["c2"]["status"] == "repairing")
    wait_until(page, detail_matches)
    expect(page.locator('#layer-crews .crew[data-id="c2"]')).to_have_attribute(
        "data-status", crews_by_id(board)["c2"]["status"]
    )
    wait_until(page, sources_match)
    source = board.get(f"/v1/incidents/{target}")["etr_source"]
    expect(page.locator(f'#incident-list tr[data-id="{target}"] .etr-source')).to_have_text(source)

    # -- ... and the officer makes it theirs from the panel ---------------------------------------
    officer_etr = (crew_etr + timedelta(minutes=20)).astimezone(ZONE)
    page.fill("#etr", officer_etr.strftime("%Y-%m-%d %H:%M"))
    page.click("#do-etr")
    wait_until(page, lambda: board.get(f"/v1/incidents/{target}")["etr_source"] == "officer")
    wait_until(page, detail_matches)
    wait_until(page, sources_match)
    expect(page.locator("#detail-etr .etr-source")).to_have_text("officer")
    wait_until(page, queue_matches)
    no_bad_text(page)
    feed = page.eval_on_selector_all("#feed li", "e => e.map(x => x.dataset.type)")
    assert "CrewStatusChanged" in feed, feed  # one line per crew report (never per call)

    # -- sign out: no crew, order or substation ETR stays behind the form -------------------------
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    assert page.locator("#layer-crews .crew").count() == 0
    assert page.locator("#layer-labels .crew-label").count() == 0
    assert page.locator("#order-list tbody tr").count() == 0
    expect(page.locator("#orders-panel")).to_be_hidden()
    assert "WO-" not in page.evaluate("document.body.innerText")
    assert officer_page.errors == []
