"""The engine's step for one message, the same in every backend: apply it, guarded.

`EngineHost` (the embedded service: SQLite journal) and the Redis partition engines
(`outage.redisstore.projection.PartitionState`: streams and projections) log a message, apply
it, then record its events — each in its own store. Applying is this one function, so both
decide alike what a message did:

* **applied** — the engine took it; its events;
* **refused** — a command the engine refused (`CommandRejected`): journaled and audited, it
  changes nothing, on replay either;
* **quarantined** — the engine raised on it. The engine is the one thing that must never stop:
  the message is recorded with the reason and never applied again, and the messages behind it
  go on (see `outage.host`).

A command's audit record (its fields, the outcome, the error) is made here too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from outage.commands import Command
from outage.engine import Engine
from outage.errors import CommandRejected
from outage.events import Event
from outage.signals import Signal

Message = Signal | Command
log = logging.getLogger(__name__)


def encode_command(command: Command) -> dict[str, Any]:
    """A command as plain JSON data (journal body and audit record)."""
    return command.model_dump(mode="json", exclude_none=True)


@dataclass(frozen=True, slots=True)
class Applied:
    """What one message did (module docstring)."""

    events: list[Event]
    #: why the engine refused a command (None: it did not)
    refusal: str | None = None
    #: why the message is quarantined (None: it applied)
    failure: str | None = None
    #: a command's audit record (None for a signal)
    audit: dict[str, Any] | None = None

    @property
    def outcome(self) -> str:
        """``applied``, ``refused`` or ``quarantined``."""
        return "quarantined" if self.failure else ("refused" if self.refusal else "applied")


def apply_message(engine: Engine, message: Message, where: str = "engine") -> Applied:
    """Apply ``message`` to ``engine`` (module docstring); ``where`` names the engine in the
    log line of a quarantine."""
    refusal = failure = None
    try:
        events = engine.handle(message)
    except CommandRejected as exc:
        events, refusal = [], str(exc)
    except Exception as exc:  # the quarantine: see the module docstring
        log.exception(
            "%s: quarantined %s %r: the engine failed on it", where, message.type, message.id
        )
        events, failure = [], f"quarantined: {type(exc).__name__}: {exc}"[:500]
    applied = Applied(events, refusal, failure)
    if not isinstance(message, Command):
        return applied
    error = failure or refusal
    audit = encode_command(message) | {"outcome": applied.outcome}
    return replace(applied, audit=audit | ({"error": error} if error else {}))
