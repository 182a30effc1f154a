"""Score the engine's answers for one storm against its ground truth.

Inputs: the truth (`scenarios.truth.Truth`), the network's topology, the engine's STATE.json
dict and, optionally, the states taken just before each fault's crew restore and the domain
events as dicts (`outage.events.to_dict`). Nothing of the engine is imported.

Which state judges a fault. After a crew restore any engine can read the answer off the
signal, so a fault is judged on the state just before its restore signal was applied
(``before_restore[fault id]``), and on the final state when there is none (restores off).

Per storm:

exact share
    Faults whose calls all end in exactly one incident, and that incident is at the fault's
    true asset (device or transformer). Only faults with at least one call are judged; a call
    is "held" by an incident that lists it (merged incidents are not listed in STATE.json,
    cancelled ones are not counted). *Equivalent*: exact, or at an asset that de-energises the
    very same premises (series devices, which no call or meter can tell apart). ``multi_*``:
    exact, restricted to faults with reports (calls or delivered last gasps) from two or more
    distinct service transformers.
tickets per outage
    Incidents of the final state (not merged, not cancelled) that hold at least one call of a
    true outage, divided by the faults with at least one call. Noise is counted apart: an
    incident holding only noise calls is a ``noise_tickets`` (a single call from a lit premise
    looks exactly like a one-premise transformer outage, so no engine can avoid all of them;
    they are reported per storm, not folded into the ratio).
customer-minutes
    An incident shows every premise below its device out while it is shown (a service drop,
    which names one premise under its transformer, shows that premise alone): from the events,
    from its prediction until it ends (restored, merged, cancelled...) at whatever device it
    pointed to at each moment; without events, at its final device from ``started`` to
    ``restored`` (or the horizon). Truly out: the union of the truth outages of each premise.
    Wrongly out: shown out while having power. Both are customer-minutes within
    ``[truth.start, truth.horizon_end]``; ``wrongly_out_noise_cmin`` is the part shown by the
    noise tickets.
minutes to correct
    From a fault's first report (call or delivered last gasp) to the first instant, before its
    restoration, at which an incident shown at the true asset holds every call of the fault
    received so far (needs the events).
whole-feeder false predictions
    Incidents shown (for a positive time) at a device that feeds the whole feeder while no
    such device is truly open.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from grid.topology import Topology
from scenarios.physics import Grid
from scenarios.timeline import Shown, Timeline, View, service_key
from scenarios.truth import NOISE, Fault, Truth, parse_time

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class FaultScore:
    """How one fault came out."""

    fault: str
    asset: str
    calls: int
    transformers: int  # distinct transformers with a call or a delivered last gasp
    exact: bool | None  # None: the fault has no calls to judge
    equivalent: bool | None  # exact, or at an asset that de-energises the very same premises
    holders: dict[str, int]  # device of each incident holding its calls -> calls ("-": none)
    minutes_to_correct: float | None
    judged_on: str  # "before_restore" | "final"


@dataclass
class StormScore:
    """The per-storm figures (see the module docstring)."""

    faults: int
    faults_with_calls: int
    exact: int
    equivalent: int
    multi_faults: int
    multi_exact: int
    multi_minutes_to_correct: list[float]  # the same as minutes_to_correct, >= 2 transformers
    tickets: int  # incidents holding a call of a true outage
    noise_tickets: int  # incidents holding only noise calls
    truly_out_cmin: float
    wrongly_out_cmin: float
    #: Truly out while no incident showed the customer out (an outage shown too small — a
    #: service drop where the transformer was out — or not yet, or not at all).
    missed_out_cmin: float
    wrongly_out_noise_cmin: float  # the part shown by incidents holding only noise calls
    whole_feeder_false: int
    minutes_to_correct: list[float]
    never_correct: int
    per_fault: list[FaultScore] = field(default_factory=list)

    @property
    def exact_share(self) -> float | None:
        """Share of faults with calls that came out exact."""
        return self.exact / self.faults_with_calls if self.faults_with_calls else None

    @property
    def equivalent_share(self) -> float | None:
        """Share exact or at an asset with exactly the same premises below it."""
        return self.equivalent / self.faults_with_calls if self.faults_with_calls else None

    @property
    def multi_exact_share(self) -> float | None:
        """The same for faults reported from >= 2 transformers."""
        return self.multi_exact / self.multi_faults if self.multi_faults else None

    @property
    def tickets_per_outage(self) -> float | None:
        """Tickets holding calls per fault with calls."""
        return self.tickets / self.faults_with_calls if self.faults_with_calls else None

    @property
    def wrongly_out_ratio(self) -> float | None:
        """Wrongly-out over truly-out customer-minutes."""
        return self.wrongly_out_cmin / self.truly_out_cmin if self.truly_out_cmin else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the derived shares."""
        data = asdict(self)
        data.update(
            exact_share=self.exact_share,
            equivalent_share=self.equivalent_share,
            multi_exact_share=self.multi_exact_share,
            tickets_per_outage=self.tickets_per_outage,
            wrongly_out_ratio=self.wrongly_out_ratio,
        )
        return data


def score_storm(
    network: Topology | Grid,
    truth: Truth,
    final: Mapping[str, Any],
    *,
    before_restore: Mapping[str, Mapping[str, Any]] | None = None,
    events: Sequence[dict[str, Any]] | None = None,
) -> StormScore:
    """Score one storm (module docstring)."""
    grid = network if isinstance(network, Grid) else Grid(network)
    evidence = _Evidence(truth)
    correct_at: dict[str, datetime] = {}
    shown = (
        _watch(truth, evidence, events, correct_at)
        if events is not None
        else _state_intervals(final)
    )
    holders: dict[int, dict[str, list[tuple[str, str]]]] = {}  # by id(state): states repeat
    per_fault = []
    for fault in truth.faults:
        state = (before_restore or {}).get(fault.id)
        judged_on = "final" if state is None else "before_restore"
        state = final if state is None else state
        if id(state) not in holders:
            holders[id(state)] = _holders(state)
        per_fault.append(
            _judge(grid, fault, evidence, holders[id(state)], correct_at.get(fault.id), judged_on)
        )

    judged = [f for f in per_fault if f.exact is not None]
    multi = [f for f in judged if f.transformers >= 2]
    tickets, noise_tickets = _tickets(final, evidence.noise)
    truly, wrongly, missed = _customer_minutes(grid, truth, shown)
    _, wrongly_inferred, _ = _customer_minutes(
        grid, truth, [i for i in shown if i.incident not in noise_tickets]
    )
    corrected = [f.minutes_to_correct for f in judged if f.minutes_to_correct is not None]
    return StormScore(
        faults=len(truth.faults),
        faults_with_calls=len(judged),
        exact=sum(1 for f in judged if f.exact),
        equivalent=sum(1 for f in judged if f.equivalent),
        multi_faults=len(multi),
        multi_exact=sum(1 for f in multi if f.exact),
        multi_minutes_to_correct=[
            f.minutes_to_correct for f in multi if f.minutes_to_correct is not None
        ],
        tickets=tickets,
        noise_tickets=len(noise_tickets),
        truly_out_cmin=truly,
        wrongly_out_cmin=wrongly,
        missed_out_cmin=missed,
        wrongly_out_noise_cmin=wrongly - wrongly_inferred,
        whole_feeder_false=_whole_feeder_false(grid, truth, shown),
        minutes_to_correct=corrected,
        never_correct=len(judged) - len(corrected) if events is not None else 0,
        per_fault=per_fault,
    )


class _Evidence:
    """What the truth says was reported, per fault."""

    def __init__(self, truth: Truth) -> None:
        self.noise: set[str] = set()
        #: fault id -> [(ts, call id)] in time order
        self.calls: defaultdict[str, list[tuple[datetime, str]]] = defaultdict(list)
        #: fault id -> transformers with a call or a delivered last gasp
        self.transformers: defaultdict[str, set[str]] = defaultdict(set)
        self.first_report: dict[str, datetime] = {}
        for call in truth.calls:
            if call.fault == NOISE:
                self.noise.add(call.id)
            else:
                self.calls[call.fault].append((call.ts, call.id))
        for calls in self.calls.values():
            calls.sort()
        gasps = (m for m in truth.meters if m.kind == "last_gasp")
        for report in (*truth.calls, *gasps):
            if report.fault == NOISE:
                continue
            self.transformers[report.fault].add(report.transformer)
            first = self.first_report.get(report.fault)
            if first is None or report.ts < first:
                self.first_report[report.fault] = report.ts


def _judge(
    grid: Grid,
    fault: Fault,
    evidence: _Evidence,
    held: Mapping[str, list[tuple[str, str]]],
    correct_at: datetime | None,
    judged_on: str,
) -> FaultScore:
    """One fault against the state it is judged on (``held``: call -> incidents listing it)."""
    mine = [c for _, c in evidence.calls.get(fault.id, [])]
    holding: Counter[str] = Counter()
    incidents: set[str] = set()
    for call in mine:
        owners = held.get(call, [])
        if not owners:
            holding["-"] += 1
        for incident, device in owners:
            holding[device] += 1
            incidents.add(incident)
    exact: bool | None = None
    equivalent: bool | None = None
    if mine:
        one = len(incidents) == 1 and all(len(held.get(c, [])) == 1 for c in mine)
        devices = set(holding) - {"-"}
        exact = one and devices == {fault.asset}
        equivalent = exact or (
            one and len(devices) == 1 and _same_area(grid, devices.pop(), fault.asset)
        )
    minutes = None
    first = evidence.first_report.get(fault.id)
    if correct_at is not None and first is not None:
        minutes = max(0.0, (correct_at - first).total_seconds() / 60.0)
    return FaultScore(
        fault=fault.id,
        asset=fault.asset,
        calls=len(mine),
        transformers=len(evidence.transformers.get(fault.id, ())),
        exact=exact,
        equivalent=equivalent,
        holders=dict(holding),
        minutes_to_correct=minutes,
        judged_on=judged_on,
    )


def _same_area(grid: Grid, device: str, asset: str) -> bool:
    """Whether two assets de-energise exactly the same transformers (series devices: no call
    or meter can tell them apart)."""
    a, b = grid.asset_of(device), grid.asset_of(asset)
    if a is None or b is None:
        return False
    return grid.asset_range(a) == grid.asset_range(b)


def _listed(state: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Incidents that count: listed (merged ones are not) and not cancelled."""
    return [i for i in state.get("incidents", []) if i.get("status") != "cancelled"]


def _holders(state: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """call id -> [(incident, device)] of the incidents listing it (calls or hazards)."""
    held: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)
    for incident in _listed(state):
        premise = incident.get("premise")
        where = service_key(premise) if premise else incident["device"]
        for call in {*incident.get("calls", []), *incident.get("hazards", [])}:
            held[call].append((incident["id"], where))
    return dict(held)


def _tickets(final: Mapping[str, Any], noise: set[str]) -> tuple[int, set[str]]:
    """(incidents holding an outage call, ids of the incidents holding only noise calls)."""
    tickets = 0
    noise_only: set[str] = set()
    for incident in _listed(final):
        calls = {*incident.get("calls", []), *incident.get("hazards", [])}
        if calls and calls <= noise:
            noise_only.add(incident["id"])
        elif calls:
            tickets += 1
    return tickets, noise_only


def _state_intervals(state: Mapping[str, Any]) -> list[Shown]:
    """Without events: each incident at its final device from started to restored."""
    out = []
    for incident in _listed(state):
        if incident.get("planned") or not incident.get("started"):
            continue
        restored = incident.get("restored")
        out.append(
            Shown(
                incident["id"],
                incident["device"],
                parse_time(incident["started"]),
                parse_time(restored) if restored else None,
                incident.get("premise"),
            )
        )
    return out


def _watch(
    truth: Truth,
    evidence: _Evidence,
    events: Sequence[dict[str, Any]],
    correct_at: dict[str, datetime],
) -> list[Shown]:
    """Run the timeline; note when each fault first became correctly predicted."""
    pending = {f.id: f for f in truth.faults if evidence.calls.get(f.id)}
    times = {fid: [t for t, _ in evidence.calls[fid]] for fid in pending}
    ids = {fid: [c for _, c in evidence.calls[fid]] for fid in pending}

    def check(now: datetime, view: View) -> None:
        for fid in list(pending):
            fault = pending[fid]
            if now >= fault.restore:
                del pending[fid]  # judged before its repair only
                continue
            if now < evidence.first_report[fid]:
                continue
            arrived = bisect.bisect_right(times[fid], now)
            for incident in view.incidents_at(fault.asset):
                calls = itertools.islice(ids[fid], arrived)
                if all(view.call_incident.get(c) == incident for c in calls):
                    correct_at[fid] = now
                    del pending[fid]
                    break

    return Timeline(events).run(check)


def _seconds(truth: Truth, ts: datetime | None) -> float:
    end = truth.horizon_end if ts is None else min(ts, truth.horizon_end)
    return max(0.0, (end - truth.start).total_seconds())


def _expand(grid: Grid, assets: IntArray) -> tuple[IntArray, IntArray]:
    """(interval row, position) for every transformer position each asset covers."""
    lo, hi = grid.asset_ranges(assets)
    n = np.maximum(hi - lo, 0)
    row = np.repeat(np.arange(len(assets), dtype=np.int64), n)
    offset = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
    return row, np.repeat(lo, n) + offset


def _customer_minutes(grid: Grid, truth: Truth, shown: list[Shown]) -> tuple[float, float, float]:
    """(truly out, wrongly shown out, truly out but not shown) customer-minutes; one sweep
    over (position, time), service drops apart."""
    assets, starts, ends, which = [], [], [], []
    for fault in truth.faults:
        asset = grid.asset_of(fault.asset)
        if asset is not None:
            assets.append(asset)
            starts.append(_seconds(truth, fault.start))
            ends.append(_seconds(truth, fault.restore))
            which.append(1)
    service = [i for i in shown if i.premise is not None]
    for interval in shown:
        asset = grid.asset_of(interval.device)
        if asset is None or interval.premise is not None:
            continue  # not an asset of this network (nothing it could show out), or one
            # premise's service drop (counted apart below)
        assets.append(asset)
        starts.append(_seconds(truth, max(interval.start, truth.start)))
        ends.append(_seconds(truth, interval.end))
        which.append(0)
    if not assets:
        return 0.0, 0.0, 0.0
    wrongly_service, shown_service = _service_minutes(
        grid, truth, service, assets, starts, ends, which
    )
    row, position = _expand(grid, np.asarray(assets, dtype=np.int64))
    s, e, w = (np.asarray(v)[row] for v in (starts, ends, which))
    keep = e > s
    position, s, e, w = position[keep], s[keep], e[keep], w[keep]
    pos = np.concatenate([position, position])
    t = np.concatenate([s, e]).astype(np.float64)
    delta = np.concatenate([np.ones(len(s)), -np.ones(len(e))])
    kind = np.concatenate([w, w])
    order = np.lexsort((t, pos))
    pos, t, delta, kind = pos[order], t[order], delta[order], kind[order]
    shown_count = np.cumsum(np.where(kind == 0, delta, 0.0))
    true_count = np.cumsum(np.where(kind == 1, delta, 0.0))
    same = np.zeros(len(pos), dtype=bool)
    same[:-1] = pos[1:] == pos[:-1]
    duration = np.zeros(len(pos))
    duration[:-1] = np.where(same[:-1], t[1:] - t[:-1], 0.0)
    customers = grid.position_customers[pos].astype(np.float64)
    truly = float(np.sum(duration * customers * (true_count > 0.5))) / 60.0
    wrongly = float(np.sum(duration * customers * ((shown_count > 0.5) & (true_count < 0.5))))
    missed = float(np.sum(duration * customers * ((shown_count < 0.5) & (true_count > 0.5))))
    return truly, wrongly / 60.0 + wrongly_service, missed / 60.0 - shown_service


def _service_minutes(
    grid: Grid,
    truth: Truth,
    service: list[Shown],
    assets: list[int],
    starts: list[float],
    ends: list[float],
    which: list[int],
) -> tuple[float, float]:
    """Customer-minutes service drops (one premise shown out each) showed their premise out
    (wrongly: while no true outage covered it and no whole-asset incident already showed it;
    rightly: while a true outage covered it)."""
    topo = grid.topology
    out = shown_right = 0.0
    for interval in service:
        premise = topo.premise_index.get(interval.premise or "")
        if premise is None:
            continue
        a = _seconds(truth, max(interval.start, truth.start))
        b = _seconds(truth, interval.end)
        if b <= a:
            continue
        position = int(grid.transformer_position[topo.premise_transformer[premise]])
        covered, true = [], []
        for asset, s, e, w in zip(assets, starts, ends, which, strict=True):
            lo, hi = grid.asset_range(asset)
            if lo <= position < hi and e > s:
                covered.append((s, e))  # truly out, or already shown out by a whole asset
                if w:
                    true.append((s, e))
        customers = float(topo.premise_customers[premise])
        out += (b - a - _covered(sorted(covered), a, b)) / 60.0 * customers
        shown_right += _covered(sorted(true), a, b) / 60.0 * customers
    return out, shown_right


def _whole_feeder_false(grid: Grid, truth: Truth, shown: list[Shown]) -> int:
    """Incidents shown at a whole-feeder device while no such device of its feeder is truly
    open."""
    topo = grid.topology
    feeder_out: defaultdict[str, list[tuple[float, float]]] = defaultdict(list)
    for f in truth.faults:
        if f.whole_feeder:
            feeder_out[f.feeder].append((_seconds(truth, f.start), _seconds(truth, f.restore)))
    count = 0
    for interval in shown:
        asset = grid.asset_of(interval.device)
        if asset is None or asset >= grid.n_devices or not grid.whole_feeder[asset]:
            continue
        feeder = topo.feeder_ids[topo.device_feeder[asset]]
        a = _seconds(truth, max(interval.start, truth.start))
        b = _seconds(truth, interval.end)
        if b - a > _covered(sorted(feeder_out.get(feeder, [])), a, b):
            count += 1
    return count


def _covered(spans: list[tuple[float, float]], a: float, b: float) -> float:
    """Length of [a, b) covered by the union of ``spans``."""
    total, reach = 0.0, a
    for s, e in spans:
        lo, hi = max(s, reach), min(e, b)
        if hi > lo:
            total += hi - lo
            reach = hi
    return total
