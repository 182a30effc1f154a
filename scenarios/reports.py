"""What the simulated world reports: customer calls, noise calls and smart-meter messages.

All draws are vectorised over premises and callers; a storm on a million-customer network
only touches the premises that are dark (plus the noise callers).

Callers
    During each outage episode of a premise (see `scenarios.physics`), each of its customers
    calls with probability ``share``, after a delay drawn from the spec's family, counted from
    the start of the episode. A call that would come after power returns (or after the
    episode's cause is repaired) is never made: people stop calling when the lights come back.
    After each call a caller calls again with probability ``repeat_share`` after a gap drawn
    from its own family. The call is "about" the episode's cause.
Noise
    A Poisson number of calls over the storm horizon from premises (drawn in proportion to
    their customers) that have power at the call time.
Meters
    A metered premise sends a last gasp when it goes dark and power_restored when power
    returns, each delivered with probability ``delivery``, stamped by the meter's own clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from scenarios.physics import Episodes, Grid
from scenarios.spec import CallSpec, MeterSpec, NoiseSpec

IntArray = npt.NDArray[np.int64]
MINUTE = 60


@dataclass(frozen=True)
class Calls:
    """Parallel arrays, one row per call (``cause`` -1: noise)."""

    ts: IntArray  # seconds since the storm start
    premise: IntArray
    caller: IntArray  # which customer slot of the premise calls (for its account)
    cause: IntArray
    kind: npt.NDArray[np.str_]

    def __add__(self, other: Calls) -> Calls:
        """Both sets of calls, these first."""
        return Calls(
            np.concatenate([self.ts, other.ts]),
            np.concatenate([self.premise, other.premise]),
            np.concatenate([self.caller, other.caller]),
            np.concatenate([self.cause, other.cause]),
            np.concatenate([self.kind, other.kind]),
        )


@dataclass(frozen=True)
class Meters:
    """Parallel arrays, one row per delivered meter message."""

    ts: IntArray  # seconds since the storm start, on the meter's clock
    premise: IntArray
    event: npt.NDArray[np.str_]  # last_gasp | power_restored
    cause: IntArray  # the outage the dark interval began (last gasp) or ended (restored) with


def outage_calls(grid: Grid, episodes: Episodes, spec: CallSpec, rng: np.random.Generator) -> Calls:
    """Every call made by customers who are out (module docstring)."""
    customers = grid.topology.premise_customers
    times, premises, callers, causes = [], [], [], []
    for s in range(int(episodes.position_signature.max(initial=-1)) + 1):
        positions = episodes.positions[episodes.position_signature == s]
        premise, _ = grid.premises_of_positions(positions)
        rows = np.flatnonzero(episodes.episode_signature == s)
        for e in rows.tolist():
            start, end = int(episodes.episode_start[e]), int(episodes.episode_end[e])
            n = rng.binomial(customers[premise], spec.share)
            who = np.repeat(premise, n)
            # slot k of a premise with n callers: 0..n-1 (distinct customers of that premise)
            slot = np.arange(len(who)) - np.repeat(np.cumsum(n) - n, n)
            t = start + seconds(spec.delay.sample(rng, len(who)))
            for _ in range(spec.max_calls_per_caller):
                keep = t < end
                who, slot, t = who[keep], slot[keep], t[keep]
                if len(t) == 0:
                    break
                times.append(t)
                premises.append(who)
                callers.append(slot)
                causes.append(np.full(len(t), int(episodes.episode_cause[e]), dtype=np.int64))
                again = rng.random(len(t)) < spec.repeat_share
                who, slot = who[again], slot[again]
                t = t[again] + seconds(spec.repeat_gap.sample(rng, int(again.sum())))
    ts = _cat(times)
    kind = outage_kinds(spec, rng, len(ts))
    return Calls(ts, _cat(premises), _cat(callers), _cat(causes), kind)


def noise_calls(
    grid: Grid,
    episodes: Episodes,
    spec: NoiseSpec,
    feeder: int,
    horizon: int,
    rng: np.random.Generator,
) -> Calls:
    """Calls from premises that have power at the call time (module docstring)."""
    topo = grid.topology
    transformer = np.asarray(topo.premise_transformer, dtype=np.int64)
    eligible = grid.transformer_fed[transformer]
    if spec.scope == "feeder":
        eligible &= np.asarray(topo.transformer_feeder, dtype=np.int64)[transformer] == feeder
    pool = np.flatnonzero(eligible & (topo.premise_customers > 0))
    weight = topo.premise_customers[pool].astype(np.float64)
    rate = spec.per_1000_customers_per_hour * weight.sum() / 1000.0 * horizon / 3600.0
    n = int(rng.poisson(rate)) if len(pool) and horizon > 0 else 0
    premise = np.empty(0, dtype=np.int64)
    ts = np.empty(0, dtype=np.int64)
    for _ in range(50):  # redraw the few that landed on a dark premise
        if len(premise) >= n:
            break
        want = n - len(premise)
        p = pool[rng.choice(len(pool), size=want, p=weight / weight.sum())]
        t = rng.integers(0, horizon, size=want)
        lit = ~episodes.dark_at(grid.transformer_position[transformer[p]], t)
        premise, ts = np.concatenate([premise, p[lit]]), np.concatenate([ts, t[lit]])
    names = sorted(spec.kinds)
    w = np.array([spec.kinds[k] for k in names], dtype=np.float64)
    kind = (
        np.asarray(names)[rng.choice(len(names), size=len(ts), p=w / w.sum())]
        if len(ts) and w.sum() > 0
        else np.full(len(ts), "no_power")
    )
    slot = rng.integers(0, np.maximum(topo.premise_customers[premise], 1))
    return Calls(ts, premise, slot.astype(np.int64), np.full(len(ts), -1, dtype=np.int64), kind)


def meter_messages(
    grid: Grid, episodes: Episodes, spec: MeterSpec, rng: np.random.Generator
) -> Meters:
    """Last gasps and power-restored messages of metered dark premises (module docstring)."""
    empty = Meters(
        np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, "<U14"), np.empty(0, np.int64)
    )
    if spec.delivery <= 0 or spec.penetration <= 0 or len(episodes.dark_start) == 0:
        return empty
    offset = round(spec.clock_offset_minutes * MINUTE)
    metered = rng.random(len(grid.topology.premise_ids)) < spec.penetration
    ts, premises, events, causes = [], [], [], []
    for k in range(len(episodes.dark_start)):
        s = int(episodes.dark_signature[k])
        start, end = int(episodes.dark_start[k]), int(episodes.dark_end[k])
        premise, _ = grid.premises_of_positions(
            episodes.positions[episodes.position_signature == s]
        )
        premise = premise[metered[premise]]
        mine = episodes.episode_signature == s
        began = _cause_at(episodes, mine, episodes.episode_start == start)
        ended = _cause_at(episodes, mine, episodes.episode_end == end)
        for event, t, cause in (("last_gasp", start, began), ("power_restored", end, ended)):
            sent = premise[rng.random(len(premise)) < spec.delivery]
            ts.append(np.full(len(sent), t + offset, dtype=np.int64))
            premises.append(sent)
            events.append(np.full(len(sent), event, dtype="<U14"))
            causes.append(np.full(len(sent), cause, dtype=np.int64))
    return Meters(_cat(ts), _cat(premises), np.concatenate(events), _cat(causes))


def account_identities(
    grid: Grid, customers: pd.DataFrame | None, premise: IntArray, slot: IntArray
) -> tuple[list[str | None], list[str | None]]:
    """(account, phone) of caller ``slot`` at each premise, None where the table has none.

    Slot k is the k-th account of the premise in table order; a phone shared by several
    accounts is not offered (the caller could not be told apart by it).
    """
    n = len(premise)
    if customers is None or len(customers) == 0 or n == 0:
        return [None] * n, [None] * n
    index = grid.topology.premise_index
    table = customers.assign(_p=customers["premise"].map(index)).dropna(subset=["_p"])
    table = table.astype({"_p": np.int64}).sort_values("_p", kind="stable")
    phones = table["phone"].where(~table["phone"].duplicated(keep=False), None)
    p_of = table["_p"].to_numpy()
    first = np.searchsorted(p_of, premise, side="left")
    count = np.searchsorted(p_of, premise, side="right") - first
    row = np.where(slot < count, first + slot, -1)
    accounts = table["account"].astype(str).to_numpy()
    phone_values = phones.to_numpy()
    acc = [str(accounts[r]) if r >= 0 else None for r in row.tolist()]
    ph = [
        str(phone_values[r]) if r >= 0 and isinstance(phone_values[r], str) else None
        for r in row.tolist()
    ]
    return acc, ph


def _cause_at(episodes: Episodes, mine: npt.NDArray[np.bool_], at: npt.NDArray[np.bool_]) -> int:
    rows = np.flatnonzero(mine & at)
    return int(episodes.episode_cause[rows[0]]) if len(rows) else -1


def outage_kinds(spec: CallSpec, rng: np.random.Generator, n: int) -> npt.NDArray[np.str_]:
    """What ``n`` outage calls say: hazards (wire_down, fire), partial_power or no_power."""
    u = rng.random(n)
    fire = rng.random(n) < spec.fire_share
    partial = rng.random(n) < spec.partial_share
    kind = np.where(partial, "partial_power", "no_power").astype("<U13")
    hazard = u < spec.hazard_share
    kind[hazard] = np.where(fire[hazard], "fire", "wire_down")
    return kind


def seconds(minutes: npt.NDArray[np.float64]) -> IntArray:
    """Whole seconds, at least one: a report never shares its second with its cause."""
    return np.maximum(1, np.ceil(minutes * MINUTE)).astype(np.int64)


def _cat(parts: list[IntArray]) -> IntArray:
    return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, dtype=np.int64)
