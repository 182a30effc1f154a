"""API paths are answered by the API, never by the dashboard's static files.

The dashboard is mounted at ``/``, so whatever no API route matches falls through to it: a
``HEAD /v1/incidents`` (FastAPI routes only the methods declared) or a ``GET /v1/incidents/``
(a trailing slash) would be answered by the static files with an HTML 404 or a 405 — a
monitoring probe or a client library that appends slashes would then see the API as broken.

`ApiPaths` (ASGI middleware) serves ``HEAD`` on API paths as the ``GET`` it stands for without
the body (RFC 9110), and drops a trailing slash; `Dashboard` (the static mount) answers an API
path that still matches nothing with the API's JSON 404 instead of a page.
"""

from __future__ import annotations

from typing import Any

from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .responses import Json

#: Paths that belong to the API (everything else may be the dashboard's).
API_PREFIXES = ("/v1/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc")


def is_api(path: str) -> bool:
    """True for a path the API answers."""
    return path == "/v1" or path.startswith(API_PREFIXES)


class ApiPaths:
    """HEAD as GET without a body, and no trailing slash, on API paths (module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_api(scope["path"]):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            stripped = path.rstrip("/") or "/"
            raw: bytes = scope.get("raw_path") or path.encode()
            scope = dict(scope, path=stripped, raw_path=raw.rstrip(b"/") or b"/")
        if scope["method"] == "HEAD":
            scope = dict(scope, method="GET")
            send = _without_body(send)
        await self.app(scope, receive, send)


def _without_body(send: Send) -> Send:
    """``send`` that passes the status and headers (Content-Length included) but no body."""

    async def headers_only(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {"type": "http.response.body", "body": b"", "more_body": False}
            if getattr(headers_only, "done", False):
                return
            headers_only.done = True  # type: ignore[attr-defined]
        await send(message)

    return headers_only


class Dashboard(StaticFiles):
    """The dashboard's static files; an unmatched API path gets the API's JSON 404."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and is_api(path):
            body: dict[str, Any] = {"detail": f"path: no endpoint {path} (see /docs)"}
            await Json(body, status_code=404)(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
