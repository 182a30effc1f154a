"""Health, readiness, metrics, the anonymous public summary, the event stream, sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from outage import events as ev
from outage.redisstore.errors import StoreError

from .deps import SESSION_COOKIE, refuse_unknown, require, runtime_of
from .pump import Stall
from .responses import Json
from .schemas import ConsumerHealth, ConsumerStall, Health, HealthStatus, PublicSummary, SessionBody
from .session import Sessions
from .surface import ServiceRuntime

router = APIRouter()
EVENT_TYPES = frozenset(ev.EVENT_TYPES) | {"PlaybookAudit"}


@router.get("/healthz", response_model=Health, tags=["operations"], summary="Liveness")
async def healthz(request: Request) -> Health:
    """The process answers. Liveness never waits on the store: a Redis outage must not make
    an orchestrator restart healthy API workers (`/readyz` reports that), so the figure here
    is the last one read, never a fresh read."""
    return Health(status="ok", signals_applied=runtime_of(request).liveness())


def _signals_applied(runtime: ServiceRuntime) -> int | None:
    """How many signals the engine applied; None while the store (Redis) cannot be reached."""
    try:
        return runtime.engine.signals_applied
    except StoreError:
        return None


@router.get(
    "/readyz",
    response_model=Health,
    tags=["operations"],
    summary="Readiness: journal recovered and writable, indexes warm, store reachable, "
    "consumers keeping up",
    responses={503: {"model": Health}},
)
async def readyz(request: Request) -> Response:
    """200 once the engine has replayed its journal and the GIS index is built, while the
    journal is the file it opened and every accepted message's events are journaled (with
    Redis: while Redis answers), and while no event consumer (notify, playbooks) is stalled
    on an event; ``consumers`` gives each one's figures."""
    runtime = runtime_of(request)
    applied = await run_in_threadpool(_signals_applied, runtime)
    detail = None
    if not getattr(request.app.state, "ready", False):
        detail = "starting"
    elif applied is None:
        detail = "store: Redis cannot be reached"
    elif runtime.journal is not None:
        detail = runtime.journal.healthy() or runtime.host.lagging
    consumers = _consumers(request)
    stalled = [c.stalled.detail for c in consumers if c.stalled is not None]
    if detail is None and stalled:
        detail = "; ".join(stalled)
    status: HealthStatus = (
        "ok" if detail is None else ("starting" if detail == "starting" else "unavailable")
    )
    body = Health(
        status=status,
        signals_applied=applied,
        journal=runtime.journal.path if runtime.journal is not None else None,
        detail=detail,
        consumers=consumers,
    )
    return Json(body.model_dump(), status_code=200 if detail is None else 503)


def _consumers(request: Request) -> list[ConsumerHealth]:
    """Notify's and the playbooks' pumps, when this process runs them."""
    services = getattr(request.app.state, "services", None)
    if services is None:
        return []
    return [
        ConsumerHealth(
            name=name,
            handled=pump.handled,
            backlog=pump.backlog,
            errors=pump.errors,
            stalled=_stall(name, pump.stalled),
        )
        for name, pump in services.pumps.items()
    ]


def _stall(name: str, stall: Stall | None) -> ConsumerStall | None:
    if stall is None:
        return None
    return ConsumerStall(
        seq=stall.seq,
        event=stall.event,
        error=stall.error,
        since=stall.since,
        attempts=stall.attempts,
        detail=stall.describe(name),
    )


@router.get(
    "/metrics",
    tags=["operations"],
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(
    request: Request, _caller: Annotated[object, Depends(require("metrics"))]
) -> Response:
    """Signals accepted/duplicate/rejected, incidents open, calls suppressed, lookup latency."""
    body = generate_latest(runtime_of(request).metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/v1/public/summary",
    response_model=PublicSummary,
    tags=["public"],
    summary="Customers out, by substation (anonymous)",
)
async def public_summary(request: Request) -> Json:
    """Totals only: never a customer, an address or an account."""
    return Json(runtime_of(request).public_summary())


@dataclass(frozen=True)
class _Resume:
    """Where a stream starts and which event types it carries."""

    after: int
    types: frozenset[str] | None


async def _resume(
    request: Request,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    after: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="resume after this sequence")
    ] = None,
    types: Annotated[
        list[str] | None, Query(max_length=40, description="only these event types")
    ] = None,
) -> _Resume:
    """Checked before the stream starts, so a bad request is a 422 and not a 200 cut short
    (which a browser's EventSource would retry for ever)."""
    if types:
        unknown = sorted(set(types) - EVENT_TYPES)
        if unknown:
            raise HTTPException(
                422,
                f"types: unknown event type(s) {', '.join(unknown)}; "
                f"expected some of {', '.join(sorted(EVENT_TYPES))}",
            )
    start, field = after or 0, "after"
    if last_event_id is not None and last_event_id.strip():
        if not last_event_id.strip().isdigit():
            raise HTTPException(
                422, f"Last-Event-ID: expected an event sequence number, got {last_event_id!r}"
            )
        start, field = int(last_event_id), "Last-Event-ID"
    if start:
        latest = await run_in_threadpool(runtime_of(request).latest_event_seq)
        if start > latest:
            raise HTTPException(
                422,
                f"{field}: {start} is after the newest event ({latest}); this service never "
                "sent it (a different or reset state dir?): reconnect without it to get "
                "everything from the start, or after={latest} for only what comes next",
            )
    return _Resume(start, frozenset(types) if types else None)


@router.get(
    "/v1/events",
    response_class=EventSourceResponse,
    tags=["duty officer"],
    summary="Live domain events (Server-Sent Events)",
    responses={422: {"description": "bad Last-Event-ID / after / types (before streaming)"}},
)
async def events(
    request: Request,
    _caller: Annotated[object, Depends(require("officer"))],
    resume: Annotated[_Resume, Depends(_resume)],
) -> AsyncIterator[ServerSentEvent]:
    """Each event's ``id`` is its sequence number and ``event`` its type; reconnecting with
    ``Last-Event-ID`` (browsers do this on their own) resumes without a gap."""
    async for seq, kind, body in runtime_of(request).stream.subscribe(resume.after, resume.types):
        yield ServerSentEvent(raw_data=body.decode(), event=kind, id=str(seq) if seq else None)


@router.post("/v1/session", tags=["operations"], summary="Log in (sets a session cookie)")
async def login(request: Request, body: SessionBody) -> Json:
    """Exchange an API key for an HttpOnly cookie holding a signed session id (the
    dashboard's login); ``Secure`` when served over TLS."""
    entry = request.app.state.keys.find(body.key)
    if entry is None:
        raise refuse_unknown(request, "key: unknown API key")
    sessions: Sessions = request.app.state.sessions
    response = Json({"name": entry.name, "roles": list(entry.roles)})
    response.set_cookie(
        SESSION_COOKIE,
        sessions.issue(entry.name),
        httponly=True,
        samesite="strict",
        secure=_over_tls(request),
        max_age=sessions.ttl_s,
    )
    return response


@router.delete("/v1/session", tags=["operations"], summary="Log out")
async def logout(request: Request) -> Json:
    """End the session and forget the cookie."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        request.app.state.sessions.revoke(cookie)
    response = Json({"logged_out": True})
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")
    return response


def _over_tls(request: Request) -> bool:
    """True when the browser reaches us over HTTPS (directly, or per ``--public-url``)."""
    public = request.app.state.settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")
