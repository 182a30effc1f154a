"""Arrival-order perturbations and the final-incident comparison."""

from __future__ import annotations

from collections import Counter

import pytest

from scenarios.order import (
    differing,
    incident_keys,
    lateness,
    meters_late,
    shuffled_within,
    swapped_batches,
)


def signals(n: int) -> list[dict[str, object]]:
    return [
        {
            "id": f"s{i}",
            "type": "meter" if i % 3 == 0 else "call",
            "ts": f"2024-07-01T08:{i:02d}:00Z",
        }
        for i in range(n)
    ]


def test_shuffled_within_keeps_every_signal_in_its_window() -> None:
    sigs = signals(45)
    out = shuffled_within(sigs, 10, seed=3)
    assert Counter(s["id"] for s in out) == Counter(s["id"] for s in sigs)
    for start in range(0, 45, 10):
        assert {s["id"] for s in out[start : start + 10]} == {
            s["id"] for s in sigs[start : start + 10]
        }
    assert out != sigs
    assert shuffled_within(sigs, 10, seed=3) == out


def test_swapped_batches() -> None:
    sigs = signals(10)
    out = swapped_batches(sigs, 3, at=2)
    assert [s["id"] for s in out] == ["s0", "s1", "s5", "s6", "s7", "s2", "s3", "s4", "s8", "s9"]
    assert swapped_batches(sigs, 6) == sigs  # too short to swap two batches of 6


def test_meters_late_delays_meters_only_and_changes_no_signal() -> None:
    sigs = signals(14)  # meters at minutes 0, 3, 6, 9, 12; calls in between
    out = meters_late(sigs, 10)
    assert sorted(s["id"] for s in out) == sorted(s["id"] for s in sigs)
    assert all(a is b for a, b in zip(sorted(out, key=id), sorted(sigs, key=id), strict=True))
    order = [s["id"] for s in out]
    # The meter of minute 0 arrives with the signals of minute 10: after minute 8's call
    # (minute 9 is a meter, itself late), before minute 10's.
    assert order.index("s8") < order.index("s0") < order.index("s10")
    calls = [s["id"] for s in out if s["type"] == "call"]
    assert calls == [s["id"] for s in sigs if s["type"] == "call"]


def test_differing_counts_unmatched_incidents_both_ways() -> None:
    def inc(device: str, calls: list[str]) -> dict[str, object]:
        return {
            "device": device,
            "status": "predicted",
            "calls": calls,
            "started": "t",
            "restored": None,
        }

    a = {"incidents": [inc("f1", ["c1", "c2"]), inc("t1", ["c3"])]}
    b = {"incidents": [inc("t1", ["c3"]), inc("f1", ["c2", "c1"])]}
    assert differing(a, b) == 0 and incident_keys(a) == incident_keys(b)
    c = {"incidents": [inc("t1", ["c3"]), inc("t2", ["c1"]), inc("t3", ["c2"])]}
    assert differing(a, c) == 3  # f1 unmatched on one side, t2 and t3 on the other


def test_a_crew_restore_posted_before_the_outages_evidence_gives_the_sorted_answer() -> None:
    """EPRI ckt7, the blind generator's arrival-order storm: two adjacent 50-signal batches
    swapped put crew restorations ahead of the last gasps and calls of their outages. The
    outage must still be dated by its earliest last gasp, as in the time-sorted replay (the
    oracle): before, a gasp older than an ownerless restoration was dropped and the ticket
    started at the first call."""
    from grid.importers import load_source
    from outage.bootstrap import Network
    from scenarios.generate import generate_storm
    from scenarios.physics import Grid
    from scenarios.replay import replay
    from scenarios.spec import CallSpec, MeterSpec, StormSpec
    from tests.conftest import shared_path

    network = Network.from_tables(load_source(shared_path("opendss", "ckt7"), "opendss"))
    grid = Grid(network.topology)
    spec = StormSpec(seed=0, faults=10, calls=CallSpec(share=0.3), meters=MeterSpec(delivery=0.8))
    storm = generate_storm(network.topology, spec, customers=network.tables.customers, grid=grid)
    swapped = swapped_batches(storm.signals, 50)
    assert swapped != storm.signals
    sorted_final = replay(network, storm.signals, keep_events=False).final
    swapped_final = replay(network, swapped, keep_events=False).final
    assert differing(sorted_final, swapped_final) == 0


def test_meters_power_restored_ahead_of_the_crews_restore_change_nothing() -> None:
    """IEEE 123 (one premise per transformer), the blind generator's storm with 80% meters:
    every crew restoration is posted after the meters' "power restored" that follow it (the
    head end was quicker than the crew's handset). Before, a restoration whose premises' meters
    had already ended the epoch found nothing out and its outage vanished with its call. The
    oracle is the time-sorted replay; whatever a shuffled order may still change, it is only
    tickets opened and cancelled holding no call (the arrival-order row of the benchmark)."""
    from datetime import datetime

    from grid.importers import load_source
    from outage.bootstrap import Network
    from scenarios.generate import generate_storm
    from scenarios.physics import Grid
    from scenarios.replay import replay
    from scenarios.spec import CallSpec, MeterSpec, StormSpec
    from tests.conftest import shared_path

    network = Network.from_tables(load_source(shared_path("opendss", "IEEE123"), "opendss"))
    spec = StormSpec(seed=0, faults=10, calls=CallSpec(share=0.3), meters=MeterSpec(delivery=0.8))
    storm = generate_storm(
        network.topology, spec, customers=network.tables.customers, grid=Grid(network.topology)
    )

    def ts(signal: dict[str, object]) -> datetime:
        return datetime.fromisoformat(str(signal["ts"]).replace("Z", "+00:00"))

    reordered: list[dict[str, object]] = []
    moved = 0
    for signal in storm.signals:
        reordered.append(signal)
        if signal["type"] == "meter" and signal.get("event") == "power_restored":
            # Hop back over the restorations of the last minute.
            at = len(reordered) - 1
            while (
                at > 0
                and reordered[at - 1]["type"] == "restore"
                and (ts(signal) - ts(reordered[at - 1])).total_seconds() <= 60
            ):
                reordered[at - 1], reordered[at] = reordered[at], reordered[at - 1]
                at -= 1
                moved += 1
    assert moved > 0
    sorted_final = replay(network, storm.signals, keep_events=False).final
    reordered_final = replay(network, reordered, keep_events=False).final
    assert differing(sorted_final, reordered_final) == 0


def test_a_callers_own_late_last_gasp_keeps_the_ticket_the_call_opened() -> None:
    """EPRI ckt5, the blind generator's arrival-order storm with every meter message 10 min
    late: the first call of an outage arrives before its premise's own last gasp, which is
    also the feeder's first meter message. Weighed apart, "this feeder's meters report" made
    the caller a customer-side matter for an instant — its ticket cancelled, a new one opened
    by the gasp a moment later. The oracle is the time-sorted replay: the same incidents,
    with no extra cancelled ticket."""
    from grid.importers import load_source
    from outage.bootstrap import Network
    from scenarios.generate import generate_storm
    from scenarios.physics import Grid
    from scenarios.replay import replay
    from scenarios.spec import CallSpec, MeterSpec, StormSpec
    from tests.conftest import shared_path

    network = Network.from_tables(load_source(shared_path("opendss", "ckt5"), "opendss"))
    spec = StormSpec(seed=0, faults=10, calls=CallSpec(share=0.3), meters=MeterSpec(delivery=0.8))
    storm = generate_storm(
        network.topology, spec, customers=network.tables.customers, grid=Grid(network.topology)
    )
    late = meters_late(storm.signals, 10.0)
    first_meter = next(s for s in late if s["type"] == "meter")
    assert any(  # the case: a call from that premise arrived before its gasp
        s["type"] == "call" and s["premise"] == first_meter["premise"]
        for s in late[: late.index(first_meter)]
    )
    sorted_final = replay(network, storm.signals, keep_events=False).final
    late_final = replay(network, late, keep_events=False).final
    assert differing(sorted_final, late_final) == 0


def test_lateness_measures_how_far_behind_the_latest_delivered_time_a_signal_is() -> None:
    sigs = signals(40)  # one a minute
    assert lateness(sigs, 30) == (0.0, 0)
    late = [sigs[35], *sigs[:35], *sigs[36:]]  # minute 35 first: the rest arrive behind it
    worst, beyond = lateness(late, 30)
    assert worst == 35.0
    assert beyond == 5  # minutes 0-4 are more than 30 min behind minute 35
    # Meters 10 min late: meter 0 arrives after minute 8's call (minute 9 is a meter, itself
    # late), so it lies 8 minutes behind.
    assert lateness(meters_late(sigs, 10), 30) == (pytest.approx(8.0), 0)


def test_a_prediction_withdrawn_and_made_again_by_one_message_keeps_its_ticket() -> None:
    """The demo city, the blind generator's arrival-order storm with meters 10 min late: at
    one tick the fuse's prediction loses to the silence re-weighed, and the storm the same
    tick declares raises the priors that make it again. Cancelled then, and a second ticket
    made at the same fuse, the final state held a ticket the time-sorted replay (the oracle)
    never had. One message's moves now end with the ticket it started with."""
    from outage.bootstrap import Network
    from scenarios.generate import generate_storm
    from scenarios.physics import Grid
    from scenarios.replay import replay
    from scenarios.spec import CallSpec, MeterSpec, StormSpec
    from tests.conftest import DEMO_GPKG

    network = Network.load(DEMO_GPKG)
    spec = StormSpec(seed=0, faults=10, calls=CallSpec(share=0.3), meters=MeterSpec(delivery=0.8))
    storm = generate_storm(
        network.topology, spec, customers=network.tables.customers, grid=Grid(network.topology)
    )

    def at_fuse(signals: list[dict[str, object]]) -> list[tuple[str, str]]:
        final = replay(network, signals, keep_events=False).final
        return sorted(
            (str(i["status"]), str(i["started"]))
            for i in final["incidents"]
            if i["device"] == "fuse.s003f2l18a"
        )

    assert at_fuse(meters_late(storm.signals, 10.0)) == at_fuse(storm.signals)
