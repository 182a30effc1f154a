"""Officer commands: audited instructions from a duty officer, journaled like signals.

Each command names the incident, who gave it and when (the API stamps ``ts`` on receipt), so a
restart replays it exactly as it happened.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from outage.signals import bounded_utc

Asset = Annotated[str, Field(min_length=1, max_length=128)]
Action = Literal[
    "confirm",
    "dispatch",
    "set_etr",
    "restore",
    "cancel",
    "close",
    "merge",
    "split",
    "rule_set",
    "storm",
]
#: Actions that change the engine as a whole rather than one incident.
GLOBAL_ACTIONS = frozenset({"rule_set", "storm"})


class Command(BaseModel):
    """One officer command (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    type: Literal["command"] = "command"
    id: Annotated[str, Field(min_length=1, max_length=128)]
    ts: AwareDatetime
    by: Annotated[str, Field(min_length=1, max_length=128)]
    action: Action
    incident: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    crew: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    etr: AwareDatetime | None = None
    reason: Annotated[str, Field(max_length=512)] | None = None
    #: merge: the incident that absorbs ``incident``.
    into: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    #: split: devices or transformers below the incident where the outage really is.
    assets: Annotated[tuple[Asset, ...], Field(min_length=1, max_length=50)] | None = None
    #: rule_set: the prediction rule set to switch to.
    rule_set: Literal["normal", "storm"] | None = None
    #: storm: declare or stand down a system-wide storm (the Redis backend's aggregator over
    #: every partition's figures; a duty officer). The storm priors follow it.
    storm: Literal["declare", "stand_down"] | None = None

    @field_validator("ts", "etr")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        # One time zone inside the engine: what officers type in local time is stored in UTC,
        # within the same absolute range as every signal's times (see `bounded_utc`).
        return bounded_utc(value) if value is not None else None

    @model_validator(mode="after")
    def _needs(self) -> Command:
        if self.action not in GLOBAL_ACTIONS and self.incident is None:
            raise ValueError(f"incident is required to {self.action}")
        if self.action == "dispatch" and not self.crew:
            raise ValueError("crew is required to dispatch")
        if self.action == "set_etr" and self.etr is None:
            raise ValueError("etr is required to set an ETR")
        if self.action == "merge" and (self.into is None or self.into == self.incident):
            raise ValueError("into is required to merge, and must name another incident")
        if self.action == "split" and not self.assets:
            raise ValueError("assets is required to split")
        if self.action == "rule_set" and self.rule_set is None:
            raise ValueError("rule_set is required to switch rule sets")
        if self.action == "storm" and self.storm is None:
            raise ValueError("storm is required: declare or stand_down")
        return self

    @property
    def when(self) -> datetime:
        """When the command was given."""
        return self.ts
