"""The FastAPI application: routers, error shapes, limits, OpenAPI with the signal schemas."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter
from starlette.exceptions import HTTPException as StarletteHTTPException

from outage.redisstore.errors import StoreError, StoreUnavailable
from outage.signals import Signal

from . import intake, ivr_routes, map_routes, officer, ops, playbook_routes, restoration_routes
from .auth import FailureLimiter, KeyRing
from .clock import Clock, wall_clock
from .compose import AnyServices
from .paths import ApiPaths, Dashboard
from .pump import ConsumerStalled
from .responses import Json
from .session import Sessions
from .settings import ServiceSettings
from .surface import ServiceRuntime

#: A 503 on a write whose outcome cannot be known (the store took the request, or not).
OUTCOME_UNKNOWN = (
    "the outcome is unknown: the request may or may not have been stored; send the same "
    "request again (same ids, same Idempotency-Key) — anything already stored answers as a "
    "duplicate and is never applied twice"
)

DESCRIPTION = """
Outage-aware emergency response engine: intake of calls, meter events and SCADA; the duty
officer's incidents and commands; IVR answers in milliseconds; a live event stream.

Authenticate with an API key (`Authorization: Bearer <key>` or `X-API-Key`). Roles: `intake`,
`ivr`, `officer`, `metrics`, `admin`. Errors are JSON: `{"detail": "field: message"}`.
"""


def create_app(
    runtime: ServiceRuntime,
    settings: ServiceSettings | None = None,
    keys: KeyRing | None = None,
    services: AnyServices | None = None,
    *,
    clock: Clock | None = None,
) -> FastAPI:
    """The HTTP service over ``runtime``; with ``services`` (notify and playbooks wired by
    `compose`) also the playbook, SMS and public feed endpoints. ``clock`` is what timestamps
    at the door are judged against (`outage.api.clock`; default the services' clock, else the
    wall clock)."""
    settings = settings or ServiceSettings()
    app = FastAPI(
        title="Outage response engine",
        version="1.0",
        description=DESCRIPTION,
        default_response_class=Json,
        max_body_size=settings.max_body_bytes,
    )
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.keys = keys or KeyRing([])
    app.state.clock = clock or (services.clock.now if services is not None else wall_clock)
    secret = settings.session_secret
    app.state.sessions = Sessions(secret.get_secret_value().encode() if secret else None)
    app.state.auth_failures = FailureLimiter(
        settings.auth_failures_per_s, settings.auth_failure_burst
    )
    app.state.ready = True
    app.include_router(intake.router)
    app.include_router(officer.router)
    app.include_router(ivr_routes.router)
    app.include_router(ops.router)
    app.include_router(map_routes.router)
    app.include_router(restoration_routes.router)
    if services is not None:
        app.state.services = services
        app.include_router(playbook_routes.router)
        runtime.metrics.watch_consumers(services.pumps)
    if settings.dashboard_dir is not None:
        app.mount("/", Dashboard(directory=settings.dashboard_dir, html=True), name="dashboard")
    app.add_middleware(ApiPaths)
    _error_shapes(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _error_shapes(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Json:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body",))
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            problems.append({"field": where or "body", "message": message})
        detail = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return Json({"detail": detail, "errors": problems}, status_code=422)

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> Json:
        # Redis (``--store redis://...``) cannot be reached, or no engine worker answered.
        detail = f"store: {exc}"
        if isinstance(exc, StoreUnavailable) and request.method not in ("GET", "HEAD"):
            # A write whose reply never came may have happened (Redis frozen, then back): say
            # what is known, and what makes a retry safe.
            detail += f"; {OUTCOME_UNKNOWN}"
        elif isinstance(exc, StoreUnavailable):
            detail += "; try again shortly"
        return Json({"detail": detail}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(ConsumerStalled)
    async def consumer_stalled(_request: Request, exc: ConsumerStalled) -> Json:
        # Notify (or playbooks) keeps failing on an event; work queued behind it would wait.
        return Json(
            {"detail": f"{exc}; try again once /readyz is ready"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Json:
        return Json({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema plus the signal shapes the intake body refers to."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        signal = TypeAdapter(Signal).json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(signal.pop("$defs", {}))
        components["SignalIn"] = signal
        app.openapi_schema = schema
    return app.openapi_schema
