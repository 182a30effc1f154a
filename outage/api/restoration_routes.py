"""Restoration reads: work orders with their SLA clocks, crews, outage history, follow-ups.

Crews report through ``POST /v1/signals`` (``type: crew``) and officers dispatch with the
incident commands; these endpoints only read what the engine's restoration desk decided.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from outage.state import work_order_rows

from .deps import require, runtime_of
from .responses import Json

router = APIRouter(tags=["restoration"])
Officer = Annotated[object, Depends(require("officer"))]
Ivr = Annotated[object, Depends(require("ivr"))]
Clock = Annotated[
    str | None,
    Query(pattern="^(green|amber|red|met|missed)$", description="only orders with this clock"),
]


async def _restoration(request: Request) -> dict[str, Any]:
    return await run_in_threadpool(runtime_of(request).restoration)


@router.get("/v1/work-orders", summary="Work orders, the most urgent first, with SLA clocks")
async def work_orders(
    request: Request,
    _caller: Officer,
    open_only: Annotated[
        bool, Query(alias="open", description="only open orders (false: all)")
    ] = True,
    substation: Annotated[str | None, Query(max_length=128)] = None,
    clock: Clock = None,
) -> Json:
    """Each order's arrival and restoration deadlines (limit, due, achieved), its crew, the
    step it is at, minutes left and its clock: green, amber (within the warning time of the
    deadline), red (past it) while open; met or missed once closed. Open orders come by due
    time; ``substation_etrs`` holds the "most customers back by" times of a declared storm."""
    view = await _restoration(request)
    rows = work_order_rows(view, open_only=open_only, substation=substation)
    if clock is not None:
        rows = [r for r in rows if r["clock"] == clock]
    return Json(
        {
            "as_of": view["as_of"],
            "work_orders": rows,
            "substation_etrs": view["substation_etrs"],
        }
    )


@router.get("/v1/work-orders/{order_id}", summary="One work order")
async def work_order(
    request: Request,
    _caller: Officer,
    order_id: Annotated[str, Path(max_length=128)],
) -> Json:
    """The order with its escalations (404 for an unknown id)."""
    view = await _restoration(request)
    for row in view["work_orders"]:
        if row["id"] == order_id:
            return Json(row)
    raise HTTPException(404, f"order_id: no work order {order_id!r}")


@router.get("/v1/crews", summary="Crews: status, position, current order, shift")
async def crews(request: Request, _caller: Officer) -> Json:
    """Every rostered crew (and any crew dispatched by name without a roster)."""
    view = await _restoration(request)
    return Json({"as_of": view["as_of"], "crews": view["crews"]})


@router.get("/v1/frequent-outages", summary="Frequent-outage (频繁停电) early warnings")
async def frequent_outages(request: Request, _caller: Officer) -> Json:
    """Transformers whose premises reached the configured count of sustained outages within
    the window, most outages first."""
    view = await _restoration(request)
    return Json({"as_of": view["as_of"], "flags": view["frequent_outages"]})


@router.get("/v1/followups", summary="Follow-up (回访) answers per incident")
async def followups(
    request: Request,
    _caller: Officer,
    incident: Annotated[str | None, Query(max_length=64)] = None,
) -> Json:
    """The customers' 1-5 answers after restoration, by incident."""
    view = await _restoration(request)
    answers = view["followups"]
    if incident is not None:
        answers = {incident: answers.get(incident, [])}
    return Json({"as_of": view["as_of"], "followups": answers})


@router.get("/v1/premises/{premise}/history", summary='Outages of one premise ("again?")')
async def premise_history(
    request: Request,
    _caller: Ivr,
    premise: Annotated[str, Path(max_length=128)],
) -> Json:
    """The premise's sustained outages of the last ``days`` (newest first), their minutes,
    and whether its transformer is flagged as a frequent-outage area (IVR and agent view)."""
    found = await run_in_threadpool(runtime_of(request).premise_history, premise)
    if found is None:
        raise HTTPException(404, f"premise: no premise {premise!r}")
    return Json(found)
