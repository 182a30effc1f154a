"""``POST /v1/signals``: one signal or a batch, journaled before it is acknowledged."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from outage.errors import JournalError, SignalError
from outage.signals import Signal, parse_signal

from .auth import KeyEntry
from .clock import Clock, ClockPolicy
from .deps import require, runtime_of
from .responses import Json
from .schemas import SIGNAL_EXAMPLES, SubmitResponse
from .surface import ServiceRuntime

router = APIRouter(tags=["intake"])

_SIGNAL_SCHEMA = {
    "oneOf": [
        {"$ref": "#/components/schemas/SignalIn"},
        {"type": "array", "items": {"$ref": "#/components/schemas/SignalIn"}},
    ]
}


def _split_body(body: bytes, content_type: str) -> list[Any]:
    """The raw signals of a request: a JSON object, a JSON array, or NDJSON lines."""
    if not body.strip():
        raise HTTPException(422, "body: empty; send a signal object or an array of signals")
    if "ndjson" in content_type or "jsonl" in content_type:
        out = []
        for number, line in enumerate(body.splitlines(), start=1):
            if line.strip():
                try:
                    out.append(orjson.loads(line))
                except orjson.JSONDecodeError as exc:
                    raise HTTPException(422, f"body: line {number}: not JSON ({exc})") from None
        return out
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(422, f"body: not JSON ({exc})") from None
    if isinstance(parsed, dict):
        return [parsed]
    if isinstance(parsed, list):
        return parsed
    raise HTTPException(422, "body: expected a signal object or an array of signals")


#: Officer command ids (``cmd-<Idempotency-Key>``) live here; a signal may not take one, so a
#: call can never make an officer's command a silent duplicate.
COMMAND_ID_PREFIX = "cmd-"


def _parse(
    raw: list[Any], max_batch: int, policy: ClockPolicy, now: datetime
) -> tuple[dict[int, Signal], list[dict[str, Any]]]:
    """Validate every signal; rejections name the signal's index and the field."""
    if len(raw) > max_batch:
        raise HTTPException(
            413, f"body: a batch of {len(raw)} signals exceeds the limit of {max_batch}"
        )
    signals: dict[int, Signal] = {}  # by position in the request, to name it if refused later
    rejected: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        where = f"signals[{index}]"
        try:
            if not isinstance(item, dict):
                raise SignalError(where, "body: expected a JSON object")
            signal = parse_signal(item, where=where)
            if signal.id.startswith(COMMAND_ID_PREFIX):
                raise SignalError(
                    where, f"id: ids starting with {COMMAND_ID_PREFIX!r} belong to officer commands"
                )
            problem = policy.signal(signal, now)
            if problem is not None:
                raise SignalError(where, problem)
            signals[index] = signal
        except SignalError as exc:
            ident = item.get("id") if isinstance(item, dict) else None
            rejected.append(
                {"index": index, "id": ident if isinstance(ident, str) else None, "error": str(exc)}
            )
    return signals, rejected


#: What a 503 says when the journal refused the batch: its one transaction rolled back.
NOT_ACCEPTED = (
    "nothing of this request was accepted; send it again once the journal is writable "
    "(anything stored before answers as a duplicate)"
)


def _process(
    runtime: ServiceRuntime,
    body: bytes,
    content_type: str,
    max_batch: int,
    policy: ClockPolicy,
    clock: Clock,
) -> Json:
    signals, rejected = _parse(_split_body(body, content_type), max_batch, policy, clock())
    runtime.metrics.signals.labels("invalid").inc(len(rejected))
    try:
        result = runtime.submit(list(signals.values()))
    except JournalError as exc:
        raise HTTPException(503, f"journal: cannot write ({exc}); {NOT_ACCEPTED}") from None
    index_of = {s.id: i for i, s in reversed(signals.items())}  # the first with that id
    for refused in result.rejected:  # names something this network lacks
        rejected.append(
            {"index": index_of[refused["id"]], "id": refused["id"], "error": refused["error"]}
        )
    rejected.sort(key=lambda r: r["index"])
    answer = {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": rejected,
        "conflicts": _positioned(signals, result.conflicts, set(result.accepted)),
        "quarantined": _positioned(signals, result.quarantined),
        "journaled": runtime.durable,
    }
    status = 202 if result.accepted or result.duplicates else 409 if result.conflicts else 422
    return Json(answer, status_code=status)


def _positioned(
    signals: dict[int, Signal], outcomes: list[dict[str, str]], accepted: Collection[str] = ()
) -> list[Any]:
    """``{"index", "id", "error"}`` for outcomes naming a signal by id, each at the position
    of the signal it is about: in request order, past the occurrence that was ``accepted``
    (the same id twice in one request with different content: the second conflicts)."""
    positions: dict[str, list[int]] = {}
    for index, signal in signals.items():
        positions.setdefault(signal.id, []).append(index)
    for ident in accepted:
        if len(positions.get(ident, ())) > 1:
            positions[ident].pop(0)
    out = []
    for outcome in outcomes:
        left = positions.get(outcome["id"]) or [-1]
        index = left.pop(0) if len(left) > 1 else left[0]
        out.append(
            {"index": index, "id": outcome["id"], "error": f"signals[{index}]: {outcome['error']}"}
        )
    return sorted(out, key=lambda r: r["index"])


@router.post(
    "/v1/signals",
    status_code=202,
    response_model=SubmitResponse,
    response_class=Json,
    summary="Submit signals (calls, meter events, SCADA, restorations, planned work, warnings)",
    description=(
        "One signal object, a JSON array of up to `max_batch` (10,000) signals, or NDJSON "
        "(`application/x-ndjson`): the same shapes as the JSONL `outage replay` reads. "
        "Answers **202** once the accepted signals are durably journaled (or stored in Redis "
        "with `--store redis://...`), listing which were "
        "accepted, which were duplicates (an id seen before, same content), which were "
        "conflicts (an id seen before with *other* content: not applied), which were "
        "rejected and why, and which were quarantined (journaled, but the engine failed on "
        "them); **422** when nothing in the request could be accepted, **409** when all that "
        "was left were conflicts. A timestamp more than the configured skew ahead of the "
        "service's clock, or older than the configured age, is rejected naming the field."
    ),
    responses={
        409: {"model": SubmitResponse, "description": "only conflicts: ids reused"},
        413: {"description": "body or batch too large"},
        422: {"model": SubmitResponse, "description": "no signal could be accepted"},
        503: {
            "description": "the request could not be stored: the detail says whether nothing "
            "was accepted (the journal refused the whole batch) or the outcome is unknown "
            "(Redis did not answer). Either way, send the same request again: what was stored "
            "answers as a duplicate and is never applied twice"
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _SIGNAL_SCHEMA, "examples": SIGNAL_EXAMPLES},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def submit_signals(
    request: Request, caller: Annotated[KeyEntry, Depends(require("intake"))]
) -> Json:
    """See the route's description."""
    body = await request.body()
    runtime = runtime_of(request)
    settings = request.app.state.settings
    content_type = request.headers.get("content-type", "application/json")
    # Validation of a large batch and the engine's work run off the event loop, so IVR
    # lookups keep answering while a storm's signals pour in.
    return await run_in_threadpool(
        _process,
        runtime,
        body,
        content_type,
        settings.max_batch,
        settings.clock,
        request.app.state.clock,
    )
