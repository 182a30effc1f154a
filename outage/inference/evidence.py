"""What each premise has reported in its current evidence epoch.

A premise's *epoch* starts at its latest reset — a restoration or cancellation covering it, or
its own meter saying "power restored". Reports older than the reset belong to the outage that
reset consumed them (they are history, held by that incident); the tree only ever sees the
current epoch, summarised per premise as a `PremiseSummary`.

A call of an outage kind made after the premise's meter said "power restored", with no last
gasp since, is not outage evidence: the meter shows power, so it is a customer-side matter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from outage.inference.likelihood import Likelihood, micro
from outage.inference.tree import NEVER, PremiseSummary
from outage.rules import InferenceModel
from outage.signals import OUTAGE_KINDS


class Report(NamedTuple):
    """One report in an epoch: a call (with its kind) or a last gasp (kind ``last_gasp``); a
    named tuple, as one is made per signal."""

    at: int
    id: str
    kind: str


#: A premise whose meter shows power and that reported nothing since.
_ENERGISED = PremiseSummary(False, False, 0, NEVER, True)


@dataclass(slots=True)
class _Premise:
    reports: list[Report] = field(default_factory=list)
    #: Latest "power restored" from the premise's meter (epoch seconds), or None.
    restored_at: int | None = None
    #: Latest "power restored" that ended an epoch in which the premise had reported out:
    #: the premise was out and is back.
    back_at: int | None = None
    #: The latest report that left an epoch (history now), so that a "power restored" which
    #: arrives after the epoch already ended still knows the premise had been out.
    last_gone: int | None = None


class EvidenceStore:
    """Per-premise reports of the current epoch, and their summaries for the tree."""

    def __init__(self, model: InferenceModel) -> None:
        #: An outage began before its first call: by the most likely delay of a caller, the
        #: mode of the lognormal (median · e^(−σ²)). A meter's last gasp needs no such lead.
        self.lead = Likelihood.of(model).lead_seconds
        self._strong: dict[str, int] = {k: micro(llr) for k, llr in model.kind_llr.items()}
        self._weak: dict[str, int] = {k: micro(llr) for k, llr in model.weak_llr.items()}
        self._premises: dict[int, _Premise] = {}

    def add(self, premise: int, report: Report) -> PremiseSummary | None:
        """Add a report to the premise's epoch; returns its new summary."""
        entry = self._entry(premise)
        entry.reports.append(report)
        return self._summary(entry)

    def _entry(self, premise: int) -> _Premise:
        """The premise's entry, made on first use (not one made per call and thrown away)."""
        entry = self._premises.get(premise)
        if entry is None:
            entry = self._premises[premise] = _Premise()
        return entry

    def energised(self, premise: int, at: int) -> bool:
        """Does the meter show power at ``premise`` at time ``at`` (restored, no gasp since)?"""
        entry = self._premises.get(premise)
        if entry is None or entry.restored_at is None or at < entry.restored_at:
            return False
        return not any(
            r.kind == "last_gasp" and entry.restored_at <= r.at <= at for r in entry.reports
        )

    def meter_restored(self, premise: int, at: int) -> None:
        """Record the meter's "power restored" (the caller then resets the epoch at ``at``)."""
        entry = self._entry(premise)
        if entry.restored_at is None or at > entry.restored_at:
            entry.restored_at = at

    def restored_at(self, premise: int) -> int | None:
        """When the premise's meter last said "power restored" (None: never)."""
        entry = self._premises.get(premise)
        return entry.restored_at if entry is not None else None

    def back_at(self, premise: int) -> int | None:
        """When the premise, having reported out, last had its meter say power is back."""
        entry = self._premises.get(premise)
        return entry.back_at if entry is not None else None

    def came_back(self, premise: int, at: int) -> tuple[list[Report], PremiseSummary | None]:
        """The meter says "power restored" at ``at``: the epoch ends there (see `reset`), and
        if the premise had reported out, it is back."""
        self.meter_restored(premise, at)
        gone, summary = self.reset(premise, at)
        entry = self._premises[premise]
        if gone or (entry.last_gone is not None and entry.last_gone <= at):
            entry.back_at = at if entry.back_at is None else max(entry.back_at, at)
        return gone, summary

    def was_back(self, premise: int, at: int) -> bool:
        """Did this premise's meter say "power restored" at ``at`` after it had reported out?"""
        entry = self._premises.get(premise)
        return entry is not None and entry.back_at is not None and entry.back_at >= at

    def reset(self, premise: int, until: int) -> tuple[list[Report], PremiseSummary | None]:
        """End the epoch at ``until``: reports made then or before leave it (returned)."""
        entry = self._premises.get(premise)
        if entry is None:
            return [], None
        gone = [r for r in entry.reports if r.at <= until]
        if gone:
            entry.reports = [r for r in entry.reports if r.at > until]
            latest = max(r.at for r in gone)
            entry.last_gone = latest if entry.last_gone is None else max(entry.last_gone, latest)
        return gone, self._summary(entry)

    def reports(self, premise: int) -> list[Report]:
        """The premise's reports in its current epoch."""
        entry = self._premises.get(premise)
        return list(entry.reports) if entry is not None else []

    def summary(self, premise: int) -> PremiseSummary | None:
        """The premise's current summary (None: nothing reported in this epoch)."""
        entry = self._premises.get(premise)
        return self._summary(entry) if entry is not None else None

    def _summary(self, entry: _Premise) -> PremiseSummary | None:
        reports = entry.reports
        if not reports:  # energised: the meter said power is back and no gasp since
            return _ENERGISED if entry.restored_at is not None else None
        called = gasped = False
        strong = weak = None
        first = NEVER
        for report in reports:
            if report.kind == "last_gasp":
                first = min(first, report.at)
                gasped = True
                continue
            first = min(first, report.at - self.lead)
            if report.kind in OUTAGE_KINDS:
                called = True
                value = self._strong[report.kind]
                strong = value if strong is None else max(strong, value)
            else:
                value = self._weak.get(report.kind, 0)
                weak = value if weak is None else max(weak, value)
        kind = strong if strong is not None else (weak or 0)
        energised = entry.restored_at is not None and not gasped
        return PremiseSummary(called, gasped, kind, first, energised)

    def earliest(self, premise: int) -> int | None:
        """When the premise's earliest report in this epoch was made (no lead)."""
        entry = self._premises.get(premise)
        return min((r.at for r in entry.reports), default=None) if entry is not None else None
