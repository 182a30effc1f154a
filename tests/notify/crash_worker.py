"""A notifier process for the crash test: feeds a simulated storm's events to a notifier over
a SQLite store and a file outbox, resuming after its high-water mark, and dispatches at fixed
event numbers. Killed with SIGKILL at random moments and started again by the test.

    python -m tests.notify.crash_worker STATE_DIR [--pause SECONDS]

The storm, the events and their numbers are deterministic (seeded simulation through the
engine), so an uninterrupted run and a crashed-and-restarted one must send the same texts.
A few customers send STOP before anything happens; none of them may ever get a text.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from grid.synthetic import CitySpec, generate_city
from notify import Notifier, NotifyConfig, SqliteStore
from notify.channels import FileChannel
from outage.bootstrap import Network, build_engine
from outage.events import Event
from outage.host import EngineHost
from outage.signals import parse_signal
from scenarios.city_storm import CityStorm, simulate_storm

DISPATCH_EVERY = 7
STOPPED = 25  # how many opted-in customers text STOP first


def storm() -> tuple[Network, list[tuple[int, Event]]]:
    """The city and the numbered events of a seeded storm."""
    network = Network.from_tables(generate_city(CitySpec(customers=3000, seed=1)))
    simulation = simulate_storm(
        network.topology, network.tables.customers, CityStorm(faults=8, seed=5, nested=0.4)
    )
    host = EngineHost(build_engine(network), None)
    events: list[tuple[int, Event]] = []
    host.listeners.append(lambda seq, event: events.append((seq, event)))
    host.submit(parse_signal(s) for s in simulation.signals)
    return network, events


def stopped_phones(network: Network) -> list[str]:
    """The phones that send STOP (opted-in customers, chosen deterministically)."""
    customers = network.tables.customers
    return sorted(customers[customers["sms_opt_in"].astype(bool)]["phone"])[::97][:STOPPED]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("state", type=Path)
    parser.add_argument("--pause", type=float, default=0.0)
    args = parser.parse_args()
    network, events = storm()
    config = NotifyConfig(quiet_hours={}, rate_per_second=1e6, burst=10**6,
                          detect_delay_minutes=2)
    notifier = Notifier(
        network.topology, network.tables.customers, config,
        SqliteStore(args.state / "notify.sqlite"), FileChannel(args.state / "outbox.jsonl"),
    )
    first = events[0][1].at
    for number, phone in enumerate(stopped_phones(network)):
        notifier.handle_inbound(phone, "STOP", f"stop-{number}", first)  # same id: idempotent
    previous = first
    for seq, event in events:
        if seq <= notifier.high_water:
            previous = event.at
            continue
        if seq % DISPATCH_EVERY == 0:
            notifier.dispatch(previous)
        notifier.on_event(seq, event)
        previous = event.at
        time.sleep(args.pause)
    notifier.dispatch(previous.replace(year=previous.year + 1))  # everything still due
    (args.state / "done").write_text(str(notifier.high_water))


if __name__ == "__main__":
    main()
