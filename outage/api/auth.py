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

    def find(self, key: str) -> KeyEntry | None:
        """The entry for a presented key, or None."""
        return self._by_hash.get(hash_key(key))

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
