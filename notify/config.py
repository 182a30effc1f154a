"""`NotifyConfig`: every knob of the SMS pipeline and the feeds, loadable from ``notify.yaml``.

Unknown keys are refused (``extra="forbid"``) and every error names the file and the field, so
a typo fails at start-up instead of silently sending at 3 a.m.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from notify.errors import ConfigError

MessageKind = Literal[
    "outage_detected",
    "etr_changed",
    "crew_dispatched",
    "restored",
    "still_out_check",
    "planned_notice",
    "hazard",
    "announcement",
    "follow_up",
]
MESSAGE_KINDS: tuple[str, ...] = MessageKind.__args__  # type: ignore[attr-defined]
#: The languages messages are written in.
Language = Literal["zh-CN", "en"]
Minutes = Annotated[float, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


class QuietHours(_Model):
    """A nightly window (local time) in which non-urgent SMS are held until it ends."""

    start: time = time(22, 0)
    end: time = time(7, 0)
    timezone: str = "Asia/Shanghai"

    _zone = field_validator("timezone")(_known_zone)

    def release(self, at: datetime) -> datetime:
        """``at`` if it is outside the window, else the moment the window ends."""
        if self.start == self.end:
            return at
        local = at.astimezone(ZoneInfo(self.timezone))
        clock = local.time().replace(tzinfo=None)
        overnight = self.start > self.end
        inside = (
            (clock >= self.start or clock < self.end)
            if overnight
            else (self.start <= clock < self.end)
        )
        if not inside:
            return at
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(at.tzinfo)


class RetryPolicy(_Model):
    """Exponential backoff: ``initial_s * factor**(attempt-1)``, capped, for ``max_attempts``."""

    max_attempts: Annotated[int, Field(ge=1, le=50)] = 6
    initial_s: Annotated[float, Field(gt=0)] = 5.0
    factor: Annotated[float, Field(ge=1)] = 2.0
    max_s: Annotated[float, Field(gt=0)] = 600.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return min(self.max_s, self.initial_s * self.factor ** (attempt - 1))


class FeedConfig(_Model):
    """Public feed privacy and CAP settings."""

    min_customers: Annotated[int, Field(ge=1)] = 10  # fewer: only a coarse grid cell is shown
    cell_degrees: Annotated[float, Field(gt=0, le=1)] = 0.01  # about 1 km
    buffer_m: Annotated[float, Field(ge=0)] = 150.0
    cap_min_customers: Annotated[int, Field(ge=1)] = 500
    cap_sender: str = "95598@utility.example"
    cap_sender_name: str = "Electric utility outage centre"


def _quiet_hours_everywhere() -> dict[Language, QuietHours]:
    # a named factory: mypy cannot infer a lambda's Literal keys through Field's overloads
    return {"zh-CN": QuietHours(), "en": QuietHours()}


def _is_language(code: str) -> TypeGuard[Language]:
    return code in ("zh-CN", "en")


class NotifyConfig(_Model):
    """Settings of the notification pipeline (see docs/notify.md for each one's meaning)."""

    sender_id: Annotated[str, Field(min_length=1, max_length=16)] = "95598"
    default_language: Language = "zh-CN"
    region: Annotated[str, Field(min_length=2, max_length=2)] = "CN"
    timezone: str = "Asia/Shanghai"  # for times written in messages (ETR, planned window)
    detect_delay_minutes: Minutes = 0.0
    etr_change_threshold_minutes: Minutes = 30.0
    still_out_delay_minutes: Minutes = 10.0
    planned_notice_lead_hours: Minutes = 24.0
    #: After a restoration, the customers who called are asked to rate it (回访) this much
    #: later (their power has had time to settle; a text at the moment of restoration would
    #: come before they notice). Quiet hours apply.
    follow_up_delay_minutes: Minutes = 30.0
    quiet_hours: dict[Language, QuietHours] = Field(default_factory=_quiet_hours_everywhere)
    quiet_hours_exempt_kinds: frozenset[MessageKind] = frozenset({"hazard", "restored"})
    quiet_hours_exempt_priorities: frozenset[Literal["critical_care", "vip", "normal"]] = frozenset(
        {"critical_care"}
    )
    rate_per_second: Annotated[float, Field(gt=0)] = 50.0
    burst: Annotated[int, Field(ge=1)] = 50
    retry: RetryPolicy = RetryPolicy()
    max_segments: Annotated[int, Field(ge=1, le=10)] = 4
    status_callback_url: str | None = None
    templates: Path | None = None
    feed: FeedConfig = FeedConfig()

    _zone = field_validator("timezone")(_known_zone)

    def quiet_for(self, language: str) -> QuietHours | None:
        """Quiet hours of ``language`` (the default language's when it has none)."""
        own = self.quiet_hours.get(language) if _is_language(language) else None
        return own or self.quiet_hours.get(self.default_language)


def describe(exc: ValidationError) -> str:
    """``field.path: message`` per problem, joined by ``; ``."""
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'body'}: "
        f"{error['msg'].removeprefix('Value error, ')}"
        for error in exc.errors(include_url=False)
    )


def parse_config(raw: dict[str, Any], *, where: str = "notify config") -> NotifyConfig:
    """Validate a mapping; `ConfigError` names ``where`` and each field."""
    try:
        return NotifyConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {describe(exc)}") from None


def load_config(path: Path | str | None) -> NotifyConfig:
    """``notify.yaml`` at ``path`` (defaults when None); `ConfigError` names file and field."""
    if path is None:
        return NotifyConfig()
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    config = parse_config(raw, where=str(path))
    if config.templates is not None and not config.templates.is_absolute():
        config = config.model_copy(update={"templates": path.parent / config.templates})
    return config
