"""The runner is safe to call again with an event it failed on (the pump retries it).

Oracle: a runner fed the same events with no failure.
"""

from __future__ import annotations

from typing import Any

import pytest

from playbooks.store import RunnerStore
from tests.playbooks.conftest import Drive, call, predicted

from .test_runner import lockout


class FailingStore(RunnerStore):
    """Its commit fails ``failures`` times, then works."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def commit(self, state: dict[str, Any] | None) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("disk full")
        super().commit(state)


@pytest.mark.parametrize("hold", [0, 5])
def test_a_failed_commit_moves_no_mark_and_a_retry_counts_the_event_once(book, hold) -> None:  # type: ignore[no-untyped-def]
    """The last event activates the playbook (at once, or after its 5-minute hold-down): its
    write-ahead commit fails twice, then the retry must activate it and run every step."""
    if hold:
        events = [call(1), predicted("INC-1", 1500, 2), call(2 + hold)]
    else:
        events = [call(1), call(1.5), predicted("INC-1", 1500, 2)]
    reference = Drive([lockout(book, hold)])
    reference.feed(*events)
    assert "action" in reference.kinds()

    flaky = Drive([lockout(book, hold)], store=FailingStore(failures=0))
    flaky.feed(events[0], events[1])
    store = flaky.store
    assert isinstance(store, FailingStore)
    store.failures = 2
    seq = next(flaky.seq)
    for _ in range(2):
        with pytest.raises(OSError):
            flaky.runner.on_event(seq, events[2])
        assert flaky.runner.high_water == seq - 1  # not handled: a retry must not be skipped
    flaky.runner.on_event(seq, events[2])
    assert flaky.runner.high_water == seq
    assert flaky.runner.situation.to_dict() == reference.runner.situation.to_dict()
    assert flaky.kinds() == reference.kinds()
