"""Sending: drain the outbox under the provider's rate, with retry and backoff, and record
what came back.

`Dispatcher.dispatch` claims the messages that are due (critical care first), checks consent
once more (a STOP that arrived after the decision still wins), hands each to the channel and
records the outcome: ``sent`` with the provider id, ``pending`` again after a transient error
(backoff from `RetryPolicy`), ``failed`` after a permanent one or too many attempts. It never
sleeps; `run_sender` is the background loop that calls it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from notify.channels.base import Channel, Sms
from notify.config import NotifyConfig
from notify.errors import PermanentSendError, TransientSendError
from notify.store import NotifyStore
from notify.throttle import TokenBucket


@dataclass
class DispatchReport:
    """What one `Dispatcher.dispatch` call did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    receipts: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        """Messages taken from the outbox."""
        return self.sent + self.retried + self.failed + self.suppressed


class Dispatcher:
    """Outbox -> throttle -> channel, with retry (see the module docstring)."""

    def __init__(
        self,
        store: NotifyStore,
        channel: Channel,
        config: NotifyConfig,
        *,
        may_text: Callable[[str], bool],
    ) -> None:
        self.store = store
        self.channel = channel
        self.config = config
        self.may_text = may_text
        self.bucket = TokenBucket(config.rate_per_second, config.burst)

    def dispatch(self, now: datetime, *, clock: float | None = None) -> DispatchReport:
        """Send what is due at ``now`` within the rate limit; ``clock`` (monotonic seconds)
        drives the throttle and defaults to ``now``'s timestamp."""
        report = DispatchReport()
        ticks = now.timestamp() if clock is None else clock
        budget = self.bucket.available(ticks)
        if budget <= 0:
            return report
        for row in self.store.claim_due(now.timestamp(), budget):
            self.bucket.take()
            stamp = now.timestamp()
            if not self.may_text(row.phone):
                self.store.finish(row.key, "suppressed", at=stamp, error="opted out")
                report.suppressed += 1
                continue
            sms = Sms(
                row.key, row.phone, row.body, self.config.sender_id, row.kind,
                self.config.status_callback_url,
            )
            try:
                provider_id = self.channel.send(sms)
            except PermanentSendError as exc:
                self.store.finish(row.key, "failed", at=stamp, error=str(exc))
                report.failed += 1
                report.errors.append(f"{row.key}: {exc}")
            except TransientSendError as exc:
                attempt = row.attempts + 1
                if attempt >= self.config.retry.max_attempts:
                    self.store.finish(row.key, "failed", at=stamp, error=f"gave up: {exc}")
                    report.failed += 1
                else:
                    retry_at = stamp + self.config.retry.delay(attempt)
                    self.store.finish(
                        row.key, "pending", at=stamp, error=str(exc), not_before=retry_at
                    )
                    report.retried += 1
                report.errors.append(f"{row.key}: {exc}")
            else:
                self.store.finish(row.key, "sent", at=stamp, provider_id=provider_id)
                report.sent += 1
        for receipt in self.channel.poll_receipts():
            if self.store.record_receipt(receipt.reference, receipt.status, receipt.at.timestamp()):
                report.receipts += 1
        return report


def run_sender(
    dispatcher: Dispatcher,
    stop: threading.Event,
    *,
    idle_s: float = 0.2,
    on_report: Callable[[DispatchReport], None] | None = None,
) -> None:
    """Call `Dispatcher.dispatch` until ``stop`` is set, sleeping only when nothing was due."""
    while not stop.is_set():
        report = dispatcher.dispatch(datetime.now(UTC), clock=time.monotonic())
        if on_report is not None and (report.handled or report.receipts):
            on_report(report)
        if not report.handled:
            stop.wait(max(idle_s, dispatcher.bucket.wait_time(time.monotonic())))
