"""Exceptions raised by `outage.redisstore`.

    OutageError                 (outage.errors)
    └── StoreError              the Redis store refused or failed an operation
        ├── StoreUnavailable    Redis cannot be reached (or did not answer in time): a write's
        │                       outcome is unknown, a retry is safe (API: 503)
        ├── LeaseLost           an engine worker no longer owns the partition it was writing
        └── PartitionTaken      a pinned engine worker's partition has a live writer already

Foreign exceptions (redis-py's ``ConnectionError``, ``TimeoutError``, cluster errors) are
translated at this package's boundary, so callers never import redis to handle them.
"""

from __future__ import annotations

from outage.errors import OutageError


class StoreError(OutageError):
    """The Redis store failed an operation."""


class StoreUnavailable(StoreError):
    """Redis is unreachable or did not answer in time: a read did not happen; a write may or
    may not have (a frozen Redis runs the script once it thaws), so retry it as it was."""


class LeaseLost(StoreError):
    """Another worker owns the partition now (our lease expired); our writes were refused."""

    def __init__(self, partition: str) -> None:
        super().__init__(f"{partition}: partition lease lost; another worker owns it")
        self.partition = partition


class PartitionTaken(StoreError):
    """``outage worker --partitions`` names a partition another live worker writes."""
