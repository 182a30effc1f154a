"""``outage etr fit``: the history it writes moves towards the journal's own restorations."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
from typer.testing import CliRunner

from grid.synthetic import CitySpec, generate_city
from outage.api.runtime import Runtime
from outage.bootstrap import Network
from outage.cli import app
from outage.journal import SqliteJournal
from outage.restoration.history import RepairHistory, period_of
from outage.signals import parse_signal

T0 = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)


def _journal_of_fuse_outages(path: Path, minutes: list[float]) -> None:
    """One fuse blown and restored again and again, each outage lasting ``minutes[i]``."""
    network = Network.from_tables(generate_city(CitySpec(customers=3000, seed=1)))
    topo = network.topology
    fuse = next(
        d
        for d, k in enumerate(topo.device_kind)
        if k == "fuse" and len(topo.device_transformers[d]) >= 3
    )
    premises = [
        topo.premise_ids[int(topo.premises_of_transformer(t)[0])]
        for t in topo.device_transformers[fuse][:3]
    ]
    runtime = Runtime(network, SqliteJournal(path))
    signals = []
    for n, duration in enumerate(minutes):
        start = T0 + timedelta(days=n)  # the same hour every day: one time-of-day period
        signals += [
            {"type": "call", "id": f"c{n}-{i}", "ts": (start + timedelta(minutes=i)).isoformat(),
             "premise": p}
            for i, p in enumerate(premises)
        ]  # fmt: skip
        signals.append(
            {"type": "restore", "id": f"r{n}", "device": topo.device_ids[fuse],
             "ts": (start + timedelta(minutes=duration)).isoformat()}
        )  # fmt: skip
    runtime.submit([parse_signal(s) for s in signals])
    runtime.journal.close()  # type: ignore[union-attr]


def test_fit_moves_the_cell_to_the_journals_outage_times(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    _journal_of_fuse_outages(journal, [300.0 + 20 * i for i in range(16)])
    out = tmp_path / "history.yaml"
    result = CliRunner().invoke(app, ["etr", "fit", "--journal", str(journal), "-o", str(out)])
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout[result.stdout.index("{") :])
    assert summary["work_orders"] == 16 and summary["closed"] == 16
    # The oracle: the closed orders' own times, read straight from the journal.
    store = SqliteJournal(journal)
    closed = [
        orjson.loads(b) for _, kind, b in store.events(0, 100_000) if kind == "WorkOrderClosed"
    ]
    store.close()
    assert len(closed) == 16
    observed = [
        math.log(
            (datetime.fromisoformat(c["at"]) - datetime.fromisoformat(c["opened"])).total_seconds()
            / 60
        )
        for c in closed
    ]
    first = closed[0]
    zone_key = (
        first["kind"],
        first["cause"],
        period_of(
            datetime.fromisoformat(first["opened"]),
            ZoneInfo("Asia/Shanghai"),
        ),
        first["weather"],
    )
    prior = RepairHistory.default().cell("outage", zone_key).mu
    fitted = RepairHistory.load(out).cell("outage", zone_key).mu
    mean = sum(observed) / len(observed)
    # Shrunk towards the prior, but most of the way to 16 observations.
    assert min(prior, mean) < fitted < max(prior, mean)
    assert abs(fitted - mean) < abs(prior - mean) / 2


def test_fit_without_a_journal_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["etr", "fit", "--journal", str(tmp_path / "none.sqlite"), "-o", str(tmp_path / "h.yaml")],
    )
    assert result.exit_code == 2 and "no such journal" in result.output
    both = CliRunner().invoke(app, ["etr", "fit", "-o", str(tmp_path / "h.yaml")])
    assert both.exit_code == 2 and "exactly one" in both.output
