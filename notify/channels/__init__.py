"""SMS channel adapters, one small module each, all implementing `Channel`."""

from notify.channels.base import Channel, Receipt, Sms
from notify.channels.file import FileChannel, read_outbox
from notify.channels.http import TwilioChannel, WebhookChannel
from notify.channels.kannel import KannelChannel
from notify.channels.smpp import SmppChannel

__all__ = [
    "Channel",
    "FileChannel",
    "KannelChannel",
    "Receipt",
    "SmppChannel",
    "Sms",
    "TwilioChannel",
    "WebhookChannel",
    "read_outbox",
]
