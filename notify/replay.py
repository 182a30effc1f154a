"""Events back from the engine's journal, for `Notifier.catch_up` after a restart.

`EngineHost` journals every event as ``to_json`` with its sequence number; a notifier that is
subscribed only after the engine recovered reads the events after its high-water mark from
the journal: ``outage.follow.follow(journal, notifier)``, or ``notifier.catch_up(
journal_events(journal, notifier.high_water))`` (the same walk, `outage.follow`). Decoding is
`outage.events.from_dict`, shared with the service and the playbooks.
"""

from __future__ import annotations

from typing import Any

import orjson

from outage import events as ev
from outage.follow import EventSource, journal_events

__all__ = ["EventSource", "decode_event", "journal_events"]


def decode_event(body: bytes | str) -> ev.Event:
    """One ``to_json`` body back to its event; `ValueError` names an unknown type or field."""
    raw: dict[str, Any] = orjson.loads(body)
    return ev.from_dict(str(raw.get("type")), raw)
