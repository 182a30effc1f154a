"""Restoration settings: service-commitment limits, travel, how ETRs are quoted.

Defaults follow State Grid's service commitments (供电服务"十项承诺"): a crew on site within
45 min in cities, 90 min in rural areas and 2 h in remote areas, and power back within 3 h
(cities) / 4 h (rural) of arrival for an ordinary fault.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

AreaClass = Literal["city", "rural", "remote"]
Minutes = Annotated[float, Field(gt=0, le=7 * 24 * 60)]
Share = Annotated[float, Field(gt=0, lt=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SlaLimits(_Strict):
    """One area class's deadlines."""

    #: From the work order's opening to the crew on site.
    arrival_minutes: Minutes
    #: From the crew's arrival to power back.
    restoration_minutes: Minutes
    #: Straight-line travel speed of a crew in this area (km/h) and the road detour factor.
    speed_kmh: Annotated[float, Field(gt=0, le=200)] = 30.0


def _sla() -> dict[AreaClass, SlaLimits]:
    return {
        "city": SlaLimits(arrival_minutes=45, restoration_minutes=180, speed_kmh=25),
        "rural": SlaLimits(arrival_minutes=90, restoration_minutes=240, speed_kmh=40),
        "remote": SlaLimits(arrival_minutes=120, restoration_minutes=360, speed_kmh=40),
    }


class FrequentOutage(_Strict):
    """频繁停电: a premise out this many times within the window is flagged."""

    count: Annotated[int, Field(ge=2)] = 3
    window_days: Annotated[int, Field(ge=1, le=366)] = 60


class RestorationRules(_Strict):
    """Everything configurable about work orders, crews and ETR estimates."""

    sla: dict[AreaClass, SlaLimits] = Field(default_factory=_sla)
    #: Area class of a feeder whose ``area_class`` is blank (and outside every polygon).
    default_area_class: AreaClass = "city"
    #: GeoJSON/GeoPackage of polygons with an ``area_class`` property; a transformer inside
    #: one takes that class over its feeder's.
    area_layer: str | None = None
    #: Escalate this long before a deadline (amber), and again at it (red).
    warn_before_minutes: Minutes = 10
    #: Roads are longer than the straight line: travel distance = this x great-circle distance.
    road_factor: Annotated[float, Field(ge=1, le=5)] = 1.4
    #: The ETR quoted is this quantile of the restoration-time distribution: customers forgive
    #: an early restoration, not a missed ETR.
    quote_quantile: Share = 0.8
    #: A new estimate replaces the one published only when it moves by at least this much
    #: (no churn of SMS and IVR answers on every re-plan).
    republish_minutes: Minutes = 15
    #: In a storm, crews take waiting orders in this order: most customers first, or oldest.
    storm_dispatch: Literal["customers", "oldest"] = "customers"
    #: Under "customers" dispatch, faults still to be reported go ahead of a waiting order
    #: with fewer customers (`outage.restoration.arrivals`): their rate and sizes are read
    #: from the storm orders opened within this window, and the storm is expected to bring
    #: new ones for at least this long.
    arrival_window_minutes: Minutes = 60
    #: "Most customers back by": the time by which this share of a substation's customers out
    #: should be back.
    most_customers_share: Share = 0.9
    #: Work orders of a storm are re-planned at most this often (event time).
    replan_minutes: Minutes = 1
    frequent_outage: FrequentOutage = FrequentOutage()
    #: How far back a premise's outage history reaches (IVR "again?", agent view).
    history_days: Annotated[int, Field(ge=1, le=366)] = 60
