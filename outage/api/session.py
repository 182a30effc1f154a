"""Dashboard sessions: a signed session id in the cookie, never the API key itself.

The dashboard signs in once with an officer key (``POST /v1/session``) and then relies on a
cookie, because a browser's ``EventSource`` cannot send headers. The cookie holds
``<payload>.<signature>``: the payload names the key's *name* (not the key), an expiry and a
random session id; the signature is an HMAC-SHA256 under the service's session secret. So a
leaked cookie (a log, a proxy, a screenshot of dev tools) grants one session until it expires
or is signed out — never the key, which would work everywhere and for good.

Signing out revokes the session id in this process; with ``outage serve`` the secret lives in
``STATE_DIR/session.secret`` (mode 600), so sessions survive a restart (revocations do not:
they also end at expiry).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from pathlib import Path
from typing import TypedDict

import orjson

#: How long a session lasts.
SESSION_TTL_S = 12 * 3600


class _Payload(TypedDict):
    n: str  # the key's name
    e: int  # expiry, epoch seconds
    s: str  # the session id


class Sessions:
    """Issues and checks signed session cookies (see the module docstring)."""

    def __init__(self, secret: bytes | None = None, ttl_s: int = SESSION_TTL_S) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self.ttl_s = ttl_s
        self._revoked: set[str] = set()
        self._lock = threading.Lock()

    def issue(self, name: str) -> str:
        """A fresh cookie value for the key named ``name``."""
        payload: _Payload = {
            "n": name,
            "e": int(time.time()) + self.ttl_s,
            "s": secrets.token_urlsafe(12),
        }
        body = _b64(orjson.dumps(payload))
        return f"{body}.{self._sign(body)}"

    def name_of(self, cookie: str) -> str | None:
        """The key name a valid, unexpired, not revoked cookie names; None otherwise."""
        payload = self._payload(cookie)
        if payload is None or payload["e"] < time.time():
            return None
        with self._lock:
            if payload["s"] in self._revoked:
                return None
        return str(payload["n"])

    def revoke(self, cookie: str) -> None:
        """End the session ``cookie`` belongs to (sign out)."""
        payload = self._payload(cookie)
        if payload is not None:
            with self._lock:
                self._revoked.add(payload["s"])

    def _payload(self, cookie: str) -> _Payload | None:
        body, _, signature = cookie.partition(".")
        if not body or not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            payload = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(payload, dict) or not {"n", "e", "s"} <= payload.keys():
            return None
        # signed, so written by `issue`
        return _Payload(n=payload["n"], e=payload["e"], s=payload["s"])

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def secret_file(state_dir: Path) -> bytes:
    """The session secret kept in ``state_dir/session.secret`` (created, mode 600)."""
    path = state_dir / "session.secret"
    if path.exists():
        return bytes.fromhex(path.read_text(encoding="utf-8").strip())
    secret = secrets.token_bytes(32)
    state_dir.mkdir(parents=True, exist_ok=True)
    # Created 0600 from the start: never readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secret.hex() + "\n")
    return secret
