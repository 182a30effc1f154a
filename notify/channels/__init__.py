"""SMS channel adapters, one small module each, all implementing `Channel`."""

from notify.channels.base import Channel, Receipt, Sms
from notify.channels.file import FileChannel, read_outbox

__all__ = ["Channel", "FileChannel", "Receipt", "Sms", "read_outbox"]
