"""One small function per signal kind and per officer command, looked up in a table.

Handlers get the engine (the unit of work: inference, registry, reconciler, storm detector) and
one message; everything they change goes out as domain events through the registry. Commands
are checked completely by `check_command` before any handler runs, so a refused command
(`CommandRejected`, answered 409 by the service) changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from grid.tree import common_device, covers, nested, strictly_below
from outage import events as ev
from outage.commands import GLOBAL_ACTIONS, Command
from outage.errors import CommandRejected
from outage.incidents import Incident, Status
from outage.inference.evidence import Report
from outage.registry import moment, seconds
from outage.signals import (
    CREW_BUSY,
    OUTAGE_KINDS,
    CallSignal,
    CrewSignal,
    FollowUpSignal,
    MeterSignal,
    PlannedSignal,
    RestoreSignal,
    ScadaSignal,
    Signal,
    TickSignal,
    WarningSignal,
)

if TYPE_CHECKING:
    from outage.engine import Engine


# -- signals ------------------------------------------------------------------------------------


def on_call(engine: Engine, call: CallSignal) -> None:
    """A trouble call: evidence for the inference, and a place on the outage that holds it."""
    engine.calls_received += 1
    registry = engine.registry
    resolution = engine.resolver.resolve(call, lambda p: engine.covering_incident(p) is not None)
    if resolution.premise is None:
        registry.unresolved_ticket(call.id, resolution.reason or "unresolved", call.ts)
        return
    premise = resolution.premise
    topo = engine.topology
    feeder = topo.transformer_feeder[topo.premise_transformer[premise]]
    engine.storm.observe_call(call.ts, topo.substation_ids[topo.feeder_substation[feeder]])
    at = seconds(call.ts)
    premise_id = topo.premise_ids[premise]
    hazard = call.is_hazard
    historical, owner = registry.epoch_owner(premise, at)
    if historical and owner is None and call.kind in OUTAGE_KINDS:
        owner = _late_outage(engine, premise, at, call.ts, f"{call.kind} call")
    if historical:
        # Made before a restoration that ended its outage: it belongs to that outage.
        if owner is not None:
            registry.attach(owner, call.id, premise, at, hazard, call.ts)
        elif not hazard:
            if call.kind in OUTAGE_KINDS:
                registry.add_unclaimed(premise, Report(at, call.id, call.kind))
            registry.service_ticket(
                call.id, call.kind, premise_id, "the meter showed power after this call", call.ts
            )
        if hazard:
            registry.hazard_ticket(call.id, call.kind, premise_id, owner, call.ts)
        return
    if call.kind in OUTAGE_KINDS and not hazard and engine.evidence.energised(premise, at):
        holder = engine.reconciler.holder(premise)
        if holder is not None:
            registry.attach(holder, call.id, premise, at, hazard, call.ts)
        else:
            registry.service_ticket(
                call.id,
                call.kind,
                premise_id,
                f"{call.kind} call but the meter shows power",
                call.ts,
            )
        return
    summary = engine.evidence.add(premise, Report(at, call.id, call.kind))
    flips = engine.tree.set_premise(premise, summary)
    engine.reconciler.apply(flips, f"{call.kind} call")
    engine.reconciler.rescope((engine.tree.premise_node(premise),))
    holder = engine.reconciler.holder(premise)
    if holder is not None:
        registry.attach(holder, call.id, premise, at, hazard, call.ts)
        engine.reconciler.rehome(premise)
    elif not hazard:
        reason = (
            "no outage explains this report yet"
            if call.kind in OUTAGE_KINDS
            else f"{call.kind} reported; no outage known here"
        )
        registry.service_ticket(call.id, call.kind, premise_id, reason, call.ts)
    if hazard:
        registry.hazard_ticket(call.id, call.kind, premise_id, holder, call.ts)


def _late_outage(
    engine: Engine, premise: int, at: int, when: datetime, cause: str
) -> Incident | None:
    """A report made before a crew restored an asset nobody had reported yet: that asset was
    the outage (it arrived late). Its incident is made now, restored when the crew said."""
    registry = engine.registry
    end = registry.epoch_end(premise, at)
    if end is None:
        return None
    reset_at, node, owner = end
    if node is None or owner != "":
        return None
    incident = registry.create(node, Status.PREDICTED, when, cause)
    registry.announce(incident, when)
    incident.restored_by = "crew"
    registry.adopt_reset(node, reset_at, incident.id)
    registry.restore(incident, moment(reset_at), "restored by crew before its reports arrived", [])
    return incident


def on_meter(engine: Engine, meter: MeterSignal) -> None:
    """A last gasp is strong evidence of an outage; "power restored" ends the premise's epoch."""
    registry, tree = engine.registry, engine.tree
    premise = engine.topology.premise_index[meter.premise]
    at = seconds(meter.ts)
    # The first meter message of a feeder makes its meters count (a premise that reports
    # without a last gasp is then a customer-side matter). A last gasp is weighed together
    # with that change: weighed apart, a premise that had called before its own late gasp
    # would lose its ticket for an instant and get a new one — a ticket the time-sorted
    # arrival never had.
    known = tree.meters_report(premise)  # (once per feeder)
    if meter.event == "last_gasp":
        historical, owner = registry.epoch_owner(premise, at)
        if historical:
            if known:
                engine.reconciler.apply(known, "meters report on this feeder")
            if owner is None:
                # As for a late call: the asset a crew restored before anybody reported it
                # was this outage, and the gasp dates it (arriving first, or after the call).
                owner = _late_outage(engine, premise, at, meter.ts, "meter last gasp")
            if owner is not None:
                _count_meter(owner, at)
            else:
                registry.add_unclaimed(premise, Report(at, meter.id, "last_gasp"))
            return
        summary = engine.evidence.add(premise, Report(at, meter.id, "last_gasp"))
        flips = known + tree.set_premise(premise, summary)
        if flips:
            engine.reconciler.apply(flips, "meter last gasp")
        engine.reconciler.rescope((tree.premise_node(premise),))
        holder = engine.reconciler.holder(premise)
        if holder is not None:
            _count_meter(holder, at)
        return
    if known:
        engine.reconciler.apply(known, "meters report on this feeder")
    holder = engine.reconciler.holder(premise)
    if holder is not None:
        holder.meter_events += 1
    gone, summary = engine.evidence.came_back(premise, at)
    if holder is None and engine.evidence.was_back(premise, at):
        _earlier_meter_restore(engine, premise, at)
    if holder is None:
        # Reports nobody's outage held (and late ones still to come): a crew restoration
        # above may yet claim them.
        registry.hold_unclaimed(premise, at, gone)
    registry.record_reset(None, premise, at, holder.id if holder is not None else "")
    flips = tree.power_restored(premise, at, summary)
    if flips:
        engine.reconciler.apply(flips, "a meter shows power")
    engine.reconciler.rescope((tree.premise_node(premise),))


def _earlier_meter_restore(engine: Engine, premise: int, at: int) -> None:
    """A late "power restored" for an outage the meters already ended: it ended then."""
    registry = engine.registry
    historical, owner = registry.epoch_owner(premise, at)
    if (
        historical
        and owner is not None
        and owner.restored_by == "meters"
        and owner.restored_at is not None
        and owner.started <= moment(at) < owner.restored_at
    ):
        owner.restored_at = moment(at)
        owner.meter_events += 1


def _count_meter(incident: Incident, at: int) -> None:
    incident.meter_events += 1
    incident.origin_at = at if incident.origin_at is None else min(incident.origin_at, at)
    when = moment(at)
    if when < incident.started:
        incident.started = when  # a last gasp that arrived late still dates the outage


def on_scada(engine: Engine, scada: ScadaSignal) -> None:
    """SCADA is a fact: open confirms an outage below the device, closed ends it."""
    engine.emit(
        ev.DeviceOperated(at=scada.ts, device=scada.device, state=scada.state, source="scada")
    )
    node = engine.topology.device_index[scada.device]
    if scada.state == "closed":
        engine.reconciler.restore(node, scada.ts, f"{scada.device} closed by scada")
        return
    incident = _take_over(engine, node, scada.ts, "SCADA trip", "SCADA: device opened")
    incident.origin_at = (
        seconds(scada.ts)
        if incident.origin_at is None
        else min(incident.origin_at, seconds(scada.ts))
    )
    engine.reconciler.force(incident, "SCADA trip")
    _confirm(engine, incident, scada.ts, "scada")


def _take_over(engine: Engine, node: int, at: datetime, cause: str, reason: str) -> Incident:
    """The incident that a fact at ``node`` makes: the one there, else the earliest prediction
    below it (moved up), else a new one."""
    registry, tree = engine.registry, engine.tree
    incident = registry.open_at.get(node)
    if incident is not None:
        return incident
    below = sorted(
        (
            i
            for v, i in registry.open_on(tree.root(node)).items()
            if not i.forced and tree.is_below(v, node)
        ),
        key=lambda i: (i.started, i.id),
    )
    if below:
        registry.move(below[0], node, at, reason)
        return below[0]
    incident = registry.create(node, Status.PREDICTED, at, cause)
    registry.announce(incident, at)
    return incident


def on_restore(engine: Engine, restore: RestoreSignal) -> None:
    """A crew closed a device or re-fused a transformer."""
    topo = engine.topology
    device = topo.device_index.get(restore.device)
    if device is not None:
        engine.emit(
            ev.DeviceOperated(at=restore.ts, device=restore.device, state="closed", source="crew")
        )
        engine.reconciler.restore(device, restore.ts, f"{restore.device} closed by crew")
        return
    node = engine.tree.transformer_node(topo.transformer_index[restore.device])
    engine.reconciler.restore(node, restore.ts, f"{restore.device} restored by crew")


def on_planned(engine: Engine, planned: PlannedSignal) -> None:
    """Planned work: a scheduled incident that opens and closes on event-time timers."""
    registry = engine.registry
    node = engine.topology.device_index[planned.device]
    incident = registry.create(node, Status.SCHEDULED, planned.effective_ts, "planned work")
    incident.planned, incident.planned_end, incident.reason = True, planned.end, planned.reason
    incident.started = planned.start
    engine.emit(
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
    engine.timers.schedule(planned.start, "planned_start", incident.id)
    engine.timers.schedule(planned.end, "planned_end", incident.id)


def on_warning(engine: Engine, warning: WarningSignal) -> None:
    """A weather warning: for the playbooks."""
    engine.emit(
        ev.WarningIssued(
            at=warning.ts,
            signal=warning.id,
            kind=warning.kind,
            level=warning.level,
            area=warning.area,
            until=warning.until,
        )
    )


def on_crew(engine: Engine, crew: CrewSignal) -> None:
    """A crew's report: a new job dispatches it (as an officer's dispatch would), then its
    step, position, ETR or cause goes to the restoration desk."""
    desk = engine.restoration
    if crew.incident is not None and crew.status in CREW_BUSY:
        incident = desk.live(engine.incidents[crew.incident])
        order = desk.order_for(incident.id)
        state = desk.crews.get(crew.crew)
        working_it = (
            state is not None
            and state.order is not None
            and (order is not None and state.order == order.id)
        )
        if incident.is_open and not working_it:
            _dispatch(engine, incident, crew.crew, crew.ts, crew.crew)
    desk.on_crew(crew)


def on_followup(engine: Engine, answer: FollowUpSignal) -> None:
    """A follow-up answer: recorded for the incident it names (or, without one, the
    customer's latest restored outage still waiting for an answer)."""
    desk = engine.restoration
    incident = desk.followup_incident(answer)
    topo = engine.topology

    def prefer(premise: int) -> bool:
        if incident is None:
            return topo.premise_ids[premise] in desk.pending_followup
        transformer = topo.premise_transformer[premise]
        if incident.level == "transformer":
            return transformer == incident.node
        return incident.node in topo.premise_chain(premise)

    found = engine.resolver.identify(
        prefer, premise=answer.premise, account=answer.account, phone=answer.phone
    )
    if found.premise is None:
        field = "premise" if answer.premise else "account" if answer.account else "phone"
        engine.rejected.append({"signal": answer.id, "reason": f"{field}: {found.reason}"})
        return
    premise = topo.premise_ids[found.premise]
    if incident is None:
        pending = desk.pending_followup.get(premise)
        if pending is None:
            reason = f"incident: no follow-up is pending for premise {premise!r}; name the incident"
            engine.rejected.append({"signal": answer.id, "reason": reason})
            return
        incident = engine.incidents[pending]
    desk.on_followup(answer, incident, premise)


def on_tick(engine: Engine, tick: TickSignal) -> None:
    """The service clock: event time has already moved on to the tick (timers ran)."""


SIGNAL_HANDLERS: dict[type, Callable[[Engine, Signal], None]] = {
    CallSignal: on_call,  # type: ignore[dict-item]
    MeterSignal: on_meter,  # type: ignore[dict-item]
    ScadaSignal: on_scada,  # type: ignore[dict-item]
    RestoreSignal: on_restore,  # type: ignore[dict-item]
    PlannedSignal: on_planned,  # type: ignore[dict-item]
    WarningSignal: on_warning,  # type: ignore[dict-item]
    CrewSignal: on_crew,  # type: ignore[dict-item]
    FollowUpSignal: on_followup,  # type: ignore[dict-item]
    TickSignal: on_tick,  # type: ignore[dict-item]
}


def handle_signal(engine: Engine, signal: Signal) -> None:
    """Dispatch a signal to its handler."""
    SIGNAL_HANDLERS[type(signal)](engine, signal)


# -- timers -------------------------------------------------------------------------------------


def run_timer(engine: Engine, action: str, incident: Incident, at: datetime) -> None:
    """Planned work starts or ends; a restored incident auto-closes."""
    registry = engine.registry
    if action == "planned_start" and incident.status == Status.SCHEDULED:
        node = registry.node_of(incident)
        existing = registry.open_at.get(node)
        if existing is not None:
            registry.merge(existing, incident, at)
        registry.set_status(incident, Status.CONFIRMED, at)
        incident.confirmed_by = "planned"
        incident.origin_at = seconds(at)
        engine.reconciler.force(incident, "planned work")
        engine.emit(
            ev.PlannedOutageStarted(
                at=at, incident=incident.id, device=incident.asset, customers=incident.customers
            )
        )
    elif action == "planned_end" and incident.is_open:
        engine.reconciler.restore(registry.node_of(incident), at, "planned work complete")
    elif action == "close" and incident.status == Status.RESTORED:
        incident.closed_at = at
        registry.set_status(incident, Status.CLOSED, at)


# -- officer commands ---------------------------------------------------------------------------


def check_command(engine: Engine, command: Command) -> None:
    """Raise `CommandRejected` (naming the field) when the command cannot be carried out."""
    if command.action in GLOBAL_ACTIONS:
        return
    assert command.incident is not None  # the Command validator requires it
    incident = engine.incidents[command.incident]
    action = command.action
    if action in ("confirm", "dispatch", "cancel") and not (
        incident.is_open or incident.status == Status.SCHEDULED
    ):
        raise CommandRejected(f"incident: {incident.id} is {incident.status}; cannot {action}")
    if action == "close" and incident.status not in (Status.RESTORED, Status.PARTIALLY_RESTORED):
        raise CommandRejected(f"incident: {incident.id} is {incident.status}; restore it first")
    if action == "dispatch":
        engine.restoration.check_dispatch(command.crew or "", incident)
    if action == "merge":
        _check_merge(engine, incident, engine.incidents[command.into or ""])
    if action == "split":
        _check_split(engine, incident, command.assets or ())


def _asset(incident: Incident) -> tuple[str, int]:
    return incident.level, incident.node


def _check_merge(engine: Engine, child: Incident, into: Incident) -> None:
    if child.status != Status.PREDICTED or (child.forced and not child.pinned):
        raise CommandRejected(
            f"incident: {child.id} is {child.status}; only a prediction can be merged"
        )
    if not into.is_open:
        raise CommandRejected(f"into: {into.id} is {into.status}; it has no open outage")
    topo = engine.topology
    if covers(topo, _asset(into), _asset(child)):  # type: ignore[arg-type]
        return
    if into.status != Status.PREDICTED or (into.forced and not into.pinned):
        raise CommandRejected(
            f"into: {into.id} is {into.status} at {into.asset}, which does not feed "
            f"{child.asset}; merge the other way or cancel one of them"
        )
    if common_device(topo, [_asset(into), _asset(child)]) is None:  # type: ignore[list-item]
        raise CommandRejected(
            f"into: {into.id} and {child.id} are on different feeders; no device "
            "above both could be out"
        )


def _places(engine: Engine, assets: tuple[str, ...]) -> list[tuple[str, int]]:
    topo = engine.topology
    return [
        ("device", topo.device_index[a])
        if a in topo.device_index
        else ("transformer", topo.transformer_index[a])
        for a in assets
    ]


def _check_split(engine: Engine, incident: Incident, assets: tuple[str, ...]) -> None:
    if not incident.is_predicted:
        raise CommandRejected(
            f"incident: {incident.id} is {incident.status}; only a prediction can be split"
        )
    topo = engine.topology
    places = _places(engine, assets)
    for asset, place in zip(assets, places, strict=True):
        if not strictly_below(topo, place, _asset(incident)):  # type: ignore[arg-type]
            raise CommandRejected(f"assets: {asset} is not below {incident.asset}")
    for a, place_a in enumerate(places):
        for place_b in places[a + 1 :]:
            if nested(topo, place_a, place_b):  # type: ignore[arg-type]
                raise CommandRejected("assets: one asset lies below another; pick one of them")


def handle_command(engine: Engine, command: Command) -> None:
    """Dispatch a checked command to its handler."""
    if command.action == "rule_set":
        if command.rule_set is not None:
            engine.set_rule_set(command.rule_set, command.ts)
        return
    if command.action == "storm":
        reason = command.reason or f"declared by {command.by}"
        engine.declare_storm(command.storm == "declare", command.ts, reason)
        return
    assert command.incident is not None
    COMMAND_HANDLERS[command.action](engine, command, engine.incidents[command.incident])


def _confirm(engine: Engine, incident: Incident, at: datetime, by: str) -> None:
    if incident.status in (Status.CONFIRMED, Status.DISPATCHED):
        return
    if not incident.forced:
        engine.reconciler.force(incident, f"confirmed by {by}")
    incident.confirmed_by = by
    engine.registry.set_status(incident, Status.CONFIRMED, at)
    engine.emit(ev.OutageConfirmed(at=at, incident=incident.id, device=incident.asset, by=by))


def confirm(engine: Engine, command: Command, incident: Incident) -> None:
    """The officer confirms the outage is where predicted: it becomes a fact."""
    _confirm(engine, incident, command.ts, command.by)


def dispatch(engine: Engine, command: Command, incident: Incident) -> None:
    """A crew goes (which confirms the outage)."""
    _dispatch(engine, incident, command.crew or "", command.ts, command.by)


def _dispatch(engine: Engine, incident: Incident, crew: str, at: datetime, by: str) -> None:
    _confirm(engine, incident, at, by)
    incident.crew = crew
    engine.registry.set_status(incident, Status.DISPATCHED, at)
    engine.emit(ev.CrewDispatched(at=at, incident=incident.id, crew=crew, by=by))
    engine.restoration.assign(crew, incident, at, by)


def set_etr(engine: Engine, command: Command, incident: Incident) -> None:
    """The officer's ETR (the same one again changes nothing); no estimate replaces it."""
    if command.etr == incident.etr and incident.etr_source == "officer":
        return
    previous, incident.etr = incident.etr, command.etr
    engine.restoration.given_etr(incident, "officer")
    engine.emit(
        ev.EtrChanged(
            at=command.ts,
            incident=incident.id,
            etr=command.etr,
            previous=previous,
            by=command.by,
            source="officer",
        )
    )


def restore(engine: Engine, command: Command, incident: Incident) -> None:
    """The officer says power is back at the incident's asset."""
    if not incident.is_open:
        return
    node = engine.registry.node_of(incident)
    if incident.level == "device":
        cause = f"{incident.asset} closed by officer {command.by}"
    else:
        cause = f"restored by officer {command.by}"
    engine.reconciler.restore(node, command.ts, cause)


def cancel(engine: Engine, command: Command, incident: Incident) -> None:
    """A wrong prediction: withdrawn, and the reports it held start over."""
    registry, reconciler = engine.registry, engine.reconciler
    if incident.status == Status.SCHEDULED:
        registry.cancel(incident, command.ts, command.reason or "", command.by)
        return
    node = registry.node_of(incident)
    keep = [
        registry.node_of(i)
        for v, i in registry.open_on(engine.tree.root(node)).items()
        if i is not incident and i.forced and engine.tree.is_below(v, node)
    ]
    flips: list[int] = []
    if incident.forced:
        flips += engine.tree.force(node, False)
    flips += engine.tree.set_shown(node, False)
    flips += reconciler.end_epoch(node, seconds(command.ts), incident, keep)
    registry.cancel(incident, command.ts, command.reason or "", command.by)
    reconciler.apply([*flips, node], "after a cancellation")


def merge(engine: Engine, command: Command, child: Incident) -> None:
    """The officer knows two predictions are one outage."""
    registry, topo = engine.registry, engine.topology
    into = engine.incidents[command.into or ""]
    by = command.by
    if not covers(topo, _asset(into), _asset(child)):  # type: ignore[arg-type]
        common = common_device(topo, [_asset(into), _asset(child)])  # type: ignore[list-item]
        assert common is not None  # checked
        if into.forced:  # a pinned prediction moves: its old place is no longer held open
            engine.tree.force(registry.node_of(into), False)
        registry.move(into, common, command.ts, f"merged by officer {by}")
    child_node = registry.node_of(child)
    engine.tree.set_shown(child_node, False)
    if child.forced:  # a pinned prediction: the officer now says it is part of ``into``
        engine.tree.force(child_node, False)
    registry.merge(child, into, command.ts)
    into.pinned = True
    engine.reconciler.force(into, f"merged by officer {by}")


def split(engine: Engine, command: Command, incident: Incident) -> None:
    """The officer says the outage is really at these assets below the prediction."""
    registry, tree, reconciler = engine.registry, engine.tree, engine.reconciler
    by = command.by
    original = registry.node_of(incident)
    flips = tree.set_shown(original, False)
    flips += tree.set_veto(original, True)
    reconciler.vetoed.add(original)
    places = [
        tree.node_of(level, number) for level, number in _places(engine, command.assets or ())
    ]
    cause = f"split from {incident.id} by officer {by}"
    registry.move(incident, places[0], command.ts, cause)
    targets = [incident]
    for place in places[1:]:
        new = registry.create(place, Status.PREDICTED, command.ts, cause)
        registry.announce(new, command.ts)
        targets.append(new)
    for target in targets:
        target.pinned = True
        reconciler.force(target, cause)
    reconciler.apply([*flips, original], cause)
    for premise in list(tree.premises_below(original)):
        reconciler.rehome(premise)


def close(engine: Engine, command: Command, incident: Incident) -> None:
    """The officer closes a restored incident."""
    incident.closed_at = command.ts
    engine.registry.set_status(incident, Status.CLOSED, command.ts)


COMMAND_HANDLERS: dict[str, Callable[[Engine, Command, Incident], None]] = {
    "confirm": confirm,
    "dispatch": dispatch,
    "set_etr": set_etr,
    "restore": restore,
    "cancel": cancel,
    "merge": merge,
    "split": split,
    "close": close,
}
