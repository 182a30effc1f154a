"""The service's clock: where its "now" comes from, and how far from it a timestamp at the
door may be.

`ServiceClock` is the one answer to "what time is it?" for everything the service does besides
the engine: the door's checks, SMS timing, pages and escalations, playbook follow-ups
(``now``), what a playbook decision answering an engine event is stamped with (``event``),
and when an officer's command takes effect (`command_time`). ``mode="wall"`` is the live
service; ``mode="event"`` runs on the engine's event time (the demo and drills replay hours in
minutes).

The engine never reads the wall clock (a replay must decide exactly as the live run did), so
every time it is given is taken at its word. The door is where the service can still ask
"is this plausible *now*?": a call reported 3 hours from now, or 40 years ago, is a client's
broken clock or a forged request, and once journaled it would stay in the history for good.
So intake, officer commands and inbound SMS judge their timestamps against the service's clock
(the wall clock; the demo's accelerated storm passes its event time instead):

* an observation (a signal's ``ts``, an SMS's ``received_at``) may be at most ``max_ahead_s``
  ahead of the clock (clock skew between the gateway and us) and at most ``max_age_s`` old;
* a time that is about the future (planned work's ``start``/``end``, a warning's ``until``)
  may be at most ``horizon_s`` ahead;
* an officer's ETR at most ``etr_horizon_s`` after the command is given.

Every limit is optional (None switches it off). Refusals are 422 naming the field, like every
other bad value. The absolute bound of `outage.signals.bounded_utc` applies regardless.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from outage.commands import Command
from outage.events import iso
from outage.signals import PlannedSignal, Signal, WarningSignal

#: Where the service's "now" comes from.
Clock = Callable[[], datetime]
Seconds = Annotated[float, Field(gt=0)] | None
DAY = 86_400.0


Mode = Literal["wall", "event"]


def wall_clock() -> datetime:
    """The wall clock in UTC (the live service's clock)."""
    return datetime.now(UTC)


def command_time(engine_now: datetime | None) -> datetime:
    """When a command received now takes effect: the wall clock, but never before the
    engine's own clock (signals may carry times ahead of it in an accelerated replay)."""
    now = wall_clock()
    return max(now, engine_now) if engine_now is not None else now


@dataclass(frozen=True)
class ServiceClock:
    """The service's clock policy (module docstring); ``engine_now`` reads the engine's event
    time (None before its first signal)."""

    mode: Mode
    engine_now: Callable[[], datetime | None]

    def now(self) -> datetime:
        """The service's now: the wall clock, or in ``event`` mode the engine's time (the
        wall clock before the first signal)."""
        if self.mode == "event":
            return self.event()
        return wall_clock()

    def event(self) -> datetime:
        """Event time, whatever the mode: what answers to an engine event are stamped with, so
        a storm replayed into a live service is not pulled forward to the wall clock."""
        return self.engine_now() or wall_clock()


class ClockPolicy(BaseModel):
    """Limits on timestamps at the door, relative to the service's clock (module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: An observation may be this far ahead of the service's clock (skew between clocks).
    max_ahead_s: Seconds = 300.0
    #: ... and this old (a gateway replaying a backlog after an outage of its own).
    max_age_s: Seconds = 30 * DAY
    #: Planned work and warnings may speak of times up to this far ahead.
    horizon_s: Seconds = 400 * DAY
    #: An ETR may be at most this long after the command that sets it.
    etr_horizon_s: Seconds = 30 * DAY

    def observed(self, field: str, at: datetime, now: datetime) -> str | None:
        """Why an observation time ``at`` is implausible at ``now`` (``field: ...``), or None."""
        if self.max_ahead_s is not None and at > now + timedelta(seconds=self.max_ahead_s):
            return (
                f"{field}: {iso(at)} is more than {_span(self.max_ahead_s)} ahead of the "
                f"service clock ({iso(now)}); check the sender's clock"
            )
        if self.max_age_s is not None and at < now - timedelta(seconds=self.max_age_s):
            return (
                f"{field}: {iso(at)} is more than {_span(self.max_age_s)} older than the "
                f"service clock ({iso(now)}); replay old history with `outage replay` instead"
            )
        return None

    def ahead(self, field: str, at: datetime, now: datetime) -> str | None:
        """Why a future time ``at`` is too far ahead of ``now``, or None."""
        if self.horizon_s is not None and at > now + timedelta(seconds=self.horizon_s):
            return f"{field}: {iso(at)} is more than {_span(self.horizon_s)} ahead of {iso(now)}"
        return None

    def signal(self, signal: Signal, now: datetime) -> str | None:
        """The first implausible time of ``signal`` at ``now`` (``field: message``), or None."""
        problems = []
        if signal.ts is not None:
            problems.append(self.observed("ts", signal.ts, now))
        if isinstance(signal, PlannedSignal):
            problems += [
                self.ahead("start", signal.start, now),
                self.ahead("end", signal.end, now),
                self.observed("end", signal.end, now) if signal.end < now else None,
            ]
        if isinstance(signal, WarningSignal) and signal.until is not None:
            problems.append(self.ahead("until", signal.until, now))
        return next((p for p in problems if p), None)

    def command(self, command: Command) -> str | None:
        """Why ``command``'s ETR is out of its horizon, or None."""
        if command.etr is None or self.etr_horizon_s is None:
            return None
        if command.etr > command.ts + timedelta(seconds=self.etr_horizon_s):
            return (
                f"etr: {iso(command.etr)} is more than {_span(self.etr_horizon_s)} after "
                f"the command ({iso(command.ts)})"
            )
        return None


def _span(seconds: float) -> str:
    """``300 s``, ``2 h``, ``30 days``: a limit as people say it."""
    if seconds >= DAY and seconds % DAY == 0:
        days = int(seconds // DAY)
        return f"{days} day" + ("s" if days != 1 else "")
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    return f"{seconds:g} s"
