"""The outbound channels a playbook drives, each behind one small Protocol.

=================  ======================================================================
port               what it does
=================  ======================================================================
StaffingPager      page one standby roster entry (the staffing action picks whom)
IvrAnnouncements   publish / withdraw an announcement callers of an area hear before the menu
SmsPush            push a message to the customers of an area or incident (notify pipeline)
Escalation         tell named duty roles through a channel
RuleSetSwitch      switch the engine's prediction rules ("normal" | "storm")
Webhook            POST JSON somewhere
=================  ======================================================================

`Recorder` implements all of them by writing down what would have been sent: drills and
tests use it. `AnnouncementBoard` is the real, in-memory IVR implementation the service's IVR
lookup reads (``for_area``); `HttpWebhook` posts with httpx. The SMS push and the rule-set
switch are wired by the composition root to the notify pipeline and the engine.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx

from playbooks.errors import ActionFailed
from playbooks.roster import RosterEntry

#: Area of an announcement or push: substation ids, or "system" for everyone.
Area = tuple[str, ...] | str
SYSTEM = "system"


class StaffingPager(Protocol):
    """Pages one standby person; returns a delivery reference."""

    def page(self, entry: RosterEntry, message: str) -> str: ...


class IvrAnnouncements(Protocol):
    """Announcements played before the IVR menu."""

    def publish(
        self, announcement_id: str, area: Area, message: dict[str, str], etr: datetime | None
    ) -> None: ...

    def withdraw(self, announcement_id: str) -> None: ...


class SmsPush(Protocol):
    """Pushes a message (per language) to the customers of an area or incidents."""

    def push(self, target: dict[str, Any], kind: str, text: dict[str, str], *, key: str) -> int: ...


class Escalation(Protocol):
    """Notifies duty roles through a channel."""

    def notify(self, roles: list[str], channel: str, message: dict[str, str]) -> None: ...


class RuleSetSwitch(Protocol):
    """Switches the engine's prediction rule set."""

    def set(self, name: str) -> None: ...


class Webhook(Protocol):
    """Posts JSON; returns the HTTP status."""

    def post(
        self, url: str, body: dict[str, Any], *, headers: dict[str, str], timeout_s: float
    ) -> int: ...


@dataclass(frozen=True)
class Ports:
    """The channels one runner uses."""

    pager: StaffingPager
    ivr: IvrAnnouncements
    sms: SmsPush
    escalation: Escalation
    rule_set: RuleSetSwitch
    webhook: Webhook

    @classmethod
    def recording(cls, recorder: Recorder | None = None) -> Ports:
        """Every channel records instead of sending (drills, tests)."""
        recorder = recorder or Recorder()
        return cls(recorder, recorder, recorder, recorder, recorder, recorder)


@dataclass(frozen=True)
class Announcement:
    """One announcement on the board."""

    id: str
    area: Area
    message: dict[str, str]
    etr: datetime | None

    def covers(self, substation: str) -> bool:
        """Whether callers fed from ``substation`` hear it."""
        return self.area == SYSTEM or substation in self.area


class AnnouncementBoard:
    """In-memory IVR announcements, safe across threads (the scheduler runs in its own)."""

    def __init__(self) -> None:
        self._items: dict[str, Announcement] = {}
        self._lock = threading.Lock()

    def publish(
        self, announcement_id: str, area: Area, message: dict[str, str], etr: datetime | None
    ) -> None:
        """Put up (or replace) an announcement."""
        with self._lock:
            self._items[announcement_id] = Announcement(announcement_id, area, dict(message), etr)

    def withdraw(self, announcement_id: str) -> None:
        """Take an announcement down (no error when it is not up)."""
        with self._lock:
            self._items.pop(announcement_id, None)

    def for_area(self, substation_id: str) -> list[Announcement]:
        """What a caller from ``substation_id`` hears before the menu, oldest first."""
        with self._lock:
            return [a for a in self._items.values() if a.covers(substation_id)]

    def all(self) -> list[Announcement]:
        """Every announcement up."""
        with self._lock:
            return list(self._items.values())


@dataclass
class Recorder:
    """Records every outbound message instead of sending it (drills and tests).

    ``sent`` rows are ``{"channel": ..., **what}``; ``board`` mirrors the IVR announcements so
    a drill can also show what a caller would have heard.
    """

    sent: list[dict[str, Any]] = field(default_factory=list)
    board: AnnouncementBoard = field(default_factory=AnnouncementBoard)
    fail_channels: set[str] = field(default_factory=set)

    def _record(self, channel: str, **what: Any) -> None:
        if channel in self.fail_channels:  # lets tests see how failures are audited
            raise ActionFailed(f"{channel}: simulated failure")
        self.sent.append({"channel": channel, **what})

    def page(self, entry: RosterEntry, message: str) -> str:
        """Record a page."""
        self._record("page", name=entry.name, role=entry.role, phone=entry.phone, text=message)
        return f"page-{len(self.sent)}"

    def publish(
        self, announcement_id: str, area: Area, message: dict[str, str], etr: datetime | None
    ) -> None:
        """Record an IVR announcement."""
        self._record(
            "ivr_publish",
            id=announcement_id,
            area=area,
            message=message,
            etr=etr.isoformat() if etr else None,
        )
        self.board.publish(announcement_id, area, message, etr)

    def withdraw(self, announcement_id: str) -> None:
        """Record an IVR withdrawal."""
        self._record("ivr_withdraw", id=announcement_id)
        self.board.withdraw(announcement_id)

    def push(self, target: dict[str, Any], kind: str, text: dict[str, str], *, key: str) -> int:
        """Record an SMS push."""
        self._record("sms", target=target, kind=kind, text=text, key=key)
        return 0

    def notify(self, roles: list[str], channel: str, message: dict[str, str]) -> None:
        """Record an escalation."""
        self._record("escalate", roles=roles, via=channel, message=message)

    def set(self, name: str) -> None:
        """Record a rule-set switch."""
        self._record("rule_set", name=name)

    def post(
        self, url: str, body: dict[str, Any], *, headers: dict[str, str], timeout_s: float
    ) -> int:
        """Record a webhook."""
        self._record("webhook", url=url, body=body)
        return 200

    def channel(self, name: str) -> list[dict[str, Any]]:
        """What went to one channel."""
        return [row for row in self.sent if row["channel"] == name]


class HttpWebhook:
    """`Webhook` over httpx (the client is passed in, so tests can use a mock transport)."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self.client = client or httpx.Client()

    def post(
        self, url: str, body: dict[str, Any], *, headers: dict[str, str], timeout_s: float
    ) -> int:
        """POST ``body``; non-2xx answers and transport errors raise `ActionFailed`."""
        try:
            response = self.client.post(url, json=body, headers=headers, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise ActionFailed(f"webhook {url}: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code >= 300:
            raise ActionFailed(f"webhook {url}: HTTP {response.status_code}")
        return response.status_code
