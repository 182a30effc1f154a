"""Which message each domain event calls for, and to whom: the rules of the SMS pipeline.

``Decider.decide`` runs inside one store transaction, reads the notification log through it and
writes log rows and outbox rows back through it. Rules (see docs/notify.md):

- outage predicted / moved / confirmed: ``outage_detected`` (with the ETR when known) to the
  customers below the asset, unless told about an open outage above or below it (inhibit: a
  parent and its child are one outage to the customer) or already told about this one
  (dedup); held ``detect_delay_minutes`` so momentary outages can clear.
- ETR set or moved by at least ``etr_change_threshold_minutes`` from what a customer was told:
  ``etr_changed`` to customers whose outage text has gone; still-pending outage texts are
  rewritten with the new ETR instead.
- crew dispatched: ``crew_dispatched`` once per customer and incident.
- partially restored: ``still_out_check`` ("reply OUT") to the restored part, after
  ``still_out_delay_minutes``; the nested outages still out are announced (no longer inhibited).
- restored: ``restored`` to customers who were told of the outage. Messages still pending for
  the incident are superseded; a customer whose outage text never left is told nothing.
- cancelled: pending texts superseded, nothing sent.
- planned work scheduled: ``planned_notice`` ``planned_notice_lead_hours`` before the start.
- hazard reported: ``hazard`` warning to the customers of the same transformer.
- follow-up due (the incident restored): ``follow_up`` ("reply 1-5") to the customers who
  called about it, ``follow_up_delay_minutes`` later, unless they are out again by then.
- every ETR in a text says whose it is: the engine's estimate reads as an estimate.
- merged: the log and outbox rows follow the surviving incident.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from notify import stages
from notify.audience import Audience, IntArray
from notify.config import NotifyConfig
from notify.projection import IncidentBook, IncidentView
from notify.store import Decision, OutboxRow
from notify.templates import LANGUAGES, Templates, format_time
from outage import events as ev

TOLD = ("outage_detected", "planned_notice")
FOLLOW_UPS = ("etr_changed", "crew_dispatched")
#: What a restoration makes moot for the same incident.
MOOT_ON_RESTORE = (*TOLD, *FOLLOW_UPS, "still_out_check")
DELIVERED = frozenset({"sent", "delivered", "undelivered", "sending"})


class Decider:
    """Applies the rules of the module docstring; one instance per notifier."""

    def __init__(
        self, audience: Audience, book: IncidentBook, templates: Templates, config: NotifyConfig
    ) -> None:
        self.audience = audience
        self.book = book
        self.templates = templates
        self.config = config

    # -- the common tail of every rule ------------------------------------------------------

    def emit(
        self,
        tx: Decision,
        *,
        key: str,
        incident: str,
        kind: str,
        rows: IntArray,
        at: datetime,
        consent: Mapping[str, str],
        context: dict[str, Any],
        digest: str = "",
        drop: frozenset[str] | set[str] = frozenset(),
        urgent: bool = False,
    ) -> int:
        """Run ``rows`` through consent, one-per-phone, inhibit/dedup (``drop`` plus the log)
        and quiet hours, render per language and write outbox and log rows."""
        audience = self.audience
        rows = stages.consented(audience, rows, consent)
        rows = stages.one_per_phone(audience, rows)
        rows = stages.inhibit(audience, rows, drop)
        rows = stages.dedup(audience, rows, tx.told(incident, [kind]).keys())
        if not len(rows):
            return 0
        config = self.config
        if urgent:
            config = config.model_copy(
                update={"quiet_hours_exempt_kinds": {*config.quiet_hours_exempt_kinds, kind}}
            )
        release = stages.release_times(audience, rows, kind, at, config)
        rendered = {
            lang: self.templates.render(kind, lang, **self._localise(context, lang))
            for lang in LANGUAGES
        }
        created = at.timestamp()
        outbox, log = [], []
        for row, not_before in zip(rows.tolist(), release, strict=True):
            phone, lang = audience.phone[row], audience.language[row]
            text = rendered[lang]
            message_key = f"{key}:{kind}:{phone}"
            outbox.append(
                OutboxRow(
                    message_key, phone, audience.account[row], incident, kind, lang,
                    text.text, text.length.encoding, text.length.segments,
                    int(audience.priority[row]), not_before, created,
                )
            )
            log.append((phone, incident, kind, digest, message_key, created))
        tx.enqueue(outbox)
        tx.log(log)
        return len(outbox)

    def _localise(self, context: dict[str, Any], language: str) -> dict[str, Any]:
        zone = self.config.timezone
        localised = {}
        for name, value in context.items():
            if isinstance(value, datetime):
                value = format_time(value, language, zone)
            elif isinstance(value, Mapping):  # one value per language (push texts)
                value = value.get(language) or next(iter(value.values()))
            localised[name] = value
        return localised

    def _rows_of_phones(self, phones: set[str]) -> IntArray:
        found = [self.audience.row_of_phone[p] for p in phones if p in self.audience.row_of_phone]
        rows = np.asarray(found, dtype=np.int64)
        return rows[np.argsort(self.audience.priority[rows], kind="stable")]

    def _open_related(self, view: IncidentView) -> list[IncidentView]:
        """Open incidents above or below ``view``'s asset: one outage as far as a customer
        can tell, so whoever was told about one is not told about the other."""
        device = self.audience.device_of_asset(view.asset)
        if device is None:
            return []
        chains = self.audience.topology.device_chain
        related = []
        for other in self.book.incidents.values():
            if other.status != "open" or other.id == view.id:
                continue
            other_device = self.audience.device_of_asset(other.asset)
            if other_device is None or other.asset == view.asset:
                continue
            if other_device in chains[device] or device in chains[other_device]:
                related.append(other)
        return related

    def _phones_in_open_incidents(self, excluding: str) -> set[str]:
        phones: set[str] = set()
        for other in self.book.open_incidents():
            if other.id != excluding:
                rows = self.audience.rows_of_premises(self.audience.premises_of(other))
                phones.update(self.audience.phone[r] for r in rows)
        return phones

    # -- the rules --------------------------------------------------------------------------

    def decide(
        self, tx: Decision, seq: int, event: ev.Event, consent: Mapping[str, str]
    ) -> int:
        """Messages for ``event`` (already folded into the book); returns how many."""
        key = f"e{seq}"
        match event:
            case ev.OutagePredicted() | ev.PredictionMoved() | ev.OutageConfirmed():
                view = self.book.get(event.incident)
                if view is None or view.status != "open" or view.planned:
                    return 0
                return self.announce(tx, key, view, event.at, consent)
            case ev.EtrChanged():
                return self._etr_changed(tx, key, event, consent)
            case ev.CrewDispatched():
                view = self.book.get(event.incident)
                if view is None or not view.is_open:
                    return 0
                sent = {p for p, t in tx.told(view.id, TOLD).items() if t.status in DELIVERED}
                return self.emit(
                    tx, key=key, incident=view.id, kind="crew_dispatched",
                    rows=self._rows_of_phones(sent), at=event.at, consent=consent,
                    context={"incident": view.id}, digest=event.crew,
                )
            case ev.OutagePartiallyRestored():
                return self._partially_restored(tx, key, event, consent)
            case ev.OutageRestored():
                return self._restored(tx, key, event, consent)
            case ev.IncidentCancelled():
                tx.supersede(event.incident, MOOT_ON_RESTORE, None)
                return 0
            case ev.IncidentMerged():
                tx.merge(event.incident, event.into)
                return 0
            case ev.PlannedOutageScheduled():
                return self._planned(tx, key, event, consent)
            case ev.HazardReported():
                return self._hazard(tx, key, event, consent)
            case ev.FollowUpDue():
                return self._follow_up(tx, key, event, consent)
        return 0

    def announce(
        self, tx: Decision, key: str, view: IncidentView, at: datetime, consent: Mapping[str, str]
    ) -> int:
        """``outage_detected`` to the customers below ``view``'s asset (see module docstring)."""
        related: set[str] = set()
        for other in self._open_related(view):
            related.update(tx.told(other.id, TOLD))
        rows = self.audience.rows_of_premises(self.audience.premises_of(view))
        # Told about this incident under another kind (a planned notice) counts as told.
        told_here = set(tx.told(view.id, TOLD))
        return self.emit(
            tx, key=key, incident=view.id, kind="outage_detected", rows=rows,
            at=at + timedelta(minutes=self.config.detect_delay_minutes), consent=consent,
            context=self._etr_context(view, view.etr_time()), digest=view.etr or "",
            drop=related | told_here,
        )

    @staticmethod
    def _etr_context(view: IncidentView, etr: datetime | None) -> dict[str, Any]:
        return {
            "incident": view.id,
            "etr": etr,
            "estimated": view.etr_source == "estimated",
            "service": view.premise is not None,  # a service drop: "at your address"
        }

    def _etr_changed(
        self, tx: Decision, key: str, event: ev.EtrChanged, consent: Mapping[str, str]
    ) -> int:
        view = self.book.get(event.incident)
        if view is None or not view.is_open or event.etr is None:
            return 0
        etr_iso = event.etr.isoformat()
        for lang in LANGUAGES:
            context = self._localise(self._etr_context(view, event.etr), lang)
            text = self.templates.render("outage_detected", lang, **context).text
            tx.refresh(view.id, "outage_detected", lang, text, etr_iso)
        told = tx.told(view.id, (*TOLD, "etr_changed"))  # latest ETR told, per phone
        threshold = self.config.etr_change_threshold_minutes * 60
        recipients = set()
        for phone, entry in told.items():
            if entry.status not in DELIVERED:
                continue
            previous = datetime.fromisoformat(entry.digest) if entry.digest else None
            if previous is None or abs((event.etr - previous).total_seconds()) >= threshold:
                recipients.add(phone)
        # The same ETR told twice is a duplicate; a new ETR is a new message.
        return self.emit(
            tx, key=key, incident=view.id, kind="etr_changed",
            rows=self._rows_of_phones(recipients), at=event.at, consent=consent,
            context=self._etr_context(view, event.etr), digest=etr_iso,
            drop={p for p, t in tx.told(view.id, ["etr_changed"]).items() if t.digest == etr_iso},
        )

    def _partially_restored(
        self, tx: Decision, key: str, event: ev.OutagePartiallyRestored,
        consent: Mapping[str, str],
    ) -> int:
        view = self.book.get(event.incident)
        if view is None:
            return 0
        children = [c for c in map(self.book.get, event.still_out_incidents) if c is not None]
        still_out: set[str] = set()
        for child in children:
            rows = self.audience.rows_of_premises(self.audience.premises_of(child))
            still_out.update(self.audience.phone[r] for r in rows)
        told = set(tx.told(view.id, TOLD)) - still_out
        never_told = tx.supersede(view.id, MOOT_ON_RESTORE, told)
        count = self.emit(
            tx, key=key, incident=view.id, kind="still_out_check",
            rows=self._rows_of_phones(told - never_told),
            at=event.at + timedelta(minutes=self.config.still_out_delay_minutes),
            consent=consent, context={"incident": view.id},
        )
        for child in children:
            if child.status == "open":
                count += self.announce(tx, f"{key}:{child.id}", child, event.at, consent)
        return count

    def _restored(
        self, tx: Decision, key: str, event: ev.OutageRestored, consent: Mapping[str, str]
    ) -> int:
        view = self.book.get(event.incident)
        if view is None:
            return 0
        tx.supersede(view.id, MOOT_ON_RESTORE, None)
        told = set(tx.told(view.id, TOLD))
        checked = set(tx.told(view.id, ["still_out_check"]))
        return self.emit(
            tx, key=key, incident=view.id, kind="restored", rows=self._rows_of_phones(told),
            at=event.at, consent=consent, context={"incident": view.id},
            drop=checked | self._phones_in_open_incidents(view.id),
        )

    def _planned(
        self, tx: Decision, key: str, event: ev.PlannedOutageScheduled,
        consent: Mapping[str, str],
    ) -> int:
        lead = timedelta(hours=self.config.planned_notice_lead_hours)
        rows = self.audience.rows_of_premises(self.audience.premises_of_asset(event.device))
        return self.emit(
            tx, key=key, incident=event.incident, kind="planned_notice", rows=rows,
            at=max(event.at, event.start - lead), consent=consent,
            context={"start": event.start, "end": event.end, "reason": event.reason},
        )

    def _follow_up(
        self, tx: Decision, key: str, event: ev.FollowUpDue, consent: Mapping[str, str]
    ) -> int:
        topo = self.audience.topology
        numbers = [topo.premise_index[p] for p in event.premises if p in topo.premise_index]
        rows = self.audience.rows_of_premises(np.asarray(numbers, dtype=np.int64))
        return self.emit(
            tx, key=key, incident=event.incident, kind="follow_up", rows=rows,
            at=event.at + timedelta(minutes=self.config.follow_up_delay_minutes),
            consent=consent, context={"incident": event.incident},
            drop=self._phones_in_open_incidents(event.incident),
        )

    def _hazard(
        self, tx: Decision, key: str, event: ev.HazardReported, consent: Mapping[str, str]
    ) -> int:
        topo = self.audience.topology
        premise = topo.premise_index.get(event.premise)
        if premise is None:
            return 0
        transformer = topo.transformer_ids[topo.premise_transformer[premise]]
        rows = self.audience.rows_of_premises(self.audience.premises_of_asset(transformer))
        return self.emit(
            tx, key=key, incident=event.ticket, kind="hazard", rows=rows, at=event.at,
            consent=consent, context={"hazard": event.kind},
        )
