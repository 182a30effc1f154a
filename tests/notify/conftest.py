"""Notify fixtures: a small synthetic city, a notifier over it, and an event factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from grid.synthetic import CitySpec, generate_city
from notify import Notifier, NotifyConfig, SqliteStore
from notify.channels import FileChannel
from outage import events as ev
from outage.bootstrap import Network

#: 10:00 in Shanghai: outside the default quiet hours.
T0 = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def city() -> Network:
    """3,000 customers (seeded): phones, zh-CN/en, opt-ins, critical care and vip."""
    return Network.from_tables(generate_city(CitySpec(customers=3000, seed=1)))


@dataclass(frozen=True)
class Assets:
    """A recloser with two fused laterals under it, and a transformer under the first fuse."""

    recloser: str
    fuse: str
    other_fuse: str
    transformer: str


@pytest.fixture(scope="session")
def assets(city: Network) -> Assets:
    topo = city.topology
    for device, kind in enumerate(topo.device_kind):
        if kind != "recloser":
            continue
        fuses = [
            d
            for d in topo.device_children[device]
            if topo.device_kind[d] == "fuse" and len(topo.device_transformers[d]) >= 3
        ]
        if len(fuses) >= 2:
            transformer = topo.device_transformers[fuses[0]][0]
            return Assets(
                topo.device_ids[device],
                topo.device_ids[fuses[0]],
                topo.device_ids[fuses[1]],
                topo.transformer_ids[transformer],
            )
    raise AssertionError("test city has no recloser with two fused laterals")


class Stream:
    """Numbered domain events fed to a notifier, minute by minute after `T0`."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.seq = 0

    def at(self, minute: float) -> datetime:
        return T0 + timedelta(minutes=minute)

    def emit(self, kind: type[ev.Event], minute: float = 0, **fields: Any) -> int:
        self.seq += 1
        return self.notifier.on_event(self.seq, kind(at=self.at(minute), **fields))

    def predicted(
        self, incident: str, device: str, minute: float = 0, level: str = "device"
    ) -> int:
        return self.emit(
            ev.OutagePredicted, minute, incident=incident, device=device, level=level,
            customers=0, substation="s", feeder="f", cause="calls",
        )

    def restored(self, incident: str, device: str, minute: float) -> int:
        return self.emit(
            ev.OutageRestored, minute, incident=incident, device=device, customers=0, cause="crew"
        )


@pytest.fixture
def make_notifier(
    city: Network, tmp_path: Path
) -> Iterator[Callable[..., tuple[Notifier, Stream]]]:
    made: list[Notifier] = []

    def make(
        customers: pd.DataFrame | None = None, channel: Any = "file", **config: Any
    ) -> tuple[Notifier, Stream]:
        config.setdefault("quiet_hours", {})
        config.setdefault("rate_per_second", 1000.0)
        config.setdefault("burst", 100_000)
        if channel == "file":
            channel = FileChannel(tmp_path / f"sms-{len(made)}.jsonl", fsync=False)
        notifier = Notifier(
            city.topology,
            city.tables.customers if customers is None else customers,
            NotifyConfig(**config),
            SqliteStore(tmp_path / f"notify-{len(made)}.sqlite"),
            channel,
        )
        made.append(notifier)
        return notifier, Stream(notifier)

    yield make
    for notifier in made:
        if notifier.channel is not None:
            notifier.channel.close()


def expected_phones(city: Network, asset: str, *, opted_in_only: bool = True) -> set[str]:
    """Phones of the customers below ``asset``, computed straight from the tables."""
    topo = city.topology
    if asset in topo.transformer_index:
        premises = topo.premises_of_transformer(topo.transformer_index[asset])
    else:
        premises = topo.premises_below(topo.device_index[asset])
    ids = {topo.premise_ids[p] for p in premises}
    rows = city.tables.customers[city.tables.customers["premise"].isin(ids)]
    if opted_in_only:
        rows = rows[rows["sms_opt_in"].astype(bool)]
    return set(rows["phone"])
