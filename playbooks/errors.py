"""Exceptions raised by `playbooks`.

PlaybookError             base of everything raised here
├── PlaybookFileError     a playbook or roster file is invalid (names file, line and field)
├── StaffingError         Erlang C inputs out of range (names the argument)
├── ProposalError         confirm/decline of an unknown, expired or settled proposal
│   └── NotAllowed        the confirming role may not activate this playbook
└── ActionFailed          an outbound port failed (the runner audits it and carries on)
"""

from __future__ import annotations


class PlaybookError(Exception):
    """Base class of every error raised by `playbooks`."""


class PlaybookFileError(PlaybookError, ValueError):
    """A playbook or roster file is invalid; ``path``, ``line`` and ``field`` say where."""

    def __init__(self, path: str, detail: str, *, line: int | None = None, field: str = "") -> None:
        self.path, self.line, self.field, self.detail = path, line, field, detail
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {field + ': ' if field else ''}{detail}")


class StaffingError(PlaybookError, ValueError):
    """Erlang C inputs out of range; ``field`` names the argument."""

    def __init__(self, message: str, *, field: str = "") -> None:
        self.field = field
        super().__init__(message)


class ProposalError(PlaybookError):
    """A proposal cannot be confirmed or declined (unknown, expired, already settled)."""


class NotAllowed(ProposalError):
    """The role confirming a proposal is not among the playbook's activating roles."""


class ActionFailed(PlaybookError):
    """An outbound channel (pager, IVR, SMS, escalation, webhook) failed."""
