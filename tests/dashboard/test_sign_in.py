"""Sign-in: only officer keys get the board; the cookie survives a reload; sign-out ends it."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.dashboard.conftest import Watched, sign_in
from tests.dashboard.server import Dashboard


def test_unknown_key_and_key_without_officer_role_are_refused(
    watched: Watched, dashboard: Dashboard
) -> None:
    page = watched.page
    page.goto(f"{dashboard.url}/")
    expect(page.locator("#login")).to_be_visible()
    page.fill("#login-key", "ok_not-a-key")
    page.click("#login button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("unknown API key")
    page.fill("#login-key", dashboard.keys["ivr"])
    page.click("#login button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("lacks the officer role")
    expect(page.locator("#login")).to_be_visible()
    # the refused key's cookie was dropped again: the API still says 401
    status = page.evaluate("fetch('/v1/storm').then(r => r.status)")
    assert status == 401
    watched.screenshot("sign-in-refused")
    assert watched.errors == []


def test_session_survives_reload_and_sign_out_ends_it(
    watched: Watched, dashboard: Dashboard
) -> None:
    page = sign_in(watched, dashboard)
    expect(page.locator("#who")).to_have_text("duty-officer")
    page.reload()
    page.wait_for_selector("#live[data-state=live]")
    expect(page.locator("#login")).to_be_hidden()
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-error")).to_have_text("Signed out.")
    assert page.evaluate("fetch('/v1/storm').then(r => r.status)") == 401
    assert watched.errors == []
