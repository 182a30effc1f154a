"""Follow-up jobs: one trigger definition, two clocks.

The runner describes every job by an id, an APScheduler trigger and a JSON ``spec``; a
scheduler calls back ``runner.run_job(job_id, spec, fired_at)`` when it is due.

* `LiveScheduler` hands the jobs to APScheduler's `BackgroundScheduler` with a SQLAlchemy
  (SQLite) job store, or APScheduler's `RedisJobStore` (`LiveScheduler.redis`). Job ids are
  derived from (playbook, activation, step), and every add *replaces* a job of the same id,
  so a restart that re-adds its jobs neither drops nor doubles them; jobs missed while the
  process was down run once on start (``coalesce``) when within the grace time. The callback
  is found through a module-level registry because a persisted job must name a plain
  importable function.
* `EventTimeScheduler` (drills, tests) asks the *same* triggers for their next fire times
  and fires them as event time passes (`due`), so a drill shows exactly what live would
  schedule — hours of storm in seconds.
"""

from __future__ import annotations

import contextlib
import heapq
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

Callback = Callable[[str, dict[str, Any], datetime], None]


def every(minutes: float, start: datetime) -> IntervalTrigger:
    """Fire every ``minutes`` from ``start`` + ``minutes`` (not at ``start`` itself)."""
    step = timedelta(minutes=minutes)
    return IntervalTrigger(seconds=int(step.total_seconds()), start_date=start + step, timezone=UTC)


def once(at: datetime) -> DateTrigger:
    """Fire once at ``at``."""
    return DateTrigger(run_date=at, timezone=UTC)


@dataclass(frozen=True)
class ScheduledJob:
    """A job as a scheduler reports it."""

    id: str
    next_fire: datetime | None
    spec: dict[str, Any]


class Scheduler(Protocol):
    """What the runner needs from a scheduler."""

    def start(self, callback: Callback) -> None: ...

    def add(self, job_id: str, trigger: BaseTrigger, spec: dict[str, Any]) -> datetime | None: ...

    def remove(self, job_id: str) -> None: ...

    def jobs(self) -> list[ScheduledJob]: ...

    def due(self, until: datetime) -> Iterator[tuple[datetime, str, dict[str, Any]]]: ...

    def stop(self) -> None: ...


#: Longest stretch of event time whose missed runs are each replayed (see `due`).
MAX_CATCH_UP = timedelta(hours=48)


class EventTimeScheduler:
    """Fires triggers as event time passes (see the module docstring)."""

    def __init__(self) -> None:
        self._jobs: dict[str, tuple[BaseTrigger, dict[str, Any], datetime | None]] = {}
        self._heap: list[tuple[datetime, int, str]] = []
        self._serial = 0
        self.now: datetime | None = None

    def start(self, callback: Callback) -> None:
        """Nothing to start: `due` drives the jobs."""

    def add(self, job_id: str, trigger: BaseTrigger, spec: dict[str, Any]) -> datetime | None:
        """Add or replace ``job_id``; returns its first fire time."""
        now = self.now or datetime.min.replace(tzinfo=UTC)
        first: datetime | None = trigger.get_next_fire_time(None, now)
        self._jobs[job_id] = (trigger, spec, first)
        if first is not None:
            self._push(first, job_id)
        return first

    def _push(self, at: datetime, job_id: str) -> None:
        self._serial += 1
        heapq.heappush(self._heap, (at, self._serial, job_id))

    def remove(self, job_id: str) -> None:
        """Forget ``job_id`` (stale heap entries are skipped)."""
        self._jobs.pop(job_id, None)

    def jobs(self) -> list[ScheduledJob]:
        """Jobs with their next fire times."""
        return [ScheduledJob(i, nxt, spec) for i, (_, spec, nxt) in sorted(self._jobs.items())]

    def due(self, until: datetime) -> Iterator[tuple[datetime, str, dict[str, Any]]]:
        """Jobs due up to ``until``, in fire-time order; jobs added while iterating count."""
        while self._heap and self._heap[0][0] <= until:
            at, _, job_id = heapq.heappop(self._heap)
            job = self._jobs.get(job_id)
            if job is None or job[2] != at:
                continue  # removed or replaced since it was pushed
            trigger, spec, _ = job
            following = trigger.get_next_fire_time(at, at)
            if following is not None and until - following > MAX_CATCH_UP:
                # A jump in event time longer than any drill's quiet stretch (a signal stamped
                # months after the storm being replayed) coalesces the missed runs, as the live
                # scheduler does, instead of replaying every one-minute tick in between.
                following = trigger.get_next_fire_time(None, until)
            self._jobs[job_id] = (trigger, spec, following)
            if following is None:
                del self._jobs[job_id]
            else:
                self._push(following, job_id)
            self.now = at
            yield at, job_id, spec
        if self.now is None or until > self.now:
            self.now = until

    def stop(self) -> None:
        """Nothing to stop."""


# -- live ---------------------------------------------------------------------------------------

_CALLBACKS: dict[str, Callback] = {}
_CALLBACKS_LOCK = threading.Lock()


def fire(name: str, job_id: str, spec: dict[str, Any]) -> None:
    """The function every persisted job names: hands the job to its registered runner."""
    with _CALLBACKS_LOCK:
        callback = _CALLBACKS.get(name)
    if callback is not None:
        callback(job_id, spec, datetime.now(UTC))


class LiveScheduler:
    """APScheduler `BackgroundScheduler` with a persistent job store: the SQLite file
    ``path``, or any APScheduler job store passed as ``jobstore`` (see `redis`).

    ``name`` keys the callback registry: one per runner in a process.
    """

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        name: str = "playbooks",
        grace_s: int = 600,
        jobstore: Any = None,
    ) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        if (path is None) == (jobstore is None):
            raise ValueError("LiveScheduler: give exactly one of path and jobstore")
        if jobstore is None:
            from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

            jobstore = SQLAlchemyJobStore(url=f"sqlite:///{Path(str(path))}")
        self.name = name
        self.jobstore = jobstore
        self.scheduler = BackgroundScheduler(
            jobstores={"default": jobstore},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace_s},
            timezone=UTC,
        )

    @classmethod
    def redis(
        cls,
        client_or_url: Any,
        *,
        prefix: str = "outage",
        name: str = "playbooks",
        grace_s: int = 600,
    ) -> LiveScheduler:
        """Jobs in Redis: APScheduler's `RedisJobStore` on the keys
        `outage.redisstore.keys.PlaybookKeys` (``PREFIX:{playbooks}:jobs`` and
        ``:run_times``). ``client_or_url`` is a ``redis.Redis`` (used as it is) or a
        ``redis://`` URL. One Redis server, not a Redis Cluster (the job store's pipelines
        are plain ``MULTI``s)."""
        from apscheduler.jobstores.redis import RedisJobStore

        from outage.redisstore.keys import PlaybookKeys

        keys = PlaybookKeys(prefix)
        store = RedisJobStore(jobs_key=keys.jobs, run_times_key=keys.run_times)
        if isinstance(client_or_url, str):
            import redis

            store.redis = redis.Redis.from_url(client_or_url)
        else:
            store.redis = client_or_url
        return cls(name=name, grace_s=grace_s, jobstore=store)

    def start(self, callback: Callback) -> None:
        """Register the runner's callback, then start (persisted jobs resume)."""
        with _CALLBACKS_LOCK:
            _CALLBACKS[self.name] = callback
        self.scheduler.start()

    def add(self, job_id: str, trigger: BaseTrigger, spec: dict[str, Any]) -> datetime | None:
        """Add or replace ``job_id``."""
        job = self.scheduler.add_job(
            fire, trigger=trigger, args=[self.name, job_id, spec], id=job_id, replace_existing=True
        )
        return getattr(job, "next_run_time", None)

    def remove(self, job_id: str) -> None:
        """Remove ``job_id`` if it exists."""
        from apscheduler.jobstores.base import JobLookupError

        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(job_id)

    def jobs(self) -> list[ScheduledJob]:
        """Jobs with their next fire times."""
        return [
            ScheduledJob(job.id, job.next_run_time, job.args[2])
            for job in self.scheduler.get_jobs()
        ]

    def due(self, until: datetime) -> Iterator[tuple[datetime, str, dict[str, Any]]]:
        """Live jobs fire by themselves on the scheduler's thread."""
        return iter(())

    def stop(self) -> None:
        """Stop the scheduler; persisted jobs stay for the next start."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        with _CALLBACKS_LOCK:
            _CALLBACKS.pop(self.name, None)
