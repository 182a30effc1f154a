"""The standby roster: who is paged, in which order, when more agents are needed.

A roster file is YAML (a list, or ``{standby: [...]}``) or CSV with a header, each entry
``name, role, phone, priority`` (lower priority is paged first; file order breaks ties)::

    standby:
      - {name: Li Wei, role: agent, phone: "+8613800000001", priority: 1}

Errors name the file, the line and the field.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from playbooks.errors import PlaybookFileError
from playbooks.loader import read_yaml, validate


class RosterEntry(BaseModel):
    """One standby person."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=128)]
    role: Annotated[str, Field(min_length=1, max_length=64)] = "agent"
    phone: Annotated[str, Field(min_length=3, max_length=32)]
    priority: Annotated[int, Field(ge=0)] = 100


@dataclass(frozen=True)
class Roster:
    """Standby entries in paging order."""

    entries: tuple[RosterEntry, ...]
    source: str

    def __len__(self) -> int:
        return len(self.entries)


def load_roster(path: Path) -> Roster:
    """Read a YAML or CSV roster (see the module docstring)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        entries = _csv_entries(path)
    else:
        document, node = read_yaml(path)
        prefix: tuple[str, ...] = ()
        if isinstance(document, dict) and "standby" in document:
            document, prefix = document["standby"], ("standby",)
        if not isinstance(document, list):
            raise PlaybookFileError(str(path), "a roster is a list of entries (or standby: [...])")
        entries = [
            validate(RosterEntry, item, path, node, (*prefix, n)) for n, item in enumerate(document)
        ]
    order = sorted(range(len(entries)), key=lambda n: (entries[n].priority, n))
    return Roster(tuple(entries[n] for n in order), str(path))


def _csv_entries(path: Path) -> list[RosterEntry]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PlaybookFileError(str(path), f"cannot read ({exc.strerror})") from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = {"name", "phone"} - set(reader.fieldnames or ())
    if missing:
        raise PlaybookFileError(str(path), f"header lacks {', '.join(sorted(missing))}", line=1)
    entries = []
    for row in reader:
        values = {key: value for key, value in row.items() if value not in (None, "")}
        try:
            entries.append(RosterEntry.model_validate(values))
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = ".".join(str(p) for p in first["loc"])
            raise PlaybookFileError(
                str(path), first["msg"], line=reader.line_num, field=field
            ) from None
    return entries
