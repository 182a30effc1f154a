"""SMPP channel against a real SMSC process (tests/notify/smpp_peer.py) on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from notify.channels import Sms
from notify.channels.smpp import SmppChannel
from notify.errors import PermanentSendError, TransientSendError
from tests.conftest import PROJECT


@pytest.fixture
def smsc(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    log, ready = tmp_path / "smsc.jsonl", tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.notify.smpp_peer", "--log", str(log), "--ready", str(ready)],
        cwd=PROJECT,
    )
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() or not ready.read_text():
            assert process.poll() is None, "SMPP peer exited"
            assert time.monotonic() < deadline, "SMPP peer did not start"
            time.sleep(0.05)
        yield int(ready.read_text()), log
    finally:
        process.terminate()
        process.wait(timeout=10)


def _parts(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def _wait_receipts(channel: SmppChannel, count: int) -> list:
    receipts, deadline = [], time.monotonic() + 10
    while len(receipts) < count and time.monotonic() < deadline:
        receipts += channel.poll_receipts()
        time.sleep(0.02)
    return receipts


def test_submit_gsm_and_ucs2_with_receipts(smsc: tuple[int, Path]) -> None:
    port, log = smsc
    channel = SmppChannel("127.0.0.1", port, "notify", "secret")
    try:
        english = channel.send(Sms("k1", "+8613800000001", "[Power] Restored {ref}", "95598"))
        chinese_text = "【供电服务】您所在区域停电" * 8  # 104 UCS-2 characters: two parts
        chinese = channel.send(Sms("k2", "+8613800000002", chinese_text, "95598"))
        parts = _parts(log)
        assert [p["to"] for p in parts] == ["8613800000001", "8613800000002", "8613800000002"]
        assert parts[0]["data_coding"] == 0 and parts[0]["text"] == "[Power] Restored {ref}"
        assert {p["data_coding"] for p in parts[1:]} == {8} and all(p["udh"] for p in parts[1:])
        assert "".join(str(p["text"]) for p in parts[1:]) == chinese_text
        assert [p["receipt"] for p in parts] == [True, False, True]  # asked on the last part
        assert (english, chinese) == (parts[0]["id"], parts[2]["id"])
        receipts = _wait_receipts(channel, 2)
        assert {(r.reference, r.status) for r in receipts} == {
            (english, "delivered"),
            (chinese, "delivered"),
        }
    finally:
        channel.close()


def test_smsc_errors_map_to_transient_and_permanent(smsc: tuple[int, Path]) -> None:
    port, _ = smsc
    channel = SmppChannel("127.0.0.1", port, "notify", "secret")
    try:
        with pytest.raises(TransientSendError, match="0x00000058"):
            channel.send(Sms("k1", "+8613800009999", "hi", "95598"))
        assert channel.send(Sms("k1", "+8613800009999", "hi", "95598")).startswith("m")
        with pytest.raises(PermanentSendError, match="Invalid Destination"):
            channel.send(Sms("k2", "+8613800000000", "hi", "95598"))
    finally:
        channel.close()
    wrong = SmppChannel("127.0.0.1", port, "notify", "wrong")
    with pytest.raises(PermanentSendError, match="bind refused"):
        wrong.send(Sms("k3", "+8613800000001", "hi", "95598"))


def test_an_unreachable_smsc_is_transient() -> None:
    channel = SmppChannel("127.0.0.1", 1, "notify", "secret", timeout=2)
    with pytest.raises(TransientSendError):
        channel.send(Sms("k1", "+8613800000001", "hi", "95598"))


def test_notifier_over_smpp_records_delivery(make_notifier, assets, smsc) -> None:
    from tests.notify.conftest import T0

    port, log = smsc
    notifier, stream = make_notifier(channel=SmppChannel("127.0.0.1", port, "notify", "secret"))
    total = stream.predicted("INC-1", assets.transformer, level="transformer")
    assert notifier.dispatch(T0).sent == total
    deadline = time.monotonic() + 10
    while notifier.store.counts().get("delivered", 0) < total and time.monotonic() < deadline:
        notifier.dispatch(T0)
        time.sleep(0.05)
    assert notifier.store.counts() == {"delivered": total}
    assert len(_parts(log)) == total
