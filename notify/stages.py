"""The SMS pipeline's small stages, each with one job, applied in this order:

select (`Audience.rows_of_premises`) -> `consented` -> `one_per_phone` -> `inhibit`
-> `dedup` -> `release_times` (quiet hours) ; throttle, send and retry happen later in
`notify.dispatch`.

Each stage takes customer rows (indexes into an `Audience`, critical care first) and returns
the rows that go on, so the chain reads like alertmanager's inhibit -> silence -> dedup.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

import numpy as np

from notify.audience import Audience, IntArray
from notify.config import NotifyConfig


def consented(audience: Audience, rows: IntArray, consent: Mapping[str, str]) -> IntArray:
    """Rows whose customer may be texted: opted in (customers file or START) and no STOP.

    Opt-out always wins over the customers file; a START re-subscribes a customer whose file
    row says no.
    """
    if not consent:
        return rows[audience.opted_in[rows]]
    phone = audience.phone
    keep = [
        consent.get(phone[r], "in" if audience.opted_in[r] else "out") == "in" for r in rows
    ]
    return rows[np.asarray(keep, dtype=np.bool_)] if len(rows) else rows


def one_per_phone(audience: Audience, rows: IntArray) -> IntArray:
    """The first row of each phone (two accounts on one phone get one text, at the higher
    priority since rows come critical care first)."""
    seen: set[str] = set()
    keep = []
    for r in rows:
        phone = audience.phone[r]
        if phone not in seen:
            seen.add(phone)
            keep.append(r)
    return np.asarray(keep, dtype=np.int64)


def without_phones(audience: Audience, rows: IntArray, phones: Collection[str]) -> IntArray:
    """Rows whose phone is not in ``phones`` (used by `inhibit` and `dedup`)."""
    if not phones or not len(rows):
        return rows
    keep = [audience.phone[r] not in phones for r in rows]
    return rows[np.asarray(keep, dtype=np.bool_)]


def inhibit(audience: Audience, rows: IntArray, told_about_parent: Collection[str]) -> IntArray:
    """Drop customers already told about an open parent outage: one outage, one message."""
    return without_phones(audience, rows, told_about_parent)


def dedup(audience: Audience, rows: IntArray, already_told: Collection[str]) -> IntArray:
    """Drop customers the notification log says were told this kind about this incident."""
    return without_phones(audience, rows, already_told)


def release_times(
    audience: Audience, rows: IntArray, kind: str, at: datetime, config: NotifyConfig
) -> list[float]:
    """When each row's message may go: ``at``, or the end of the customer's quiet hours.

    Quiet hours hold a message, they never drop it. Exempt kinds (hazard, restored by default)
    and priorities (critical care by default) go at once.
    """
    base = at.timestamp()
    if kind in config.quiet_hours_exempt_kinds:
        return [base] * len(rows)
    held: dict[str, float] = {}
    for language in set(audience.language[r] for r in rows):
        quiet = config.quiet_for(language)
        held[language] = quiet.release(at).timestamp() if quiet else base
    exempt = {
        rank
        for rank, name in enumerate(("critical_care", "vip", "normal"))
        if name in config.quiet_hours_exempt_priorities
    }
    return [
        base if audience.priority[r] in exempt else held[audience.language[r]] for r in rows
    ]
