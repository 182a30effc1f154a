"""Play a simulated storm into the composed service at accelerated speed, as the demo does.

The player stands in for the outside world and for a busy duty officer:

- signals are submitted in event-time order, in batches, paced so that ``speed`` seconds of
  storm pass per second of wall clock (or as fast as possible);
- callers who rang by phone also ask the IVR "is there a known outage here?" — through the live
  HTTP service when one is running, so the demo exercises the real path;
- the officer confirms playbook proposals after a few minutes, and sets an ETR on large
  outages once they are confirmed, so customers hear and read one;
- SMS are dispatched on event time as the storm goes;
- a timeline (customers out, calls, SMS, open incidents) is sampled for the report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from outage.api.compose import Services
from outage.ivr import CallerQuery
from outage.signals import CallSignal, Signal, signal_ts

#: Event time the demo's officer takes to confirm a proposal / to give an ETR.
CONFIRM_AFTER = timedelta(minutes=3)
ETR_AFTER = timedelta(minutes=20)
ETR_MIN_CUSTOMERS = 200
ETR_HOURS = 3
BATCH = 200


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
    samples: list[Sample] = field(default_factory=list)


class StormPlayer:
    """See the module docstring. ``base_url``/``key``: ask the IVR over HTTP."""

    def __init__(
        self,
        services: Services,
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

    def play(self, on_progress: Callable[[int, int, datetime], None] | None = None) -> PlayReport:
        """Submit every signal; returns what happened."""
        runtime = self.services.runtime
        started = time.perf_counter()
        first = signal_ts(self.signals[0])
        done = 0
        for start in range(0, len(self.signals), BATCH):
            batch = self.signals[start : start + BATCH]
            if self.speed:
                due = (signal_ts(batch[-1]) - first).total_seconds() / self.speed
                wait = due - (time.perf_counter() - started)
                if wait > 0:
                    time.sleep(wait)
            runtime.submit(batch)
            self._ask_ivr(batch)
            self.services.settle(60)
            now = runtime.engine.now or signal_ts(batch[-1])
            self._officer(now)
            self._dispatch(now)
            self._sample(now)
            done += len(batch)
            if on_progress is not None:
                on_progress(done, len(self.signals), now)
        runtime.host.finish()
        self.services.settle(60)
        self._drain_sms()
        self.report.signals = len(self.signals)
        self.report.seconds = time.perf_counter() - started
        if self.http is not None:
            self.http.close()
        return self.report

    # -- the outside world ----------------------------------------------------------------

    def _ask_ivr(self, batch: list[Signal]) -> None:
        callers = [s for s in batch if isinstance(s, CallSignal) and s.phone]
        step = max(1, round(1 / self.ivr_share)) if self.ivr_share > 0 else 0
        for signal in callers[::step] if step else ():
            assert signal.phone is not None
            if self.http is not None:
                answer = self.http.get("/v1/ivr/lookup", params={"phone": signal.phone})
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
                and i.etr is None
                and i.id not in self._etr_given
                and now - i.started >= ETR_AFTER
            ]
        for incident in waiting:
            self._etr_given.add(incident)
            _, result = runtime.submit_command(
                id=f"demo-etr-{incident}",
                by="demo-officer",
                action="set_etr",
                incident=incident,
                etr=now + timedelta(hours=ETR_HOURS),
            )
            self.report.etrs += bool(result.accepted) and not result.refused

    def _dispatch(self, now: datetime) -> int:
        """Send what is due at event time ``now``; the provider's rate limit runs on event
        time too, so an hour of storm has an hour of sending capacity."""
        return self.services.notifier.dispatch(now, clock=now.timestamp()).handled

    def _drain_sms(self) -> None:
        """Send what is left after the storm, an event-time minute at a time (quiet hours
        still hold what they hold)."""
        now = self.services.event_time()
        for minute in range(24 * 60):
            if not self._dispatch(now + timedelta(minutes=minute)) and minute > 5:
                return

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


def summary_of(services: Services, report: PlayReport) -> dict[str, Any]:
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
        "staffing": sorted(staffing, key=lambda s: s["at"]),
        "sms": services.sms_counts(),
        "sms_by_kind": _sms_by_kind(services),
        "pages": len(services.pager.records()),
        "ivr_lookups": report.ivr_lookups,
        "ivr_known": report.ivr_known,
        "etrs_given": report.etrs,
    }


def _sms_by_kind(services: Services) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in services.notifier.store.rows():
        counts[row["kind"]] = counts.get(row["kind"], 0) + 1
    return counts
