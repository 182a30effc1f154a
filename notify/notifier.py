"""`Notifier`: the one entry point the service, the demo and playbooks wire up.

::

    notifier = Notifier(topology, customers_table, config, store, channel,
                        submit_call=..., status_for_phone=...)
    host.listeners.append(notifier.on_event)        # decide + enqueue, once per event seq
    notifier.dispatch()                             # or run_sender(notifier.dispatcher, stop)
    notifier.handle_inbound(phone, text, message_id, received_at)   # SMS webhook
    notifier.record_receipt(provider_id, "delivered", at)           # DLR webhook
    notifier.push("...", push_id="pb-17", at=now, incident="INC-000042")  # playbooks

``on_event`` folds the event into notify's own incident projection and decides its messages
(`notify.decide`) in one store transaction together with the event's sequence number (the
high-water mark): an event at or below the mark is ignored, so a restart that replays events
decides each exactly once, and a crash mid-decision decides it again from scratch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from grid.customers import normalise_phone
from grid.topology import Topology
from notify.audience import Audience
from notify.channels.base import Channel
from notify.config import NotifyConfig
from notify.decide import Decider
from notify.dispatch import Dispatcher, DispatchReport
from notify.errors import NotifyError
from notify.feeds import cap
from notify.feeds.area import hull_area
from notify.feeds.geojson import outage_feed
from notify.inbound import InboundHandler, InboundResult
from notify.projection import IncidentBook, IncidentView
from notify.store import NotifyStore, SqliteStore
from notify.templates import Templates
from outage.events import Event


class Notifier:
    """Domain events in, customer texts out, exactly once (see the module docstring)."""

    def __init__(
        self,
        topology: Topology,
        customers: pd.DataFrame,
        config: NotifyConfig | None = None,
        store: NotifyStore | None = None,
        channel: Channel | None = None,
        *,
        submit_call: Any = None,
        status_for_phone: Any = None,
        premise_xy: npt.ArrayLike | None = None,
    ) -> None:
        self.config = config or NotifyConfig()
        self.store: NotifyStore = store or SqliteStore()
        self.channel = channel
        self.topology = topology
        self.audience = Audience(topology, customers, region=self.config.region)
        self.templates = Templates(self.config.templates, max_segments=self.config.max_segments)
        self.book = IncidentBook.from_dicts(self.store.load_incidents())
        self.premise_xy = None if premise_xy is None else np.asarray(premise_xy, dtype=float)
        self._consent = self.store.consent()
        self._high_water = self.store.high_water()
        self.decider = Decider(self.audience, self.book, self.templates, self.config)
        self.inbound = InboundHandler(
            self.audience,
            self.templates,
            self.store,
            self._consent,
            region=self.config.region,
            submit_call=submit_call,
            status_for_phone=status_for_phone,
        )
        self.dispatcher = (
            Dispatcher(self.store, channel, self.config, may_text=self.may_text)
            if channel is not None
            else None
        )

    @property
    def high_water(self) -> int:
        """Sequence number of the last event decided: replay events after it on start-up."""
        return self._high_water

    def _is_transformer(self, asset: str) -> bool:
        return asset in self.topology.transformer_index

    def on_event(self, seq: int, event: Event) -> int:
        """Decide and durably enqueue the messages ``event`` calls for; returns how many.

        Events at or below `high_water` were decided already and are skipped.
        """
        if seq <= self._high_water:
            return 0
        try:
            with self.store.transaction() as tx:
                view = self.book.apply(event, is_transformer=self._is_transformer)
                if view is not None:
                    cap.track(view, event.at, self.config.feed)  # kept with the projection
                count = self.decider.decide(tx, seq, event, self._consent)
                tx.save_incidents(self.book.incidents[i].to_dict() for i in self.book.changed)
                tx.set_high_water(seq)
        except BaseException:
            # The transaction rolled back: forget the half-applied projection too.
            self._reload_book()
            raise
        self.book.changed.clear()
        self._high_water = seq
        return count

    def _reload_book(self) -> None:
        self.book = IncidentBook.from_dicts(self.store.load_incidents())
        self.decider.book = self.book

    def catch_up(self, events: Iterable[tuple[int, Event]]) -> int:
        """`on_event` for each ``(seq, event)`` (e.g. the journal's events after a restart)."""
        return sum(self.on_event(seq, event) for seq, event in events)

    def push(
        self,
        text: str | Mapping[str, str],
        *,
        push_id: str,
        at: datetime,
        incident: str | None = None,
        asset: str | None = None,
        premises: Sequence[str] | None = None,
        urgent: bool = False,
    ) -> int:
        """An ad-hoc ``announcement`` to the customers of an incident, an asset (transformer
        or device) or a list of premise ids, through the same consent, dedup and quiet-hours
        stages. ``text`` is one text or ``{language: text}``; ``urgent`` ignores quiet hours.
        The same ``push_id`` twice sends nothing new. Returns the messages enqueued."""
        targets = [
            name
            for name, v in (("incident", incident), ("asset", asset), ("premises", premises))
            if v is not None
        ]
        if len(targets) != 1:
            raise ValueError("push: give exactly one of incident, asset, premises")
        if not push_id:
            raise ValueError("push_id: required")
        if at.tzinfo is None:
            raise ValueError("at: must be timezone-aware")
        if incident is not None:
            view = self.book.get(incident)
            if view is None:
                raise ValueError(f"incident: unknown incident {incident!r}")
            numbers = self.audience.premises_of(view)
        elif asset is not None:
            if self.audience.device_of_asset(asset) is None:
                raise ValueError(f"asset: unknown transformer or device {asset!r}")
            numbers = self.audience.premises_of_asset(asset)
        else:
            index = self.topology.premise_index
            unknown = [p for p in premises or () if p not in index]
            if unknown:
                raise ValueError(f"premises: unknown premise(s) {', '.join(unknown[:5])}")
            numbers = np.asarray([index[p] for p in premises or ()], dtype=np.int64)
        texts = text if isinstance(text, Mapping) else {"zh-CN": text, "en": text}
        digest = hashlib.sha256(repr(sorted(texts.items())).encode()).hexdigest()[:16]
        with self.store.transaction() as tx:
            return self.decider.emit(
                tx,
                key=f"p{push_id}",
                incident=f"push:{push_id}",
                kind="announcement",
                rows=self.audience.rows_of_premises(numbers),
                at=at,
                consent=self._consent,
                context={"text": texts},
                digest=digest,
                urgent=urgent,
            )

    def subscribe(self, phone: str, incident: str, *, at: datetime, request_id: str) -> int:
        """A caller asked the IVR for a text when power is back (keypad 2).

        Their choice on the call opts the phone in (as START would), and ``outage_detected``
        goes to that phone alone — which also puts it on the list the ``restored`` text goes
        to. Already told about this incident: nothing new. Returns the messages enqueued
        (0 for an unknown phone or an incident that is not open).
        """
        try:
            e164 = normalise_phone(phone, self.config.region)
        except ValueError:
            return 0
        view = self.book.get(incident)
        row = self.audience.row_of_phone.get(e164)
        if view is None or not view.is_open or row is None:
            return 0
        default = "in" if self.audience.opted_in[row] else "out"
        if self._consent.get(e164, default) != "in":  # asking on the call is consent (START)
            self.store.set_consent(e164, "in", at.timestamp(), f"ivr:{request_id}")
            self._consent[e164] = "in"
        with self.store.transaction() as tx:
            return self.decider.emit(
                tx,
                key=f"ivr{request_id}",
                incident=view.id,
                kind="outage_detected",
                rows=np.asarray([row], dtype=np.int64),
                at=at,
                consent=self._consent,
                context={"incident": view.id, "etr": view.etr_time()},
                digest=view.etr or "",
                # Asked for on the phone, this minute: quiet hours are for texts nobody asked
                # for (at 23:00 the caller is awake and waiting for it).
                urgent=True,
            )

    def may_text(self, phone: str) -> bool:
        """False once the phone has sent STOP (checked again just before sending)."""
        return self._consent.get(phone) != "out"

    def dispatch(
        self, now: datetime | None = None, *, clock: float | None = None
    ) -> DispatchReport:
        """Send what is due (see `Dispatcher.dispatch`)."""
        if self.dispatcher is None:
            raise NotifyError("no channel configured: pass channel= to Notifier")
        return self.dispatcher.dispatch(now or datetime.now(UTC), clock=clock)

    def record_receipt(self, reference: str, status: str, at: datetime) -> bool:
        """A delivery receipt from a provider callback; False when no sent message matches."""
        if status not in ("delivered", "undelivered"):
            raise ValueError(f"status: expected delivered or undelivered, got {status!r}")
        return self.store.record_receipt(reference, status, at.timestamp())

    def handle_inbound(
        self, from_phone: str, text: str, message_id: str, received_at: datetime
    ) -> InboundResult:
        """Answer an inbound SMS (see `notify.inbound`)."""
        return self.inbound.handle(from_phone, text, message_id, received_at)

    # -- public feeds -------------------------------------------------------------------------

    def _points(self) -> npt.NDArray[np.float64]:
        if self.premise_xy is None:
            raise NotifyError("feeds need premise coordinates: pass premise_xy= to Notifier")
        return self.premise_xy

    def outage_geojson(self, now: datetime | None = None) -> dict[str, Any]:
        """The public GeoJSON outage feed (see `notify.feeds.geojson`)."""
        return outage_feed(
            self.book.incidents.values(),
            self.audience,
            self._points(),
            self.config.feed,
            now or datetime.now(UTC),
        )

    def cap_messages(self, incident: str) -> list[str]:
        """Every CAP 1.2 message issued for ``incident``, oldest first."""
        view = self.book.incidents.get(incident)
        if view is None:
            raise ValueError(f"incident: unknown incident {incident!r}")
        area = self._area(view)
        return [cap.render(view, entry, area, self.config.feed) for entry in view.cap]

    def cap_alerts(self) -> list[str]:
        """The latest CAP message of every incident that has one (the CAP feed)."""
        return [
            cap.render(view, view.cap[-1], self._area(view), self.config.feed)
            for view in sorted(self.book.incidents.values(), key=lambda v: v.id)
            if view.cap
        ]

    def _area(self, view: IncidentView) -> Any:
        premises = self.audience.premises_of(view)
        if not len(premises):
            return None
        return hull_area(self._points()[premises], self.config.feed.buffer_m)
