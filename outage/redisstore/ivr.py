"""The IVR answer over Redis: premises from the in-memory customer index, outages from Redis.

Identifying the caller (phone, account, premise, address, location) needs only the immutable
topology and customer index every API worker loads; whether an outage covers those premises is
read from the partition projections with one pipelined round trip (`RedisViews.outages`). The
wording is `outage.ivr.IvrAnswerer`'s, unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

from outage.ivr import Announcements, CallerQuery, IvrAnswerer, PremiseHistory
from outage.readview import OutageReadView

from .views import RedisViews


class RedisIvrAnswerer(IvrAnswerer):
    """`IvrAnswerer` whose read view is fetched from Redis per lookup."""

    def __init__(
        self,
        views: RedisViews,
        customers: Any,
        locator: Any,
        *,
        tz: str = "Asia/Shanghai",
        max_m: float = 150.0,
        announcements: Announcements | None = None,
        history: PremiseHistory | None = None,
    ) -> None:
        topology = views.topology
        # The base class reads ``self.view``; each lookup swaps in what Redis said.
        super().__init__(
            topology,
            OutageReadView(topology),
            customers,
            locator,
            tz=tz,
            max_m=max_m,
            announcements=announcements,
            history=history,
        )
        self.views = views

    def answer(self, query: CallerQuery) -> dict[str, Any]:
        """The IVR answer (`IvrAnswerer.answer`); `StoreUnavailable` when Redis is down."""
        premises = self.premises(query)
        scoped = copy.copy(self)  # per lookup, so concurrent lookups never share a view
        scoped.view = self.views.outages(premises)  # type: ignore[assignment]
        return IvrAnswerer.answer(scoped, query)
