"""`RedisNotifyStore` against a real redis-server: notify's pipeline, dispatch and inbound
tests run again over it, it decides exactly what `SqliteStore` decides on a storm, a failed
decision writes nothing, two senders never claim one row, and a notifier killed with SIGKILL
mid-storm and restarted sends every text once and none to opted-out numbers.

Skipped only when no redis-server can be found or started; fails when OUTAGE_REQUIRE_REDIS=1.

    python -m tests.notify.test_redis_store URL PREFIX STATE_DIR [--pause S]

runs `tests.notify.crash_worker` over a `RedisNotifyStore` (the crash test's child process).
"""

from __future__ import annotations

import itertools
import multiprocessing
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis

import tests.notify.conftest as notify_conftest
from notify import Notifier, NotifyConfig, RedisNotifyStore, SqliteStore
from notify.channels import FileChannel, read_outbox
from notify.store import OutboxRow
from outage.redisstore.keys import Keyspace, NotifyKeys
from tests.notify import crash_worker, test_crash, test_dispatch, test_inbound, test_pipeline
from tests.notify.conftest import T0
from tests.redis.conftest import no_redis, redis_url  # noqa: F401 - the session fixture

pytestmark = pytest.mark.redis

# -- the behavioural tests of SqliteStore, again over Redis ------------------------------------

#: Tests that reopen a SQLite file by path (their Redis twins are below).
SQLITE_ONLY = {"test_a_message_left_sending_by_a_crash_is_sent_again_under_its_key"}
for _module in (test_pipeline, test_dispatch, test_inbound):
    for _name, _test in vars(_module).items():
        if _name.startswith("test_") and _name not in SQLITE_ONLY and callable(_test):
            globals()[_name] = _test


@pytest.fixture
def rclient(redis_url: str) -> Iterator[redis.Redis]:  # noqa: F811 - uses the fixture
    """A client of the test server; keys under the test's prefixes are deleted after."""
    try:
        made = redis.Redis.from_url(redis_url, socket_timeout=30)
        made.ping()
    except redis.exceptions.RedisError as exc:
        no_redis(f"Redis at {redis_url} does not answer: {exc}")
    made.prefixes = []  # type: ignore[attr-defined]
    yield made
    for prefix in made.prefixes:  # type: ignore[attr-defined]
        for key in made.scan_iter(match=f"{prefix}:*", count=1000):
            made.delete(key)
    made.close()


def fresh_keys(client: redis.Redis) -> NotifyKeys:
    """A prefix no other test uses (cleaned up by `rclient`)."""
    prefix = f"test-notify-{uuid.uuid4().hex[:12]}"
    client.prefixes.append(prefix)  # type: ignore[attr-defined]
    return NotifyKeys(prefix)


@pytest.fixture
def make_notifier(make_notifier, monkeypatch, rclient):  # overrides conftest's
    """tests/notify/conftest.py's notifier factory with a `RedisNotifyStore` per notifier."""
    monkeypatch.setattr(
        notify_conftest, "SqliteStore", lambda path: RedisNotifyStore(rclient, fresh_keys(rclient))
    )
    return make_notifier


# -- focused tests ---------------------------------------------------------------------------


def test_keyspace_prefix_and_restart_keep_high_water_projection_and_decisions(
    city, assets, rclient
) -> None:
    keys = fresh_keys(rclient)
    config = NotifyConfig(quiet_hours={})
    first = Notifier(city.topology, city.tables.customers, config,
                     RedisNotifyStore(rclient, Keyspace(keys.prefix)))
    stream = notify_conftest.Stream(first)
    decided = stream.predicted("INC-1", assets.fuse)
    assert decided > 0 and first.high_water == 1
    assert first.store.counts() == {"pending": decided}

    again = Notifier(city.topology, city.tables.customers, config, RedisNotifyStore(rclient, keys))
    assert again.high_water == 1 and "INC-1" in again.book.incidents
    replayed = again.on_event(1, _predicted(assets.fuse))
    assert replayed == 0 and len(again.store.rows()) == decided
    # the next event is decided against the restored log: restoration texts nobody (all pending
    # texts are superseded, nobody heard of the outage)
    again.on_event(2, _restored(assets.fuse, minutes=1))
    assert again.store.counts() == {"superseded": decided}


def _predicted(device: str) -> Any:
    from outage import events as ev

    return ev.OutagePredicted(at=T0, incident="INC-1", device=device, level="device",
                              customers=0, substation="s", feeder="f", cause="calls")


def _restored(device: str, minutes: float) -> Any:
    from outage import events as ev

    return ev.OutageRestored(at=T0 + timedelta(minutes=minutes), incident="INC-1", device=device,
                             customers=0, cause="crew")


def test_a_failed_decision_writes_nothing_at_all(city, assets, rclient, monkeypatch) -> None:
    keys = fresh_keys(rclient)
    notifier = Notifier(city.topology, city.tables.customers, NotifyConfig(quiet_hours={}),
                        RedisNotifyStore(rclient, keys))
    real = notifier.decider.decide

    def broken(*args: Any, **kwargs: Any) -> int:
        real(*args, **kwargs)
        raise RuntimeError("power cut in the data centre")

    monkeypatch.setattr(notifier.decider, "decide", broken)
    with pytest.raises(RuntimeError):
        notifier.on_event(1, _predicted(assets.fuse))
    assert list(rclient.scan_iter(match=f"{keys.prefix}:*")) == []  # not even the lock


def _rows(n: int, incident: str = "INC-1") -> list[OutboxRow]:
    """``n`` messages with mixed priorities and due times, in insertion order."""
    return [
        OutboxRow(f"e1:outage_detected:+86{i:08d}", f"+86{i:08d}", f"acct-{i}", incident,
                  "outage_detected", "en", f"text {i}", "GSM-7", 1, (i * 7) % 3,
                  T0.timestamp() + (i % 5), T0.timestamp())
        for i in range(n)
    ]


def test_claims_come_by_priority_then_due_time_then_insertion(rclient) -> None:
    store = RedisNotifyStore(rclient, fresh_keys(rclient))
    rows = _rows(60)
    with store.transaction() as tx:
        tx.enqueue(rows)
        tx.enqueue(rows[:5])  # a key already there is kept as it was
    assert store.counts() == {"pending": 60}
    assert store.claim_due(T0.timestamp() - 1, 10) == []  # nothing due yet
    claimed = list(itertools.chain.from_iterable(
        store.claim_due(T0.timestamp() + 10, n) for n in (7, 1, 30, 100)
    ))
    order = {r.key: i for i, r in enumerate(rows)}
    expected = sorted(rows, key=lambda r: (r.priority, r.not_before, order[r.key]))
    assert [r.key for r in claimed] == [r.key for r in expected]
    assert claimed[0] == expected[0]  # every column back, status as it was claimed
    assert store.counts() == {"sending": 60}


def _claimer(url: str, prefix: str, barrier: Any, out: Any) -> None:
    store = RedisNotifyStore(redis.Redis.from_url(url), NotifyKeys(prefix), recover_sending=False)
    barrier.wait()
    mine: list[str] = []
    for batch in itertools.cycle((1, 3, 2, 5)):
        claimed = store.claim_due(T0.timestamp() + 60, batch)
        if not claimed:
            break
        for row in claimed:
            store.finish(row.key, "sent", at=T0.timestamp(), provider_id=f"id-{row.key}")
            mine.append(row.key)
    out.put(mine)


def test_two_sender_processes_never_claim_the_same_message(rclient, redis_url) -> None:  # noqa: F811
    keys = fresh_keys(rclient)
    store = RedisNotifyStore(rclient, keys)
    rows = _rows(2000)
    with store.transaction() as tx:
        tx.enqueue(rows)
    context = multiprocessing.get_context("fork")
    barrier, out = context.Barrier(2), context.Queue()
    senders = [
        context.Process(target=_claimer, args=(redis_url, keys.prefix, barrier, out))
        for _ in range(2)
    ]
    for sender in senders:
        sender.start()
    claimed = [out.get(timeout=120) for _ in senders]
    for sender in senders:
        sender.join(30)
    a, b = map(set, claimed)
    assert a and b, "both senders should have taken a share"
    assert not a & b
    assert len(claimed[0]) + len(claimed[1]) == len(a | b) == len(rows)
    assert store.counts() == {"sent": len(rows)}
    assert store.record_receipt(f"id-{rows[0].key}", "delivered", T0.timestamp())
    assert store.record_receipt(rows[1].key, "undelivered", T0.timestamp())  # by outbox key
    assert not store.record_receipt("no-such-id", "delivered", T0.timestamp())
    assert store.counts() == {"sent": len(rows) - 2, "delivered": 1, "undelivered": 1}


def test_a_decision_in_progress_holds_other_processes_claims_back(rclient) -> None:
    keys = fresh_keys(rclient)
    decider, sender = RedisNotifyStore(rclient, keys), RedisNotifyStore(rclient, keys)
    rows = _rows(10)
    with decider.transaction() as tx:
        tx.enqueue(rows)
    claimed: list[OutboxRow] = []
    inside = threading.Event()
    thread = threading.Thread(
        target=lambda: (inside.wait(), claimed.extend(sender.claim_due(T0.timestamp() + 10, 10)))
    )
    thread.start()
    with decider.transaction() as tx:
        inside.set()
        time.sleep(0.3)  # the other store's claim waits for this decision
        assert not claimed
        assert tx.supersede("INC-1", ["outage_detected"], None) == {r.phone for r in rows}
    thread.join(10)
    assert claimed == [] and decider.counts() == {"superseded": 10}


def test_rows_left_sending_by_a_crash_are_sent_again(rclient) -> None:
    keys = fresh_keys(rclient)
    store = RedisNotifyStore(rclient, keys)
    with store.transaction() as tx:
        tx.enqueue(_rows(3))
    claimed = store.claim_due(T0.timestamp() + 10, 2)  # then the process dies
    reopened = RedisNotifyStore(rclient, keys)
    assert reopened.counts() == {"pending": 3}
    again = reopened.claim_due(T0.timestamp() + 10, 3)
    assert {r.key for r in claimed} <= {r.key for r in again}
    # several senders: only rows claimed before a cutoff are taken back
    reopened.finish(again[0].key, "pending", at=T0.timestamp(), error="busy",
                    not_before=T0.timestamp())
    assert RedisNotifyStore(rclient, keys, recover_sending=False).recover(older_than=0) == 0
    assert reopened.counts() == {"pending": 1, "sending": 2}


def test_consent_inbound_ids_and_rows_filters(rclient) -> None:
    keys = fresh_keys(rclient)
    store = RedisNotifyStore(rclient, keys)
    store.set_consent("+8613000000001", "out", 1.0, "sms:1")
    store.set_consent("+8613000000001", "in", 2.0, "sms:2")
    store.set_consent("+8613000000002", "out", 3.0, "sms:3")
    store.remember_inbound("m1", "+8613000000001", "STOP", 1.0, "bye")
    store.remember_inbound("m1", "+8613000000001", "STOP", 1.0, "changed")  # kept as it was
    again = RedisNotifyStore(rclient, keys)
    assert again.consent() == {"+8613000000001": "in", "+8613000000002": "out"}
    assert again.inbound_reply("m1") == "bye" and again.inbound_reply("m2") is None
    with again.transaction() as tx:
        tx.enqueue(_rows(6))
    assert len(again.rows(priority="1")) == 2 and len(again.rows(priority=1)) == 2
    with pytest.raises(ValueError, match="unknown outbox column"):
        again.rows(colour="red")


def test_the_redis_store_decides_and_sends_exactly_what_sqlite_does(rclient, tmp_path) -> None:
    network, events = crash_worker.storm()
    # A slow provider keeps a backlog, so restorations supersede and ETRs rewrite texts.
    config = NotifyConfig(quiet_hours={}, rate_per_second=0.5, burst=40,
                          detect_delay_minutes=2, etr_change_threshold_minutes=10)
    notifiers = [
        Notifier(network.topology, network.tables.customers, config, store,
                 FileChannel(tmp_path / f"{name}.jsonl", fsync=False))
        for name, store in (("sqlite", SqliteStore(tmp_path / "notify.sqlite")),
                            ("redis", RedisNotifyStore(rclient, fresh_keys(rclient))))
    ]
    first = events[0][1].at
    for notifier in notifiers:
        for number, phone in enumerate(crash_worker.stopped_phones(network)[:5]):
            notifier.handle_inbound(phone, "STOP", f"stop-{number}", first)
        previous = first
        for seq, event in events:
            if seq % 5 == 0:
                notifier.dispatch(previous)
            notifier.on_event(seq, event)
            previous = event.at
        notifier.dispatch(previous + timedelta(minutes=5))
        notifier.channel.close()
    sqlite, redis_ = (n.store for n in notifiers)
    assert sqlite.counts() == redis_.counts() and sum(sqlite.counts().values()) > 200
    assert {"sent", "superseded", "pending"} <= set(sqlite.counts()), sqlite.counts()
    assert sqlite.rows() == redis_.rows()
    texts = [
        [{k: v for k, v in line.items() if k != "at"} for line in read_outbox(tmp_path / name)]
        for name in ("sqlite.jsonl", "redis.jsonl")
    ]  # "at" is the wall clock of the write
    assert texts[0] == texts[1]


# -- kill -9 ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_and_restart_over_redis_sends_each_text_exactly_once(
    rclient, redis_url, tmp_path: Path, monkeypatch  # noqa: F811
) -> None:
    """tests/notify/test_crash.py's test, its worker processes over a `RedisNotifyStore`."""
    prefixes: dict[str, NotifyKeys] = {}  # state dir -> keys

    def popen(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        at = args.index("tests.notify.crash_worker")
        state = args[at + 1]
        keys = prefixes.setdefault(state, fresh_keys(rclient))
        mine = [*args[:at], "tests.notify.test_redis_store", redis_url, keys.prefix, *args[at + 1:]]
        return subprocess.Popen(mine, **kwargs)

    monkeypatch.setattr(test_crash, "subprocess", SimpleNamespace(Popen=popen))
    monkeypatch.setattr(test_crash, "SqliteStore", lambda path: RedisNotifyStore(
        rclient, prefixes[str(path.parent)], recover_sending=False))
    test_crash.test_kill_9_and_restart_sends_each_text_exactly_once(tmp_path)
    reference, crashed = (RedisNotifyStore(rclient, k, recover_sending=False)
                          for k in prefixes.values())
    assert reference.counts() == crashed.counts()


def _worker() -> None:
    """The crash test's child: `tests.notify.crash_worker` with a `RedisNotifyStore`."""
    url, prefix, *rest = sys.argv[1:]
    client = redis.Redis.from_url(url)
    crash_worker.SqliteStore = lambda path: RedisNotifyStore(  # type: ignore[assignment,misc]
        client, NotifyKeys(prefix)
    )
    sys.argv = [sys.argv[0], *rest]
    crash_worker.main()


if __name__ == "__main__":
    _worker()
