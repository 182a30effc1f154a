"""Kannel end to end: our channel -> smsbox sendsms -> bearerbox -> fakesmsc, all real
processes started here on free loopback ports with a kannel.conf written into tmp_path."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit

import httpx
import pytest

from notify.channels import Sms
from notify.channels.kannel import KannelChannel
from notify.errors import PermanentSendError, TransientSendError

BEARERBOX, SMSBOX = shutil.which("bearerbox") or "/usr/sbin/bearerbox", "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
_GOT = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) (.*)>$", re.M)

pytestmark = pytest.mark.skipif(
    not all(Path(p).exists() for p in (BEARERBOX, SMSBOX, FAKESMSC)),
    reason="Debian's kannel is not installed (scripts/system-deps.sh installs it)",
)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _wait_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture
def kannel(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    admin, box, smsc, sendsms = _free_ports(4)
    conf = tmp_path / "kannel.conf"
    conf.write_text(
        f"""group = core
admin-port = {admin}
admin-password = test
smsbox-port = {box}
box-allow-ip = 127.0.0.1
log-file = {tmp_path / "bearerbox.log"}
log-level = 1
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {smsc}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {box}
sendsms-port = {sendsms}
log-file = {tmp_path / "smsbox.log"}
log-level = 1

group = sendsms-user
username = notify
password = secret
max-messages = 10
concatenation = true
"""
    )
    received = tmp_path / "fakesmsc.out"
    processes = []
    try:
        deadline = time.monotonic() + 30
        processes.append(subprocess.Popen([BEARERBOX, str(conf)], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        _wait_port(box, deadline)
        processes.append(subprocess.Popen([SMSBOX, str(conf)], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        _wait_port(sendsms, deadline)
        with received.open("w") as out:
            # fakesmsc sends one MO message at start (it must send something); -i keeps it
            # from sending more. It prints every MT message the bearerbox routes to it.
            processes.append(subprocess.Popen(
                [FAKESMSC, "-H", "127.0.0.1", "-r", str(smsc), "-i", "100000", "-m", "1",
                 "100 200 text hello"], stdout=out, stderr=subprocess.STDOUT))
        while "sent message 1" not in received.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield f"http://127.0.0.1:{sendsms}", received
    finally:
        for process in reversed(processes):  # fakesmsc, smsbox, then bearerbox
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()  # a box still waiting on its peer: ours to end
                process.wait(timeout=5)


def _delivered(received: Path, count: int) -> list[tuple[str, str, str, str]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = [m for m in _GOT.findall(received.read_text()) if m[0] != "200"]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"fakesmsc got {received.read_text()[-2000:]}")


def _text(coding: str, data: str) -> str:
    raw = unquote_to_bytes(data.replace("+", "%20"))
    return raw.decode("utf-16-be") if coding.startswith("ucs") else raw.decode("latin-1")


def test_sendsms_reaches_the_smsc_in_the_right_coding(kannel: tuple[str, Path]) -> None:
    base, received = kannel
    channel = KannelChannel(base, "notify", "secret", dlr_url="http://127.0.0.1:9/dlr")
    try:
        chinese = "【供电服务】您所在区域已恢复供电（单号INC-000001）。"
        assert channel.send(Sms("k-zh", "+8613800000001", chinese, "95598")) == "k-zh"
        channel.send(Sms("k-en", "+8613800000002", "[Power] Power restored", "95598"))
        got = sorted(_delivered(received, 2), key=lambda m: m[1])
        assert [(g[0], g[1]) for g in got] == [
            ("95598", "+8613800000001"),
            ("95598", "+8613800000002"),
        ]
        assert _text(got[0][2], got[0][3]) == chinese and got[0][2].startswith("ucs")
        assert _text(got[1][2], got[1][3]) == "[Power] Power restored"
    finally:
        channel.close()


def test_bad_credentials_are_permanent_and_a_dead_smsbox_transient(
    kannel: tuple[str, Path],
) -> None:
    base, _ = kannel
    wrong = KannelChannel(base, "notify", "wrong")
    with pytest.raises(PermanentSendError, match="HTTP 403"):
        wrong.send(Sms("k", "+8613800000001", "hi", "95598"))
    dead = KannelChannel("http://127.0.0.1:1", "notify", "secret", timeout=2)
    with pytest.raises(TransientSendError):
        dead.send(Sms("k", "+8613800000001", "hi", "95598"))


def test_the_dlr_url_carries_our_key() -> None:
    channel = KannelChannel("http://kannel", "u", "p", client=httpx.Client())
    params = channel.params(Sms("e1:restored:+86138", "+86138", "hi", "95598",
                                callback_url="http://svc/sms/dlr?via=kannel"))
    query = parse_qs(urlsplit(str(params["dlr-url"])).query)
    assert query == {"via": ["kannel"], "key": ["e1:restored:+86138"], "status": ["%d"]}
    assert params["dlr-mask"] == 3 and params["coding"] == 0
