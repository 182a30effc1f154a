"""`outage.follow`: a consumer is handed every journaled event after its mark, once, in order."""

from __future__ import annotations

from datetime import UTC, datetime

from outage import events as ev
from outage.follow import follow
from outage.journal import SqliteJournal


class Consumer:
    def __init__(self, high_water: int = 0) -> None:
        self.high_water = high_water
        self.seen: list[int] = []

    def on_event(self, seq: int, event: ev.Event) -> None:
        assert isinstance(event, ev.CallUnresolved)
        self.seen.append(seq)
        self.high_water = seq


def test_follow_hands_over_what_is_after_the_mark_in_batches(tmp_path) -> None:  # type: ignore[no-untyped-def]
    journal = SqliteJournal(tmp_path / "j.sqlite")
    at = datetime(2026, 7, 1, tzinfo=UTC)
    events = {
        seq: ev.CallUnresolved(at=at, ticket=f"T{seq}", call=f"c{seq}", reason="x")
        for seq in range(1, 26)
    }
    rows = [(seq, 0, e.type, ev.to_json(e)) for seq, e in events.items()]
    journal.append_events(rows, [])
    late = Consumer(high_water=7)
    assert follow(journal, late, batch=4) == 18  # batches smaller than the backlog
    assert late.seen == list(range(8, 26))  # oracle: the seqs after the mark, in order
    assert follow(journal, late) == 0  # nothing twice
    journal.close()
