"""Officer commands: audited instructions from a duty officer, journaled like signals.

Each command names the incident, who gave it and when (the API stamps ``ts`` on receipt), so a
restart replays it exactly as it happened.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

Action = Literal["confirm", "dispatch", "set_etr", "restore", "cancel", "close"]


class Command(BaseModel):
    """One officer command (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    type: Literal["command"] = "command"
    id: Annotated[str, Field(min_length=1, max_length=128)]
    ts: AwareDatetime
    by: Annotated[str, Field(min_length=1, max_length=128)]
    action: Action
    incident: Annotated[str, Field(min_length=1, max_length=64)]
    crew: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    etr: AwareDatetime | None = None
    reason: Annotated[str, Field(max_length=512)] | None = None

    @model_validator(mode="after")
    def _needs(self) -> Command:
        if self.action == "dispatch" and not self.crew:
            raise ValueError("crew is required to dispatch")
        if self.action == "set_etr" and self.etr is None:
            raise ValueError("etr is required to set an ETR")
        return self

    @property
    def when(self) -> datetime:
        """When the command was given."""
        return self.ts
