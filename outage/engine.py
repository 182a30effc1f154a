"""The correlation engine: signals in, domain events out, one incident per outage.

`Engine.handle` takes one validated signal (or officer command) and returns the events it
caused. All decisions use the signals' own timestamps: ``now`` is the latest timestamp seen,
and time-driven steps (planned work starting and ending, auto-close, storm evaluation) run
from a timer heap as ``now`` advances. The same signals in the same order give the same
events, which is what makes the journal replay after a crash exact.

Hot path: a call is resolved to a premise, the premise's precomputed device chain is walked to
find an open incident (dictionary lookups), and only a report from a *new* transformer
re-evaluates the roll-up — repeat callers cost a few dictionary operations.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from grid.topology import NO_DEVICE, Topology
from outage import events as ev
from outage.commands import Command
from outage.errors import CommandRejected
from outage.incidents import ALLOWED, Incident, Level
from outage.prediction import branch_of, gather, lowest_common, qualifies, window_cutoff
from outage.resolve import Resolver
from outage.rules import PredictionRules, Rules
from outage.signals import (
    OUTAGE_KINDS,
    CallSignal,
    MeterSignal,
    PlannedSignal,
    RestoreSignal,
    ScadaSignal,
    Signal,
    WarningSignal,
    signal_ts,
)
from outage.storm import SYSTEM, StormDetector

STORM_TICK = timedelta(minutes=1)


class Engine:
    """Single writer of outage state for one network (see the module docstring)."""

    def __init__(self, topology: Topology, resolver: Resolver, rules: Rules | None = None) -> None:
        self.topology = topology
        self.resolver = resolver
        self.rules = rules or Rules()
        self.rule_set = "normal"
        self.now: datetime | None = None
        self.first_ts: datetime | None = None
        self.seen: set[str] = set()
        self.incidents: dict[str, Incident] = {}
        self.active_transformer: dict[int, Incident] = {}
        self.active_device: dict[int, Incident] = {}
        #: device -> predicted incidents strictly below it (the roll-up's candidates).
        self.pending_under: dict[int, dict[str, Incident]] = {}
        #: device -> latest time a premise below it was shown energised.
        self.energised_below: dict[int, datetime] = {}
        self.energised_premise: dict[int, datetime] = {}
        self.tickets: list[dict[str, Any]] = []
        self.unresolved: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.suppressed_total = 0
        self.suppressed_by_premise: Counter[int] = Counter()
        #: ids of calls that created no new ticket (they follow their incident through moves)
        self.suppressed_calls: set[str] = set()
        self.calls_received = 0
        self.signals_applied = 0
        self._timers: list[tuple[datetime, int, str, str]] = []
        self._timer_seq = 0
        self._next_storm_tick: datetime | None = None
        self._changed_at: datetime | None = None  # when open incidents last changed
        self._seq = {"INC": 0, "TKT": 0}
        self._out: list[ev.Event] = []
        served: Counter[str] = Counter()
        for t, feeder in enumerate(topology.transformer_feeder):
            substation = topology.feeder_substation[feeder]
            served[topology.substation_ids[substation]] += int(topology.transformer_customers[t])
        self.storm = StormDetector(self.rules.storm_detection, dict(served))

    # -- public ------------------------------------------------------------------------------

    @property
    def prediction_rules(self) -> PredictionRules:
        """The rule set in force (storm while a system-wide storm is declared)."""
        return self.rules.storm if self.rule_set == "storm" else self.rules.normal

    def handle(self, message: Signal | Command) -> list[ev.Event]:
        """Apply one signal or command; returns the events it caused (empty for a duplicate)."""
        if message.id in self.seen:
            return []
        self.seen.add(message.id)
        self._out = []
        problem = self.check_references(message)
        if problem is not None:
            self.rejected.append({"signal": message.id, "reason": problem})
            return []
        ts = signal_ts(message) if not isinstance(message, Command) else message.ts
        self._advance(ts)
        self.signals_applied += 1
        if isinstance(message, CallSignal):
            self._on_call(message)
        elif isinstance(message, MeterSignal):
            self._on_meter(message)
        elif isinstance(message, ScadaSignal):
            self._on_scada(message)
        elif isinstance(message, RestoreSignal):
            self._on_device_closed(message.device, message.ts, "crew")
        elif isinstance(message, PlannedSignal):
            self._on_planned(message)
        elif isinstance(message, WarningSignal):
            self._emit(
                ev.WarningIssued(
                    at=ts,
                    signal=message.id,
                    kind=message.kind,
                    level=message.level,
                    area=message.area,
                    until=message.until,
                )
            )
        else:
            self._on_command(message)
        out, self._out = self._out, []
        return out

    def check_references(self, message: Signal | Command) -> str | None:
        """Why ``message`` names something this network lacks (``field: reason``), or None.

        Calls are never rejected for an unknown caller: that is an unresolved ticket.
        """
        topo = self.topology
        if isinstance(message, MeterSignal) and message.premise not in topo.premise_index:
            return f"premise: unknown premise {message.premise!r}"
        if (
            isinstance(message, ScadaSignal | PlannedSignal)
            and message.device not in topo.device_index
        ):
            return f"device: unknown device {message.device!r}"
        if isinstance(message, RestoreSignal) and not (
            message.device in topo.device_index or message.device in topo.transformer_index
        ):
            return f"device: unknown device or transformer {message.device!r}"
        if isinstance(message, Command):
            return self._check_command(message)
        return None

    def _check_command(self, command: Command) -> str | None:
        if command.incident is not None and command.incident not in self.incidents:
            return f"incident: no incident {command.incident!r}"
        if command.into is not None and command.into not in self.incidents:
            return f"into: no incident {command.into!r}"
        topo = self.topology
        for asset in command.assets or ():
            if asset not in topo.device_index and asset not in topo.transformer_index:
                return f"assets: unknown device or transformer {asset!r}"
        return None

    def finish(self, until: datetime | None = None) -> list[ev.Event]:
        """Run timers up to ``until`` (default: now) and a last storm evaluation."""
        self._out = []
        if self.now is not None:
            self._advance(until or self.now)
            self._evaluate_storm(self.now)
        out, self._out = self._out, []
        return out

    def covering_incident(self, premise: int) -> Incident | None:
        """The outermost open incident whose customers include ``premise``."""
        topo = self.topology
        t = topo.premise_transformer[premise]
        found = self.active_transformer.get(t)
        active_device = self.active_device
        for device in topo.device_chain[topo.transformer_device[t]]:
            incident = active_device.get(device)
            if incident is not None:
                found = incident
        return found

    def open_incidents(self) -> Iterable[Incident]:
        """Incidents whose customers are out now."""
        return [i for i in self.incidents.values() if i.is_open]

    def outermost_open(self) -> Iterator[Incident]:
        """Open incidents not nested inside an open parent: each customer out counted once."""
        for incident in self.open_incidents():
            parent = self.incidents.get(incident.parent) if incident.parent else None
            if parent is None or not parent.is_open:
                yield incident

    # -- calls -------------------------------------------------------------------------------

    def _on_call(self, call: CallSignal) -> None:
        self.calls_received += 1
        resolution = self.resolver.resolve(call, lambda p: self.covering_incident(p) is not None)
        if resolution.premise is None:
            ticket = self._next("TKT")
            reason = resolution.reason or "unresolved"
            self.unresolved.append(
                {"call": call.id, "reason": reason, "ticket": ticket, "at": call.ts}
            )
            self._emit(ev.CallUnresolved(at=call.ts, ticket=ticket, call=call.id, reason=reason))
            return
        premise = resolution.premise
        topo = self.topology
        feeder = topo.transformer_feeder[topo.premise_transformer[premise]]
        self.storm.observe_call(call.ts, topo.substation_ids[topo.feeder_substation[feeder]])
        incident = self.covering_incident(premise)
        premise_id = topo.premise_ids[premise]
        if call.kind in OUTAGE_KINDS:
            energised = self.energised_premise.get(premise)
            if incident is None and energised is not None and not call.is_hazard:
                # The meter says this premise has power: a customer-side problem, not a grid one.
                self._service_ticket(
                    call, premise_id, f"{call.kind} call but the meter shows power"
                )
                return
            created = incident is None
            if incident is None:
                incident = self._predict_transformer(premise, call.ts, f"{call.kind} call")
            suppressed = not created and not call.is_hazard
            self._attach_call(incident, call, premise, suppressed)
            if call.is_hazard:
                self._hazard(call, premise_id, incident)
            self._add_report(incident, premise, call.ts)
        elif incident is not None:
            self._attach_call(incident, call, premise, True)
        else:
            self._service_ticket(call, premise_id, f"{call.kind} reported; no outage known here")

    def _attach_call(
        self, incident: Incident, call: CallSignal, premise: int, suppressed: bool
    ) -> None:
        incident.calls.append(call.id)
        incident.call_premises.append(premise)
        if suppressed:
            self.suppressed_total += 1
            self.suppressed_by_premise[premise] += 1
            self.suppressed_calls.add(call.id)
        self._emit(
            ev.CallAttached(
                at=call.ts,
                incident=incident.id,
                call=call.id,
                premise=self.topology.premise_ids[premise],
                suppressed=suppressed,
            )
        )

    def _hazard(self, call: CallSignal, premise_id: str, incident: Incident | None) -> None:
        ticket = self._next("TKT")
        if incident is not None:
            incident.hazards.append(call.id)
        self.tickets.append(
            {
                "ticket": ticket,
                "kind": call.kind,
                "call": call.id,
                "premise": premise_id,
                "incident": incident.id if incident else None,
                "priority": "high",
                "at": call.ts,
            }
        )
        self._emit(
            ev.HazardReported(
                at=call.ts,
                ticket=ticket,
                call=call.id,
                kind=call.kind,
                premise=premise_id,
                incident=incident.id if incident else None,
            )
        )

    def _service_ticket(self, call: CallSignal, premise_id: str, reason: str) -> None:
        ticket = self._next("TKT")
        self.tickets.append(
            {
                "ticket": ticket,
                "kind": call.kind,
                "call": call.id,
                "premise": premise_id,
                "incident": None,
                "priority": "normal",
                "reason": reason,
                "at": call.ts,
            }
        )
        self._emit(
            ev.ServiceTicketOpened(
                at=call.ts, ticket=ticket, call=call.id, premise=premise_id, reason=reason
            )
        )

    # -- meters ------------------------------------------------------------------------------

    def _on_meter(self, meter: MeterSignal) -> None:
        premise = self.topology.premise_index[meter.premise]
        if meter.event == "last_gasp":
            self.energised_premise.pop(premise, None)
            incident = self.covering_incident(premise)
            if incident is None:
                incident = self._predict_transformer(premise, meter.ts, "meter last gasp")
            incident.meter_events += 1
            self._add_report(incident, premise, meter.ts)
            return
        self._energised(premise, meter.ts)

    def _energised(self, premise: int, ts: datetime) -> None:
        """A premise has power: evidence against any prediction that covers it."""
        topo = self.topology
        self.energised_premise[premise] = ts
        transformer = topo.premise_transformer[premise]
        for device in topo.device_chain[topo.transformer_device[transformer]]:
            self.energised_below[device] = ts
        incident = self.covering_incident(premise)
        if incident is None:
            return
        incident.meter_events += 1
        if not incident.is_predicted:
            return  # SCADA or a crew said it is open: one meter does not overrule them
        incident.reports.pop(premise, None)
        if not incident.reports:
            self._restore(incident, ts, "every reporting premise has power again")
        elif incident.level == "device":
            self._revise(incident, ts)

    # -- prediction --------------------------------------------------------------------------

    def _predict_transformer(self, premise: int, ts: datetime, cause: str) -> Incident:
        topo = self.topology
        t = topo.premise_transformer[premise]
        incident = self._new_incident("transformer", t, "predicted", ts, cause)
        self._register(incident)
        self._emit_predicted(incident, ts)
        return incident

    def _add_report(self, incident: Incident, premise: int, ts: datetime) -> None:
        incident.reports[premise] = ts
        if not incident.is_predicted:
            return
        transformer = self.topology.premise_transformer[premise]
        if transformer not in incident.report_transformers:
            incident.report_transformers.add(transformer)
            self._roll_up(incident)

    def _roll_up(self, incident: Incident) -> None:
        """Move the prediction to the lowest device above it that explains the reports."""
        rules = self.prediction_rules
        topo = self.topology
        assert self.now is not None
        cutoff = window_cutoff(self.now, rules)
        while incident.is_predicted and not incident.pinned:
            target = None
            for device in self._devices_above(incident):
                if device in self.active_device:
                    break  # an open incident above already explains these customers
                pending = self.pending_under.get(device)
                if not pending:
                    continue
                evidence = gather(topo, device, pending.values(), cutoff)
                if qualifies(topo, rules, device, evidence, self.energised_below.get(device)):
                    target = device
                    break
            if target is None:
                return
            incident = self._absorb_below(target, "roll-up")

    def _absorb_below(self, device: int, reason: str) -> Incident:
        """Fold every predicted incident below ``device`` into one incident at ``device``.

        The earliest ticket survives: customers and agents already quote its number.
        """
        pending = self.pending_under.get(device, {}).values()
        members = sorted(pending, key=lambda i: (i.started, i.id))
        keeper = members[0]
        for member in members[1:]:
            self._merge(member, keeper)
        self._move(keeper, "device", device, reason)
        return keeper

    def _merge(self, child: Incident, into: Incident) -> None:
        self._unregister(child)
        into.calls.extend(child.calls)
        into.call_premises.extend(child.call_premises)
        into.hazards.extend(child.hazards)
        into.report_transformers |= child.report_transformers
        into.meter_events += child.meter_events
        for premise, ts in child.reports.items():
            if ts > into.reports.get(premise, ts - timedelta(seconds=1)):
                into.reports[premise] = ts
        into.started = min(into.started, child.started)
        child.merged_into = into.id
        self._status(child, "merged", self._now())
        self._emit(ev.IncidentMerged(at=self._now(), incident=child.id, into=into.id))

    def _move(self, incident: Incident, level: Level, node: int, reason: str) -> None:
        before = incident.asset
        self._unregister(incident)
        incident.level, incident.node = level, node
        incident.asset, incident.customers, incident.feeder = self._asset(level, node)
        incident.substation = self.topology.feeder_substation[incident.feeder]
        self._register(incident)
        if before != incident.asset:
            self._emit(
                ev.PredictionMoved(
                    at=self._now(),
                    incident=incident.id,
                    from_device=before,
                    to_device=incident.asset,
                    customers=incident.customers,
                    reason=reason,
                )
            )

    @staticmethod
    def _take_calls(incident: Incident, keep: Callable[[int], bool]) -> list[tuple[str, int]]:
        """Keep the calls whose premise passes ``keep``; return the others as (call, premise)."""
        calls = list(zip(incident.calls, incident.call_premises, strict=True))
        incident.calls = [c for c, p in calls if keep(p)]
        incident.call_premises = [p for c, p in calls if keep(p)]
        return [(c, p) for c, p in calls if not keep(p)]

    def _revise(self, incident: Incident, ts: datetime) -> None:
        """A premise below a device prediction has power: split it into what still fits."""
        groups = self._explain(incident.reports, list(incident.reports))
        groups.sort(key=lambda g: -len(g[2]))
        (level, node, premises), rest = groups[0], groups[1:]
        kept = set(premises)
        moved_out = {p for *_, group in rest for p in group}
        moved = self._take_calls(incident, lambda p: p not in moved_out)
        for other_level, other_node, group in rest:
            split = self._new_incident(
                other_level,
                other_node,
                "predicted",
                ts,  # type: ignore[arg-type]
                f"split from {incident.id}: a premise below has power",
            )
            split.reports = {p: incident.reports[p] for p in group}
            split.report_transformers = {self.topology.premise_transformer[p] for p in group}
            members = set(group)
            for call, premise in moved:
                if premise in members:
                    split.calls.append(call)
                    split.call_premises.append(premise)
            self._register(split)
            self._emit_predicted(split, ts)
        incident.reports = {p: ts for p, ts in incident.reports.items() if p in kept}
        self._move(incident, level, node, "a premise below has power")  # type: ignore[arg-type]

    def _explain(
        self, reports: dict[int, datetime], premises: list[int]
    ) -> list[tuple[str, int, list[int]]]:
        """Smallest set of assets covering ``premises`` with no energised premise below them."""
        level, node = lowest_common(self.topology, premises)
        if level == "transformer":
            return [(level, node, premises)]
        energised = self.energised_below.get(node)
        if energised is None or energised < min(reports[p] for p in premises):
            return [(level, node, premises)]
        by_branch: dict[tuple[str, int], list[int]] = {}
        for premise in premises:
            by_branch.setdefault(branch_of(self.topology, node, premise), []).append(premise)
        out: list[tuple[str, int, list[int]]] = []
        for group in by_branch.values():
            out.extend(self._explain(reports, group))
        return out

    # -- SCADA, restoration, planned work ------------------------------------------------------

    def _on_scada(self, scada: ScadaSignal) -> None:
        device = self.topology.device_index[scada.device]
        self._emit(
            ev.DeviceOperated(at=scada.ts, device=scada.device, state=scada.state, source="scada")
        )
        if scada.state == "closed":
            self._on_device_closed(scada.device, scada.ts, "scada")
            return
        incident = self.active_device.get(device)
        if incident is None:
            if self.pending_under.get(device):
                incident = self._absorb_below(device, "SCADA: device opened")
            else:
                incident = self._new_incident("device", device, "predicted", scada.ts, "SCADA trip")
                self._register(incident)
                self._emit_predicted(incident, scada.ts)
        self._confirm(incident, scada.ts, "scada")
        self._adopt_children(incident)

    def _confirm(self, incident: Incident, ts: datetime, by: str) -> None:
        if incident.status in ("confirmed", "dispatched"):
            return
        self._unregister(incident)
        incident.confirmed_by = by
        self._status(incident, "confirmed", ts)
        self._register(incident)
        self._emit(ev.OutageConfirmed(at=ts, incident=incident.id, device=incident.asset, by=by))

    def _adopt_children(self, parent: Incident) -> None:
        """Open incidents below a confirmed one become its nested children."""
        if parent.level != "device":
            return
        topo = self.topology
        for device in topo.devices_below(parent.node)[1:]:
            child = self.active_device.get(device)
            if child is not None and child.parent is None:
                child.parent = parent.id
        for transformer in topo.transformers_below(parent.node):
            child = self.active_transformer.get(transformer)
            if child is not None and child.parent is None:
                child.parent = parent.id

    def _on_device_closed(self, device_id: str, ts: datetime, source: str) -> None:
        topo = self.topology
        device = topo.device_index.get(device_id)
        if device is None:
            transformer = topo.transformer_index.get(device_id)
            incident = self.active_transformer.get(transformer) if transformer is not None else None
            if incident is not None:
                self._restore(incident, ts, f"{device_id} restored by {source}")
            return
        if source == "crew":
            self._emit(ev.DeviceOperated(at=ts, device=device_id, state="closed", source=source))
        incident = self.active_device.get(device)
        leftovers: dict[int, datetime] = {}
        leftover_calls: list[tuple[str, int]] = []
        if incident is None:
            incident, leftovers, leftover_calls = self._move_down_to(device)
        for below in list(self.pending_under.get(device, {}).values()):
            self._restore(below, ts, f"{device_id} closed by {source}")
        if incident is not None:
            self._restore(incident, ts, f"{device_id} closed by {source}")
        self._rehome(leftovers, leftover_calls, ts, "left over after a move down")

    def _move_down_to(
        self, device: int
    ) -> tuple[Incident | None, dict[int, datetime], list[tuple[str, int]]]:
        """A crew closed a device below a predicted incident: the outage was smaller.

        Returns the moved incident, and the reports and calls it no longer explains.
        """
        topo = self.topology
        for above in topo.device_chain[device][1:]:
            incident = self.active_device.get(above)
            if incident is None:
                continue
            if not incident.is_predicted:
                return None, {}, []

            def below(premise: int) -> bool:
                return device in topo.premise_chain(premise)

            outside = {p: ts for p, ts in incident.reports.items() if not below(p)}
            incident.reports = {p: ts for p, ts in incident.reports.items() if below(p)}
            calls = self._take_calls(incident, below)
            self._move(incident, "device", device, "crew found the device below open")
            return incident, outside, calls
        return None, {}, []

    def _restore(self, incident: Incident, ts: datetime, cause: str) -> None:
        if incident.status in ("restored", "closed", "merged", "cancelled", "partially_restored"):
            return
        self._unregister(incident)
        incident.restored_at = ts
        still_out = self._open_children(incident)
        if still_out:
            out = sum(child.customers for child in still_out)
            self._status(incident, "partially_restored", ts)
            self._emit(
                ev.OutagePartiallyRestored(
                    at=ts,
                    incident=incident.id,
                    device=incident.asset,
                    customers_restored=incident.customers - out,
                    customers_still_out=out,
                    still_out_incidents=tuple(c.id for c in still_out),
                )
            )
            return
        self._fully_restored(incident, ts, cause)
        if incident.parent is not None:
            parent = self.incidents[incident.parent]
            if parent.status == "partially_restored" and not self._open_children(parent):
                self._fully_restored(parent, ts, "last nested outage restored")

    def _fully_restored(self, incident: Incident, ts: datetime, cause: str) -> None:
        self._status(incident, "restored", ts)
        self._emit(
            ev.OutageRestored(
                at=ts,
                incident=incident.id,
                device=incident.asset,
                customers=incident.customers,
                cause=cause,
            )
        )
        close_at = ts + timedelta(minutes=self.prediction_rules.close_after_minutes)
        self._timer(close_at, "close", incident.id)

    def _open_children(self, incident: Incident) -> list[Incident]:
        return [i for i in self.incidents.values() if i.parent == incident.id and i.is_open]

    def _on_planned(self, planned: PlannedSignal) -> None:
        device = self.topology.device_index[planned.device]
        incident = self._new_incident(
            "device", device, "scheduled", planned.effective_ts, "planned work"
        )
        incident.planned, incident.planned_end, incident.reason = True, planned.end, planned.reason
        incident.started = planned.start
        self._emit(
            ev.PlannedOutageScheduled(
                at=planned.effective_ts,
                incident=incident.id,
                device=planned.device,
                start=planned.start,
                end=planned.end,
                reason=planned.reason,
                customers=incident.customers,
            )
        )
        self._timer(planned.start, "planned_start", incident.id)
        self._timer(planned.end, "planned_end", incident.id)

    # -- officer commands --------------------------------------------------------------------

    def _on_command(self, command: Command) -> None:
        ts, by = command.ts, command.by
        action = command.action
        if action == "rule_set":
            if command.rule_set is not None and command.rule_set != self.rule_set:
                self.rule_set = command.rule_set
                self._emit(ev.RuleSetChanged(at=ts, rule_set=self.rule_set))
            return
        assert command.incident is not None  # the Command validator requires it
        incident = self.incidents[command.incident]
        if action in ("confirm", "dispatch", "cancel") and not (
            incident.is_open or incident.status == "scheduled"
        ):
            raise CommandRejected(f"incident: {incident.id} is {incident.status}; cannot {action}")
        if action == "confirm":
            self._confirm(incident, ts, by)
        elif action == "dispatch":
            self._confirm(incident, ts, by)
            incident.crew = command.crew
            self._status(incident, "dispatched", ts)
            self._emit(
                ev.CrewDispatched(at=ts, incident=incident.id, crew=command.crew or "", by=by)
            )
        elif action == "set_etr":
            previous, incident.etr = incident.etr, command.etr
            self._emit(
                ev.EtrChanged(
                    at=ts, incident=incident.id, etr=command.etr, previous=previous, by=by
                )
            )
        elif action == "restore":
            if incident.level == "device":
                self._on_device_closed(incident.asset, ts, f"officer {by}")
            else:
                self._restore(incident, ts, f"restored by officer {by}")
        elif action == "cancel":
            self._unregister(incident)
            self._status(incident, "cancelled", ts)
            self._emit(
                ev.IncidentCancelled(
                    at=ts, incident=incident.id, reason=command.reason or "", by=by
                )
            )
        elif action == "merge":
            assert command.into is not None
            self._officer_merge(incident, self.incidents[command.into], by)
        elif action == "split":
            self._officer_split(incident, command.assets or (), ts, by)
        elif action == "close":
            if incident.status not in ("restored", "partially_restored"):
                raise CommandRejected(
                    f"incident: {incident.id} is {incident.status}; restore it first"
                )
            incident.closed_at = ts
            self._status(incident, "closed", ts)

    def _officer_merge(self, child: Incident, into: Incident, by: str) -> None:
        """Fold ``child`` into ``into``; when neither covers the other, ``into`` moves up to
        the lowest device above both (the officer knows they are one outage)."""
        if not child.is_predicted:
            raise CommandRejected(
                f"incident: {child.id} is {child.status}; only a prediction can be merged"
            )
        if not into.is_open:
            raise CommandRejected(f"into: {into.id} is {into.status}; it has no open outage")
        if not self._covers(into, child):
            if not into.is_predicted:
                raise CommandRejected(
                    f"into: {into.id} is {into.status} at {into.asset}, which does not feed "
                    f"{child.asset}; merge the other way or cancel one of them"
                )
            common = self._common_device(into, child)
            if common is None:
                raise CommandRejected(
                    f"into: {into.id} and {child.id} are on different feeders; no device "
                    "above both could be out"
                )
            self._move(into, "device", common, f"merged by officer {by}")
            for other in list(self.pending_under.get(common, {}).values()):
                if other is not child and other is not into:
                    self._merge(other, into)
        self._merge(child, into)
        into.pinned = True
        self._pin(into)

    def _officer_split(
        self, incident: Incident, assets: tuple[str, ...], ts: datetime, by: str
    ) -> None:
        """The officer says the outage is really at ``assets`` below the prediction.

        The ticket moves to the first asset (customers already quote its number), each other
        asset gets a new ticket, and reports below none of them start over at their transformer.
        """
        if not incident.is_predicted:
            raise CommandRejected(
                f"incident: {incident.id} is {incident.status}; only a prediction can be split"
            )
        topo = self.topology
        places: list[tuple[Level, int]] = []
        for asset in assets:
            level: Level = "device" if asset in topo.device_index else "transformer"
            node = topo.device_index[asset] if level == "device" else topo.transformer_index[asset]
            if not self._below(incident, level, node):
                raise CommandRejected(f"assets: {asset} is not below {incident.asset}")
            places.append((level, node))
        for a, (level_a, node_a) in enumerate(places):
            for level_b, node_b in places[a + 1 :]:
                if self._nested(level_a, node_a, level_b, node_b):
                    raise CommandRejected("assets: one asset lies below another; pick one of them")
        reports, calls = dict(incident.reports), self._take_calls(incident, lambda _p: False)
        incident.reports = {}
        cause = f"split from {incident.id} by officer {by}"
        targets: list[Incident] = []
        for number, (level, node) in enumerate(places):
            if number == 0:
                self._move(incident, level, node, cause)
                target = incident
            else:
                target = self._new_incident(level, node, "predicted", ts, cause)
                self._register(target)
                self._emit_predicted(target, ts)
            target.pinned = True
            self._pin(target)
            targets.append(target)
        for target in targets:

            def fed(premise: int, target: Incident = target) -> bool:
                return self._feeds(target, premise)

            target.reports = {p: t for p, t in reports.items() if fed(p)}
            target.report_transformers = {topo.premise_transformer[p] for p in target.reports}
            for call, premise in calls:
                if fed(premise):
                    target.calls.append(call)
                    target.call_premises.append(premise)
        covered = {p for target in targets for p in target.reports}
        left = {p: t for p, t in reports.items() if p not in covered}
        left_calls = [(c, p) for c, p in calls if p not in covered]
        self._rehome(left, left_calls, ts, cause)

    def _pin(self, incident: Incident) -> None:
        """Take an officer-placed incident out of the roll-up's candidates."""
        for device in self._devices_above(incident):
            pending = self.pending_under.get(device)
            if pending is not None:
                pending.pop(incident.id, None)

    def _feeds(self, incident: Incident, premise: int) -> bool:
        topo = self.topology
        transformer = topo.premise_transformer[premise]
        if incident.level == "transformer":
            return transformer == incident.node
        return incident.node in topo.premise_chain(premise)

    def _below(self, incident: Incident, level: Level, node: int) -> bool:
        """Whether asset (level, node) lies strictly below the incident's asset."""
        if incident.level != "device" or (level == "device" and node == incident.node):
            return False
        return self._nested(incident.level, incident.node, level, node)

    def _nested(self, level_a: Level, node_a: int, level_b: Level, node_b: int) -> bool:
        """Whether one of two assets lies below (or is) the other."""
        topo = self.topology

        def chain(level: Level, node: int) -> tuple[int, ...]:
            return topo.device_chain[node if level == "device" else topo.transformer_device[node]]

        if (level_a, node_a) == (level_b, node_b):
            return True
        if level_a == "device" and node_a in chain(level_b, node_b):
            return True
        return level_b == "device" and node_b in chain(level_a, node_a)

    def _covers(self, outer: Incident, inner: Incident) -> bool:
        return outer.level == "device" and self._below(outer, inner.level, inner.node)

    def _common_device(self, a: Incident, b: Incident) -> int | None:
        topo = self.topology

        def chain(incident: Incident) -> tuple[int, ...]:
            if incident.level == "device":
                return topo.device_chain[incident.node]
            return topo.device_chain[topo.transformer_device[incident.node]]

        other = set(chain(b))
        return next((device for device in chain(a) if device in other), None)

    def _rehome(
        self,
        reports: dict[int, datetime],
        calls: list[tuple[str, int]],
        ts: datetime,
        cause: str,
    ) -> None:
        """Reports and calls no incident explains any more start over from their transformer."""
        for premise in sorted(reports, key=reports.__getitem__):
            # As reports made now: those customers are still out.
            again = self.covering_incident(premise)
            if again is None:
                again = self._predict_transformer(premise, ts, cause)
            self._add_report(again, premise, ts)
        # Their calls follow them: a caller still out belongs to the incident still open.
        for call, premise in calls:
            holder = self.covering_incident(premise)
            if holder is None:
                holder = self._predict_transformer(premise, ts, cause)
            holder.calls.append(call)
            holder.call_premises.append(premise)

    # -- bookkeeping -------------------------------------------------------------------------

    def _asset(self, level: Level, node: int) -> tuple[str, int, int]:
        """Id, customers and feeder of a transformer or device number."""
        topo = self.topology
        if level == "device":
            return topo.device_ids[node], int(topo.device_customers[node]), topo.device_feeder[node]
        transformer = topo.transformer_ids[node]
        return transformer, int(topo.transformer_customers[node]), topo.transformer_feeder[node]

    def _new_incident(
        self, level: Level, node: int, status: str, ts: datetime, cause: str
    ) -> Incident:
        topo = self.topology
        asset, customers, feeder = self._asset(level, node)
        incident = Incident(
            id=self._next("INC"),
            level=level,
            node=node,
            asset=asset,
            status=status,
            started=ts,
            cause=cause,
            customers=customers,
            substation=topo.feeder_substation[feeder],
            feeder=feeder,
        )
        incident.timeline.append((status, ts))
        self.incidents[incident.id] = incident
        self._emit(ev.IncidentStatusChanged(at=ts, incident=incident.id, old=None, new=status))
        return incident

    def _emit_predicted(self, incident: Incident, ts: datetime) -> None:
        topo = self.topology
        self._emit(
            ev.OutagePredicted(
                at=ts,
                incident=incident.id,
                device=incident.asset,
                level=incident.level,
                customers=incident.customers,
                substation=topo.substation_ids[incident.substation],
                feeder=topo.feeder_ids[incident.feeder],
                cause=incident.cause,
            )
        )

    def _status(self, incident: Incident, new: str, ts: datetime) -> None:
        old = incident.status
        if new == old:
            return
        if new not in ALLOWED[old]:
            raise CommandRejected(f"incident: {incident.id} cannot go from {old} to {new}")
        incident.status = new
        incident.timeline.append((new, ts))
        self._emit(ev.IncidentStatusChanged(at=ts, incident=incident.id, old=old, new=new))

    def _devices_above(self, incident: Incident) -> tuple[int, ...]:
        topo = self.topology
        if incident.level == "device":
            return topo.device_chain[incident.node][1:]
        device = topo.transformer_device[incident.node]
        return topo.device_chain[device] if device != NO_DEVICE else ()

    def _register(self, incident: Incident) -> None:
        self._changed_at = self.now
        if not incident.is_open:
            return
        if incident.level == "device":
            self.active_device[incident.node] = incident
        else:
            self.active_transformer[incident.node] = incident
        if incident.is_predicted and not incident.pinned:
            for device in self._devices_above(incident):
                self.pending_under.setdefault(device, {})[incident.id] = incident

    def _unregister(self, incident: Incident) -> None:
        self._changed_at = self.now
        table = self.active_device if incident.level == "device" else self.active_transformer
        if table.get(incident.node) is incident:
            del table[incident.node]
        for device in self._devices_above(incident):
            pending = self.pending_under.get(device)
            if pending is not None:
                pending.pop(incident.id, None)

    def _next(self, prefix: str) -> str:
        self._seq[prefix] += 1
        return f"{prefix}-{self._seq[prefix]:06d}"

    def _emit(self, event: ev.Event) -> None:
        self._out.append(event)

    def _now(self) -> datetime:
        assert self.now is not None
        return self.now

    def _timer(self, at: datetime, action: str, incident: str) -> None:
        self._timer_seq += 1
        heapq.heappush(self._timers, (at, self._timer_seq, action, incident))

    def _advance(self, ts: datetime) -> None:
        """Move event time forward to ``ts``, running due timers and storm ticks in order."""
        if self.now is None:
            self.now = self.first_ts = ts
            self._next_storm_tick = ts
        while self._timers and self._timers[0][0] <= ts:
            at, _, action, incident_id = heapq.heappop(self._timers)
            self.now = max(self.now, at)
            self._run_timer(action, self.incidents[incident_id], at)
        if ts > self.now:
            self.now = ts
        assert self._next_storm_tick is not None
        if self.now >= self._next_storm_tick:
            self._evaluate_storm(self.now)
            self._next_storm_tick = self.now + STORM_TICK

    def _run_timer(self, action: str, incident: Incident, at: datetime) -> None:
        if action == "planned_start" and incident.status == "scheduled":
            self._status(incident, "confirmed", at)
            incident.confirmed_by = "planned"
            self._register(incident)
            self._adopt_children(incident)
            self._emit(
                ev.PlannedOutageStarted(
                    at=at, incident=incident.id, device=incident.asset, customers=incident.customers
                )
            )
        elif action == "planned_end" and incident.is_open:
            self._on_device_closed(incident.asset, at, "planned work complete")
        elif action == "close" and incident.status == "restored":
            incident.closed_at = at
            self._status(incident, "closed", at)

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
            self._emit(event)
        if self.storm.system_declared != was_storm:
            self.rule_set = "storm" if self.storm.system_declared else "normal"
            self._emit(ev.RuleSetChanged(at=now, rule_set=self.rule_set))
