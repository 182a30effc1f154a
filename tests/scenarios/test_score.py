"""The scorer on hand-made truth and STATE dicts with known answers (the tiny feeder).

    brk.1 ── rec.1 ── fuse.2 ── tx.2 (p3), tx.3 (p4)        F1: fuse.2 open 08:00-09:00
      └── fuse.1 ── tx.1 (p1, p2)                           F2: tx.1 failed 08:30-09:30

Calls: c1 (p3, 08:05) and c2 (p4, 08:10) about F1, c3 (p1, 08:40) about F2, and n1, a noise
call from p3 at 09:20 when it has power again. Truly out: p3, p4 for 60 min and p1, p2 for 60
min = 240 customer-minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from grid.topology import build_topology
from scenarios.physics import Grid
from scenarios.score import score_storm
from scenarios.truth import NOISE, Fault, Report, Truth, iso
from tests.conftest import tiny_tables


def at(hh: int, mm: int) -> datetime:
    return datetime(2024, 7, 1, hh, mm, tzinfo=UTC)


@pytest.fixture(scope="module")
def grid() -> Grid:
    return Grid(build_topology(tiny_tables()))


@pytest.fixture
def truth() -> Truth:
    def fault(fid: str, kind: str, asset: str, start: datetime, end: datetime, n: int) -> Fault:
        return Fault(fid, kind, asset, asset, "fuse", "fdr.1", start, end, n, n)

    def call(cid: str, ts: datetime, premise: str, tx: str, fid: str) -> Report:
        return Report(cid, ts, premise, tx, fid, "no_power")

    return Truth(
        feeder="fdr.1",
        start=at(8, 0),
        horizon_end=at(9, 30),
        faults=[
            fault("F1", "section", "fuse.2", at(8, 0), at(9, 0), 2),
            fault("F2", "transformer", "tx.1", at(8, 30), at(9, 30), 2),
        ],
        calls=[
            call("c1", at(8, 5), "p3", "tx.2", "F1"),
            call("c2", at(8, 10), "p4", "tx.3", "F1"),
            call("c3", at(8, 40), "p1", "tx.1", "F2"),
            call("n1", at(9, 20), "p3", "tx.2", NOISE),
        ],
    )


def incident(
    iid: str,
    device: str,
    calls: list[str],
    started: datetime,
    restored: datetime | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    return {
        "id": iid,
        "device": device,
        "status": status or ("restored" if restored else "predicted"),
        "calls": calls,
        "hazards": [],
        "started": iso(started),
        "restored": iso(restored) if restored else None,
        "planned": False,
    }


def state(*incidents: dict[str, Any]) -> dict[str, Any]:
    return {"incidents": list(incidents), "merged": []}


PERFECT = state(
    incident("INC1", "fuse.2", ["c1", "c2"], at(8, 5), at(9, 0)),
    incident("INC2", "tx.1", ["c3"], at(8, 40), at(9, 30)),
    incident("INC3", "tx.2", ["n1"], at(9, 20)),
)


def test_perfect(grid: Grid, truth: Truth) -> None:
    score = score_storm(grid, truth, PERFECT)
    assert (score.exact, score.faults_with_calls) == (2, 2)
    assert (score.multi_exact, score.multi_faults) == (1, 1)  # F1: tx.2 and tx.3 reported
    assert (score.tickets, score.noise_tickets, score.tickets_per_outage) == (2, 1, 1.0)
    assert score.truly_out_cmin == pytest.approx(240)
    assert score.wrongly_out_cmin == pytest.approx(10)  # the noise ticket, p3 09:20-09:30
    assert score.wrongly_out_noise_cmin == pytest.approx(10)
    # p3, p4 shown from 08:05 of 08:00 and p1, p2 from 08:40 of 08:30
    assert score.missed_out_cmin == pytest.approx(2 * 5 + 2 * 10)
    assert score.whole_feeder_false == 0
    assert [f.judged_on for f in score.per_fault] == ["final", "final"]


def test_a_service_drop_shows_its_one_premise(grid: Grid, truth: Truth) -> None:
    """F2 (tx.1: p1 and p2 out) shown as p1's own service drop: not exact, p2 missed."""
    drop = incident("INC2", "tx.1", ["c3"], at(8, 40), at(9, 30)) | {"premise": "p1"}
    noise = incident("INC3", "tx.2", ["n1"], at(9, 20)) | {"premise": "p3"}
    score = score_storm(
        grid, truth, state(incident("INC1", "fuse.2", ["c1", "c2"], at(8, 5), at(9, 0)), drop)
    )
    assert [f.exact for f in score.per_fault] == [True, False]
    assert score.per_fault[1].holders == {"service:p1": 1}
    assert score.wrongly_out_cmin == 0  # p1 was out all the time it was shown
    # p3, p4: 5 min each before INC1; p1: 10 min before INC2; p2: never shown, 60 min
    assert score.missed_out_cmin == pytest.approx(5 + 5 + 10 + 60)
    with_noise = score_storm(
        grid,
        truth,
        state(incident("INC1", "fuse.2", ["c1", "c2"], at(8, 5), at(9, 0)), drop, noise),
    )
    assert with_noise.wrongly_out_cmin == pytest.approx(10)  # p3 alone, 09:20-09:30
    assert with_noise.noise_tickets == 1


def test_one_fault_split_over_two_incidents(grid: Grid, truth: Truth) -> None:
    split = state(
        incident("INC1", "fuse.2", ["c1"], at(8, 5), at(9, 0)),
        incident("INC4", "tx.3", ["c2"], at(8, 10)),
        incident("INC2", "tx.1", ["c3"], at(8, 40), at(9, 30)),
    )
    score = score_storm(grid, truth, split)
    assert [f.exact for f in score.per_fault] == [False, True]
    assert score.per_fault[0].holders == {"fuse.2": 1, "tx.3": 1}
    assert score.tickets_per_outage == pytest.approx(1.5)
    # INC4 shows p4 out from 08:10 to the horizon; p4 has power from 09:00: 30 min wrong
    assert score.wrongly_out_cmin == pytest.approx(30)
    assert score.wrongly_out_noise_cmin == 0


def test_two_faults_merged_at_the_feeder_breaker(grid: Grid, truth: Truth) -> None:
    merged = state(incident("INC9", "brk.1", ["c1", "c2", "c3"], at(8, 5), at(9, 30)))
    score = score_storm(grid, truth, merged)
    assert score.exact == 0
    assert score.tickets_per_outage == pytest.approx(0.5)
    assert score.whole_feeder_false == 1
    # shown: 4 premises x 85 min = 340; of which truly out: 2 x 55 + 2 x 60 = 230
    assert score.wrongly_out_cmin == pytest.approx(110)


def test_wrong_device_with_the_same_customers_is_equivalent(grid: Grid, truth: Truth) -> None:
    series = state(
        incident("INC1", "rec.1", ["c1", "c2"], at(8, 5), at(9, 0)),
        incident("INC2", "tx.1", ["c3"], at(8, 40), at(9, 30)),
    )
    score = score_storm(grid, truth, series)
    assert [f.exact for f in score.per_fault] == [False, True]
    assert [f.equivalent for f in score.per_fault] == [True, True]
    wrong = state(incident("INC1", "fuse.1", ["c1", "c2"], at(8, 5), at(9, 0)))
    assert score_storm(grid, truth, wrong).per_fault[0].equivalent is False


def test_cancelled_incidents_hold_nothing(grid: Grid, truth: Truth) -> None:
    cancelled = state(incident("INC1", "fuse.2", ["c1", "c2"], at(8, 5), status="cancelled"))
    score = score_storm(grid, truth, cancelled)
    assert score.per_fault[0].exact is False and score.per_fault[0].holders == {"-": 2}
    assert score.tickets == 0 and score.wrongly_out_cmin == 0


def test_each_fault_is_judged_before_its_restore(grid: Grid, truth: Truth) -> None:
    final = state(incident("INC9", "brk.1", ["c1", "c2", "c3"], at(8, 5), at(9, 30)))
    score = score_storm(grid, truth, final, before_restore={"F1": PERFECT, "F2": PERFECT})
    assert score.exact == 2
    assert [f.judged_on for f in score.per_fault] == ["before_restore", "before_restore"]
    assert score.tickets == 1  # tickets are counted on the final state


def test_a_fault_without_calls_is_not_judged(grid: Grid, truth: Truth) -> None:
    truth.calls = [c for c in truth.calls if c.fault != "F2"]
    score = score_storm(grid, truth, PERFECT)
    assert score.faults_with_calls == 1 and score.per_fault[1].exact is None


def ev(kind: str, when: datetime, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "at": when.isoformat(), **fields}


def test_minutes_to_correct_and_time_resolved_display(grid: Grid, truth: Truth) -> None:
    events = [
        ev("IncidentStatusChanged", at(8, 5), incident="INC1", old=None, new="predicted"),
        ev("OutagePredicted", at(8, 5), incident="INC1", device="tx.2"),
        ev("CallAttached", at(8, 5), incident="INC1", call="c1", premise="p3", suppressed=False),
        ev("OutagePredicted", at(8, 10), incident="INC2", device="tx.3"),
        ev("CallAttached", at(8, 10), incident="INC2", call="c2", premise="p4", suppressed=False),
        ev("IncidentMerged", at(8, 10), incident="INC2", into="INC1"),
        ev("PredictionMoved", at(8, 10), incident="INC1", from_device="tx.2", to_device="fuse.2"),
        ev("OutagePredicted", at(8, 40), incident="INC3", device="tx.1"),
        ev("CallAttached", at(8, 40), incident="INC3", call="c3", premise="p1", suppressed=False),
        ev("IncidentStatusChanged", at(9, 0), incident="INC1", old="predicted", new="restored"),
        ev("IncidentStatusChanged", at(9, 30), incident="INC3", old="predicted", new="restored"),
    ]
    final = state(
        incident("INC1", "fuse.2", ["c1", "c2"], at(8, 5), at(9, 0)),
        incident("INC3", "tx.1", ["c3"], at(8, 40), at(9, 30)),
    )
    score = score_storm(grid, truth, final, events=events)
    assert [f.minutes_to_correct for f in score.per_fault] == [5.0, 0.0]
    assert score.never_correct == 0
    # INC1 showed only p3 (tx.2) from 08:05 to 08:10, then p3 and p4: nothing wrong
    assert score.wrongly_out_cmin == pytest.approx(0)
    assert score.truly_out_cmin == pytest.approx(240)


def test_whole_feeder_prediction_in_passing_does_not_count(grid: Grid, truth: Truth) -> None:
    passing = [
        ev("OutagePredicted", at(8, 5), incident="INC1", device="tx.2"),
        ev("CallAttached", at(8, 5), incident="INC1", call="c1", premise="p3", suppressed=False),
        ev("PredictionMoved", at(8, 5), incident="INC1", from_device="tx.2", to_device="brk.1"),
        ev("PredictionMoved", at(8, 5), incident="INC1", from_device="brk.1", to_device="fuse.2"),
    ]
    assert score_storm(grid, truth, PERFECT, events=passing).whole_feeder_false == 0
    shown = [*passing[:3], {**passing[3], "at": at(8, 7).isoformat()}]
    score = score_storm(grid, truth, PERFECT, events=shown)
    assert score.whole_feeder_false == 1
    # brk.1 showed p1, p2 out 08:05-08:07 while they had power (2 x 2 min); then fuse.2 is
    # never restored in these events, so p3, p4 show out 09:00-09:30 with power (2 x 30 min)
    assert score.wrongly_out_cmin == pytest.approx(4 + 60)


def test_an_observed_split_moves_calls(grid: Grid, truth: Truth) -> None:
    """The engine may split an incident without a CallAttached per moved call; the harness's
    StateObserved record says where the calls went."""
    events = [
        ev("OutagePredicted", at(8, 5), incident="INC1", device="brk.1"),
        ev("CallAttached", at(8, 5), incident="INC1", call="c1", premise="p3", suppressed=False),
        ev("CallAttached", at(8, 10), incident="INC1", call="c2", premise="p4", suppressed=True),
        ev("OutagePredicted", at(8, 15), incident="INC7", device="fuse.2"),
    ]
    observed = {
        "type": "StateObserved",
        "at": at(8, 15).isoformat(),
        "incidents": [
            {"id": "INC1", "device": "brk.1", "status": "predicted", "calls": []},
            {"id": "INC7", "device": "fuse.2", "status": "predicted", "calls": ["c1", "c2"]},
        ],
    }
    blind = score_storm(grid, truth, PERFECT, events=events)
    assert blind.per_fault[0].minutes_to_correct is None
    seen = score_storm(grid, truth, PERFECT, events=[*events, observed])
    assert seen.per_fault[0].minutes_to_correct == 10.0
