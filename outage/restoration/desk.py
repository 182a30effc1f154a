"""The restoration desk: work orders, crews, SLA escalation and ETRs inside the engine.

The engine hands the desk every domain event it emitted for a message (`observe`), the crews'
reports and the officers' dispatches (`on_crew`, `assign`), the follow-up answers
(`on_followup`) and its own timers (`on_timer`, actions prefixed ``desk:``). The desk emits
its events through the engine, so they are journaled and replayed like every other:

* ``OutagePredicted`` opens a ``WorkOrder`` (``WorkOrderOpened``) with its arrival deadline;
  timers escalate it ``warn_before_minutes`` before and at each deadline (``SlaEscalated``);
* a restoration, merge or cancellation closes it (``WorkOrderClosed``, with what each step
  took against its limit) and frees its crew;
* every open order gets an ETR (`outage.restoration.estimate`): at once in normal weather, at
  the next re-plan boundary (at most ``replan_minutes`` later) in a storm; an estimate is
  republished only when it moves by ``republish_minutes`` or more, or when the ETR passed
  without restoration. An officer's or a crew's ETR is never replaced.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from outage import events as ev
from outage.errors import CommandRejected
from outage.events import iso
from outage.incidents import Incident, Status
from outage.restoration.areas import AreaClasses
from outage.restoration.config import RestorationRules
from outage.restoration.crews import CrewState
from outage.restoration.estimate import Estimate, Estimator
from outage.restoration.history import RepairHistory
from outage.restoration.orders import WorkOrder
from outage.restoration.pace import StormPace
from outage.restoration.premise_history import OutageHistory, OutageRecord
from outage.restoration.roster import Crew, Roster
from outage.restoration.travel import Routing, StraightLine
from outage.signals import CREW_BUSY, CrewSignal, FollowUpSignal

if TYPE_CHECKING:
    from outage.engine import Engine

PREFIX = "desk:"
#: ETRs are quoted rounded up to this many minutes ("by 14:35", never "by 14:33:07").
ETR_STEP_MINUTES = 5
#: Whose ETR wins over an estimate.
GIVEN_SOURCES = frozenset({"officer", "crew"})


class RestorationDesk:
    """Work orders, crews and ETRs of one engine (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        rules: RestorationRules,
        history: RepairHistory | None = None,
        roster: Roster | None = None,
        routing: Routing | None = None,
    ) -> None:
        self.engine = engine
        self.rules = rules
        self.history = history or RepairHistory.default()
        self.roster = roster
        self.zone = ZoneInfo(engine.rules.storm_detection.timezone)
        self.estimator = Estimator(
            self.history, rules, routing or StraightLine(rules.road_factor), self.zone
        )
        self.areas = AreaClasses(engine.topology, rules)
        self.outages = OutageHistory(engine.topology, rules)
        self.orders: dict[str, WorkOrder] = {}
        #: substation -> its open work orders
        self.open_at: Counter[str] = Counter()
        #: incident id -> its work order id (kept after the order closes)
        self.order_of: dict[str, str] = {}
        self.crews: dict[str, CrewState] = {
            c.id: CrewState(c, rostered=True) for c in (roster.crews if roster else ())
        }
        #: incident id -> what its estimate stands on
        self.basis: dict[str, str] = {}
        #: incident id -> premise id -> the follow-up answer
        self.followups: dict[str, dict[str, dict[str, Any]]] = {}
        #: incident id -> premises asked for a follow-up (the callers, once power is back)
        self.followup_due: dict[str, tuple[str, ...]] = {}
        #: premise id -> its latest incident with a follow-up pending
        self.pending_followup: dict[str, str] = {}
        #: substation -> its published "most customers back by" ETR
        self.substation_etr: dict[str, datetime | None] = {}
        self.pace = StormPace(self.history.prior_weight)
        self._plan_at: datetime | None = None
        self._overdue: set[str] = set()  # incidents whose estimated ETR passed: republish

    # -- reading -----------------------------------------------------------------------------

    def open_orders(self) -> list[WorkOrder]:
        """Open work orders, most urgent deadline first."""
        return sorted((o for o in self.orders.values() if o.is_open), key=lambda o: o.due())

    def order_for(self, incident: str) -> WorkOrder | None:
        """The work order of ``incident`` (open or closed), if it has one."""
        order = self.order_of.get(incident)
        return self.orders.get(order) if order is not None else None

    def on_shift(self, crew: CrewState, at: datetime) -> bool:
        """Is the crew working at ``at`` (always, without a roster or a shift)?"""
        if self.roster is None or not crew.rostered:
            return True
        return self.roster.on_shift(crew.crew, at)

    def crews_view(self, now: datetime) -> list[dict[str, Any]]:
        """Every crew as the API shows it."""
        return [
            self.crews[c].to_dict(self.on_shift(self.crews[c], now)) for c in sorted(self.crews)
        ]

    # -- checks (before anything changes) ------------------------------------------------------

    def check_crew(self, crew: str) -> str | None:
        """Why ``crew`` cannot be named (``field: reason``), or None."""
        if self.roster is not None and crew not in self.crews:
            return f"crew: unknown crew {crew!r} (not in the roster)"
        return None

    def check_signal(self, signal: CrewSignal | FollowUpSignal) -> str | None:
        """Why a crew or follow-up signal names something unknown, or None."""
        incidents = self.engine.incidents
        if isinstance(signal, FollowUpSignal):
            if signal.incident is not None and signal.incident not in incidents:
                return f"incident: no incident {signal.incident!r}"
            return None
        problem = self.check_crew(signal.crew)
        if problem is not None:
            return problem
        if signal.incident is not None:
            incident = incidents.get(signal.incident)
            if incident is None:
                return f"incident: no incident {signal.incident!r}"
            live = self.live(incident)
            if signal.status == "dispatched" and not live.is_open:
                return f"incident: {live.id} is {live.status}; a crew cannot be dispatched to it"
        return None

    def check_dispatch(self, crew: str, incident: Incident) -> None:
        """An officer's dispatch: `CommandRejected` for a crew not in the roster, or one busy
        on another open order (one crew, one active order)."""
        problem = self.check_crew(crew)
        if problem is not None:
            raise CommandRejected(problem)
        state = self.crews.get(crew)
        order = self.order_for(incident.id)
        if state is not None and state.busy and (order is None or state.order != order.id):
            current = self.orders.get(state.order or "")
            if current is not None and current.is_open:
                raise CommandRejected(
                    f"crew: {crew} is {state.status} on {current.id} ({current.incident}); "
                    "it must report available first"
                )

    # -- incidents, from the engine's events ----------------------------------------------------

    def observe(self, events: Iterable[ev.Event]) -> None:
        """React to the engine's events for one message (module docstring)."""
        for event in events:
            if isinstance(event, ev.OutagePredicted):
                self._open(event)
            elif isinstance(event, ev.PredictionMoved):
                self._moved(event)
            elif isinstance(event, ev.IncidentMerged):
                self._close(event.incident, event.at, Status.MERGED, into=event.into)
            elif isinstance(event, ev.IncidentCancelled):
                self._close(event.incident, event.at, Status.CANCELLED)
            elif isinstance(event, ev.OutageRestored):
                self._restored(event.incident, event.at, complete=True)
            elif isinstance(event, ev.OutagePartiallyRestored):
                self._restored(event.incident, event.at, complete=False)
            elif isinstance(event, ev.StormDeclared | ev.StormStoodDown):
                self.weather_changed(event.at)

    def _open(self, event: ev.OutagePredicted) -> None:
        engine = self.engine
        incident = engine.incidents[event.incident]
        if event.incident in self.order_of or not incident.is_open:
            return
        level, number = incident.level, incident.node
        area = self.areas.of(level, number)
        limits = self.rules.sla[area]  # type: ignore[index]
        order = WorkOrder(
            id=f"WO-{incident.id}",
            incident=incident.id,
            kind=self._kind(incident),
            skill="transformer" if level == "transformer" else "line",
            area_class=area,
            lonlat=self._lonlat(incident),
            customers=incident.customers,
            substation=event.substation,
            opened_at=event.at,
            weather=self._weather(event.substation),
            arrival_limit=limits.arrival_minutes,
            restoration_limit=limits.restoration_minutes,
        )
        order.crew_idle_at_open = not self.crews or any(
            not c.busy
            and c.status != "off_shift"
            and c.crew.can_repair(order.skill)
            and self.on_shift(c, event.at)
            for c in self.crews.values()
        )
        if order.weather == "storm":
            self._advance_pace(event.at)  # before the new order is counted ready
            order.crew_work_minutes = self.estimator.crew_work(
                order, (c.lonlat for c in self.crews.values())
            )
            self.pace.opened(order.crew_work_minutes)
        self.orders[order.id] = order
        self.open_at[order.substation] += 1
        self.order_of[incident.id] = order.id
        engine.emit(
            ev.WorkOrderOpened(
                at=event.at,
                order=order.id,
                incident=incident.id,
                area_class=area,
                arrival_due=order.arrival_due,
                customers=order.customers,
            )
        )
        self._deadline_timers(order, "arrival", order.arrival_due)
        self._refresh(order)

    def _moved(self, event: ev.PredictionMoved) -> None:
        order = self.order_for(event.incident)
        if order is None or not order.is_open:
            return
        incident = self.engine.incidents[event.incident]
        order.kind = self._kind(incident)
        order.skill = "transformer" if incident.level == "transformer" else "line"
        order.lonlat = self._lonlat(incident)
        order.customers = incident.customers
        self._refresh(order)

    def _restored(self, incident_id: str, at: datetime, *, complete: bool) -> None:
        incident = self.engine.incidents[incident_id]
        if incident_id not in self.order_of and incident.planned:
            return  # planned work: no repair, no follow-up
        if complete and incident.restored_at is not None:
            self._record_outage(incident, at)
            self._followup(incident, at)
        self._close(incident_id, at, Status.RESTORED)

    def _followup(self, incident: Incident, at: datetime) -> None:
        """Ask the callers who have power again how it went."""
        topo = self.engine.topology
        premises = []
        for premise in dict.fromkeys(incident.call_premises):
            if self.engine.covering_incident(premise) is None:  # still out: not yet
                premises.append(topo.premise_ids[premise])
        if not premises:
            return
        self.followup_due[incident.id] = tuple(premises)
        for premise_id in premises:
            self.pending_followup[premise_id] = incident.id
        self.engine.emit(ev.FollowUpDue(at=at, incident=incident.id, premises=tuple(premises)))

    def _close(
        self, incident_id: str, at: datetime, outcome: Status, into: str | None = None
    ) -> None:
        order = self.order_for(incident_id)
        if order is None or not order.is_open:
            return
        if order.crew_work_minutes is not None:
            self._advance_pace(at)  # while it still counts as ready
            if outcome == Status.RESTORED:
                self.pace.finished_job(order.crew_work_minutes)
        order.closed_at, order.outcome = at, outcome
        self.open_at[order.substation] -= 1
        crew = self.crews.get(order.crew) if order.crew else None
        target = self.order_for(into) if into is not None else None
        if crew is not None and crew.order == order.id:
            if target is not None and target.is_open and target.crew is None:
                self._put_on(crew, target, at, f"{order.id} merged into {target.id}")
            else:
                self._set_status(crew, "available", None, at, f"{order.id} {outcome}")
        self.engine.emit(
            ev.WorkOrderClosed(
                at=at,
                order=order.id,
                incident=order.incident,
                outcome=outcome,
                crew=order.crew,
                kind=order.kind,
                cause=order.cause,
                weather=order.weather,
                opened=order.opened_at,
                arrival_minutes=_round(order.arrival_minutes()),
                arrival_limit_minutes=order.arrival_limit,
                restoration_minutes=_round(order.restoration_minutes()),
                restoration_limit_minutes=order.restoration_limit,
                dispatch_minutes=_round(order.dispatch_minutes()),
                mobilise_minutes=_round(order.mobilise_minutes()),
                estimate_ratio=_ratio(order.estimate_ratio()),
            )
        )
        self._schedule_plan_if_storm(order)

    def _record_outage(self, incident: Incident, at: datetime) -> None:
        minutes = (at - incident.started).total_seconds() / 60
        if minutes < self.engine.prediction_rules.momentary_minutes:
            return
        record = OutageRecord(incident.started, at, incident.id)
        if incident.premise is not None:  # one premise's own service: its history alone
            self.outages.record("premise", incident.premise, record)
            return
        flagged = self.outages.record(incident.level, incident.node, record)
        if flagged is None:
            return
        transformers, outages = flagged
        topo = self.engine.topology
        self.engine.emit(
            ev.FrequentOutageFlagged(
                at=at,
                incident=incident.id,
                transformers=tuple(topo.transformer_ids[t] for t in transformers),
                premises=sum(len(topo.premises_of_transformer(t)) for t in transformers),
                customers=int(sum(int(topo.transformer_customers[t]) for t in transformers)),
                outages=outages,
                window_days=self.rules.frequent_outage.window_days,
            )
        )

    # -- crews ---------------------------------------------------------------------------------

    def crew(self, crew_id: str) -> CrewState:
        """The crew's state (an ad-hoc crew when no roster names it)."""
        state = self.crews.get(crew_id)
        if state is None:
            state = self.crews[crew_id] = CrewState(Crew(id=crew_id), rostered=False)
        return state

    def live(self, incident: Incident) -> Incident:
        """The incident that holds ``incident``'s outage now (following merges)."""
        while incident.merged_into is not None:
            incident = self.engine.incidents[incident.merged_into]
        return incident

    def assign(self, crew_id: str, incident: Incident, at: datetime, by: str) -> None:
        """``crew_id`` goes to ``incident`` (an officer's dispatch, or the crew's report)."""
        state = self.crew(crew_id)
        order = self.order_for(incident.id)
        if order is None or not order.is_open:
            # Planned work or an incident without an order: the crew is busy there all the same.
            self._set_status(state, "dispatched", None, at, by, incident=incident.id)
            return
        self._put_on(state, order, at, by)

    def _put_on(self, state: CrewState, order: WorkOrder, at: datetime, by: str) -> None:
        previous = self.orders.get(state.order or "")
        if previous is not None and previous is not order and previous.crew == state.crew.id:
            previous.crew = None  # diverted: the old order waits for another crew
            self._refresh(previous)
        if order.crew is not None and order.crew != state.crew.id:
            other = self.crews.get(order.crew)
            if other is not None and other.order == order.id:
                self._set_status(other, "available", None, at, f"relieved by {state.crew.id}")
        order.crew = state.crew.id
        if order.dispatched_at is None:
            order.dispatched_at = at
            order.travel_minutes = self.estimator.travel(state, order)
        self._set_status(state, "dispatched", order, at, by)
        self._refresh(order)

    def on_crew(self, signal: CrewSignal) -> None:
        """A crew's report from the field (after `assign` when it names a new job)."""
        state = self.crew(signal.crew)
        at = signal.ts
        if signal.lon is not None and signal.lat is not None:
            state.lonlat = (signal.lon, signal.lat)
        order = self.orders.get(state.order or "")
        if order is not None and not order.is_open:
            order = None
        status = signal.status
        if status in CREW_BUSY and status != "dispatched" and order is not None:
            if status == "en_route" and order.en_route_at is None:
                order.en_route_at = at
            if status in ("on_site", "repairing") and order.on_site_at is None:
                order.on_site_at = at
                if signal.lon is None:
                    state.lonlat = order.lonlat
                self._deadline_timers(order, "restoration", order.restoration_due)
            if status == "repairing" and order.repairing_at is None:
                order.repairing_at = at
        if signal.cause is not None and order is not None:
            order.cause = signal.cause
        if status in ("available", "off_shift"):
            if order is not None and order.crew == state.crew.id:
                order.crew = None  # left before the repair: back in the queue
            order_after = None
        else:
            order_after = order
        if status != state.status or (order_after.id if order_after else None) != state.order:
            self._set_status(state, status, order_after, at, signal.crew)
        elif signal.lon is not None:
            self._emit_status(state, at, signal.crew)  # only moved: the map follows it
        if signal.etr is not None and order_after is not None:
            self._given_etr(
                self.engine.incidents[order_after.incident], signal.etr, at, signal.crew
            )
        if order is not None:
            self._refresh(order)

    def _set_status(
        self,
        state: CrewState,
        status: str,
        order: WorkOrder | None,
        at: datetime,
        by: str,
        *,
        incident: str | None = None,
    ) -> None:
        self._advance_pace(at)  # the crews' busy time counts up to the change
        state.status, state.order, state.since = status, order.id if order else None, at
        state.timeline.append((status, state.order, at))
        self._emit_status(state, at, by, incident or (order.incident if order else None))

    def _emit_status(
        self, state: CrewState, at: datetime, by: str, incident: str | None = None
    ) -> None:
        order = self.orders.get(state.order or "")
        lon, lat = state.lonlat if state.lonlat else (None, None)
        self.engine.emit(
            ev.CrewStatusChanged(
                at=at,
                crew=state.crew.id,
                status=state.status,
                order=state.order,
                incident=incident or (order.incident if order else None),
                lon=_finite(lon),
                lat=_finite(lat),
                by=by,
            )
        )

    # -- follow-up -------------------------------------------------------------------------------

    def followup_incident(self, signal: FollowUpSignal) -> Incident | None:
        """The incident an answer is about: the one it names, else (resolved by the handler
        per premise) None."""
        if signal.incident is None:
            return None
        return self.live(self.engine.incidents[signal.incident])

    def on_followup(self, signal: FollowUpSignal, incident: Incident, premise: str) -> None:
        """Record a customer's follow-up answer for the incident."""
        if self.pending_followup.get(premise) == incident.id:
            del self.pending_followup[premise]
        self.followups.setdefault(incident.id, {})[premise] = {
            "premise": premise,
            "score": signal.score,
            "channel": signal.channel,
            "at": iso(signal.ts),
            "note": signal.note,
        }
        self.engine.emit(
            ev.FollowUpAnswered(
                at=signal.ts,
                incident=incident.id,
                premise=premise,
                score=signal.score,
                channel=signal.channel,
            )
        )

    # -- ETRs --------------------------------------------------------------------------------------

    def given_etr(self, incident: Incident, source: str) -> None:
        """An officer set the incident's ETR (the handler already changed it)."""
        incident.etr_source = source
        self.basis[incident.id] = f"given by {source}"

    def _given_etr(self, incident: Incident, etr: datetime, at: datetime, crew: str) -> None:
        incident = self.live(incident)
        if not incident.is_open or (etr == incident.etr and incident.etr_source == "crew"):
            return
        previous, incident.etr = incident.etr, etr
        self.given_etr(incident, "crew")
        self.engine.emit(
            ev.EtrChanged(
                at=at, incident=incident.id, etr=etr, previous=previous, by=crew, source="crew"
            )
        )

    def _weather(self, substation: str) -> str:
        """``storm`` while the storm rule set is in force (declared system-wide, or switched by
        an officer), or while the substation's own storm is declared and it has as many open
        work orders as the detector's ``open_incidents`` threshold for a substation; else
        ``normal``. Restoration weather is about damage: a substation's declaration made by
        one big outage (its customers out, its callers' surge) staffs the call centre, but its
        crews still work one fault in normal conditions, and storm repair times and a storm
        queue for the next small fault there would quote it a day late."""
        storm = self.engine.storm
        if storm.system_declared or self.engine.rule_set == "storm":
            return "storm"
        scope = storm.scopes.get(substation)
        if scope is None or scope.declared_at is None:
            return "normal"
        many = self.engine.rules.storm_detection.substation.open_incidents
        return "storm" if self.open_at[substation] >= many else "normal"

    def _refresh(self, order: WorkOrder) -> None:
        """Estimate ``order`` again: now in normal weather, at the next re-plan in a storm."""
        if not order.is_open:
            return
        if self._weather(order.substation) == "storm":
            self._schedule_plan()
            return
        incident = self.engine.incidents[order.incident]
        crew = self.crews.get(order.crew) if order.crew else None
        now = self.engine.now or order.opened_at
        self._publish(incident, self.estimator.single(order, crew, "normal", now), now)

    def _schedule_plan_if_storm(self, order: WorkOrder) -> None:
        if self._weather(order.substation) == "storm":
            self._schedule_plan()  # its crew is free: the queue behind it moves up

    def _schedule_plan(self) -> None:
        if self._plan_at is not None:
            return
        now = self.engine.now
        assert now is not None
        step = int(self.rules.replan_minutes * 60)
        epoch = int(now.timestamp())
        self._plan_at = datetime.fromtimestamp((epoch // step + 1) * step, tz=now.tzinfo)
        self.engine.timers.schedule(self._plan_at, PREFIX + "plan", "")

    def weather_changed(self, at: datetime) -> None:
        """Storm declared or stood down, or the rule set switched: estimate everything again."""
        for order in self.orders.values():
            if order.is_open:
                self._refresh(order)
        self._substation_etrs(at)

    def plan(self, at: datetime) -> None:
        """Re-plan every storm order against the crews (`Estimator.plan`) and publish."""
        self._plan_at = None
        incidents = self.engine.incidents
        storm_orders = [
            o for o in self.orders.values() if o.is_open and self._weather(o.substation) == "storm"
        ]
        self._advance_pace(at)
        if not any(o.is_open and o.crew_work_minutes is not None for o in self.orders.values()):
            self.pace = StormPace(self.history.prior_weight)  # the storm's work is done
        self.estimator.pace = self.pace.factor
        self.estimator.pace_log_variance = self.pace.log_variance
        fixed = {
            o.id: incidents[o.incident].etr
            for o in storm_orders
            if incidents[o.incident].etr_source in GIVEN_SOURCES and incidents[o.incident].etr
        }
        on_shift = {c: self.on_shift(s, at) for c, s in self.crews.items()}
        window = timedelta(minutes=self.rules.arrival_window_minutes)
        recent = [
            o for o in self.orders.values() if o.weather == "storm" and o.opened_at >= at - window
        ]
        plan = self.estimator.plan(
            storm_orders,
            self.crews.values(),
            fixed,  # type: ignore[arg-type]  # (only orders with an ETR are in it)
            at,
            on_shift,
            recent,
            # this storm began with the oldest of its orders still open or recent
            min((o.opened_at for o in [*storm_orders, *recent]), default=at),
        )
        for order in storm_orders:
            estimate = plan.get(order.id)
            if estimate is not None:
                self._publish(incidents[order.incident], estimate, at)
        self._substation_etrs(at)

    def _advance_pace(self, at: datetime) -> None:
        """Count the crews' busy time up to ``at`` (`outage.restoration.pace`): crews that
        report are busy while on a storm order; the others work the storm orders nobody
        reported taking, each ready once the usual dispatch delay has passed."""
        estimator = self.estimator
        ready = [
            o.opened_at + timedelta(minutes=estimator.cell("dispatch", o, "storm").mean)
            for o in self.orders.values()
            if o.is_open and o.crew_work_minutes is not None and o.crew is None
        ]
        busy = silent = 0
        for crew in self.crews.values():
            if crew.timeline:  # it reports: busy while on a storm order
                order = self.orders.get(crew.order or "") if crew.busy else None
                busy += order is not None and order.crew_work_minutes is not None
            elif crew.status != "off_shift" and self.on_shift(crew, at):
                silent += 1
        self.pace.advance(at, busy, silent, ready)

    def _publish(self, incident: Incident, estimate: Estimate, now: datetime) -> None:
        """Publish an estimate unless an officer's or crew's ETR stands, or it moved too
        little to be worth telling anyone (module docstring)."""
        if not incident.is_open or incident.etr_source in GIVEN_SOURCES:
            return
        etr = max(estimate.etr, now + timedelta(minutes=1))
        parent = self.engine.incidents.get(incident.parent) if incident.parent else None
        if parent is not None and parent.is_open and parent.etr is not None:
            etr = max(etr, parent.etr)  # nested: its customers wait for the parent too
        previous = incident.etr
        overdue = incident.id in self._overdue
        if overdue:
            # An ETR that passed is pushed back by a step people notice, never by minutes
            # at a time (and a long gap in event time costs a few republications, not one
            # per rounding step).
            etr = max(etr, now + timedelta(minutes=self.rules.republish_minutes))
        etr = _round_up(etr, ETR_STEP_MINUTES)
        self.basis[incident.id] = estimate.basis
        if previous is not None and not overdue:
            moved = abs((etr - previous).total_seconds()) / 60
            if moved < self.rules.republish_minutes:
                return
        self._overdue.discard(incident.id)
        order = self.order_for(incident.id)
        if previous is None and order is not None and order.first_estimate_at is None:
            order.first_estimate_at, order.first_median = now, estimate.median
        incident.etr, incident.etr_source = etr, "estimated"
        self.engine.emit(
            ev.EtrChanged(
                at=now,
                incident=incident.id,
                etr=etr,
                previous=previous,
                by="engine",
                source="estimated",
            )
        )
        self.engine.timers.schedule(etr, PREFIX + "etr", incident.id)

    def _substation_etrs(self, at: datetime) -> None:
        """While a storm is declared: each storm substation's "most customers back by"."""
        share = self.rules.most_customers_share
        out: dict[str, list[tuple[datetime, int]]] = {}
        topo = self.engine.topology
        for incident in self.engine.outermost_open():
            substation = topo.substation_ids[incident.substation]
            if self._weather(substation) == "storm" and incident.etr is not None:
                out.setdefault(substation, []).append((incident.etr, incident.customers))
        for substation in sorted(set(out) | set(self.substation_etr)):
            rows = sorted(out.get(substation, []))
            total = sum(c for _, c in rows)
            etr: datetime | None = None
            running = 0
            for when, customers in rows:
                running += customers
                if running >= share * total:
                    etr = when
                    break
            previous = self.substation_etr.get(substation)
            if etr == previous or (
                etr is not None
                and previous is not None
                and abs((etr - previous).total_seconds()) / 60 < self.rules.republish_minutes
            ):
                continue
            if etr is None and substation not in self.substation_etr:
                continue
            self.substation_etr[substation] = etr
            if etr is None:
                del self.substation_etr[substation]
            self.engine.emit(
                ev.SubstationEtrChanged(
                    at=at, substation=substation, etr=etr, customers_out=total, share=share
                )
            )

    # -- timers ------------------------------------------------------------------------------------

    def _deadline_timers(self, order: WorkOrder, step: str, due: datetime | None) -> None:
        if due is None:
            return
        warn = timedelta(minutes=self.rules.warn_before_minutes)
        timers = self.engine.timers
        if warn < due - (order.on_site_at or order.opened_at):
            timers.schedule(due - warn, f"{PREFIX}sla:{step}:warning", order.id)
        timers.schedule(due, f"{PREFIX}sla:{step}:breach", order.id)

    def on_timer(self, action: str, key: str, at: datetime) -> None:
        """A ``desk:`` timer fired at ``at`` (event time)."""
        if action == PREFIX + "plan":
            self.plan(at)
        elif action == PREFIX + "etr":
            self._etr_passed(key, at)
        else:
            _, _, step, level = action.split(":")
            self._escalate(self.orders[key], step, level, at)

    def _escalate(self, order: WorkOrder, step: str, level: str, at: datetime) -> None:
        if not order.is_open or order.step != step:
            return  # done in time, or the crew arrived: this deadline no longer runs
        order.escalations.append((step, level, at))
        self.engine.emit(
            ev.SlaEscalated(
                at=at,
                order=order.id,
                incident=order.incident,
                step=step,
                level=level,
                due=order.due(),
                crew=order.crew,
                area_class=order.area_class,
            )
        )

    def _etr_passed(self, incident_id: str, at: datetime) -> None:
        incident = self.engine.incidents[incident_id]
        if (
            not incident.is_open
            or incident.etr_source != "estimated"
            or incident.etr is None
            or incident.etr > at
        ):
            return
        order = self.order_for(incident_id)
        if order is not None and order.is_open:
            self._overdue.add(incident_id)  # the next estimate is published whatever it moved
            self._refresh(order)

    def flush(self, at: datetime) -> None:
        """Run a pending re-plan now (the end of a replay: nobody waits for the boundary)."""
        if self._plan_at is not None:
            self.plan(at)

    # -- helpers -----------------------------------------------------------------------------------

    def _kind(self, incident: Incident) -> str:
        if incident.level == "transformer":
            return "transformer"
        return self.engine.topology.device_kind[incident.node]

    def _lonlat(self, incident: Incident) -> tuple[float, float]:
        topo = self.engine.topology
        table = topo.transformer_lonlat if incident.level == "transformer" else topo.device_lonlat
        if incident.node < len(table):
            lon, lat = table[incident.node]
            return (float(lon), float(lat))
        return (math.nan, math.nan)


def _round_up(at: datetime, minutes: int) -> datetime:
    step = minutes * 60
    epoch = at.timestamp()
    return datetime.fromtimestamp(math.ceil(epoch / step) * step, tz=at.tzinfo)


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _finite(value: float | None) -> float | None:
    return None if value is None or value != value else value
