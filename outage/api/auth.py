"""API keys with roles, stored hashed; a token bucket per key.

A keys file (YAML) lists ``{name, sha256, roles, rate_per_s?, burst?}``; the key itself is
shown once by ``outage keys new`` and never stored or logged — only its SHA-256 is. API keys
are long random tokens, so a fast hash is enough (there is nothing to brute-force) and lets a
request be checked with one dictionary lookup.

Roles: ``intake`` posts signals, ``ivr`` looks up callers, ``officer`` gives commands and reads
incidents, ``metrics`` scrapes ``/metrics``, ``admin`` may do everything. Anonymous callers get
only health and the public outage summary.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from outage.errors import ConfigError

Role = Literal["intake", "ivr", "officer", "metrics", "admin"]
ROLES: tuple[Role, ...] = ("intake", "ivr", "officer", "metrics", "admin")


def hash_key(key: str) -> str:
    """The SHA-256 hex digest a keys file stores for ``key``."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh random API key (256 bits, URL-safe)."""
    return "ok_" + secrets.token_urlsafe(32)


class KeyEntry(BaseModel):
    """One configured key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=64)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    roles: Annotated[tuple[Role, ...], Field(min_length=1)]
    rate_per_s: Annotated[float, Field(gt=0)] = 50.0
    burst: Annotated[int, Field(ge=1)] | None = None

    def may(self, role: Role) -> bool:
        """Whether this key acts in ``role``."""
        return role in self.roles or "admin" in self.roles


class KeysFile(BaseModel):
    """The keys file's shape."""

    model_config = ConfigDict(extra="forbid")

    keys: list[KeyEntry] = Field(default_factory=list)


def load_keys(path: Path) -> list[KeyEntry]:
    """Read a keys file; `ConfigError` names the file and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read keys file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    try:
        entries = KeysFile.model_validate(raw).keys
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None
    names = [e.name for e in entries]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise ConfigError(f"{path}: keys: the name {duplicate!r} appears twice")
    return entries


def append_key(path: Path, entry: KeyEntry) -> None:
    """Add ``entry`` to the keys file at ``path`` (created when missing)."""
    entries = load_keys(path) if path.exists() else []
    if any(e.name == entry.name for e in entries):
        raise ConfigError(f"{path}: a key named {entry.name!r} already exists")
    entries.append(entry)
    _save(path, entries)


def remove_key(path: Path, name: str) -> KeyEntry:
    """Take the key named ``name`` out of the keys file (a service reads the file when it
    starts); returns the entry removed. `ConfigError` when there is no such key."""
    entries = load_keys(path)
    gone = next((e for e in entries if e.name == name), None)
    if gone is None:
        names = ", ".join(e.name for e in entries) or "none"
        raise ConfigError(f"{path}: no key named {name!r} (keys: {names})")
    _save(path, [e for e in entries if e.name != name])
    return gone


def _save(path: Path, entries: list[KeyEntry]) -> None:
    body = {"keys": [e.model_dump(mode="json", exclude_none=True) for e in entries]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(body, sort_keys=False, allow_unicode=True), encoding="utf-8")
    path.chmod(0o600)


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class KeyRing:
    """Configured keys by hash, with a token bucket per key."""

    entries: list[KeyEntry]
    _by_hash: dict[str, KeyEntry] = field(init=False)
    _buckets: dict[str, _Bucket] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._by_hash = {e.sha256: e for e in self.entries}
        self._by_name = {e.name: e for e in self.entries}

    def find(self, key: str) -> KeyEntry | None:
        """The entry for a presented key, or None."""
        return self._by_hash.get(hash_key(key))

    def named(self, name: str) -> KeyEntry | None:
        """The entry called ``name`` (a session names its key), or None."""
        return self._by_name.get(name)

    def take(self, entry: KeyEntry, cost: float = 1.0) -> float:
        """Spend ``cost`` tokens of ``entry``'s bucket; 0.0 if allowed, else seconds to wait."""
        capacity = float(entry.burst or max(1.0, entry.rate_per_s * 2))
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(entry.name)
            if bucket is None:
                bucket = self._buckets[entry.name] = _Bucket(capacity, now)
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * entry.rate_per_s)
            bucket.stamp = now
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return 0.0
            return (cost - bucket.tokens) / entry.rate_per_s


class FailureLimiter:
    """A token bucket per client address for failed sign-ins (unknown keys, bad sessions).

    Keys are long random tokens, so guessing one is hopeless — but answering every guess at
    full speed still hands out free work and hides an attack in the noise. Each address may
    fail ``rate_per_s`` times a second (``burst`` at once); beyond that it gets 429 until its
    bucket refills. Successful requests never touch this. Buckets of quiet addresses are
    dropped, so a scan from many addresses cannot grow the table without bound.
    """

    def __init__(self, rate_per_s: float = 2.0, burst: int = 20, max_addresses: int = 10_000):
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self.max_addresses = max_addresses
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, address: str) -> float:
        """Count one failure from ``address``: 0.0 while allowed, else seconds to wait."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(address)
            if bucket is None:
                if len(self._buckets) >= self.max_addresses:
                    self._forget_full(now)
                bucket = self._buckets[address] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate_per_s)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate_per_s

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled (their addresses have been quiet)."""
        refill = self.burst / self.rate_per_s
        for address, bucket in list(self._buckets.items()):
            if now - bucket.stamp >= refill:
                del self._buckets[address]
        if len(self._buckets) >= self.max_addresses:  # all busy: forget the oldest
            oldest = min(self._buckets, key=lambda a: self._buckets[a].stamp)
            del self._buckets[oldest]
