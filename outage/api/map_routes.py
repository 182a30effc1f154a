"""Dashboard data: the network map, incidents drawn as areas, the call-rate chart."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

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
    its device point, a hull around its premises and its hazard tickets (with locations)."""
    geo = _map(request)

    def build() -> list[dict[str, object]]:
        rows = runtime_of(request).map_incidents(geo.incident_area)
        for row in rows:
            for hazard in row["hazard_tickets"]:
                hazard["point"] = geo.premise_point(hazard["premise"])
        return rows

    return Json({"incidents": await run_in_threadpool(build)})


@router.get("/v1/call-rate", summary="Calls per interval against the time-of-day baseline")
async def call_rate(
    request: Request,
    _caller: Officer,
    hours: Annotated[float, Query(gt=0, le=72)] = 6.0,
    bucket_minutes: Annotated[int, Query(ge=1, le=120)] = 5,
) -> Json:
    """Buckets ending at the engine's current time (event time)."""
    body = await run_in_threadpool(runtime_of(request).call_rate, hours, bucket_minutes)
    return Json(body)
