"""The IVR's answer: "is there a known outage here, and when will power be back?"

Callers are identified by phone (caller id), account, premise, address or a location; a phone
or address may stand for several premises, and each is answered. The answer is built from the
`OutageReadView` and the immutable customer index only — no engine state, no I/O — so it costs
microseconds and is safe to compute while the engine writes.

Messages come in zh-CN and English, with the caller's own language (from the customers file)
named in ``language``; times are spoken in the utility's local time zone, 24-hour.
The public wording never exposes another customer's data: it names the caller's own area,
the number of customers affected and the restoration estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from grid.customers import CustomerIndex, normalise_phone
from grid.errors import AssetNotFound
from grid.locate import Locator
from grid.topology import Topology
from outage.events import iso as _iso
from outage.readview import IncidentSummary, OutageReadView

#: The languages the hotline speaks; a caller hears their own first, the other on request.
LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
#: Playbook announcements for a substation: ``[{"id", "message": {"zh-CN", "en"}, ...}]``.
Announcements = Callable[[str], list[dict[str, Any]]]
#: A premise's recent outages (`OutageHistory.of_premise`), None for an unknown premise.
PremiseHistory = Callable[[str], dict[str, Any] | None]

_STATUS = {
    "predicted": ("我们已收到报修，正在查找故障点", "We know about it and are locating the fault."),
    "confirmed": ("故障已确认", "The fault has been confirmed."),
    "dispatched": ("抢修人员已赶赴现场", "A repair crew is on its way."),
}


class CallerNotValid(ValueError):
    """The query itself is wrong (no identity, two identities, a malformed phone number)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class CallerQuery:
    """Exactly one way of identifying the caller."""

    phone: str | None = None
    account: str | None = None
    premise: str | None = None
    address: str | None = None
    lon: float | None = None
    lat: float | None = None

    def check(self) -> None:
        """`CallerNotValid` unless exactly one identity is given (lon and lat together)."""
        if (self.lon is None) != (self.lat is None):
            raise CallerNotValid("lat" if self.lat is None else "lon", "lon and lat go together")
        given = [n for n in ("phone", "account", "premise", "address", "lon") if getattr(self, n)]
        if self.lon is not None and "lon" not in given:
            given.append("lon")
        if len(given) != 1:
            raise CallerNotValid(
                "query",
                "identify the caller by exactly one of phone, account, premise, address, lon+lat"
                f" (got {', '.join(given) or 'none'})",
            )


class IvrAnswerer:
    """Builds IVR answers from a read view (see the module docstring)."""

    def __init__(
        self,
        topology: Topology,
        view: OutageReadView,
        customers: CustomerIndex | None,
        locator: Locator | None,
        *,
        tz: str = "Asia/Shanghai",
        max_m: float = 150.0,
        announcements: Announcements | None = None,
        history: PremiseHistory | None = None,
    ) -> None:
        self.topology = topology
        self.view = view
        self.customers = customers
        self.locator = locator
        self.tz = ZoneInfo(tz)
        self.max_m = max_m
        self.announcements = announcements
        self.history = history

    def premises(self, query: CallerQuery) -> list[int]:
        """The caller's premise numbers (empty when unknown); `CallerNotValid` for bad input."""
        query.check()
        index = self.topology.premise_index
        try:
            if query.premise is not None:
                found = index.get(query.premise)
                return [found] if found is not None else []
            if query.lon is not None and query.lat is not None:
                if self.locator is None:
                    return []
                hit = self.locator.nearest(query.lon, query.lat, kind="premise", max_m=self.max_m)
                return [index[hit.id]]
            if self.customers is None:
                return []
            if query.account is not None:
                ids = [self.customers.by_account(query.account)]
            elif query.phone is not None:
                ids = _checked("phone", self.customers.by_phone, query.phone)
            else:
                assert query.address is not None
                ids = _checked("address", self.customers.by_address, query.address)
        except AssetNotFound:
            return []
        return [index[i] for i in ids if i in index]

    def answer(self, query: CallerQuery) -> dict[str, Any]:
        """The IVR answer for ``query`` (the ``/v1/ivr/lookup`` body)."""
        premises = self.premises(query)
        if not premises:
            return self._unidentified()
        rows = [self._premise_answer(p) for p in premises]
        lead = next((r for r in rows if r["known_outage"]), rows[0])
        summary = lead.pop("_summary")
        for row in rows:
            row.pop("_summary", None)
        substation = self._substation_of(premises[0])
        history = self._history(lead["premise"])
        answer = {
            "identified": True,
            "known_outage": lead["known_outage"],
            "incident": lead["incident"],
            "status": lead["status"],
            "cause": lead["cause"],
            "customers_affected": lead["customers_affected"],
            "etr": lead["etr"],
            "etr_source": lead["etr_source"],
            "planned": lead["planned"],
            "message": self._message(summary, len(rows), history),
            "history": history,
            "callback_offered": bool(lead["known_outage"] and query.phone is not None),
            "premise": lead["premise"],
            "premises": rows,
            "upcoming_planned": self._upcoming(premises),
            "announcements": self.announcements(substation) if self.announcements else [],
            "language": self.language_of(query, lead["premise"]),
        }
        return answer

    def language_of(self, query: CallerQuery, premise: str | None) -> str:
        """The caller's own language (``language`` in the customers file): the account with
        the caller's phone, or the account asked for, else the premise's first account;
        `DEFAULT_LANGUAGE` when the customers file does not say."""
        if self.customers is None or premise is None:
            return DEFAULT_LANGUAGE
        try:
            accounts = self.customers.accounts_of_premise(premise)
        except AssetNotFound:
            return DEFAULT_LANGUAGE
        chosen = accounts[0] if accounts else None
        if query.phone is not None:
            try:
                phone = normalise_phone(query.phone, self.customers.region)
            except ValueError:
                phone = None
            chosen = next((a for a in accounts if a["phone"] == phone), chosen)
        elif query.account is not None:
            chosen = next((a for a in accounts if str(a["account"]) == query.account), chosen)
        language = chosen["language"] if chosen else None
        return language if language in LANGUAGES else DEFAULT_LANGUAGE

    # -- parts --------------------------------------------------------------------------------

    def _premise_answer(self, premise: int) -> dict[str, Any]:
        summary = self.view.covering(premise)
        topo = self.topology
        return {
            "premise": topo.premise_ids[premise],
            "known_outage": summary is not None,
            "incident": summary.id if summary else None,
            "status": summary.status if summary else None,
            "cause": summary.cause if summary else None,
            "customers_affected": summary.customers if summary else None,
            "etr": _iso(summary.etr) if summary else None,
            "etr_source": (summary.etr_source or None) if summary and summary.etr else None,
            "planned": bool(summary and summary.planned),
            "_summary": summary,
        }

    def _substation_of(self, premise: int) -> str:
        topo = self.topology
        feeder = topo.transformer_feeder[topo.premise_transformer[premise]]
        return topo.substation_ids[topo.feeder_substation[feeder]]

    def _upcoming(self, premises: list[int]) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for premise in premises:
            for s in self.view.scheduled_for(premise):
                seen.setdefault(
                    s.id,
                    {
                        "incident": s.id,
                        "start": _iso(s.planned_start),
                        "end": _iso(s.planned_end),
                        "reason": s.cause,
                    },
                )
        return list(seen.values())

    def _history(self, premise: str) -> dict[str, Any] | None:
        """The caller's "again?" in brief: sustained outages of the last days, whether the
        area is flagged for frequent outages, the last one (None without a history port)."""
        found = self.history(premise) if self.history is not None else None
        if found is None:
            return None
        keep = ("days", "outages", "minutes_out", "frequent", "last")
        return {k: found[k] for k in keep}

    def _message(
        self, summary: IncidentSummary | None, premises: int, history: dict[str, Any] | None
    ) -> dict[str, str]:
        if summary is None:
            return {
                "zh-CN": "我们暂未发现您所在地址有停电。如需报修，请按1。",
                "en": "We have no known outage at your address. To report one, press 1.",
            }
        if summary.planned:
            until_zh, until_en = self._when(summary.planned_end)
            return {
                "zh-CN": f"您所在区域正在进行计划检修（{summary.cause}），预计{until_zh}恢复供电。",
                "en": f"Your area is out for planned work ({summary.cause}); "
                f"power is planned back by {until_en}.",
            }
        status_zh, status_en = _STATUS.get(summary.status, ("", ""))
        if summary.etr is not None and summary.etr_source == "estimated":
            etr_zh, etr_en = self._when(summary.etr)
            back_zh = f"系统估计{etr_zh}前恢复供电，抢修人员确认后我们会更新时间。"
            back_en = f"Our automatic estimate is power back by {etr_en}; the crew will confirm it."
        elif summary.etr is not None:
            etr_zh, etr_en = self._when(summary.etr)
            back_zh, back_en = f"预计{etr_zh}恢复供电。", f"We expect power back by {etr_en}."
        else:
            back_zh = "恢复时间确定后我们会通知您。"
            back_en = "We will let you know as soon as we have a restoration time."
        again_zh, again_en = _again(history)
        several_zh, several_en = ("", "")
        if premises > 1:
            several_zh = "您名下有多个地址，以上为受影响的地址。"
            several_en = " You have several addresses; this is the affected one."
        if summary.premise:  # a service drop: this address alone, not the area
            return {
                "zh-CN": f"我们已收到您地址的停电报修，目前仅您的地址停电，周边供电正常。"
                f"{status_zh}，{back_zh}无需重复报修。{again_zh}{several_zh}",
                "en": "We have your report: the power is off at your address only, not in the "
                f"area around it. {status_en} {back_en} "
                f"You do not need to report it again.{again_en}{several_en}",
            }
        return {
            "zh-CN": f"您所在区域已知停电，影响约{summary.customers}户。{status_zh}，{back_zh}"
            f"无需重复报修。{again_zh}{several_zh}",
            "en": f"There is a known power outage in your area affecting about "
            f"{summary.customers} customers. {status_en} {back_en} "
            f"You do not need to report it again.{again_en}{several_en}",
        }

    def _when(self, ts: datetime | None) -> tuple[str, str]:
        if ts is None:
            return "稍后", "later today"
        try:
            local = ts.astimezone(self.tz)
        except (OverflowError, ValueError):
            # At the very edge of what a datetime holds the local time does not exist; say
            # the time in UTC rather than fail the caller's answer.
            local = ts
        return (
            f"{local.month}月{local.day}日{local:%H:%M}",
            f"{local:%H:%M} on {local.day} {local:%b}",
        )

    def _unidentified(self) -> dict[str, Any]:
        return {
            "identified": False,
            "known_outage": False,
            "incident": None,
            "status": None,
            "cause": None,
            "customers_affected": None,
            "etr": None,
            "etr_source": None,
            "planned": False,
            "history": None,
            "message": {
                "zh-CN": "我们未能找到您的用电地址。请输入您的户号，或按0转人工服务。",
                "en": "We could not find your address. Please enter your account number, "
                "or press 0 for an agent.",
            },
            "callback_offered": False,
            "premise": None,
            "premises": [],
            "upcoming_planned": [],
            "announcements": [],
            "language": DEFAULT_LANGUAGE,
        }


def _again(history: dict[str, Any] | None) -> tuple[str, str]:
    """The "again?" sentence: said when the caller's address was out before in the window."""
    if not history or history["outages"] < 1:
        return "", ""
    nth, days = history["outages"] + 1, history["days"]
    zh = f"这是您的地址近{days}天内第{nth}次停电"
    en = f" This is outage number {nth} at your address in the last {days} days"
    if history["frequent"]:
        return f"{zh}，已列入频繁停电治理。", f"{en}; the area is flagged for our engineers."
    return f"{zh}，我们已记录。", f"{en}; we have noted it."


def _checked(field: str, find: Callable[[str], list[str]], raw: str) -> list[str]:
    """``find(raw)``, turning a malformed value into `CallerNotValid` naming ``field``."""
    try:
        return find(raw)
    except ValueError as exc:
        raise CallerNotValid(field, str(exc)) from None
