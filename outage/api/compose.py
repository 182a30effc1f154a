"""The composition root: one engine runtime with notify and playbooks subscribed.

`bootstrap` wires a service over a `Backend` — where its state lives: `EmbeddedBackend` (one
engine in this process, a SQLite journal and stores in the state dir) or `RedisBackend` (a
stateless API worker over Redis; ``outage worker`` processes run the engines) — with one
`ServiceClock` for everything that asks the time. `compose` and `compose_redis` are the two
spellings of it the CLI and tests use::

    services = compose(network, state_dir=Path("out/serve"))
    services.start()                 # pumps, playbook scheduler, SMS sender
    app = create_app(services.runtime, settings, keys, services=services)
    ...
    services.stop()

Notify and the playbook runner each sit behind an `EventPump`, so neither slows intake; both
keep a high-water mark, so the journal's replay at start-up hands them only what they have not
handled. Playbook rule-set switches are queued and submitted by the playbook pump after each
burst (a listener must not submit to the engine it is listening to).

With the Redis store, `compose_redis` wires the same notify and playbooks around a
`RedisRuntime` (a stateless API worker; ``outage worker`` processes run the engines). The
pumps are then fed by `FeedFollower` threads tailing the global event feed from each consumer's
high-water mark (the feed's sequence numbers are its SSE ids), and an `EffectsLease` in Redis
keeps notify and playbooks to exactly one process::

    services = compose_redis(network, connect("redis://127.0.0.1:6379"), state_dir=...)
    services.start()                 # takes the lease, then pumps, followers, scheduler

``clock="event"`` runs playbook follow-ups and SMS timing on the engine's event time (the demo
and drills replay hours in minutes); ``clock="wall"`` is the live service (APScheduler with a
persistent job store). See `outage.api.clock`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeAlias, TypeVar

from grid.errors import AssetNotFound
from notify.channels.base import Channel
from notify.channels.file import FileChannel
from notify.config import load_config
from notify.dispatch import run_sender
from notify.notifier import Notifier
from notify.store import SqliteStore
from outage.bootstrap import Network, RestorationSetup, open_journal
from outage.events import from_json
from outage.ivr import Announcements, CallerQuery
from outage.rules import Rules, load_rules
from playbooks.live import QueuedRuleSetSwitch, live_runner
from playbooks.loader import LIBRARY, load_playbooks
from playbooks.ports import AnnouncementBoard, HttpWebhook, Ports
from playbooks.runner import PlaybookRunner
from playbooks.scheduler import EventTimeScheduler
from playbooks.situation import Situation
from playbooks.store import RunnerStore

from .clock import Mode, ServiceClock
from .ports import FileEscalation, FilePager, NotifySmsPush
from .pump import EventPump
from .runtime import Listener, Runtime
from .surface import ServiceRuntime

if TYPE_CHECKING:
    from outage.redisstore.connect import Client
    from outage.redisstore.effects import EffectsLease
    from outage.redisstore.feed import EventFeed
    from outage.redisstore.keys import Keyspace
    from outage.redisstore.service import RedisRuntime

#: The runtime of a `Services`: embedded (`compose`) or over Redis (`compose_redis`).
R = TypeVar("R", bound="ServiceRuntime")
R_co = TypeVar("R_co", bound="ServiceRuntime", covariant=True)


@dataclass
class Services(Generic[R]):
    """Everything one service process runs (see the module docstring)."""

    runtime: R
    notifier: Notifier
    runner: PlaybookRunner
    board: AnnouncementBoard
    pumps: dict[str, EventPump]
    pager: FilePager
    escalation: FileEscalation
    rule_switch: QueuedRuleSetSwitch
    clock: ServiceClock
    sms_outbox: Path
    #: Redis store: what feeds the pumps (the embedded runtime's listeners do otherwise).
    followers: list[FeedFollower] = field(default_factory=list)
    #: Redis store: the lease that keeps notify and playbooks to one process.
    lease: EffectsLease | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _sender: threading.Thread | None = None

    def start(self, *, sender: bool = True) -> None:
        """Start the pumps, the playbook scheduler and (wall clock) the SMS sender; with the
        Redis store take the effects lease first and follow the event feed."""
        if self.lease is not None:
            self.lease.acquire()
            self.lease.keep(on_lost=self._lost_lease)
        for pump in self.pumps.values():
            pump.start()
        for follower in self.followers:
            follower.start()
        self.runner.start()
        if sender and self.clock.mode == "wall" and self.notifier.dispatcher is not None:
            self._sender = threading.Thread(
                target=run_sender, args=(self.notifier.dispatcher, self._stop), daemon=True
            )
            self._sender.start()

    def settle(self, timeout: float = 60.0) -> bool:
        """Wait until notify and playbooks have handled every event submitted so far (with
        the Redis store: every event on the feed now)."""
        deadline = time.monotonic() + timeout
        if not all(f.wait_caught_up(deadline) for f in self.followers):
            return False
        return all(pump.wait_idle(timeout) for pump in self.pumps.values())

    def stop(self) -> None:
        """Drain the pumps, stop the scheduler and the sender (state is checkpointed)."""
        for follower in self.followers:
            follower.stop()
        for pump in self.pumps.values():
            pump.stop()
        self._stop.set()
        if self._sender is not None:
            self._sender.join(timeout=10)
        self.runner.stop()
        if self.lease is not None:
            self.lease.release()

    def _lost_lease(self) -> None:
        """Another process runs notify and playbooks now: stop feeding ours."""
        for follower in self.followers:
            follower.stop()

    def event_time(self) -> datetime:
        """The engine's clock (the demo's storm time), or now before the first signal."""
        return self.clock.event()

    def sms_counts(self) -> dict[str, int]:
        """Outbox messages by status, plus ``decided`` (all of them)."""
        counts = self.notifier.store.counts()
        return {"decided": sum(counts.values()), **counts}


#: `Services` over either runtime (what the HTTP app and ``outage serve`` hold).
AnyServices: TypeAlias = "Services[Runtime] | Services[RedisRuntime]"


@dataclass(frozen=True)
class Stores:
    """Where notify and the playbook runner keep their state, when not in the state dir."""

    notify: Any
    runner: Any
    scheduler: Any


class Backend(Protocol[R_co]):
    """Where a service's state lives: what `bootstrap` asks of it."""

    def runtime(
        self,
        rules: Rules,
        announcements: Announcements,
        listeners: list[Listener],
        state_dir: Path,
    ) -> R_co:
        """The runtime (given the rules, the IVR announcements and the pumps' listeners)."""
        ...

    def stores(self, runtime: Any, state_dir: Path) -> Stores | None:
        """Notify's and the playbooks' stores (None: SQLite files in ``state_dir``)."""
        ...

    def attach(self, services: Any) -> None:
        """Anything the backend adds once the services exist (feed followers, a lease)."""
        ...


@dataclass(frozen=True)
class EmbeddedBackend:
    """One engine in this process, its journal and every store in the state dir."""

    network: Network
    journal: bool = True
    tz: str = "Asia/Shanghai"
    migrate_topology: bool = False
    restoration: RestorationSetup | None = None

    def runtime(
        self,
        rules: Rules,
        announcements: Announcements,
        listeners: list[Listener],
        state_dir: Path,
    ) -> Runtime:
        """A `Runtime` whose listeners are the pumps."""
        return Runtime(
            self.network,
            open_journal(state_dir / "journal.sqlite") if self.journal else None,
            rules=rules,
            tz=self.tz,
            announcements=announcements,
            listeners=listeners,
            migrate_topology=self.migrate_topology,
            restoration=self.restoration,
        )

    def stores(self, runtime: Any, state_dir: Path) -> Stores | None:
        """SQLite in the state dir."""
        return None

    def attach(self, services: Any) -> None:
        """Nothing: the runtime's listeners feed the pumps."""


@dataclass(frozen=True)
class RedisBackend:
    """A stateless API worker over Redis: notify and playbooks fed from the global event
    feed, their outbox, dedup log, audit log, state and job store in Redis (so another
    ``--role all`` process can take over with an empty state dir), and an effects lease so
    that only one process acts."""

    network: Network
    client: Client
    keys: Keyspace | None = None
    tz: str = "Asia/Shanghai"
    lease_ms: int = 10_000

    def runtime(
        self,
        rules: Rules,
        announcements: Announcements,
        listeners: list[Listener],
        state_dir: Path,
    ) -> RedisRuntime:
        """A `RedisRuntime` (no engine here to listen to: `attach` feeds the pumps)."""
        from outage.redisstore.service import RedisRuntime

        return RedisRuntime(
            self.network,
            self.client,
            rules=rules,
            tz=self.tz,
            announcements=announcements,
            keys=self.keys,
        )

    def stores(self, runtime: Any, state_dir: Path) -> Stores | None:
        """The outbox, dedup log and consent in Redis; the playbook audit log, state and jobs
        too (a Redis Cluster keeps the jobs in ``state_dir``: APScheduler's Redis job store
        uses plain MULTI pipelines, which a cluster client cannot run)."""
        from redis.cluster import RedisCluster

        from notify.redis_store import RedisNotifyStore
        from playbooks.scheduler import LiveScheduler
        from playbooks.store import RedisRunnerStore

        prefix = runtime.keys.prefix
        scheduler = (
            LiveScheduler(state_dir / "playbooks.jobs.sqlite")
            if isinstance(self.client, RedisCluster)
            else LiveScheduler.redis(self.client, prefix=prefix)
        )
        return Stores(
            RedisNotifyStore(self.client, runtime.keys),
            RedisRunnerStore(self.client, prefix),
            scheduler,
        )

    def attach(self, services: Any) -> None:
        """Followers of the global event feed for both pumps, and the effects lease."""
        from outage.redisstore.effects import EffectsLease

        runtime, notifier, runner = services.runtime, services.notifier, services.runner
        services.followers = [
            FeedFollower(runtime.feed, services.pumps["notify"], lambda: notifier.high_water),
            FeedFollower(runtime.feed, services.pumps["playbooks"], lambda: runner.high_water),
        ]
        services.lease = EffectsLease(self.client, runtime.keys, self.lease_ms)


def compose(
    network: Network,
    *,
    state_dir: Path,
    journal: bool = True,
    rules: Rules | Path | None = None,
    playbook_paths: list[Path] | None = None,
    notify_config: Path | None = None,
    channel: Channel | None = None,
    clock: Mode = "wall",
    tz: str = "Asia/Shanghai",
    migrate_topology: bool = False,
    restoration: RestorationSetup | None = None,
) -> Services[Runtime]:
    """`bootstrap` over the `EmbeddedBackend`; ``migrate_topology`` replays a journal
    written against another topology (see `outage.api.identity`) instead of refusing it."""
    backend = EmbeddedBackend(network, journal, tz, migrate_topology, restoration)
    return bootstrap(
        backend,
        state_dir=state_dir,
        rules=rules,
        playbook_paths=playbook_paths,
        notify_config=notify_config,
        channel=channel,
        clock=clock,
    )


def compose_redis(
    network: Network,
    client: Client,
    *,
    state_dir: Path,
    keys: Keyspace | None = None,
    rules: Rules | Path | None = None,
    playbook_paths: list[Path] | None = None,
    notify_config: Path | None = None,
    channel: Channel | None = None,
    clock: Mode = "wall",
    tz: str = "Asia/Shanghai",
    lease_ms: int = 10_000,
) -> Services[RedisRuntime]:
    """`bootstrap` over the `RedisBackend` (an API worker over Redis). ``Services.start``
    takes the effects lease, so only one such process acts."""
    return bootstrap(
        RedisBackend(network, client, keys, tz, lease_ms),
        state_dir=state_dir,
        rules=rules,
        playbook_paths=playbook_paths,
        notify_config=notify_config,
        channel=channel,
        clock=clock,
    )


def bootstrap(
    backend: Backend[R],
    *,
    state_dir: Path,
    rules: Rules | Path | None = None,
    playbook_paths: list[Path] | None = None,
    notify_config: Path | None = None,
    channel: Channel | None = None,
    clock: Mode = "wall",
) -> Services[R]:
    """Notify and playbooks, each behind an `EventPump`, over the runtime ``backend`` makes,
    with one `ServiceClock` (``clock``: ``wall`` live, ``event`` for replays and drills)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    if not isinstance(rules, Rules):
        rules = load_rules(rules)
    board = AnnouncementBoard()
    notify_pump = EventPump("notify")
    playbook_pump = EventPump("playbooks")

    def announcements(substation: str) -> list[dict[str, Any]]:
        return [
            {"id": a.id, "message": a.message, "etr": a.etr.isoformat() if a.etr else None}
            for a in board.for_area(substation)
        ]

    runtime = backend.runtime(
        rules, announcements, [notify_pump.offer, playbook_pump.offer], state_dir
    )
    network = runtime.network
    service_clock = ServiceClock(clock, lambda: runtime.engine.now)
    now = service_clock.now
    shared = backend.stores(runtime, state_dir)
    sms_outbox = state_dir / "sms-outbox.jsonl"
    notifier = Notifier(
        network.topology,
        network.tables.customers,
        load_config(notify_config),
        shared.notify if shared else SqliteStore(state_dir / "notify.sqlite"),
        channel or FileChannel(sms_outbox),
        submit_call=lambda call: runtime.submit([call]),
        status_for_phone=_status_for_phone(runtime),
        premise_xy=network.tables.premise_points(),
    )
    notify_pump.consume = notifier.on_event

    # A playbook's rule-set switch answers an engine event: stamped with event time.
    switch = QueuedRuleSetSwitch(clock=service_clock.event)
    pager = FilePager(state_dir / "pages.jsonl", now)
    escalation = FileEscalation(state_dir / "escalations.jsonl", now)
    ports = Ports(
        pager=pager,
        ivr=board,
        sms=NotifySmsPush(notifier, network.topology, now, run=notify_pump.call),
        escalation=escalation,
        rule_set=switch,
        webhook=HttpWebhook(),
    )
    playbooks = load_playbooks(playbook_paths or [LIBRARY])
    if shared is not None:
        runner = PlaybookRunner(
            playbooks,
            Situation.for_topology(network.topology, rules),
            ports,
            store=shared.runner,
            scheduler=shared.scheduler,
        )
    elif clock == "wall":
        runner = live_runner(playbooks, network, ports, state_dir / "playbooks.sqlite", rules=rules)
    else:
        runner = PlaybookRunner(
            playbooks,
            Situation.for_topology(network.topology, rules),
            ports,
            store=RunnerStore(state_dir / "playbooks.sqlite"),
            scheduler=EventTimeScheduler(),
        )
    playbook_pump.consume = runner.on_event
    playbook_pump.after_batch = _after_playbooks(runtime, runner, switch)
    services = Services(
        runtime=runtime,
        notifier=notifier,
        runner=runner,
        board=board,
        pumps={"notify": notify_pump, "playbooks": playbook_pump},
        pager=pager,
        escalation=escalation,
        rule_switch=switch,
        clock=service_clock,
        sms_outbox=sms_outbox,
    )
    backend.attach(services)
    return services


def _after_playbooks(
    runtime: ServiceRuntime, runner: PlaybookRunner, switch: QueuedRuleSetSwitch
) -> Callable[[], None]:
    """After each burst: submit queued rule-set switches, publish new audit rows live."""

    def after() -> None:
        commands = switch.drain()
        if commands:
            try:
                runtime.submit(commands)
            except Exception:
                switch.requeue(commands)  # tried again after the next burst
                raise
        runtime.publish_playbook_audit(runner)

    return after


def _status_for_phone(runtime: ServiceRuntime) -> Callable[[str], str | None]:
    """The SMS ``STATUS`` answer: the IVR's message, in the customer's language."""

    def status(phone: str) -> str | None:
        answer = runtime.ivr.answer(CallerQuery(phone=phone))
        if not answer["known_outage"]:
            return None
        language = "zh-CN"
        customers = runtime.network.customers
        if customers is not None and answer["premise"]:
            with suppress(AssetNotFound):  # a premise without accounts: the default language
                language = customers.accounts_of_premise(answer["premise"])[0]["language"]

        messages: dict[str, str] = answer["message"]  # by language
        return messages.get(language) or messages["en"]

    return status


class FeedFollower:
    """Feeds a pump from the Redis global event feed, starting after the consumer's
    high-water mark (read when started), so a restart hands it only what it has not handled;
    the consumer skips anything at or below its mark, so nothing is handled twice."""

    def __init__(self, feed: EventFeed, pump: EventPump, high_water: Callable[[], int]) -> None:
        self.feed = feed
        self.pump = pump
        self.high_water = high_water
        self.last = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Follow the feed in a daemon thread."""
        self.last = self.high_water()
        self._thread = threading.Thread(
            target=self.feed.follow,
            args=(self._offer, self._stop, self.last),
            name=f"feed-{self.pump.name}",
            daemon=True,
        )
        self._thread.start()

    def _offer(self, seq: int, kind: str, body: bytes) -> None:
        self.pump.offer(seq, from_json(kind, body))
        self.last = seq

    def wait_caught_up(self, deadline: float) -> bool:
        """Wait until everything on the feed now has been queued to the pump (False at the
        ``time.monotonic()`` deadline, or when Redis cannot be reached)."""
        from outage.redisstore.errors import StoreError

        try:
            target = self.feed.last_seq()
        except StoreError:
            return False
        while self.last < target:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self) -> None:
        """Stop following (what was queued is still handled by the pump)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
