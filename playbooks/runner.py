"""The playbook runner: engine events in, activations, actions and stand-downs out.

``on_event(seq, event)`` folds the event into the `Situation` and re-evaluates every
playbook at the event's time; a scheduler tick (every minute) re-evaluates between events, so
hold-down timers, stand-downs and proposal expiry happen on time in a quiet hour too. Per
playbook the life cycle is::

    idle --condition holds for hold_for--> fire --automatic--> active
                                               \\--propose--> proposed --confirm--> active
                                                                      \\--decline/expire--> idle*
    active --condition clear for stand_down.clear_for--> stood down (idle, re-armed after
            rearm_minutes)

(* a declined or expired proposal is not made again until the condition has cleared.)

Everything is decided on event time, so a drill replays hours of storm in seconds and gives
what live would do. Every proposal, decision, action, result, schedule and stand-down is an
audit row; the runner state (with the event high-water mark) is committed with them, so after
a restart re-fed events at or below the mark change nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from outage.events import Event
from playbooks import actions
from playbooks.actions import ActivationRecord, Context
from playbooks.conditions import Match, evaluate
from playbooks.errors import NotAllowed, ProposalError
from playbooks.loader import LoadedPlaybook
from playbooks.model import Playbook
from playbooks.ports import Ports
from playbooks.roster import Roster
from playbooks.scheduler import EventTimeScheduler, Scheduler, every, once
from playbooks.situation import Situation
from playbooks.store import RunnerStore

TICK_JOB = "runner:tick"
#: Without a decision, the state is checkpointed at least this often (events).
CHECKPOINT_EVERY = 200


@dataclass
class Proposal:
    """An activation waiting for a duty officer's decision."""

    id: str
    playbook: str
    reason: str
    at: datetime
    expires: datetime
    area: list[str] | None
    incidents: list[str]

    def as_json(self) -> dict[str, Any]:
        """JSON-ready (also the persisted form)."""
        return {
            **self.__dict__,
            "at": self.at.isoformat(),
            "expires": self.expires.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Proposal:
        """Inverse of `as_json`."""
        return cls(
            **{
                **data,
                "at": datetime.fromisoformat(data["at"]),
                "expires": datetime.fromisoformat(data["expires"]),
            }
        )


@dataclass
class _PlaybookState:
    holding_since: datetime | None = None
    clear_since: datetime | None = None
    stood_down_at: datetime | None = None
    needs_clear: bool = False
    active: ActivationRecord | None = None
    proposal: Proposal | None = None
    activations: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "holding_since": _iso(self.holding_since),
            "clear_since": _iso(self.clear_since),
            "stood_down_at": _iso(self.stood_down_at),
            "needs_clear": self.needs_clear,
            "active": self.active.to_dict() if self.active else None,
            "proposal": self.proposal.as_json() if self.proposal else None,
            "activations": self.activations,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _PlaybookState:
        return cls(
            holding_since=_dt(data["holding_since"]),
            clear_since=_dt(data["clear_since"]),
            stood_down_at=_dt(data["stood_down_at"]),
            needs_clear=data["needs_clear"],
            active=ActivationRecord.from_dict(data["active"]) if data["active"] else None,
            proposal=Proposal.from_json(data["proposal"]) if data["proposal"] else None,
            activations=data["activations"],
        )


@dataclass
class _Entry:
    playbook: Playbook
    folder: Path
    state: _PlaybookState = field(default_factory=_PlaybookState)


class PlaybookRunner:
    """Runs ``playbooks`` over engine events (see the module docstring).

    ``store`` keeps the audit log and state (default: in memory); ``scheduler`` runs the
    follow-ups (default: `EventTimeScheduler`, for drills); ``persist=False`` skips the state
    snapshot (drills, where nothing restarts). Call `start` before feeding events.
    """

    def __init__(
        self,
        playbooks: Sequence[LoadedPlaybook],
        situation: Situation,
        ports: Ports,
        *,
        store: RunnerStore | None = None,
        scheduler: Scheduler | None = None,
        persist: bool = True,
        tick_minutes: float = 1.0,
    ) -> None:
        self.entries = {p.playbook.id: _Entry(p.playbook, p.folder) for p in playbooks}
        self.situation = situation
        self.ports = ports
        self.store = store or RunnerStore()
        self.scheduler: Scheduler = scheduler or EventTimeScheduler()
        self.persist = persist
        self.tick_minutes = tick_minutes
        self.high_water = 0
        self._applied = 0  # the last event counted into the situation
        #: Standby people called in by any activation; emptied when the last one stands down.
        self.called_in: list[str] = []
        self.now: datetime | None = None
        self._now_stamp = time.monotonic()  # when ``now`` last advanced (wall clock)
        self._lock = threading.RLock()
        self._rosters: dict[Path, Roster] = {}
        self._since_checkpoint = 0
        self._dirty = False
        self._ticking = False
        saved = self.store.load_state()
        if saved is not None:
            self._restore(saved)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the scheduler (persisted jobs resume)."""
        self.scheduler.start(self.run_job)

    def stop(self) -> None:
        """Checkpoint and stop the scheduler."""
        with self._lock:
            self._commit(force=True)
        self.scheduler.stop()

    # -- inputs -------------------------------------------------------------------------------

    def on_event(self, seq: int, event: Event) -> None:
        """Feed one engine event (an `EngineHost` listener); seqs at or below the high-water
        mark were seen before a restart and are ignored."""
        with self._lock:
            if seq <= self.high_water:
                return
            self._run_due(event.at)
            # A retry after a failure below must not count the event into the situation
            # twice; the high-water mark moves only once the event is fully handled, so a
            # failure leaves it where a retry (or the journal's replay) picks it up again.
            if seq != self._applied:
                self.situation.apply(event)
                self._applied = seq
            self._ensure_tick(event.at)
            self._evaluate(event.at)
            self._since_checkpoint += 1
            handled, self.high_water = self.high_water, seq
            try:
                self._commit()
            except BaseException:
                self.high_water = handled
                raise

    def advance(self, until: datetime) -> None:
        """Let event time run to ``until`` with no events (drills: the quiet tail)."""
        with self._lock:
            self._run_due(until)
            if self.now is None or until > self.now:
                self._evaluate(until)
            self._commit(force=True)

    def run_job(self, job_id: str, spec: dict[str, Any], fired_at: datetime) -> None:
        """A scheduler callback: a tick or a follow-up, run at `job_time`."""
        with self._lock:
            now = self.job_time(fired_at)
            if spec["kind"] == "tick":
                self._evaluate(now)
            elif spec["kind"] == "follow_up":
                self._follow_up(spec, now)
            self._commit()

    def job_time(self, fired_at: datetime) -> datetime:
        """When a job that fired at ``fired_at`` runs, on the events' time base.

        The event-time scheduler fires in event time already. The live one fires on the wall
        clock; its jobs run at event time moved on by the wall time since it last advanced
        (as officer decisions do). That is the wall clock while events are live, and it keeps
        a storm replayed into a live service on one clock: a tick at today's wall time must
        not judge a storm from July (its warning long expired, its calls long quiet) and
        stand every playbook down, nor flap against the replayed events that follow it."""
        if self.now is None:
            return fired_at
        if isinstance(self.scheduler, EventTimeScheduler):
            return max(fired_at, self.now)
        return self._decision_time(None)

    def _run_due(self, until: datetime) -> None:
        for at, job_id, spec in self.scheduler.due(until):
            self.run_job(job_id, spec, at)

    def _ensure_tick(self, at: datetime) -> None:
        if not self._ticking:  # re-adding after a restart replaces the persisted job
            self.scheduler.add(TICK_JOB, every(self.tick_minutes, at), {"kind": "tick"})
            self._ticking = True

    # -- officer decisions --------------------------------------------------------------------

    def proposals(self) -> list[Proposal]:
        """Proposals waiting for a decision."""
        with self._lock:
            return [e.state.proposal for e in self.entries.values() if e.state.proposal]

    def active(self) -> list[ActivationRecord]:
        """Activations in force."""
        with self._lock:
            return [e.state.active for e in self.entries.values() if e.state.active]

    def confirm(
        self, proposal_id: str, by: str, *, role: str | None = None, at: datetime | None = None
    ) -> ActivationRecord:
        """The duty officer confirms: the playbook activates now."""
        with self._lock:
            entry, proposal = self._pending(proposal_id, by, role)
            now = self._decision_time(at)
            if now >= proposal.expires:
                self._expire(entry, now)
                self._commit(force=True)
                raise ProposalError(f"proposal {proposal_id} expired at {proposal.expires}")
            entry.state.proposal = None
            self.store.audit(
                now, entry.playbook.id, None, "confirmed", {"proposal": proposal_id}, by
            )
            match = Match(True, proposal.reason, _area(proposal.area), tuple(proposal.incidents))
            record = self._activate(entry, match, now, by)
            self._commit(force=True)
            return record

    def decline(
        self,
        proposal_id: str,
        by: str,
        reason: str = "",
        *,
        role: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """The duty officer declines: nothing runs, and the playbook waits for the condition
        to clear before proposing again."""
        with self._lock:
            entry, _ = self._pending(proposal_id, by, role)
            now = self._decision_time(at)
            entry.state.proposal = None
            entry.state.needs_clear = True
            detail = {"proposal": proposal_id, "reason": reason}
            self.store.audit(now, entry.playbook.id, None, "declined", detail, by)
            self._commit(force=True)

    def stand_down(self, activation_id: str, by: str, *, at: datetime | None = None) -> None:
        """The duty officer stands an activation down now (announcements withdrawn, rule set
        back, follow-ups removed), whether or not its condition has cleared."""
        with self._lock:
            for entry in self.entries.values():
                record = entry.state.active
                if record is not None and record.id == activation_id:
                    self._stand_down(entry, self._decision_time(at), by=by)
                    entry.state.needs_clear = True  # no re-fire until the condition clears
                    self._commit(force=True)
                    return
        raise ProposalError(f"no active activation {activation_id!r}")

    def _pending(self, proposal_id: str, by: str, role: str | None) -> tuple[_Entry, Proposal]:
        for entry in self.entries.values():
            proposal = entry.state.proposal
            if proposal is not None and proposal.id == proposal_id:
                allowed = entry.playbook.activation.roles
                if allowed and role not in allowed:
                    raise NotAllowed(
                        f"{by} ({role or 'no role'}) may not activate {entry.playbook.id}; "
                        f"roles allowed: {', '.join(allowed)}"
                    )
                return entry, proposal
        raise ProposalError(f"no pending proposal {proposal_id!r}")

    def _decision_time(self, at: datetime | None) -> datetime:
        if at is not None:
            return at
        if self.now is None:
            return datetime.now(UTC)
        if isinstance(self.scheduler, EventTimeScheduler):
            return self.now  # a drill decides in event time
        # Live: event time moved on by the wall time since it last advanced. That is the wall
        # clock when events are live, and stays on the events' time base when a storm is
        # replayed into a live service (a proposal made at event time must not look expired
        # merely because the replayed storm happened months ago).
        return self.now + timedelta(seconds=time.monotonic() - self._now_stamp)

    # -- evaluation ---------------------------------------------------------------------------

    def _evaluate(self, now: datetime) -> None:
        if self.now is None or now > self.now:
            self.now, self._now_stamp = now, time.monotonic()
        for entry in self.entries.values():
            self._evaluate_one(entry, now)

    def _evaluate_one(self, entry: _Entry, now: datetime) -> None:
        playbook, state = entry.playbook, entry.state
        match = evaluate(playbook.when, self.situation, now)
        if state.active is not None:
            if match.holds:
                state.clear_since = None
                return
            if state.clear_since is None:
                state.clear_since = now
                self._dirty = True
            if now - state.clear_since >= timedelta(minutes=playbook.stand_down.clear_for_minutes):
                self._stand_down(entry, now)
            return
        if state.proposal is not None:
            if now >= state.proposal.expires:
                self._expire(entry, now)
            return
        if not match.holds:
            if state.holding_since is not None or state.needs_clear:
                self._dirty = True
            state.holding_since, state.needs_clear = None, False
            return
        rearm = timedelta(minutes=playbook.rearm_minutes)
        if state.needs_clear or (state.stood_down_at and now - state.stood_down_at < rearm):
            return
        if state.holding_since is None:
            state.holding_since = now
            self._dirty = True
        if now - state.holding_since < timedelta(minutes=playbook.hold_for_minutes):
            return
        if playbook.activation.mode == "propose":
            self._propose(entry, match, now)
        else:
            self._activate(entry, match, now, "automatic")
        state.holding_since = None  # only now: a failed activation is retried without a new hold

    def _propose(self, entry: _Entry, match: Match, now: datetime) -> None:
        playbook = entry.playbook
        expires = now + timedelta(minutes=playbook.activation.expires_minutes)
        proposal = Proposal(
            id=f"P-{playbook.id}-{_stamp(now)}",
            playbook=playbook.id,
            reason=match.reason,
            at=now,
            expires=expires,
            area=sorted(match.area) if match.area is not None else None,
            incidents=list(match.incidents),
        )
        entry.state.proposal = proposal
        detail = {**proposal.as_json(), "roles": playbook.activation.roles}
        self.store.audit(now, playbook.id, None, "proposed", detail)

    def _expire(self, entry: _Entry, now: datetime) -> None:
        proposal = entry.state.proposal
        assert proposal is not None
        entry.state.proposal, entry.state.needs_clear = None, True
        self.store.audit(now, entry.playbook.id, None, "expired", {"proposal": proposal.id})

    # -- activation, actions, follow-ups, stand-down ----------------------------------------

    def _activate(self, entry: _Entry, match: Match, now: datetime, by: str) -> ActivationRecord:
        playbook, state = entry.playbook, entry.state
        state.activations += 1
        record = ActivationRecord(
            id=f"{playbook.id}-{_stamp(now)}",
            playbook=playbook.id,
            at=now,
            reason=match.reason,
            area=sorted(match.area) if match.area is not None else None,
            incidents=list(match.incidents),
            by=by,
        )
        before = state.active, state.clear_since, state.proposal
        state.active, state.clear_since = record, None
        detail = {"reason": match.reason, "area": record.area, "incidents": record.incidents}
        self.store.audit(now, playbook.id, record.id, "activated", detail, by)
        # Write-ahead: the activation is on disk before any message leaves. If that fails,
        # undo it: kept in memory only, a retry would see it active and never run its steps.
        try:
            self._commit(force=True)
        except BaseException:
            state.active, state.clear_since, state.proposal = before
            state.activations -= 1
            self.store.retract(record.id)
            raise
        for step in playbook.then:
            self._run_step(entry, record, step.name, now)
        for n, follow_up in enumerate(playbook.schedule):
            job_id = f"{record.id}:follow-up-{n}"
            if follow_up.every_minutes is not None:
                trigger = every(follow_up.every_minutes, now)
            else:
                trigger = once(now + timedelta(minutes=follow_up.after_minutes or 0))
            spec = {
                "kind": "follow_up",
                "playbook": playbook.id,
                "activation": record.id,
                "steps": list(follow_up.run),
            }
            first = self.scheduler.add(job_id, trigger, spec)
            detail = {"job": job_id, "steps": follow_up.run, "first": _iso(first)}
            self.store.audit(now, playbook.id, record.id, "scheduled", detail)
        return record

    def _run_step(self, entry: _Entry, record: ActivationRecord, name: str, now: datetime) -> None:
        step = entry.playbook.step(name)
        playbook = entry.playbook.id
        self.store.audit(now, playbook, record.id, "action", {"step": name, "kind": step.kind})
        context = Context(
            record, self.situation, now, entry.folder, self.ports, self._rosters, self.called_in
        )
        try:
            result = actions.execute(step, context)
            detail = {"step": name, "ok": True, **result}
        except Exception as exc:  # a failed channel must not stop the other steps
            detail = {"step": name, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        self.store.audit(now, playbook, record.id, "result", detail)

    def _follow_up(self, spec: dict[str, Any], now: datetime) -> None:
        entry = self.entries.get(spec["playbook"])
        record = entry.state.active if entry else None
        if entry is None or record is None or record.id != spec["activation"]:
            return  # stood down since: the job is being removed
        for name in spec["steps"]:
            self._run_step(entry, record, name, now)
        self._dirty = True

    def _stand_down(self, entry: _Entry, now: datetime, *, by: str | None = None) -> None:
        """Undo what the activation put up; ``by`` names the officer who ordered it (None:
        the condition cleared on its own)."""
        state, record = entry.state, entry.state.active
        assert record is not None
        for n in range(len(entry.playbook.schedule)):
            self.scheduler.remove(f"{record.id}:follow-up-{n}")
        undone: list[str] = []
        for announcement in record.announcements:
            try:
                self.ports.ivr.withdraw(announcement)
                undone.append(f"withdrew {announcement}")
            except Exception as exc:
                undone.append(f"could not withdraw {announcement}: {exc}")
        if record.rule_set == "storm":
            try:
                self.ports.rule_set.set("normal")
                undone.append("rule set back to normal")
            except Exception as exc:
                undone.append(f"could not switch rule set back: {exc}")
        clear = state.clear_since or now
        detail = {
            "clear_since": clear.isoformat(),
            "undone": undone,
            "active_since": _iso(record.at),
        }
        if by is not None:
            detail["ordered_by"] = by
            self.store.audit(now, entry.playbook.id, record.id, "stood_down", detail, by)
        else:
            self.store.audit(now, entry.playbook.id, record.id, "stood_down", detail)
        state.active, state.clear_since, state.stood_down_at = None, None, now
        if not any(e.state.active for e in self.entries.values()):
            self.called_in.clear()  # everyone stood down: the standby pool goes home

    # -- persistence --------------------------------------------------------------------------

    def _commit(self, force: bool = False) -> None:
        decided = self.store.has_pending or self._dirty
        if not (force or decided or self._since_checkpoint >= CHECKPOINT_EVERY):
            return
        self.store.commit(self._snapshot() if self.persist else None)
        self._since_checkpoint, self._dirty = 0, False

    def _snapshot(self) -> dict[str, Any]:
        return {
            "high_water": self.high_water,
            "called_in": list(self.called_in),
            "now": _iso(self.now),
            "playbooks": {pid: e.state.to_dict() for pid, e in self.entries.items()},
            "situation": self.situation.to_dict(),
        }

    def _restore(self, saved: dict[str, Any]) -> None:
        self.high_water = saved["high_water"]
        self.called_in[:] = saved["called_in"]
        self.now = _dt(saved["now"])
        for pid, data in saved["playbooks"].items():
            if pid in self.entries:  # a playbook removed from the library is forgotten
                self.entries[pid].state = _PlaybookState.from_dict(data)
        self.situation.restore(saved["situation"])


def _area(area: list[str] | None) -> frozenset[str] | None:
    return None if area is None else frozenset(area)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None
