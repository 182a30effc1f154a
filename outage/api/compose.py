"""The composition root: one engine runtime with notify and playbooks subscribed.

::

    services = compose(network, state_dir=Path("out/serve"))
    services.start()                 # pumps, playbook scheduler, SMS sender
    app = create_app(services.runtime, settings, keys, services=services)
    ...
    services.stop()

Notify and the playbook runner each sit behind an `EventPump`, so neither slows intake; both
keep a high-water mark, so the journal's replay at start-up hands them only what they have not
handled. Playbook rule-set switches are queued and submitted by the playbook pump after each
burst (a listener must not submit to the engine it is listening to).

``clock="event"`` runs playbook follow-ups and SMS timing on the engine's event time (the demo
and drills replay hours in minutes); ``clock="wall"`` is the live service (APScheduler with a
persistent job store).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from grid.errors import AssetNotFound
from notify.channels.base import Channel
from notify.channels.file import FileChannel
from notify.config import load_config
from notify.dispatch import run_sender
from notify.notifier import Notifier
from notify.store import SqliteStore
from outage.bootstrap import Network, open_journal
from outage.ivr import CallerQuery
from outage.rules import Rules, load_rules
from outage.simulate import premise_points
from playbooks.drill import situation_for
from playbooks.live import QueuedRuleSetSwitch, live_runner
from playbooks.loader import LIBRARY, load_playbooks
from playbooks.ports import AnnouncementBoard, HttpWebhook, Ports
from playbooks.runner import PlaybookRunner
from playbooks.scheduler import EventTimeScheduler
from playbooks.store import RunnerStore

from .ports import FileEscalation, FilePager, NotifySmsPush
from .pump import EventPump
from .runtime import Runtime

Clock = Literal["wall", "event"]


@dataclass
class Services:
    """Everything one service process runs (see the module docstring)."""

    runtime: Runtime
    notifier: Notifier
    runner: PlaybookRunner
    board: AnnouncementBoard
    pumps: dict[str, EventPump]
    pager: FilePager
    escalation: FileEscalation
    rule_switch: QueuedRuleSetSwitch
    clock: Clock
    sms_outbox: Path
    _stop: threading.Event = field(default_factory=threading.Event)
    _sender: threading.Thread | None = None

    def start(self, *, sender: bool = True) -> None:
        """Start the pumps, the playbook scheduler and (wall clock) the SMS sender."""
        for pump in self.pumps.values():
            pump.start()
        self.runner.start()
        if sender and self.clock == "wall" and self.notifier.dispatcher is not None:
            self._sender = threading.Thread(
                target=run_sender, args=(self.notifier.dispatcher, self._stop), daemon=True
            )
            self._sender.start()

    def settle(self, timeout: float = 60.0) -> bool:
        """Wait until notify and playbooks have handled every event submitted so far."""
        return all(pump.wait_idle(timeout) for pump in self.pumps.values())

    def stop(self) -> None:
        """Drain the pumps, stop the scheduler and the sender (state is checkpointed)."""
        for pump in self.pumps.values():
            pump.stop()
        self._stop.set()
        if self._sender is not None:
            self._sender.join(timeout=10)
        self.runner.stop()

    def event_time(self) -> datetime:
        """The engine's clock (the demo's storm time), or now before the first signal."""
        return self.runtime.engine.now or datetime.now(UTC)

    def sms_counts(self) -> dict[str, int]:
        """Outbox messages by status, plus ``decided`` (all of them)."""
        counts = self.notifier.store.counts()
        return {"decided": sum(counts.values()), **counts}


def compose(
    network: Network,
    *,
    state_dir: Path,
    journal: bool = True,
    rules: Rules | Path | None = None,
    playbook_paths: list[Path] | None = None,
    notify_config: Path | None = None,
    channel: Channel | None = None,
    clock: Clock = "wall",
    tz: str = "Asia/Shanghai",
) -> Services:
    """Wire the engine, notify and playbooks over ``network`` with state in ``state_dir``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    if not isinstance(rules, Rules):
        rules = load_rules(rules)
    board = AnnouncementBoard()
    notify_pump = EventPump("notify")
    playbook_pump = EventPump("playbooks")
    runtime = Runtime(
        network,
        open_journal(state_dir / "journal.sqlite") if journal else None,
        rules=rules,
        tz=tz,
        announcements=lambda substation: [
            {"id": a.id, "message": a.message, "etr": a.etr.isoformat() if a.etr else None}
            for a in board.for_area(substation)
        ],
        listeners=[notify_pump.offer, playbook_pump.offer],
    )

    def now() -> datetime:
        return (runtime.engine.now or datetime.now(UTC)) if clock == "event" else datetime.now(UTC)

    sms_outbox = state_dir / "sms-outbox.jsonl"
    notifier = Notifier(
        network.topology,
        network.tables.customers,
        load_config(notify_config),
        SqliteStore(state_dir / "notify.sqlite"),
        channel or FileChannel(sms_outbox),
        submit_call=lambda call: runtime.submit([call]),
        status_for_phone=_status_for_phone(runtime),
        premise_xy=premise_points(network.tables),
    )
    notify_pump.consume = notifier.on_event

    # A playbook's rule-set switch answers an engine event: stamp it with event time, so a
    # storm replayed into a live service is not pulled forward to the wall clock.
    switch = QueuedRuleSetSwitch(clock=lambda: runtime.engine.now or datetime.now(UTC))
    pager = FilePager(state_dir / "pages.jsonl", now)
    escalation = FileEscalation(state_dir / "escalations.jsonl", now)
    ports = Ports(
        pager=pager,
        ivr=board,
        sms=NotifySmsPush(notifier, network.topology, now),
        escalation=escalation,
        rule_set=switch,
        webhook=HttpWebhook(),
    )
    playbooks = load_playbooks(playbook_paths or [LIBRARY])
    if clock == "wall":
        runner = live_runner(playbooks, network, ports, state_dir / "playbooks.sqlite", rules=rules)
    else:
        runner = PlaybookRunner(
            playbooks,
            situation_for(network, rules),
            ports,
            store=RunnerStore(state_dir / "playbooks.sqlite"),
            scheduler=EventTimeScheduler(),
        )
    playbook_pump.consume = runner.on_event
    playbook_pump.after_batch = _after_playbooks(runtime, runner, switch)
    return Services(
        runtime=runtime,
        notifier=notifier,
        runner=runner,
        board=board,
        pumps={"notify": notify_pump, "playbooks": playbook_pump},
        pager=pager,
        escalation=escalation,
        rule_switch=switch,
        clock=clock,
        sms_outbox=sms_outbox,
    )


def _after_playbooks(
    runtime: Runtime, runner: PlaybookRunner, switch: QueuedRuleSetSwitch
) -> Callable[[], None]:
    """After each burst: submit queued rule-set switches, publish new audit rows live."""

    def after() -> None:
        commands = switch.drain()
        if commands:
            runtime.submit(commands)
        runtime.publish_playbook_audit(runner)

    return after


def _status_for_phone(runtime: Runtime) -> Callable[[str], str | None]:
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

        return answer["message"].get(language) or answer["message"]["en"]

    return status
