"""The ETR scorer on hand-made truths and event lists whose answers are worked out by hand.

Tiny feeder (tests/conftest.py): fuse.2 feeds tx.2 (p3) and tx.3 (p4); tx.1 feeds p1, p2;
every premise is one customer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from grid.topology import Topology, build_topology
from outage.bootstrap import Network
from scenarios.__main__ import main
from scenarios.crewspec import CrewSpec
from scenarios.etr_score import derive_outages, score_etr
from scenarios.generate import generate_storm
from scenarios.physics import Grid
from scenarios.replay import replay
from scenarios.spec import CallSpec, StormSpec
from scenarios.truth import Fault, Truth
from tests.conftest import tiny_tables


@pytest.fixture(scope="module")
def topology() -> Topology:
    return build_topology(tiny_tables())


def at(hhmm: str) -> datetime:
    h, m = hhmm.split(":")
    return datetime(2024, 7, 1, int(h), int(m), tzinfo=UTC)


def z(hhmm: str) -> str:
    return at(hhmm).isoformat().replace("+00:00", "Z")


def fault(fid: str, asset: str, kind: str, start: str, restore: str) -> Fault:
    return Fault(
        id=fid,
        kind="transformer" if kind == "transformer" else "section",
        location=asset,
        asset=asset,
        asset_kind=kind,
        feeder="fdr.1",
        start=at(start),
        restore=at(restore),
        premises_out=0,
        customers_out=0,
    )


def truth(*faults: Fault) -> Truth:
    return Truth(feeder="fdr.1", start=at("08:00"), horizon_end=at("12:00"), faults=list(faults))


def predicted(t: str, incident: str, device: str) -> dict[str, Any]:
    return {
        "type": "OutagePredicted",
        "at": z(t),
        "incident": incident,
        "device": device,
        "level": "device",
        "customers": 1,
        "substation": "sub.a",
        "feeder": "fdr.1",
        "cause": "",
    }


def etr(t: str, incident: str, value: str | None, source: str = "estimated") -> dict[str, Any]:
    return {
        "type": "EtrChanged",
        "at": z(t),
        "incident": incident,
        "etr": z(value) if value else None,
        "previous": None,
        "by": "x",
        "source": source,
    }


def moved(t: str, incident: str, old: str, new: str) -> dict[str, Any]:
    return {
        "type": "PredictionMoved",
        "at": z(t),
        "incident": incident,
        "from_device": old,
        "to_device": new,
        "customers": 2,
        "reason": "",
    }


def restored(t: str, incident: str, device: str) -> dict[str, Any]:
    return {
        "type": "OutageRestored",
        "at": z(t),
        "incident": incident,
        "device": device,
        "customers": 1,
        "cause": "",
    }


def test_first_and_last_etr_by_hand(topology: Topology) -> None:
    """F01 at fuse.2 08:00-10:00 (p3, p4), F02 at tx.1 08:10-09:00 (p1, p2).

    I1 is predicted low at tx.2 (covers p3 only), given 09:30 at 08:06, moved up to fuse.2 at
    08:20 (now p4 too, which is told 09:30), re-estimated 10:30 by its crew at 08:30.
    I2 at tx.1 is told 08:50 at 08:40 and 09:10 at 08:55.
    """
    events = [
        predicted("08:05", "I1", "tx.2"),
        etr("08:06", "I1", "09:30"),
        predicted("08:12", "I2", "tx.1"),
        moved("08:20", "I1", "tx.2", "fuse.2"),
        etr("08:30", "I1", "10:30", source="crew"),
        etr("08:40", "I2", "08:50"),
        etr("08:55", "I2", "09:10", source="officer"),
        restored("09:00", "I2", "tx.1"),
        restored("10:00", "I1", "fuse.2"),
    ]
    t = truth(
        fault("F01", "fuse.2", "fuse", "08:00", "10:00"),
        fault("F02", "tx.1", "transformer", "08:10", "09:00"),
    )
    score = score_etr(topology, t, events).to_dict()
    assert score["customers_out"] == 4 and score["customers_with_etr"] == 4
    assert score["share_with_etr"] == 1.0
    # first ETRs: p3 09:30 (-30), p4 09:30 (-30), p1 and p2 08:50 (-10): all late
    assert score["first_etr"] == {
        "customers": 4,
        "on_time_share": 0.0,
        "on_time_share_of_all": 0.0,
        "mean_abs_error_min": 20.0,
        "median_abs_error_min": 10.0,
        "mean_error_min": -20.0,
    }
    # last ETRs: 10:30 (+30) twice, 09:10 (+10) twice: all on time
    assert score["last_etr"] == {
        "customers": 4,
        "on_time_share": 1.0,
        "on_time_share_of_all": 1.0,
        "mean_abs_error_min": 20.0,
        "median_abs_error_min": 10.0,
        "mean_error_min": 20.0,
    }
    # waits for a first ETR: p3 6 min, p4 20, p1 and p2 30 -> weighted median 20
    assert score["median_minutes_to_etr"] == 20.0
    assert score["incidents"] == 2 and score["incidents_with_etr"] == 2
    assert score["incidents_without_etr"] == []
    assert score["prediction_to_etr_max_min"] == 28.0
    assert score["prediction_to_etr_p95_min"] == 28.0
    assert score["prediction_to_etr_mean_min"] == 14.5
    assert score["etr_moves_mean"] == 1.0 and score["share_incidents_moved"] == 1.0
    assert score["etr_moves_by_source"] == {"crew": 1, "officer": 1}
    assert score["etr_sources"] == {"estimated": 4}
    per_fault = {row["fault"]: row for row in score["per_fault"]}
    assert per_fault["F01"]["customers"] == 2 and per_fault["F01"]["first_mean_abs_error_min"] == 30
    assert per_fault["F02"]["first_on_time_share"] == 0.0


def test_nested_merged_cleared_and_never_given(topology: Topology) -> None:
    """F01 at fuse.2 08:00-09:00; F02 at tx.3 (under it) 08:05-10:00, so p4 is back at 10:00.

    I1 at fuse.2 is told 09:00 at 08:03; I2 at tx.3 is told 09:30 at 08:04, cleared at
    08:30 and told 10:15 at 08:31 (one move); I3 at tx.2 (no ETR) merges into I1; I4 at tx.1
    (noise, no ETR) is cancelled. OutageRestored alone ends I1 (no status change given).
    """
    events = [
        predicted("08:02", "I1", "fuse.2"),
        etr("08:03", "I1", "09:00"),
        predicted("08:04", "I2", "tx.3"),
        etr("08:04", "I2", "09:30"),
        predicted("08:10", "I4", "tx.1"),
        {"type": "IncidentCancelled", "at": z("08:20"), "incident": "I4", "reason": "", "by": ""},
        etr("08:30", "I2", None),
        etr("08:31", "I2", "10:15"),
        predicted("08:50", "I3", "tx.2"),
        {"type": "IncidentMerged", "at": z("08:55"), "incident": "I3", "into": "I1"},
        restored("09:00", "I1", "fuse.2"),
        restored("10:00", "I2", "tx.3"),
    ]
    t = truth(
        fault("F01", "fuse.2", "fuse", "08:00", "09:00"),
        fault("F02", "tx.3", "transformer", "08:05", "10:00"),
    )
    score = score_etr(topology, t, events).to_dict()
    assert score["customers_out"] == 2
    # p3: 09:00 for a 09:00 restore (on time, 0); p4: first 09:00 for 10:00 (60 late)
    first = score["first_etr"]
    assert first["on_time_share"] == 0.5 and first["mean_abs_error_min"] == 30.0
    assert first["median_abs_error_min"] == 0.0 and first["mean_error_min"] == -30.0
    # p4's last: the latest in force before 10:00 is I2's 10:15 (+15); p3's stays 09:00
    last = score["last_etr"]
    assert last["on_time_share"] == 1.0 and last["mean_abs_error_min"] == 7.5
    assert score["incidents"] == 4 and score["incidents_with_etr"] == 2
    assert score["incidents_without_etr"] == ["I4"]  # I3 was merged away
    assert score["prediction_to_etr_max_min"] == 1.0 and score["prediction_to_etr_mean_min"] == 0.5
    assert score["etr_moves_mean"] == 0.5 and score["share_incidents_moved"] == 0.5


def test_no_etr_and_an_incident_elsewhere(topology: Topology) -> None:
    """An ETR given only to an incident that covers nobody truly out counts for nobody."""
    events = [predicted("08:05", "I1", "tx.1"), etr("08:06", "I1", "09:00")]
    lone = truth(fault("F01", "tx.2", "transformer", "08:00", "09:00"))
    score = score_etr(topology, lone, events)
    assert score.customers_out == 1 and score.customers_with_etr == 0
    assert score.first_etr.on_time_share is None and score.first_etr.on_time_share_of_all == 0.0
    assert score.incidents_with_etr == 1


def test_stored_outages_are_the_derived_ones_and_a_real_replay_scores() -> None:
    network = Network.from_tables(tiny_tables())
    spec = StormSpec(
        seed=5,
        faults=2,
        allow_whole_feeder=True,
        calls=CallSpec(share=1.0),
        crews=CrewSpec(count=1),
    )
    made = generate_storm(network.topology, spec)
    grid = Grid(network.topology)
    stored = made.truth.outages
    assert stored and sorted(derive_outages(grid, made.truth), key=repr) == sorted(stored, key=repr)
    result = replay(network, made.signals)
    score = score_etr(grid, made.truth, result.events)
    assert score.customers_out == sum(o.customers for o in stored)
    assert score.incidents >= 1


def test_score_etr_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from grid.io import write_gpkg

    gpkg = tmp_path / "tiny.gpkg"
    write_gpkg(tiny_tables(), gpkg)
    t = truth(fault("F01", "tx.2", "transformer", "08:00", "09:00"))
    (tmp_path / "truth.json").write_bytes(orjson.dumps(t.to_dict()))
    events = [predicted("08:05", "I1", "tx.2"), etr("08:06", "I1", "09:10")]
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(orjson.dumps(e) for e in events))
    argv = ["score-etr", "--topology", str(gpkg), "--truth", str(tmp_path / "truth.json")]
    assert main([*argv, "--events", str(tmp_path / "events.jsonl")]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert out["first_etr"]["on_time_share"] == 1.0 and out["first_etr"]["mean_error_min"] == 10
