"""Notification throughput: every customer of a 100,000-customer city out at once.

    python benchmarks/notify_bench.py                      # 100,000 customers
    python benchmarks/notify_bench.py --customers 24000    # a quicker run

The city is generated in memory (`generate_city`, seed 7). One `OutagePredicted` per feeder
(at its head breaker) puts every customer out; the notifier decides and durably enqueues
their texts (SQLite outbox in a temp dir, WAL) — the issue's goal is all decided in under
10 s. Then the outbox is drained through the file channel with the throttle opened wide
(what sending costs us, before any provider's rate), and finally an ETR change (texts to
everyone told) and the restorations (superseding nothing, texting everyone) are decided.
Figures are wall time; output is a table on stdout and ``.bench/notify_bench.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.provenance import code_state  # noqa: E402
from grid.synthetic import CitySpec, generate_city  # noqa: E402
from grid.topology import build_topology  # noqa: E402
from notify import Notifier, NotifyConfig, SqliteStore  # noqa: E402
from notify.channels import FileChannel  # noqa: E402
from outage import events as ev  # noqa: E402

T0 = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)


def timed(label: str, figures: dict[str, Any], action: Any) -> Any:
    started = time.perf_counter()
    result = action()
    figures[label] = round(time.perf_counter() - started, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    figures: dict[str, Any] = {"customers": args.customers}
    tables = timed("city_s", figures, lambda: generate_city(CitySpec(args.customers, seed=7)))
    topology = build_topology(tables)
    heads = [topology.device_ids[h] for h in topology.feeder_head]
    config = NotifyConfig(quiet_hours={}, rate_per_second=1e9, burst=10**9)
    with tempfile.TemporaryDirectory() as folder:
        notifier = timed("setup_s", figures, lambda: Notifier(
            topology, tables.customers, config, SqliteStore(Path(folder) / "notify.sqlite"),
            FileChannel(Path(folder) / "sms.jsonl", fsync=False),
        ))
        seq = 0

        def decide(make: Any) -> int:
            nonlocal seq
            total = 0
            for number, head in enumerate(heads):
                seq += 1
                total += notifier.on_event(seq, make(f"INC-{number:04d}", head))
            return total

        decided = timed("decide_s", figures, lambda: decide(lambda i, d: ev.OutagePredicted(
            at=T0, incident=i, device=d, level="device", customers=0, substation="s",
            feeder="f", cause="storm")))
        figures["decided"] = decided
        report = timed("send_s", figures, lambda: notifier.dispatch(T0 + timedelta(minutes=1)))
        figures["sent"] = report.sent
        etr = T0 + timedelta(hours=6)
        figures["etr_texts"] = timed("etr_s", figures, lambda: decide(lambda i, d: ev.EtrChanged(
            at=T0 + timedelta(minutes=5), incident=i, etr=etr, previous=None, by="bench")))
        figures["restored_texts"] = timed("restore_s", figures, lambda: decide(
            lambda i, d: ev.OutageRestored(at=T0 + timedelta(hours=5), incident=i, device=d,
                                           customers=0, cause="bench")))
        notifier.channel.close()  # type: ignore[union-attr]
    figures["decided_per_s"] = round(figures["decided"] / figures["decide_s"])
    figures["sent_per_s"] = round(figures["sent"] / figures["send_s"])
    figures["goal_all_decided_under_10_s"] = figures["decide_s"] < 10
    figures["code"] = code_state()
    rows = [
        ("customers", f"{args.customers:,}"),
        ("outage texts decided + enqueued", f"{decided:,} in {figures['decide_s']} s "
         f"({figures['decided_per_s']:,}/s)"),
        ("sent through the file channel", f"{report.sent:,} in {figures['send_s']} s "
         f"({figures['sent_per_s']:,}/s)"),
        ("ETR-change texts decided", f"{figures['etr_texts']:,} in {figures['etr_s']} s"),
        ("restoration texts decided", f"{figures['restored_texts']:,} in {figures['restore_s']} s"),
        ("goal: all decided in < 10 s", "met" if figures["goal_all_decided_under_10_s"] else "no"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    out = ROOT / ".bench"
    out.mkdir(exist_ok=True)
    (out / "notify_bench.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
