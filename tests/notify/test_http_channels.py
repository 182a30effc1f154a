"""Twilio and webhook channels against a real local HTTP server (http.server in a thread)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from notify.channels import Sms, TwilioChannel, WebhookChannel
from notify.errors import PermanentSendError, TransientSendError


class Recorder(ThreadingHTTPServer):
    """Records each request; answers with the next scripted (status, JSON body)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict[str, object]] = []
        self.script: list[tuple[int, object]] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append(
            {"path": self.path, "headers": dict(self.headers), "body": body.decode()}
        )
        status, reply = self.server.script.pop(0) if self.server.script else (201, {})
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Recorder]:
    recorder = Recorder()
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    yield recorder
    recorder.shutdown()
    recorder.server_close()


SMS = Sms("e7:restored:+8613800000001", "+8613800000001", "【供电服务】已恢复供电", "95598")


def test_twilio_request_shape(server: Recorder) -> None:
    server.script = [(201, {"sid": "SM0123456789abcdef", "status": "queued"})]
    channel = TwilioChannel(
        "AC123", "token", from_number="+15005550006", base_url=server.base,
        status_callback="https://svc.example/sms/status",
    )
    assert channel.send(SMS) == "SM0123456789abcdef"
    request = server.requests[0]
    assert request["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    headers = request["headers"]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"AC123:token").decode()
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(str(request["body"]))
    assert form["To"] == ["+8613800000001"] and form["From"] == ["+15005550006"]
    assert form["Body"] == ["【供电服务】已恢复供电"]
    callback = urlsplit(form["StatusCallback"][0])
    assert callback.path == "/sms/status"
    assert parse_qs(callback.query) == {"key": ["e7:restored:+8613800000001"]}


def test_twilio_messaging_service_and_errors(server: Recorder) -> None:
    server.script = [
        (201, {"sid": "SM1"}),
        (429, {"code": 20429, "message": "Too Many Requests"}),
        (400, {"code": 21211, "message": "Invalid 'To' Phone Number"}),
        (503, {}),
    ]
    channel = TwilioChannel("AC1", "t", messaging_service_sid="MG9", base_url=server.base)
    channel.send(SMS)
    form = parse_qs(str(server.requests[0]["body"]))
    assert form["MessagingServiceSid"] == ["MG9"] and "From" not in form
    assert "StatusCallback" not in form
    with pytest.raises(TransientSendError, match="429"):
        channel.send(SMS)
    with pytest.raises(PermanentSendError, match="21211"):
        channel.send(SMS)
    with pytest.raises(TransientSendError, match="503"):
        channel.send(SMS)
    with pytest.raises(ValueError, match="exactly one"):
        TwilioChannel("AC1", "t")


def test_webhook_posts_json_with_the_idempotency_key(server: Recorder) -> None:
    server.script = [(202, {"id": "wh-1"}), (422, {"error": "bad number"}), (200, [])]
    channel = WebhookChannel(server.base + "/sms", headers={"Authorization": "Bearer x"})
    assert channel.send(SMS) == "wh-1"
    request = server.requests[0]
    assert request["path"] == "/sms"
    assert request["headers"]["Idempotency-Key"] == SMS.key
    assert request["headers"]["Authorization"] == "Bearer x"
    assert json.loads(str(request["body"])) == {
        "key": SMS.key, "to": SMS.to, "from": "95598", "body": SMS.body, "kind": SMS.kind,
    }
    with pytest.raises(PermanentSendError, match="422"):
        channel.send(SMS)
    assert channel.send(SMS) == SMS.key  # no id in the reply: our key names it
    dead = WebhookChannel("http://127.0.0.1:1/sms", timeout=2)
    with pytest.raises(TransientSendError):
        dead.send(SMS)
