"""The incident (one ticket per outage) and its lifecycle.

scheduled ─▶ confirmed                         (planned work starts)
predicted ─▶ confirmed ─▶ dispatched ─▶ partially_restored ─▶ restored ─▶ closed
    │                                                  ▲
    └──────────────────────────────────────────────────┘  (restored straight from any open state)
predicted ─▶ merged (folded into a parent prediction) | cancelled (wrong prediction)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

Level = Literal["transformer", "device"]

#: States in which the incident's customers are out and calls attach to it.
OPEN_STATES: Final = frozenset({"predicted", "confirmed", "dispatched"})
#: States that end an incident's own outage.
DONE_STATES: Final = frozenset({"restored", "closed", "merged", "cancelled"})
ALLOWED: Final[dict[str | None, frozenset[str]]] = {
    None: frozenset({"predicted", "confirmed", "scheduled"}),
    "scheduled": frozenset({"confirmed", "cancelled", "restored"}),
    "predicted": frozenset(
        {"confirmed", "dispatched", "partially_restored", "restored", "merged", "cancelled"}
    ),
    "confirmed": frozenset({"dispatched", "partially_restored", "restored", "cancelled"}),
    "dispatched": frozenset({"confirmed", "partially_restored", "restored", "cancelled"}),
    "partially_restored": frozenset({"restored", "closed"}),
    "restored": frozenset({"closed"}),
    "closed": frozenset(),
    "merged": frozenset(),
    "cancelled": frozenset(),
}


@dataclass(slots=True, eq=False)
class Incident:
    """One outage: where it is, what it has gathered, and where it is in its lifecycle."""

    id: str
    level: Level
    node: int  # transformer number or device number, per ``level``
    asset: str  # the transformer or device id
    status: str
    started: datetime
    cause: str
    customers: int
    substation: int
    feeder: int
    planned: bool = False
    planned_end: datetime | None = None
    reason: str | None = None
    confirmed_by: str | None = None
    restored_at: datetime | None = None
    closed_at: datetime | None = None
    etr: datetime | None = None
    crew: str | None = None
    parent: str | None = None
    merged_into: str | None = None
    #: Placed by a duty officer (merge/split): automatic roll-up no longer moves or absorbs it.
    pinned: bool = False
    calls: list[str] = field(default_factory=list)
    call_premises: list[int] = field(default_factory=list)  # parallel to ``calls``
    hazards: list[str] = field(default_factory=list)
    meter_events: int = 0
    #: Premises reporting no power (calls or last gasps) -> time of their latest report.
    reports: dict[int, datetime] = field(default_factory=dict)
    #: Transformers that ever reported here: a report from a new one re-evaluates the roll-up.
    report_transformers: set[int] = field(default_factory=set)
    timeline: list[tuple[str, datetime]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        """Customers are out and calls attach here."""
        return self.status in OPEN_STATES

    @property
    def is_predicted(self) -> bool:
        """Still a prediction the engine may move, merge or split."""
        return self.status == "predicted"
