"""ETR estimates: from repair history for one order, from the crews' workload in a storm.

Normal weather, one order at a time (`Estimator.single`):

* crew on site — on-site time + the quoted quantile of the ``repair`` time, conditional on
  how long the repair has already run;
* crew on its way (and its position known) — its arrival (straight-line travel from where it
  was) + the quoted quantile of the ``repair`` time;
* otherwise — the order's opening + the quoted quantile of the whole ``outage`` time,
  conditional on the time already passed.

In a storm (`Estimator.plan`), orders wait for crews: the waiting orders are taken in the
dispatch order (most customers first, or oldest first) and each is given to the crew that can
be there first — when it is free, plus travel from where its last job was. A crew's queue of
work is uncertain, so its finishing time is the sum of log-normal repair times, approximated
by one log-normal with the same mean and variance (Fenton-Wilkinson), and the ETR quoted is its
quantile. Busy crews are free when their current order's expected repair ends (or at the
ETR an officer or the crew gave for it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import NormalDist
from zoneinfo import ZoneInfo

from outage.restoration.config import RestorationRules
from outage.restoration.crews import CrewState
from outage.restoration.history import Cell, RepairHistory, period_of
from outage.restoration.orders import WorkOrder
from outage.restoration.travel import Routing

_Z = NormalDist()


@dataclass(frozen=True, slots=True)
class Estimate:
    """An ETR and what it stands on (shown to the duty officer)."""

    etr: datetime
    basis: str


def _minutes(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60


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

    def _cell(self, measure: str, order: WorkOrder, weather: str) -> Cell:
        key = (order.kind, order.cause, period_of(order.opened_at, self.zone), weather)
        return self.history.cell(measure, key)  # type: ignore[arg-type]

    def travel(self, crew: CrewState, order: WorkOrder) -> float:
        """Minutes for ``crew`` to reach ``order`` from where it was last seen."""
        if crew.lonlat is None:
            return 0.0
        speed = self.rules.sla[order.area_class].speed_kmh  # type: ignore[index]
        return self.routing.minutes(crew.lonlat, order.lonlat, speed)

    def single(
        self, order: WorkOrder, crew: CrewState | None, weather: str, now: datetime
    ) -> Estimate:
        """One order's ETR from its own state (module docstring)."""
        if order.on_site_at is not None:
            cell = self._cell("repair", order, weather)
            elapsed = _minutes(order.on_site_at, now)
            etr = _after(order.on_site_at, cell.quantile(self.q, elapsed))
            return Estimate(etr, f"crew on site, {weather} repair times")
        if crew is not None and crew.lonlat is not None:
            left = order.en_route_at or order.dispatched_at or now
            arrival = max(now, _after(left, self.travel(crew, order)))
            cell = self._cell("repair", order, weather)
            return Estimate(
                _after(arrival, cell.quantile(self.q)),
                f"crew {crew.crew.id} on its way, {weather} repair times",
            )
        cell = self._cell("outage", order, weather)
        elapsed = _minutes(order.opened_at, now)
        etr = _after(order.opened_at, cell.quantile(self.q, elapsed))
        return Estimate(etr, f"{weather} restoration history of {order.kind} outages")

    def plan(
        self,
        orders: Iterable[WorkOrder],
        crews: Iterable[CrewState],
        fixed: Mapping[str, datetime],
        now: datetime,
        on_shift: Mapping[str, bool],
    ) -> dict[str, Estimate]:
        """ETRs of every open order in a storm (module docstring). ``fixed`` holds the ETRs an
        officer or crew gave, by order id; ``on_shift`` says which crews work now."""
        by_id = {o.id: o for o in orders}
        out: dict[str, Estimate] = {}
        queues: dict[str, _Queue] = {}
        for crew in crews:
            if crew.status == "off_shift" or not on_shift.get(crew.crew.id, True):
                continue
            queue = _Queue(crew, now, crew.lonlat)
            order = by_id.get(crew.order or "") if crew.busy else None
            if order is not None:
                out[order.id] = self.single(order, crew, "storm", now)
                queue.busy_with(order, fixed.get(order.id), self, now)
            queues[crew.crew.id] = queue
        waiting = [o for o in by_id.values() if o.crew is None or o.crew not in queues]
        if self.rules.storm_dispatch == "customers":
            waiting.sort(key=lambda o: (-o.customers, o.opened_at, o.id))
        else:
            waiting.sort(key=lambda o: (o.opened_at, o.id))
        for position, order in enumerate(waiting, 1):
            if order.id in out:
                continue
            capable = [q for q in queues.values() if q.crew.crew.can_repair(order.skill)]
            if not capable:
                out[order.id] = self.single(order, None, "storm", now)
                continue
            best = min(capable, key=lambda q: (q.start_for(order, self), q.crew.crew.id))
            start = best.start_for(order, self)
            repair = self._cell("repair", order, "storm")
            etr = best.take(order, start, repair, self.q)
            out[order.id] = Estimate(
                etr, f"storm queue: #{position} waiting, crew {best.crew.crew.id} next free"
            )
        return out


@dataclass
class _Queue:
    """One crew's planned work: when it is free (as a mean and variance of the work still
    ahead of it, measured from ``base``) and where its last job is."""

    crew: CrewState
    base: datetime
    lonlat: tuple[float, float] | None
    mean: float = 0.0  # minutes of work ahead, expected
    var: float = 0.0

    def busy_with(
        self, order: WorkOrder, fixed: datetime | None, estimator: Estimator, now: datetime
    ) -> None:
        """The crew's current order: it is free once that repair is done."""
        self.lonlat = order.lonlat
        if fixed is not None:
            self.mean, self.var = max(_minutes(now, fixed), 0.0), 0.0
            return
        repair = estimator._cell("repair", order, "storm")
        if order.on_site_at is not None:
            self.mean = repair.remaining_mean(_minutes(order.on_site_at, now))
        else:
            self.mean = estimator.travel(self.crew, order) + repair.mean
        self.var = repair.variance

    def start_for(self, order: WorkOrder, estimator: Estimator) -> float:
        """Expected minutes from ``base`` until this crew could be at ``order``."""
        travel = 0.0
        if self.lonlat is not None:
            speed = estimator.rules.sla[order.area_class].speed_kmh  # type: ignore[index]
            travel = estimator.routing.minutes(self.lonlat, order.lonlat, speed)
        return self.mean + travel

    def take(self, order: WorkOrder, start: float, repair: Cell, q: float) -> datetime:
        """Queue ``order`` (the crew there ``start`` minutes from base); its quoted ETR."""
        ahead_mean, ahead_var = self.mean, self.var
        travel = start - ahead_mean
        self.mean = start + repair.mean
        self.var = ahead_var + repair.variance
        self.lonlat = order.lonlat
        if ahead_var <= 0:  # nothing uncertain ahead: a known start and one repair
            return _after(self.base, start + repair.quantile(q))
        # Fenton-Wilkinson: the work ahead plus this repair as one log-normal.
        mean = ahead_mean + repair.mean
        sigma2 = math.log(1.0 + (ahead_var + repair.variance) / mean**2)
        mu = math.log(mean) - sigma2 / 2
        return _after(self.base, travel + math.exp(mu + math.sqrt(sigma2) * _Z.inv_cdf(q)))
