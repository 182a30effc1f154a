"""Carry out one step of a playbook through the ports; return what happened, for the audit.

Each executor gets a `Context` (the activation, the situation, event time) and the step's
parameters, does its work through one port, and returns a JSON-ready result. Messages are
templates filled per language (see `render`). The staffing executor is the only one with
arithmetic: the call forecast for the next interval is

    max(Σ customers who lost power × call-in rate × repeat factor × share of their calls
          that fall in the next interval  +  the hour's normal calls × baseline multiple,
        calls actually received in the last interval)

where a new outage's calls are taken to arrive evenly over ``spread_minutes`` after it (the
simulator's callers: median 8 minutes, nine in ten within 30). The forecast is sized with
Erlang C (`playbooks.erlang`) and the standby roster is paged in order until rostered
positions cover the need. People already called in by *any* active playbook count towards
the gap and are not paged twice; the pool empties when the last activation stands down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playbooks.erlang import required_staff
from playbooks.model import (
    EscalateAction,
    IvrAction,
    RuleSetAction,
    SmsAction,
    StaffingAction,
    Step,
    WebhookAction,
)
from playbooks.ports import SYSTEM, Area, Ports
from playbooks.roster import Roster, load_roster
from playbooks.situation import Situation

#: What ``{etr}`` says when no ETR is known yet.
NO_ETR = {"zh-CN": "待定", "en": "not yet known"}


@dataclass
class ActivationRecord:
    """A playbook activation's working memory (persisted with the runner state)."""

    id: str
    playbook: str
    at: datetime
    reason: str
    area: list[str] | None
    incidents: list[str]
    by: str
    paged: list[str] = field(default_factory=list)
    announcements: list[str] = field(default_factory=list)
    rule_set: str | None = None
    runs: dict[str, int] = field(default_factory=dict)
    staffing: list[dict[str, Any]] = field(default_factory=list)

    @property
    def area_set(self) -> frozenset[str] | None:
        """The area as a set (None: the whole system)."""
        return None if self.area is None else frozenset(self.area)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        data = dict(self.__dict__)
        data["at"] = self.at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActivationRecord:
        """Inverse of `to_dict`."""
        return cls(**{**data, "at": datetime.fromisoformat(data["at"])})


@dataclass
class Context:
    """What an executor may look at."""

    activation: ActivationRecord
    situation: Situation
    now: datetime
    folder: Path
    ports: Ports
    rosters: dict[Path, Roster]
    #: Standby people called in by any active playbook (shared, persisted by the runner).
    called_in: list[str] = field(default_factory=list)
    #: How many times the running step has run in this activation (1 = first).
    run: int = 0

    def area(self, which: str) -> Area:
        """The port's area for ``affected`` / ``system``."""
        if which == SYSTEM or self.activation.area is None:
            return SYSTEM
        return tuple(sorted(self.activation.area))

    def fields(self, language: str) -> dict[str, str]:
        """Template values in ``language``."""
        zone = ZoneInfo(self.situation.baseline.timezone)
        etr = self.situation.etr(self.activation.area_set)
        area = self.activation.area
        return {
            "playbook": self.activation.playbook,
            "reason": self.activation.reason,
            "customers_out": str(
                sum(self.situation.customers_out(s) for s in area)
                if area
                else self.situation.customers_out()
            ),
            "area": ", ".join(area) if area else ("全网" if language == "zh-CN" else "all areas"),
            "etr": etr.astimezone(zone).strftime("%H:%M") if etr else NO_ETR[language],
            "at": self.now.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        }


class _Keep(dict[str, str]):
    def __missing__(self, key: str) -> str:  # an unknown {name} stays as written
        return "{" + key + "}"


def render(text: dict[str, str], context: Context) -> dict[str, str]:
    """Fill a message's placeholders per language."""
    return {lang: value.format_map(_Keep(context.fields(lang))) for lang, value in text.items()}


def execute(step: Step, context: Context) -> dict[str, Any]:
    """Run ``step``; returns its result (exceptions propagate to the runner's audit)."""
    runs = context.activation.runs
    runs[step.name] = context.run = runs.get(step.name, 0) + 1
    executor: Callable[[Any, Context, str], dict[str, Any]] = _EXECUTORS[step.kind]
    return executor(step.params, context, f"{context.activation.id}:{step.name}")


def _staffing(action: StaffingAction, ctx: Context, key: str) -> dict[str, Any]:
    interval = timedelta(minutes=action.interval_minutes)
    situation, now = ctx.situation, ctx.now
    newly_out = situation.newly_out_within(now, interval)
    baseline = situation.baseline_per_hour(now) * action.baseline_multiple
    callers = situation.callers_due(now, interval, timedelta(minutes=action.spread_minutes)) * (
        action.call_in_rate * action.repeat_factor
    )
    modelled = callers + baseline * (interval.total_seconds() / 3600)
    observed = situation.calls_within(now, interval)
    forecast = max(modelled, float(observed))
    need = required_staff(
        forecast,
        interval.total_seconds(),
        action.aht_s,
        target_sl=action.target_sl,
        target_answer_s=action.target_answer_s,
        max_occupancy=action.max_occupancy,
        shrinkage=action.shrinkage,
    )
    roster = _roster(ctx, action.roster)
    paged: list[str] = []
    for entry in roster.entries:
        if need.positions - action.on_shift - len(ctx.called_in) <= 0:
            break
        if entry.name in ctx.called_in:
            continue
        ctx.ports.pager.page(
            entry,
            f"[{ctx.activation.playbook}] standby call-in: report for duty "
            f"({need.positions} positions needed, {ctx.activation.reason})",
        )
        ctx.called_in.append(entry.name)
        ctx.activation.paged.append(entry.name)
        paged.append(entry.name)
    gap = need.positions - action.on_shift - len(ctx.called_in)
    record = {
        "at": now.isoformat(),
        "forecast_calls": round(forecast, 1),
        "observed_calls": observed,
        "customers_newly_out": newly_out,
        "interval_minutes": action.interval_minutes,
        "agents": need.agents,
        "positions": need.positions,
        "service_level": round(need.service_level, 4),
        "on_shift": action.on_shift,
        "called_in": len(ctx.called_in),
        "gap": max(0, gap),
    }
    ctx.activation.staffing.append(record)
    return {**record, "paged": paged, "roster_exhausted": gap > 0}


def _roster(ctx: Context, name: str) -> Roster:
    path = (ctx.folder / name).resolve()
    if path not in ctx.rosters:
        ctx.rosters[path] = load_roster(path)
    return ctx.rosters[path]


def _ivr(action: IvrAction, ctx: Context, key: str) -> dict[str, Any]:
    message = render(action.message.as_dict(), ctx)
    area = ctx.area(action.area)
    etr = ctx.situation.etr(ctx.activation.area_set)
    ctx.ports.ivr.publish(key, area, message, etr)
    if key not in ctx.activation.announcements:
        ctx.activation.announcements.append(key)
    return {"announcement": key, "area": area, "message": message}


def _sms(action: SmsAction, ctx: Context, key: str) -> dict[str, Any]:
    text = render(action.text.as_dict(), ctx)
    target = {"area": ctx.area(action.area), "incidents": list(ctx.activation.incidents)}
    # The key makes each push idempotent downstream: a re-run after a crash sends nothing new.
    run_key = f"{key}:{ctx.run}"
    queued = ctx.ports.sms.push(target, action.kind, text, key=run_key)
    return {"target": target, "kind": action.kind, "text": text, "queued": queued, "key": run_key}


def _escalate(action: EscalateAction, ctx: Context, key: str) -> dict[str, Any]:
    message = render(action.message.as_dict(), ctx)
    ctx.ports.escalation.notify(list(action.roles), action.channel, message)
    return {"roles": list(action.roles), "channel": action.channel, "message": message}


def _rule_set(action: RuleSetAction, ctx: Context, key: str) -> dict[str, Any]:
    ctx.ports.rule_set.set(action.name)
    if action.revert_at_stand_down:
        ctx.activation.rule_set = action.name
    return {"rule_set": action.name}


def _webhook(action: WebhookAction, ctx: Context, key: str) -> dict[str, Any]:
    body = {
        "playbook": ctx.activation.playbook,
        "activation": ctx.activation.id,
        "reason": ctx.activation.reason,
        "at": ctx.now.isoformat(),
        "area": ctx.activation.area,
        "incidents": ctx.activation.incidents,
        "customers_out": ctx.situation.customers_out(),
    }
    status = ctx.ports.webhook.post(
        str(action.url), body, headers=dict(action.headers), timeout_s=action.timeout_s
    )
    return {"url": str(action.url), "status": status}


_EXECUTORS: dict[str, Callable[[Any, Context, str], dict[str, Any]]] = {
    "staffing": _staffing,
    "ivr_announcement": _ivr,
    "sms_push": _sms,
    "escalate": _escalate,
    "rule_set": _rule_set,
    "webhook": _webhook,
}
