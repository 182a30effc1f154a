"""A stalled SMS pipeline on the duty officer's board (issue 15: consumers never skip).

Another process holds notify's SQLite store locked (a backup tool, a stuck migration): every
decision notify tries fails with "database is locked". The service must not skip the events,
and the officer must see it: a red banner naming the SMS pipeline, the event it is stuck on and
since when (in the utility's zone), while `/readyz` answers 503. Once the lock goes the banner
goes, and the texts are decided after all. The oracle is `/readyz`'s answer at the time and
the SMS counts of the API, never a constant.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import Watched, sign_in, wait_until
from tests.dashboard.server import Dashboard, start, storm_signals

ZONE = ZoneInfo("Asia/Shanghai")
BAD_TEXT = re.compile(r"NaN|undefined|null|Invalid Date|\b[AP]M\b")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Dashboard, str]]:
    """A service of its own (its notify store gets locked) and the path of that store."""
    tmp = tmp_path_factory.mktemp("service-health")
    running = start(tmp)
    yield running, str(tmp / "state" / "notify.sqlite")
    running.service.stop()


def test_a_stalled_sms_pipeline_is_shown_until_it_clears(
    officer_page: Watched, service: tuple[Dashboard, str]
) -> None:
    board, store = service
    page = sign_in(officer_page, board)
    banner = page.locator("#health-banner")
    expect(banner).to_be_hidden()

    lock = sqlite3.connect(store, isolation_level=None, timeout=30)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        board.post_signals(storm_signals(faults=3, seed=5))
        notify = page.locator('#health-banner [data-consumer="notify"]')
        expect(notify).to_be_visible(timeout=90_000)
        ready = httpx.get(f"{board.url}/readyz", timeout=10)
        assert ready.status_code == 503
        (state,) = [c for c in ready.json()["consumers"] if c["name"] == "notify"]
        stall = state["stalled"]
        assert "locked" in stall["error"]
        since = datetime.fromisoformat(stall["since"]).astimezone(ZONE).strftime("%H:%M")
        text = notify.inner_text()
        assert "SMS to customers held up" in text
        assert f"event {stall['seq']} ({stall['event']})" in text and since in text
        assert not BAD_TEXT.search(banner.inner_text())
        officer_page.screenshot("service-health-stalled")
    finally:
        lock.rollback()
        lock.close()

    expect(banner).to_be_hidden(timeout=90_000)
    assert httpx.get(f"{board.url}/readyz", timeout=10).status_code == 200
    wait_until(page, lambda: board.get("/v1/notify/stats")["decided"] > 0, timeout_s=60)
    assert officer_page.errors == []
