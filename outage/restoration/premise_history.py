"""Each premise's outage history, and the frequent-outage (频繁停电) early warning.

A restored incident is recorded once, at its asset (a device or a transformer); a premise's
outages are the records at its transformer and at every device above it, so recording a
feeder outage costs one entry, not one per premise. Momentary interruptions (shorter than the
rule set's ``momentary_minutes``, IEEE 1366) are not outages here either.

A service drop (one premise's own supply) is recorded at that premise: it is in the premise's
history but not in its neighbours', and it does not count towards the transformer's flag.

A transformer is flagged when its premises reach ``frequent_outage.count`` sustained outages
within ``frequent_outage.window_days``, once per window, so the utility can act (patrol,
trim trees, replace the fuse) before the customers complain.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from grid.topology import Topology
from outage.events import iso
from outage.incidents import service_key
from outage.restoration.config import RestorationRules


@dataclass(frozen=True, slots=True)
class OutageRecord:
    """One sustained outage at an asset."""

    start: datetime
    end: datetime
    incident: str

    @property
    def minutes(self) -> float:
        """How long it lasted."""
        return (self.end - self.start).total_seconds() / 60


class OutageHistory:
    """Outage records by asset, and which transformers are flagged (module docstring)."""

    def __init__(self, topology: Topology, rules: RestorationRules) -> None:
        self.topology = topology
        self.window = timedelta(days=rules.frequent_outage.window_days)
        self.count = rules.frequent_outage.count
        self.days = rules.history_days
        self._devices: dict[int, list[OutageRecord]] = defaultdict(list)
        self._transformers: dict[int, list[OutageRecord]] = defaultdict(list)
        self._premises: dict[int, list[OutageRecord]] = defaultdict(list)
        #: transformer -> when it was last flagged
        self.flagged: dict[int, datetime] = {}
        #: Assets whose records (or flags) changed since `take_changes` last ran.
        self._changed: set[tuple[str, int]] = set()

    def record(self, level: str, number: int, record: OutageRecord) -> tuple[list[int], int] | None:
        """Add an outage at a device, transformer or (a service drop) premise; returns the
        transformers it takes past the frequent-outage count (and their outage count), or
        None."""
        level = level if level in ("transformer", "premise") else "device"
        table = {"transformer": self._transformers, "premise": self._premises}.get(
            level, self._devices
        )
        rows = table[number]
        rows.insert(bisect_left([r.start for r in rows], record.start), record)
        self._changed.add((level, number))
        if level == "premise":
            return None
        topo = self.topology
        below = [number] if level == "transformer" else topo.transformers_below(number)
        since = record.end - self.window
        flagged, most = [], 0
        for transformer in below:
            last = self.flagged.get(transformer)
            if last is not None and last > since:
                continue
            count = len(self._records(transformer, since, record.end))
            if count >= self.count:
                self.flagged[transformer] = record.end
                self._changed.add(("flag", transformer))
                flagged.append(transformer)
                most = max(most, count)
        return (flagged, most) if flagged else None

    def _records(self, transformer: int, since: datetime, until: datetime) -> list[OutageRecord]:
        """Outages of ``transformer``'s premises that ended in (since, until]."""
        topo = self.topology
        device = topo.transformer_device[transformer]
        tables = [self._transformers.get(transformer, [])]
        if device >= 0:
            tables += [self._devices.get(d, []) for d in topo.device_chain[device]]
        out = [r for rows in tables for r in rows if since < r.end <= until]
        out.sort(key=lambda r: (r.start, r.incident))
        return out

    def of_premise(self, premise: int, now: datetime) -> dict[str, Any]:
        """The IVR / agent answer to "again?": outages of the last ``history_days``."""
        transformer = self.topology.premise_transformer[premise]
        since = now - timedelta(days=self.days)
        rows = self._records(transformer, since, now)
        own = [r for r in self._premises.get(premise, []) if since < r.end <= now]
        if own:
            rows = sorted(rows + own, key=lambda r: (r.start, r.incident))
        flagged = self.flagged.get(transformer)
        return {
            "premise": self.topology.premise_ids[premise],
            "days": self.days,
            "outages": len(rows),
            "minutes_out": round(sum(r.minutes for r in rows), 1),
            "frequent": flagged is not None and flagged > now - self.window,
            "last": _row(rows[-1]) if rows else None,
            "history": [_row(r) for r in reversed(rows)],
        }

    def frequent(self, now: datetime) -> list[dict[str, Any]]:
        """Transformers flagged within the window, most outages first."""
        topo = self.topology
        out: list[dict[str, Any]] = []
        for transformer, at in self.flagged.items():
            if at <= now - self.window:
                continue
            rows = self._records(transformer, now - self.window, now)
            out.append(
                {
                    "transformer": topo.transformer_ids[transformer],
                    "feeder": topo.feeder_ids[topo.transformer_feeder[transformer]],
                    "premises": len(topo.premises_of_transformer(transformer)),
                    "customers": int(topo.transformer_customers[transformer]),
                    "outages": len(rows),
                    "flagged_at": iso(at),
                    "last": _row(rows[-1]) if rows else None,
                }
            )
        out.sort(key=lambda r: (-r["outages"], r["transformer"]))
        return out

    def take_changes(self) -> dict[str, Any]:
        """The records of every asset that gained one since the last call, and the flags
        set since then, as JSON by asset id (``flag:<transformer>`` for a flag): what a
        reader in another process (the Redis backend's API workers) stores and `restore`s."""
        topo = self.topology
        out: dict[str, Any] = {}
        for level, number in sorted(self._changed):
            if level == "flag":
                out[f"flag:{topo.transformer_ids[number]}"] = iso(self.flagged[number])
                continue
            if level == "premise":
                rows, key = self._premises[number], service_key(topo.premise_ids[number])
            elif level == "transformer":
                rows, key = self._transformers[number], str(topo.transformer_ids[number])
            else:
                rows, key = self._devices[number], str(topo.device_ids[number])
            out[key] = [[iso(r.start), iso(r.end), r.incident] for r in rows]
        self._changed.clear()
        return out

    def restore(self, stored: dict[str, Any]) -> None:
        """Put back records and flags in the `take_changes` shape (unknown ids skipped)."""
        topo = self.topology
        for key, value in stored.items():
            if key.startswith("flag:"):
                number = topo.transformer_index.get(key[5:])
                if number is not None:
                    self.flagged[number] = datetime.fromisoformat(value)
                continue
            if key.startswith(service_key("")):
                premise = topo.premise_index.get(key[len(service_key("")) :])
                if premise is not None:
                    self._premises[premise] = _records_of(value)
                continue
            device = topo.device_index.get(key)
            transformer = topo.transformer_index.get(key) if device is None else None
            if device is None and transformer is None:
                continue
            table = self._devices if device is not None else self._transformers
            table[device if device is not None else transformer] = _records_of(  # type: ignore[index]
                value
            )


def _records_of(value: list[list[str]]) -> list[OutageRecord]:
    return [
        OutageRecord(datetime.fromisoformat(a), datetime.fromisoformat(b), i) for a, b, i in value
    ]


def _row(record: OutageRecord) -> dict[str, Any]:
    return {
        "incident": record.incident,
        "start": iso(record.start),
        "end": iso(record.end),
        "minutes": round(record.minutes, 1),
    }
