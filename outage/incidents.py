"""The incident (one ticket per outage) and its lifecycle.

scheduled ─▶ confirmed                         (planned work starts)
predicted ─▶ confirmed ─▶ dispatched ─▶ partially_restored ─▶ restored ─▶ closed
    │                                                  ▲
    └──────────────────────────────────────────────────┘  (restored straight from any open state)
predicted ─▶ merged (folded into another incident) | cancelled (withdrawn, or wrong prediction)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal

Level = Literal["transformer", "device"]


class Status(StrEnum):
    """An incident's place in its lifecycle (the diagram above). A member is its word: it
    compares equal to the string, and JSON, events and the API carry the string."""

    SCHEDULED = "scheduled"
    PREDICTED = "predicted"
    CONFIRMED = "confirmed"
    DISPATCHED = "dispatched"
    PARTIALLY_RESTORED = "partially_restored"
    RESTORED = "restored"
    CLOSED = "closed"
    MERGED = "merged"
    CANCELLED = "cancelled"


#: States in which the incident's customers are out and calls attach to it.
OPEN_STATES: Final = frozenset({Status.PREDICTED, Status.CONFIRMED, Status.DISPATCHED})
#: States that end an incident's own outage.
DONE_STATES: Final = frozenset({Status.RESTORED, Status.CLOSED, Status.MERGED, Status.CANCELLED})
#: What the dashboard map draws: the open incidents, and beside them partially restored ones
#: (customers still out) and planned work not yet started.
ON_MAP: Final = OPEN_STATES | {Status.PARTIALLY_RESTORED, Status.SCHEDULED}
#: What incident lists show and filter by: a merged incident is listed under the one it
#: joined.
LISTED_STATES: Final = frozenset(Status) - {Status.MERGED}
_S = Status
#: Which status may follow which (None: a new incident).
ALLOWED: Final[dict[Status | None, frozenset[Status]]] = {
    None: frozenset({_S.PREDICTED, _S.CONFIRMED, _S.SCHEDULED}),
    _S.SCHEDULED: frozenset({_S.CONFIRMED, _S.CANCELLED, _S.RESTORED}),
    _S.PREDICTED: frozenset(
        {_S.CONFIRMED, _S.DISPATCHED, _S.PARTIALLY_RESTORED, _S.RESTORED, _S.MERGED, _S.CANCELLED}
    ),
    _S.CONFIRMED: frozenset({_S.DISPATCHED, _S.PARTIALLY_RESTORED, _S.RESTORED, _S.CANCELLED}),
    _S.DISPATCHED: frozenset({_S.CONFIRMED, _S.PARTIALLY_RESTORED, _S.RESTORED, _S.CANCELLED}),
    _S.PARTIALLY_RESTORED: frozenset({_S.RESTORED, _S.CLOSED}),
    _S.RESTORED: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset(),
    _S.MERGED: frozenset(),
    _S.CANCELLED: frozenset(),
}


def service_key(premise_id: str) -> str:
    """The name of one premise's own service drop where assets are named by id (the Redis
    open-asset hash, outage-history records): apart from every device and transformer id."""
    return f"service:{premise_id}"


@dataclass(frozen=True, slots=True)
class HeldCall:
    """A call an incident holds: who called, when (epoch seconds), and whether it is a hazard."""

    premise: int
    at: int
    hazard: bool


@dataclass(slots=True, eq=False)
class Incident:
    """One outage: where it is, what it has gathered, and where it is in its lifecycle."""

    id: str
    level: Level
    node: int  # transformer number or device number, per ``level``
    asset: str  # the transformer or device id
    status: Status
    started: datetime
    cause: str
    customers: int
    substation: int
    feeder: int
    #: A service drop: the premise number whose own service alone is out under the
    #: transformer ``node`` (a lone report the transformer's silent neighbours argue against).
    #: None: every premise below the asset is out.
    premise: int | None = None
    planned: bool = False
    planned_end: datetime | None = None
    reason: str | None = None
    confirmed_by: str | None = None
    restored_at: datetime | None = None
    #: What ended it: "crew", "scada", "officer", "planned", "meters" (the inference saw its
    #: meters report power) — a later crew report of the same restoration takes over its time.
    restored_by: str | None = None
    closed_at: datetime | None = None
    etr: datetime | None = None
    #: Whose ETR ``etr`` is: "officer", "crew" or "estimated" (the engine's own).
    etr_source: str | None = None
    crew: str | None = None
    parent: str | None = None
    merged_into: str | None = None
    #: Placed by a duty officer (merge/split): inference no longer moves or absorbs it.
    pinned: bool = False
    #: A fact rather than a prediction (SCADA, an officer, planned work, a pin): the tree
    #: holds its asset open whatever the evidence says.
    forced: bool = False
    meter_events: int = 0
    #: Earliest evidence that was not a call (a last gasp, a SCADA trip, planned work), epoch
    #: seconds: a call made after it did not open the ticket.
    origin_at: int | None = None
    #: Every call this incident holds, by call id.
    held: dict[str, HeldCall] = field(default_factory=dict)
    timeline: list[tuple[str, datetime]] = field(default_factory=list)
    #: The latest explanation of the prediction in numbers (see `outage.inference.explain`).
    explanation: dict[str, Any] | None = None

    def covers(self, premise: int) -> bool:
        """Is ``premise`` among this incident's customers (when its asset is above it)?"""
        return self.premise is None or self.premise == premise

    @property
    def is_open(self) -> bool:
        """Customers are out and calls attach here."""
        return self.status in OPEN_STATES

    @property
    def is_predicted(self) -> bool:
        """Still a prediction the engine may move, merge or split."""
        return self.status == Status.PREDICTED and not self.forced

    @property
    def calls(self) -> list[str]:
        """Call ids in the order they were made (time, then id)."""
        return [c for c, _ in self._ordered()]

    @property
    def call_premises(self) -> list[int]:
        """Premise numbers of `calls`, in the same order."""
        return [h.premise for _, h in self._ordered()]

    @property
    def hazards(self) -> list[str]:
        """The wire-down and fire calls among `calls`."""
        return [c for c, h in self._ordered() if h.hazard]

    def suppressed(self) -> set[str]:
        """Calls that created no ticket: every non-hazard call but the one that opened it.

        Derived from the calls themselves, so it is the same whatever order they arrived in.
        """
        ordered = self._ordered()
        out = {c for c, h in ordered if not h.hazard}
        if ordered and not ordered[0][1].hazard:
            first = ordered[0][1].at
            if self.origin_at is None or first < self.origin_at:
                out.discard(ordered[0][0])
        return out

    def _ordered(self) -> list[tuple[str, HeldCall]]:
        return sorted(self.held.items(), key=lambda item: (item[1].at, item[0]))
