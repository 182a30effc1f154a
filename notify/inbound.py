"""Inbound SMS keywords: STOP / 退订, START, OUT, STATUS, HELP, and a rating 1-5.

- ``STOP`` (also 退订, TD, UNSUBSCRIBE...) records an opt-out for the number, known or not:
  opt-out always wins, and one confirmation is the only text that follows.
- ``START`` (订阅) opts back in.
- ``OUT`` (停电) from a customer's number becomes a trouble call (`CallSignal`, kind
  ``no_power``, identified by phone) whose id is derived from the inbound message id, so a
  redelivered SMS is not a second call.
- ``STATUS`` (查询) answers from the IVR read view for that customer only.
- A lone digit ``1`` to ``5`` answers the follow-up (回访) after a restoration: it becomes a
  `FollowUpSignal` identified by phone, for the customer's outage awaiting an answer.
- ``HELP`` or anything else: the list of keywords.

An unknown number gets a polite answer and never any data about anyone else. A message id
seen before gets the same reply again and changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime

from grid.customers import normalise_phone
from notify.audience import Audience
from notify.errors import InboundError
from notify.store import NotifyStore
from notify.templates import Templates
from outage.signals import CallSignal, FollowUpSignal, bounded_utc

KEYWORDS = {
    "stop": {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "TD", "退订", "取消"},
    "start": {"START", "UNSTOP", "SUBSCRIBE", "YES", "订阅"},
    "out": {"OUT", "停电", "没电", "无电"},
    "status": {"STATUS", "查询", "进度"},
    "help": {"HELP", "INFO", "帮助"},
}
_WORD = re.compile(r"[A-Za-z]+|[\u4e00-\u9fff]+")
_SCORE = re.compile(r"^\s*([1-5])\s*(分|星)?\s*[.!。！]?\s*$")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True, slots=True)
class InboundResult:
    """The reply to send back, what the keyword was, and the call to submit (OUT only)."""

    reply: str
    keyword: str  # stop | start | out | status | help | score | duplicate
    call: CallSignal | FollowUpSignal | None = None


def keyword_of(text: str) -> str:
    """The keyword a text starts with (``score`` for a lone rating 1-5, ``help`` when none is
    recognised)."""
    if _SCORE.match(text or ""):
        return "score"
    match = _WORD.search(text or "")
    if match is None:
        return "help"
    word = match.group(0).upper()
    for keyword, words in KEYWORDS.items():
        if word in words or any(word.startswith(w) for w in words if not w.isascii()):
            return keyword
    return "help"


def call_id(message_id: str) -> str:
    """A call signal id derived from the inbound message id (stable, at most 128 chars)."""
    if len(message_id) <= 100:
        return f"sms-{message_id}"
    return "sms-" + hashlib.sha256(message_id.encode()).hexdigest()


class InboundHandler:
    """Answers inbound texts (see the module docstring)."""

    def __init__(
        self,
        audience: Audience,
        templates: Templates,
        store: NotifyStore,
        consent: MutableMapping[str, str],
        *,
        region: str = "CN",
        submit_call: Callable[[CallSignal | FollowUpSignal], object] | None = None,
        status_for_phone: Callable[[str], str | None] | None = None,
    ) -> None:
        self.audience = audience
        self.templates = templates
        self.store = store
        self.consent = consent
        self.region = region
        self.submit_call = submit_call
        self.status_for_phone = status_for_phone

    def handle(
        self, from_phone: str, text: str, message_id: str, received_at: datetime
    ) -> InboundResult:
        """Act on one inbound SMS; `InboundError` names a malformed field."""
        if not isinstance(message_id, str) or not message_id.strip():
            raise InboundError("message_id: required")
        if not isinstance(text, str):
            raise InboundError("text: must be a string")
        if not isinstance(received_at, datetime) or received_at.tzinfo is None:
            raise InboundError("received_at: must be a timezone-aware datetime")
        try:  # the time an OUT call is reported at: the range every signal's time is in
            received_at = bounded_utc(received_at)
        except ValueError as exc:
            raise InboundError(f"received_at: {exc}") from None
        if not isinstance(from_phone, str) or not from_phone.strip():
            raise InboundError("from_phone: required")
        earlier = self.store.inbound_reply(message_id)
        if earlier is not None:
            return InboundResult(earlier, "duplicate")
        try:
            phone = normalise_phone(from_phone, self.region)
        except ValueError:
            phone = None
        row = self.audience.row_of_phone.get(phone) if phone else None
        if row is not None:
            language = self.audience.language[row]
        else:
            language = "zh-CN" if _CJK.search(text) else "en"
        keyword = keyword_of(text)
        result = self._act(keyword, phone, row, language, message_id, received_at, text)
        self.store.remember_inbound(
            message_id, phone or from_phone, text, received_at.timestamp(), result.reply
        )
        return result

    def _reply(self, kind: str, language: str, **context: str) -> str:
        return self.templates.render(kind, language, **context).text

    def _act(
        self,
        keyword: str,
        phone: str | None,
        row: int | None,
        language: str,
        message_id: str,
        at: datetime,
        text: str,
    ) -> InboundResult:
        if keyword in ("stop", "start") and phone is not None:
            state = "out" if keyword == "stop" else "in"
            self.store.set_consent(phone, state, at.timestamp(), f"sms:{message_id}")
            self.consent[phone] = state
            return InboundResult(self._reply(f"reply_{keyword}", language), keyword)
        if keyword in ("out", "status", "score") and row is None:
            return InboundResult(self._reply("reply_unknown_number", language), keyword)
        if keyword == "out" and phone is not None:
            call = CallSignal(
                type="call",
                id=call_id(message_id),
                ts=at,
                phone=phone,
                kind="no_power",
                note="reported by SMS OUT",
            )
            if self.submit_call is not None:
                self.submit_call(call)
            return InboundResult(self._reply("reply_out", language, ref=call.id), keyword, call)
        if keyword == "score" and phone is not None:
            score = _SCORE.match(text)
            assert score is not None
            answer = FollowUpSignal(
                type="followup",
                id=call_id(message_id),
                ts=at,
                phone=phone,
                score=int(score.group(1)),
                channel="sms",
            )
            if self.submit_call is not None:
                self.submit_call(answer)
            return InboundResult(self._reply("reply_follow_up", language), keyword, answer)
        if keyword == "status" and phone is not None:
            status = self.status_for_phone(phone) if self.status_for_phone else None
            if not status:
                return InboundResult(self._reply("reply_status_none", language), keyword)
            return InboundResult(self._reply("reply_status", language, status=status), keyword)
        return InboundResult(self._reply("reply_help", language), "help")
