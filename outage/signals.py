"""Signals in: what the outside world tells the engine, validated at the door.

One JSON object per signal (JSONL for ``outage replay``, the same shapes over HTTP). Every
signal carries an ``id`` (the same id twice changes nothing) and its own timestamp: the engine
never reads the wall clock to decide.

    call      a customer reports trouble; identified by exactly one of premise, account, phone,
              address, or lon+lat
    meter     a smart meter's last gasp or power-restored message
    scada     a telemetered breaker/recloser opened or closed
    restore   a crew closed / re-fused a device
    planned   planned work will take a device out between start and end
    warning   a weather or heat warning for an area (used by playbooks)
    crew      a crew's status from the field: dispatched, en route, on site, repairing,
              available (optionally where it is, its own ETR and the cause it found)
    followup  a customer's answer to the follow-up after restoration (回访): a score 1-5
    tick      the service clock: moves event time on when nothing else happens, so that
              deadlines (SLA timers, ETR expiry) fire on time and a replay fires them too

Officer commands (confirm, dispatch, ETR, restore, cancel, close) are journaled alongside so
that a restart replays them too; they are in `outage.commands`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from outage.errors import SignalError

CallKind = Literal["no_power", "partial_power", "flicker", "wire_down", "fire", "other"]
HAZARD_KINDS = frozenset({"wire_down", "fire"})
#: Call kinds that say "I have no (or not all) power": outage evidence.
OUTAGE_KINDS = frozenset({"no_power", "partial_power", "wire_down", "fire"})

Id = Annotated[str, Field(min_length=1, max_length=128)]
Text = Annotated[str, Field(min_length=1, max_length=512)]


#: Every time a signal or command carries lies in [EARLIEST, LATEST) once converted to UTC.
#: An absolute bound, independent of any clock, so that a replay judges a journal exactly as
#: the live run did, and so that no later arithmetic (``ts + timedelta``, a local time zone)
#: can leave the range `datetime` can hold: ``9999-12-31T23:00Z`` is a valid ISO time, yet one
#: hour later, or eight time zones east, it no longer exists.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def bounded_utc(value: datetime) -> datetime:
    """``value`` in UTC; `ValueError` (pydantic reports it on the field) outside the range."""
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValueError(
            f"{value.isoformat()} is out of range: times must lie between "
            f"{EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"
        )
    return utc


class _Signal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: Id

    @field_validator("ts", "start", "end", "until", "etr", check_fields=False)
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        # a planned notice's ts, a warning's until and a crew's etr are optional
        return bounded_utc(value) if value is not None else None


class CallSignal(_Signal):
    """A trouble call from a customer (agent, IVR or web)."""

    type: Literal["call"]
    ts: AwareDatetime
    premise: Id | None = None
    account: Id | None = None
    phone: Annotated[str, Field(min_length=3, max_length=32)] | None = None
    address: Text | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    kind: CallKind = "no_power"
    note: Annotated[str, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _exactly_one_identity(self) -> CallSignal:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("lon and lat must be given together")
        given = [
            name
            for name in ("premise", "account", "phone", "address", "lon")
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            named = ", ".join("lon+lat" if g == "lon" else g for g in given) or "none"
            raise ValueError(
                "identify the caller by exactly one of premise, account, phone, address, "
                f"lon+lat (got {named})"
            )
        return self

    @property
    def is_hazard(self) -> bool:
        """Wire down or fire: always its own priority ticket."""
        return self.kind in HAZARD_KINDS


class MeterSignal(_Signal):
    """A smart meter's last gasp (power lost) or power-restored message."""

    type: Literal["meter"]
    ts: AwareDatetime
    premise: Id
    event: Literal["last_gasp", "power_restored"]


class ScadaSignal(_Signal):
    """A telemetered device changed state."""

    type: Literal["scada"]
    ts: AwareDatetime
    device: Id
    state: Literal["open", "closed"]


class RestoreSignal(_Signal):
    """A crew closed or re-fused a device."""

    type: Literal["restore"]
    ts: AwareDatetime
    device: Id


class PlannedSignal(_Signal):
    """Planned work: ``device`` will be open from ``start`` to ``end``."""

    type: Literal["planned"]
    device: Id
    start: AwareDatetime
    end: AwareDatetime
    reason: Annotated[str, Field(max_length=512)] = "planned work"
    ts: AwareDatetime | None = None  # when the notice was issued; defaults to start

    @model_validator(mode="after")
    def _ordered(self) -> PlannedSignal:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    @property
    def effective_ts(self) -> datetime:
        """When the engine learns of it."""
        return self.ts or self.start


class WarningSignal(_Signal):
    """A weather or heat warning (typhoon, rainstorm, heat, snow) for an area."""

    type: Literal["warning"]
    ts: AwareDatetime
    kind: Literal["typhoon", "rainstorm", "heat", "snow"]
    level: Literal["blue", "yellow", "orange", "red"]
    area: Id = "all"
    until: AwareDatetime | None = None


CrewStatus = Literal["dispatched", "en_route", "on_site", "repairing", "available", "off_shift"]
#: Crew statuses in the order a job goes through them.
CREW_STATUSES: tuple[CrewStatus, ...] = (
    "dispatched",
    "en_route",
    "on_site",
    "repairing",
    "available",
    "off_shift",
)
#: Statuses in which the crew works an order.
CREW_BUSY = frozenset({"dispatched", "en_route", "on_site", "repairing"})


class CrewSignal(_Signal):
    """A crew's status from the field (its mobile terminal or the dispatcher's radio log).

    ``incident`` names the job: required when the crew is dispatched, and otherwise the
    crew's current order is meant. ``etr`` is the crew's own estimate: it always wins over
    the engine's. ``cause`` is what the crew found (tree, lightning, equipment...), which
    refines the repair-time estimate.
    """

    type: Literal["crew"]
    ts: AwareDatetime
    crew: Id
    status: CrewStatus
    incident: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    etr: AwareDatetime | None = None
    cause: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    note: Annotated[str, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CrewSignal:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("lon and lat must be given together")
        if self.status == "dispatched" and self.incident is None:
            raise ValueError("incident is required when a crew is dispatched")
        if self.etr is not None and self.etr <= self.ts:
            raise ValueError("etr must be after ts")
        return self


class FollowUpSignal(_Signal):
    """A customer's answer to the follow-up after restoration (SMS reply, IVR or an agent's
    callback): how satisfied, 1 (not at all) to 5 (very). Without ``incident``, the answer is
    for the customer's latest restored outage whose follow-up is pending (an SMS reply "4")."""

    type: Literal["followup"]
    ts: AwareDatetime
    incident: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    premise: Id | None = None
    phone: Annotated[str, Field(min_length=3, max_length=32)] | None = None
    account: Id | None = None
    score: Annotated[int, Field(ge=1, le=5)]
    channel: Literal["sms", "ivr", "agent"] = "sms"
    note: Annotated[str, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _one_identity(self) -> FollowUpSignal:
        given = [n for n in ("premise", "phone", "account") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "identify the customer by exactly one of premise, phone, account "
                f"(got {', '.join(given) or 'none'})"
            )
        return self


class TickSignal(_Signal):
    """The service clock: nothing happened until ``ts`` (moves event time on)."""

    type: Literal["tick"]
    ts: AwareDatetime


Signal = Annotated[
    CallSignal
    | MeterSignal
    | ScadaSignal
    | RestoreSignal
    | PlannedSignal
    | WarningSignal
    | CrewSignal
    | FollowUpSignal
    | TickSignal,
    Field(discriminator="type"),
]
SIGNAL_TYPES = (
    "call",
    "meter",
    "scada",
    "restore",
    "planned",
    "warning",
    "crew",
    "followup",
    "tick",
)
_ADAPTER: TypeAdapter[Signal] = TypeAdapter(Signal)


def signal_ts(signal: Signal) -> datetime:
    """The time a signal speaks for (a planned notice: when it was issued)."""
    if isinstance(signal, PlannedSignal):
        return signal.effective_ts
    return signal.ts


def parse_signal(raw: bytes | str | dict[str, Any], *, where: str = "signal") -> Signal:
    """Validate one signal; raises `SignalError` naming the field (and ``where`` it came from)."""
    try:
        if isinstance(raw, dict):
            return _ADAPTER.validate_python(raw)
        return _ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise SignalError(where, describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, each naming the field: ``field: message``."""
    parts = []
    for error in exc.errors(include_url=False):
        location = [str(p) for p in error["loc"] if p not in SIGNAL_TYPES]
        field = ".".join(location) or "body"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "union_tag_invalid":
            field = "type"
            message = f"unknown signal type; expected one of {', '.join(SIGNAL_TYPES)}"
        elif error["type"] == "union_tag_not_found":
            field = "type"
            message = f"missing; expected one of {', '.join(SIGNAL_TYPES)}"
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


def dump_signal(signal: Signal) -> bytes:
    """The canonical JSON of a signal (what the journal stores)."""
    return orjson.dumps(signal.model_dump(mode="json", exclude_none=True))
