"""Playbooks and SMS for the duty officer; inbound SMS and receipts; the public feeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from twilio.twiml.messaging_response import MessagingResponse

from notify.errors import InboundError
from outage.events import iso as _iso
from playbooks.errors import NotAllowed, ProposalError
from playbooks.model import Step

from .auth import KeyEntry
from .compose import AnyServices
from .deps import require, services_of
from .responses import Json

router = APIRouter()
Officer = Annotated[KeyEntry, Depends(require("officer"))]
Intake = Annotated[KeyEntry, Depends(require("intake"))]
#: API role -> the role a playbook's ``activation.roles`` names.
PLAYBOOK_ROLE = {"officer": "duty_officer", "admin": "duty_officer"}


def _services(request: Request) -> AnyServices:
    services = services_of(request)
    assert services is not None  # these routes are mounted only with services
    return services


class DeclineBody(BaseModel):
    """Why the proposal is declined (kept in the audit log)."""

    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=512)] = ""


@router.get("/v1/playbooks", tags=["playbooks"], summary="Proposals, active playbooks, next steps")
async def playbooks(request: Request, _caller: Officer) -> Json:
    """What waits for a decision, what is in force and its next scheduled steps."""
    services = _services(request)
    runner = services.runner
    titles = {pid: e.playbook.title for pid, e in runner.entries.items()}
    jobs = runner.scheduler.jobs()
    proposals = [
        {
            "id": p.id,
            "playbook": p.playbook,
            "title": titles.get(p.playbook, p.playbook),
            "reason": p.reason,
            "at": _iso(p.at),
            "expires": _iso(p.expires),
            "area": p.area,
            "incidents": p.incidents,
            "does": [_describe(step) for step in runner.entries[p.playbook].playbook.then],
        }
        for p in runner.proposals()
    ]
    active = []
    for record in runner.active():
        entry = runner.entries[record.playbook]
        playbook = entry.playbook
        steps = [
            {
                "step": ", ".join(j.spec.get("steps", [])) or j.id,
                "at": _iso(j.next_fire),
                "does": [_describe(playbook.step(n)) for n in j.spec.get("steps", [])],
            }
            for j in jobs
            if j.id.startswith(f"{record.id}:")
        ]
        clear_since = entry.state.clear_since
        clear_for = timedelta(minutes=playbook.stand_down.clear_for_minutes)
        active.append(
            {
                "activation": record.id,
                "playbook": record.playbook,
                "title": titles.get(record.playbook, record.playbook),
                "since": _iso(record.at),
                "by": record.by,
                "reason": record.reason,
                "area": record.area,
                "paged": record.paged,
                "told": [
                    {"roles": list(step.escalate.roles), "channel": step.escalate.channel}
                    for step in playbook.then
                    if step.escalate is not None
                ],
                "announcements": record.announcements,
                "staffing": record.staffing[-1] if record.staffing else None,
                "next_steps": sorted(steps, key=lambda s: s["at"] or ""),
                "stand_down": {
                    "clear_for_minutes": playbook.stand_down.clear_for_minutes,
                    "clear_since": _iso(clear_since),
                    "at": _iso(clear_since + clear_for) if clear_since else None,
                },
            }
        )
    return Json({"proposals": proposals, "active": active, "library": sorted(titles)})


def _describe(step: Step) -> str:
    """What a playbook step does, in a sentence for the duty officer."""
    params = step.params
    match step.kind:
        case "staffing":
            return (
                "re-forecast the calls, size the hotline (Erlang C) and page standby agents "
                f"while short (target {params.target_sl:.0%} in {params.target_answer_s:g} s)"
            )
        case "ivr_announcement":
            return f"callers hear before the menu: \u201c{params.message.en}\u201d"
        case "sms_push":
            return f"text the affected customers ({params.kind.replace('_', ' ')})"
        case "escalate":
            return f"tell {', '.join(params.roles)} by {params.channel}"
        case "rule_set":
            return f"switch prediction rules to {params.name}"
        case _:
            return f"POST the activation to {params.url}"


def _decide(request: Request, caller: KeyEntry, action: Any) -> Json:
    role = next((PLAYBOOK_ROLE[r] for r in caller.roles if r in PLAYBOOK_ROLE), None)
    try:
        result = action(role)
    except NotAllowed as exc:
        raise HTTPException(403, f"role: {exc}") from None
    except ProposalError as exc:
        raise HTTPException(409, str(exc)) from None
    services = _services(request)
    services.runtime.publish_playbook_audit(services.runner)
    return Json(result)


@router.post(
    "/v1/playbooks/proposals/{proposal_id}/confirm",
    tags=["playbooks"],
    summary="Confirm a proposed activation",
    responses={403: {"description": "role not allowed"}, 409: {"description": "not pending"}},
)
async def confirm(request: Request, proposal_id: str, caller: Officer) -> Json:
    """The playbook activates now; every action goes to the audit log."""
    runner = _services(request).runner

    def act(role: str | None) -> dict[str, Any]:
        record = runner.confirm(proposal_id, caller.name, role=role)
        return {"activation": record.id, "playbook": record.playbook, "since": _iso(record.at)}

    return await run_in_threadpool(_decide, request, caller, act)


@router.post(
    "/v1/playbooks/proposals/{proposal_id}/decline",
    tags=["playbooks"],
    summary="Decline a proposed activation",
    responses={403: {"description": "role not allowed"}, 409: {"description": "not pending"}},
)
async def decline(
    request: Request, proposal_id: str, caller: Officer, body: DeclineBody | None = None
) -> Json:
    """Nothing runs; the playbook waits for its condition to clear before proposing again."""
    runner = _services(request).runner
    reason = body.reason if body else ""

    def act(role: str | None) -> dict[str, Any]:
        runner.decline(proposal_id, caller.name, reason, role=role)
        return {"declined": proposal_id}

    return await run_in_threadpool(_decide, request, caller, act)


@router.post(
    "/v1/playbooks/activations/{activation_id}/stand-down",
    tags=["playbooks"],
    summary="Stand an active playbook down now",
    responses={409: {"description": "no such active playbook"}},
)
async def stand_down(request: Request, activation_id: str, caller: Officer) -> Json:
    """Announcements withdrawn, rule set back, follow-ups removed."""
    runner = _services(request).runner

    def act(_role: str | None) -> dict[str, Any]:
        runner.stand_down(activation_id, caller.name)
        return {"stood_down": activation_id}

    return await run_in_threadpool(_decide, request, caller, act)


@router.get("/v1/playbooks/audit", tags=["playbooks"], summary="The playbook audit log")
async def playbook_audit(
    request: Request, _caller: Officer, playbook: str | None = None, limit: int = 500
) -> Json:
    """Every proposal, decision, activation, action, result, schedule and stand-down."""
    rows = _services(request).runner.store.rows(playbook=playbook)
    return Json({"rows": [r.as_json() for r in rows[-max(1, min(limit, 10_000)) :]]})


@router.get("/v1/notify/stats", tags=["notify"], summary="SMS decided, queued, sent, delivered")
async def notify_stats(request: Request, _caller: Officer) -> Json:
    """Outbox messages by status (``pending`` is queued), the provider's send limit, and
    ``playbook_pushes``: how many of the decided texts were playbook announcements (an area
    push reaches every customer there), by playbook — the rest are per-incident texts."""
    services = _services(request)
    counts = services.sms_counts()

    def pushes() -> dict[str, int]:
        by_playbook: dict[str, int] = {}
        for row in services.runner.store.rows(kind="result"):
            if row.detail.get("queued"):
                by_playbook[row.playbook] = by_playbook.get(row.playbook, 0) + int(
                    row.detail["queued"]
                )
        return by_playbook

    by_playbook = await run_in_threadpool(pushes)
    return Json(
        {
            "decided": counts.get("decided", 0),
            "queued": counts.get("pending", 0) + counts.get("sending", 0),
            "sent": counts.get("sent", 0) + counts.get("delivered", 0),
            "delivered": counts.get("delivered", 0),
            "failed": counts.get("failed", 0) + counts.get("undelivered", 0),
            "suppressed": counts.get("suppressed", 0) + counts.get("superseded", 0),
            "by_status": counts,
            "playbook_pushes": by_playbook,
            "rate_per_second": services.notifier.config.rate_per_second,
        }
    )


class InboundSms(BaseModel):
    """An inbound SMS from a gateway (JSON form of the webhook)."""

    model_config = ConfigDict(extra="forbid")
    from_: Annotated[str, Field(alias="from", min_length=3, max_length=32)]
    text: Annotated[str, Field(max_length=1600)]
    id: Annotated[str, Field(min_length=1, max_length=128)]
    received_at: AwareDatetime | None = None


@router.post(
    "/v1/sms/inbound",
    tags=["notify"],
    summary="Inbound SMS webhook: STOP/退订, START, OUT, STATUS, HELP",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": InboundSms.model_json_schema(by_alias=True)},
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["From", "Body", "MessageSid"],
                        "properties": {
                            "From": {"type": "string", "maxLength": 32},
                            "Body": {"type": "string", "maxLength": 1600},
                            "MessageSid": {"type": "string", "maxLength": 128},
                        },
                    }
                },
            },
        }
    },
)
async def inbound_sms(request: Request, _caller: Intake) -> Response:
    """JSON ``{"from","text","id"}`` answers JSON ``{"reply","keyword"}``; a Twilio form
    (``From``, ``Body``, ``MessageSid``) answers TwiML ``<Message>``. A redelivered message
    (same id) gets the same reply and does nothing twice."""
    twilio = "form" in request.headers.get("content-type", "")
    if twilio:
        form = await request.form()
        fields = {k: str(v) for k, v in form.items()}
        missing = [f for f in ("From", "Body", "MessageSid") if not fields.get(f)]
        if missing:
            raise HTTPException(422, f"{missing[0]}: required")
        sender, text, message_id = fields["From"], fields["Body"], fields["MessageSid"]
        if len(sender) > 32 or len(text) > 1600 or len(message_id) > 128:
            raise HTTPException(422, "From/Body/MessageSid: too long")
        received = request.app.state.clock()
    else:
        try:
            body = InboundSms.model_validate_json(await request.body())
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = ".".join(str(p) for p in first["loc"]) or "body"
            raise HTTPException(422, f"{field}: {first['msg']}") from None
        sender, text, message_id = body.from_, body.text, body.id
        # Without a time of its own a text was received now, by the service's clock.
        received = body.received_at or request.app.state.clock()
        # An OUT text becomes a call at this time: judged like any signal's ``ts``.
        problem = request.app.state.settings.clock.observed(
            "received_at", received, request.app.state.clock()
        )
        if problem is not None:
            raise HTTPException(422, problem)
    services = _services(request)
    notifier = services.notifier
    # On the notify pump's thread: consent changes never race the decisions being made there.
    try:
        result = await run_in_threadpool(
            services.pumps["notify"].call,
            lambda: notifier.handle_inbound(sender, text, message_id, received),
            wait=False,
        )
    except InboundError as exc:
        raise HTTPException(422, str(exc)) from None
    if twilio:
        reply = MessagingResponse()
        reply.message(result.reply)
        return Response(str(reply), media_type="application/xml")
    return Json({"reply": result.reply, "keyword": result.keyword})


class Receipt(BaseModel):
    """A delivery receipt from the SMS provider."""

    model_config = ConfigDict(extra="forbid")
    reference: Annotated[str, Field(min_length=1, max_length=128)]
    status: Annotated[str, Field(pattern="^(delivered|undelivered)$")]
    at: AwareDatetime | None = None


@router.post("/v1/sms/receipts", tags=["notify"], summary="Delivery receipt webhook")
async def receipt(request: Request, body: Receipt, _caller: Intake) -> Json:
    """Marks the sent message with this provider reference delivered or undelivered."""
    notifier = _services(request).notifier
    matched = await run_in_threadpool(
        notifier.record_receipt, body.reference, body.status, body.at or datetime.now(UTC)
    )
    if not matched:
        raise HTTPException(404, f"reference: no sent message {body.reference!r}")
    return Json({"recorded": True})


@router.get(
    "/v1/public/outages.geojson",
    tags=["public"],
    summary="Public outage map feed (GeoJSON; areas, never a single customer)",
)
async def outages_geojson(request: Request) -> Json:
    """Areas affected, customers out, ETR and cause per outage (anonymous)."""
    notifier = _services(request).notifier
    feed = await run_in_threadpool(notifier.outage_geojson)
    return Json(feed, media_type="application/geo+json")


@router.get("/v1/public/cap", tags=["public"], summary="CAP 1.2 alerts for large outages")
async def cap_feed(request: Request) -> Json:
    """Incidents above the size threshold with a CAP message, with their URLs."""
    notifier = _services(request).notifier
    incidents = sorted(i for i, v in notifier.book.incidents.items() if v.cap)
    return Json({"alerts": [{"incident": i, "url": f"/v1/public/cap/{i}"} for i in incidents]})


@router.get(
    "/v1/public/cap/{incident}",
    tags=["public"],
    summary="The latest CAP 1.2 message of one incident",
    response_class=Response,
    responses={200: {"content": {"application/cap+xml": {}}}, 404: {"description": "none"}},
)
async def cap_message(request: Request, incident: str) -> Response:
    """Alert, Update or Cancel, valid against the OASIS CAP 1.2 schema."""
    notifier = _services(request).notifier
    view = notifier.book.incidents.get(incident)
    if view is None or not view.cap:
        raise HTTPException(404, f"incident: no CAP message for {incident!r}")
    messages = await run_in_threadpool(notifier.cap_messages, incident)
    return Response(messages[-1], media_type="application/cap+xml")
