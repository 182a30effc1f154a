"""Kannel channel: HTTP ``sendsms`` on an smsbox (``/cgi-bin/sendsms``).

Kannel does the SMPP/UCP/modem side itself; we send UTF-8 text with ``charset=UTF-8`` and
``coding=2`` (UCS-2) when the text is not GSM-7, so Kannel encodes and concatenates it. The
outbox key travels as Kannel's client reference: it is put into ``dlr-url`` (with ``%d`` for
the delivery status), so the delivery report that Kannel calls back names our message — the
provider id we return is that key. HTTP 202 is accepted; 4xx is permanent (bad number,
wrong credentials); 5xx and connection errors are transient.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from notify.channels.base import Receipt, Sms
from notify.encoding import is_gsm7
from notify.errors import PermanentSendError, TransientSendError

#: Kannel dlr-mask: 1 delivered, 2 undelivered (final outcomes only).
DLR_MASK = 3
#: Kannel DLR type codes that mean the handset has the message.
DLR_DELIVERED = frozenset({1})


def kannel_receipt_status(code: int) -> str:
    """Our receipt status for a Kannel ``%d`` DLR type."""
    return "delivered" if code in DLR_DELIVERED else "undelivered"


class KannelChannel:
    """Sends through an smsbox's sendsms interface (see the module docstring)."""

    name = "kannel"

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        dlr_url: str | None = None,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username, self.password = username, password
        self.dlr_url = dlr_url
        self.client = client or httpx.Client(timeout=timeout)

    def params(self, sms: Sms) -> dict[str, str | int]:
        """The query of one sendsms request."""
        params: dict[str, str | int] = {
            "username": self.username,
            "password": self.password,
            "from": sms.sender,
            "to": sms.to,
            "text": sms.body,
            "charset": "UTF-8",
            "coding": 0 if is_gsm7(sms.body) else 2,
        }
        callback = sms.callback_url or self.dlr_url
        if callback:
            joiner = "&" if "?" in callback else "?"
            # %d is filled in by Kannel with the DLR type; our key names the message.
            params["dlr-url"] = f"{callback}{joiner}{urlencode({'key': sms.key})}&status=%d"
            params["dlr-mask"] = DLR_MASK
        return params

    def send(self, sms: Sms) -> str:
        """GET sendsms; returns the outbox key (Kannel's reports quote it back)."""
        try:
            response = self.client.get(f"{self.base_url}/cgi-bin/sendsms", params=self.params(sms))
        except httpx.HTTPError as exc:
            raise TransientSendError(f"Kannel sendsms: {exc}") from exc
        if response.status_code in (200, 202):
            return sms.key
        message = f"Kannel sendsms HTTP {response.status_code}: {response.text.strip()[:200]}"
        if 400 <= response.status_code < 500:
            raise PermanentSendError(message)
        raise TransientSendError(message)

    def poll_receipts(self) -> list[Receipt]:
        """Kannel pushes reports to ``dlr-url``; nothing to poll."""
        return []

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()
