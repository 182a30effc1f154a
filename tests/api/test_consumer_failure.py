"""A consumer that fails on an event is never moved past it (issue 15).

Notify's decide step fails on the outage event for a while (a transient fault: a database
locked, a template server down). The pump must stay on that event and retry it, `/readyz` must
say 503 naming notify, `/metrics` must show it stalled, and once the fault clears every
customer must be texted exactly once. Oracle: the same storm through a service whose notify
never fails.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outage import events as ev
from outage.api.app import create_app
from outage.api.compose import Services, compose
from outage.api.settings import ServiceSettings
from outage.bootstrap import Network

from .conftest import auth, ring
from .helpers import storm_clock
from .test_services import feeder_lockout, lockout_signals, wait_for


class FlakyDecide:
    """Wraps notify's decide step: fails on outage events while ``broken``."""

    def __init__(self, decide: Any) -> None:
        self.decide = decide
        self.broken = True
        self.failures = 0

    def __call__(self, tx: Any, seq: int, event: ev.Event, consent: Any) -> int:
        if self.broken and isinstance(event, ev.OutagePredicted):
            self.failures += 1
            raise OSError("template server unreachable")
        return int(self.decide(tx, seq, event, consent))


@pytest.fixture
def composed(network: Network, tmp_path: Path) -> Iterator[tuple[Services, Services]]:
    """A reference service and one whose notify fails (both on event time)."""
    made = [compose(network, state_dir=tmp_path / n, clock="event") for n in ("ref", "flaky")]
    made[1].pumps["notify"].retry_max = 0.2
    for services in made:
        services.start()
    yield made[0], made[1]
    for services in made:
        services.stop()


def _texts(services: Services) -> Counter[tuple[str, str]]:
    return Counter((r["phone"], r["kind"]) for r in services.notifier.store.rows())


def test_a_failing_notify_stalls_reports_and_then_texts_everyone_once(
    network: Network, composed: tuple[Services, Services]
) -> None:
    reference, flaky = composed
    app = create_app(reference.runtime, ServiceSettings(), ring(), reference, clock=storm_clock)
    with TestClient(app) as ok:
        feeder_lockout(ok, network, reference)
    expected = _texts(reference)
    assert expected  # the storm texts somebody, or the test proves nothing

    notifier = flaky.notifier
    fault = FlakyDecide(notifier.decider.decide)
    notifier.decider.decide = fault  # type: ignore[method-assign]
    app = create_app(flaky.runtime, ServiceSettings(), ring(), flaky, clock=storm_clock)
    with TestClient(app) as client:
        _, signals = lockout_signals(network)
        assert client.post("/v1/signals", json=signals, headers=auth("intake")).status_code == 202

        ready = wait_for(lambda: _stalled_ready(client))
        assert ready.status_code == 503
        body = ready.json()
        assert "notify" in body["detail"] and "OutagePredicted" in body["detail"]
        (notify,) = [c for c in body["consumers"] if c["name"] == "notify"]
        assert notify["stalled"]["event"] == "OutagePredicted" and notify["errors"] >= 1
        assert "template server" in notify["stalled"]["error"]
        assert fault.failures >= 1 and not _texts(flaky)  # nothing decided past the fault
        scrape = client.get("/metrics", headers=auth("admin")).text
        assert re.search(r'outage_consumer_stalled\{consumer="notify"\} 1\.0', scrape)
        assert re.search(r'outage_consumer_stalled\{consumer="playbooks"\} 0\.0', scrape)

        fault.broken = False
        assert flaky.settle(30)
        assert client.get("/readyz").status_code == 200
    assert _texts(flaky) == expected
    told = [r["phone"] for r in notifier.store.rows(kind="outage_detected")]
    assert len(told) == len(set(told))


def _stalled_ready(client: TestClient) -> Any:
    answer = client.get("/readyz")
    return answer if answer.status_code == 503 else None



def test_pump_keeps_order_behind_a_failing_event_and_stops_while_stalled() -> None:
    """Oracle: the order the events were offered in."""
    from outage.api.pump import ConsumerStalled, EventPump

    seen: list[int] = []
    failing = {2}

    def consume(seq: int, _event: object) -> None:
        if seq in failing:
            raise RuntimeError("down")
        seen.append(seq)

    pump = EventPump("t", consume, retry_first=0.01, retry_max=0.02)
    pump.start()
    for seq in (1, 2, 3):
        pump.offer(seq, None)  # type: ignore[arg-type]
    wait_for(lambda: pump.stalled is not None and pump.errors >= 3)
    assert seen == [1] and pump.stalled is not None and pump.stalled.seq == 2
    with pytest.raises(ConsumerStalled, match="stalled at event 2"):
        pump.call(lambda: None, wait=False)
    failing.clear()
    assert pump.wait_idle(5)
    assert seen == [1, 2, 3] and pump.stalled is None and pump.handled == 3

    failing.add(4)
    pump.offer(4, None)  # type: ignore[arg-type]
    wait_for(lambda: pump.stalled is not None)
    import threading

    failed: list[BaseException] = []

    def waiter() -> None:
        try:
            pump.call(lambda: None)  # waits behind the stalled event...
        except ConsumerStalled as exc:
            failed.append(exc)

    thread = threading.Thread(target=waiter)
    thread.start()
    wait_for(lambda: pump.backlog >= 1)
    pump.stop(timeout=5)  # gives the event up (the journal replays it), and does stop
    thread.join(5)
    assert seen == [1, 2, 3]
    assert failed and "the pump stopped" in str(failed[0])  # ...and fails at once, no timeout
