"""Exceptions raised by `grid`.

    GridError                    base of everything raised here
    ├── GridFormatError          a file is not readable as its format (names file, line)
    ├── TopologyValidationError  the assets are not a valid radial network (every problem)
    └── AssetNotFound            a lookup named an asset, account, phone or address not there

Foreign exceptions (pyogrio, opendssdirect, pandas) are translated into these at the boundary so
that callers - the CLI, the engine, the HTTP API - only ever handle one tree.
"""

from __future__ import annotations

from dataclasses import dataclass


class GridError(Exception):
    """Base class of every error raised by `grid`."""


class GridFormatError(GridError):
    """A source file is missing, unreadable or not in the format it claims to be."""

    def __init__(self, file: str, message: str, *, line: int | None = None) -> None:
        self.file = file
        self.line = line
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Problem:
    """One validation finding: which asset, in which file/layer, and what is wrong with it."""

    file: str
    layer: str
    asset: str
    message: str

    def __str__(self) -> str:
        return f"{self.file} [{self.layer}] {self.asset}: {self.message}"


class TopologyValidationError(GridError):
    """The assets do not form a valid radial network; ``problems`` lists every finding."""

    def __init__(self, problems: list[Problem], *, limit: int = 25) -> None:
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems[:limit])
        more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
        super().__init__(f"topology is invalid ({len(problems)} problem(s)):\n{shown}{more}")


class AssetNotFound(GridError, KeyError):
    """A lookup found nothing; the message says what was asked and why nothing matched."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else "asset not found"
