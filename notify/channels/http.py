"""HTTP provider channels: Twilio Messaging REST and a generic JSON webhook.

Both translate HTTP outcomes the same way (`raise_for_outcome`): 2xx accepted; 408, 429 and
5xx (and connection errors) transient; any other 4xx permanent.

Twilio: ``POST {base}/2010-04-01/Accounts/{sid}/Messages.json`` with HTTP basic auth
(account SID + auth token) and the form fields ``To``, ``From`` or ``MessagingServiceSid``,
``Body`` and ``StatusCallback``. Twilio has no client-reference field for messages, so our key
rides in the ``StatusCallback`` query, and the callback names the message by ``MessageSid``
(the provider id returned) and our key.

Webhook: ``POST url`` with JSON ``{"key", "to", "from", "body", "kind"}`` and an
``Idempotency-Key`` header carrying the outbox key; a JSON reply's ``id`` is the provider id.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from notify.channels.base import Receipt, Sms
from notify.errors import PermanentSendError, TransientSendError

TWILIO_API = "https://api.twilio.com"
#: Twilio message statuses that are final, mapped to ours.
TWILIO_FINAL = {"delivered": "delivered", "undelivered": "undelivered", "failed": "undelivered"}


def raise_for_outcome(who: str, response: httpx.Response) -> None:
    """Nothing for 2xx; `TransientSendError` or `PermanentSendError` otherwise."""
    if 200 <= response.status_code < 300:
        return
    message = f"{who} HTTP {response.status_code}: {response.text.strip()[:300]}"
    if response.status_code in (408, 429) or response.status_code >= 500:
        raise TransientSendError(message)
    raise PermanentSendError(message)


def _post(who: str, client: httpx.Client, url: str, **kwargs: object) -> httpx.Response:
    try:
        response = client.post(url, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        raise TransientSendError(f"{who}: {exc}") from exc
    raise_for_outcome(who, response)
    return response


class _Push:
    """Providers that report delivery by calling us back: nothing to poll."""

    client: httpx.Client

    def poll_receipts(self) -> list[Receipt]:
        """Receipts arrive at the service's callback URL instead."""
        return []

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()


class TwilioChannel(_Push):
    """Twilio Programmable Messaging (see the module docstring)."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        base_url: str = TWILIO_API,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> None:
        if (from_number is None) == (messaging_service_sid is None):
            raise ValueError("give exactly one of from_number, messaging_service_sid")
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.auth = (account_sid, auth_token)
        self.from_number, self.service = from_number, messaging_service_sid
        self.status_callback = status_callback
        self.client = client or httpx.Client(timeout=timeout)

    def form(self, sms: Sms) -> dict[str, str]:
        """The form fields of one Messages.json request."""
        form = {"To": sms.to, "Body": sms.body}
        if self.service is not None:
            form["MessagingServiceSid"] = self.service
        else:
            form["From"] = self.from_number or sms.sender
        callback = sms.callback_url or self.status_callback
        if callback:
            joiner = "&" if "?" in callback else "?"
            form["StatusCallback"] = f"{callback}{joiner}{urlencode({'key': sms.key})}"
        return form

    def send(self, sms: Sms) -> str:
        """Create the message; returns Twilio's ``sid``."""
        response = _post("Twilio", self.client, self.url, data=self.form(sms), auth=self.auth)
        try:
            return str(response.json()["sid"])
        except (ValueError, KeyError) as exc:
            answer = response.text[:200]
            raise TransientSendError(f"Twilio answered without a sid: {answer}") from exc


class WebhookChannel(_Push):
    """A generic JSON webhook (see the module docstring)."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.headers = headers or {}
        self.client = client or httpx.Client(timeout=timeout)

    def send(self, sms: Sms) -> str:
        """POST the message; returns the reply's ``id`` or, without one, our key."""
        payload = {"key": sms.key, "to": sms.to, "from": sms.sender, "body": sms.body,
                   "kind": sms.kind}
        headers = {**self.headers, "Idempotency-Key": sms.key}
        response = _post("webhook", self.client, self.url, json=payload, headers=headers)
        try:
            reply = response.json()
        except ValueError:
            return sms.key
        return str(reply.get("id") or sms.key) if isinstance(reply, dict) else sms.key
