"""The one interface every SMS channel adapter implements, and the value types it speaks.

A channel hands one `Sms` to its provider and returns the provider's message id, or raises
`TransientSendError` / `PermanentSendError` (notify.errors) — never its library's own
exceptions. ``Sms.key`` is the idempotency key of the message: adapters pass it to providers
that accept a client reference, so a message re-sent after a crash is recognised there.
Delivery receipts come back through `Channel.poll_receipts` (pull, e.g. SMPP ``deliver_sm``)
or through the service's HTTP callback for push providers (Kannel ``dlr-url``, Twilio
``StatusCallback``), both ending in `Notifier.record_receipt`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

ReceiptStatus = Literal["delivered", "undelivered"]


@dataclass(frozen=True, slots=True)
class Sms:
    """One message to hand over."""

    key: str
    to: str  # E.164
    body: str
    sender: str
    kind: str = "announcement"
    callback_url: str | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery report: ``reference`` is the provider id (or our key) of the message."""

    reference: str
    status: ReceiptStatus
    at: datetime


class Channel(Protocol):
    """An SMS provider adapter (see the module docstring)."""

    name: str

    def send(self, sms: Sms) -> str:
        """Hand ``sms`` over; returns the provider's message id."""
        ...

    def poll_receipts(self) -> list[Receipt]:
        """Delivery receipts that arrived since the last call (empty for push providers)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
