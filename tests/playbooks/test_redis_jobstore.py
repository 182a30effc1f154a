"""The playbook runner's state in Redis: APScheduler jobs (`LiveScheduler.redis`) and the audit
log and runner state (`RedisRunnerStore`) survive a restart, and a re-added job replaces its
namesake instead of doubling. The restart tests of tests/playbooks/test_restart.py run again
here with both in a real Redis.

Skipped only when no redis-server can be found or started; fails when OUTAGE_REQUIRE_REDIS=1.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from outage.redisstore.keys import PlaybookKeys
from playbooks.scheduler import LiveScheduler, every, once
from playbooks.store import RedisRunnerStore
from tests.playbooks import test_restart
from tests.playbooks.conftest import Drive, call, predicted
from tests.redis.conftest import no_redis, redis_url  # noqa: F401 - the session fixture

pytestmark = pytest.mark.redis

for _name, _test in vars(test_restart).items():
    if _name.startswith("test_") and callable(_test):
        globals()[_name] = _test


@pytest.fixture
def prefix_of(redis_url: str) -> Iterator[dict[str, str]]:  # noqa: F811 - uses the fixture
    """Path (of the SQLite twin) -> a fresh key prefix; every key under them deleted after."""
    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        no_redis(f"Redis at {redis_url} does not answer: {exc}")
    prefixes: dict[str, str] = {}
    yield prefixes
    for prefix in prefixes.values():
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)
    client.close()


def _prefix(prefixes: dict[str, str], path: object) -> str:
    return prefixes.setdefault(str(path), f"test-playbooks-{uuid.uuid4().hex[:12]}")


@pytest.fixture(autouse=True)
def over_redis(monkeypatch: pytest.MonkeyPatch, prefix_of: dict[str, str], redis_url: str) -> None:  # noqa: F811
    """test_restart's SQLite stores, swapped for the Redis ones (same path = same prefix)."""
    client = redis.Redis.from_url(redis_url)
    monkeypatch.setattr(
        test_restart, "RunnerStore", lambda path: RedisRunnerStore(client, _prefix(prefix_of, path))
    )
    monkeypatch.setattr(
        test_restart, "LiveScheduler",
        lambda path, name: LiveScheduler.redis(redis_url, prefix=_prefix(prefix_of, path),
                                               name=name),
    )


def test_jobs_live_under_the_prefix_and_a_readd_replaces(prefix_of, redis_url) -> None:  # noqa: F811
    prefix = _prefix(prefix_of, "jobs")
    keys, client = PlaybookKeys(prefix), redis.Redis.from_url(redis_url)
    start = datetime.now(UTC) + timedelta(hours=1)
    spec = {"kind": "follow_up", "playbook": "p", "activation": "a", "steps": ["staffing"]}
    live = LiveScheduler.redis(client, prefix=prefix, name="redis-jobs")
    live.start(lambda *_: None)
    live.add("a:follow-up-0", every(15, start), spec)
    live.add("a:once", once(start), spec)
    live.stop()
    assert client.hlen(keys.jobs) == 2 and client.zcard(keys.run_times) == 2

    again = LiveScheduler.redis(redis_url, prefix=prefix, name="redis-jobs")
    again.start(lambda *_: None)
    assert again.add("a:follow-up-0", every(30, start), spec) == start + timedelta(minutes=30)
    assert client.hlen(keys.jobs) == 2  # replaced, not doubled
    assert {j.id: j.next_fire for j in again.jobs()} == {
        "a:follow-up-0": start + timedelta(minutes=30), "a:once": start,
    }
    again.remove("a:once")
    again.stop()
    assert client.hkeys(keys.jobs) == [b"a:follow-up-0"]
    with pytest.raises(ValueError, match="exactly one of path and jobstore"):
        LiveScheduler()


def test_runner_audit_and_state_commit_together(book, prefix_of, redis_url) -> None:  # noqa: F811
    prefix = _prefix(prefix_of, "runner")
    client = redis.Redis.from_url(redis_url)
    playbook, history = book(test_restart.BOOK), [predicted("INC-1", 1500, 0), call(1)]
    drive, twin = Drive([playbook], store=RedisRunnerStore(client, prefix)), Drive([playbook])
    drive.feed(history)
    twin.feed(history)  # the SQLite store (in memory)
    rows = drive.runner.store.rows()
    assert rows == twin.runner.store.rows() and {r.kind for r in rows} >= {"activated", "result"}
    assert drive.runner.store.rows(kind="activated") == twin.runner.store.rows(kind="activated")
    assert drive.runner.store.rows(since=datetime(2100, 1, 1, tzinfo=UTC)) == []
    reopened = RedisRunnerStore(client, prefix)
    assert reopened.load_state() is not None and len(reopened.rows()) == len(rows)
    # A failed MULTI/EXEC writes neither the rows nor the state.
    reopened.audit(datetime.now(UTC), "lockout", None, "proposed", {})
    reopened.client = redis.Redis(port=1)  # nobody listens there
    with pytest.raises(redis.exceptions.ConnectionError):
        reopened.commit({"broken": True})
    assert RedisRunnerStore(client, prefix).rows() == rows
    assert RedisRunnerStore(client, prefix).load_state() == drive.runner.store.load_state()


def test_paths_are_only_for_sqlite(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LiveScheduler(tmp_path / "jobs.sqlite", jobstore=object())
