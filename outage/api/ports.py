"""The playbooks' outbound ports as the service wires them.

SMS pushes go through the notify pipeline (consent, dedup, quiet hours, the durable outbox);
pages to standby agents and escalations to duty roles are appended to JSON-lines files next to
the journal — the embedded default's "outbox" for staff, which a site replaces with its paging
system; IVR announcements go on the board the IVR lookup reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from grid.topology import Topology
from notify.notifier import Notifier
from playbooks.roster import RosterEntry


class JsonLinesLog:
    """Appends one JSON object per line (thread-safe); the file is the record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` as one line."""
        line = orjson.dumps(record) + b"\n"
        with self._lock, self.path.open("ab") as out:
            out.write(line)

    def records(self) -> list[dict[str, Any]]:
        """Everything written so far."""
        if not self.path.exists():
            return []
        return [orjson.loads(line) for line in self.path.read_bytes().splitlines() if line]


class FilePager(JsonLinesLog):
    """`StaffingPager`: a page per line."""

    def __init__(self, path: Path, clock: Callable[[], datetime]) -> None:
        super().__init__(path)
        self.clock = clock

    def page(self, entry: RosterEntry, message: str) -> str:
        """Record the page; returns its reference."""
        at = self.clock()
        reference = f"page-{entry.name}-{at:%Y%m%dT%H%M%S}"
        self.append(
            {
                "ref": reference,
                "at": at.isoformat(),
                "name": entry.name,
                "role": entry.role,
                "phone": entry.phone,
                "message": message,
            }
        )
        return reference


class FileEscalation(JsonLinesLog):
    """`Escalation`: a notification per line."""

    def __init__(self, path: Path, clock: Callable[[], datetime]) -> None:
        super().__init__(path)
        self.clock = clock

    def notify(self, roles: list[str], channel: str, message: dict[str, str]) -> None:
        """Record the escalation."""
        self.append(
            {"at": self.clock().isoformat(), "roles": roles, "channel": channel, "message": message}
        )


class NotifySmsPush:
    """`SmsPush` through the notify pipeline: incidents' customers, or an area's."""

    def __init__(
        self,
        notifier: Notifier,
        topology: Topology,
        clock: Callable[[], datetime],
        run: Callable[[Callable[[], int]], int] = lambda fn: fn(),
    ) -> None:
        self.notifier = notifier
        self.run = run  # where notify work runs (the notify pump's thread, in the service)
        self.topology = topology
        self.clock = clock
        feeder_substation = np.asarray(topology.feeder_substation)
        transformer_feeder = np.asarray(topology.transformer_feeder)
        premise_transformer = np.asarray(topology.premise_transformer)
        #: each premise's substation number, for area pushes
        self._premise_substation = feeder_substation[transformer_feeder[premise_transformer]]

    def push(self, target: dict[str, Any], kind: str, text: dict[str, str], *, key: str) -> int:
        """Enqueue ``text`` for the target's customers; the same ``key`` twice sends nothing."""
        return self.run(lambda: self._push(target, text, key))

    def _push(self, target: dict[str, Any], text: dict[str, str], key: str) -> int:
        at = self.clock()
        incidents = [i for i in target.get("incidents") or () if i in self.notifier.book.incidents]
        if incidents:
            return sum(
                self.notifier.push(text, push_id=f"{key}:{i}", at=at, incident=i) for i in incidents
            )
        area = target.get("area", "system")
        if area == "system":
            chosen = np.arange(len(self.topology.premise_ids))
        else:
            wanted = [
                self.topology.substation_index[s]
                for s in area
                if s in self.topology.substation_index
            ]
            chosen = np.flatnonzero(np.isin(self._premise_substation, wanted))
        premises = [self.topology.premise_ids[p] for p in chosen.tolist()]
        if not premises:
            return 0
        return self.notifier.push(text, push_id=key, at=at, premises=premises)
