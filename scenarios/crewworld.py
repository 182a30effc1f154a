"""The crew world: when each fault is repaired, decided by simulated crews.

One discrete-event simulation in whole seconds since the storm start, over the faults of
`scenarios.faults` (their places and starts; their drawn durations are not used):

1. **The utility learns of a fault** at its first report — the first call about it (drawn per
   episode, `scenarios.keyed`), the first delivered last gasp, or its SCADA open, whichever
   comes first — and knows it as a job ``dispatch_delay`` later. Faults nobody reports are
   found by the crews: a fault still keeping customers dark below an asset just restored is
   noticed ``child_found`` after that restore, and any fault at all is found by a patrol
   ``unreported`` after it began (both without a dispatch delay: the finder is the utility).
2. **The dispatcher** (`scenarios.dispatch`) gives the job to a crew by its own policy, now or
   when one is free.
3. **The crew** rolls ``mobilise`` after dispatch, drives great-circle distance × a
   ``road_factor`` at ``speed_kmh`` (both drawn per job) to the asset (the device that opened
   or the failed transformer; a point it lacks is taken from the nearest device above with
   one), spends ``assess`` finding and isolating the fault, and repairs it in a time drawn by
   kind (``repair.section`` / ``repair.transformer`` / ``repair.nested``; at least a minute).
   The restore is the end of the repair; the crew is then free where it stands.
4. **Nested pairs** (`NestedSpec`): ``child_first`` — the crew on the parent's job repairs the
   child first (restored while the parent is still open, as today) and then the parent, when
   the child has blown by the time the repair begins; ``parent_first`` — the parent's job is
   the parent alone, and the child is a job of its own once it is reported (its customers call
   again when the parent is restored) or noticed (``child_found``).

Every draw is per fault, made up front from the crews' own stream, so the repair of fault 3 is
the same whichever crew gets it and whatever the queue looked like.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from scenarios.crewspec import SKILLS, CrewSpec
from scenarios.dispatch import (
    EARTH_KM,
    Assignment,
    Crew,
    Dispatcher,
    Job,
    Point,
    ShiftClock,
    great_circle_km,
)
from scenarios.faults import MINUTE, Drawn
from scenarios.keyed import NEVER, KeyedReports
from scenarios.physics import Grid

FloatArray = npt.NDArray[np.float64]
#: Order of simultaneous events: restores first (a call at the second power returns is not
#: made), then crews freed, jobs known, reports, and wake-ups.
_RESTORE, _FREE, _KNOWN, _DETECT, _WAKE = range(5)


@dataclass(frozen=True)
class Repair:
    """One fault's way through the crew world (seconds since the storm start)."""

    fault: int
    crew: str
    found_by: str  # call | meter | scada | crew | patrol
    reported: int
    known: int
    dispatched: int
    en_route: int
    on_site: int
    repair_start: int
    restore: int
    origin: Point | None  # where the crew set off from
    where: Point | None  # where it worked
    with_parent: int | None = None  # repaired on its parent's job (child_first)


@dataclass
class Result:
    """What the crew world decided."""

    drawn: list[Drawn]  # the faults with their crew-decided ends
    repairs: list[Repair]  # one per fault, in fault order
    crews: list[Crew]  # the roster (depots as drawn)


@dataclass(frozen=True)
class _Draws:
    delay: FloatArray
    mobilise: FloatArray
    road: FloatArray
    speed: FloatArray
    fallback: FloatArray
    assess: FloatArray
    repair: FloatArray
    found: FloatArray
    unreported: FloatArray


def build_crews(
    grid: Grid, feeder: int, spec: CrewSpec, origin: datetime, rng: np.random.Generator
) -> list[Crew]:
    """The roster: given members first, then default crews; depots not given are drawn
    within ``depot_km`` of a random located asset of the storm's feeder."""
    pool = _located_assets(grid, feeder)
    zone = ZoneInfo(spec.timezone)
    ids = spec.crew_ids()
    crews = []
    for k in range(spec.count):
        member = spec.members[k] if k < len(spec.members) else None
        depot: Point | None = None
        if member is not None and member.depot is not None:
            depot = (member.depot.lon, member.depot.lat)
        elif len(pool):
            base = pool[int(rng.integers(len(pool)))]
            depot = _offset(
                (float(base[0]), float(base[1])), spec.depot_km, rng.random(), rng.random()
            )
        shift = (member.shift if member is not None else None) or spec.shift
        clock = None
        if shift is not None:
            start, end = shift.times()
            clock = ShiftClock(start, end, zone, origin)
        skills = frozenset(member.skills) if member and member.skills else SKILLS
        crews.append(
            Crew(
                id=ids[k],
                name=(member.name if member and member.name else None) or f"Crew {k + 1}",
                depot=depot,
                skills=skills,
                shift=clock,
            )
        )
    return crews


def simulate(
    grid: Grid,
    drawn: list[Drawn],
    crews: list[Crew],
    spec: CrewSpec,
    reports: KeyedReports,
    scada_seen: list[int | None],
    rng: np.random.Generator,
) -> Result:
    """Run the crew world over ``drawn`` (module docstring)."""
    return _World(grid, drawn, crews, spec, reports, scada_seen, rng).run()


class _World:
    def __init__(
        self,
        grid: Grid,
        drawn: list[Drawn],
        crews: list[Crew],
        spec: CrewSpec,
        reports: KeyedReports,
        scada_seen: list[int | None],
        rng: np.random.Generator,
    ) -> None:
        self.grid, self.drawn, self.spec, self.reports = grid, drawn, spec, reports
        self.scada_seen = scada_seen
        n = len(drawn)
        self.draws = _draw(spec, drawn, rng)
        self.starts = np.array([f.start for f in drawn], dtype=np.int64)
        self.ends = np.full(n, NEVER, dtype=np.int64)
        self.reported: dict[int, tuple[int, str]] = {}
        self.repairs: dict[int, Repair] = {}
        self.dispatcher = Dispatcher(crews, spec.policy)
        self.crews = crews
        self.heap: list[tuple[int, int, int, tuple[Any, ...]]] = []
        self.seq = 0
        self.seen_episodes: set[tuple[int, int, int]] = set()
        self.children: dict[int, list[int]] = {i: [] for i in range(n)}
        for i, f in enumerate(drawn):
            if f.nested_under is not None:
                self.children[f.nested_under].append(i)
        self.customers = [
            int(grid.position_customers[slice(*grid.asset_range(f.asset))].sum()) for f in drawn
        ]
        self.where = [_asset_point(grid, f.asset) for f in drawn]
        self.skill = ["transformer" if f.asset >= grid.n_devices else "line" for f in drawn]

    def push(self, t: int, kind: int, *payload: Any) -> None:
        heapq.heappush(self.heap, (t, kind, self.seq, payload))
        self.seq += 1

    def run(self) -> Result:
        for i, f in enumerate(self.drawn):
            seen = self.scada_seen[i]
            if seen is not None:
                self.push(seen, _DETECT, i, "scada", None)
            self.push(f.start + _sec(self.draws.unreported[i]), _DETECT, i, "patrol", None)
        self._new_episodes(0)
        guard = 0
        while self.heap:
            guard += 1
            if guard > 100 * (len(self.drawn) + 10) ** 2:  # pragma: no cover - a bug, not data
                raise RuntimeError("the crew world does not settle")
            t, kind, _, payload = heapq.heappop(self.heap)
            if kind == _RESTORE:
                self._restored(t, *payload)
            elif kind == _FREE:
                crew, where = payload
                self.dispatcher.release(crew, t, where)
            elif kind == _KNOWN:
                (i,) = payload
                reported = self.reported[i][0]
                job = Job(i, self.skill[i], self.customers[i], reported, t, self.where[i])
                self.dispatcher.add(job)
            elif kind == _DETECT:
                self._detect(t, *payload)
            self._assign(t)
        missing = [i for i in range(len(self.drawn)) if i not in self.repairs]
        assert not missing, f"faults never repaired: {missing}"
        drawn = [replace(f, end=int(self.ends[i])) for i, f in enumerate(self.drawn)]
        return Result(drawn, [self.repairs[i] for i in range(len(drawn))], self.crews)

    # -- the utility learns ---------------------------------------------------------------

    def _detect(self, t: int, i: int, how: str, episode: tuple[int, int, int] | None) -> None:
        if i in self.reported or self.ends[i] != NEVER:
            return
        if episode is not None:  # a call: is its episode still what the world lives through?
            s, start, cause = episode
            if not any(
                (a, c) == (start, cause) for a, _, c, _ in self.reports.episodes(s, self.ends)
            ):
                return
        self.reported[i] = (t, how)
        delay = _sec(self.draws.delay[i]) if how in ("call", "meter", "scada") else 0
        self.push(t + delay, _KNOWN, i)

    def _new_episodes(self, t: int, signatures: list[int] | None = None) -> None:
        """Schedule the first report of every episode not seen yet (given the ends known at
        ``t``): its first potential call, and its last gasp when the episode begins a dark
        interval."""
        rep = self.reports
        for s in range(len(rep.members)) if signatures is None else signatures:
            for start, _, cause, lost in rep.episodes(s, self.ends):
                key = (s, start, cause)
                if key in self.seen_episodes or start < t:
                    continue
                self.seen_episodes.add(key)
                first = rep.potential(s, start, cause).first
                if first is not None:
                    self.push(first, _DETECT, cause, "call", key)
                if lost and rep.gasps_sent(s, start):
                    self.push(start, _DETECT, cause, "meter", None)

    def _restored(self, t: int, i: int) -> None:
        self.ends[i] = t
        self._new_episodes(t, self.reports.signatures_of[i])
        grid, asset = self.grid, self.drawn[i].asset
        still_open = [g for g, f in enumerate(self.drawn) if self.ends[g] == NEVER and f.start <= t]
        for g in still_open:
            below = self.drawn[g].asset
            if not grid.is_below(below, asset):
                continue
            covered = any(h != g and grid.is_below(below, self.drawn[h].asset) for h in still_open)
            if not covered:  # nothing else keeps its area dark: the crew sees it still out
                self.push(t + _sec(self.draws.found[g]), _DETECT, g, "crew", None)

    # -- crews ----------------------------------------------------------------------------

    def _assign(self, t: int) -> None:
        if self.heap and self.heap[0][0] == t:
            return  # settle the instant first
        for assignment in self.dispatcher.assign(t):
            self._work(assignment)
        wake = self.dispatcher.wake_up(t)
        if wake is not None and not any(e[0] == wake and e[1] == _WAKE for e in self.heap):
            self.push(wake, _WAKE)

    def _work(self, a: Assignment) -> None:
        d, i = self.draws, a.job.fault
        en_route = a.t + _sec(d.mobilise[i])
        on_site = en_route + _travel(great_circle_km(a.origin, a.job.where), d, i)
        repair_start = on_site + _sec(d.assess[i])
        reported, how = self.reported[i]
        end = repair_start
        bundled = []
        if self.drawn[i].nested_under is None:
            for c in self.children[i]:
                child = self.drawn[c]
                if (
                    _child_first(self.drawn[i], child)
                    and child.start <= repair_start
                    and c not in self.reported
                ):
                    end = max(end, child.start) + _repair(d.repair[c])
                    self.reported[c] = (repair_start, "crew")
                    bundled.append((c, end))
        end += _repair(d.repair[i])
        self.repairs[i] = Repair(
            fault=i,
            crew=a.crew.id,
            found_by=how,
            reported=reported,
            known=a.job.known,
            dispatched=a.t,
            en_route=en_route,
            on_site=on_site,
            repair_start=repair_start,
            restore=end,
            origin=a.origin,
            where=a.job.where,
        )
        for c, restore in bundled:
            self.repairs[c] = replace(
                self.repairs[i],
                fault=c,
                found_by="crew",  # found on site: every step up to its repair is then
                reported=repair_start,
                known=repair_start,
                dispatched=repair_start,
                en_route=repair_start,
                on_site=repair_start,
                restore=restore,
                with_parent=i,
            )
            self.push(restore, _RESTORE, c)
        self.push(end, _RESTORE, i)
        self.push(end, _FREE, a.crew, a.job.where)


def _travel(km: float | None, d: _Draws, i: int) -> int:
    """Seconds of driving for job ``i``: road distance at the trip's speed, or the fallback
    when an end of the trip has no coordinates."""
    if km is None:
        return _sec(d.fallback[i])
    return round(km * float(d.road[i]) / float(d.speed[i]) * 3600.0)


def _child_first(parent: Drawn, child: Drawn) -> bool:
    """The pair's restore order as `scenarios.faults` decided it (its ends say it)."""
    return child.end <= parent.end


def _draw(spec: CrewSpec, drawn: list[Drawn], rng: np.random.Generator) -> _Draws:
    n = len(drawn)
    repair = np.empty(n, dtype=np.float64)
    kinds = [
        "nested" if f.nested_under is not None else f.kind  # section | transformer
        for f in drawn
    ]
    section = spec.repair.section.sample(rng, n)
    transformer = spec.repair.transformer.sample(rng, n)
    nested = spec.repair.nested.sample(rng, n)
    for k, kind in enumerate(kinds):
        repair[k] = {"section": section, "transformer": transformer, "nested": nested}[kind][k]
    return _Draws(
        delay=spec.dispatch_delay.sample(rng, n),
        mobilise=spec.mobilise.sample(rng, n),
        road=spec.road_factor.sample(rng, n),
        speed=np.maximum(spec.speed_kmh.sample(rng, n), 1e-3),
        fallback=spec.travel_fallback.sample(rng, n),
        assess=spec.assess.sample(rng, n),
        repair=repair,
        found=spec.child_found.sample(rng, n),
        unreported=spec.unreported.sample(rng, n),
    )


def _sec(minutes: float) -> int:
    return round(float(minutes) * MINUTE)


def _repair(minutes: float) -> int:
    """A repair takes at least a minute: power never returns in the second it is reported."""
    return max(MINUTE, _sec(minutes))


def _asset_point(grid: Grid, asset: int) -> Point | None:
    """Where a crew works on ``asset``: its own point, else the nearest device above it with
    one (a transformer's feeding device first)."""
    topo = grid.topology
    if asset >= grid.n_devices:
        t = asset - grid.n_devices
        point = _finite(topo.transformer_lonlat, t)
        if point is not None:
            return point
        device = topo.transformer_device[t]
    else:
        device = asset
    while device >= 0:
        point = _finite(topo.device_lonlat, device)
        if point is not None:
            return point
        device = topo.device_parent[device]
    return None


def _finite(points: FloatArray, k: int) -> Point | None:
    if k < 0 or k >= len(points):
        return None
    lon, lat = float(points[k, 0]), float(points[k, 1])
    return (lon, lat) if math.isfinite(lon) and math.isfinite(lat) else None


def _located_assets(grid: Grid, feeder: int) -> FloatArray:
    """Points of the feeder's devices and transformers that have one (else the network's)."""
    topo = grid.topology
    parts = []
    for points, feeders in (
        (topo.device_lonlat, topo.device_feeder),
        (topo.transformer_lonlat, topo.transformer_feeder),
    ):
        if len(points) == len(feeders) and len(points):
            parts.append(points[np.asarray(feeders) == feeder])
    mine = np.concatenate(parts) if parts else np.empty((0, 2))
    mine = mine[np.isfinite(mine).all(axis=1)]
    if len(mine):
        return mine
    everything = [p for p in (topo.device_lonlat, topo.transformer_lonlat) if len(p)]
    if not everything:
        return np.empty((0, 2))
    pool = np.concatenate(everything)
    return pool[np.isfinite(pool).all(axis=1)]


def _offset(base: Point, km: float, u: float, v: float) -> Point:
    """A point uniformly within ``km`` of ``base`` (``u``, ``v`` uniform in [0, 1))."""
    distance = km * math.sqrt(u)
    bearing = 2 * math.pi * v
    lat = base[1] + math.degrees(distance * math.cos(bearing) / EARTH_KM)
    scale = max(math.cos(math.radians(base[1])), 1e-6)
    lon = base[0] + math.degrees(distance * math.sin(bearing) / (EARTH_KM * scale))
    lat = max(-90.0, min(90.0, lat))
    lon = (lon + 180.0) % 360.0 - 180.0
    return (round(lon, 6), round(lat, 6))
