"""Request dependencies: who is calling (API key -> roles) and the per-key rate limit."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPBearer

from .auth import FailureLimiter, KeyEntry, KeyRing, Role
from .session import Sessions
from .surface import ServiceRuntime

if TYPE_CHECKING:
    from .compose import AnyServices

#: Cookie the dashboard's login sets (HttpOnly): EventSource cannot send headers.
SESSION_COOKIE = "outage_session"

# Declared for the OpenAPI schema (the "Authorize" button); checked by `caller` below.
_bearer = HTTPBearer(auto_error=False, description="API key as a bearer token")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


def runtime_of(request: Request) -> ServiceRuntime:
    """The runtime this app serves (embedded or Redis)."""
    return request.app.state.runtime  # type: ignore[no-any-return]


def services_of(request: Request) -> AnyServices | None:
    """Notify and playbooks when this process runs them (None for an API-only worker)."""
    return getattr(request.app.state, "services", None)


def presented_key(request: Request) -> str | None:
    """The key a request's headers carry: bearer token, X-API-Key or basic-auth password (the
    session cookie holds no key: see `outage.api.session`)."""
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        # Twilio and VoiceXML platforms can only do basic auth: the password is the key.
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    header = request.headers.get("x-api-key")
    if header:
        return header.strip()
    return None


def client_address(request: Request) -> str:
    """The peer's address (the proxy's, behind one), for per-address limits."""
    return request.client.host if request.client is not None else "unknown"


def refuse_unknown(request: Request, detail: str) -> HTTPException:
    """401 for an unknown key or session — or 429 once this address has failed too often."""
    limiter: FailureLimiter = request.app.state.auth_failures
    wait = limiter.take(client_address(request))
    if wait > 0:
        return HTTPException(
            429,
            f"authorization: too many failed sign-ins from {client_address(request)}; "
            f"retry in {max(1, round(wait))} s",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def caller_of(request: Request) -> KeyEntry | None:
    """The key entry a request authenticates as; None when it carries no credentials at all.
    Raises 401/429 (see `refuse_unknown`) for an unknown key or an invalid session."""
    ring: KeyRing = request.app.state.keys
    key = presented_key(request)
    if key is not None:
        entry = ring.find(key)
        if entry is None:
            raise refuse_unknown(request, "authorization: unknown API key")
        return entry
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    sessions: Sessions = request.app.state.sessions
    name = sessions.name_of(cookie)
    entry = ring.named(name) if name is not None else None
    if entry is None:
        raise refuse_unknown(request, "session: expired or not valid; sign in again")
    return entry


def require(role: Role) -> Callable[..., Awaitable[KeyEntry]]:
    """A dependency admitting keys that may act in ``role`` (admin may do everything)."""

    # async: FastAPI runs a plain ``def`` dependency in a worker thread, which would cost more
    # than the IVR lookup itself; this check never blocks (a hash and a short lock).
    async def check(
        request: Request,
        _b: Annotated[object, Depends(_bearer)] = None,
        _h: Annotated[object, Depends(_header)] = None,
    ) -> KeyEntry:
        ring: KeyRing = request.app.state.keys
        entry = caller_of(request)
        if entry is None:
            raise HTTPException(
                401,
                "authorization: an API key is required (Authorization: Bearer <key>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not entry.may(role):
            raise HTTPException(403, f"authorization: key {entry.name!r} lacks the {role} role")
        wait = ring.take(entry)
        if wait > 0:
            raise HTTPException(
                429,
                f"rate limit: key {entry.name!r} is limited to {entry.rate_per_s:g} requests/s",
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        request.state.caller = entry
        return entry

    return check
