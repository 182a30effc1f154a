"""Play a simulated storm into the composed service at accelerated speed, as the demo does.

The player stands in for the outside world and for a busy duty officer:

- signals are submitted in event-time order, in batches, paced so that ``speed`` seconds of
  storm pass per second of wall clock (or as fast as possible);
- callers who rang by phone also ask the IVR "is there a known outage here?" — through the live
  HTTP service when one is running, so the demo exercises the real path;
- the officer confirms playbook proposals after a few minutes, and sets an ETR on large
  outages once they are confirmed, so customers hear and read one;
- SMS are dispatched on event time as the storm goes, at the provider's rate;
- a timeline (customers out, calls, SMS, open incidents) is sampled for the report;
- after the storm, `after_the_storm` lets event time run on (routine calls) until every storm
  scope and playbook has stood down by itself, and `drain_sms` sends what is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from outage.api.compose import Services
from outage.api.runtime import Runtime
from outage.incidents import Status
from outage.ivr import CallerQuery
from outage.signals import CallSignal, Signal, signal_ts

#: Event time the demo's officer takes to confirm a proposal / to give an ETR.
CONFIRM_AFTER = timedelta(minutes=3)
ETR_AFTER = timedelta(minutes=20)
ETR_MIN_CUSTOMERS = 200
ETR_HOURS = 3
BATCH = 200
#: After the storm: one routine call this often (event time), for at most this long.
QUIET_STEP = timedelta(minutes=5)
QUIET_LONGEST = timedelta(hours=4)
#: After the storm, a prediction without a call for this long is patrolled (see `_patrol`).
PATROL_AFTER = timedelta(hours=1)


@dataclass
class Sample:
    """The storm at one moment (event time)."""

    at: datetime
    customers_out: int
    open_incidents: int
    calls: int
    sms_decided: int
    sms_sent: int


@dataclass
class PlayReport:
    """What the player did and saw."""

    signals: int = 0
    seconds: float = 0.0
    ivr_lookups: int = 0
    ivr_known: int = 0
    confirmed: list[str] = field(default_factory=list)
    etrs: int = 0
    #: (incident, ETR given, when) for each ETR the demo's officer gave.
    etr_log: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    #: Routine calls played after the storm (see `StormPlayer.after_the_storm`).
    routine_calls: int = 0
    #: Texts still queued after the drain (quiet hours hold non-urgent ones).
    sms_held: int = 0
    #: Predictions cancelled by the officer's patrol after the storm.
    patrolled: int = 0


class StormPlayer:
    """See the module docstring. ``base_url``/``key``: ask the IVR over HTTP."""

    def __init__(
        self,
        services: Services[Runtime],
        signals: list[Signal],
        *,
        speed: float | None = None,
        ivr_share: float = 0.5,
        base_url: str | None = None,
        key: str | None = None,
    ) -> None:
        self.services = services
        self.signals = sorted(signals, key=signal_ts)
        self.speed = speed
        self.ivr_share = ivr_share
        self.http = (
            httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
            if base_url
            else None
        )
        self.report = PlayReport()
        self._etr_given: set[str] = set()
        self._sms_clock: float | None = None  # the throttle's clock (event-time seconds)
        self._call_at = {s.id: s.ts for s in self.signals if isinstance(s, CallSignal)}

    def play(self, on_progress: Callable[[int, int, datetime], None] | None = None) -> PlayReport:
        """Submit every signal; returns what happened."""
        runtime = self.services.runtime
        started = time.perf_counter()
        first = signal_ts(self.signals[0])
        done = 0
        now: datetime | None = None
        for start in range(0, len(self.signals), BATCH):
            batch = self.signals[start : start + BATCH]
            if self.speed:
                due = (signal_ts(batch[-1]) - first).total_seconds() / self.speed
                if now is not None:  # the wait for the next batch is the sender's time
                    self._dispatch(now, until=started + due)
                wait = due - (time.perf_counter() - started)
                if wait > 0:
                    time.sleep(wait)
            runtime.submit(batch)
            self._ask_ivr(batch)
            self.services.settle(60)
            now = runtime.engine.now or signal_ts(batch[-1])
            self._officer(now)
            if not self.speed:
                self._dispatch(now)
            self._sample(now)
            done += len(batch)
            if on_progress is not None:
                on_progress(done, len(self.signals), now)
        runtime.host.finish()
        self.services.settle(60)
        self.report.signals = len(self.signals)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def after_the_storm(
        self,
        on_progress: Callable[[int, int, datetime], None] | None = None,
        *,
        every: timedelta = QUIET_STEP,
        longest: timedelta = QUIET_LONGEST,
    ) -> list[str]:
        """Let event time run on after the last signal, as the hotline's ordinary day resumes:
        one routine call (kind ``other``, from a customer with power) every ``every``, until
        no storm scope is declared and no playbook is active — or ``longest`` has passed.

        The engine and the playbooks decide only as event time passes; without this tail a
        replayed storm ends frozen at its last signal, its last scopes still declared and the
        storm playbooks still telling every caller that severe weather has cut power. Paced
        at twice the storm's speed (when it has one), so the board shows them standing down.
        Returns the routine calls' ids."""
        runtime = self.services.runtime
        began = time.perf_counter()
        last = runtime.engine.now
        if last is None:
            return []
        steps = int(longest / every)
        sent: list[str] = []
        for n in range(1, steps + 1):
            if self._all_stood_down():
                break
            at = last + n * every
            if self.speed:  # twice the storm's pace: a quiet hour has less to watch
                due = (n * every).total_seconds() / (2 * self.speed)
                self._dispatch(at - every, until=began + due)  # what is left goes in drain_sms
                wait = due - (time.perf_counter() - began)
                if wait > 0:
                    time.sleep(wait)
            self._patrol(at)
            call = self._routine_call(n, at)
            runtime.submit([call])
            sent.append(call.id)
            self.services.settle(60)
            self._sample(at)
            if on_progress is not None:
                on_progress(n, steps, at)
        self.report.routine_calls = len(sent)
        return sent

    def drain_sms(self, on_progress: Callable[[int, int], None] | None = None) -> int:
        """Send what is left after the storm, an event-time minute at a time, at the
        provider's rate (quiet hours still hold what they hold); returns how many are held."""
        now = self.services.event_time()
        queued = self._queued()
        total, idle = queued, 0
        for minute in range(24 * 60):
            handled = self._dispatch(now + timedelta(minutes=minute))
            left = self._queued()
            if on_progress is not None:
                on_progress(total - left, total)
            idle = 0 if handled else idle + 1
            if not left or idle > 5:
                break
        self.report.sms_held = self._queued()
        if self.http is not None:
            self.http.close()
        return self.report.sms_held

    def _patrol(self, now: datetime) -> None:
        """The officer's patrol after the storm: a prediction nobody has confirmed and nobody
        has called about for `PATROL_AFTER` is checked on site and, power being on there,
        cancelled. (The storm's noise calls — a flicker, a tripped breaker in the house —
        leave such predictions behind; left open they keep a substation's storm declared.)"""
        runtime = self.services.runtime
        stale = []
        for brief in runtime.incidents(status={Status.PREDICTED}, limit=5000)["incidents"]:
            incident = runtime.incident(brief["id"]) or {}
            calls = incident.get("calls", ())
            times = [self._call_at[c["call"]] for c in calls if c["call"] in self._call_at]
            if not incident.get("meter_events") and times and now - max(times) >= PATROL_AFTER:
                stale.append(brief["id"])
        for incident_id in stale:
            _, result = runtime.submit_command(
                id=f"demo-patrol-{incident_id}",
                by="demo-officer",
                action="cancel",
                incident=incident_id,
                reason="patrol found power on (no call for an hour after the storm)",
            )
            self.report.patrolled += bool(result.accepted) and not result.refused

    def _queued(self) -> int:
        counts = self.services.sms_counts()
        return counts.get("pending", 0) + counts.get("sending", 0)

    def _all_stood_down(self) -> bool:
        runtime = self.services.runtime
        with runtime.lock:
            declared = any(s.declared_at is not None for s in runtime.engine.storm.scopes.values())
        return not declared and not self.services.runner.active()

    def _routine_call(self, n: int, at: datetime) -> CallSignal:
        """A billing or service question from a customer whose power is on."""
        topo = self.services.runtime.network.topology
        view = self.services.runtime.view
        premises = len(topo.premise_ids)
        premise = (7919 * n) % premises
        while view.covering(premise) is not None:
            premise = (premise + 1) % premises
        return CallSignal(
            type="call",
            id=f"routine-{at.strftime('%Y%m%dT%H%M%S')}-{n}",
            ts=at,
            premise=topo.premise_ids[premise],
            kind="other",
            note="routine call after the storm",
        )

    # -- the outside world ----------------------------------------------------------------

    def _ask_ivr(self, batch: list[Signal]) -> None:
        callers = [s for s in batch if isinstance(s, CallSignal) and s.phone]
        step = max(1, round(1 / self.ivr_share)) if self.ivr_share > 0 else 0
        for signal in callers[::step] if step else ():
            assert signal.phone is not None
            if self.http is not None:
                try:
                    answer = self.http.get("/v1/ivr/lookup", params={"phone": signal.phone})
                except httpx.TransportError:
                    continue  # e.g. a kept-alive connection the server closed: not a caller
                if answer.status_code != 200:
                    continue
                known = answer.json()["known_outage"]
            else:
                known = self.services.runtime.ivr.answer(CallerQuery(phone=signal.phone))[
                    "known_outage"
                ]
            self.report.ivr_lookups += 1
            self.report.ivr_known += bool(known)

    def _officer(self, now: datetime) -> None:
        runner = self.services.runner
        for proposal in runner.proposals():
            if now - proposal.at >= CONFIRM_AFTER and proposal.expires > now:
                runner.confirm(proposal.id, "demo-officer", role="duty_officer", at=now)
                self.report.confirmed.append(proposal.playbook)
        runtime = self.services.runtime
        with runtime.lock:
            waiting = [
                i.id
                for i in runtime.engine.open_incidents()
                if i.customers >= ETR_MIN_CUSTOMERS
                # the big outages get the officer's own ETR, over the engine's estimate
                and i.etr_source != "officer"
                and i.id not in self._etr_given
                and now - i.started >= ETR_AFTER
            ]
        for incident in waiting:
            self._etr_given.add(incident)
            etr = now + timedelta(hours=ETR_HOURS)
            _, result = runtime.submit_command(
                id=f"demo-etr-{incident}",
                by="demo-officer",
                action="set_etr",
                incident=incident,
                etr=etr,
            )
            if result.accepted and not result.refused:
                self.report.etrs += 1
                self.report.etr_log.append((incident, etr, now))

    def _dispatch(self, now: datetime, until: float | None = None) -> int:
        """Send what is due at event time ``now``. The provider's rate limit runs on event
        time too, so an hour of storm has an hour of sending capacity: the throttle's clock
        steps from where it was to ``now`` one full bucket at a time (one call to the sender
        gets at most a bucket), stopping as soon as nothing more is due. Without the steps a
        storm replayed in two minutes could send only a bucket per batch, and 24,000 texts
        queued mid-storm would trickle out for minutes after it.

        ``until`` (a `time.perf_counter` deadline) bounds the wall time spent: sending costs
        CPU, and a replay must not stall behind a 20,000-text playbook push — what does not
        fit waits in the queue (the board shows it draining) for the next batch's wait."""
        notifier = self.services.notifier
        config = notifier.config
        step = config.burst / config.rate_per_second
        end = now.timestamp()
        clock = self._sms_clock if self._sms_clock is not None else end - step
        handled = 0
        while clock < end:
            clock = min(end, clock + step)
            report = notifier.dispatch(now, clock=clock)
            handled += report.handled
            if not report.handled or (until is not None and time.perf_counter() >= until):
                break
        self._sms_clock = max(clock, self._sms_clock or clock)
        return handled

    def _sample(self, now: datetime) -> None:
        runtime = self.services.runtime
        with runtime.lock:
            engine = runtime.engine
            out = sum(i.customers for i in engine.outermost_open())
            incidents = sum(1 for _ in engine.open_incidents())
            calls = engine.calls_received
        sms = self.services.sms_counts()
        self.report.samples.append(
            Sample(
                at=now,
                customers_out=out,
                open_incidents=incidents,
                calls=calls,
                sms_decided=sms.get("decided", 0),
                sms_sent=sms.get("sent", 0) + sms.get("delivered", 0),
            )
        )


def summary_of(services: Services[Runtime], report: PlayReport) -> dict[str, Any]:
    """Figures for the demo's summary and report."""
    runner = services.runner
    audit = runner.store.rows()
    fired = [r for r in audit if r.kind == "activated"]
    # Every staffing evaluation (first activation and each scheduled re-evaluation).
    staffing = [
        r.detail | {"playbook": r.playbook}
        for r in audit
        if r.kind == "result" and "positions" in r.detail
    ]
    return {
        "playbooks_fired": [
            {"playbook": r.playbook, "at": r.at.isoformat(), "by": r.by} for r in fired
        ],
        "playbooks_proposed": sum(1 for r in audit if r.kind == "proposed"),
        "stood_down": [
            {"playbook": r.playbook, "at": r.at.isoformat()}
            for r in audit
            if r.kind == "stood_down" and "ordered_by" not in r.detail
        ],
        "routine_calls": report.routine_calls,
        "patrolled": report.patrolled,
        "sms_held": report.sms_held,
        "staffing": sorted(staffing, key=lambda s: s["at"]),
        "sms": services.sms_counts(),
        "sms_by_kind": _sms_by_kind(services),
        "pages": len(services.pager.records()),
        "ivr_lookups": report.ivr_lookups,
        "ivr_known": report.ivr_known,
        "etrs_given": report.etrs,
    }


def _sms_by_kind(services: Services[Runtime]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in services.notifier.store.rows():
        counts[row["kind"]] = counts.get(row["kind"], 0) + 1
    return counts
