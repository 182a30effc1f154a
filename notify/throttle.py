"""A token bucket: at most ``rate`` messages per second on average, ``burst`` at once.

Time is a parameter (``now`` in seconds, any monotonic origin), as in alertmanager's stages, so
tests drive it without sleeping.
"""

from __future__ import annotations


class TokenBucket:
    """Provider rate limit (see the module docstring)."""

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last: float | None = None

    def available(self, now: float) -> int:
        """Whole tokens available at ``now`` (refilled since the last call)."""
        if self._last is not None and now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        if self._last is None or now > self._last:
            self._last = now
        return int(self._tokens)

    def take(self, count: int = 1) -> None:
        """Spend ``count`` tokens (after `available` said they are there)."""
        self._tokens -= count

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available."""
        self.available(now)
        return max(0.0, (1 - self._tokens) / self.rate)
