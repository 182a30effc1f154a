"""Browser fixtures: one real `outage serve` and one headless Debian Chromium per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.dashboard.server import Dashboard, start

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = PROJECT / "out" / "test-screenshots"

if not CHROMIUM.exists():  # CI installs it with scripts/system-deps.sh
    pytest.skip("Debian chromium is not installed", allow_module_level=True)

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    running = start(tmp_path_factory.mktemp("dashboard"))
    yield running
    running.service.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # Debian's chromium, not Playwright's download: no network needed.
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


class Watched:
    """A page and the script errors it raised (a broken module shows up here, not as a 500)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("console", self._console)

    def _console(self, message: object) -> None:
        kind = getattr(message, "type", "")
        text = getattr(message, "text", "")
        # 401 before sign-in and 404 from panels whose endpoint is missing are expected.
        if kind == "error" and not text.startswith("Failed to load resource"):
            self.errors.append(text)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"dashboard-{name}.png"
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1500, "height": 900})  # fresh cookies
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield Watched(page)
    context.close()


@pytest.fixture
def officer_page(browser: Browser) -> Iterator[Watched]:
    """A 1600 px page in New York, not the utility's zone: every time on the page must still
    read in the utility's zone."""
    context = browser.new_context(
        viewport={"width": 1600, "height": 1000}, timezone_id="America/New_York"
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield Watched(page)
    context.close()


def sign_in(watched: Watched, dashboard: Dashboard) -> Page:
    """Open the page, sign in with the officer key, wait for the network to be drawn."""
    page = watched.page
    page.goto(f"{dashboard.url}/")
    page.fill("#login-key", dashboard.keys["officer"])
    page.click("#login button[type=submit]")
    page.wait_for_selector("#login", state="hidden")
    page.wait_for_selector("#map path.section")
    page.wait_for_selector("#live[data-state=live]")
    return page


@pytest.fixture(scope="session")
def storm() -> list[dict[str, object]]:
    """The replayed storm (posting it again is harmless: the service skips known ids)."""
    from tests.dashboard.server import storm_signals

    return storm_signals()


def wait_until(page: Page, condition: object, timeout_s: float = 30.0) -> None:
    """Poll a Python condition while the page keeps running (its timers, its stream)."""
    import time

    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        last = condition()  # type: ignore[operator]
        if last is True:
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"condition still false after {timeout_s} s: {last!r}")
