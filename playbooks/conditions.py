"""Evaluate a playbook's ``when`` against the situation at an instant of event time.

Each condition answers a `Match`: whether it holds, why (a sentence for the audit log and the
duty officer), and which *area* it concerns — the substations it names, or None for the whole
system — so that IVR announcements and SMS pushes reach the affected area only. ``all`` holds
when every part does and concerns the union of their areas; ``any`` holds when one part does
and concerns the areas of the parts that hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from playbooks.model import (
    LEVELS,
    CallRateCond,
    Condition,
    CustomersOutCond,
    OverdueOrdersCond,
    PlannedOutageCond,
    SingleOutageCond,
    StormDeclaredCond,
    WarningCond,
)
from playbooks.situation import Situation

SYSTEM = "system"


@dataclass(frozen=True)
class Match:
    """A condition's answer: ``area`` None means the whole system."""

    holds: bool
    reason: str = ""
    area: frozenset[str] | None = None
    incidents: tuple[str, ...] = ()


NO = Match(False)


def evaluate(condition: Condition, situation: Situation, now: datetime) -> Match:
    """Does ``condition`` hold at ``now``? (see the module docstring)"""
    if condition.all is not None:
        parts = [evaluate(c, situation, now) for c in condition.all]
        if not all(p.holds for p in parts):
            return NO
        return _combine(parts, " and ")
    if condition.any is not None:
        held = [p for p in (evaluate(c, situation, now) for c in condition.any) if p.holds]
        return _combine(held, "; ") if held else NO
    leaf = condition.params
    if isinstance(leaf, StormDeclaredCond):
        return _storm(leaf, situation)
    if isinstance(leaf, SingleOutageCond):
        return _single_outage(leaf, situation)
    if isinstance(leaf, CustomersOutCond):
        return _customers_out(leaf, situation)
    if isinstance(leaf, CallRateCond):
        return _call_rate(leaf, situation, now)
    if isinstance(leaf, WarningCond):
        return _warning(leaf, situation, now)
    if isinstance(leaf, OverdueOrdersCond):
        return _overdue(leaf, situation)
    assert isinstance(leaf, PlannedOutageCond)
    return _planned(leaf, situation, now)


def _combine(parts: list[Match], glue: str) -> Match:
    areas = [p.area for p in parts if p.area is not None]
    # one part anywhere (no area) makes the whole match anywhere
    area = frozenset[str]().union(*areas) if len(areas) == len(parts) else None
    incidents = tuple(dict.fromkeys(i for p in parts for i in p.incidents))
    return Match(True, glue.join(p.reason for p in parts), area, incidents)


def _area(scope: str) -> frozenset[str] | None:
    return None if scope == SYSTEM else frozenset({scope})


def _storm(cond: StormDeclaredCond, situation: Situation) -> Match:
    scopes = sorted(situation.storms) if cond.scope == "any" else [cond.scope]
    declared = [s for s in scopes if s in situation.storms]
    if not declared:
        return NO
    area = None if SYSTEM in declared else frozenset(declared)
    return Match(True, f"storm declared ({', '.join(declared)})", area)


def _single_outage(cond: SingleOutageCond, situation: Situation) -> Match:
    big = [(i, o) for i, o in situation.outages.items() if o.customers >= cond.min_customers]
    return _first_of(
        sorted(big, key=lambda item: -item[1].customers),
        lambda incident, o: (
            f"outage {incident} at {o.device}: {o.customers} customers out >= {cond.min_customers}"
        ),
    )


def _first_of(found: list[tuple[str, Any]], describe: Callable[[str, Any], str]) -> Match:
    """A match over incidents (most important first): the first one explains it, all of
    them name the area and the incidents."""
    if not found:
        return NO
    area = frozenset(x.substation for _, x in found if x.substation is not None) or None
    return Match(True, describe(*found[0]), area, tuple(i for i, _ in found))


def _overdue(cond: OverdueOrdersCond, situation: Situation) -> Match:
    levels = ("breach",) if cond.level == "breach" else ("warning", "breach")
    late = [
        (o.incident, o)
        for o in sorted(situation.overdue.values(), key=lambda o: o.due)
        if o.level in levels and cond.step in ("any", o.step)
    ]
    if len(late) < cond.min:
        return NO
    return _first_of(
        late,
        lambda incident, o: (
            f"{len(late)} work order(s) overdue, first {o.order} ({incident}, {o.area_class}): "
            f"{o.step} {o.level} at {situation.local(o.due):%H:%M}, "
            + (f"crew {o.crew}" if o.crew else "no crew assigned")
        ),
    )


def _customers_out(cond: CustomersOutCond, situation: Situation) -> Match:
    if cond.scope == "any_substation":
        over = {s: n for s, n in situation.customers_out_by_substation().items() if n >= cond.min}
        if not over:
            return NO
        listed = ", ".join(f"{s} {n}" for s, n in sorted(over.items()))
        return Match(True, f"customers out >= {cond.min} in {listed}", frozenset(over))
    out = situation.customers_out(cond.scope)
    if out < cond.min:
        return NO
    return Match(True, f"customers out in {cond.scope}: {out} >= {cond.min}", _area(cond.scope))


def _call_rate(cond: CallRateCond, situation: Situation, now: datetime) -> Match:
    window = timedelta(minutes=cond.window_minutes)
    calls = situation.calls_within(now, window)
    if calls < cond.min_calls:
        return NO
    per_hour = calls * 60 / cond.window_minutes
    baseline = situation.baseline_per_hour(now)
    if per_hour < cond.multiple * baseline:
        return NO
    return Match(
        True,
        f"call rate {per_hour:.0f}/h >= {cond.multiple:g} x baseline {baseline:.1f}/h "
        f"({calls} calls in {cond.window_minutes:g} min)",
    )


def _warning(cond: WarningCond, situation: Situation, now: datetime) -> Match:
    floor = LEVELS.index(cond.min_level)
    found = [
        w
        for w in situation.warnings_in_force(now, timedelta(hours=cond.default_hours))
        if w.kind in cond.kinds
        and LEVELS.index(w.level) >= floor
        and (cond.area == "any" or w.area in (cond.area, "all"))
    ]
    if not found:
        return NO
    worst = max(found, key=lambda w: LEVELS.index(w.level))
    return Match(True, f"{worst.level} {worst.kind} warning for {worst.area} ({worst.signal})")


def _planned(cond: PlannedOutageCond, situation: Situation, now: datetime) -> Match:
    horizon = now + timedelta(hours=cond.within_hours)
    due = [
        (i, p)
        for i, p in situation.planned.items()
        if now <= p.start <= horizon and p.customers >= cond.min_customers
    ]
    return _first_of(
        sorted(due, key=lambda item: item[1].start),
        lambda incident, p: (
            f"planned work {incident} at {p.device} ({p.reason or 'no reason given'}) "
            f"starts {p.start.isoformat()}, {p.customers} customers"
        ),
    )
