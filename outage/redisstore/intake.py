"""Intake through Redis: route each message to its partition stream, deduplicated, atomically.

``submit`` is what replaces ``Runtime.submit`` on an API worker: it checks references against
the topology, routes every message (`partition.Router`), and appends each partition's share in
one `keys.INTAKE` script call — SADD of the id and XADD of the body together — so a signal is
either accepted exactly once or reported as a duplicate. Accepted means *stored in Redis*; an
engine worker applies it moments later. When Redis cannot be reached `StoreUnavailable` is
raised and the client should retry the whole request: what did get in is then reported as
duplicates, so nothing is lost and nothing doubles.
"""

from __future__ import annotations

from collections.abc import Iterable

from outage.bootstrap import Network, build_engine
from outage.commands import Command
from outage.host import SubmitResult, conflict_error, content_digest, encode

from .connect import Client, unavailable
from .keys import INTAKE, Keyspace
from .partition import Message, Router

#: `RedisIntake.append`'s answer for an id stored before with other content.
CONFLICT = "conflict"


class RedisIntake:
    """Accepts signals and commands into partition streams (see the module docstring)."""

    def __init__(self, client: Client, network: Network, keys: Keyspace | None = None) -> None:
        self.client = client
        self.keys = keys or Keyspace()
        self.router = Router(network)
        # Reference checks of signals need only the topology; an idle engine provides them.
        self._checker = build_engine(network)
        self._script = client.register_script(INTAKE)

    def submit(self, messages: Iterable[Message]) -> SubmitResult:
        """Store a batch; per-message outcomes (``events`` stays empty: applied later).

        The result lists ids in the order the messages came; `StoreUnavailable` when Redis
        cannot be reached (then retry: what got in is reported as duplicates)."""
        result = SubmitResult()
        shares: dict[str, list[tuple[Message, str, bytes]]] = {}
        # (message, its partitions (none: repeated in this batch), repeated with other content)
        order: list[tuple[Message, tuple[str, ...], bool]] = []
        here: dict[str, str] = {}  # id -> digest of its first message in this batch
        for message in messages:
            problem = None
            if not isinstance(message, Command):
                problem = self._checker.check_references(message)
            if problem is not None:
                result.rejected.append({"id": message.id, "error": problem})
                continue
            body = encode(message)
            digest = content_digest(message, body)
            if message.id in here:
                order.append((message, (), here[message.id] != digest))
                continue
            here[message.id] = digest
            partitions = self.router.route(message)
            order.append((message, partitions, False))
            for partition in partitions:
                shares.setdefault(partition, []).append((message, digest, body))
        stored: dict[tuple[str, str], str | None] = {}
        for partition, share in shares.items():
            for (message, _, _), reply in zip(share, self.append(partition, share), strict=True):
                stored[(partition, message.id)] = reply
        for message, partitions, differs in order:
            replies = [stored.get((p, message.id)) for p in partitions]
            if differs or CONFLICT in replies:
                result.conflicts.append({"id": message.id, "error": conflict_error(message)})
            elif any(r is not None for r in replies):
                result.accepted.append(message.id)
            else:
                result.duplicates.append(message.id)
        return result

    def append(
        self, partition: str, messages: list[tuple[Message, str, bytes]]
    ) -> list[str | None]:
        """Append ``(message, digest, body)`` to one partition's stream; per message its stream
        id, None for a duplicate, or `CONFLICT` (the id was stored with other content)."""
        keys = self.keys.partition(partition)
        args: list[bytes | str] = []
        for message, digest, body in messages:
            args += [message.id, body, digest]
        with unavailable(f"intake to partition {partition}"):
            ids = self._script(keys=[keys.seen, keys.signals, keys.digests], args=args)
        return [i.decode() if isinstance(i, bytes) else i for i in ids]
