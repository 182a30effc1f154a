"""The duty officer's board read at a glance, through a whole storm played into `outage serve`.

One storm (a typhoon warning, a dozen faults with nested ones, hazards, restorations) goes to a
fresh service in two halves, then the ordinary trickle of calls that follows a storm. The
browser runs in New York time to prove the page shows the utility's zone (Asia/Shanghai). Each
step checks what the officer sees against the service's own answers (issue 16) and saves a
screenshot in out/test-screenshots/. The steps share one page, so they are one test.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from outage.bootstrap import Network
from scenarios.city_storm import CityStorm, simulate_storm
from tests.conftest import DEMO_GPKG
from tests.dashboard.conftest import SCREENSHOTS, Watched, sign_in, wait_until
from tests.dashboard.server import Dashboard, start

ZONE = ZoneInfo("Asia/Shanghai")
#: The storm starts now, so that officer commands (stamped with the wall clock, or the engine's
#: time when that is ahead) fall inside it, as they do in the demo.
START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
FIRST_HALF = timedelta(hours=4)
BAD_TEXT = re.compile(r"NaN|undefined|Invalid Date|\b[AP]M\b")


def two_transformer_outages(board: Dashboard, network: Network) -> tuple[str, str]:
    """Make two transformer predictions on one feeder (under two quiet laterals); their ids."""
    topo = network.topology
    out = {i["device"] for i in board.get("/v1/map/incidents")["incidents"]}
    now = datetime.fromisoformat(board.get("/v1/storm")["engine_time"].replace("Z", "+00:00"))
    by_feeder: dict[int, list[int]] = {}
    for fuse, kind in enumerate(topo.device_kind):
        chain = {topo.device_ids[d] for d in topo.device_chain[fuse]}
        if kind == "fuse" and topo.device_transformers[fuse] and not chain & out:
            by_feeder.setdefault(topo.device_feeder[fuse], []).append(fuse)
    fuses = next(f for f in by_feeder.values() if len(f) >= 2)[:2]
    transformers = [topo.device_transformers[f][0] for f in fuses]
    signals: list[dict[str, Any]] = []
    for n, t in enumerate(transformers):
        premises = [topo.premise_ids[p] for p in topo.premises_of_transformer(t)]
        at = (now + timedelta(seconds=30 + n)).isoformat().replace("+00:00", "Z")
        signals += [
            {"type": "meter", "id": f"pair-gasp-{p}", "ts": at, "premise": p, "event": "last_gasp"}
            for p in premises
        ]
        signals.append({"type": "call", "id": f"pair-call-{n}", "ts": at, "premise": premises[0]})
    board.post_signals(signals)
    wanted = {topo.transformer_ids[t] for t in transformers}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = {
            i["device"]: i["id"]
            for i in board.get("/v1/map/incidents")["incidents"]
            if i["device"] in wanted and i["status"] == "predicted"
        }
        if len(found) == 2:
            first, second = sorted(found.values())
            return first, second
        time.sleep(0.2)
    raise AssertionError(f"no predictions at {sorted(wanted)}")


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """A service of its own: this storm must start, peak and stand down on a clean engine."""
    # The storm starts now and plays hours of event time ahead of the wall clock.
    running = start(tmp_path_factory.mktemp("duty-board"), ("--max-clock-skew", "172800"))
    yield running
    running.service.stop()


@pytest.fixture(scope="module")
def storm() -> dict[str, Any]:
    """The storm's signals (time order) and the typhoon warning's end."""
    network = Network.load(DEMO_GPKG)
    simulated = simulate_storm(
        network.topology,
        network.tables.customers,
        CityStorm(faults=12, seed=5, start=START, call_rate=0.35, nested=0.1, warning=True),
        premise_xy=network.tables.premise_points(),
    )
    signals = sorted(simulated.signals, key=lambda s: s.get("ts") or s["start"])
    last_fault = max(datetime.fromisoformat(f["start"]) for f in simulated.truth["faults"])
    until = last_fault + timedelta(hours=1)  # the typhoon has passed an hour after its last fault
    for signal in signals:
        if signal["type"] == "warning":
            signal["until"] = until.isoformat()
    end = datetime.fromisoformat(signals[-1]["ts"])
    return {"signals": signals, "end": end, "network": network}


def shanghai(iso: str) -> str:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZONE).strftime("%H:%M")


def before(signals: list[dict[str, Any]], until: datetime) -> list[dict[str, Any]]:
    return [s for s in signals if datetime.fromisoformat(s.get("ts") or s["start"]) < until]


def routine_calls(network: Network, after: datetime, hours: float) -> list[dict[str, Any]]:
    """The hotline's ordinary trickle after a storm: a billing or service question every five
    minutes (kind ``other``, from customers with power), which is what moves event time on."""
    premises = network.topology.premise_ids
    return [
        {
            "type": "call",
            "id": f"routine-{n}",
            "ts": (after + timedelta(minutes=5 * n)).isoformat(),
            "premise": premises[(7919 * n) % len(premises)],
            "kind": "other",
        }
        for n in range(1, int(hours * 12) + 1)
    ]


def body_text(page: Page) -> str:
    return page.evaluate("document.body.innerText")


def no_bad_text(page: Page) -> None:
    """No NaN, undefined, invalid date or 12-hour time anywhere the officer reads (inputs too)."""
    text = body_text(page) + " " + " ".join(
        page.eval_on_selector_all("input", "e => e.map(x => x.value)")
    )
    found = BAD_TEXT.findall(text)
    assert not found, f"the page shows {found!r}"


def ids(page: Page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.id)")  # type: ignore[no-any-return]


def shot(watched: Watched, name: str) -> Path:
    return watched.screenshot(name)


def test_a_storm_on_the_duty_officers_board(
    officer_page: Watched, board: Dashboard, storm: dict[str, Any]
) -> None:
    page = sign_in(officer_page, board)
    signals: list[dict[str, Any]] = storm["signals"]
    first = before(signals, START + FIRST_HALF)
    board.post_signals(first, batch=500)

    # -- the list, the header, the map and every endpoint agree on "open" (item 2) ---------------
    def settled() -> Any:
        mapped = board.get("/v1/map/incidents")
        api = {i["id"] for i in mapped["incidents"] if i["status"] in mapped["open_states"]}
        listed = set(ids(page, "#incident-list tbody tr"))
        return (api and listed == api) or (len(api), len(listed))

    wait_until(page, settled, timeout_s=60)
    mapped = board.get("/v1/map/incidents")
    storm_now = board.get("/v1/storm")
    statuses = "&".join(f"status={s}" for s in mapped["open_states"])
    listed = board.get(f"/v1/incidents?limit=5000&{statuses}")
    open_count = mapped["open"]
    assert storm_now["scopes"]["system"]["open_incidents"] == open_count == listed["total"]
    expect(page.locator("#incident-count")).to_have_text(str(open_count))
    expect(page.locator("#open-incidents")).to_have_text(f"{open_count:,} open")
    assert page.locator("#incident-list tbody tr").count() == open_count
    drawn = set(ids(page, "#layer-incidents .incident"))
    assert drawn == {i["id"] for i in mapped["incidents"]}  # open, partially restored, planned
    out = storm_now["scopes"]["system"]["customers_out"]
    expect(page.locator("#customers-out")).to_have_text(f"{out:,} out")

    # -- the banner names every declared scope with the same figures -------------------------------
    declared = {s for s, v in storm_now["scopes"].items() if v["declared"]}
    assert "system" in declared, "this storm is big enough for a system storm"
    expect(page.locator("#storm-banner")).to_be_visible()
    wait_until(page, lambda: set(ids_of_scopes(page)) == declared or ids_of_scopes(page))
    system_scope = page.locator('#storm-banner .scope[data-scope="system"]')
    expect(system_scope).to_contain_text(f"{open_count:,} open")

    # -- times in the utility's zone, 24-hour, whatever the browser's zone (item 8) ---------------
    engine = storm_now["engine_time"]
    expect(page.locator("#engine-time")).to_contain_text(shanghai(engine))
    assert "GMT+8" in page.locator("#engine-time").inner_text()
    new_york = datetime.fromisoformat(engine.replace("Z", "+00:00")).astimezone(
        ZoneInfo("America/New_York")
    )
    assert new_york.strftime("%H:%M") not in page.locator("#engine-time").inner_text()

    # -- the hazard queue comes first and lists every open wire-down and fire (item 9) -----------
    hazards = [h for h in board.get("/v1/hazards")["hazards"] if h["open"]]
    assert any(h["kind"] == "wire_down" for h in hazards), "the storm reported a wire down"
    queue = page.locator("#hazard-list li[data-ticket]")
    wait_until(page, lambda: queue.count() == len(hazards) or queue.count())
    shown = page.eval_on_selector_all(
        "#hazard-list li[data-ticket]", "e => e.map(x => x.dataset.ticket)"
    )
    assert shown == [h["ticket"] for h in sorted(hazards, key=lambda h: h["at"])]
    side = page.eval_on_selector_all("#side > section", "e => e.map(x => x.id)")
    assert side[0] == "hazards-panel"
    wire = next(h for h in hazards if h["kind"] == "wire_down")
    row = page.locator(f'#hazard-list li[data-ticket="{wire["ticket"]}"]')
    expect(row).to_contain_text("wire down", ignore_case=True)
    expect(row).to_contain_text(wire["address"])
    expect(row).to_contain_text(wire["incident"])
    expect(row.locator(".hz-age")).to_have_text(re.compile(r"^(\d+ h )?\d+ min$"))

    # -- the chart: clock-aligned 5-minute bars, stable across refreshes, a y axis (item 4) ------
    def bars() -> dict[str, int]:
        got = page.eval_on_selector_all(
            "#call-chart .bar", "e => e.map(x => [x.dataset.start, +x.dataset.calls])"
        )
        return dict(got)

    # the page has caught up with the service: every complete bucket shows the service's count
    served = {b["start"]: b for b in board.get("/v1/call-rate?hours=6&bucket_minutes=5")["buckets"]}
    done = {s: b["calls"] for s, b in served.items() if b["complete"] and b["calls"]}
    wait_until(page, lambda: bool(bars()) and all(bars().get(s) == n for s, n in done.items()))
    first_bars = bars()
    assert all(int(s[14:16]) % 5 == 0 and s.endswith(":00Z") for s in first_bars)
    assert page.locator("#call-chart text.axis.y").count() >= 3  # a y axis with round ticks
    labels = page.eval_on_selector_all("#call-chart text.axis.x", "e => e.map(x => x.textContent)")
    assert labels and all(re.fullmatch(r"\d\d:00", t) for t in labels)
    window = page.locator("#chart-title").inner_text()
    began = min(
        datetime.fromisoformat(v["declared_at"].replace("Z", "+00:00"))
        for v in storm_now["scopes"].values()
        if v["declared"]
    )
    oldest_bar = min(datetime.fromisoformat(s.replace("Z", "+00:00")) for s in first_bars)
    rate = board.get("/v1/call-rate?hours=6&bucket_minutes=5")
    first_bucket = datetime.fromisoformat(rate["buckets"][0]["start"].replace("Z", "+00:00"))
    assert min(oldest_bar, first_bucket) <= began, (window, began)  # the storm's start is on it
    # a refresh later (a new call arrives, the chart is re-read): the same complete bars
    later_call = routine_calls(storm["network"], START + FIRST_HALF, 0.1)[:1]
    board.post_signals(later_call)
    page.wait_for_timeout(6000)
    second_bars = bars()
    # bars complete at the first read cannot change (those that slid out of the 6-hour window
    # as event time moved on are not compared)
    complete = [s for s in first_bars if served.get(s, {}).get("complete") and s in second_bars]
    assert complete and all(second_bars[s] == first_bars[s] for s in complete), [
        (s, first_bars[s], second_bars[s]) for s in complete if second_bars[s] != first_bars[s]
    ]
    peak = max(first_bars.values())
    assert page.locator("#call-chart").get_attribute("data-peak") == str(max(second_bars.values()))
    assert max(second_bars.values()) >= peak

    # -- the map: a legend, labelled outage areas and feeders (item 10) ----------------------------
    legend = page.locator("#legend")
    expect(legend).to_contain_text("Outage status")
    expect(legend).to_contain_text("Network")
    expect(legend).to_contain_text("tie (normally open")
    legend_top = page.eval_on_selector("#legend", "e => e.getBoundingClientRect().top")
    map_bottom = page.eval_on_selector("#map", "e => e.getBoundingClientRect().bottom")
    assert legend_top >= map_bottom - 1  # beside the map, never over an outage
    feeder_names = page.eval_on_selector_all(
        "#layer-feeder-labels text", "e => e.map(x => x.textContent)"
    )
    assert len(feeder_names) >= 6 and all(n.startswith("S0") for n in feeder_names)
    incidents = board.get("/v1/map/incidents")["incidents"]
    big = max(
        (i for i in incidents if i["level"] == "device" and i["status"] in mapped["open_states"]),
        key=lambda i: i["customers_affected"],
    )
    label = page.locator(f'#layer-labels .area-label[data-id="{big["id"]}"]')
    expect(label).to_contain_text(f"{big['customers_affected']:,} out")
    expect(label).to_contain_text("ETR")

    # -- the table shows more rows, the ETR column is readable at 1600 px (item 11) ---------------
    visible_rows = page.evaluate(
        """() => { const wrap = document.querySelector('.table-wrap');
                   const row = wrap.querySelector('tbody tr');
                   return row ? Math.floor(wrap.clientHeight / row.offsetHeight) - 1 : 0; }"""
    )
    assert visible_rows >= 12
    expect(page.locator("#incident-list th").nth(7)).to_have_text("ETR")
    no_bad_text(page)
    shot(officer_page, "board-storm")

    # -- select the incident with the wire down: zoomed to it with its feeder around (item 10) ----
    target = wire["incident"]
    page.locator(f'#hazard-list li[data-ticket="{wire["ticket"]}"] button.link').click()
    expect(page.locator("#detail")).to_have_attribute("data-id", target)
    expect(page.locator("#detail-hazards")).to_contain_text(wire["ticket"])
    view = page.eval_on_selector("#map", "m => m.viewBox.baseVal.width")
    extent = page.evaluate("() => document.querySelector('#layer-network').getBBox().width")
    assert view < extent * 0.8  # zoomed in, not the whole network
    inc = next(i for i in incidents if i["id"] == target)
    fits = page.evaluate(
        """([id]) => {
            const v = document.querySelector('#map').viewBox.baseVal;
            const g = document.querySelector(`#layer-incidents .incident[data-id="${id}"]`)
                .getBBox();
            return g.x >= v.x && g.y >= v.y && g.x + g.width <= v.x + v.width
                && g.y + g.height <= v.y + v.height; }""",
        [target],
    )
    assert fits, inc["device"]

    # -- set an ETR, then "set" it again unchanged: no second EtrChanged (item 6) -----------------
    etr_value = page.locator("#etr").input_value()
    page.click("#do-etr")
    wait_until(page, lambda: board.get(f"/v1/incidents/{target}")["etr"] is not None)
    etr = board.get(f"/v1/incidents/{target}")["etr"]
    assert shanghai(etr) == etr_value[11:16]  # the input was in the utility's zone
    row_etr = page.locator(f'#incident-list tr[data-id="{target}"] .etr')
    expect(row_etr).to_contain_text(shanghai(etr))
    cell_fits = page.eval_on_selector(
        f'#incident-list tr[data-id="{target}"] .etr', "c => c.scrollWidth <= c.clientWidth"
    )
    assert cell_fits, "the ETR column is cut off"
    page.wait_for_timeout(500)
    for _ in range(5):  # five clicks: five toasts asked for, at most three shown
        page.click("#do-etr")
    expect(page.locator("#toasts .toast").last).to_contain_text("ETR unchanged")
    assert page.locator("#toasts .toast").count() <= 3
    commands = board.get(f"/v1/incidents/{target}")["commands"]
    assert [c["action"] for c in commands].count("set_etr") == 1
    page.wait_for_timeout(4500)
    assert page.locator("#toasts .toast").count() == 0  # they expire

    # -- restore asks, and names the open hazard; "keep it open" keeps it open (item 9) -----------
    page.click("#do-restore")
    dialog = page.locator("#ask")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(wire["ticket"])
    expect(dialog).to_contain_text("wire down")
    shot(officer_page, "board-restore-asks")
    page.click("#ask-cancel")
    expect(dialog).to_be_hidden()
    assert board.get(f"/v1/incidents/{target}")["status"] in mapped["open_states"]
    page.click("#do-restore")
    page.click("#ask-confirm")
    wait_until(page, lambda: board.get(f"/v1/incidents/{target}")["status"] != inc["status"])
    expect(page.locator(f'#incident-list tr[data-id="{target}"]')).to_have_count(0)
    # the hazard leaves the queue with its outage (unless a nested outage keeps it open)
    still = [h for h in board.get("/v1/hazards")["hazards"] if h["ticket"] == wire["ticket"]]
    expect(page.locator(f'#hazard-list li[data-ticket="{wire["ticket"]}"]')).to_have_count(
        1 if still[0]["open"] else 0
    )
    no_bad_text(page)  # the detail panel after a restore with a hazard said "Hazards NaN"

    # -- cancel asks too --------------------------------------------------------------------------
    predicted = next(
        i["id"] for i in board.get("/v1/map/incidents")["incidents"] if i["status"] == "predicted"
    )
    page.locator(f'#incident-list tr[data-id="{predicted}"]').click()
    page.click("#do-cancel")
    expect(page.locator("#ask")).to_contain_text(predicted)
    page.click("#ask-cancel")
    assert board.get(f"/v1/incidents/{predicted}")["status"] == "predicted"

    # -- a merge leaves a trace: where the ticket and its calls went (item 5) ---------------------
    officer = {"Authorization": f"Bearer {board.keys['officer']}"}
    # Two separate transformer outages on one feeder, far from anything already out: every
    # meter of each gasps and one customer of each calls.
    into, merged = two_transformer_outages(board, storm["network"])
    httpx.post(
        f"{board.url}/v1/incidents/{merged}/merge", json={"into": into}, headers=officer, timeout=30
    ).raise_for_status()
    trace = page.locator('#gone li[data-type="IncidentMerged"]').first
    expect(trace).to_contain_text(f"{merged}")
    expect(trace).to_contain_text(f"merged into {into}")
    expect(trace).to_contain_text("calls")
    expect(page.locator('#feed li[data-type="IncidentMerged"]').first).to_contain_text(into)
    trace.locator("button.link").click()
    expect(page.locator("#detail")).to_have_attribute("data-id", into)
    # (the merged prediction may have moved up to a device no storm signal restores: the crew
    # restores it, so the storm can end)
    httpx.post(f"{board.url}/v1/incidents/{into}/restore", headers=officer, timeout=30)

    # -- playbooks: why, who was paged, positions needed vs there (item 12) -----------------------
    playbooks = board.get("/v1/playbooks")
    staffed = [a for a in playbooks["active"] if a["staffing"]]
    assert staffed, "the storm started a staffing playbook"
    first_active = staffed[0]
    card = page.locator(f'#playbooks-panel .activation[data-id="{first_active["activation"]}"]')
    expect(card).to_contain_text(first_active["reason"])
    staffing = first_active["staffing"]

    def positions() -> Any:
        now = board.get("/v1/playbooks")["active"]
        same = next(a for a in now if a["activation"] == first_active["activation"])
        shown = card.locator(".staffing").get_attribute("data-positions")
        return shown == str(same["staffing"]["positions"]) or shown

    wait_until(page, positions)
    expect(card.locator(".staffing")).to_contain_text("positions needed")
    expect(card.locator(".staffing")).to_contain_text(f"{staffing['on_shift']} on shift")
    if first_active["paged"]:
        expect(card).to_contain_text(first_active["paged"][0])
    expect(card.locator(".steps li").first).not_to_be_empty()

    # -- SMS: how many are playbook announcements, how fast they go (item 13) ---------------------
    def pushes_shown() -> Any:
        stats = board.get("/v1/notify/stats")
        pushed = sum(stats["playbook_pushes"].values())
        text = " ".join(page.locator("#sms-playbook-share").all_inner_texts())
        return (pushed > 0 and text.startswith(f"{pushed:,} of {stats['decided']:,}")) or text

    wait_until(page, pushes_shown)
    expect(page.locator("#sms-drain")).not_to_be_empty()
    no_bad_text(page)
    shot(officer_page, "board-detail")

    # -- the rest of the storm, and the quiet after it: everything stands down (item 1) -----------
    board.post_signals(signals[len(first) :], batch=500)
    board.post_signals(routine_calls(storm["network"], storm["end"], hours=3), batch=500)

    def all_clear() -> Any:
        now = board.get("/v1/storm")
        declared = [s for s, v in now["scopes"].items() if v["declared"]]
        active = [a["playbook"] for a in board.get("/v1/playbooks")["active"]]
        return (not declared and not active) or (declared, active)

    wait_until(page, all_clear, timeout_s=90)
    expect(page.locator("#storm-banner")).to_be_hidden(timeout=15_000)
    expect(page.locator("#playbooks-panel .activation")).to_have_count(0, timeout=15_000)
    audit = board.get("/v1/playbooks/audit")["rows"]
    downs = {r["playbook"]: r for r in audit if r["kind"] == "stood_down"}
    assert {"storm-declared", "typhoon-rainstorm-standby"} <= set(downs)
    assert all("ordered_by" not in r["detail"] for r in downs.values())  # nobody did it by hand
    phone = storm["network"].tables.customers["phone"].iloc[0]
    ivr = httpx.get(
        f"{board.url}/v1/ivr/lookup",
        params={"phone": phone},
        headers={"Authorization": f"Bearer {board.keys['ivr']}"},
        timeout=30,
    ).json()
    assert ivr["announcements"] == []  # callers no longer hear "Severe weather has cut power"
    feed_types = page.eval_on_selector_all("#feed li", "e => e.map(x => x.dataset.type)")
    assert "StormStoodDown" in feed_types
    # the chart still reaches back to the storm's start once it has stood down
    history = board.get("/v1/storm")["history"]
    first_declared = min(h["declared"] for h in history)

    def chart_holds_the_storm() -> Any:
        oldest = min(bars(), default=None)
        return (oldest is not None and oldest <= first_declared) or (oldest, first_declared)

    wait_until(page, chart_holds_the_storm, timeout_s=40)
    no_bad_text(page)
    shot(officer_page, "board-stood-down")

    # -- sign out: nothing stays readable behind the form (item 7) --------------------------------
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    assert page.locator("#incident-list tbody tr").count() == 0
    assert page.locator("#feed li").count() == 0
    assert page.locator("#hazard-list li").count() == 0
    text = body_text(page)
    assert "INC-" not in text and "TKT-" not in text, text[:500]
    assert page.eval_on_selector("#board", "b => getComputedStyle(b).visibility") == "hidden"
    shot(officer_page, "board-signed-out")
    assert officer_page.errors == []
    assert (SCREENSHOTS / "dashboard-board-storm.png").exists()


def ids_of_scopes(page: Page) -> list[str]:
    return page.eval_on_selector_all(  # type: ignore[no-any-return]
        "#storm-banner .scope", "e => e.map(x => x.dataset.scope)"
    )
