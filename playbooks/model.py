"""The playbook schema (应急预案 as data): purpose, when, who, then, schedule, stand-down.

A playbook file is YAML validated by these pydantic models (``extra="forbid"``: a misspelt key
is an error naming the field). Conditions and actions are *one-key mappings*, which read like
the plan on paper::

    id: feeder-lockout
    title: Feeder lockout
    purpose: A whole feeder is dark; staff up and tell its callers before the menu.
    activation: {mode: propose, roles: [duty_officer], expires_minutes: 30}
    when:
      any:
        - single_outage: {min_customers: 1500}
        - customers_out: {scope: any_substation, min: 3000}
    hold_for_minutes: 2          # the condition must hold this long before firing
    rearm_minutes: 120           # no re-firing this soon after standing down
    then:
      - staffing: {aht_s: 240, target_sl: 0.8, target_answer_s: 20, roster: roster.yaml}
      - ivr_announcement: {message: {zh-CN: "...{etr}...", en: "...{etr}..."}}
    schedule:
      - {every_minutes: 15, run: [staffing]}
    stand_down: {clear_for_minutes: 60}

Messages are templates: ``{playbook}``, ``{reason}``, ``{customers_out}``, ``{area}``,
``{etr}`` and ``{at}`` are filled in when the action runs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

Minutes = Annotated[float, Field(ge=0, le=7 * 24 * 60)]
Positive = Annotated[float, Field(gt=0)]
Share = Annotated[float, Field(gt=0, lt=1)]
WarningKind = Literal["typhoon", "rainstorm", "heat", "snow"]
WarningLevel = Literal["blue", "yellow", "orange", "red"]
#: Chinese warning colours, weakest first (蓝 < 黄 < 橙 < 红).
LEVELS: tuple[WarningLevel, ...] = ("blue", "yellow", "orange", "red")
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    """A message in both languages the hotline speaks."""

    zh_cn: str = Field(alias="zh-CN", min_length=1, max_length=1000)
    en: str = Field(min_length=1, max_length=1000)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def as_dict(self) -> dict[str, str]:
        """``{"zh-CN": ..., "en": ...}``."""
        return {"zh-CN": self.zh_cn, "en": self.en}


# -- conditions -------------------------------------------------------------------------------


class StormDeclaredCond(_Strict):
    """The engine declared storm conditions in ``scope`` ("system", a substation, or "any")."""

    scope: str = "system"


class SingleOutageCond(_Strict):
    """One open outage (e.g. a feeder lockout) has at least ``min_customers`` out."""

    min_customers: Annotated[int, Field(ge=1)]


class CustomersOutCond(_Strict):
    """Customers out in ``scope`` ("system", a substation id, or "any_substation") >= ``min``."""

    min: Annotated[int, Field(ge=1)]
    scope: str = "system"


class CallRateCond(_Strict):
    """Calls over the last ``window_minutes`` exceed ``multiple`` × the time-of-day baseline."""

    multiple: Annotated[float, Field(gt=1)]
    window_minutes: Annotated[float, Field(gt=0, le=240)] = 15
    #: Fewer calls than this in the window never count (quiet-hour noise).
    min_calls: Annotated[int, Field(ge=1)] = 20


class WarningCond(_Strict):
    """A weather or heat warning of one of ``kinds`` at ``min_level`` or above is in force."""

    kinds: Annotated[list[WarningKind], Field(min_length=1)]
    min_level: WarningLevel = "blue"
    #: "any", or an area name that must match the warning's (a warning for "all" matches all).
    area: str = "any"
    #: How long a warning without ``until`` stays in force.
    default_hours: Annotated[float, Field(gt=0, le=240)] = 24


class PlannedOutageCond(_Strict):
    """Planned work is due to start within ``within_hours`` (and has not ended)."""

    within_hours: Annotated[float, Field(gt=0, le=24 * 14)]
    min_customers: Annotated[int, Field(ge=0)] = 0


class OverdueOrdersCond(_Strict):
    """At least ``min`` open work orders escalated to ``level`` (a warning before a deadline,
    or its breach) on ``step`` (arrival, restoration or any) — the 督办 of overdue repairs."""

    min: Annotated[int, Field(ge=1)] = 1
    level: Literal["warning", "breach"] = "breach"
    step: Literal["arrival", "restoration", "any"] = "any"


class Condition(_Strict):
    """Exactly one of the keys: a leaf condition, or ``all`` / ``any`` of conditions."""

    all: list[Condition] | None = Field(default=None, min_length=1)
    any: list[Condition] | None = Field(default=None, min_length=1)
    storm_declared: StormDeclaredCond | None = None
    single_outage: SingleOutageCond | None = None
    customers_out: CustomersOutCond | None = None
    call_rate: CallRateCond | None = None
    warning: WarningCond | None = None
    planned_outage: PlannedOutageCond | None = None
    overdue_orders: OverdueOrdersCond | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        _one_key(self, "condition")
        return self

    @property
    def kind(self) -> str:
        """The one key that is set."""
        return _set_keys(self)[0]

    @property
    def params(self) -> Any:
        """The leaf condition's parameters (None for all/any)."""
        return None if self.kind in ("all", "any") else getattr(self, self.kind)


# -- actions ----------------------------------------------------------------------------------


class StaffingAction(_Strict):
    """Forecast calls, size the team with Erlang C, page the standby roster to close the gap."""

    aht_s: Positive = 300
    target_sl: Share = 0.8
    target_answer_s: Annotated[float, Field(ge=0)] = 20
    max_occupancy: Annotated[float, Field(gt=0, le=1)] = 0.85
    shrinkage: Annotated[float, Field(ge=0, lt=1)] = 0.3
    interval_minutes: Annotated[float, Field(gt=0, le=120)] = 15
    #: Share of customers newly out who call, and calls per caller (repeat callers).
    call_in_rate: Annotated[float, Field(ge=0, le=1)] = 0.15
    repeat_factor: Annotated[float, Field(ge=1, le=10)] = 1.4
    #: A new outage's calls arrive over this long (evenly, for the forecast).
    spread_minutes: Annotated[float, Field(gt=0, le=240)] = 30
    #: Multiply the hour's normal call baseline (heat waves bring more "other" calls too).
    baseline_multiple: Annotated[float, Field(ge=0, le=20)] = 1.0
    #: Agents on shift before anyone is paged.
    on_shift: Annotated[int, Field(ge=0)] = 4
    #: Roster file (YAML or CSV: name, role, phone, priority), relative to the playbook file.
    roster: str = "roster.yaml"


class IvrAction(_Strict):
    """An announcement callers from the affected area hear before the menu (withdrawn at
    stand-down)."""

    message: Text
    #: "affected": the substations the condition names (or the whole system); "system": all.
    area: Literal["affected", "system"] = "affected"


class SmsAction(_Strict):
    """A push to the affected customers through the notify pipeline."""

    kind: Literal["outage_notice", "etr_reminder", "planned_notice", "storm_advice"]
    text: Text
    area: Literal["affected", "system"] = "affected"


class EscalateAction(_Strict):
    """Tell named duty roles through a channel."""

    roles: Annotated[list[Id], Field(min_length=1)]
    channel: Literal["sms", "phone", "email", "wecom"] = "sms"
    message: Text


class RuleSetAction(_Strict):
    """Switch the engine's prediction rules; by default back to normal at stand-down."""

    name: Literal["normal", "storm"]
    revert_at_stand_down: bool = True


class WebhookAction(_Strict):
    """POST a JSON description of the activation to ``url``."""

    url: HttpUrl
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 5
    headers: dict[str, str] = Field(default_factory=dict)


ACTION_KINDS = ("staffing", "ivr_announcement", "sms_push", "escalate", "rule_set", "webhook")


class Step(_Strict):
    """One action of ``then``; ``id`` (default: the action's kind) names it for ``schedule``."""

    id: Id | None = None
    staffing: StaffingAction | None = None
    ivr_announcement: IvrAction | None = None
    sms_push: SmsAction | None = None
    escalate: EscalateAction | None = None
    rule_set: RuleSetAction | None = None
    webhook: WebhookAction | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        _one_key(self, "action", ignore=("id",))
        return self

    @property
    def kind(self) -> str:
        """The action's kind (the one key that is set)."""
        return _set_keys(self, ignore=("id",))[0]

    @property
    def params(self) -> Any:
        """The action's parameters."""
        return getattr(self, self.kind)

    @property
    def name(self) -> str:
        """``id``, or the kind."""
        return self.id or self.kind


# -- the playbook -----------------------------------------------------------------------------


class Activation(_Strict):
    """How a playbook activates: by itself, or proposed to a duty officer who confirms."""

    mode: Literal["automatic", "propose"] = "automatic"
    #: Roles that may confirm a proposal (empty: anyone).
    roles: list[Id] = Field(default_factory=list)
    expires_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 30


class FollowUp(_Strict):
    """Re-run steps of ``then`` while active: every N minutes, or once after N minutes."""

    every_minutes: Annotated[float, Field(gt=0, le=24 * 60)] | None = None
    after_minutes: Annotated[float, Field(gt=0, le=7 * 24 * 60)] | None = None
    run: Annotated[list[Id], Field(min_length=1)]

    @model_validator(mode="after")
    def _one_timing(self) -> FollowUp:
        if (self.every_minutes is None) == (self.after_minutes is None):
            raise ValueError("give exactly one of every_minutes, after_minutes")
        return self


class StandDown(_Strict):
    """Stand down once the condition has been clear this long (checked every few minutes)."""

    clear_for_minutes: Minutes = 60
    check_every_minutes: Annotated[float, Field(gt=0, le=60)] = 5


class Playbook(_Strict):
    """One contingency playbook (see the module docstring)."""

    id: Id
    title: Annotated[str, Field(min_length=1, max_length=200)]
    purpose: Annotated[str, Field(min_length=1, max_length=2000)]
    applies: Annotated[str, Field(max_length=2000)] = ""
    activation: Activation = Activation()
    when: Condition
    hold_for_minutes: Minutes = 0
    rearm_minutes: Minutes = 60
    then: Annotated[list[Step], Field(min_length=1)]
    schedule: list[FollowUp] = Field(default_factory=list)
    stand_down: StandDown = StandDown()
    #: The drill targets (what "worked" means in the review), free text.
    targets: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names(self) -> Playbook:
        names = [step.name for step in self.then]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"step names must be unique (give ids): {', '.join(duplicated)}")
        for n, follow_up in enumerate(self.schedule):
            unknown = [name for name in follow_up.run if name not in names]
            if unknown:
                raise ValueError(
                    f"schedule.{n}.run names no step of then: {', '.join(unknown)} "
                    f"(steps: {', '.join(names)})"
                )
        return self

    def step(self, name: str) -> Step:
        """The step called ``name``."""
        return next(step for step in self.then if step.name == name)


def _set_keys(model: BaseModel, ignore: tuple[str, ...] = ()) -> list[str]:
    return [
        name
        for name in type(model).model_fields
        if name not in ignore and getattr(model, name) is not None
    ]


def _one_key(model: BaseModel, what: str, ignore: tuple[str, ...] = ()) -> None:
    keys = _set_keys(model, ignore)
    if len(keys) != 1:
        allowed = [n for n in type(model).model_fields if n not in ignore]
        got = ", ".join(keys) or "none"
        raise ValueError(f"a {what} takes exactly one of {', '.join(allowed)} (got {got})")
