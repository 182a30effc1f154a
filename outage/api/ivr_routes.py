"""IVR endpoints: the JSON lookup, and the same answer as TwiML and VoiceXML 2.1.

The lookup runs on the event loop: it reads only the read view and the immutable customer
index (microseconds), so it never waits for the engine's lock. Keypad choices: 1 reports an
outage (it becomes a call signal through the same journal as every other signal), 2 asks for
an SMS update, 9 repeats everything in the other language: a caller hears their own language
(``language`` in the customers file) first, and only it, before the menu.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse

from grid.customers import normalise_phone
from outage.errors import JournalError
from outage.ivr import DEFAULT_LANGUAGE, LANGUAGES, CallerNotValid, CallerQuery
from outage.signals import CallSignal, describe_validation_error

from .deps import presented_key, require, runtime_of, services_of
from .responses import Json
from .schemas import IvrAnswer
from .surface import ServiceRuntime

router = APIRouter(tags=["IVR"])

MENU = {
    "zh-CN": "报修停电请按1，恢复供电时接收短信通知请按2。",
    "en": "To report an outage, press 1. For a text message when power is back, press 2.",
}
REPORTED = {
    "zh-CN": "您的报修已记录，谢谢。",
    "en": "Thank you, your report has been recorded.",
}
SMS_ON = {
    "zh-CN": "恢复供电时我们会短信通知您。",
    "en": "We will text you when power is back.",
}
SMS_UNAVAILABLE = {
    "zh-CN": "短信通知暂不可用，请稍后再拨。",
    "en": "Text updates are not available on this line right now; please call again later.",
}
NO_OUTAGE_TO_TEXT = {
    "zh-CN": "您的地址目前没有已知停电，暂无需要短信通知的内容。",
    "en": "There is no known outage at your address, so there is nothing to text you about.",
}
NO_INPUT = {"zh-CN": "再见。", "en": "Goodbye."}
VOICE_LANG = {"zh-CN": "zh-CN", "en": "en-US"}
#: The keypad choice that repeats everything in the other language, and its offer — spoken
#: in the language it offers, so a caller who does not understand the first one still can.
OTHER_LANGUAGE_DIGIT = "9"
OFFER = {"zh-CN": "中文服务请按9。", "en": "For English, press 9."}


def _answer(request: Request, query: CallerQuery) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        return runtime_of(request).ivr.answer(query)
    except CallerNotValid as exc:
        raise HTTPException(422, str(exc)) from None
    finally:
        runtime_of(request).metrics.lookup_seconds.observe(time.perf_counter() - started)


@router.get(
    "/v1/ivr/lookup",
    response_model=IvrAnswer,
    summary="Is there a known outage at the caller's premise, and when will it be back?",
    responses={422: {"description": "no identity, two identities, or a malformed value"}},
)
async def lookup(
    request: Request,
    _caller: Annotated[object, Depends(require("ivr"))],
    phone: Annotated[str | None, Query(max_length=32, examples=["+8613812345678"])] = None,
    account: Annotated[str | None, Query(max_length=64)] = None,
    premise: Annotated[str | None, Query(max_length=128)] = None,
    address: Annotated[str | None, Query(max_length=512)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
) -> Json:
    """Identify the caller by exactly one of phone (caller id), account, premise, address or
    lon+lat. A caller with several premises gets each listed in ``premises``; the top-level
    fields describe the affected one (or the first)."""
    query = CallerQuery(phone, account, premise, address, lon, lat)
    return Json(_answer(request, query))


# -- keypad choices shared by TwiML and VoiceXML ------------------------------------------------


def _keypad(
    runtime: ServiceRuntime, services: Any, phone: str, call_id: str, choice: str
) -> dict[str, str] | None:
    """Act on a keypad choice; the words to say, or None to repeat the menu."""
    if choice == "1":
        try:
            signal = CallSignal(
                type="call",
                id=f"ivr-{call_id}",
                # The commands' clock: the wall clock, never before the engine's own time (a
                # storm replayed ahead of the wall clock must not get a call from its past).
                ts=runtime.command_time(),
                phone=phone,
                kind="no_power",
                note="reported on the IVR keypad",
            )
        except ValidationError as exc:
            raise HTTPException(422, describe_validation_error(exc)) from None
        try:
            runtime.submit([signal])
        except JournalError as exc:
            raise HTTPException(
                503, f"journal: cannot write ({exc}); the report was not taken: call again"
            ) from None
        return REPORTED
    if choice == "2":
        return _text_me(runtime, services, phone, call_id)
    return None


def _text_me(runtime: ServiceRuntime, services: Any, phone: str, call_id: str) -> dict[str, str]:
    """Keypad 2: the caller gets the outage text now and the restoration text later."""
    answer = runtime.ivr.answer(CallerQuery(phone=phone)) if phone else None
    incident = answer["incident"] if answer and answer["known_outage"] else None
    queued = 0
    at = runtime.command_time()
    if incident is not None and services is not None:
        notifier = services.notifier
        queued = services.pumps["notify"].call(
            lambda: notifier.subscribe(phone, incident, at=at, request_id=call_id), wait=False
        )
    runtime.sms_requests.append(
        {
            "phone": phone,
            "call": call_id,
            "incident": incident,
            "queued": queued,
            "at": at,
        }
    )
    if incident is None:
        return NO_OUTAGE_TO_TEXT
    # An API-only worker (Redis, --role api) has no SMS pipeline: do not promise a text.
    return SMS_ON if services is not None else SMS_UNAVAILABLE


def _caller_phone(raw: str | None, field: str, region: str) -> str:
    """The caller id as given, once it reads as a phone number (422 naming ``field``
    otherwise: ``1`` or an emoji is no caller to look up, nor to report an outage for)."""
    if raw is None or not raw.strip():
        raise HTTPException(422, f"{field}: required (the caller's number)")
    if len(raw) > 32:
        raise HTTPException(422, f"{field}: at most 32 characters")
    try:
        normalise_phone(raw, region)
    except ValueError as exc:
        raise HTTPException(422, f"{field}: {exc}") from None
    return raw.strip()


def _spoken(answer: dict[str, Any]) -> list[dict[str, str]]:
    """What the caller hears before the menu: announcements, then the outage answer."""
    return [a["message"] for a in answer.get("announcements", [])] + [answer["message"]]


def _other(language: str) -> str:
    return LANGUAGES[1] if language == LANGUAGES[0] else LANGUAGES[0]


def _language(answer: dict[str, Any], asked: str | None) -> str:
    """The language to speak: the one the caller switched to (``lang``), else their own."""
    if asked in LANGUAGES:
        return asked
    return answer.get("language") or DEFAULT_LANGUAGE


def _with_language(path: str, language: str) -> str:
    return f"{path}?{urlencode({'lang': language})}"


# -- TwiML ------------------------------------------------------------------------------------


async def _twilio_form(request: Request) -> dict[str, str]:
    """The webhook's form fields; with an auth token configured, only if the signature holds."""
    form = await request.form()
    fields = {k: str(v) for k, v in form.items()}
    token = request.app.state.settings.twilio_auth_token
    if token:
        base = request.app.state.settings.public_url
        url = (base.rstrip("/") + request.url.path) if base else str(request.url)
        if request.url.query and base:
            url += "?" + request.url.query
        signature = request.headers.get("x-twilio-signature", "")
        if not RequestValidator(token).validate(url, fields, signature):
            raise HTTPException(403, "X-Twilio-Signature: does not verify for this request")
    elif presented_key(request) is None:
        raise HTTPException(
            401,
            "authorization: configure a Twilio auth token, or call with an ivr API key",
            headers={"WWW-Authenticate": "Basic"},
        )
    else:
        await require("ivr")(request)
    return fields


def _twiml(response: VoiceResponse) -> Response:
    return Response(str(response), media_type="application/xml")


def _say(parent: VoiceResponse | Gather, words: dict[str, str], language: str) -> None:
    parent.say(words[language], language=VOICE_LANG[language])


@router.post(
    "/v1/ivr/twiml",
    summary="Twilio voice webhook: the lookup as TwiML, with a keypad menu",
    response_class=Response,
    responses={
        200: {"content": {"application/xml": {}}, "description": "TwiML"},
        403: {"description": "X-Twilio-Signature does not verify"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["From", "CallSid"],
                        "properties": {
                            "From": {"type": "string", "maxLength": 32},
                            "CallSid": {"type": "string", "maxLength": 64},
                            "Digits": {"type": "string", "maxLength": 8},
                        },
                    }
                }
            },
        }
    },
)
async def twiml(
    request: Request,
    lang: Annotated[
        Literal["zh-CN", "en"] | None,
        Query(description="the language the caller chose (the menu's own links carry it)"),
    ] = None,
) -> Response:
    """Twilio posts ``From``, ``CallSid`` and, after the menu, ``Digits``. The caller hears
    everything in their own language (customers file) and can press 9 for the other one."""
    fields = await _twilio_form(request)
    phone = _caller_phone(fields.get("From"), "From", request.app.state.settings.region)
    call_sid = fields.get("CallSid", "").strip()
    if not call_sid or len(call_sid) > 64:
        raise HTTPException(422, "CallSid: required, at most 64 characters")
    response = VoiceResponse()
    answer = _answer(request, CallerQuery(phone=phone))
    language = _language(answer, lang)
    digits = fields.get("Digits")
    if digits == OTHER_LANGUAGE_DIGIT:
        language = _other(language)
    elif digits:
        words = await run_in_threadpool(
            _keypad, runtime_of(request), services_of(request), phone, call_sid, digits[:8]
        )
        if words is not None:
            _say(response, words, language)
            response.hangup()
            return _twiml(response)
    gather = Gather(
        num_digits=1,
        action=_with_language(request.url.path, language),
        method="POST",
        timeout=6,
    )
    for words in _spoken(answer):
        _say(gather, words, language)
    _say(gather, MENU, language)
    _say(gather, OFFER, _other(language))
    response.append(gather)
    _say(response, NO_INPUT, language)
    return _twiml(response)


# -- VoiceXML 2.1 -----------------------------------------------------------------------------

VXML_NS = "http://www.w3.org/2001/vxml"


def _vxml(
    blocks: list[dict[str, str]],
    menu: bool,
    phone: str,
    call_id: str,
    path: str,
    language: str,
) -> bytes:
    ET.register_namespace("", VXML_NS)
    root = ET.Element(f"{{{VXML_NS}}}vxml", {"version": "2.1"})
    root.set("{http://www.w3.org/XML/1998/namespace}lang", VOICE_LANG[language])
    form = ET.SubElement(root, f"{{{VXML_NS}}}form", {"id": "outage"})
    for name, value in (("phone", phone), ("callid", call_id), ("lang", language)):
        ET.SubElement(form, f"{{{VXML_NS}}}var", {"name": name, "expr": _js_string(value)})
    block = ET.SubElement(form, f"{{{VXML_NS}}}block")
    for words in blocks:
        _prompt(block, words, language)
    if menu:
        attributes = {"name": "choice", "type": "digits?length=1"}
        field = ET.SubElement(form, f"{{{VXML_NS}}}field", attributes)
        _prompt(field, MENU, language)
        _prompt(field, OFFER, _other(language))
        filled = ET.SubElement(field, f"{{{VXML_NS}}}filled")
        ET.SubElement(
            filled,
            f"{{{VXML_NS}}}submit",
            {"next": path, "method": "post", "namelist": "choice phone callid lang"},
        )
    else:
        ET.SubElement(block, f"{{{VXML_NS}}}disconnect")
    # typeshed gives an encoded document no type (Any) for any encoding but "unicode"
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def _prompt(parent: ET.Element, words: dict[str, str], language: str) -> None:
    prompt = ET.SubElement(parent, f"{{{VXML_NS}}}prompt")
    prompt.set("{http://www.w3.org/XML/1998/namespace}lang", VOICE_LANG[language])
    prompt.text = words[language]


def _js_string(value: str) -> str:
    """A JavaScript string literal for a VoiceXML ``expr`` (the XML layer escapes the rest)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_VXML_DOC = {
    "response_class": Response,
    "responses": {200: {"content": {"application/voicexml+xml": {}}, "description": "VoiceXML"}},
}


@router.post(
    "/v1/ivr/voicexml",
    summary="VoiceXML keypad choice (form fields phone, callid, choice)",
    operation_id="voicexml_post",
    **_VXML_DOC,  # type: ignore[arg-type]
)
@router.get(
    "/v1/ivr/voicexml",
    summary="The lookup as a VoiceXML 2.1 document, with a keypad menu",
    operation_id="voicexml_get",
    **_VXML_DOC,  # type: ignore[arg-type]
)
async def voicexml(
    request: Request,
    _caller: Annotated[object, Depends(require("ivr"))],
    phone: Annotated[str | None, Query(max_length=32, description="caller id")] = None,
    callid: Annotated[str | None, Query(max_length=64)] = None,
    choice: Annotated[str | None, Query(max_length=8)] = None,
    lang: Annotated[Literal["zh-CN", "en"] | None, Query(description="language chosen")] = None,
) -> Response:
    """The platform fetches this with the caller id; the menu posts ``choice`` back. Prompts
    are in the caller's own language; choice 9 repeats everything in the other one."""
    if request.method == "POST":
        form = await request.form()
        phone = str(form.get("phone", phone or "")) or None
        callid = str(form.get("callid", callid or "")) or None
        choice = str(form.get("choice", choice or "")) or None
        posted = str(form.get("lang", lang or ""))
        lang = posted if posted in LANGUAGES else None  # type: ignore[assignment]
    caller = _caller_phone(phone, "phone", request.app.state.settings.region)
    call_id = (callid or f"vxml-{time.time_ns()}")[:64]
    answer = _answer(request, CallerQuery(phone=caller))
    language = _language(answer, lang)
    if choice == OTHER_LANGUAGE_DIGIT:
        language = _other(language)
    elif choice:
        words = await run_in_threadpool(
            _keypad, runtime_of(request), services_of(request), caller, call_id, choice[:8]
        )
        if words is not None:
            body = _vxml([words], False, caller, call_id, request.url.path, language)
            return Response(body, media_type="application/voicexml+xml")
    body = _vxml(_spoken(answer), True, caller, call_id, request.url.path, language)
    return Response(body, media_type="application/voicexml+xml")
