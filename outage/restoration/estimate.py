"""ETR estimates: from repair history for one order, from the crews' workload in a storm.

Normal weather, one order at a time (`Estimator.single`):

* crew on site — on-site time + the quoted quantile of the ``repair`` time, conditional on
  how long the repair has already run;
* crew dispatched — its arrival (it leaves after the usual ``mobilise`` time, unless it said
  it is en route, and drives the straight line from where it was) + the quoted quantile of
  the ``repair`` time;
* otherwise — the order's opening + the quoted quantile of the whole ``outage`` time,
  conditional on the time already passed.

In a storm (`Estimator.plan`), orders wait for crews: the waiting orders are taken in the
dispatch order (most customers first, or oldest first) and each is given to the crew that can
be there first — when it is free (or when the order can be dispatched at all: its opening plus
the usual ``dispatch`` delay), plus mobilising and travel from where its last job was. A
crew's queue of work is uncertain, so its finishing time is the sum of log-normal times
(work ahead, mobilising, repair), approximated by one log-normal with the same mean and
variance (Fenton-Wilkinson), and the ETR quoted is its quantile. Busy crews are free when
their current order's expected repair ends (or at the ETR an officer or the crew gave).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import NormalDist
from zoneinfo import ZoneInfo

from outage.restoration.arrivals import NO_ARRIVALS, ArrivalLoad
from outage.restoration.config import RestorationRules
from outage.restoration.crews import CrewState
from outage.restoration.history import Cell, RepairHistory, period_of
from outage.restoration.orders import WorkOrder, minutes_between
from outage.restoration.travel import Routing

_Z = NormalDist()
#: The history measures that are crew work, which a storm's pace stretches.
_CREW_WORK = frozenset({"mobilise", "repair"})


@dataclass(frozen=True, slots=True)
class Estimate:
    """An ETR (the quoted quantile), what it stands on (shown to the duty officer), and the
    median of the same distribution (what calibration compares outcomes with)."""

    etr: datetime
    basis: str
    median: datetime


def _after(at: datetime, minutes: float) -> datetime:
    return at + timedelta(minutes=minutes)


class Estimator:
    """Turns orders, crews and history into ETRs (see the module docstring)."""

    def __init__(
        self, history: RepairHistory, rules: RestorationRules, routing: Routing, zone: ZoneInfo
    ) -> None:
        self.history = history
        self.rules = rules
        self.routing = routing
        self.zone = zone
        self.q = rules.quote_quantile
        #: Orders' opening times -> their `period_of`.
        self._periods: dict[datetime, str] = {}
        self._pace = 1.0
        #: the variance of the pace's logarithm (`outage.restoration.pace.StormPace`)
        self.pace_log_variance = 0.0
        #: (measure, key) -> the storm cell with the pace applied
        self._paced: dict[tuple[str, tuple[str, str, str, str]], Cell] = {}

    @property
    def pace(self) -> float:
        """How much longer this storm's crew work takes than the history says
        (`outage.restoration.pace`): storm mobilising, travel and repair times are multiplied
        by it; dispatch delays and normal weather are not."""
        return self._pace

    @pace.setter
    def pace(self, value: float) -> None:
        if value != self._pace:
            self._pace = value
            self._paced.clear()

    def _key(self, order: WorkOrder, weather: str) -> tuple[str, str, str, str]:
        """``order``'s history key in ``weather``."""
        period = self._periods.get(order.opened_at)
        if period is None:  # (a time zone conversion, asked for every order every minute)
            period = self._periods[order.opened_at] = period_of(order.opened_at, self.zone)
        return (order.kind, order.cause, period, weather)

    def cell(self, measure: str, order: WorkOrder, weather: str) -> Cell:
        """The history cell of ``measure`` for ``order`` (storm crew work at the pace)."""
        key = self._key(order, weather)
        if weather != "storm" or measure not in _CREW_WORK or self._pace == 1.0:
            return self.history.cell(measure, key)  # type: ignore[arg-type]
        paced = self._paced.get((measure, key))
        if paced is None:
            cell = self.history.cell(measure, key)  # type: ignore[arg-type]
            paced = cell.model_copy(update={"median": cell.median * self._pace})
            self._paced[(measure, key)] = paced
        return paced

    def crew_work(self, order: WorkOrder, origins: Iterable[tuple[float, float] | None]) -> float:
        """The storm crew-minutes ``order`` takes at the history's pace: mobilising, travel
        from the nearest of ``origins``, repair (the unit `outage.restoration.pace` counts)."""
        history, key = self.history, self._key(order, "storm")
        return (
            history.cell("mobilise", key).mean
            + min((self.travel_between(o, order) for o in origins), default=0.0)
            + history.cell("repair", key).mean
        )

    def paced_travel(self, origin: tuple[float, float] | None, order: WorkOrder) -> float:
        """Storm travel minutes: `travel_between` at the storm's pace."""
        return self.travel_between(origin, order) * self._pace

    def travel_between(self, origin: tuple[float, float] | None, order: WorkOrder) -> float:
        """Minutes from ``origin`` to ``order`` at its area's speed (0 when unknown)."""
        if origin is None:
            return 0.0
        speed = self.rules.sla[order.area_class].speed_kmh  # type: ignore[index]
        return self.routing.minutes(origin, order.lonlat, speed)

    def travel(self, crew: CrewState, order: WorkOrder) -> float:
        """Minutes for ``crew`` to reach ``order`` from where it was last seen."""
        return self.travel_between(crew.lonlat, order)

    def arrival(self, order: WorkOrder, crew: CrewState, weather: str, now: datetime) -> datetime:
        """When a crew on its way should be there: it leaves (its "en route", else dispatch
        plus the usual mobilising time) and drives."""
        if order.en_route_at is not None:
            leaves = order.en_route_at
        else:
            dispatched = order.dispatched_at or now
            leaves = _after(dispatched, self.cell("mobilise", order, weather).mean)
        travel = order.travel_minutes if order.travel_minutes is not None else 0.0
        return max(now, _after(leaves, travel))

    def single(
        self, order: WorkOrder, crew: CrewState | None, weather: str, now: datetime
    ) -> Estimate:
        """One order's ETR from its own state (module docstring)."""
        if order.on_site_at is not None:
            cell = self.cell("repair", order, weather)
            elapsed = minutes_between(order.on_site_at, now)
            return Estimate(
                _after(order.on_site_at, cell.quantile(self.q, elapsed)),
                f"crew on site, {weather} repair times",
                _after(order.on_site_at, cell.quantile(0.5, elapsed)),
            )
        if crew is not None and order.dispatched_at is not None:
            arrival = self.arrival(order, crew, weather, now)
            cell = self.cell("repair", order, weather)
            return Estimate(
                _after(arrival, cell.quantile(self.q)),
                f"crew {crew.crew.id} on its way, {weather} repair times",
                _after(arrival, cell.median),
            )
        cell = self.cell("outage", order, weather)
        elapsed = minutes_between(order.opened_at, now)
        estimate = Estimate(
            _after(order.opened_at, cell.quantile(self.q, elapsed)),
            f"{weather} restoration history of {order.kind} outages",
            _after(order.opened_at, cell.quantile(0.5, elapsed)),
        )
        return self.calibrated(estimate, order, weather, now)

    def calibrated(
        self, estimate: Estimate, order: WorkOrder, weather: str, now: datetime
    ) -> Estimate:
        """The estimate re-quoted from how earlier first estimates turned out: when the
        history holds a fitted ``calibration`` cell (the ratio of the time actually left to
        the time the median said was left), the ETR is now + that ratio's ``q`` quantile x the
        median's time left — empirical calibration, so that about ``q`` of customers are back
        by their first ETR whatever the model's own spread."""
        cell = self.cell("calibration", order, weather)
        left = minutes_between(now, estimate.median)
        if cell.n == 0 or left <= 0:
            return estimate
        return Estimate(
            _after(now, left * cell.quantile(self.q)),
            f"{estimate.basis}, calibrated on {cell.n} earlier orders",
            estimate.median,
        )

    def plan(
        self,
        orders: Iterable[WorkOrder],
        crews: Iterable[CrewState],
        fixed: Mapping[str, datetime],
        now: datetime,
        on_shift: Mapping[str, bool],
        recent: Iterable[WorkOrder] = (),
        began: datetime | None = None,
    ) -> dict[str, Estimate]:
        """ETRs of every open order in a storm (module docstring). ``fixed`` holds the ETRs an
        officer or crew gave, by order id; ``on_shift`` says which crews work now; ``recent``
        are the storm's orders (any state; those opened within ``arrival_window_minutes``
        count) that tell how fast new ones arrive, in a storm whose first order opened at
        ``began`` (default: now)."""
        by_id = {o.id: o for o in orders}
        out: dict[str, Estimate] = {}
        queues: dict[str, _Queue] = {}
        working: set[str] = set()
        for crew in crews:
            order = by_id.get(crew.order or "") if crew.busy else None
            if order is not None:
                # A crew at work finishes its job, whatever its rostered shift says.
                out[order.id] = self.single(order, crew, "storm", now)
                working.add(crew.crew.id)
            if crew.status == "off_shift" or not on_shift.get(crew.crew.id, True):
                continue  # takes no further jobs
            queue = _Queue(crew, now, crew.lonlat)
            if order is not None:
                queue.busy_with(order, fixed.get(order.id), self, now)
            queues[crew.crew.id] = queue
        waiting = [o for o in by_id.values() if o.crew is None or o.crew not in working]
        if self.rules.storm_dispatch == "customers":
            waiting.sort(key=lambda o: (-o.customers, o.opened_at, o.id))
            arrivals = self.arrivals(recent, list(queues.values()), now, began or now)
        else:
            waiting.sort(key=lambda o: (o.opened_at, o.id))
            arrivals = NO_ARRIVALS  # a later order never goes ahead
        for position, order in enumerate(waiting, 1):
            if order.id in out:
                continue
            capable = [q for q in queues.values() if q.crew.crew.can_repair(order.skill)]
            if not capable:
                out[order.id] = self.single(order, None, "storm", now)
                continue
            job = _Job.of(order, self, now)
            best = min(capable, key=lambda q: (q.arrival_for(job, self), q.crew.crew.id))
            etr, median = best.take(job, self, self.q, arrivals)
            estimate = Estimate(
                etr,
                f"storm queue: #{position} waiting, crew {best.crew.crew.id} next free"
                + (f", crews' pace ×{self._pace:.2f}" if self._pace != 1.0 else ""),
                median,
            )
            out[order.id] = self.calibrated(estimate, order, "storm", now)
        return out

    def arrivals(
        self, recent: Iterable[WorkOrder], queues: list[_Queue], now: datetime, began: datetime
    ) -> ArrivalLoad:
        """The storm's arrival load (`outage.restoration.arrivals`): its recent orders, each
        taking mobilising, travel from the nearest crew and repair."""

        def service(order: WorkOrder) -> float:
            return self._pace * self.crew_work(order, (q.lonlat for q in queues))

        return ArrivalLoad.of(
            recent,
            now,
            began=began,
            window_minutes=self.rules.arrival_window_minutes,
            service=service,
            crews=len(queues),
        )


@dataclass(frozen=True)
class _Job:
    """A waiting order as the queue sees it (minutes from the plan's base time)."""

    order: WorkOrder
    ready: float  # when the dispatcher can send a crew: opening + the usual dispatch delay
    mobilise: Cell
    repair: Cell

    @classmethod
    def of(cls, order: WorkOrder, estimator: Estimator, now: datetime) -> _Job:
        dispatch = estimator.cell("dispatch", order, "storm")
        ready = minutes_between(now, order.opened_at) + dispatch.mean
        return cls(
            order,
            max(ready, 0.0),
            estimator.cell("mobilise", order, "storm"),
            estimator.cell("repair", order, "storm"),
        )


@dataclass
class _Queue:
    """One crew's planned work: when it is free (the mean and variance of the work still
    ahead of it, in minutes from ``base``) and where its last job is."""

    crew: CrewState
    base: datetime
    lonlat: tuple[float, float] | None
    mean: float = 0.0
    var: float = 0.0

    def busy_with(
        self, order: WorkOrder, fixed: datetime | None, estimator: Estimator, now: datetime
    ) -> None:
        """The crew's current order: it is free once that repair is done."""
        self.lonlat = order.lonlat
        if fixed is not None:
            self.mean, self.var = max(minutes_between(now, fixed), 0.0), 0.0
            return
        repair = estimator.cell("repair", order, "storm")
        if order.on_site_at is not None:
            self.mean = repair.remaining_mean(minutes_between(order.on_site_at, now))
        else:
            arrival = estimator.arrival(order, self.crew, "storm", now)
            self.mean = minutes_between(now, arrival) + repair.mean
        self.var = repair.variance

    def _start(self, job: _Job) -> tuple[float, bool]:
        """When the crew could leave for ``job`` (minutes from base) and whether its work
        ahead is still running then (else it waits for the order, idle)."""
        if self.mean >= job.ready:
            return self.mean, True
        return job.ready, False

    def arrival_for(self, job: _Job, estimator: Estimator) -> float:
        """Expected minutes from base until this crew could be at ``job``."""
        start, _ = self._start(job)
        return start + job.mobilise.mean + estimator.paced_travel(self.lonlat, job.order)

    def take(
        self, job: _Job, estimator: Estimator, q: float, arrivals: ArrivalLoad = NO_ARRIVALS
    ) -> tuple[datetime, datetime]:
        """Queue ``job``; its quoted ETR and median: the q quantile and the median of the
        crew's finishing time, the uncertain parts (work ahead, mobilising, the repair)
        summed as one log-normal. The work ahead is quoted as ``arrivals`` stretch it (work
        still to be reported that will go first, `outage.restoration.arrivals`); the queue
        itself holds only the known work, so the stretch is never compounded."""
        start, carried = self._start(job)
        travel = estimator.paced_travel(self.lonlat, job.order)
        ahead_mean, ahead_var = (self.mean, self.var) if carried else (0.0, 0.0)
        fixed = travel + (0.0 if carried else start)
        own_mean = job.mobilise.mean + job.repair.mean
        own_var = job.mobilise.variance + job.repair.variance
        self.mean, self.var = fixed + ahead_mean + own_mean, ahead_var + own_var
        self.lonlat = job.order.lonlat
        waited = arrivals.wait(job.order.customers, ahead_mean)
        stretch = waited / ahead_mean if ahead_mean else 1.0  # its spread grows alike
        mean = waited + own_mean
        var = ahead_var * stretch**2 + own_var
        # Fenton-Wilkinson: a sum of log-normals as one log-normal of the same mean and
        # variance; its quantile.
        sigma2 = math.log(1.0 + var / mean**2)
        mu = math.log(mean) - sigma2 / 2
        # the storm's pace stretches all of it at once: its uncertainty adds, whole
        spread = math.sqrt(sigma2 + estimator.pace_log_variance)
        quoted = _after(self.base, fixed + math.exp(mu + spread * _Z.inv_cdf(q)))
        return quoted, _after(self.base, fixed + math.exp(mu))
