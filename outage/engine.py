"""The correlation engine: signals in, domain events out, one incident per outage.

`Engine.handle` takes one validated signal (or officer command), looks up its handler in
`outage.handlers` and returns the events it caused. The parts it wires together:

* `outage.inference` — the evidence of every premise and the exact most probable set of open
  assets (`InferenceTree`), re-weighed as outages age on ticks of event time;
* `outage.registry` — incidents, tickets and their calls, the only source of events;
* `outage.reconcile` — lines the incidents up with the inference and ends outages on facts;
* `outage.storm` — storm declarations, which switch the inference to the storm priors;
* `outage.restoration` — work orders, crews, SLA escalation and ETRs, fed the events above.

Time is the signals' own: ``now`` is the latest timestamp seen, and timers (planned work, auto
close, silence ticks, storm evaluation) run in time order as it advances, at fixed boundaries
of event time. The same signals in the same order give the same events, so a journal replay
after a crash is exact; the final incidents do not depend on the order either (see README).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from grid.topology import Topology
from outage import events as ev
from outage.commands import Command
from outage.handlers import check_command, handle_command, handle_signal, run_timer
from outage.incidents import Incident
from outage.inference.evidence import EvidenceStore
from outage.inference.explain import explain
from outage.inference.likelihood import Likelihood, micro
from outage.inference.tree import InferenceTree, prior_table
from outage.reconcile import Reconciler
from outage.registry import IncidentRegistry, Ticket, moment, seconds
from outage.resolve import Resolver
from outage.restoration.desk import PREFIX as DESK_TIMER
from outage.restoration.desk import RestorationDesk
from outage.restoration.history import RepairHistory
from outage.restoration.roster import Roster
from outage.rules import PredictionRules, Rules
from outage.signals import (
    CallSignal,
    CrewSignal,
    FollowUpSignal,
    MeterSignal,
    PlannedSignal,
    RestoreSignal,
    ScadaSignal,
    Signal,
    signal_ts,
)
from outage.storm import SYSTEM, StormDetector
from outage.timers import Timers

STORM_TICK = timedelta(minutes=1)


class Engine:
    """Single writer of outage state for one network (see the module docstring)."""

    def __init__(
        self,
        topology: Topology,
        resolver: Resolver,
        rules: Rules | None = None,
        *,
        id_scope: str | None = None,
        roster: Roster | None = None,
        history: RepairHistory | None = None,
        decides_system_storm: bool = True,
    ) -> None:
        self.topology = topology
        self.resolver = resolver
        self.rules = rules or Rules()
        self.rule_set = "normal"
        self.now: datetime | None = None
        self.first_ts: datetime | None = None
        self._seen: dict[str, set[str]] = {"signal": set(), "command": set()}
        self.rejected: list[dict[str, object]] = []
        self.calls_received = 0
        self.signals_applied = 0
        self._out: list[ev.Event] = []
        #: How many of ``_out`` the restoration desk has seen (`_observe`).
        self._observed = 0
        model = self.rules.inference
        self.likelihood = Likelihood.of(model)
        self.tree = InferenceTree(
            topology, self.likelihood, self._priors(self.rules.normal), micro(model.hysteresis)
        )
        self.evidence = EvidenceStore(model)
        self.registry = IncidentRegistry(topology, self._out_append, id_scope)
        self.reconciler = Reconciler(self.tree, self.evidence, self.registry, self._now)
        self.timers = Timers()
        self._tick = timedelta(minutes=model.tick_minutes)
        self._next_inference_tick: datetime | None = None
        self._next_storm_tick: datetime | None = None
        self._changed_at: datetime | None = None
        served: Counter[str] = Counter()
        for t, feeder in enumerate(topology.transformer_feeder):
            substation = topology.feeder_substation[feeder]
            served[topology.substation_ids[substation]] += int(topology.transformer_customers[t])
        # A Redis partition sees only its share of the system: there the system-wide storm is
        # declared by the aggregator over every partition's figures (a `storm` command).
        self.storm = StormDetector(
            self.rules.storm_detection, dict(served), decides_system=decides_system_storm
        )
        self.restoration = RestorationDesk(self, self.rules.restoration, history, roster)

    # -- public ------------------------------------------------------------------------------

    @property
    def prediction_rules(self) -> PredictionRules:
        """The rule set in force (storm while a system-wide storm is declared)."""
        return self.rules.storm if self.rule_set == "storm" else self.rules.normal

    @property
    def incidents(self) -> dict[str, Incident]:
        """Every incident by id."""
        return self.registry.incidents

    @property
    def tickets(self) -> list[Ticket]:
        """Hazard and service tickets."""
        return self.registry.tickets

    @property
    def unresolved(self) -> list[dict[str, object]]:
        """Calls whose caller could not be identified, with the reason."""
        return self.registry.unresolved

    @property
    def suppressed_calls(self) -> set[str]:
        """Calls that created no new ticket (derived from the incidents' calls)."""
        out: set[str] = set()
        for incident in self.registry.incidents.values():
            out |= incident.suppressed()
        return out

    @property
    def suppressed_total(self) -> int:
        """How many calls created no new ticket."""
        return sum(len(i.suppressed()) for i in self.registry.incidents.values())

    @property
    def suppressed_by_premise(self) -> Counter[int]:
        """Suppressed calls per premise number."""
        counts: Counter[int] = Counter()
        for incident in self.registry.incidents.values():
            for call in incident.suppressed():
                counts[incident.held[call].premise] += 1
        return counts

    def seen_message(self, message: Signal | Command) -> bool:
        """Has this signal (or command — a separate id space) been handled already?"""
        space = "command" if isinstance(message, Command) else "signal"
        return message.id in self._seen[space]

    @property
    def seen(self) -> set[str]:
        """Ids of every signal and command handled (both id spaces together)."""
        return self._seen["signal"] | self._seen["command"]

    def handle(self, message: Signal | Command) -> list[ev.Event]:
        """Apply one signal or command; returns the events it caused (empty for a duplicate).

        A refused command raises `CommandRejected` and changes nothing.
        """
        # One isinstance per message; the two names keep mypy's narrowing below.
        command: Command | None = None
        signal: Signal | None = None
        if isinstance(message, Command):
            command = message
        else:
            signal = message
        seen = self._seen["command" if command is not None else "signal"]
        if message.id in seen:
            return []
        problem = self.check_references(message)
        if problem is not None:
            seen.add(message.id)
            self.rejected.append({"signal": message.id, "reason": problem})
            return []
        if command is not None:
            check_command(self, command)  # raises before anything changes
        seen.add(message.id)
        self._out = []
        self._observed = 0
        self.registry.fresh = set()
        if command is not None:
            self._advance(command.ts)
        elif signal is not None:
            self._advance(signal_ts(signal))
            self.signals_applied += 1  # (a global command reaches every Redis partition)
        try:
            if command is not None:
                handle_command(self, command)
            elif signal is not None:
                handle_signal(self, signal)
        finally:
            self.reconciler.settle_withdrawn()
        self._observe()
        out, self._out = self._out, []
        return out

    def check_references(self, message: Signal | Command) -> str | None:
        """Why ``message`` names something this network lacks (``field: reason``), or None.

        Calls are never rejected for an unknown caller: that is an unresolved ticket.
        """
        topo = self.topology
        if isinstance(message, MeterSignal):  # most signals: the rest need not be asked
            if message.premise not in topo.premise_index:
                return f"premise: unknown premise {message.premise!r}"
            return None
        if isinstance(message, CallSignal):
            return None
        if (
            isinstance(message, ScadaSignal | PlannedSignal)
            and message.device not in topo.device_index
        ):
            return f"device: unknown device {message.device!r}"
        if isinstance(message, RestoreSignal) and not (
            message.device in topo.device_index or message.device in topo.transformer_index
        ):
            return f"device: unknown device or transformer {message.device!r}"
        if isinstance(message, CrewSignal | FollowUpSignal):
            return self.restoration.check_signal(message)
        if isinstance(message, Command):
            if message.incident is not None and message.incident not in self.incidents:
                return f"incident: no incident {message.incident!r}"
            if message.into is not None and message.into not in self.incidents:
                return f"into: no incident {message.into!r}"
            for asset in message.assets or ():
                if asset not in topo.device_index and asset not in topo.transformer_index:
                    return f"assets: unknown device or transformer {asset!r}"
        return None

    def finish(self, until: datetime | None = None) -> list[ev.Event]:
        """Run timers up to ``until`` (default: now), weigh silence then, evaluate storms."""
        self._out = []
        self._observed = 0
        self.registry.fresh = set()
        if self.now is not None:
            end = max(until or self.now, self.now)
            self._advance(end)
            self._infer_at(end)
            self._evaluate_storm(self.now)
            self._observe()
            self.restoration.flush(self.now)
        out, self._out = self._out, []
        return out

    def covering_incident(self, premise: int) -> Incident | None:
        """The outermost open incident whose customers include ``premise``."""
        for node, _forced in self.tree.covering(premise):
            incident = self.registry.open_at.get(node)
            if incident is not None:
                return incident if incident.covers(premise) else None
        return None

    def open_incidents(self) -> Iterable[Incident]:
        """Incidents whose customers are out now."""
        return list(self.registry.open_at.values())

    def outermost_open(self) -> Iterator[Incident]:
        """Open incidents not nested inside an open parent: each customer out counted once."""
        for incident in self.open_incidents():
            parent = self.incidents.get(incident.parent) if incident.parent else None
            if parent is None or not parent.is_open:
                yield incident

    def explain(self, incident: Incident) -> dict[str, object] | None:
        """The prediction behind an open incident, in numbers (see `outage.inference.explain`)."""
        if not incident.is_open:
            return incident.explanation
        incident.explanation = explain(self.tree, self.registry.node_of(incident), self.topology)
        return incident.explanation

    # -- for handlers ------------------------------------------------------------------------

    @property
    def changed_at(self) -> datetime | None:
        """When an incident last changed status (storm clear time counts from there)."""
        return self._changed_at

    def emit(self, event: ev.Event) -> None:
        """Record an event caused by the message being handled."""
        self._out.append(event)

    def _out_append(self, event: ev.Event) -> None:
        self._out.append(event)
        if isinstance(event, ev.IncidentStatusChanged):
            self._changed_at = self.now
        elif isinstance(event, ev.OutageRestored):
            minutes = self.prediction_rules.close_after_minutes
            self.timers.schedule(event.at + timedelta(minutes=minutes), "close", event.incident)

    def _now(self) -> datetime:
        assert self.now is not None
        return self.now

    def _priors(self, rules: PredictionRules) -> list[int | None]:
        model = self.rules.inference
        return prior_table(
            self.topology,
            {str(kind): p for kind, p in rules.prior_open.items()},
            model.candidates,
            model.telemetered_opens_only_on_scada,
        )

    def set_rule_set(self, name: str, at: datetime) -> None:
        """Switch between the normal and the storm priors."""
        if name == self.rule_set:
            return
        self.rule_set = name
        self.emit(ev.RuleSetChanged(at=at, rule_set=name))
        flips = self.tree.set_priors(self._priors(self.prediction_rules))
        self.reconciler.apply(flips, "storm priors")
        self.restoration.weather_changed(at)

    # -- event time --------------------------------------------------------------------------

    def _advance(self, ts: datetime) -> None:
        """Move event time forward to ``ts``: due timers run in time order, and silence is
        re-weighed and storms evaluated at the latest tick boundary passed (a long quiet gap
        costs one tick, not one per minute of it)."""
        now, inference, storm = self.now, self._next_inference_tick, self._next_storm_tick
        if (
            now is not None
            and inference is not None
            and storm is not None
            and ts < inference
            and ts < storm
            and ((due := self.timers.next_at()) is None or due > ts)
        ):
            # Most signals: no timer due and no tick boundary passed, only the clock moves.
            if ts > now:
                self.now = ts
            return
        if self.now is None:
            self.now = self.first_ts = ts
            self._next_inference_tick = _boundary(ts, self._tick)
            self._next_storm_tick = _boundary(ts, STORM_TICK)
            self.tree.tick(seconds(ts))
        while True:
            while (due := self.timers.next_at()) is not None and due <= ts:
                self._ticks_until(due)
                self._observe()
                self.now = max(self.now, due)
                for action, key in self.timers.pop_due(due):
                    if action.startswith(DESK_TIMER):
                        self.restoration.on_timer(action, key, due)
                    else:
                        run_timer(self, action, self.incidents[key], due)
                self._observe()
            self._ticks_until(ts)
            self._observe()
            # A tick may have set a timer that is already due (a storm re-plan for a
            # prediction it made): run it now, before the signal, not after the next one.
            due = self.timers.next_at()
            if due is None or due > ts:
                break
        if ts > self.now:
            self.now = ts

    def _observe(self) -> None:
        """Show the restoration desk the events emitted since it last looked, at the event
        time they happened (a prediction made by a tick inside `_advance` is seen then, so its
        work order and ETR are not stamped with the later signal's time). The events the desk
        emits itself are not shown back to it."""
        fresh = self._out[self._observed :]
        if fresh:
            self.restoration.observe(fresh)
        self._observed = len(self._out)

    def _ticks_until(self, at: datetime) -> None:
        assert self._next_inference_tick is not None and self._next_storm_tick is not None
        assert self.now is not None
        if at >= self._next_inference_tick:
            boundary = _floor(at, self._tick)
            self.now = max(self.now, boundary)
            self._infer_at(boundary)
            self._observe()  # before the storm tick moves event time on
            self._next_inference_tick = boundary + self._tick
        if at >= self._next_storm_tick:
            boundary = _floor(at, STORM_TICK)
            self.now = max(self.now, boundary)
            self._evaluate_storm(boundary)
            self._next_storm_tick = boundary + STORM_TICK

    def _infer_at(self, at: datetime) -> None:
        flips = self.tree.tick(seconds(at))
        self.reconciler.apply(flips, "silence re-weighed")
        self.reconciler.rescope_weighed()

    def declare_storm(self, declare: bool, at: datetime, reason: str) -> None:
        """A system-wide storm declared (or stood down) from outside the engine's own figures:
        by the Redis aggregator over all partitions, or by a duty officer."""
        was = self.storm.system_declared
        if declare:
            events = self.storm.declare(SYSTEM, at, (reason,))
        else:
            events = self.storm.stand_down(SYSTEM, at)
        for event in events:
            self.emit(event)
        if self.storm.system_declared != was:
            self.set_rule_set("storm" if self.storm.system_declared else "normal", at)

    def _evaluate_storm(self, now: datetime) -> None:
        out: Counter[str] = Counter()
        count: Counter[str] = Counter()
        topo = self.topology
        for incident in self.outermost_open():
            substation = topo.substation_ids[incident.substation]
            out[substation] += incident.customers
            out[SYSTEM] += incident.customers
            count[substation] += 1
            count[SYSTEM] += 1
        was_storm = self.storm.system_declared
        for event in self.storm.evaluate(now, out, count, self._changed_at or now):
            self.emit(event)
        if self.storm.system_declared != was_storm:
            self.set_rule_set("storm" if self.storm.system_declared else "normal", now)


def _boundary(ts: datetime, step: timedelta) -> datetime:
    """The first multiple of ``step`` (from the epoch) after ``ts``."""
    return _floor(ts, step) + step


def _floor(ts: datetime, step: timedelta) -> datetime:
    """The latest multiple of ``step`` (from the epoch) at or before ``ts``."""
    span = int(step.total_seconds())
    return moment(seconds(ts) // span * span)
