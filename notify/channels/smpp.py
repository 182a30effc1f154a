"""SMPP 3.4 channel via ``smpplib``: bind as a transceiver, ``submit_sm`` each part, collect
``deliver_sm`` delivery receipts.

Texts are split by ``smpplib.gsm.make_parts`` (GSM-7, or UCS-2 as soon as one character needs
it, with a UDH per part); a delivery receipt is requested on the last part, whose SMSC message
id is returned as the provider id. SMPP has no field for a client reference string, so the
outbox key is not sent: after a crash mid-submit the SMSC may see a message twice — the
outbox keeps that window to one message per crash. ``submit_sm_resp`` errors map to
`TransientSendError` (throttled, queue full, system error) or `PermanentSendError` (anything
else, e.g. invalid destination). A broken connection is re-bound on the next send.
"""

from __future__ import annotations

import contextlib
import re
import select
from datetime import UTC, datetime

import smpplib.client
import smpplib.consts as c
import smpplib.exceptions
import smpplib.gsm

from notify.channels.base import Receipt, Sms
from notify.errors import PermanentSendError, TransientSendError

#: smpplib ships no type information; the status a handler returns for "accepted" is an int
ESME_ROK: int = c.SMPP_ESME_ROK
TRANSIENT_STATUSES = frozenset({c.SMPP_ESME_RTHROTTLED, c.SMPP_ESME_RMSGQFUL, c.SMPP_ESME_RSYSERR})
_RECEIPT = re.compile(r"id:(?P<id>\S+).*?stat:(?P<stat>\w+)", re.S)
#: esm_class message type "SMSC delivery receipt" (SMPP 3.4 5.2.12; smpplib has no name).
DELIVERY_RECEIPT = 0x04
#: SMPP message_state values that mean the handset has the message.
_DELIVERED_STATE = 2


class SmppChannel:
    """An ESME bound as transceiver to one SMSC (see the module docstring)."""

    name = "smpp"

    def __init__(
        self,
        host: str,
        port: int,
        system_id: str,
        password: str,
        *,
        system_type: str = "",
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port = host, port
        self.system_id, self.password, self.system_type = system_id, password, system_type
        self.timeout = timeout
        self._client: smpplib.client.Client | None = None
        self._acks: dict[int, object] = {}
        self._receipts: list[Receipt] = []

    # -- connection ----------------------------------------------------------------------

    def _connected(self) -> smpplib.client.Client:
        if self._client is not None:
            return self._client
        client = smpplib.client.Client(
            self.host, self.port, timeout=self.timeout, allow_unknown_opt_params=True
        )
        client.set_message_sent_handler(lambda pdu, **_: self._acks.__setitem__(pdu.sequence, pdu))
        client.set_message_received_handler(self._on_deliver)
        client.set_error_pdu_handler(lambda pdu: self._acks.__setitem__(pdu.sequence, pdu))
        try:
            client.connect()
            client.bind_transceiver(
                system_id=self.system_id, password=self.password, system_type=self.system_type
            )
        except smpplib.exceptions.PDUError as exc:
            client.disconnect()
            where = f"{self.host}:{self.port}"
            raise PermanentSendError(f"SMPP bind refused by {where}: {exc}") from exc
        except (OSError, smpplib.exceptions.ConnectionError) as exc:
            raise TransientSendError(f"SMPP connect to {self.host}:{self.port}: {exc}") from exc
        self._client = client
        return client

    def _drop(self) -> None:
        if self._client is not None:
            # A dead socket may fail to close; it is gone anyway.
            with contextlib.suppress(Exception):
                self._client.disconnect()
        self._client = None

    # -- sending -------------------------------------------------------------------------

    def send(self, sms: Sms) -> str:
        """Submit every part of ``sms``; returns the SMSC id of the last part."""
        client = self._connected()
        parts, coding, esm_class = smpplib.gsm.make_parts(sms.body)
        alphanumeric = not sms.sender.isdigit()
        sequences = []
        try:
            for number, part in enumerate(parts, start=1):
                pdu = client.send_message(
                    source_addr_ton=c.SMPP_TON_ALNUM if alphanumeric else c.SMPP_TON_INTL,
                    source_addr_npi=c.SMPP_NPI_UNK if alphanumeric else c.SMPP_NPI_ISDN,
                    source_addr=sms.sender,
                    dest_addr_ton=c.SMPP_TON_INTL,
                    dest_addr_npi=c.SMPP_NPI_ISDN,
                    destination_addr=sms.to.lstrip("+"),
                    short_message=part,
                    data_coding=coding,
                    esm_class=esm_class,
                    registered_delivery=number == len(parts),
                )
                sequences.append(pdu.sequence)
            while any(s not in self._acks for s in sequences):
                client.read_once(auto_send_enquire_link=False)
        except (OSError, smpplib.exceptions.ConnectionError) as exc:
            self._drop()
            raise TransientSendError(f"SMPP connection lost: {exc}") from exc
        responses = [self._acks.pop(s) for s in sequences]
        for response in responses:
            status = int(response.status)  # type: ignore[attr-defined]
            if status != ESME_ROK:
                text = c.DESCRIPTIONS.get(status, "unknown status")
                error = TransientSendError if status in TRANSIENT_STATUSES else PermanentSendError
                raise error(f"SMSC refused submit_sm: 0x{status:08X} {text}")
        message_id = responses[-1].message_id  # type: ignore[attr-defined]
        return message_id.decode() if isinstance(message_id, bytes) else str(message_id)

    def _on_deliver(self, pdu: object, **_: object) -> int:
        """A ``deliver_sm``: keep it when it is a delivery receipt (esm_class bit 2)."""
        if not int(getattr(pdu, "esm_class", 0) or 0) & DELIVERY_RECEIPT:
            return ESME_ROK  # a mobile-originated message: inbound goes via the webhook
        reference = getattr(pdu, "receipted_message_id", None)
        state = getattr(pdu, "message_state", None)
        text = getattr(pdu, "short_message", b"") or b""
        body = text.decode("latin-1") if isinstance(text, bytes) else str(text)
        found = _RECEIPT.search(body)
        if reference is None and found:
            reference = found.group("id")
        if isinstance(reference, bytes):
            reference = reference.decode()
        if reference:
            delivered = state == _DELIVERED_STATE or (found and found.group("stat") == "DELIVRD")
            self._receipts.append(
                Receipt(str(reference), "delivered" if delivered else "undelivered",
                        datetime.now(UTC))
            )
        return ESME_ROK

    def poll_receipts(self) -> list[Receipt]:
        """Read whatever PDUs are waiting (receipts, enquire_link) without blocking."""
        client = self._client
        if client is not None:
            try:
                while select.select([client._socket], [], [], 0)[0]:
                    client.read_once(auto_send_enquire_link=False)
            except (OSError, smpplib.exceptions.ConnectionError):
                self._drop()
        out, self._receipts = self._receipts, []
        return out

    def close(self) -> None:
        """Unbind and disconnect."""
        if self._client is not None:
            with contextlib.suppress(Exception):  # closing anyway
                self._client.unbind()
            self._drop()
