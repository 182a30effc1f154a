"""Domain events: everything the engine decides, in the past tense.

Notifications, playbooks and the dashboard subscribe to these; they never reach into the
engine's state. Each event is a frozen dataclass with an ``at`` timestamp taken from the signal
that caused it (never the wall clock), so replaying the same signals gives the same events.
`to_json` gives the wire shape ``{"type": "<ClassName>", ...fields}``.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all domain events."""

    at: datetime

    @property
    def type(self) -> str:
        """The event's name, e.g. ``OutagePredicted``."""
        return type(self).__name__


# -- incidents ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutagePredicted(Event):
    """A new outage incident (ticket) predicted at ``device`` from calls or last gasps."""

    incident: str
    device: str
    level: str  # "transformer" | "device"
    customers: int
    substation: str
    feeder: str
    cause: str
    #: A service-drop outage: only this premise (under transformer ``device``) is out. None:
    #: every premise below ``device``.
    premise: str | None = None


@dataclass(frozen=True, slots=True)
class PredictionMoved(Event):
    """An incident's predicted device changed (rolled up, or moved down by new evidence), or
    its scope did: one premise's own service drop (``premise``) or the whole device (None)."""

    incident: str
    from_device: str
    to_device: str
    customers: int
    reason: str
    #: As in `OutagePredicted`: the one premise out under ``to_device``, or None for all.
    premise: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentMerged(Event):
    """``incident`` was folded into ``into`` (its calls keep their history there)."""

    incident: str
    into: str


@dataclass(frozen=True, slots=True)
class OutageConfirmed(Event):
    """The outage is known, not just predicted (SCADA, crew or officer)."""

    incident: str
    device: str
    by: str


@dataclass(frozen=True, slots=True)
class CrewDispatched(Event):
    """A crew was sent to the incident."""

    incident: str
    crew: str
    by: str


@dataclass(frozen=True, slots=True)
class EtrChanged(Event):
    """The estimated time of restoration was set or changed.

    ``source`` says whose it is: ``officer`` (a duty officer's command), ``crew`` (the crew on
    the job) or ``estimated`` (the engine's own estimate, from repair history and, in a storm,
    the crews' workload). An officer's or crew's ETR is never replaced by an estimate.
    """

    incident: str
    etr: datetime | None
    previous: datetime | None
    by: str
    source: str = "officer"


@dataclass(frozen=True, slots=True)
class OutagePartiallyRestored(Event):
    """The incident's device closed but nested outages below it keep some customers out."""

    incident: str
    device: str
    customers_restored: int
    customers_still_out: int
    still_out_incidents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OutageRestored(Event):
    """Every customer of the incident has power again."""

    incident: str
    device: str
    customers: int
    cause: str


@dataclass(frozen=True, slots=True)
class IncidentStatusChanged(Event):
    """Every lifecycle step, for timelines: predicted -> confirmed -> ... -> closed."""

    incident: str
    old: str | None
    new: str


@dataclass(frozen=True, slots=True)
class IncidentCancelled(Event):
    """A wrong prediction was cancelled."""

    incident: str
    reason: str
    by: str


# -- calls and tickets ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallAttached(Event):
    """A call joined an incident; ``suppressed`` when it created no new ticket."""

    incident: str
    call: str
    premise: str
    suppressed: bool


@dataclass(frozen=True, slots=True)
class HazardReported(Event):
    """A wire-down or fire call: its own priority ticket, linked to the outage if any."""

    ticket: str
    call: str
    kind: str
    premise: str
    incident: str | None


@dataclass(frozen=True, slots=True)
class ServiceTicketOpened(Event):
    """A call that is not outage evidence (flicker, other, or a premise shown energised)."""

    ticket: str
    call: str
    premise: str
    reason: str


@dataclass(frozen=True, slots=True)
class CallUnresolved(Event):
    """A call that could not be tied to a premise: kept as a ticket with the reason."""

    ticket: str
    call: str
    reason: str


#: Events that end a call on their own (see `ends_call` for hazards).
CALL_OUTCOMES = (CallAttached, ServiceTicketOpened, CallUnresolved)


def ends_call(event: Event) -> bool:
    """True for the one event that says what became of an incoming call.

    Every call the engine takes ends as exactly one of these, so counting them counts calls:
    `CallAttached` (it joined an outage), `ServiceTicketOpened`, `CallUnresolved`, or a
    `HazardReported` that no outage holds. A hazard on an outage also joins it
    (`CallAttached`), so its `HazardReported` is a second record of the same call and is not
    counted again. The call-rate chart, the call-surge and staffing inputs and the tests all
    count calls with this one rule."""
    if isinstance(event, HazardReported):
        return event.incident is None
    return isinstance(event, CALL_OUTCOMES)


# -- planned work, devices, storm, weather ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedOutageScheduled(Event):
    """Planned work registered ahead of time."""

    incident: str
    device: str
    start: datetime
    end: datetime
    reason: str
    customers: int


@dataclass(frozen=True, slots=True)
class PlannedOutageStarted(Event):
    """Planned work began: its customers are now out."""

    incident: str
    device: str
    customers: int


@dataclass(frozen=True, slots=True)
class DeviceOperated(Event):
    """A device opened or closed (SCADA or crew)."""

    device: str
    state: str
    source: str


@dataclass(frozen=True, slots=True)
class StormDeclared(Event):
    """Storm / mass-outage conditions in ``scope`` ("system" or a substation id)."""

    scope: str
    reasons: tuple[str, ...]
    customers_out: int
    open_incidents: int
    calls_per_hour: float
    baseline_per_hour: float


@dataclass(frozen=True, slots=True)
class StormStoodDown(Event):
    """Storm conditions in ``scope`` have been clear for the hold time."""

    scope: str
    declared_at: datetime


@dataclass(frozen=True, slots=True)
class RuleSetChanged(Event):
    """Prediction switched between the ``normal`` and ``storm`` rule sets."""

    rule_set: str


@dataclass(frozen=True, slots=True)
class WarningIssued(Event):
    """A weather or heat warning arrived (playbooks act on it)."""

    signal: str
    kind: str
    level: str
    area: str
    until: datetime | None


# -- crews, work orders, follow-up -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkOrderOpened(Event):
    """A fault incident got its repair work order, with the service-commitment deadline for
    a crew to be on site (``arrival_due``, from the area class's limit)."""

    order: str
    incident: str
    area_class: str
    arrival_due: datetime
    customers: int


@dataclass(frozen=True, slots=True)
class CrewStatusChanged(Event):
    """A crew moved to ``status`` (dispatched, en_route, on_site, repairing, available,
    off_shift), on ``order`` when it works one; ``lon``/``lat`` when it said where it is."""

    crew: str
    status: str
    order: str | None
    incident: str | None
    lon: float | None
    lat: float | None
    by: str


@dataclass(frozen=True, slots=True)
class SlaEscalated(Event):
    """A work order's deadline is near (``level`` = ``warning``) or passed (``breach``) for
    ``step`` = ``arrival`` (crew on site) or ``restoration`` (power back after arrival)."""

    order: str
    incident: str
    step: str
    level: str
    due: datetime
    crew: str | None
    area_class: str


@dataclass(frozen=True, slots=True)
class WorkOrderClosed(Event):
    """A work order ended (``outcome``: restored, merged, cancelled), with what each step
    took against its limit (minutes; None when the step never happened), and what the
    restoration-time history is fit from (``outage etr fit``): the asset ``kind``, the
    ``cause`` the crew found, the ``weather`` and when the order ``opened``."""

    order: str
    incident: str
    outcome: str
    crew: str | None
    kind: str
    cause: str
    weather: str
    opened: datetime
    arrival_minutes: float | None
    arrival_limit_minutes: float
    restoration_minutes: float | None
    restoration_limit_minutes: float
    #: From opening to a crew dispatched, and from dispatch to the crew on its way (less the
    #: straight-line travel when it never said it left): the rest of the history.
    dispatch_minutes: float | None = None
    mobilise_minutes: float | None = None
    #: The time it took from its first estimated ETR over the time that estimate's median
    #: gave (calibrates later first estimates).
    estimate_ratio: float | None = None


@dataclass(frozen=True, slots=True)
class SubstationEtrChanged(Event):
    """While a storm is declared: the time by which most (``share``) of the customers out in
    ``substation`` should be back, from the ETRs of its open incidents."""

    substation: str
    etr: datetime | None
    customers_out: int
    share: float


@dataclass(frozen=True, slots=True)
class FollowUpDue(Event):
    """``incident`` is restored: the customers at ``premises`` called about it and are to be
    asked how it went (回访: an SMS "reply 1-5", or an agent's callback list)."""

    incident: str
    premises: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FollowUpAnswered(Event):
    """A customer answered the follow-up after restoration (回访), score 1-5."""

    incident: str
    premise: str
    score: int
    channel: str


@dataclass(frozen=True, slots=True)
class FrequentOutageFlagged(Event):
    """频繁停电 early warning: the restoration of ``incident`` took the premises of
    ``transformers`` to ``outages`` or more sustained outages within ``window_days`` (the
    configured count); each transformer is flagged once per window."""

    incident: str
    transformers: tuple[str, ...]
    premises: int
    customers: int
    outages: int
    window_days: int


def iso(ts: datetime | None) -> str | None:
    """A UTC time as the API writes it (``...Z``), or None."""
    return ts.isoformat().replace("+00:00", "Z") if ts is not None else None


def to_json(event: Event) -> bytes:
    """``{"type": ..., **fields}`` as JSON bytes (orjson serialises dataclasses natively)."""
    body = orjson.dumps(event)
    return b'{"type":"' + event.type.encode() + b'",' + body[1:]


def to_dict(event: Event) -> dict[str, object]:
    """The event as a JSON-ready dict."""
    value: dict[str, object] = orjson.loads(to_json(event))
    return value


def _event_classes() -> dict[str, type[Event]]:
    return {
        cls.__name__: cls
        for cls in globals().values()
        if isinstance(cls, type) and issubclass(cls, Event) and cls is not Event
    }


def from_json(kind: str, body: bytes | str) -> Event:
    """A journaled event (`to_json` bytes of type ``kind``) back to its dataclass."""
    return from_dict(kind, orjson.loads(body))


def from_dict(kind: str, data: dict[str, Any]) -> Event:
    """An event of type ``kind`` from its JSON fields; `ValueError` names an unknown type or a
    missing field (a field with a default may be missing: journals written before it existed
    still load)."""
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise ValueError(f"type: unknown event type {kind!r}")
    times = _datetime_fields(kind)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is not dataclasses.MISSING:
                continue
            raise ValueError(f"{kind}.{f.name}: missing")
        value = data[f.name]
        if isinstance(value, str) and f.name in times:
            value = datetime.fromisoformat(value)
        elif isinstance(value, list):
            value = tuple(value)
        values[f.name] = value
    return cls(**values)


@functools.cache
def _datetime_fields(kind: str) -> frozenset[str]:
    """Fields typed ``datetime`` of event type ``kind`` (resolving the annotations once per
    class, not per event)."""
    # keyed by name, not class: mypy takes a frozen dataclass's instance ``__hash__`` for the
    # class's and refuses the class as a cache key
    cls = EVENT_TYPES[kind]
    hints = typing.get_type_hints(cls)
    return frozenset(f.name for f in dataclasses.fields(cls) if "datetime" in str(hints[f.name]))


#: Every event class by its name (the ``type`` on the wire).
EVENT_TYPES: dict[str, type[Event]] = _event_classes()
