"""Reports drawn per episode from their own keyed random stream (the crew world's reports).

When crews decide restoration, the restore times are only known once the simulation has run,
yet the simulated utility learns of each fault from the reports the storm itself produces —
while the reports depend on when power returns (nobody calls once the lights are back). The
circle is broken by drawing every episode's *potential* calls, and every dark interval's meter
messages, from a random stream keyed by what identifies the episode — the set of outages
covering its premises, its start and its cause — never by its end. An episode's draws are then
the same whether they are made during the crew simulation (end not known yet) or afterwards,
and the reports actually sent are the potential ones that come before the end. The first
report the utility reacts to is therefore exactly the first report the storm sends.

The rules are those of `scenarios.reports` (calls per customer with ``share``, a delay from the
start of the episode, repeats; last gasp / power restored per metered premise and message), so
the storms of both worlds read alike; only the order of the draws differs, which is why a storm
without crews keeps using `scenarios.reports` and is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scenarios.physics import Grid, asset_depths, cover_signatures, dark_spans, timeline
from scenarios.reports import MINUTE, Calls, Meters, outage_kinds, seconds
from scenarios.spec import CallSpec, MeterSpec

IntArray = npt.NDArray[np.int64]
#: Never: the end given to an outage not repaired yet.
NEVER = np.iinfo(np.int64).max // 4
_CALLS, _METERED, _GASP, _RESTORED = 1701, 1702, 1703, 1704


@dataclass(frozen=True)
class Potential:
    """The calls of one episode if it lasted for ever, in generation order."""

    ts: IntArray
    premise: IntArray
    caller: IntArray
    kind: npt.NDArray[np.str_]

    @property
    def first(self) -> int | None:
        """The earliest potential call (seconds), None when nobody would call."""
        return int(self.ts.min()) if len(self.ts) else None


class KeyedReports:
    """Calls and meter messages of the outages ``assets`` starting at ``starts`` (seconds).

    ``signature`` numbers and members are those of `scenarios.physics.cover_signatures`.
    """

    def __init__(
        self,
        grid: Grid,
        assets: IntArray,
        starts: IntArray,
        seed: int,
        calls: CallSpec,
        meters: MeterSpec,
    ) -> None:
        self.grid = grid
        self.assets = np.asarray(assets, dtype=np.int64)
        self.starts = np.asarray(starts, dtype=np.int64)
        self.seed = seed
        self.call_spec = calls
        self.meter_spec = meters
        self.positions, self.position_signature, self.members = cover_signatures(grid, assets)
        self.depth = asset_depths(grid, self.assets)
        #: signatures each outage belongs to
        self.signatures_of: list[list[int]] = [[] for _ in range(len(self.assets))]
        for s, members in enumerate(self.members):
            for m in members:
                self.signatures_of[m].append(s)
        self._premises: dict[int, IntArray] = {}
        self._potential: dict[tuple[int, int, int], Potential] = {}
        self._metered: npt.NDArray[np.bool_] | None = None

    def _rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))

    def premises(self, signature: int) -> IntArray:
        """Premise numbers at the signature's positions."""
        got = self._premises.get(signature)
        if got is None:
            positions = self.positions[self.position_signature == signature]
            got, _ = self.grid.premises_of_positions(positions)
            self._premises[signature] = got
        return got

    def episodes(self, signature: int, ends: IntArray) -> list[tuple[int, int, int, bool]]:
        """(start, end, cause, lost) of the signature, given the ends known so far (`NEVER`
        for an outage still open)."""
        return timeline(self.members[signature], self.starts, ends, self.depth)

    # -- calls ----------------------------------------------------------------------------

    def potential(self, signature: int, start: int, cause: int) -> Potential:
        """Every call the episode (signature, start, cause) would bring if it never ended."""
        key = (signature, start, cause)
        got = self._potential.get(key)
        if got is None:
            members = self.members[signature]
            rng = self._rng(_CALLS, cause, start, len(members), *members)
            got = _potential_calls(self.grid, self.premises(signature), start, self.call_spec, rng)
            self._potential[key] = got
        return got

    def calls(self, ends: IntArray) -> Calls:
        """The calls made: each episode's potential calls before its end (final ``ends``)."""
        ts, premise, caller, cause, kind = [], [], [], [], []
        for s in range(len(self.members)):
            for start, end, c, _ in self.episodes(s, ends):
                p = self.potential(s, start, c)
                keep = p.ts < end
                ts.append(p.ts[keep])
                premise.append(p.premise[keep])
                caller.append(p.caller[keep])
                cause.append(np.full(int(keep.sum()), c, dtype=np.int64))
                kind.append(p.kind[keep])
        return Calls(
            _cat(ts),
            _cat(premise),
            _cat(caller),
            _cat(cause),
            np.concatenate(kind) if kind else np.empty(0, dtype="<U13"),
        )

    # -- meters ---------------------------------------------------------------------------

    def metered(self) -> npt.NDArray[np.bool_]:
        """Which premises have a smart meter (one draw per premise of the network)."""
        if self._metered is None:
            n = len(self.grid.topology.premise_ids)
            self._metered = self._rng(_METERED).random(n) < self.meter_spec.penetration
        return self._metered

    def _sent(self, signature: int, start: int, event: int) -> IntArray:
        """Metered premises of the signature whose message of the dark interval beginning at
        ``start`` reaches the head end (event: `_GASP` or `_RESTORED`)."""
        premise = self.premises(signature)
        premise = premise[self.metered()[premise]]
        rng = self._rng(event, signature, start)
        return premise[rng.random(len(premise)) < self.meter_spec.delivery]

    def gasps_sent(self, signature: int, start: int) -> bool:
        """Whether at least one last gasp of this dark interval is delivered."""
        if self.meter_spec.delivery <= 0 or self.meter_spec.penetration <= 0:
            return False
        return len(self._sent(signature, start, _GASP)) > 0

    def meters(self, ends: IntArray) -> Meters:
        """Every delivered last gasp and power_restored (final ``ends``), on the meters'
        clocks; the cause is the outage the dark interval began or ended with."""
        spec = self.meter_spec
        ts, premises, events, causes = [], [], [], []
        if spec.delivery > 0 and spec.penetration > 0:
            offset = round(spec.clock_offset_minutes * MINUTE)
            for s in range(len(self.members)):
                episodes = self.episodes(s, ends)
                for start, end in dark_spans(self.members[s], self.starts, ends):
                    began = next((c for a, _, c, _ in episodes if a == start), -1)
                    ended = next((c for _, b, c, _ in episodes if b == end), -1)
                    for event, t, cause, tag in (
                        ("last_gasp", start, began, _GASP),
                        ("power_restored", end, ended, _RESTORED),
                    ):
                        sent = self._sent(s, start, tag)
                        ts.append(np.full(len(sent), t + offset, dtype=np.int64))
                        premises.append(sent)
                        events.append(np.full(len(sent), event, dtype="<U14"))
                        causes.append(np.full(len(sent), cause, dtype=np.int64))
        return Meters(
            _cat(ts),
            _cat(premises),
            np.concatenate(events) if events else np.empty(0, dtype="<U14"),
            _cat(causes),
        )


def _potential_calls(
    grid: Grid, premise: IntArray, start: int, spec: CallSpec, rng: np.random.Generator
) -> Potential:
    """The calls of an endless episode starting at ``start`` (the rules of
    `scenarios.reports.outage_calls`, every repeat drawn whatever the end)."""
    customers = grid.topology.premise_customers
    n = rng.binomial(customers[premise], spec.share)
    who = np.repeat(premise, n)
    slot = np.arange(len(who)) - np.repeat(np.cumsum(n) - n, n)
    t = start + seconds(spec.delay.sample(rng, len(who)))
    times, premises, callers = [t], [who], [slot]
    for _ in range(spec.max_calls_per_caller - 1):
        again = rng.random(len(t)) < spec.repeat_share
        who, slot = who[again], slot[again]
        t = t[again] + seconds(spec.repeat_gap.sample(rng, int(again.sum())))
        if len(t) == 0:
            break
        times.append(t)
        premises.append(who)
        callers.append(slot)
    ts = _cat(times)
    return Potential(ts, _cat(premises), _cat(callers), outage_kinds(spec, rng, len(ts)))


def _cat(parts: list[IntArray]) -> IntArray:
    return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, dtype=np.int64)
