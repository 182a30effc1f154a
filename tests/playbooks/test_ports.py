"""Ports: the IVR announcement board, and the webhook against a real local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest

from playbooks.errors import ActionFailed
from playbooks.ports import AnnouncementBoard, HttpWebhook, Ports, Recorder
from playbooks.store import RunnerStore
from tests.playbooks.conftest import Drive, predicted


def test_board_plays_system_and_own_substation_announcements_only() -> None:
    board = AnnouncementBoard()
    etr = datetime(2026, 7, 1, 12, tzinfo=UTC)
    board.publish("storm", "system", {"zh-CN": "全网", "en": "all"}, None)
    board.publish("lockout", ("sub.a",), {"zh-CN": "甲站", "en": "A"}, etr)
    assert [a.id for a in board.for_area("sub.a")] == ["storm", "lockout"]
    assert [a.id for a in board.for_area("sub.b")] == ["storm"]
    board.publish("lockout", ("sub.b",), {"zh-CN": "乙站", "en": "B"}, etr)  # replaced
    assert [a.id for a in board.for_area("sub.a")] == ["storm"]
    board.withdraw("storm")
    board.withdraw("storm")  # twice is fine
    assert [(a.id, a.etr) for a in board.for_area("sub.b")] == [("lockout", etr)]


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    status = 204

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append({"json": json.loads(body), "auth": self.headers.get("X-Token")})
        self.send_response(_Hook.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def hook_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hook.received, _Hook.status = [], 204
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/playbook"
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_posts_json_to_a_real_server(hook_url: str) -> None:
    with httpx.Client() as client:
        status = HttpWebhook(client).post(hook_url, {"a": 1}, headers={"X-Token": "t"}, timeout_s=5)
    assert status == 204
    assert _Hook.received == [{"json": {"a": 1}, "auth": "t"}]


def test_webhook_failures_raise_action_failed(hook_url: str) -> None:
    _Hook.status = 500
    with httpx.Client() as client, pytest.raises(ActionFailed, match="HTTP 500"):
        HttpWebhook(client).post(hook_url, {}, headers={}, timeout_s=5)
    with httpx.Client() as client, pytest.raises(ActionFailed, match="ConnectError"):
        HttpWebhook(client).post("http://127.0.0.1:9/none", {}, headers={}, timeout_s=1)


def test_webhook_action_through_the_runner(book, hook_url: str) -> None:  # type: ignore[no-untyped-def]
    playbook = book(
        f"""
        id: hooked
        title: Hooked
        purpose: test
        when: {{customers_out: {{min: 100, scope: sub.a}}}}
        then:
          - webhook: {{url: "{hook_url}", headers: {{X-Token: secret}}}}
        """
    )
    recorder = Recorder()
    with httpx.Client() as client:
        ports = Ports(recorder, recorder, recorder, recorder, recorder, HttpWebhook(client))
        drive = Drive([playbook], store=RunnerStore(), recorder=recorder)
        drive.runner.ports = ports
        drive.feed(predicted("INC-7", 150, 0))
    [posted] = _Hook.received
    assert posted["auth"] == "secret"
    assert posted["json"]["playbook"] == "hooked" and posted["json"]["incidents"] == []
    assert posted["json"]["area"] == ["sub.a"] and posted["json"]["customers_out"] == 150
    result = drive.store.rows(kind="result")[0].detail
    assert result["ok"] and result["status"] == 204
