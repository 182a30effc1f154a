"""Health, readiness, metrics, the anonymous public summary, the event stream, sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from outage import events as ev
from outage.redisstore.errors import StoreError

from .deps import SESSION_COOKIE, require, runtime_of
from .responses import Json
from .runtime import Runtime
from .schemas import Health, PublicSummary, SessionBody

router = APIRouter()
EVENT_TYPES = frozenset(ev.EVENT_TYPES) | {"PlaybookAudit"}


@router.get("/healthz", response_model=Health, tags=["operations"], summary="Liveness")
async def healthz(request: Request) -> Health:
    """The process answers (liveness never depends on the store: a Redis outage must not make
    an orchestrator restart healthy API workers; `/readyz` reports that)."""
    return Health(status="ok", signals_applied=_signals_applied(runtime_of(request)))


def _signals_applied(runtime: Runtime) -> int | None:
    """How many signals the engine applied; None while the store (Redis) cannot be reached."""
    try:
        return runtime.engine.signals_applied
    except StoreError:
        return None


@router.get(
    "/readyz",
    response_model=Health,
    tags=["operations"],
    summary="Readiness: journal recovered, indexes warm",
    responses={503: {"model": Health}},
)
async def readyz(request: Request) -> Response:
    """200 once the engine has replayed its journal and the GIS index is built."""
    runtime = runtime_of(request)
    applied = _signals_applied(runtime)
    # Redis unreachable: not ready to take signals.
    ready = bool(getattr(request.app.state, "ready", False)) and applied is not None
    body = Health(
        status="ok" if ready else "starting",
        signals_applied=applied,
        journal=runtime.journal.path if runtime.journal is not None else None,
    )
    return Json(body.model_dump(), status_code=200 if ready else 503)


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


@router.get(
    "/v1/events",
    response_class=EventSourceResponse,
    tags=["duty officer"],
    summary="Live domain events (Server-Sent Events)",
)
async def events(
    request: Request,
    _caller: Annotated[object, Depends(require("officer"))],
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    after: Annotated[int | None, Query(ge=0, description="resume after this sequence")] = None,
    types: Annotated[
        list[str] | None, Query(max_length=40, description="only these event types")
    ] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Each event's ``id`` is its sequence number and ``event`` its type; reconnecting with
    ``Last-Event-ID`` (browsers do this on their own) resumes without a gap."""
    if types:
        unknown = sorted(set(types) - EVENT_TYPES)
        if unknown:
            raise HTTPException(422, f"types: unknown event type(s) {', '.join(unknown)}")
    start = after or 0
    if last_event_id:
        if not last_event_id.isdigit():
            raise HTTPException(422, "Last-Event-ID: expected an event sequence number")
        start = int(last_event_id)
    wanted = frozenset(types) if types else None
    async for seq, kind, body in runtime_of(request).stream.subscribe(start, wanted):
        yield ServerSentEvent(raw_data=body.decode(), event=kind, id=str(seq) if seq else None)


@router.post("/v1/session", tags=["operations"], summary="Log in (sets a session cookie)")
async def login(request: Request, body: SessionBody) -> Json:
    """Exchange an API key for an HttpOnly cookie (the dashboard's login)."""
    entry = request.app.state.keys.find(body.key)
    if entry is None:
        raise HTTPException(401, "key: unknown API key")
    response = Json({"name": entry.name, "roles": list(entry.roles)})
    response.set_cookie(
        SESSION_COOKIE, body.key, httponly=True, samesite="strict", max_age=12 * 3600
    )
    return response


@router.delete("/v1/session", tags=["operations"], summary="Log out")
async def logout() -> Json:
    """Forget the session cookie."""
    response = Json({"logged_out": True})
    response.delete_cookie(SESSION_COOKIE)
    return response
