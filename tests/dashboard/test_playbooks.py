"""Playbook and SMS panels: shown only when the service has them; a proposal is confirmed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import Watched, sign_in, wait_until
from tests.dashboard.server import Dashboard

WIRING = "waits on the commit 'service: wire notify and playbooks' (GET /v1/playbooks is 404)"


def test_panels_show_only_when_their_endpoint_answers(
    watched: Watched, dashboard: Dashboard
) -> None:
    page = sign_in(watched, dashboard)
    for panel, path in (("#playbooks-panel", "/v1/playbooks"), ("#sms-panel", "/v1/notify/stats")):
        status = dashboard.status(path)
        assert status in (200, 404), (path, status)
        if status == 200:
            expect(page.locator(panel)).to_be_visible()
        else:
            expect(page.locator(panel)).to_be_hidden()
    if dashboard.status("/v1/notify/stats") == 200:
        # The sender keeps sending while we look: the page shows a figure at least as large as
        # the API's a moment before, and no larger than the API's a moment after.
        before = dashboard.get("/v1/notify/stats")["sent"]
        shown = page.locator('#sms-stats dd[data-field="sent"]')
        expect(shown).not_to_have_text("")

        def value() -> int:
            return int(shown.inner_text().replace(",", "") or 0)

        # The panel refreshes every few seconds (later on a loaded machine): wait for it.
        wait_until(page, lambda: value() >= before)
        seen = value()
        after = dashboard.get("/v1/notify/stats")["sent"]
        assert before <= seen <= after
    assert watched.errors == []


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def test_a_feeder_lockout_proposal_is_confirmed_and_stood_down(
    watched: Watched, dashboard: Dashboard, storm: list[dict[str, Any]]
) -> None:
    if dashboard.status("/v1/playbooks") == 404:
        pytest.skip(WIRING)
    page = sign_in(watched, dashboard)
    # A breaker trip takes a whole feeder (2,000 customers) out: the feeder-lockout playbook
    # proposes itself after its one-minute hold; a later call moves event time past the hold.
    engine = dashboard.get("/v1/storm")["engine_time"]
    now = datetime.fromisoformat(engine) if engine else datetime.fromisoformat(storm[-1]["ts"])
    premise = next(s["premise"] for s in storm if s.get("premise"))
    dashboard.post_signals(
        [
            {
                "type": "scada",
                "id": "pb-trip",
                "ts": iso(now + timedelta(minutes=1)),
                "device": "breaker.s003f4",
                "state": "open",
            },
            {
                "type": "call",
                "id": "pb-later",
                "ts": iso(now + timedelta(minutes=4)),
                "premise": premise,
            },
        ]
    )
    proposal = page.locator('#playbooks-panel .proposal[data-playbook="feeder-lockout"]')
    expect(proposal).to_be_visible(timeout=90_000)
    watched.screenshot("playbook-proposal")
    proposal.locator("button.confirm").click()
    expect(proposal).to_have_count(0)
    active = page.locator('#playbooks-panel .activation[data-playbook="feeder-lockout"]')
    expect(active).to_be_visible()
    listed = dashboard.get("/v1/playbooks")["active"]
    assert "feeder-lockout" in {a["playbook"] for a in listed}
    watched.screenshot("playbook-active")
    active.locator("button.stand-down").click()
    expect(active).to_have_count(0)
    assert watched.errors == []


def test_the_panel_follows_the_playbook_contract(watched: Watched, dashboard: Dashboard) -> None:
    """The page against the agreed /v1/playbooks shapes, answered by the test (the service's
    own answers are covered by the test above once it is wired)."""
    page = watched.page
    board: dict[str, Any] = {
        "proposals": [
            {
                "id": "prop-1",
                "playbook": "feeder-lockout",
                "title": "Feeder lockout",
                "reason": "INC-000900: 2,000 customers out",
                "at": "2026-07-01T10:00:00Z",
                "expires": "2026-07-01T10:20:00Z",
            }
        ],
        "active": [],
    }
    posted: list[tuple[str, str | None]] = []

    def playbooks(route: Any) -> None:
        route.fulfill(json=board)

    def confirm(route: Any) -> None:
        posted.append((route.request.url, route.request.headers.get("idempotency-key")))
        board["proposals"] = []
        board["active"] = [
            {
                "activation": "act-1",
                "playbook": "feeder-lockout",
                "title": "Feeder lockout",
                "since": "2026-07-01T10:01:00Z",
                "next_steps": [{"step": "staffing", "at": "2026-07-01T10:16:00Z"}],
            }
        ]
        route.fulfill(json={"activation": "act-1"})

    page.route("**/v1/playbooks", playbooks)
    page.route("**/v1/playbooks/proposals/prop-1/confirm", confirm)
    sign_in(watched, dashboard)
    proposal = page.locator('#playbooks-panel .proposal[data-id="prop-1"]')
    expect(proposal).to_contain_text("2,000 customers out")
    proposal.locator("button.confirm").click()
    activation = page.locator('#playbooks-panel .activation[data-id="act-1"]')
    expect(activation).to_contain_text("staffing")
    expect(proposal).to_have_count(0)
    assert len(posted) == 1 and posted[0][1], posted  # one POST, with an Idempotency-Key
    watched.screenshot("playbook-panel-contract")
    assert watched.errors == []
