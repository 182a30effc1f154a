"""Opening the Redis client from a ``--store`` URL, and translating redis-py's failures.

``redis://HOST:PORT[/DB]`` connects to one server; when that server runs in cluster mode
(``cluster_enabled:1``) the client becomes a `redis.cluster.RedisCluster` over the same seed
node, so the same URL works for a single Redis and for a Redis Cluster. Clients are created
once at bootstrap and passed in; nothing here keeps a module-level connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlparse

import redis
from redis.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException
from redis.exceptions import TimeoutError as RedisTimeoutError

from .errors import StoreError, StoreUnavailable

#: A client for one server or for a cluster (both speak the commands this package uses).
Client = redis.Redis | RedisCluster
T = TypeVar("T")

#: Failures that mean "Redis is not there", as opposed to "Redis said no".
UNREACHABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    RedisClusterException,
    ConnectionError,
    TimeoutError,
)


def connect(url: str, *, timeout_s: float = 2.0) -> Client:
    """A client for ``url`` (see the module docstring); `StoreUnavailable` if it is down."""
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
        raise StoreError(f"--store: expected redis://HOST:PORT[/DB], got {url!r}")
    common: dict[str, Any] = {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
    }
    with unavailable(f"redis at {parsed.hostname}:{parsed.port or 6379}"):
        plain = redis.Redis.from_url(url, **common)
        info = plain.info("cluster")
        if not info.get("cluster_enabled"):
            return plain
        plain.close()
        return RedisCluster(host=parsed.hostname, port=parsed.port or 6379, **common)


@contextmanager
def unavailable(what: str) -> Iterator[None]:
    """Turn redis-py's connection failures into `StoreUnavailable` naming ``what``."""
    try:
        yield
    except UNREACHABLE as exc:
        raise StoreUnavailable(f"{what}: Redis is unreachable ({exc})") from None


def guarded(what: str, call: Callable[[], T]) -> T:
    """``call()`` with connection failures translated (see `unavailable`)."""
    with unavailable(what):
        return call()


def is_cluster(client: Client) -> bool:
    """True for a Redis Cluster client."""
    return isinstance(client, RedisCluster)
