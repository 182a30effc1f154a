"""What de-energises what: the storm's ground truth, derived from the topology alone.

`Grid` answers the few questions the generator and the scorer ask of a `grid.topology.Topology`:

* which device opens for a fault on a conductor section: the nearest upstream
  *fault-interrupting* device (`INTERRUPTING_KINDS`), never a manual switch or a tie;
* which service transformers an open asset de-energises. Devices are numbered in depth-first
  preorder and transformers sorted by the preorder of the device that feeds them, so the
  transformers below any device are one contiguous range of *positions*: "everything below"
  is two integers, and a million-customer network stays array work;
* which devices feed a whole feeder (the head breaker and any device above all of its
  premises, such as a substation relay).

An *asset* is one integer: a device number ``d`` or ``n_devices + t`` for service transformer
``t``, so a fault's "true asset" and an incident's device live in one array.

`power_episodes` turns a set of outages (asset, start, end, in whole seconds) into what each
affected transformer position lives through: intervals without power, cut into *episodes*
that each have one cause — the outage that de-energised the premise when power went, or, when
that cause is restored while another open device still keeps the premise dark, the topmost
outage still open (customers told "power is back" who are still out call again).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from grid.topology import NO_DEVICE, Topology
from scenarios.spec import INTERRUPTING_KINDS

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class Grid:
    """Precomputed tree views over one topology (see the module docstring)."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        n_dev = len(topology.device_ids)
        self.n_devices = n_dev
        self.depth = np.array([len(c) for c in topology.device_chain], dtype=np.int64)
        self.preorder, self.subtree_size = _preorder(topology)
        # Nearest fault-interrupting device at or above each device (parents come first in
        # preorder, so one pass in that order sees every parent before its children).
        interrupter = np.full(n_dev, NO_DEVICE, dtype=np.int64)
        order = np.argsort(self.preorder, kind="stable")
        for d in order.tolist():
            if self.preorder[d] < 0:
                continue  # not energised (a normally-open tie)
            if topology.device_kind[d] in INTERRUPTING_KINDS:
                interrupter[d] = d
            elif topology.device_parent[d] != NO_DEVICE:
                interrupter[d] = interrupter[topology.device_parent[d]]
        self.interrupter = interrupter

        td = np.asarray(topology.transformer_device, dtype=np.int64)
        fed = td != NO_DEVICE
        key = np.where(fed, self.preorder[np.where(fed, td, 0)], np.iinfo(np.int64).max)
        #: transformers in position order; unfed transformers sort last and are never covered
        self.position_transformer = np.argsort(key, kind="stable").astype(np.int64)
        self.transformer_position = np.empty_like(self.position_transformer)
        self.transformer_position[self.position_transformer] = np.arange(len(td))
        self.transformer_fed = fed
        sorted_key = key[self.position_transformer]
        pre = self.preorder
        self.device_lo = np.searchsorted(sorted_key, pre, side="left").astype(np.int64)
        self.device_hi = np.searchsorted(sorted_key, pre + self.subtree_size, side="left").astype(
            np.int64
        )
        self.device_lo[pre < 0] = 0
        self.device_hi[pre < 0] = 0
        self.position_customers = topology.transformer_customers[self.position_transformer]
        # premises grouped by transformer (CSR), for "every premise at these positions"
        pt = np.asarray(topology.premise_transformer, dtype=np.int64)
        self._premise_order = np.argsort(pt, kind="stable").astype(np.int64)
        self._premise_start = np.zeros(len(td) + 1, dtype=np.int64)
        np.cumsum(np.bincount(pt, minlength=len(td)), out=self._premise_start[1:])

        heads = [h for h in topology.feeder_head if h != NO_DEVICE]
        whole = np.zeros(n_dev, dtype=bool)
        premises = topology.device_premises
        for head in heads:
            for d in topology.devices_below(head):
                if premises[d] == premises[head]:
                    whole[d] = True
        #: devices that feed every premise of their feeder
        self.whole_feeder = whole

    # -- assets ---------------------------------------------------------------------------

    def transformer_asset(self, transformer: int) -> int:
        """The asset number of service transformer ``transformer``."""
        return self.n_devices + transformer

    def asset_of(self, asset_id: str) -> int | None:
        """The asset number of a device or transformer id, or None for an unknown id."""
        topo = self.topology
        d = topo.device_index.get(asset_id)
        if d is not None:
            return d
        t = topo.transformer_index.get(asset_id)
        return None if t is None else self.n_devices + t

    def asset_id(self, asset: int) -> str:
        """The id of asset number ``asset``."""
        topo = self.topology
        if asset < self.n_devices:
            return topo.device_ids[asset]
        return topo.transformer_ids[asset - self.n_devices]

    def asset_kind(self, asset: int) -> str:
        """The device kind, or ``transformer``."""
        return self.topology.device_kind[asset] if asset < self.n_devices else "transformer"

    def asset_depth(self, asset: int) -> int:
        """Devices from the asset up to its feeder head (a transformer is one below its device)."""
        if asset < self.n_devices:
            return int(self.depth[asset])
        device = self.topology.transformer_device[asset - self.n_devices]
        return int(self.depth[device]) + 1

    def asset_range(self, asset: int) -> tuple[int, int]:
        """The transformer positions ``[lo, hi)`` the asset de-energises when open."""
        if asset < self.n_devices:
            return int(self.device_lo[asset]), int(self.device_hi[asset])
        t = asset - self.n_devices
        if not self.transformer_fed[t]:
            return 0, 0
        p = int(self.transformer_position[t])
        return p, p + 1

    def asset_ranges(self, assets: IntArray) -> tuple[IntArray, IntArray]:
        """`asset_range` for many assets at once."""
        assets = np.asarray(assets, dtype=np.int64)
        is_dev = assets < self.n_devices
        d = np.where(is_dev, assets, 0)
        t = np.where(is_dev, 0, assets - self.n_devices)
        tp = self.transformer_position[t]
        fed = self.transformer_fed[t]
        lo = np.where(is_dev, self.device_lo[d], np.where(fed, tp, 0))
        hi = np.where(is_dev, self.device_hi[d], np.where(fed, tp + 1, 0))
        return lo.astype(np.int64), hi.astype(np.int64)

    def is_below(self, asset: int, ancestor: int) -> bool:
        """True when ``asset`` (device or transformer) lies strictly below device ``ancestor``."""
        if ancestor >= self.n_devices or asset == ancestor or self.preorder[ancestor] < 0:
            return False
        if asset < self.n_devices:
            device, strict = asset, True
        else:
            device, strict = self.topology.transformer_device[asset - self.n_devices], False
            if device == NO_DEVICE:
                return False
        pre, a = self.preorder, ancestor
        low = pre[a] + 1 if strict else pre[a]
        return bool(low <= pre[device] < pre[a] + self.subtree_size[a])

    def section_interrupter(self, section: int) -> int:
        """The device that opens for a fault on ``section`` (NO_DEVICE when none protects it)."""
        device = int(self.topology.section_device[section])
        return NO_DEVICE if device == NO_DEVICE else int(self.interrupter[device])

    def premises_of_positions(self, positions: IntArray) -> tuple[IntArray, IntArray]:
        """Premises fed by the given transformer positions, and the position each sits at."""
        transformers = self.position_transformer[np.asarray(positions, dtype=np.int64)]
        start = self._premise_start
        counts = start[transformers + 1] - start[transformers]
        owner = np.repeat(np.asarray(positions, dtype=np.int64), counts)
        # index of the k-th premise of the j-th transformer: start[t_j] + k
        first = np.repeat(start[transformers] - (np.cumsum(counts) - counts), counts)
        index = np.arange(int(counts.sum()), dtype=np.int64) + first
        return self._premise_order[index], owner


def _preorder(topology: Topology) -> tuple[IntArray, IntArray]:
    """Depth-first preorder number and subtree size of every energised device (-1 / 0 else)."""
    n = len(topology.device_ids)
    pre = np.full(n, -1, dtype=np.int64)
    size = np.zeros(n, dtype=np.int64)
    roots = [
        d for d in range(n) if topology.device_parent[d] == NO_DEVICE and topology.device_chain[d]
    ]
    counter = 0
    order: list[int] = []
    for root in roots:
        stack = [root]
        while stack:
            d = stack.pop()
            pre[d] = counter
            counter += 1
            order.append(d)
            stack.extend(reversed(topology.device_children[d]))
    size[order] = 1
    for d in reversed(order):  # children come after their parent in preorder
        parent = topology.device_parent[d]
        if parent != NO_DEVICE:
            size[parent] += size[d]
    return pre, size


# -- outages -> what each transformer position lives through ---------------------------------


@dataclass(frozen=True)
class Episodes:
    """Per affected transformer position: its dark intervals and the episodes inside them.

    Positions sharing the same set of covering outages share their timeline, so the arrays are
    per *signature* and ``position_signature`` maps each affected position to one.
    ``episode_*`` arrays are parallel (one row per episode); ``episode_cause`` indexes the
    outage list given to `power_episodes`; ``episode_lost`` is True when the episode began
    with the loss of power (False: the cause was restored while another outage kept it dark).
    """

    positions: IntArray
    position_signature: IntArray
    episode_signature: IntArray
    episode_start: IntArray
    episode_end: IntArray
    episode_cause: IntArray
    episode_lost: BoolArray
    dark_signature: IntArray
    dark_start: IntArray
    dark_end: IntArray

    def signature_of(self, positions: IntArray) -> IntArray:
        """Signature of each position, -1 where no outage covers it."""
        positions = np.asarray(positions, dtype=np.int64)
        if len(self.positions) == 0:
            return np.full(len(positions), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.positions, positions), len(self.positions) - 1)
        hit = self.positions[at] == positions
        return np.where(hit, self.position_signature[at], -1)

    def dark_at(self, positions: IntArray, seconds: IntArray) -> BoolArray:
        """Whether each position is without power at the matching time (start <= t < end)."""
        sig = self.signature_of(positions)
        out = np.zeros(len(sig), dtype=bool)
        for k, (s, t) in enumerate(zip(sig.tolist(), np.asarray(seconds).tolist(), strict=True)):
            if s < 0:
                continue
            rows = self.dark_signature == s
            out[k] = bool(np.any((self.dark_start[rows] <= t) & (t < self.dark_end[rows])))
        return out


def power_episodes(grid: Grid, assets: IntArray, starts: IntArray, ends: IntArray) -> Episodes:
    """The dark intervals and episodes of every position some outage covers (module doc)."""
    assets = np.asarray(assets, dtype=np.int64)
    positions, inverse, signatures = cover_signatures(grid, assets)
    depth = asset_depths(grid, assets)
    ep: list[tuple[int, int, int, int, bool]] = []
    dark: list[tuple[int, int, int]] = []
    for s, members in enumerate(signatures):
        for start, end, cause, lost in _timeline(members, starts, ends, depth):
            ep.append((s, start, end, cause, lost))
        for start, end in _dark(members, starts, ends):
            dark.append((s, start, end))
    e = np.array(ep, dtype=np.int64).reshape(-1, 5)
    k = np.array(dark, dtype=np.int64).reshape(-1, 3)
    return Episodes(
        positions=positions,
        position_signature=inverse,
        episode_signature=e[:, 0],
        episode_start=e[:, 1],
        episode_end=e[:, 2],
        episode_cause=e[:, 3],
        episode_lost=e[:, 4].astype(bool),
        dark_signature=k[:, 0],
        dark_start=k[:, 1],
        dark_end=k[:, 2],
    )


def cover_signatures(grid: Grid, assets: IntArray) -> tuple[IntArray, IntArray, list[list[int]]]:
    """Which outages cover which transformer positions, independent of time.

    Returns the covered positions (sorted), each one's signature number, and per signature
    the outages (indices into ``assets``) covering its positions, in ascending order.
    """
    assets = np.asarray(assets, dtype=np.int64)
    lo, hi = grid.asset_ranges(assets)
    n_out = len(assets)
    spans = [np.arange(a, b, dtype=np.int64) for a, b in zip(lo.tolist(), hi.tolist(), strict=True)]
    positions = np.unique(np.concatenate(spans)) if spans else np.empty(0, dtype=np.int64)
    cover = np.zeros((len(positions), max(n_out, 1)), dtype=bool)
    for j, span in enumerate(spans):
        cover[np.searchsorted(positions, span), j] = True
    if len(positions):
        rows, inverse = np.unique(cover, axis=0, return_inverse=True)
    else:
        rows, inverse = np.zeros((0, max(n_out, 1)), dtype=bool), np.empty(0, np.int64)
    members = [np.flatnonzero(row).tolist() for row in rows]
    return positions, np.asarray(inverse, dtype=np.int64).reshape(-1), members


def asset_depths(grid: Grid, assets: IntArray) -> IntArray:
    """`Grid.asset_depth` of each asset."""
    return np.array([grid.asset_depth(int(a)) for a in assets], dtype=np.int64)


def timeline(
    members: list[int], starts: IntArray, ends: IntArray, depth: IntArray
) -> list[tuple[int, int, int, bool]]:
    """The episodes (start, end, cause, lost) of positions covered by ``members`` (module
    docstring); an outage not yet repaired can be given a very large end."""
    return _timeline(members, starts, ends, depth)


def dark_spans(members: list[int], starts: IntArray, ends: IntArray) -> list[tuple[int, int]]:
    """The dark intervals of positions covered by ``members``: the union of their outages."""
    return _dark(members, starts, ends)


def _dark(members: list[int], starts: IntArray, ends: IntArray) -> list[tuple[int, int]]:
    """Union of the members' [start, end) intervals."""
    spans = sorted((int(starts[m]), int(ends[m])) for m in members if ends[m] > starts[m])
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _timeline(
    members: list[int], starts: IntArray, ends: IntArray, depth: IntArray
) -> list[tuple[int, int, int, bool]]:
    """Episodes (start, end, cause, lost) of one signature; see the module docstring."""
    times = sorted({int(starts[m]) for m in members} | {int(ends[m]) for m in members})
    episodes: list[tuple[int, int, int, bool]] = []
    cause = -1
    began = 0
    lost = False
    for t in times:
        open_now = [m for m in members if starts[m] <= t < ends[m]]
        if not open_now:
            if cause >= 0:
                episodes.append((began, t, cause, lost))
                cause = -1
            continue
        if cause < 0:  # power goes: the topmost of what opened now is what the customer saw
            cause, began, lost = min(open_now, key=lambda m: depth[m]), t, True
        elif cause not in open_now:  # the cause is repaired but the premise is still dark
            episodes.append((began, t, cause, lost))
            cause, began, lost = min(open_now, key=lambda m: depth[m]), t, False
    return episodes


def dark_premises(grid: Grid, episodes: Episodes) -> tuple[IntArray, ...]:
    """Every premise's dark intervals: (premise, start, end, began, ended), one row per
    premise and interval; ``began`` is the outage that took its power, ``ended`` the one
    whose repair gave it back (the last still open above it)."""
    rows: list[tuple[IntArray, int, int, int, int]] = []
    for k in range(len(episodes.dark_start)):
        s = int(episodes.dark_signature[k])
        start, end = int(episodes.dark_start[k]), int(episodes.dark_end[k])
        premise, _ = grid.premises_of_positions(
            episodes.positions[episodes.position_signature == s]
        )
        mine = episodes.episode_signature == s
        began = np.flatnonzero(mine & (episodes.episode_start == start))
        ended = np.flatnonzero(mine & (episodes.episode_end == end))
        rows.append(
            (
                premise,
                start,
                end,
                int(episodes.episode_cause[began[0]]) if len(began) else -1,
                int(episodes.episode_cause[ended[-1]]) if len(ended) else -1,
            )
        )
    n = [len(r[0]) for r in rows]
    premises = np.concatenate([r[0] for r in rows]) if rows else np.empty(0, np.int64)
    columns = [np.repeat(np.array([r[j] for r in rows], dtype=np.int64), n) for j in (1, 2, 3, 4)]
    return (premises.astype(np.int64), *columns)
