"""Exceptions raised by `outage`.

    OutageError               base of everything raised here
    ├── SignalError           a signal or command failed validation (names where and which field)
    ├── RulesError            a rules YAML file is invalid (names file and field)
    ├── CommandRejected       an officer command cannot apply (unknown incident, wrong state)
    └── JournalError          the durable journal cannot be read or written

Errors from `grid` pass through unchanged: they already name the file and asset.
"""

from __future__ import annotations


class OutageError(Exception):
    """Base class of every error raised by `outage`."""


class SignalError(OutageError, ValueError):
    """A signal or command is malformed; ``where`` says which (line, index), ``detail`` what."""

    def __init__(self, where: str, detail: str) -> None:
        self.where = where
        self.detail = detail
        super().__init__(f"{where}: {detail}")


class RulesError(OutageError):
    """A rules file is invalid."""


class CommandRejected(OutageError):
    """An officer command cannot be applied to the engine's current state."""


class JournalError(OutageError):
    """The durable journal failed."""


class ConfigError(OutageError):
    """A configuration file (keys, service settings) is unreadable or invalid; names the file."""
