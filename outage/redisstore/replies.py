"""Our Redis clients' replies, typed as what they are: bytes.

redis-py types each reply for every client configuration at once: ``bytes | str`` (a client
made with ``decode_responses=True`` gets str), stream entries whose id and fields may be None
(XCLAIM hands back deleted entries that way) and, for some commands, None. The clients here
are made by `connect.connect` and never decode, and XRANGE and XREAD return whole entries, so
these functions narrow a reply once, where it comes in, instead of a check at every use.
They only tell the type checker (`typing.cast`); nothing is converted at run time.
"""

from __future__ import annotations

from typing import cast

from redis.typing import StreamRangeResponse, XReadResponse

#: One stream entry: (entry id, fields).
Entry = tuple[bytes, dict[bytes, bytes]]
#: One stream's part of an XREAD reply: (stream name, entries) — a two-item list on the wire.
StreamEntries = tuple[bytes, list[Entry]]


def value(reply: bytes | str | None) -> bytes | None:
    """A GET or HGET reply."""
    return cast("bytes | None", reply)


def names(reply: list[bytes | str]) -> list[bytes]:
    """An HKEYS reply."""
    return cast("list[bytes]", reply)


def fields(reply: dict[bytes | str, bytes | str]) -> dict[bytes, bytes]:
    """An HGETALL reply."""
    return cast("dict[bytes, bytes]", reply)


def entries(reply: StreamRangeResponse | None) -> list[Entry]:
    """An XRANGE reply (a list, empty when nothing is in range)."""
    return cast("list[Entry]", reply)


def streams(reply: XReadResponse | None) -> list[StreamEntries] | None:
    """An XREAD reply (RESP2: a list per stream; None or empty when the block timed out)."""
    return cast("list[StreamEntries] | None", reply)
