"""The crew roster: who can be sent, what they can repair, when they work, where they start.

A YAML (or JSON) file, the ``outage serve --crews`` contract::

    timezone: Asia/Shanghai            # optional: the zone of the shift times
    crews:
      - id: C01
        name: 城东抢修一班
        skills: [line, transformer]    # optional; absent = can repair anything
        depot: {lon: 113.27, lat: 23.09}
        shift: {start: "08:00", end: "20:00"}   # optional, local; overnight allowed; absent = 24 h

Skills: ``line`` repairs faults behind line devices (breakers, reclosers, fuses...),
``transformer`` replaces or re-fuses service transformers.
"""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from outage.configfile import load_model

Skill = Literal["line", "transformer"]
SKILLS: tuple[Skill, ...] = ("line", "transformer")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Point(_Strict):
    """A WGS84 position."""

    lon: Annotated[float, Field(ge=-180, le=180)]
    lat: Annotated[float, Field(ge=-90, le=90)]


class Shift(_Strict):
    """Daily working hours in local time; ``end`` before ``start`` runs over midnight."""

    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> Shift:
        if self.start == self.end:
            raise ValueError("start and end must differ (omit the shift for 24 h)")
        return self

    def covers(self, local: time) -> bool:
        """Is the crew on shift at this local time of day?"""
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class Crew(_Strict):
    """One crew of the roster."""

    id: Annotated[str, Field(min_length=1, max_length=128)]
    name: Annotated[str, Field(max_length=128)] = ""
    skills: Annotated[tuple[Skill, ...], Field(min_length=1)] = SKILLS
    depot: Point | None = None
    shift: Shift | None = None

    def can_repair(self, skill: Skill) -> bool:
        """Does this crew have ``skill``?"""
        return skill in self.skills


class Roster(_Strict):
    """Every crew, by id (ids unique)."""

    timezone: str = "Asia/Shanghai"
    crews: tuple[Crew, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _unique(self) -> Roster:
        seen: set[str] = set()
        for crew in self.crews:
            if crew.id in seen:
                raise ValueError(f"crew id {crew.id!r} appears twice")
            seen.add(crew.id)
        return self

    @property
    def by_id(self) -> dict[str, Crew]:
        """Crews by id."""
        return {c.id: c for c in self.crews}

    def on_shift(self, crew: Crew, at: datetime) -> bool:
        """Is ``crew`` working at ``at``?"""
        if crew.shift is None:
            return True
        return crew.shift.covers(at.astimezone(ZoneInfo(self.timezone)).time())


def load_roster(path: Path | None) -> Roster | None:
    """The roster at ``path`` (None: no roster, crews are whoever is dispatched); a
    `RulesError` names the file and the line or field that is wrong."""
    if path is None:
        return None
    return load_model(path, Roster, "the crew roster")
