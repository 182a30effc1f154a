"""Dashboard data: the network map, incidents drawn as areas, the call-rate chart."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from outage.incidents import OPEN_STATES

from .deps import require, runtime_of
from .geo import MapData
from .responses import Json

router = APIRouter(tags=["dashboard"])
Officer = Annotated[object, Depends(require("officer"))]


def _map(request: Request) -> MapData:
    state = request.app.state
    if getattr(state, "map", None) is None:
        state.map = MapData(runtime_of(request).network)
    return state.map  # type: ignore[no-any-return]


@router.get("/v1/map/network", summary="The network as GeoJSON (the dashboard's base map)")
async def network_map(request: Request, _caller: Officer) -> Json:
    """Substations, sections (with feeder), devices (kind, normal state) and transformers."""
    body = await run_in_threadpool(lambda: _map(request).network_geojson())
    return Json(body, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/v1/map/incidents", summary="Open incidents with the areas they affect")
async def incident_map(request: Request, _caller: Officer) -> Json:
    """Each open, partially restored or scheduled incident with its de-energised sections,
    its device point, a hull around its premises and its hazard tickets (with locations).

    ``open`` counts the incidents whose status is one of ``open_states`` (the same count as
    ``/v1/storm``); partially restored and scheduled ones are drawn but not counted."""
    geo = _map(request)

    def build() -> list[dict[str, object]]:
        rows = runtime_of(request).map_incidents(geo.incident_area)
        for row in rows:
            for hazard in row["hazard_tickets"]:
                hazard["point"] = geo.premise_point(hazard["premise"])
        return rows

    rows = await run_in_threadpool(build)
    return Json(
        {
            "incidents": rows,
            "open": sum(1 for row in rows if row["status"] in OPEN_STATES),
            "open_states": sorted(OPEN_STATES),
        }
    )


@router.get("/v1/hazards", summary="Hazard tickets (wire down, fire): where, since when, linked")
async def hazards(request: Request, _caller: Officer) -> Json:
    """Every hazard ticket, oldest first, with its location (point, address, feeder), its
    linked outage and that outage's status; ``open`` is false once the outage is over."""
    geo = _map(request)
    runtime = runtime_of(request)

    def build() -> list[dict[str, Any]]:
        rows = runtime.hazards()
        for row in rows:
            row["point"] = geo.premise_point(row["premise"])
            row.update(geo.premise_place(row["premise"]))
        return rows

    return Json({"hazards": await run_in_threadpool(build)})


@router.get("/v1/call-rate", summary="Calls per interval against the time-of-day baseline")
async def call_rate(
    request: Request,
    _caller: Officer,
    hours: Annotated[float, Query(gt=0, le=72)] = 6.0,
    bucket_minutes: Annotated[int, Query(ge=1, le=120)] = 5,
) -> Json:
    """Buckets aligned to the clock (a bucket starts at a multiple of its size), the last one
    holding the engine's current time (event time) and marked ``complete: false``."""
    body = await run_in_threadpool(runtime_of(request).call_rate, hours, bucket_minutes)
    return Json(body)
