"""Request and response bodies of the HTTP API, as documented in its OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- intake -----------------------------------------------------------------------------------


class Rejection(BaseModel):
    """A signal that was not accepted, and why (``field: message``)."""

    index: int
    id: str | None
    error: str


class SubmitResponse(BaseModel):
    """What happened to each signal of a batch."""

    accepted: list[str]
    duplicates: list[str]
    rejected: list[Rejection]
    conflicts: list[Rejection] = Field(
        default_factory=list,
        description="ids accepted before with different content: nothing was changed",
    )
    quarantined: list[Rejection] = Field(
        default_factory=list,
        description="accepted and journaled, but the engine failed on them: never applied "
        "(listed at GET /v1/quarantine)",
    )
    journaled: bool = Field(description="accepted signals are durably journaled")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "accepted": ["call-0001", "meter-0042"],
                    "duplicates": ["call-0000"],
                    "rejected": [
                        {
                            "index": 3,
                            "id": "call-x",
                            "error": "signals[3]: kind: Input should be 'no_power', "
                            "'partial_power', 'flicker', 'wire_down', 'fire' or 'other'",
                        }
                    ],
                    "journaled": True,
                }
            ]
        }
    )


SIGNAL_EXAMPLES = {
    "one call": {
        "summary": "one customer call, identified by phone",
        "value": {
            "type": "call",
            "id": "call-20260715-000123",
            "ts": "2026-07-15T18:02:11+08:00",
            "phone": "+8613812345678",
            "kind": "no_power",
        },
    },
    "batch": {
        "summary": "a batch: meter last gasp, SCADA trip, a hazard call by location",
        "value": [
            {
                "type": "meter",
                "id": "m-1",
                "ts": "2026-07-15T18:00:03Z",
                "premise": "premise.0000001",
                "event": "last_gasp",
            },
            {
                "type": "scada",
                "id": "s-1",
                "ts": "2026-07-15T18:00:01Z",
                "device": "fdr.1.brk",
                "state": "open",
            },
            {
                "type": "call",
                "id": "c-9",
                "ts": "2026-07-15T18:04:00Z",
                "lon": 121.4737,
                "lat": 31.2304,
                "kind": "wire_down",
            },
        ],
    },
}


# -- officer commands -------------------------------------------------------------------------


class DispatchBody(_Body):
    """Send a crew."""

    crew: Annotated[str, Field(min_length=1, max_length=128, examples=["crew-07"])]


class EtrBody(_Body):
    """Set the estimated time of restoration (null clears it)."""

    etr: AwareDatetime | None = Field(examples=["2026-07-15T22:30:00+08:00"])


class ReasonBody(_Body):
    """An optional reason, kept in the audit trail."""

    reason: Annotated[str, Field(max_length=512)] | None = None


class MergeBody(_Body):
    """Fold this incident into another one."""

    into: Annotated[str, Field(min_length=1, max_length=64, examples=["INC-000012"])]
    reason: Annotated[str, Field(max_length=512)] | None = None


class SplitBody(_Body):
    """The outage is really at these devices/transformers below the predicted one."""

    assets: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=128)]],
        Field(min_length=1, max_length=50, examples=[["fdr.1.f3", "tx.000102"]]),
    ]
    reason: Annotated[str, Field(max_length=512)] | None = None


class RuleSetBody(_Body):
    """Switch the prediction rule set."""

    rule_set: Literal["normal", "storm"]
    reason: Annotated[str, Field(max_length=512)] | None = None


class StormBody(_Body):
    """Declare or stand down a system-wide storm by hand."""

    storm: Literal["declare", "stand_down"]
    reason: Annotated[str, Field(max_length=512)] | None = None


class CommandResult(BaseModel):
    """A command's outcome: the audited command, whether it was new, and what it caused."""

    command: dict[str, Any]
    duplicate: bool = False
    events: list[dict[str, Any]]
    incident: dict[str, Any] | None = None


# -- IVR --------------------------------------------------------------------------------------


class PremiseAnswer(BaseModel):
    """The answer for one of the caller's premises."""

    premise: str
    known_outage: bool
    incident: str | None
    status: str | None
    cause: str | None
    customers_affected: int | None
    etr: str | None
    #: Whose ETR: "officer", "crew" or "estimated" (the engine's automatic estimate).
    etr_source: Literal["officer", "crew", "estimated"] | None = None
    planned: bool


class PremiseHistoryBrief(BaseModel):
    """The caller's "again?": sustained outages of the last ``days`` at this address."""

    days: int
    outages: int
    minutes_out: float
    #: The address's transformer is flagged for frequent outages (频繁停电).
    frequent: bool
    last: dict[str, Any] | None


class IvrAnswer(BaseModel):
    """``/v1/ivr/lookup``: is there a known outage here, and when will power be back?"""

    identified: bool
    known_outage: bool
    incident: str | None
    status: str | None
    cause: str | None
    customers_affected: int | None
    etr: str | None
    etr_source: Literal["officer", "crew", "estimated"] | None = None
    planned: bool
    message: dict[str, str]
    #: Outages of the caller's address in the last days (None when not kept).
    history: PremiseHistoryBrief | None = None
    callback_offered: bool
    premise: str | None
    premises: list[PremiseAnswer]
    upcoming_planned: list[dict[str, Any]]
    announcements: list[dict[str, Any]]
    #: The caller's own language (customers file): the IVR speaks it first.
    language: Literal["zh-CN", "en"] = "zh-CN"

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "identified": True,
                    "known_outage": True,
                    "incident": "INC-000031",
                    "status": "dispatched",
                    "cause": "no_power call",
                    "customers_affected": 412,
                    "etr": "2026-07-15T14:30:00Z",
                    "etr_source": "crew",
                    "planned": False,
                    "history": {
                        "days": 60,
                        "outages": 0,
                        "minutes_out": 0.0,
                        "frequent": False,
                        "last": None,
                    },
                    "message": {
                        "zh-CN": "您所在区域已知停电，影响约412户。抢修人员已赶赴现场，"
                        "预计7月15日22:30恢复供电。无需重复报修。",
                        "en": "There is a known power outage in your area affecting about 412 "
                        "customers. A repair crew is on its way. We expect power back by 22:30 "
                        "on 15 Jul. You do not need to report it again.",
                    },
                    "callback_offered": True,
                    "premise": "premise.0001234",
                    "premises": [],
                    "upcoming_planned": [],
                    "announcements": [],
                    "language": "zh-CN",
                }
            ]
        }
    )


# -- public -----------------------------------------------------------------------------------


class SubstationOut(BaseModel):
    """Customers out in one substation's area."""

    substation: str
    customers_out: int
    customers_served: int


class PublicSummary(BaseModel):
    """The anonymous outage summary: totals only, never a customer or an address."""

    customers_out: int
    customers_served: int
    open_outages: int
    storm_declared: bool
    substations: list[SubstationOut]
    as_of: str


#: Whether the service takes traffic (`Health.status`).
HealthStatus = Literal["ok", "starting", "unavailable"]


class ConsumerStall(BaseModel):
    """The event a consumer keeps failing on: it is retried, never skipped."""

    seq: int
    event: str
    error: str
    #: when the first attempt failed (wall clock)
    since: AwareDatetime
    attempts: int
    #: the whole story in one line (what ``detail`` of the readiness answer says)
    detail: str


class ConsumerHealth(BaseModel):
    """One event consumer (notify, playbooks) as readiness sees it."""

    name: str
    handled: int
    backlog: int
    errors: int
    #: None while it keeps up.
    stalled: ConsumerStall | None = None


class Health(BaseModel):
    """Liveness / readiness."""

    status: HealthStatus
    signals_applied: int | None = 0
    journal: str | None = None
    #: why the service is not ready (journal removed, events not journaled, store down, a
    #: consumer stalled on an event).
    detail: str | None = None
    #: readiness only, with notify and playbooks wired: each consumer's figures.
    consumers: list[ConsumerHealth] = []


class SessionBody(_Body):
    """Log in with an API key: the answer sets an HttpOnly session cookie."""

    key: Annotated[str, Field(min_length=8, max_length=256)]
