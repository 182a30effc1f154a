"""Where and when the storm's faults happen: placement on the feeder and timing.

A *section fault* picks a conductor section of the feeder uniformly (long, branchy laterals
have more sections, so they are hit more often) and opens the section's nearest upstream
fault-interrupting device; a *transformer fault* picks one of the feeder's service
transformers uniformly and takes out just its premises. Two faults of one storm never share an
asset: a second fault behind an already-open device would be invisible, and the scorer could
not tell the two apart.

A nested pair is a parent section fault at a device that has something to open below it and a
child fault strictly below it (an interrupting device if there is one, else a transformer)
that starts while the parent is open and is restored before or after it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from grid.topology import NO_DEVICE
from scenarios.physics import Grid
from scenarios.spec import INTERRUPTING_KINDS, StormSpec

MINUTE = 60


@dataclass(frozen=True)
class Drawn:
    """One fault in index form: asset number, where it is, and [start, end) in seconds."""

    asset: int
    kind: str  # "section" | "transformer"
    location: int  # section or transformer number
    start: int
    end: int
    nested_under: int | None = None  # index of the parent in the drawn list


def pick_feeder(grid: Grid, spec: StormSpec, rng: np.random.Generator) -> int:
    """The storm's feeder: the one named in the spec, else one with customers, by the seed."""
    topo = grid.topology
    if spec.feeder is not None:
        if spec.feeder not in topo.feeder_index:
            raise ValueError(f"feeder: no feeder {spec.feeder!r} in the network")
        return topo.feeder_index[spec.feeder]
    served = [
        f
        for f, head in enumerate(topo.feeder_head)
        if head != NO_DEVICE and topo.device_customers[head] > 0
    ]
    if not served:
        raise ValueError("the network has no feeder with customers")
    return int(served[int(rng.integers(len(served)))])


class _Candidates:
    """What can fail on one feeder, and which assets are already taken."""

    def __init__(self, grid: Grid, feeder: int, allow_whole_feeder: bool) -> None:
        topo = grid.topology
        self.grid = grid
        sections = np.flatnonzero(topo.section_feeder == feeder)
        self.sections_of: dict[int, list[int]] = defaultdict(list)
        for s in sections.tolist():
            asset = grid.section_interrupter(s)
            if asset == NO_DEVICE or topo.device_premises[asset] == 0:
                continue  # unprotected or feeds nobody: nothing observable would happen
            if grid.whole_feeder[asset] and not allow_whole_feeder:
                continue
            self.sections_of[asset].append(s)
        self.transformers = [
            t
            for t, f in enumerate(topo.transformer_feeder)
            if f == feeder and grid.transformer_fed[t] and topo.transformer_customers[t] > 0
        ]
        self.whole_feeder_sections: dict[int, list[int]] = defaultdict(list)
        for s in sections.tolist():
            asset = grid.section_interrupter(s)
            if asset != NO_DEVICE and grid.whole_feeder[asset]:
                self.whole_feeder_sections[asset].append(s)
        self.used: set[int] = set()

    def section_fault(
        self, rng: np.random.Generator, assets: list[int] | None = None
    ) -> tuple[int, int] | None:
        """(asset, section) for a fault on a uniformly drawn section whose asset is free."""
        pool = self.sections_of if assets is None else {a: self._sections(a) for a in assets}
        free = [a for a in sorted(pool) if a not in self.used and pool[a]]
        if not free:
            return None
        weights = np.array([len(pool[a]) for a in free], dtype=np.float64)
        asset = free[int(rng.choice(len(free), p=weights / weights.sum()))]
        section = pool[asset][int(rng.integers(len(pool[asset])))]
        self.used.add(asset)
        return asset, section

    def _sections(self, asset: int) -> list[int]:
        return self.sections_of.get(asset) or self.whole_feeder_sections.get(asset, [])

    def transformer_fault(
        self, rng: np.random.Generator, below: int | None = None
    ) -> tuple[int, int] | None:
        """(asset, transformer) for a uniformly drawn free transformer (below a device)."""
        grid = self.grid
        free = [
            t
            for t in self.transformers
            if grid.transformer_asset(t) not in self.used
            and (below is None or grid.is_below(grid.transformer_asset(t), below))
        ]
        if not free:
            return None
        t = free[int(rng.integers(len(free)))]
        self.used.add(grid.transformer_asset(t))
        return grid.transformer_asset(t), t

    def children(self, parent: int) -> list[int]:
        """Free interrupting devices strictly below ``parent`` that feed someone."""
        topo = self.grid.topology
        return [
            d
            for d in topo.devices_below(parent)[1:]
            if topo.device_kind[d] in INTERRUPTING_KINDS
            and 0 < topo.device_premises[d] < topo.device_premises[parent]
            and d not in self.used
        ]

    def parents(self) -> list[int]:
        """Devices a nested pair can start from: ones with an interrupting device below them
        first, else ones with more than one transformer below them, else a whole-feeder device
        (a feeder whose only protection is its head breaker)."""
        topo = self.grid.topology
        free = [a for a in sorted(self.sections_of) if a not in self.used]
        with_devices = [a for a in free if self.children(a)]
        if with_devices:
            return with_devices
        with_transformers = [a for a in free if topo.device_transformer_count[a] > 1]
        if with_transformers:
            return with_transformers
        return [a for a in sorted(self.whole_feeder_sections) if a not in self.used]


def draw_faults(grid: Grid, feeder: int, spec: StormSpec, rng: np.random.Generator) -> list[Drawn]:
    """The storm's faults: the primaries in start order, then each nested child."""
    pool = _Candidates(grid, feeder, spec.allow_whole_feeder)
    name = grid.topology.feeder_ids[feeder]
    n = spec.faults
    if spec.spacing == "even" and n > 1:
        offsets = np.linspace(0.0, spec.window_minutes, n)
    else:
        offsets = np.sort(rng.uniform(0.0, spec.window_minutes, n))
    starts = np.round(offsets * MINUTE).astype(np.int64)
    durations = np.maximum(
        MINUTE, np.round(spec.restore_minutes.sample(rng, n) * MINUTE).astype(np.int64)
    )
    parents = sorted(rng.permutation(n)[: spec.nested.count].tolist())
    placed: dict[int, tuple[int, str, int]] = {}
    for i in parents:  # nested parents first: they need the scarcest places
        got = pool.section_fault(rng, pool.parents())
        if got is None:
            raise ValueError(f"feeder {name}: no place for a nested pair")
        placed[i] = (got[0], "section", got[1])
    children = {i: _child_place(pool, placed[i][0], rng) for i in parents}
    for i in range(n):
        if i not in placed:
            placed[i] = _primary_place(pool, spec.section_share, rng, name)
    drawn = [Drawn(*placed[i], int(starts[i]), int(starts[i] + durations[i])) for i in range(n)]
    for i in parents:
        drawn.append(_nested_child(drawn[i], i, children[i], pool, spec, rng))
    return drawn


def _primary_place(
    pool: _Candidates, section_share: float, rng: np.random.Generator, feeder: str
) -> tuple[int, str, int]:
    """(asset, kind, location) of one primary fault; a section fault with nowhere free to go
    becomes a transformer fault."""
    if rng.random() < section_share:
        got = pool.section_fault(rng)
        if got is not None:
            return got[0], "section", got[1]
    got = pool.transformer_fault(rng)
    if got is None:
        raise ValueError(f"feeder {feeder}: fewer free assets than faults")
    return got[0], "transformer", got[1]


def _child_place(pool: _Candidates, parent: int, rng: np.random.Generator) -> tuple[int, str, int]:
    """(asset, "device" | "transformer", location) below ``parent``: an interrupting device
    if there is a free one, else a transformer."""
    below = pool.children(parent)
    if below:
        child = below[int(rng.integers(len(below)))]
        pool.used.add(child)
        return child, "device", child
    got = pool.transformer_fault(rng, below=parent)
    if got is None:
        raise ValueError(f"{pool.grid.asset_id(parent)}: nothing below it to nest a fault in")
    return got[0], "transformer", got[1]


def _nested_child(
    parent: Drawn,
    index: int,
    place: tuple[int, str, int],
    pool: _Candidates,
    spec: StormSpec,
    rng: np.random.Generator,
) -> Drawn:
    """The child fault: it blows while the parent is open and is repaired before or after."""
    nested = spec.nested
    asset, how, where = place
    lag = int(np.round(nested.lag_minutes.sample(rng, 1)[0] * MINUTE))
    start = parent.start + min(lag, (parent.end - parent.start) // 2)
    order = nested.restore_order
    if order == "random":
        order = "parent_first" if rng.random() < 0.5 else "child_first"
    if order == "parent_first":
        extra = int(np.round(nested.extra_minutes.sample(rng, 1)[0] * MINUTE))
        end = parent.end + max(MINUTE, extra)
    else:  # repaired while the parent is still open: nobody notices
        end = max(start + 1, int(rng.integers(start + (parent.end - start) // 4, parent.end)))
    if how == "transformer":
        return Drawn(asset, "transformer", where, start, end, nested_under=index)
    own = pool.sections_of.get(asset, [])
    # a device with no section of its own below it (a fuse right above a transformer) faults
    # at its own terminals: location -1 means "the device itself"
    location = own[int(rng.integers(len(own)))] if own else -1
    return Drawn(asset, "section", location, start, end, nested_under=index)
