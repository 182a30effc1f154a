"""Storm / mass-outage detection, system-wide and per substation.

A scope is declared when any of its metrics crosses its threshold: customers out (a share of
customers served, and at least a minimum), open incidents, or the call rate over a sliding
window against the normal rate for that local hour of day. It stands down only after every
metric has stayed below ``stand_down_fraction`` of its threshold for ``stand_down_minutes``,
so a flapping metric neither re-declares nor stands down twice.

The rules are two pure functions, `assess` (what the figures say) and `transition` (the
hysteresis), so that the Redis backend's system-wide aggregator (`outage.redisstore.storm`)
decides the system scope from every partition's figures with the very same rules. An engine
that does not decide its system scope itself (``decides_system=False``: a Redis partition sees
only its own share) still measures it, and takes declarations from outside (`declare`,
`stand_down`: the aggregator's, or a duty officer's).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from outage.events import Event, StormDeclared, StormStoodDown, iso
from outage.rules import StormDetection, StormThresholds

SYSTEM = "system"


@dataclass(slots=True)
class _Scope:
    name: str
    thresholds: StormThresholds
    customers_served: int
    calls: deque[datetime] = field(default_factory=deque)
    declared_at: datetime | None = None
    clear_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class ScopeStatus:
    """A scope's storm state and the metrics behind it (for the dashboard and STATE.json)."""

    scope: str
    declared: bool
    declared_at: datetime | None
    customers_out: int
    open_incidents: int
    calls_per_hour: float
    baseline_per_hour: float


def assess(
    limits: StormThresholds,
    served: int,
    out: int,
    incidents: int,
    calls: int,
    baseline: float,
) -> tuple[list[str], bool, float]:
    """(reasons to declare, all clear, calls per hour) of a scope serving ``served``
    customers with these figures (``calls`` in the rate window)."""
    per_hour = calls * 60 / limits.rate_window_minutes
    out_limit = max(limits.customers_out_min, limits.customers_out_share * served)
    rate_limit = max(baseline * limits.call_rate_multiple, 0.0)
    reasons = []
    if out >= out_limit and out > 0:
        reasons.append(f"customers out {out} >= {out_limit:.0f}")
    if incidents >= limits.open_incidents:
        reasons.append(f"open incidents {incidents} >= {limits.open_incidents}")
    if calls >= limits.call_rate_min_calls and per_hour >= rate_limit:
        multiple = limits.call_rate_multiple
        reasons.append(f"call rate {per_hour:.0f}/h >= {multiple:g} x normal {baseline:.1f}/h")
    f = limits.stand_down_fraction
    clear = (
        out < f * out_limit
        and incidents < f * limits.open_incidents
        and (calls < limits.call_rate_min_calls or per_hour < f * rate_limit)
    )
    return reasons, clear, per_hour


def transition(
    declared_at: datetime | None,
    clear_since: datetime | None,
    now: datetime,
    changed_at: datetime,
    declare: bool,
    clear: bool,
    hold: timedelta,
) -> tuple[datetime | None, datetime | None, str | None]:
    """The hysteresis: (declared at, clear since, "declare" | "stand_down" | None) after an
    evaluation at ``now``. Clear time counts from ``changed_at`` (when the open incidents last
    changed), never from before the declaration."""
    if declared_at is None:
        return (now, None, "declare") if declare else (None, None, None)
    if not clear:
        return declared_at, None, None
    if clear_since is None:
        clear_since = max(min(changed_at, now), declared_at)
    if now - clear_since >= hold:
        return None, None, "stand_down"
    return declared_at, clear_since, None


class StormDetector:
    """Tracks call rates and decides storm declarations (see the module docstring)."""

    def __init__(
        self,
        config: StormDetection,
        customers_by_substation: dict[str, int],
        *,
        decides_system: bool = True,
    ) -> None:
        self.config = config
        #: False: the system scope is measured here but declared from outside (`declare`).
        self.decides_system = decides_system
        self.zone = ZoneInfo(config.timezone)
        #: The local hour of the latest ``now`` asked about (every scope asks at the same now).
        self._hour_of: tuple[datetime, int] | None = None
        total = sum(customers_by_substation.values())
        self.scopes: dict[str, _Scope] = {SYSTEM: _Scope(SYSTEM, config.system, total)}
        for name, served in customers_by_substation.items():
            self.scopes[name] = _Scope(name, config.substation, served)
        self.history: list[
            tuple[str, datetime, datetime | None]
        ] = []  # (scope, declared, stood down)
        self._last: dict[str, ScopeStatus] = {}

    @property
    def system_declared(self) -> bool:
        """True while a system-wide storm is declared."""
        return self.scopes[SYSTEM].declared_at is not None

    def scope_view(self, name: str) -> dict[str, Any]:
        """One scope as JSON: declared (and when), customers served, the latest metrics."""
        scope = self.scopes[name]
        last = self._last.get(name)
        return {
            "declared": scope.declared_at is not None,
            "declared_at": iso(scope.declared_at),
            "customers_served": scope.customers_served,
            "customers_out": last.customers_out if last else 0,
            "open_incidents": last.open_incidents if last else 0,
            "calls_per_hour": last.calls_per_hour if last else 0.0,
            "baseline_per_hour": last.baseline_per_hour if last else 0.0,
        }

    def last_status(self, scope: str) -> ScopeStatus | None:
        """The metrics of the latest evaluation of ``scope`` (None before the first)."""
        return self._last.get(scope)

    def observe_call(self, ts: datetime, substation: str | None) -> None:
        """Count a call towards the system's (and its substation's) call rate."""
        self.scopes[SYSTEM].calls.append(ts)
        if substation is not None and substation in self.scopes:
            self.scopes[substation].calls.append(ts)

    def baseline_per_hour(self, scope: str, now: datetime) -> float:
        """Normal calls per hour for ``scope`` at this local hour."""
        if self._hour_of is None or self._hour_of[0] != now:  # one conversion per evaluation
            self._hour_of = (now, now.astimezone(self.zone).hour)
        hour = self._hour_of[1]
        per_10k = self.config.baseline_calls_per_hour_per_10k[hour]
        return per_10k * self.scopes[scope].customers_served / 10_000

    def evaluate(
        self,
        now: datetime,
        customers_out: dict[str, int],
        open_incidents: dict[str, int],
        changed_at: datetime,
    ) -> list[Event]:
        """Re-evaluate every scope at ``now``; returns declarations and stand-downs.

        ``changed_at`` is when the open incidents last changed: evaluations happen only when
        signals arrive, so a quiet night after the last restoration counts as clear from that
        change, not from the next signal. (The call rate must be clear at evaluation time.)
        """
        events: list[Event] = []
        for name, scope in self.scopes.items():
            out, incidents, per_hour, baseline, reasons, clear = self._measure(
                scope, now, customers_out, open_incidents
            )
            if name != SYSTEM or self.decides_system:
                was = scope.declared_at
                scope.declared_at, scope.clear_since, action = transition(
                    was,
                    scope.clear_since,
                    now,
                    changed_at,
                    bool(reasons),
                    clear,
                    timedelta(minutes=scope.thresholds.stand_down_minutes),
                )
                if action == "declare":
                    events.append(
                        StormDeclared(
                            at=now,
                            scope=name,
                            reasons=tuple(reasons),
                            customers_out=out,
                            open_incidents=incidents,
                            calls_per_hour=round(per_hour, 1),
                            baseline_per_hour=round(baseline, 1),
                        )
                    )
                elif action == "stand_down":
                    assert was is not None
                    events.append(StormStoodDown(at=now, scope=name, declared_at=was))
                    self.history.append((name, was, now))
            last = self._last.get(name)
            if (
                last is None  # a quiet scope keeps its status object (most, every minute)
                or last.declared_at != scope.declared_at
                or last.customers_out != out
                or last.open_incidents != incidents
                or last.calls_per_hour != per_hour
                or last.baseline_per_hour != baseline
            ):
                self._last[name] = ScopeStatus(
                    name,
                    scope.declared_at is not None,
                    scope.declared_at,
                    out,
                    incidents,
                    per_hour,
                    baseline,
                )
        return events

    def declare(self, scope: str, at: datetime, reasons: tuple[str, ...]) -> list[Event]:
        """A declaration made outside (the system aggregator's, an officer's): the scope is
        declared at ``at`` unless it already is; its figures are this engine's last."""
        target = self.scopes.get(scope)
        if target is None or target.declared_at is not None:
            return []
        target.declared_at, target.clear_since = at, None
        last = self._last.get(scope)
        return [
            StormDeclared(
                at=at,
                scope=scope,
                reasons=reasons,
                customers_out=last.customers_out if last else 0,
                open_incidents=last.open_incidents if last else 0,
                calls_per_hour=round(last.calls_per_hour, 1) if last else 0.0,
                baseline_per_hour=round(last.baseline_per_hour, 1) if last else 0.0,
            )
        ]

    def stand_down(self, scope: str, at: datetime) -> list[Event]:
        """A stand-down made outside (see `declare`)."""
        target = self.scopes.get(scope)
        if target is None or target.declared_at is None:
            return []
        declared = target.declared_at
        target.declared_at, target.clear_since = None, None
        self.history.append((scope, declared, at))
        return [StormStoodDown(at=at, scope=scope, declared_at=declared)]

    def status(self) -> dict[str, ScopeStatus]:
        """The last evaluated status of every scope."""
        return dict(self._last)

    def _measure(
        self,
        scope: _Scope,
        now: datetime,
        customers_out: dict[str, int],
        open_incidents: dict[str, int],
    ) -> tuple[int, int, float, float, list[str], bool]:
        """(customers out, open incidents, calls per hour, baseline per hour, reasons to
        declare, all clear) of ``scope`` at ``now``."""
        limits = scope.thresholds
        window = timedelta(minutes=limits.rate_window_minutes)
        while scope.calls and scope.calls[0] < now - window:
            scope.calls.popleft()
        baseline = self.baseline_per_hour(scope.name, now)
        out = customers_out.get(scope.name, 0)
        incidents = open_incidents.get(scope.name, 0)
        reasons, clear, per_hour = assess(
            limits, scope.customers_served, out, incidents, len(scope.calls), baseline
        )
        return out, incidents, per_hour, baseline, reasons, clear
