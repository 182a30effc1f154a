"""A real `outage serve` with the dashboard, officer/intake keys and a storm to replay.

The browser tests use it; it also runs by hand for looking at the page while working on it:

    .venv/bin/python -m tests.dashboard.server      # prints the URL and an officer key
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from outage.bootstrap import Network
from scenarios.city_storm import CityStorm, simulate_storm
from tests.conftest import DEMO_GPKG
from tests.integration.test_serve_e2e import Service, new_key


@dataclass
class Dashboard:
    """A running service and the keys the tests log in or post with."""

    service: Service
    keys: dict[str, str]

    @property
    def url(self) -> str:
        return self.service.url

    def get(self, path: str) -> Any:
        """An officer read of the API (what the page should be showing)."""
        answer = httpx.get(f"{self.url}{path}", headers=self._bearer("officer"), timeout=30)
        answer.raise_for_status()
        return answer.json()

    def status(self, path: str) -> int:
        """The HTTP status an officer gets for ``path`` (404 while an endpoint is missing)."""
        return httpx.get(
            f"{self.url}{path}", headers=self._bearer("officer"), timeout=30
        ).status_code

    def post_signals(self, signals: list[dict[str, Any]], batch: int = 200) -> None:
        """Post signals in batches, as a call-centre gateway would."""
        for start in range(0, len(signals), batch):
            answer = httpx.post(
                f"{self.url}/v1/signals",
                json=signals[start : start + batch],
                headers=self._bearer("intake"),
                timeout=60,
            )
            assert answer.status_code == 202, answer.text

    def _bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def start(tmp: Path, extra: tuple[str, ...] = ()) -> Dashboard:
    """`outage serve` on the demo city with an officer, an intake and an ivr-only key."""
    path = tmp / "keys.yaml"
    keys = {
        "officer": new_key(path, "duty-officer", "officer"),
        "intake": new_key(path, "gateway", "intake"),
        "ivr": new_key(path, "ivr", "ivr"),
    }
    service = Service(tmp, path, extra)
    service.start()
    return Dashboard(service, keys)


def storm_signals(faults: int = 8, seed: int = 3) -> list[dict[str, Any]]:
    """A simulated storm without its restorations, so its outages stay open on the board."""
    network = Network.load(DEMO_GPKG)
    signals = simulate_storm(
        network.topology, network.tables.customers, CityStorm(faults=faults, seed=seed)
    )
    return [
        s
        for s in signals.signals
        if s["type"] != "restore"
        and s.get("event") != "power_restored"
        and not (s["type"] == "scada" and s.get("state") == "closed")
    ]


def main() -> None:  # pragma: no cover - a developer's tool
    with tempfile.TemporaryDirectory() as tmp:
        dashboard = start(Path(tmp))
        print(f"{dashboard.url}/  officer key: {dashboard.keys['officer']}", flush=True)
        try:
            signals = storm_signals()
            for start_at in range(0, len(signals), 100):
                dashboard.post_signals(signals[start_at : start_at + 100])
                time.sleep(0.5)
            print("storm replayed; Ctrl-C to stop", flush=True)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            dashboard.service.stop()


if __name__ == "__main__":
    main()
