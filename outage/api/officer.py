"""Duty officer endpoints: incidents, audited commands, storm status, indices."""

from __future__ import annotations

import inspect
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ValidationError

from outage.errors import JournalError, SignalError
from outage.events import to_json

from .auth import KeyEntry
from .clock import ClockPolicy
from .deps import require, runtime_of
from .responses import Json
from .schemas import (
    CommandResult,
    DispatchBody,
    EtrBody,
    MergeBody,
    ReasonBody,
    RuleSetBody,
    SplitBody,
    StormBody,
)
from .surface import ServiceRuntime

router = APIRouter(tags=["duty officer"])
Officer = Annotated[KeyEntry, Depends(require("officer"))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=124,  # the command id is ``cmd-<key>``, at most 128 characters
        description="Makes a retried command a no-op: the same key with the same request is "
        "the same command; the same key with a different request is refused (409).",
    ),
]
#: `outage.incidents.LISTED_STATES`, spelled out for the OpenAPI enum (a test holds the two
#: equal).
ListedStatus = Literal[
    "scheduled",
    "predicted",
    "confirmed",
    "dispatched",
    "partially_restored",
    "restored",
    "closed",
    "cancelled",
]


@router.get("/v1/incidents", summary="List incidents (newest first), with filters")
async def list_incidents(
    request: Request,
    _caller: Officer,
    status: Annotated[
        list[ListedStatus] | None, Query(description="one or more statuses")
    ] = None,
    feeder: Annotated[str | None, Query(max_length=128)] = None,
    substation: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[datetime | None, Query(description="started at or after (ISO 8601)")] = None,
    planned: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,  # JSON answers hold 64-bit integers
) -> Json:
    """Incidents with customers affected, calls, ETR and status; call lists are counts here."""
    if since is not None and since.tzinfo is None:
        raise HTTPException(422, "since: give a time zone (e.g. 2026-07-15T18:00:00+08:00)")
    body = await run_in_threadpool(
        runtime_of(request).incidents,
        status=set(status) if status else None,
        feeder=feeder,
        substation=substation,
        since=since,
        planned=planned,
        limit=limit,
        offset=offset,
    )
    return Json(body)


@router.get("/v1/incidents/{incident_id}", summary="One incident: calls, hazards, timeline")
async def get_incident(request: Request, incident_id: str, _caller: Officer) -> Json:
    """The incident with its calls, hazard tickets, lifecycle timeline and audited commands."""
    body = await run_in_threadpool(runtime_of(request).incident, incident_id)
    if body is None:
        raise HTTPException(404, f"incident: no incident {incident_id!r}")
    return Json(body)


def _run_command(
    runtime: ServiceRuntime,
    caller: KeyEntry,
    idempotency_key: str | None,
    fields: dict[str, Any],
    policy: ClockPolicy,
) -> Json:
    command_id = f"cmd-{idempotency_key}" if idempotency_key else f"cmd-{uuid.uuid4()}"
    try:
        command, result = runtime.submit_command(
            check=policy.command, id=command_id, by=caller.name, **fields
        )
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise HTTPException(422, f"{field}: {first['msg'].removeprefix('Value error, ')}") from None
    except SignalError as exc:
        raise HTTPException(422, exc.detail) from None
    except JournalError as exc:
        raise HTTPException(
            503, f"journal: cannot write ({exc}); the command was not taken: send it again"
        ) from None
    if result.conflicts:
        raise HTTPException(
            409,
            f"Idempotency-Key: {idempotency_key!r} was already used for a different request; "
            "a retry must repeat the original request exactly, a new command needs a new key",
        )
    if result.rejected:
        error = result.rejected[0]["error"]
        raise HTTPException(404 if "no incident" in error else 422, error)
    if result.quarantined:
        raise HTTPException(
            422,
            f"command: {result.quarantined[0]['error']}; it was journaled as quarantined and "
            "changed nothing (GET /v1/quarantine lists it)",
        )
    if result.refused:
        raise HTTPException(409, result.refused[0]["error"])
    shown = command.into or command.incident  # a merge shows the incident that survives
    incident = runtime.incident(shown) if shown else None
    body = CommandResult(
        command=command.model_dump(mode="json", exclude_none=True),
        duplicate=bool(result.duplicates),
        events=[_event_dict(e) for e in result.events],
        incident=incident,
    )
    return Json(body.model_dump(mode="json"))


def _event_dict(event: Any) -> dict[str, Any]:
    return orjson.loads(to_json(event))  # type: ignore[no-any-return]


async def _command(request: Request, caller: KeyEntry, key: str | None, **fields: Any) -> Any:
    policy = request.app.state.settings.clock
    return await run_in_threadpool(_run_command, runtime_of(request), caller, key, fields, policy)


_COMMAND_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such incident"},
    409: {
        "description": "the incident's state does not allow this command (audited), or the "
        "Idempotency-Key was used before for a different request"
    },
    422: {"description": "a field is missing or invalid (an ETR beyond the horizon, too)"},
}


@dataclass(frozen=True)
class _IncidentCommand:
    """One officer command on an incident: its path, the engine action, its body and docs."""

    path: str
    action: str
    summary: str
    description: str
    body: type[BaseModel] | None = None
    body_optional: bool = False


_INCIDENT_COMMANDS = (
    _IncidentCommand(
        "confirm", "confirm", "Confirm a predicted outage",
        "The officer knows the outage is real (a crew or a customer confirmed it).",
    ),
    _IncidentCommand(
        "dispatch", "dispatch", "Dispatch a crew",
        "Send ``crew`` to the incident (confirms it too).", DispatchBody,
    ),
    _IncidentCommand(
        "etr", "set_etr", "Set the estimated time of restoration",
        "Customers hear and read this ETR (IVR, SMS).", EtrBody,
    ),
    _IncidentCommand(
        "restore", "restore", "Mark restored",
        "Power is back at the incident's device (nested outages below stay open).",
        ReasonBody, body_optional=True,
    ),
    _IncidentCommand(
        "cancel", "cancel", "Cancel a wrong prediction",
        "The prediction was wrong; its customers are not out.", ReasonBody, body_optional=True,
    ),
    _IncidentCommand(
        "close", "close", "Close a restored incident",
        "Paperwork done: the incident leaves the board.",
    ),
    _IncidentCommand(
        "merge", "merge", "Merge this prediction into another incident",
        "Two tickets are one outage: this one's calls move to ``into``; when neither covers the "
        "other, ``into`` moves up to the lowest device above both.", MergeBody,
    ),
    _IncidentCommand(
        "split", "split", "Split a prediction into outages at the given assets",
        "The ticket moves to the first asset, each other asset gets a new ticket.", SplitBody,
    ),
)  # fmt: skip


def _command_fields(body: BaseModel | None) -> dict[str, Any]:
    """The engine command's fields from a request body (``etr`` must be given)."""
    if body is None:
        return {}
    fields = body.model_dump(exclude_none=True)
    if isinstance(body, EtrBody) and body.etr is None:
        raise HTTPException(422, "etr: required (an ISO 8601 time with a time zone)")
    if isinstance(body, SplitBody):
        fields["assets"] = tuple(body.assets)
    return fields


def _add_incident_command(spec: _IncidentCommand) -> None:
    """Register ``POST /v1/incidents/{id}/<path>`` for ``spec``."""

    async def endpoint(
        request: Request,
        incident_id: str,
        caller: Officer,
        body: Any = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Any:
        fields = _command_fields(body)
        return await _command(
            request, caller, idempotency_key, action=spec.action, incident=incident_id, **fields
        )

    # The body's type is only known here; FastAPI reads it from the annotations.
    if spec.body is None:
        endpoint.__annotations__.pop("body")
        endpoint.__signature__ = inspect.signature(endpoint).replace(  # type: ignore[attr-defined]
            parameters=[p for n, p in inspect.signature(endpoint).parameters.items() if n != "body"]
        )
    else:
        kind = spec.body | None if spec.body_optional else spec.body
        parameters = [
            p.replace(annotation=kind, default=None if spec.body_optional else p.empty)
            if n == "body"
            else p
            for n, p in inspect.signature(endpoint, eval_str=True).parameters.items()
        ]
        endpoint.__signature__ = inspect.signature(endpoint).replace(  # type: ignore[attr-defined]
            parameters=parameters
        )
    endpoint.__name__ = spec.action
    endpoint.__doc__ = spec.description
    router.post(
        f"/v1/incidents/{{incident_id}}/{spec.path}",
        response_model=CommandResult,
        responses=_COMMAND_RESPONSES,
        summary=spec.summary,
    )(endpoint)


for _spec in _INCIDENT_COMMANDS:
    _add_incident_command(_spec)


@router.post(
    "/v1/rule-set",
    response_model=CommandResult,
    responses={422: {"description": "invalid rule set"}},
    summary="Switch prediction rules (normal / storm)",
)
async def rule_set(
    request: Request, body: RuleSetBody, caller: Officer, idempotency_key: IdempotencyKey = None
) -> Any:
    """Storm rules group calls over a longer window; the engine also switches on its own when
    a system storm is declared or stood down."""
    return await _command(
        request,
        caller,
        idempotency_key,
        action="rule_set",
        rule_set=body.rule_set,
        reason=body.reason,
    )


@router.post(
    "/v1/storm",
    response_model=CommandResult,
    responses={422: {"description": "storm must be declare or stand_down"}},
    summary="Declare or stand down a system-wide storm by hand",
)
async def declare_storm(
    request: Request, body: StormBody, caller: Officer, idempotency_key: IdempotencyKey = None
) -> Any:
    """The duty officer's call: a system storm is declared (storm priors, ``StormDeclared``)
    or stood down now. Detection goes on: a storm declared by hand stands down by itself once
    every figure has been clear for the hold time."""
    return await _command(
        request,
        caller,
        idempotency_key,
        action="storm",
        storm=body.storm,
        reason=body.reason,
    )


@router.get("/v1/storm", summary="Storm status per scope and the rule set in force")
async def storm(request: Request, _caller: Officer) -> Json:
    """System and per-substation storm declarations with the metrics behind them, and the
    utility's ``timezone``: every time a person reads is shown in it (the API speaks UTC)."""
    body = await run_in_threadpool(runtime_of(request).storm)
    body["timezone"] = request.app.state.settings.timezone
    return Json(body)


@router.get("/v1/indices", summary="IEEE 1366 reliability indices so far")
async def indices(request: Request, _caller: Officer) -> Json:
    """CMI, SAIDI, SAIFI, CAIDI over the engine's period (customers counted once)."""
    return Json(await run_in_threadpool(runtime_of(request).indices))


@router.get("/v1/repeat-outages", summary="Premises interrupted more than once")
async def repeat_outages(request: Request, _caller: Officer) -> Json:
    """Premises with two or more interruptions in the period (the worst first 1,000)."""
    rows = await run_in_threadpool(runtime_of(request).repeat_outages)
    return Json({"premises": rows})


@router.get("/v1/audit", summary="Every officer command with who, when and its outcome")
async def audit(
    request: Request,
    _caller: Officer,
    incident: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> Json:
    """The audit trail, newest last; refused commands are listed with their reason."""
    rows = await run_in_threadpool(runtime_of(request).audit_trail)
    if incident is not None:
        rows = [r for r in rows if incident in (r.get("incident"), r.get("into"))]
    return Json({"commands": rows[-limit:]})


@router.get(
    "/v1/quarantine",
    summary="Messages the engine failed on: journaled as rejected, never applied",
)
async def quarantine(request: Request, _caller: Officer) -> Json:
    """Each with its journal position, id, type, the reason and when it was quarantined. A
    quarantined message is never retried (not on replay either) and never holds up the
    messages behind it; resend a corrected one under a new id."""
    rows = await run_in_threadpool(runtime_of(request).quarantined)
    return Json({"total": len(rows), "quarantined": rows})
