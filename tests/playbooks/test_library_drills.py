"""Each shipped playbook, drilled on the demo city: it fires at the right moment on a
simulated storm (or on the signal it is for) and stays silent on a quiet day.

Expected moments are worked out here from the engine's own events, independently of the
runner: the warning's time, the storm declaration, the first outage over the lockout size,
the first time calls over 15 minutes pass the surge threshold.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from outage import events as ev
from outage.bootstrap import Network, build_engine
from outage.host import EngineHost, Message
from outage.signals import CallSignal, parse_signal
from playbooks.drill import DrillResult, run_drill, simulated_storm
from playbooks.loader import load_playbooks
from playbooks.situation import Situation
from scenarios.city_storm import CityStorm, simulate_storm

TICK = timedelta(minutes=1)


@pytest.fixture(scope="module")
def network(demo_gpkg: Path) -> Network:
    return Network.load(demo_gpkg)


@pytest.fixture(scope="module")
def storm(network: Network) -> list[Message]:
    """The demo's typhoon: 25 faults after an orange typhoon warning."""
    return simulated_storm(network, faults=25, seed=7, warning=True)


@pytest.fixture(scope="module")
def quiet(network: Network) -> list[Message]:
    """A quiet day: a blown fuse and a transformer, background calls, no warning."""
    sim = simulate_storm(network.topology, network.tables.customers, CityStorm(faults=2, seed=11))
    assert {f["kind"] for f in sim.truth["faults"]} <= {"fuse", "transformer"}
    return [parse_signal(s) for s in sim.signals]


def _engine_events(network: Network, signals: list[Message]) -> list[ev.Event]:
    host = EngineHost(build_engine(network), None)
    seen: list[ev.Event] = []
    host.listeners.append(lambda _seq, event: seen.append(event))
    host.submit(signals)
    return seen + host.finish()


@pytest.fixture(scope="module")
def storm_drill(network: Network, storm: list[Message]) -> DrillResult:
    return run_drill(load_playbooks(), network, storm)


@pytest.fixture(scope="module")
def quiet_drill(network: Network, quiet: list[Message]) -> DrillResult:
    return run_drill(load_playbooks(), network, quiet)


def _activated(result: DrillResult, playbook: str) -> datetime:
    rows = result.activations(playbook)
    assert rows, f"{playbook} did not fire"
    return rows[0].at


#: Pages the dispatcher when a work order misses its deadline: on a simulated day nobody
#: reports a crew on site, so every outage longer than its arrival limit is overdue.
SLA = "sla-overdue"


def test_quiet_day_fires_nothing_but_the_overdue_order_page(
    network: Network, quiet: list[Message], quiet_drill: DrillResult
) -> None:
    assert quiet_drill.events > 50  # the engine did see calls and two outages
    assert {r.playbook for r in quiet_drill.audit} == {SLA}
    # The oracle: the engine's own escalations, without the runner.
    breaches = [
        e
        for e in _engine_events(network, quiet)
        if isinstance(e, ev.SlaEscalated) and e.level == "breach"
    ]
    assert breaches
    first = breaches[0]
    assert first.at <= _activated(quiet_drill, SLA) <= first.at + TICK
    pages = [m for m in quiet_drill.sent if m["channel"] == "escalate"]
    assert pages and {m["channel"] for m in quiet_drill.sent} == {"escalate"}
    assert pages[0]["roles"] == ["repair_dispatcher", "duty_officer"]
    assert first.order in pages[0]["message"]["en"] and first.order in pages[0]["message"]["zh-CN"]


def test_typhoon_standby_fires_on_the_warning(storm_drill: DrillResult) -> None:
    [warned] = [m for m in storm_drill.milestones if m["type"] == "WarningIssued"]
    assert _activated(storm_drill, "typhoon-rainstorm-standby") == datetime.fromisoformat(
        warned["at"]
    )
    first = storm_drill.first("result", "typhoon-rainstorm-standby")
    assert first is not None and first.detail["step"] == "staffing" and first.detail["paged"]
    assert any(m["channel"] == "ivr_publish" and m["area"] == "system" for m in storm_drill.sent)


def test_storm_declared_fires_with_the_declaration_and_stands_down_after(
    storm_drill: DrillResult,
) -> None:
    declared = next(
        m for m in storm_drill.milestones if m["type"] == "StormDeclared" and m["scope"] == "system"
    )
    over = next(
        m
        for m in storm_drill.milestones
        if m["type"] == "StormStoodDown" and m["scope"] == "system"
    )
    at = _activated(storm_drill, "storm-declared")
    assert at == datetime.fromisoformat(declared["at"])
    rule_sets = [m["name"] for m in storm_drill.sent if m["channel"] == "rule_set"]
    assert rule_sets == ["storm", "normal"]
    down = storm_drill.first("stood_down", "storm-declared")
    assert down is not None
    quiet_from = datetime.fromisoformat(over["at"]) + timedelta(minutes=30)
    assert quiet_from <= down.at <= quiet_from + TICK
    staffing = [s for s in storm_drill.staffing if s["playbook"] == "storm-declared"]
    times = [datetime.fromisoformat(s["at"]) for s in staffing]
    assert times[1] - times[0] == timedelta(minutes=15)  # re-evaluated on schedule


def test_feeder_lockout_is_proposed_then_confirmed(
    network: Network, storm: list[Message], storm_drill: DrillResult
) -> None:
    events = _engine_events(network, storm)
    big = next(
        e
        for e in events
        if isinstance(e, ev.OutagePredicted | ev.PredictionMoved) and e.customers >= 1000
    )
    proposed = storm_drill.first("proposed", "feeder-lockout")
    assert proposed is not None
    hold = timedelta(minutes=1)
    assert big.at + hold <= proposed.at <= big.at + hold + TICK
    confirmed = storm_drill.first("confirmed", "feeder-lockout")
    assert confirmed is not None and confirmed.by == "drill-officer"
    assert _activated(storm_drill, "feeder-lockout") == confirmed.at
    substation = next(
        e.substation
        for e in events
        if isinstance(e, ev.OutagePredicted) and e.incident == big.incident
    )
    sms = [m for m in storm_drill.sent if m["channel"] == "sms" and m["kind"] == "outage_notice"]
    assert sms and sms[0]["target"]["area"] == (substation,)
    assert big.incident in sms[0]["target"]["incidents"]


def test_call_surge_fires_when_calls_pass_four_times_baseline(
    network: Network, storm: list[Message], storm_drill: DrillResult
) -> None:
    """Oracle: at each moment the runner looks (every engine event and every minute tick),
    count the storm's posted calls over the last 15 minutes by brute force; the playbook must
    fire at the first moment the surge has held for its 3-minute hold-down without a break."""
    events = _engine_events(network, storm)
    calls = [m.ts for m in storm if isinstance(m, CallSignal)]
    baseline = Situation.for_topology(network.topology)
    window, hold = timedelta(minutes=15), timedelta(minutes=3)

    def surging(t: datetime) -> bool:
        n = sum(1 for c in calls if t - window < c <= t)
        return n >= 30 and n * 4 >= 4 * baseline.baseline_per_hour(t)

    first = events[0].at
    ticks = [first + TICK * k for k in range(1, 24 * 60)]
    since: datetime | None = None
    expected = None
    for t in sorted({e.at for e in events} | set(ticks)):
        if not surging(t):
            since = None
        elif since is None:
            since = t
        elif t - since >= hold:
            expected = t
            break
    assert expected is not None and _activated(storm_drill, "call-surge") == expected
    reason = storm_drill.activations("call-surge")[0].detail["reason"]
    assert "x baseline" in reason


def test_heat_wave_fires_on_a_heat_warning_only(
    network: Network, quiet: list[Message], storm_drill: DrillResult, quiet_drill: DrillResult
) -> None:
    assert not storm_drill.activations("heat-wave")  # a typhoon is not a heat wave
    start = quiet[0].ts  # type: ignore[union-attr]
    heat = parse_signal(
        {"type": "warning", "id": "w-heat", "ts": (start + timedelta(hours=1)).isoformat(),
         "kind": "heat", "level": "red", "area": "all"}
    )  # fmt: skip
    result = run_drill(load_playbooks(), network, sorted([*quiet, heat], key=_ts))
    assert [r.playbook for r in result.activations() if r.playbook != SLA] == ["heat-wave"]
    assert _activated(result, "heat-wave") == start + timedelta(hours=1)
    staffing = result.first("result", "heat-wave")
    assert staffing is not None and staffing.detail["interval_minutes"] == 30


def _ts(signal: Message) -> datetime:
    return signal.ts or signal.start  # type: ignore[union-attr, return-value]


def test_planned_notice_goes_out_24_hours_ahead(
    network: Network, quiet: list[Message], storm_drill: DrillResult
) -> None:
    assert not storm_drill.activations("planned-outage-notice")
    issued = quiet[0].ts  # type: ignore[union-attr]
    start = issued + timedelta(hours=26)
    device = next(d for d in network.topology.device_ids if d.startswith("fuse."))
    planned = parse_signal(
        {"type": "planned", "id": "p-1", "device": device, "ts": issued.isoformat(),
         "start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat(),
         "reason": "pole replacement"}
    )  # fmt: skip
    result = run_drill(load_playbooks(), network, [planned, *quiet])
    assert [r.playbook for r in result.activations() if r.playbook != SLA] == [
        "planned-outage-notice"
    ]
    due = start - timedelta(hours=24)
    assert due <= _activated(result, "planned-outage-notice") <= due + TICK
    [sms] = [m for m in result.sent if m["channel"] == "sms"]  # the page is not an SMS push
    assert sms["kind"] == "planned_notice" and len(sms["target"]["incidents"]) == 1
    substation = Situation.for_topology(network.topology).device_substation[device]
    [ivr] = [m for m in result.sent if m["channel"] == "ivr_publish"]
    assert ivr["area"] == (substation,) and "pole replacement" in ivr["message"]["en"]
