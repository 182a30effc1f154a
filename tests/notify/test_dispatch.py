"""Sending: throttle, retry with backoff, permanent failures, receipts, restart recovery."""

from __future__ import annotations

from datetime import timedelta

from notify.channels import Receipt, Sms
from notify.errors import PermanentSendError, TransientSendError
from notify.store import SqliteStore
from notify.throttle import TokenBucket
from tests.notify.conftest import T0


class Flaky:
    """A channel that fails the first ``transient`` sends, refuses ``bad`` numbers, and
    reports every accepted message delivered on the next poll."""

    name = "flaky"

    def __init__(self, transient: int = 0, bad: frozenset[str] = frozenset()) -> None:
        self.transient = transient
        self.bad = bad
        self.sent: list[Sms] = []
        self._receipts: list[Receipt] = []

    def send(self, sms: Sms) -> str:
        if sms.to in self.bad:
            raise PermanentSendError("unknown subscriber")
        if self.transient:
            self.transient -= 1
            raise TransientSendError("throttled by provider")
        self.sent.append(sms)
        self._receipts.append(Receipt(f"id-{len(self.sent)}", "delivered", T0))
        return f"id-{len(self.sent)}"

    def poll_receipts(self) -> list[Receipt]:
        out, self._receipts = self._receipts, []
        return out

    def close(self) -> None:
        pass


def test_token_bucket() -> None:
    bucket = TokenBucket(rate=10, burst=5)
    assert bucket.available(0.0) == 5
    bucket.take(5)
    assert bucket.available(0.0) == 0
    assert bucket.available(0.35) == 3
    assert bucket.available(100.0) == 5
    assert bucket.wait_time(100.0) == 0


def test_rate_limit_spreads_sending(make_notifier, assets) -> None:
    notifier, stream = make_notifier(channel=Flaky(), rate_per_second=10, burst=10)
    total = stream.predicted("INC-1", assets.recloser)
    assert total > 40
    sent = [notifier.dispatch(T0 + timedelta(seconds=s)).sent for s in range(4)]
    assert sent == [10, 10, 10, 10]


def test_transient_errors_back_off_then_send(make_notifier, assets) -> None:
    channel = Flaky(transient=2)
    notifier, stream = make_notifier(channel=channel, retry={"initial_s": 10, "factor": 2})
    stream.predicted("INC-1", assets.transformer, level="transformer")
    first = notifier.dispatch(T0)
    assert first.retried == 2
    retrying = notifier.store.rows(status="pending")
    assert len(retrying) == 2
    assert {r["not_before"] for r in retrying} == {T0.timestamp() + 10}
    assert notifier.dispatch(T0 + timedelta(seconds=5)).handled == 0
    later = notifier.dispatch(T0 + timedelta(seconds=11))
    assert later.sent == 2 and later.receipts == 2
    assert {r["status"] for r in notifier.store.rows()} == {"delivered"}
    assert len({s.key for s in channel.sent}) == len(channel.sent)


def test_give_up_after_max_attempts_and_on_permanent_errors(make_notifier, city, assets) -> None:
    from tests.notify.conftest import expected_phones

    bad = frozenset(sorted(expected_phones(city, assets.transformer))[:1])
    channel = Flaky(transient=10**6, bad=bad)
    notifier, stream = make_notifier(channel=channel, retry={"max_attempts": 3, "initial_s": 1})
    stream.predicted("INC-1", assets.transformer, level="transformer")
    for second in range(0, 20, 2):
        notifier.dispatch(T0 + timedelta(seconds=second))
    rows = notifier.store.rows()
    assert {r["status"] for r in rows} == {"failed"}
    assert {r["error"] for r in rows if r["phone"] in bad} == {"unknown subscriber"}
    assert {r["attempts"] for r in rows if r["phone"] not in bad} == {3}


def test_a_message_left_sending_by_a_crash_is_sent_again_under_its_key(
    make_notifier, assets, tmp_path
) -> None:
    notifier, stream = make_notifier()
    stream.predicted("INC-1", assets.transformer, level="transformer")
    claimed = notifier.store.claim_due(T0.timestamp(), 1)  # then the process dies
    path = notifier.store.path
    reopened = SqliteStore(path)
    assert {r["status"] for r in reopened.rows(key=claimed[0].key)} == {"pending"}
