"""The incident registry: tickets, their calls and their lifecycle, as domain events.

The registry is the aggregate the engine changes: it numbers incidents and tickets, moves them
through the lifecycle of `outage.incidents` (refusing transitions it forbids), holds every call
on exactly one incident or ticket, and emits one domain event per change. It decides nothing
about *where* outages are — `outage.reconcile` tells it, from the inference — so every rule here
is bookkeeping: the earliest ticket survives a merge, a call attaches to the outage that held
its premise when it was made, a restored incident owns the reports its restoration ended.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NotRequired, TypedDict

from grid.topology import Topology
from outage import events as ev
from outage.errors import CommandRejected
from outage.incidents import ALLOWED, HeldCall, Incident, Level, Status
from outage.inference.evidence import Report

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: How long unclaimed meter resets wait for a crew's report (`outage.reconcile.LATENESS`).
UNCLAIMED_SECONDS = 30 * 60


def seconds(moment: datetime) -> int:
    """Epoch seconds of an aware datetime (the inference's clock)."""
    return int((moment - EPOCH).total_seconds())


def moment(epoch_seconds: int) -> datetime:
    """The aware UTC datetime of epoch seconds."""
    return EPOCH + timedelta(seconds=epoch_seconds)


class Ticket(TypedDict):
    """A hazard ticket (wire down, fire: high priority, linked to the outage it is in) or a
    service ticket (a call no outage explains: normal priority)."""

    ticket: str
    kind: str
    call: str
    premise: str
    incident: str | None
    priority: Literal["high", "normal"]
    at: datetime
    reason: NotRequired[str]  # service tickets: why no outage explains the call


class IncidentRegistry:
    """Incidents, tickets and the calls they hold (see the module docstring)."""

    def __init__(
        self, topology: Topology, emit: Callable[[ev.Event], None], scope: str | None = None
    ) -> None:
        self.topology = topology
        #: Put in every id (``INC-<scope>-000001``) so ids of several engines never collide.
        self.scope = scope
        self.emit = emit
        self.devices = len(topology.device_ids)
        self.incidents: dict[str, Incident] = {}
        self.tickets: list[Ticket] = []
        self.unresolved: list[dict[str, Any]] = []
        #: Open incidents (predicted, confirmed, dispatched) by the tree node of their asset.
        self.open_at: dict[int, Incident] = {}
        #: Feeder-head node -> nodes in `open_at` on that feeder.
        self.by_root: dict[int, set[int]] = {}
        #: Resets by node: (time, incident) sorted — a restoration or cancellation at that asset
        #: ended the evidence epoch of the premises below it and the incident owns it.
        self.history: dict[int, list[tuple[int, str]]] = {}
        #: Resets of one premise by its own meter ("power restored"): (time, incident).
        self.premise_history: dict[int, list[tuple[int, str]]] = {}
        #: Outage reports whose epoch a premise's own meter ended ("power restored") while no
        #: incident held them: premise -> (reset time, the reports). A crew restoration above
        #: within the lateness bound claims them (the two reports of one restoration, in
        #: either order). Only premises with reports: a crew restoration scans it.
        self.unclaimed: dict[int, tuple[int, list[Report]]] = {}
        #: Every such ownerless meter reset, premise -> time, in arrival order: a report made
        #: before it that arrives later joins `unclaimed` (`add_unclaimed`).
        self._meter_resets: dict[int, int] = {}
        #: Call id -> the incident holding it.
        self.where: dict[str, str] = {}
        #: Feeder-head node -> the latest reset on that feeder (a quick "current epoch" test).
        self._latest_reset: dict[int, int] = {}
        #: Incidents created while handling the current signal (its calls open them).
        self.fresh: set[str] = set()
        self._seq = {"INC": 0, "TKT": 0}

    # -- numbering and lookup -----------------------------------------------------------------

    def next_id(self, prefix: str) -> str:
        """The next incident (``INC``) or ticket (``TKT``) number."""
        self._seq[prefix] += 1
        if self.scope is not None:
            return f"{prefix}-{self.scope}-{self._seq[prefix]:06d}"
        return f"{prefix}-{self._seq[prefix]:06d}"

    def node_of(self, incident: Incident) -> int:
        """The inference tree node of an incident's asset."""
        return incident.node if incident.level == "device" else self.devices + incident.node

    def asset_of(self, node: int) -> tuple[Level, int]:
        """(level, number) of a tree node."""
        if node < self.devices:
            return "device", node
        return "transformer", node - self.devices

    def open_incidents(self) -> Iterator[Incident]:
        """Open incidents, by node."""
        return iter(self.open_at.values())

    # -- lifecycle ------------------------------------------------------------------------------

    def create(
        self, node: int, status: Status, at: datetime, cause: str, premise: int | None = None
    ) -> Incident:
        """A new incident at ``node`` (registered as open when ``status`` is open); with
        ``premise``, only that premise's own service under the transformer ``node``."""
        level, number = self.asset_of(node)
        asset, customers, feeder = self._asset(level, number, premise)
        incident = Incident(
            id=self.next_id("INC"),
            level=level,
            node=number,
            asset=asset,
            status=status,
            started=at,
            cause=cause,
            customers=customers,
            substation=self.topology.feeder_substation[feeder],
            feeder=feeder,
            premise=premise,
        )
        incident.timeline.append((status, at))
        self.incidents[incident.id] = incident
        self.fresh.add(incident.id)
        self.emit(ev.IncidentStatusChanged(at=at, incident=incident.id, old=None, new=status))
        if incident.is_open:
            self._register(node, incident)
        return incident

    def announce(self, incident: Incident, at: datetime) -> None:
        """Emit ``OutagePredicted`` for a new incident (where it is and whom it affects)."""
        topo = self.topology
        self.emit(
            ev.OutagePredicted(
                at=at,
                incident=incident.id,
                device=incident.asset,
                level=incident.level,
                customers=incident.customers,
                substation=topo.substation_ids[incident.substation],
                feeder=topo.feeder_ids[incident.feeder],
                cause=incident.cause,
                premise=self.premise_id(incident.premise),
            )
        )

    def premise_id(self, premise: int | None) -> str | None:
        """The id of a premise number (None stays None)."""
        return None if premise is None else self.topology.premise_ids[premise]

    def move(
        self,
        incident: Incident,
        node: int,
        at: datetime,
        reason: str,
        premise: int | None = None,
    ) -> None:
        """The incident's outage is really at ``node`` (with ``premise``: that premise's own
        service under the transformer ``node``): the ticket moves there."""
        before = incident.asset, incident.premise
        self._unregister(self.node_of(incident), incident)
        level, number = self.asset_of(node)
        incident.level, incident.node = level, number
        incident.asset, incident.customers, incident.feeder = self._asset(level, number, premise)
        incident.premise = premise
        incident.substation = self.topology.feeder_substation[incident.feeder]
        if incident.is_open:
            self._register(node, incident)
        if before != (incident.asset, incident.premise):
            self.emit(
                ev.PredictionMoved(
                    at=at,
                    incident=incident.id,
                    from_device=before[0],
                    to_device=incident.asset,
                    customers=incident.customers,
                    reason=reason,
                    premise=self.premise_id(premise),
                )
            )

    def merge(self, child: Incident, into: Incident, at: datetime) -> None:
        """Fold ``child`` into ``into``: its calls and history go with it."""
        self._unregister(self.node_of(child), child)
        for call, held in child.held.items():
            into.held[call] = held
            self.where[call] = into.id
        child.held = {}
        into.meter_events += child.meter_events
        if child.origin_at is not None:
            into.origin_at = min(into.origin_at or child.origin_at, child.origin_at)
        into.started = min(into.started, child.started)
        child.merged_into = into.id
        self.set_status(child, Status.MERGED, at)
        self.emit(ev.IncidentMerged(at=at, incident=child.id, into=into.id))

    def set_status(self, incident: Incident, new: Status, at: datetime) -> None:
        """Move the incident through its lifecycle (`CommandRejected` when not allowed)."""
        old = incident.status
        if new == old:
            return
        if new not in ALLOWED[old]:
            raise CommandRejected(f"incident: {incident.id} cannot go from {old} to {new}")
        incident.status = new
        incident.timeline.append((new, at))
        node = self.node_of(incident)
        if incident.is_open:
            self._register(node, incident)
        else:
            self._unregister(node, incident)
        self.emit(ev.IncidentStatusChanged(at=at, incident=incident.id, old=old, new=new))

    def restore(
        self, incident: Incident, at: datetime, cause: str, still_out: list[Incident]
    ) -> None:
        """The incident's asset is closed again: restored, or partially while nested outages
        below it stay open."""
        incident.restored_at = at
        incident.forced = False
        if still_out:
            out = sum(child.customers for child in still_out)
            for child in still_out:
                child.parent = incident.id
            self.set_status(incident, Status.PARTIALLY_RESTORED, at)
            self.emit(
                ev.OutagePartiallyRestored(
                    at=at,
                    incident=incident.id,
                    device=incident.asset,
                    customers_restored=incident.customers - out,
                    customers_still_out=out,
                    still_out_incidents=tuple(c.id for c in still_out),
                )
            )
            return
        self._fully_restored(incident, at, cause)
        if incident.parent is not None:
            parent = self.incidents[incident.parent]
            if parent.status == Status.PARTIALLY_RESTORED and not self.open_children(parent):
                self._fully_restored(parent, at, "last nested outage restored")

    def withdraw(self, incident: Incident) -> None:
        """Take a prediction off the open set without an event (`Reconciler.withdrawn`: it is
        cancelled or reinstated before the message is done)."""
        self._unregister(self.node_of(incident), incident)

    def reinstate(
        self, incident: Incident, node: int, at: datetime, premise: int | None = None
    ) -> None:
        """Put a withdrawn prediction back on the open set, at ``node`` (a premise's service
        drop with ``premise``): nothing was announced, so only a change of scope is (`move`
        registers it at ``node``)."""
        self.move(incident, node, at, "made again by the same message", premise)

    def cancel(self, incident: Incident, at: datetime, reason: str, by: str) -> None:
        """Withdraw the incident (a wrong prediction, or no longer explained)."""
        incident.forced = False
        self.set_status(incident, Status.CANCELLED, at)
        self.emit(ev.IncidentCancelled(at=at, incident=incident.id, reason=reason, by=by))

    def open_children(self, incident: Incident) -> list[Incident]:
        """Open incidents nested below ``incident``."""
        return [i for i in self.incidents.values() if i.parent == incident.id and i.is_open]

    def _fully_restored(self, incident: Incident, at: datetime, cause: str) -> None:
        self.set_status(incident, Status.RESTORED, at)
        self.emit(
            ev.OutageRestored(
                at=at,
                incident=incident.id,
                device=incident.asset,
                customers=incident.customers,
                cause=cause,
            )
        )

    # -- calls --------------------------------------------------------------------------------

    def attach(
        self, incident: Incident, call: str, premise: int, at: int, hazard: bool, when: datetime
    ) -> None:
        """A new call joins ``incident`` (``CallAttached``; suppressed unless it opened it)."""
        incident.held[call] = HeldCall(premise, at, hazard)
        self.where[call] = incident.id
        if when < incident.started:
            incident.started = when
        suppressed = not hazard and incident.id not in self.fresh
        self.emit(
            ev.CallAttached(
                at=when,
                incident=incident.id,
                call=call,
                premise=self.topology.premise_ids[premise],
                suppressed=suppressed,
            )
        )

    def place(self, premise: int, calls: Iterable[tuple[str, int, bool]], to: Incident) -> None:
        """Calls of ``premise`` (id, time, hazard) already attached somewhere now belong to
        ``to`` (the inference moved their outage, or a restoration took them into history)."""
        for call, at, hazard in calls:
            home = self.where.get(call)
            if home == to.id:
                continue
            if home is not None:
                self.incidents[home].held.pop(call, None)
            to.held[call] = HeldCall(premise, at, hazard)
            self.where[call] = to.id
            if at < seconds(to.started):
                to.started = moment(at)

    def record_reset(self, node: int | None, premise: int | None, at: int, owner: str) -> None:
        """An epoch ended at ``at`` (at a node, or for one premise) and ``owner`` holds it."""
        if node is not None:
            insort(self.history.setdefault(node, []), (at, owner))
            root = self.root_of(node)
            self._latest_reset[root] = max(self._latest_reset.get(root, at), at)
        if premise is not None:
            insort(self.premise_history.setdefault(premise, []), (at, owner))

    def _chain(self, premise: int) -> list[int]:
        topo = self.topology
        transformer = topo.premise_transformer[premise]
        return [
            self.devices + transformer,
            *topo.device_chain[topo.transformer_device[transformer]],
        ]

    def epoch_owner(self, premise: int, at: int) -> tuple[bool, Incident | None]:
        """Is a report made at ``at`` history (a later reset ended its epoch), and which
        incident owns it: the first reset at or after ``at`` on the premise's chain (outermost
        on a tie). ``(False, None)`` for a report of the current epoch; an owner of None means
        the premise's meter showed power after it and no known outage held it."""
        found = self.epoch_end(premise, at)
        if found is None:
            return False, None
        return True, self.incidents.get(found[2])

    def epoch_end(self, premise: int, at: int) -> tuple[int, int | None, str] | None:
        """The reset that ended the epoch of a report made at ``at``: (time, node or None for
        the premise's own meter, owner id — "" when nothing known was out), or None."""
        topo = self.topology
        root = topo.device_chain[topo.transformer_device[topo.premise_transformer[premise]]][-1]
        own = self.premise_history.get(premise)
        if at > self._latest_reset.get(root, -1) and (not own or at > own[-1][0]):
            return None  # after every reset on its feeder: the current epoch (most reports)
        best: tuple[int, int, int | None, str] | None = None
        for rank, node in enumerate(self._chain(premise)):
            for reset_at, owner in self.history.get(node, ()):
                if reset_at >= at and (best is None or (reset_at, -rank) < best[:2]):
                    best = (reset_at, -rank, node, owner)
        for reset_at, owner in self.premise_history.get(premise, ()):
            if reset_at >= at and (best is None or (reset_at, 1) < best[:2]):
                best = (reset_at, 1, None, owner)
        if best is None:
            return None
        return best[0], best[2], best[3]

    def adopt_reset(self, node: int, at: int, owner: str) -> None:
        """An ownerless reset at ``node`` (a crew restored what nobody had reported) now
        belongs to ``owner``: late reports showed what was out."""
        _adopt(self.history.get(node, []), at, owner)

    def hold_unclaimed(self, premise: int, at: int, reports: list[Report]) -> None:
        """Keep the reports a premise's meter ended at ``at`` with no outage holding them
        (see `unclaimed`). Resets are kept in the order they came (a premise's newer one goes
        to the end), so the ones past twice the lateness bound are dropped from the front:
        constant work per meter message, whatever the storm's size."""
        resets, unclaimed = self._meter_resets, self.unclaimed
        resets.pop(premise, None)
        horizon = at - 2 * UNCLAIMED_SECONDS
        while resets:
            oldest = next(iter(resets))
            if resets[oldest] >= horizon:
                break
            del resets[oldest]
            unclaimed.pop(oldest, None)
        resets[premise] = at
        if reports:
            unclaimed[premise] = (at, list(reports))
        else:
            unclaimed.pop(premise, None)

    def claimed(self, premise: int) -> None:
        """A crew restoration took the premise's unclaimed reports (and its reset)."""
        self.unclaimed.pop(premise, None)
        self._meter_resets.pop(premise, None)

    def add_unclaimed(self, premise: int, report: Report) -> None:
        """A late report from an epoch the premise's meter ended while no outage held it: it
        joins that epoch's reports, for a crew restoration still to come to claim."""
        reset_at = self._meter_resets.get(premise)
        if reset_at is not None and report.at <= reset_at:
            self.unclaimed.setdefault(premise, (reset_at, []))[1].append(report)

    def adopt_premise_reset(self, premise: int, at: int, owner: str) -> None:
        """`adopt_reset` for a premise's own meter reset."""
        _adopt(self.premise_history.get(premise, []), at, owner)

    # -- tickets ------------------------------------------------------------------------------

    def hazard_ticket(
        self, call: str, kind: str, premise: str, incident: Incident | None, at: datetime
    ) -> None:
        """A wire-down or fire call: its own high-priority ticket, linked to the outage."""
        ticket = self.next_id("TKT")
        self.tickets.append(
            {
                "ticket": ticket,
                "kind": kind,
                "call": call,
                "premise": premise,
                "incident": incident.id if incident else None,
                "priority": "high",
                "at": at,
            }
        )
        self.emit(
            ev.HazardReported(
                at=at,
                ticket=ticket,
                call=call,
                kind=kind,
                premise=premise,
                incident=incident.id if incident else None,
            )
        )

    def service_ticket(self, call: str, kind: str, premise: str, reason: str, at: datetime) -> None:
        """A call no outage explains: a normal-priority service ticket."""
        ticket = self.next_id("TKT")
        self.tickets.append(
            {
                "ticket": ticket,
                "kind": kind,
                "call": call,
                "premise": premise,
                "incident": None,
                "priority": "normal",
                "reason": reason,
                "at": at,
            }
        )
        self.emit(
            ev.ServiceTicketOpened(at=at, ticket=ticket, call=call, premise=premise, reason=reason)
        )

    def unresolved_ticket(self, call: str, reason: str, at: datetime) -> None:
        """A caller nobody could identify: kept with the reason."""
        ticket = self.next_id("TKT")
        self.unresolved.append({"call": call, "reason": reason, "ticket": ticket, "at": at})
        self.emit(ev.CallUnresolved(at=at, ticket=ticket, call=call, reason=reason))

    # -- helpers ------------------------------------------------------------------------------

    def root_of(self, node: int) -> int:
        """The feeder-head node above a tree node."""
        topo = self.topology
        device = node if node < self.devices else topo.transformer_device[node - self.devices]
        return topo.device_chain[device][-1]

    def open_on(self, root: int) -> dict[int, Incident]:
        """Open incidents on the feeder headed by ``root``, by node."""
        return {node: self.open_at[node] for node in self.by_root.get(root, ())}

    def _register(self, node: int, incident: Incident) -> None:
        self.open_at[node] = incident
        self.by_root.setdefault(self.root_of(node), set()).add(node)

    def _unregister(self, node: int, incident: Incident) -> None:
        if self.open_at.get(node) is not incident:
            return
        del self.open_at[node]
        nodes = self.by_root.get(self.root_of(node))
        if nodes is not None:
            nodes.discard(node)

    def _asset(
        self, level: Level, number: int, premise: int | None = None
    ) -> tuple[str, int, int]:
        """(id, customers, feeder) of an asset; with ``premise``, of that premise's own service
        under transformer ``number`` (every customer of that premise: the flats of one
        building share its service drop)."""
        topo = self.topology
        if premise is not None:
            customers = int(topo.premise_customers[premise])
            return topo.transformer_ids[number], customers, topo.transformer_feeder[number]
        if level == "device":
            return (
                topo.device_ids[number],
                int(topo.device_customers[number]),
                topo.device_feeder[number],
            )
        return (
            topo.transformer_ids[number],
            int(topo.transformer_customers[number]),
            topo.transformer_feeder[number],
        )


def _adopt(entries: list[tuple[int, str]], at: int, owner: str) -> None:
    for i, (reset_at, who) in enumerate(entries):
        if reset_at == at and who == "":
            entries[i] = (reset_at, owner)
