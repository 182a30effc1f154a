"""A minimal SMPP 3.4 SMSC for tests, run as its own process on loopback.

    python -m tests.notify.smpp_peer --port 0 --log peer.jsonl --ready ready.txt

Speaks bind_transceiver, submit_sm / submit_sm_resp (with a message id), deliver_sm delivery
receipts (``receipted_message_id`` + ``message_state`` TLVs and the classic ``id:.. stat:..``
text), enquire_link and unbind. PDUs are framed by their length header and coded with
smpplib's PDU classes. Every submitted part is appended to ``--log`` as a JSON line
(``to``, ``from``, ``data_coding``, ``text`` decoded from GSM-7 / UCS-2, ``udh``, ``id``).
Destinations ending in 9999 are throttled (0x58) once; ending in 0000 are refused (0x0B).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import socket
import socketserver
import struct
import threading
import time
from pathlib import Path

import smpplib.consts as c
from smpplib import smpp
from smpplib.gsm import GSM_CHARACTER_TABLE

from notify.channels.smpp import DELIVERY_RECEIPT

_ids = itertools.count(1)


class _Sequence:
    """What smpplib's PDU classes ask of a client: the next sequence number."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)
        self.sequence = 0

    def next_sequence(self) -> int:
        self.sequence = next(self._numbers)
        return self.sequence


_SEQUENCE = _Sequence()
_throttled: set[str] = set()
_lock = threading.Lock()


def decode(data: bytes, coding: int, udh: bool) -> str:
    """The text of one submitted part."""
    if udh:
        data = data[1 + data[0] :]
    if coding == c.SMPP_ENCODING_ISO10646:
        return data.decode("utf-16-be")
    out, escape = [], False
    for byte in data:
        if byte == 0x1B:
            escape = True
            continue
        out.append(GSM_CHARACTER_TABLE[byte + 0x80 if escape else byte])
        escape = False
    return "".join(out)


class Handler(socketserver.BaseRequestHandler):
    """One ESME connection."""

    server: Server

    def recv_pdu(self) -> bytes | None:
        header = self._exact(4)
        if header is None:
            return None
        (length,) = struct.unpack(">L", header)
        body = self._exact(length - 4)
        return None if body is None else header + body

    def _exact(self, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            chunk = self.request.recv(size - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def reply(self, command: str, sequence: int, **fields: object) -> None:
        pdu = smpp.make_pdu(command, client=_SEQUENCE, **fields)
        pdu.sequence = sequence
        with self.lock:
            self.request.sendall(pdu.generate())

    def handle(self) -> None:
        self.lock = threading.Lock()
        while True:
            raw = self.recv_pdu()
            if raw is None:
                return
            pdu = smpp.parse_pdu(raw, client=_SEQUENCE, allow_unknown_opt_params=True)
            name = pdu.command
            if name == "bind_transceiver":
                ok = (pdu.system_id or b"").decode() == self.server.system_id and (
                    pdu.password or b""
                ).decode() == self.server.password
                status = c.SMPP_ESME_ROK if ok else c.SMPP_ESME_RBINDFAIL
                self.reply("bind_transceiver_resp", pdu.sequence, status=status,
                           system_id="peer")
            elif name == "submit_sm":
                self.submit(pdu)
            elif name == "enquire_link":
                self.reply("enquire_link_resp", pdu.sequence)
            elif name == "unbind":
                self.reply("unbind_resp", pdu.sequence)
                return

    def submit(self, pdu: object) -> None:
        to = (pdu.destination_addr or b"").decode()  # type: ignore[attr-defined]
        with _lock:
            if to.endswith("9999") and to not in _throttled:
                _throttled.add(to)
                status = c.SMPP_ESME_RTHROTTLED
            elif to.endswith("0000"):
                status = c.SMPP_ESME_RINVDSTADR
            else:
                status = c.SMPP_ESME_ROK
            message_id = f"m{next(_ids)}"
        if status != c.SMPP_ESME_ROK:
            self.reply("submit_sm_resp", pdu.sequence, status=status)  # type: ignore[attr-defined]
            return
        udh = bool(int(pdu.esm_class or 0) & c.SMPP_GSMFEAT_UDHI)  # type: ignore[attr-defined]
        record = {
            "id": message_id,
            "to": to,
            "from": (pdu.source_addr or b"").decode(),  # type: ignore[attr-defined]
            "data_coding": int(pdu.data_coding or 0),  # type: ignore[attr-defined]
            "udh": udh,
            "text": decode(pdu.short_message, int(pdu.data_coding or 0), udh),  # type: ignore[attr-defined]
            "receipt": bool(pdu.registered_delivery),  # type: ignore[attr-defined]
        }
        with _lock, self.server.log.open("a", encoding="utf-8") as log:
            log.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.reply("submit_sm_resp", pdu.sequence, message_id=message_id)  # type: ignore[attr-defined]
        if record["receipt"]:
            threading.Timer(0.05, self.receipt, (message_id, to)).start()

    def receipt(self, message_id: str, to: str) -> None:
        stamp = time.strftime("%y%m%d%H%M")
        text = (f"id:{message_id} sub:001 dlvrd:001 submit date:{stamp} done date:{stamp} "
                f"stat:DELIVRD err:000 text:").encode()
        deliver = smpp.make_pdu(
            "deliver_sm", client=_SEQUENCE, source_addr=to, destination_addr="95598",
            esm_class=DELIVERY_RECEIPT, short_message=text,
            receipted_message_id=message_id, message_state=2,
        )
        with self.lock, contextlib.suppress(OSError):  # the ESME may be gone
            self.request.sendall(deliver.generate())


class Server(socketserver.ThreadingTCPServer):
    """The SMSC."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, log: Path, system_id: str, password: str) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.log, self.system_id, self.password = log, system_id, password


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--system-id", default="notify")
    parser.add_argument("--password", default="secret")
    args = parser.parse_args()
    server = Server(args.port, args.log, args.system_id, args.password)
    args.ready.write_text(str(server.server_address[1]))
    server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    server.serve_forever()


if __name__ == "__main__":
    main()
