"""The simulated utility's dispatcher: its crews, their shifts, travel, and the job queue.

Pure bookkeeping on whole seconds since the storm start; `scenarios.crewworld` drives it with
the storm's events. The utility's own policy (never the engine's):

* a job waits in the queue from the moment the utility knows of it;
* whenever a crew is free, the queue is read in policy order — ``fifo`` (first reported, first
  served; then fault order) or ``most_customers`` (most customers out first, then fifo) — and
  each job, in turn, goes to the *nearest* free crew that is on shift and has the
  skill (``line`` for a section or device fault, ``transformer`` for a transformer fault); a
  job no free crew can take waits while later ones may go;
* a crew finishes the job it is on even past the end of its shift; a crew that was off shift
  since its last job starts the next one from its depot (it went home).

Distances are great-circle (haversine, mean Earth radius 6371.0088 km) between (lon, lat)
points; a point may be unknown (None), and then the caller's fallback travel time applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

EARTH_KM = 6371.0088
Point = tuple[float, float]  # (lon, lat)


def great_circle_km(a: Point | None, b: Point | None) -> float | None:
    """Haversine distance in km, None when either point is unknown."""
    if a is None or b is None:
        return None
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass
class ShiftClock:
    """A daily shift [start, end) in local time; ``end <= start`` wraps past midnight."""

    start: time
    end: time
    zone: ZoneInfo
    origin: datetime  # the storm start: second 0

    def _local(self, t: int) -> datetime:
        return (self.origin + timedelta(seconds=t)).astimezone(self.zone)

    def on(self, t: int) -> bool:
        """Whether second ``t`` falls within the shift."""
        now = self._local(t).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def next_edge(self, t: int, edge: time) -> int:
        """The first second >= ``t`` at which local time is ``edge``."""
        day = self._local(t).date()
        for k in range(3):
            at = _seconds_at(day + timedelta(days=k), edge, self.zone, self.origin)
            if at >= t:
                return at
        raise AssertionError("a daily time recurs within three days")  # pragma: no cover

    def next_start(self, t: int) -> int:
        """``t`` when on shift, else when the next shift begins."""
        return t if self.on(t) else self.next_edge(t, self.start)

    def went_home(self, since: int, until: int) -> bool:
        """Whether the crew was off shift at some moment of [since, until]."""
        if not self.on(since):
            return True
        return self.next_edge(since, self.end) <= until


def _seconds_at(day: date, at: time, zone: ZoneInfo, origin: datetime) -> int:
    local = datetime.combine(day, at, tzinfo=zone)
    return math.ceil((local - origin).total_seconds())


@dataclass
class Crew:
    """One crew and where it stands in the simulation."""

    id: str
    name: str
    depot: Point | None
    skills: frozenset[str]
    shift: ShiftClock | None = None
    position: Point | None = None
    free_since: int | None = 0  # None: on a job

    def __post_init__(self) -> None:
        if self.position is None:
            self.position = self.depot

    def on_shift(self, t: int) -> bool:
        """Whether the crew may start a job at ``t``."""
        return self.shift is None or self.shift.on(t)


@dataclass(frozen=True)
class Job:
    """A fault the utility knows of and wants repaired."""

    fault: int
    skill: str
    customers: int
    reported: int  # its first report (or when it was found)
    known: int  # when it joined the queue
    where: Point | None


@dataclass(frozen=True)
class Assignment:
    """A job given to a crew at ``t``, with where the crew sets off from."""

    job: Job
    crew: Crew
    t: int
    origin: Point | None


@dataclass
class Dispatcher:
    """The queue and the crews (module docstring)."""

    crews: list[Crew]
    policy: str = "fifo"
    queue: list[Job] = field(default_factory=list)

    def add(self, job: Job) -> None:
        """The utility now knows of ``job``."""
        self.queue.append(job)

    def release(self, crew: Crew, t: int, where: Point | None) -> None:
        """``crew`` is done at ``t`` and stands at ``where`` (unknown: where it was)."""
        crew.free_since = t
        if where is not None:
            crew.position = where

    def _order(self, job: Job) -> tuple[int, int, int]:
        if self.policy == "most_customers":
            return (-job.customers, job.reported, job.fault)
        return (0, job.reported, job.fault)

    def assign(self, t: int) -> list[Assignment]:
        """Give waiting jobs to free crews at ``t`` (module docstring)."""
        out: list[Assignment] = []
        for job in sorted(self.queue, key=self._order):
            free = [
                c
                for c in self.crews
                if c.free_since is not None
                and c.free_since <= t
                and job.skill in c.skills
                and c.on_shift(t)
            ]
            if not free:
                continue
            for crew in free:
                assert crew.free_since is not None
                if crew.shift is not None and crew.shift.went_home(crew.free_since, t):
                    crew.position = crew.depot
            crew = min(free, key=lambda c: (_distance(c.position, job.where), self.crews.index(c)))
            out.append(Assignment(job, crew, t, crew.position))
            crew.free_since = None
            self.queue.remove(job)
        return out

    def wake_up(self, t: int) -> int | None:
        """When waiting jobs could next go because a free crew's shift begins (None: no
        waiting job, or no free crew off shift)."""
        if not self.queue:
            return None
        skills = {j.skill for j in self.queue}
        times = [
            c.shift.next_start(t)
            for c in self.crews
            if c.free_since is not None and c.shift is not None and c.skills & skills
        ]
        later = [x for x in times if x > t]
        return min(later) if later else None


def _distance(a: Point | None, b: Point | None) -> float:
    km = great_circle_km(a, b)
    return math.inf if km is None else km
