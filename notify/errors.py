"""Every error `notify` raises, in one tree.

::

    NotifyError
    ├── ConfigError          notify.yaml or a template is wrong (names file and field)
    ├── InboundError         an inbound SMS cannot be read (names the field)
    └── SendError            a channel could not hand a message over
        ├── TransientSendError   try again later (network, throttled, provider busy)
        └── PermanentSendError   never retry (bad number, rejected content)

Channels translate their libraries' exceptions into `SendError` at the boundary, so the
dispatcher's retry policy never needs to know about smpplib, httpx or Kannel.
"""

from __future__ import annotations


class NotifyError(Exception):
    """Base of every notify error."""


class ConfigError(NotifyError):
    """Invalid configuration: the message names the file and the field."""


class InboundError(NotifyError):
    """An inbound message is malformed: the message names the field."""


class SendError(NotifyError):
    """A channel failed to hand a message to its provider."""


class TransientSendError(SendError):
    """A failure worth retrying with backoff."""


class PermanentSendError(SendError):
    """A failure that retrying cannot fix."""
