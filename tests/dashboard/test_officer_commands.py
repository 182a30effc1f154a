"""The officer's controls reach the engine: confirm, dispatch, ETR, restore; errors are shown."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.dashboard.conftest import Watched, sign_in, wait_until
from tests.dashboard.server import Dashboard


def test_confirm_dispatch_etr_and_restore_from_the_page(
    watched: Watched, dashboard: Dashboard, storm: list[dict[str, Any]]
) -> None:
    dashboard.post_signals(storm)  # a no-op when the storm test already posted it
    page = sign_in(watched, dashboard)
    predicted = [i for i in dashboard.get("/v1/incidents?status=predicted&limit=5000")["incidents"]]
    assert predicted, "the storm left no predicted incident to work on"
    target = predicted[0]["id"]
    row = page.locator(f'#incident-list tr[data-id="{target}"]')
    row.click()
    detail = page.locator("#detail")
    expect(detail).to_have_attribute("data-id", target)
    expect(row).to_have_class("selected")
    expect(page.locator(f'#layer-incidents .incident.selected[data-id="{target}"]')).to_have_count(
        1
    )

    def api(field: str) -> Any:
        return dashboard.get(f"/v1/incidents/{target}")[field]

    page.click("#do-confirm")
    wait_until(page, lambda: api("status") == "confirmed" or api("status"))
    expect(row).to_have_attribute("data-status", "confirmed")  # via the event stream
    expect(page.locator(f'#layer-incidents .incident[data-id="{target}"]')).to_have_attribute(
        "data-status", "confirmed"
    )

    # the service's validation message reaches the officer as it is
    page.fill("#crew", "")
    page.click("#do-dispatch")
    expect(page.locator("#toasts .toast.error").last).to_contain_text("crew")
    page.fill("#crew", "crew-7")
    page.click("#do-dispatch")
    wait_until(page, lambda: api("crew") == "crew-7" or api("crew"))
    expect(row).to_have_attribute("data-status", "dispatched")

    # typed in the utility's zone, 24-hour (Asia/Shanghai: 23:30 there is 15:30 UTC)
    page.fill("#etr", "2026-07-01 23:30")
    page.click("#do-etr")
    wait_until(page, lambda: api("etr") is not None)
    assert api("etr") == "2026-07-01T15:30:00Z"
    expect(row.locator(".etr")).to_contain_text("23:30")
    watched.screenshot("officer-controls")

    page.fill("#reason", "crew closed the fuse")
    page.click("#do-restore")
    page.click("#ask-confirm")  # restore cannot be taken back: the page asks first
    wait_until(page, lambda: api("status") == "restored" or api("status"))
    expect(row).to_have_count(0)
    expect(page.locator(f'#layer-incidents .incident[data-id="{target}"]')).to_have_count(0)
    audit = [c.get("action") for c in api("commands")]
    assert {"confirm", "dispatch", "set_etr", "restore"} <= set(audit), audit
    assert watched.errors == []


def test_the_officer_declares_and_stands_down_a_storm_from_the_header(
    watched: Watched, dashboard: Dashboard, storm: list[dict[str, Any]]
) -> None:
    dashboard.post_signals(storm)
    page = sign_in(watched, dashboard)
    toggle = page.locator("#storm-toggle")
    banner = page.locator("#storm-banner")

    def declared() -> bool:
        return bool(dashboard.get("/v1/storm")["declared"])

    before = declared()
    for _ in range(2):  # flip it, then flip it back: the page and the API agree each time
        was = declared()
        expect(toggle).to_have_text("Stand down storm" if was else "Declare storm")
        toggle.click()
        page.click("#ask-confirm")  # a storm switches every prediction's priors: asked first
        wait_until(page, lambda was=was: declared() != was)
        expect(toggle).to_have_text("Declare storm" if was else "Stand down storm")
        if not was:
            expect(banner).to_contain_text("STORM DECLARED")
            assert dashboard.get("/v1/storm")["rule_set"] == "storm"
    assert declared() == before
    assert watched.errors == []
