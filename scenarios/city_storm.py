"""A seeded storm: faults on a real topology and the signals the engine would see.

`simulate_storm` picks protective devices and service transformers that fail during a storm
window, then produces what the utility would receive while they are out - customer calls (with
repeat callers, hazard reports, noise from customers who are *not* out, and a few callers nobody
can identify), AMI meter last-gasp / power-restored messages, SCADA breaker and recloser
states, and crew restoration reports - together with a ground *truth* saying which fault each
call belongs to. Tests, the demo and the accuracy / throughput benchmarks all replay it.

Signal shapes follow the engine's input contract (one JSON object per line, see
`write_events`); the distributions are listed beside their constants below.

Everything is vectorised per fault with numpy (a fault's premises come from
`Topology.premises_below` as one array), so a million-customer city with hundreds of faults
simulates in seconds; only the final signals are Python dicts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd

from grid.topology import NO_DEVICE, Topology

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DEFAULT_START: Final = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
DEFAULT_SCADA_KINDS: Final = ("breaker", "recloser")

# -- faults -----------------------------------------------------------------------------------
#: Share of faults per category, listed in placement order: big devices first, because a
#: feeder breaker can only fault where nothing below it has, and they are few.
FAULT_MIX: Final = (("feeder", 0.03), ("line", 0.12), ("fuse", 0.60), ("transformer", 0.25))
#: Device kinds of each category ("transformer" faults name a service transformer instead).
CATEGORY_KINDS: Final[dict[str, tuple[str, ...]]] = {
    "feeder": ("breaker", "relay"),
    # Not "switch": a manual or load-break switch does not open on a fault.
    "line": ("recloser", "sectionalizer"),
    "fuse": ("fuse",),
}
#: Feeder and line faults together black out at most this share of premises, so that a small
#: network still has room for the many small faults a storm also brings.
BIG_FAULT_SHARE: Final = 0.5
#: Fault start = start + duration * Beta(a, b): ~78% of faults fall in the first half.
START_BETA: Final = (1.5, 3.0)
#: Outage duration: lognormal, median 2 h, clipped to 45 min - 5 h.
RESTORE_MEDIAN_S: Final = 120 * 60
RESTORE_SIGMA: Final = 0.55
RESTORE_RANGE_S: Final = (45 * 60, 5 * 3600)

# -- calls ------------------------------------------------------------------------------------
#: Delay of a caller's first call after losing power: lognormal, median 8 min (~90% within
#: 30 min), at least 20 s (dialling). Calls that would come after restoration are not made.
CALL_MEDIAN_S: Final = 8 * 60
CALL_SIGMA: Final = 1.0
CALL_MIN_S: Final = 20
#: Repeat callers call 1-3 more times; each gap is 2 min + exponential(mean 10 min).
REPEAT_MAX: Final = 3
REPEAT_GAP_MIN_S: Final = 120
REPEAT_GAP_MEAN_S: Final = 600
#: After a parent fault is restored, customers still out behind a nested fault call again:
#: earlier callers with this probability, the others with ``call_rate``; delay lognormal,
#: median 5 min, at least 30 s (they notice the neighbours' lights come back).
NESTED_CALLBACK: Final = 0.7
NESTED_CALL_MEDIAN_S: Final = 5 * 60
NESTED_CALL_SIGMA: Final = 0.8
NESTED_CALL_MIN_S: Final = 30
#: How callers identify themselves when a customers table exists (IVR caller id, account
#: number, premise number on the bill, spoken address, mobile app location). A method a row
#: lacks (blank phone, no coordinates...) falls back to phone, then account, then premise.
IDENTITY_MIX: Final = (
    ("phone", 0.60),
    ("account", 0.20),
    ("premise", 0.10),
    ("address", 0.05),
    ("lonlat", 0.05),
)
#: Without customers (e.g. OpenDSS feeders) callers give the premise id, or a location.
IDENTITY_MIX_NO_CUSTOMERS: Final = (("premise", 0.95), ("lonlat", 0.05))
#: Mobile app locations: the premise point plus normal jitter (sigma 2 m, at most 5 m).
LONLAT_JITTER_M: Final = 2.0
LONLAT_JITTER_MAX_M: Final = 5.0
#: A hazard call is wire_down with this probability, else fire. After a fault's first hazard
#: call, further ones are kept with probability `EXTRA_HAZARD` (mostly one hazard a fault).
WIRE_DOWN_SHARE: Final = 0.8
EXTRA_HAZARD: Final = 0.1
#: Noise calls (partial power / flicker from customers who are not out): partial_power share.
PARTIAL_SHARE: Final = 0.6

# -- meters -----------------------------------------------------------------------------------
#: Last gasp arrives 1 s + exponential(mean 15 s) after the fault; power restored 1 s +
#: exponential(mean 30 s) after restoration (AMI mesh latency).
LAST_GASP_MEAN_S: Final = 15.0
POWER_RESTORED_MEAN_S: Final = 30.0

#: Kinds of a call, in code order (code 0 is the default and is left out of the JSON).
CALL_KINDS: Final = ("no_power", "partial_power", "flicker", "wire_down", "fire", "other")
_NO_POWER, _PARTIAL, _FLICKER, _WIRE_DOWN, _FIRE = range(5)
_NOTES: Final = {
    _WIRE_DOWN: "power line down across the road",
    _FIRE: "sparks and smoke at the pole",
}
_METHODS: Final = ("phone", "account", "premise", "address", "lonlat")
_PHONE, _ACCOUNT, _PREMISE, _ADDRESS, _LONLAT = range(5)
_UNKNOWN_ROW: Final = -1  # call row of an unidentifiable caller
_NO_FAULT: Final = -1
#: Id prefix per signal type; ``sorted by ts then id`` orders types by these at equal ts.
_PREFIX: Final = {"call": "c", "meter": "m", "restore": "r", "scada": "s", "warning": "w"}
_METRES_PER_DEGREE_LAT: Final = 110_540.0
_METRES_PER_DEGREE_LON: Final = 111_320.0


@dataclass
class Simulation:
    """A simulated storm: ``signals`` sorted by ts then id, and the ground ``truth``."""

    signals: list[dict[str, Any]]
    truth: dict[str, Any]


@dataclass
class _Fault:
    """One planned fault: ``target`` numbers a device, or a transformer when ``transformer``."""

    target: int
    transformer: bool
    device_id: str
    kind: str
    premises: IntArray
    start: int = 0
    restored: int = 0
    parent: int | None = None  # index into the plan
    child: int | None = None


@dataclass
class _Stream:
    """Columns of one signal type, appended per fault and concatenated at the end."""

    columns: dict[str, list[npt.NDArray[Any]]] = field(default_factory=dict)
    #: Phones of unidentifiable callers; their calls' ``unknown`` column indexes this list.
    phones: list[str] = field(default_factory=list)

    def add(self, **values: npt.NDArray[Any]) -> None:
        for name, value in values.items():
            self.columns.setdefault(name, []).append(value)

    def get(self, name: str, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
        parts = self.columns.get(name)
        return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


class BadStorm(ValueError):
    """A `CityStorm` field out of range: ``field`` and what it must be (``reason``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field} {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class CityStorm:
    """What storm `simulate_storm` makes (deterministic for ``seed``); `BadStorm` (a
    `ValueError`) names a bad field.

    Rates are probabilities in [0, 1]: ``call_rate`` (an affected customer calls while out),
    ``repeat_callers`` (a caller calls 1-3 more times), ``ami_delivery`` (a meter message
    arrives), ``hazards`` (a call reports wire_down / fire), ``nested`` (share of faults that
    get a child fault which stays out after the parent is restored). ``noise_rate`` is noise
    calls per 10,000 customers per hour; ``unresolvable`` the number of calls from unknown
    phones. Breaker and recloser faults (``scada_kinds``) report through SCADA, others by a
    crew ``restore``; ``warning`` adds a weather warning before the storm. A naive ``start``
    is taken as UTC, like every ts in the contract.
    """

    faults: int
    seed: int
    start: datetime = DEFAULT_START
    duration_h: float = 6.0
    call_rate: float = 0.1
    repeat_callers: float = 0.3
    ami_delivery: float = 0.8
    hazards: float = 0.02
    nested: float = 0.0
    warning: bool = False
    noise_rate: float = 1.0
    unresolvable: int = 5
    scada_kinds: Collection[str] = DEFAULT_SCADA_KINDS

    def __post_init__(self) -> None:
        for name in ("call_rate", "repeat_callers", "ami_delivery", "hazards", "nested"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise BadStorm(name, f"must be between 0 and 1, got {value!r}")
        if int(self.faults) < 1:
            raise BadStorm("faults", f"must be at least 1, got {self.faults!r}")
        if not (self.duration_h > 0 and math.isfinite(self.duration_h)):
            raise BadStorm(
                "duration_h", f"must be a positive number of hours, got {self.duration_h!r}"
            )
        if not (self.noise_rate >= 0 and math.isfinite(self.noise_rate)):
            raise BadStorm("noise_rate", f"must be >= 0, got {self.noise_rate!r}")
        if int(self.unresolvable) < 0:
            raise BadStorm("unresolvable", f"must be >= 0, got {self.unresolvable!r}")

    @property
    def start_s(self) -> int:
        """The window's start in epoch seconds."""
        start = self.start if self.start.tzinfo is not None else self.start.replace(tzinfo=UTC)
        return int(start.timestamp())

    @property
    def duration_s(self) -> int:
        """The window's length in whole seconds (at least one)."""
        return max(1, round(self.duration_h * 3600))


def simulate_storm(
    topology: Topology,
    customers: pd.DataFrame | None,
    storm: CityStorm,
    *,
    premise_xy: npt.ArrayLike | Mapping[str, Sequence[float]] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Simulation:
    """Simulate ``storm`` (`CityStorm`) on ``topology``.

    ``customers`` is the customers table (`grid.model.CUSTOMER_COLUMNS`); without one (or
    with an empty one) every premise is one customer who calls with its premise id.
    ``premise_xy`` gives premise coordinates (lon, lat) for mobile-app callers: an array of
    shape (premises, 2) in `Topology.premise_ids` order (see `premise_points`) or a mapping
    premise id -> (lon, lat); without it nobody calls with a location.
    ``on_progress(done, total)`` is called after each fault.

    Fewer faults than asked are simulated only when the network has too few devices that are
    not nested in one another; ``truth["faults_requested"]`` keeps the number asked for.
    Raises `ValueError` for a network where nothing can fault.
    """
    rng = np.random.default_rng(storm.seed)
    people = _People(topology, customers, premise_xy, rng)
    plan = _plan_faults(topology, rng, storm)
    calls, meters, devices = _Stream(), _Stream(), _Stream()
    parents = [i for i, fault in enumerate(plan) if fault.parent is None]
    for done, index in enumerate(parents, start=1):
        _simulate_fault(plan, index, people, storm, rng, calls, meters, devices)
        if on_progress is not None:
            on_progress(done, len(parents))
    affected = np.zeros(len(topology.premise_ids), dtype=bool)
    for fault in plan:
        affected[fault.premises] = True
    _noise_calls(people, affected, storm, rng, calls)
    _unresolvable_calls(people, storm, rng, calls)
    return _assemble(plan, people, storm, rng, calls, meters, devices)


def write_events(sim: Simulation, events_path: Path, truth_path: Path) -> None:
    """Write the signals as JSON lines (one object per line) and the truth as JSON."""
    events_path, truth_path = Path(events_path), Path(truth_path)
    for path in (events_path, truth_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    option = orjson.OPT_APPEND_NEWLINE
    with events_path.open("wb") as out:
        chunk = 50_000  # bounded memory for the joined bytes of a big storm
        for i in range(0, len(sim.signals), chunk):
            out.write(
                b"".join([orjson.dumps(s, option=option) for s in sim.signals[i : i + chunk]])
            )
    truth_path.write_bytes(orjson.dumps(sim.truth, option=orjson.OPT_INDENT_2 | option))


# ---------------------------------------------------------------------------------------------
# arguments


# ---------------------------------------------------------------------------------------------
# who can call


class _People:
    """The potential callers: customer rows (or one per premise), how each identifies itself,
    and premise -> rows as CSR arrays so that a fault's callers are one vectorised gather."""

    def __init__(
        self,
        topology: Topology,
        customers: pd.DataFrame | None,
        premise_xy: npt.ArrayLike | Mapping[str, Sequence[float]] | None,
        rng: np.random.Generator,
    ) -> None:
        self.topology = topology
        n_premises = len(topology.premise_ids)
        self.premise_ids = np.asarray(topology.premise_ids, dtype=object)
        self.xy = _premise_xy(topology, premise_xy)
        self.has_customers = customers is not None and len(customers) > 0
        if customers is not None and self.has_customers:
            if "premise" not in customers.columns:
                raise ValueError("the customers table has no 'premise' column")
            premise_no = pd.Index(topology.premise_ids).get_indexer(
                pd.Index(_text(customers, "premise"))
            )
            known = premise_no >= 0  # accounts of premises not in this topology never call
            self.row_premise = premise_no[known].astype(np.int64)
            self.phone = _text(customers, "phone")[known]
            self.account = _text(customers, "account")[known]
            self.address = _text(customers, "address")[known]
        else:
            self.row_premise = np.arange(n_premises, dtype=np.int64)
            blank = np.full(n_premises, "", dtype=object)
            self.phone, self.account, self.address = blank, blank, blank
        self.order = np.argsort(self.row_premise, kind="stable").astype(np.int64)
        self.first = np.zeros(n_premises + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.row_premise, minlength=n_premises), out=self.first[1:])
        self.method = self._methods(rng)

    @property
    def rows(self) -> int:
        """Number of potential callers."""
        return int(self.row_premise.size)

    def rows_of(self, premises: IntArray) -> IntArray:
        """Caller rows of ``premises`` (premise order, then table order)."""
        begin, end = self.first[premises], self.first[premises + 1]
        counts = end - begin
        total = int(counts.sum())
        offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        rows: IntArray = self.order[np.repeat(begin, counts) + offsets]
        return rows

    def customers_of(self, premises: IntArray) -> int:
        """Number of callers (customer accounts) at ``premises``."""
        return int((self.first[premises + 1] - self.first[premises]).sum())

    def _methods(self, rng: np.random.Generator) -> npt.NDArray[np.int8]:
        """How each row identifies itself; a customer always calls the same way (same phone,
        same app), so it is drawn once per row rather than per call."""
        mix = IDENTITY_MIX if self.has_customers else IDENTITY_MIX_NO_CUSTOMERS
        codes = np.asarray([_METHODS.index(name) for name, _ in mix], dtype=np.int8)
        weights = np.asarray([w for _, w in mix], dtype=np.float64)
        method = codes[rng.choice(codes.size, size=self.rows, p=weights / weights.sum())]
        has_xy = ~np.isnan(self.xy[self.row_premise, 0]) if self.rows else np.zeros(0, bool)
        available = {
            _PHONE: self.phone != "",
            _ACCOUNT: self.account != "",
            _ADDRESS: self.address != "",
            _LONLAT: has_xy,
        }
        for code in (_ACCOUNT, _ADDRESS, _LONLAT):
            method[(method == code) & ~available[code]] = _PHONE
        method[(method == _PHONE) & ~available[_PHONE]] = _ACCOUNT
        method[(method == _ACCOUNT) & ~available[_ACCOUNT]] = _PREMISE
        return method


def _text(frame: pd.DataFrame, name: str) -> npt.NDArray[np.object_]:
    """Column ``name`` as stripped strings, missing values (or column) as "" (not "nan")."""
    if name not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    values: npt.NDArray[np.object_] = (
        frame[name].astype("string").fillna("").str.strip().to_numpy(dtype=object)
    )
    return values


def _premise_xy(
    topology: Topology, premise_xy: npt.ArrayLike | Mapping[str, Sequence[float]] | None
) -> FloatArray:
    """Premise (lon, lat) aligned with the topology; NaN where unknown."""
    n = len(topology.premise_ids)
    if premise_xy is None:
        return np.full((n, 2), np.nan)
    if isinstance(premise_xy, Mapping):
        xy = np.full((n, 2), np.nan)
        for premise, point in premise_xy.items():
            number = topology.premise_index.get(premise)
            if number is not None:
                xy[number] = (float(point[0]), float(point[1]))
        return xy
    xy = np.asarray(premise_xy, dtype=np.float64)
    if xy.shape != (n, 2):
        raise ValueError(
            f"premise_xy must have shape ({n}, 2) (lon, lat per premise), got {xy.shape}"
        )
    return xy


# ---------------------------------------------------------------------------------------------
# fault plan


class _NotNested:
    """Accepts fault targets only while no two faults lie one inside the other."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.faulted: set[int] = set()  # devices that fault
        self.below: set[int] = set()  # devices with a fault at or under them
        self.transformers: set[int] = set()

    def device(self, d: int) -> bool:
        chain = self.topology.device_chain[d]
        if d in self.below or any(c in self.faulted for c in chain):
            return False
        self.faulted.add(d)
        self.below.update(chain)
        return True

    def transformer(self, t: int) -> bool:
        chain = self.topology.device_chain[self.topology.transformer_device[t]]
        if t in self.transformers or any(c in self.faulted for c in chain):
            return False
        self.transformers.add(t)
        self.below.update(chain)
        return True


def _pools(topology: Topology) -> dict[str, IntArray]:
    """Fault candidates per category: closed, energised devices (or transformers) that feed
    at least one premise; a fault nobody notices would only be noise in the truth."""
    kinds = np.asarray(topology.device_kind, dtype=object)
    live = np.asarray(topology.device_closed, dtype=bool) & (topology.device_premises > 0)
    live &= np.asarray([len(c) > 0 for c in topology.device_chain], dtype=bool)
    pools = {
        category: np.flatnonzero(live & np.isin(kinds, list(CATEGORY_KINDS[category])))
        for category in CATEGORY_KINDS
    }
    n_tr = len(topology.transformer_ids)
    premises = np.bincount(np.asarray(topology.premise_transformer, dtype=np.int64), minlength=n_tr)
    energised = np.asarray(topology.transformer_device, dtype=np.int64) != NO_DEVICE
    pools["transformer"] = np.flatnonzero(energised & (premises > 0))
    return {k: v.astype(np.int64) for k, v in pools.items()}


def _pick_targets(
    topology: Topology, rng: np.random.Generator, faults: int
) -> list[tuple[str, int]]:
    """(category, number) of up to ``faults`` targets, none nested in another.

    Counts per category are multinomial in `FAULT_MIX` (categories the network lacks get no
    share); each category walks a random permutation of its pool, skipping blocked targets
    (and big ones beyond `BIG_FAULT_SHARE`), and passes what it cannot fill on to the next.
    """
    pools = _pools(topology)
    weights = np.asarray([w if pools[c].size else 0.0 for c, w in FAULT_MIX])
    if weights.sum() == 0:
        raise ValueError("the topology has no closed device or transformer that feeds premises")
    counts = rng.multinomial(faults, weights / weights.sum())
    walks = {c: rng.permutation(pools[c]).tolist() for c, _ in FAULT_MIX}
    position = dict.fromkeys(walks, 0)
    guard = _NotNested(topology)
    picked: list[tuple[str, int]] = []
    big_budget = BIG_FAULT_SHARE * len(topology.premise_ids)

    def take(category: str, want: int) -> int:
        nonlocal big_budget
        got = 0
        walk = walks[category]
        big = category in ("feeder", "line")
        while got < want and position[category] < len(walk):
            target = walk[position[category]]
            position[category] += 1
            if big and topology.device_premises[target] > big_budget:
                continue
            ok = guard.transformer(target) if category == "transformer" else guard.device(target)
            if ok:
                if big:
                    big_budget -= topology.device_premises[target]
                picked.append((category, target))
                got += 1
        return got

    deficit = 0
    for (category, _), count in zip(FAULT_MIX, counts, strict=True):
        want = int(count) + deficit
        deficit = want - take(category, want)
    for category, _ in FAULT_MIX:  # second pass: any category with room left
        deficit -= take(category, deficit)
    return picked


def _plan_faults(topology: Topology, rng: np.random.Generator, params: CityStorm) -> list[_Fault]:
    """Targets, times and nested children; parents first, children appended after them."""
    plan = [
        _fault(topology, c == "transformer", n)
        for c, n in _pick_targets(topology, rng, params.faults)
    ]
    offsets = rng.beta(*START_BETA, size=len(plan)) * params.duration_s
    durations = _durations(rng, len(plan))
    for fault, offset, duration in zip(plan, offsets, durations, strict=True):
        fault.start = params.start_s + int(offset)
        fault.restored = fault.start + int(duration)
    _add_children(topology, rng, plan, params.nested)
    return plan


def _fault(topology: Topology, transformer: bool, number: int) -> _Fault:
    if transformer:
        return _Fault(
            target=number,
            transformer=True,
            device_id=topology.transformer_ids[number],
            kind="transformer",
            premises=np.asarray(topology.premises_of_transformer(number), dtype=np.int64),
        )
    return _Fault(
        target=number,
        transformer=False,
        device_id=topology.device_ids[number],
        kind=topology.device_kind[number],
        premises=np.asarray(topology.premises_below(number), dtype=np.int64),
    )


def _durations(rng: np.random.Generator, n: int) -> IntArray:
    low, high = RESTORE_RANGE_S
    drawn = rng.lognormal(math.log(RESTORE_MEDIAN_S), RESTORE_SIGMA, size=n)
    return np.clip(drawn, low, high).astype(np.int64)


def _add_children(
    topology: Topology, rng: np.random.Generator, plan: list[_Fault], nested: float
) -> None:
    """Give ``round(nested * faults)`` device faults a child that failed in the same event and
    stays out after the parent is restored: a fuse under a breaker / recloser / switch first
    (the classic nested outage), then a transformer under a fuse."""
    wanted = round(nested * len(plan))
    if wanted == 0:
        return
    options = {i: _child_options(topology, f) for i, f in enumerate(plan) if not f.transformer}
    with_fuses = [i for i, (fuses, _) in options.items() if fuses.size]
    only_transformers = [i for i, (f, t) in options.items() if not f.size and t.size]
    chosen: list[int] = []
    for tier in (with_fuses, only_transformers):
        take = min(wanted - len(chosen), len(tier))
        if take > 0:
            chosen += rng.choice(tier, size=take, replace=False).tolist()
    durations = _durations(rng, len(chosen))
    for index, duration in zip(sorted(chosen), durations, strict=True):
        fuses, transformers = options[index]
        transformer = fuses.size == 0
        pool = transformers if transformer else fuses
        child = _fault(topology, transformer, int(pool[rng.integers(pool.size)]))
        parent = plan[index]
        child.start = parent.start
        child.restored = parent.restored + int(duration)
        child.parent = index
        parent.child = len(plan)
        plan.append(child)


def _child_options(topology: Topology, fault: _Fault) -> tuple[IntArray, IntArray]:
    """(fuses, transformers) under the device of ``fault`` that could fault with it.

    Only those serving fewer premises than the parent: a child that covers the whole parent
    would make the parent's restoration invisible.
    """
    limit = fault.premises.size
    below = topology.devices_below(fault.target)
    fuses = [
        d
        for d in below[1:]
        if topology.device_kind[d] == "fuse"
        and topology.device_closed[d]
        and 0 < topology.device_premises[d] < limit
    ]
    transformers = [
        t
        for d in below
        for t in topology.device_transformers[d]
        if 0 < topology.premises_of_transformer(t).size < limit
    ]
    return np.asarray(fuses, dtype=np.int64), np.asarray(transformers, dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# per-fault signals


def _simulate_fault(
    plan: list[_Fault],
    index: int,
    people: _People,
    params: CityStorm,
    rng: np.random.Generator,
    calls: _Stream,
    meters: _Stream,
    devices: _Stream,
) -> None:
    """Meters, calls and device signals of the parent fault ``plan[index]`` and its child."""
    fault = plan[index]
    child = plan[fault.child] if fault.child is not None else None
    premises = fault.premises
    restored_at = np.full(premises.size, fault.restored, dtype=np.int64)
    if child is not None:  # the child's premises stay out until the child is restored
        restored_at[np.isin(premises, child.premises)] = child.restored
    _meters(premises, fault.start, restored_at, params, rng, meters)

    rows = people.rows_of(premises)
    times, callers = _calls_in(
        rng,
        rows,
        fault.start,
        fault.restored,
        params.call_rate,
        params.repeat_callers,
        (CALL_MEDIAN_S, CALL_SIGMA, CALL_MIN_S),
    )
    _add_calls(rng, times, callers, index, params, calls)
    _device_signals(fault, params, devices)
    if child is None or fault.child is None:  # (both: mypy narrows each separately)
        return
    child_rows = people.rows_of(child.premises)
    called = np.isin(child_rows, callers)
    rate = np.where(called, NESTED_CALLBACK, params.call_rate)
    times, callers = _calls_in(
        rng,
        child_rows,
        fault.restored,
        child.restored,
        rate,
        params.repeat_callers,
        (NESTED_CALL_MEDIAN_S, NESTED_CALL_SIGMA, NESTED_CALL_MIN_S),
    )
    _add_calls(rng, times, callers, fault.child, params, calls)
    _device_signals(child, params, devices)


def _meters(
    premises: IntArray,
    start: int,
    restored_at: IntArray,
    params: CityStorm,
    rng: np.random.Generator,
    meters: _Stream,
) -> None:
    """Last gasp and power restored, each delivered with probability ``ami_delivery``."""
    n = premises.size
    gasp = rng.random(n) < params.ami_delivery
    back = rng.random(n) < params.ami_delivery
    gasp_at = start + 1 + rng.exponential(LAST_GASP_MEAN_S, n).astype(np.int64)
    back_at = restored_at + 1 + rng.exponential(POWER_RESTORED_MEAN_S, n).astype(np.int64)
    meters.add(
        ts=np.concatenate([gasp_at[gasp], back_at[back]]),
        premise=np.concatenate([premises[gasp], premises[back]]),
        restored=np.concatenate([np.zeros(int(gasp.sum()), bool), np.ones(int(back.sum()), bool)]),
    )


def _calls_in(
    rng: np.random.Generator,
    rows: IntArray,
    t_from: int,
    t_until: int,
    rate: float | FloatArray,
    repeat: float,
    delay: tuple[float, float, float],
) -> tuple[IntArray, IntArray]:
    """(times, rows) of the calls customers ``rows`` make while out in [t_from, t_until).

    Each calls with probability ``rate`` after a lognormal delay (median, sigma, minimum);
    a repeat caller calls 1-`REPEAT_MAX` more times, minutes apart. Calls that would fall at
    or after ``t_until`` are not made: the power is back by then.
    """
    median, sigma, minimum = delay
    callers = rows[rng.random(rows.size) < rate]
    n = callers.size
    first = np.maximum(minimum, rng.lognormal(math.log(median), sigma, n)).astype(np.int64)
    more = np.where(rng.random(n) < repeat, rng.integers(1, REPEAT_MAX + 1, n), 0)
    gaps = (REPEAT_GAP_MIN_S + rng.exponential(REPEAT_GAP_MEAN_S, (n, REPEAT_MAX))).astype(np.int64)
    times = t_from + np.cumsum(np.column_stack([first, gaps]), axis=1)
    keep = (np.arange(REPEAT_MAX + 1)[None, :] <= more[:, None]) & (times < t_until)
    return times[keep], np.broadcast_to(callers[:, None], times.shape)[keep]


def _add_calls(
    rng: np.random.Generator,
    times: IntArray,
    rows: IntArray,
    fault: int,
    params: CityStorm,
    calls: _Stream,
) -> None:
    """Record calls of ``fault``; a few report hazards (mostly one per fault)."""
    order = np.argsort(times, kind="stable")
    times, rows = times[order], rows[order]
    flagged = np.flatnonzero(rng.random(times.size) < params.hazards)
    kinds = np.zeros(times.size, dtype=np.int8)
    if flagged.size:
        keep = np.concatenate([[True], rng.random(flagged.size - 1) < EXTRA_HAZARD])
        hazard = flagged[keep]
        wire = rng.random(hazard.size) < WIRE_DOWN_SHARE
        kinds[hazard] = np.where(wire, _WIRE_DOWN, _FIRE)
    calls.add(
        ts=times,
        row=rows,
        kind=kinds,
        fault=np.full(times.size, fault, dtype=np.int64),
        unknown=np.full(times.size, -1, dtype=np.int64),
    )


def _device_signals(fault: _Fault, params: CityStorm, devices: _Stream) -> None:
    """SCADA open/closed for breaker-like faults, else a crew ``restore`` at restoration."""
    device = np.asarray([fault.device_id], dtype=object)
    if fault.kind in params.scada_kinds:
        devices.add(
            ts=np.asarray([fault.start, fault.restored], dtype=np.int64),
            type=np.asarray(["scada", "scada"], dtype=object),
            device=np.repeat(device, 2),
            state=np.asarray(["open", "closed"], dtype=object),
        )
    else:
        devices.add(
            ts=np.asarray([fault.restored], dtype=np.int64),
            type=np.asarray(["restore"], dtype=object),
            device=device,
            state=np.asarray([""], dtype=object),
        )


# ---------------------------------------------------------------------------------------------
# calls that belong to no fault


def _noise_calls(
    people: _People,
    affected: BoolArray,
    params: CityStorm,
    rng: np.random.Generator,
    calls: _Stream,
) -> None:
    """partial_power / flicker calls from customers who are never out, uniform in time."""
    hours = params.duration_s / 3600
    expected = params.noise_rate * people.rows / 10_000 * hours
    n = int(rng.poisson(expected))
    candidates = np.flatnonzero(~affected[people.row_premise])
    if n == 0 or candidates.size == 0:
        return
    rows = candidates[rng.integers(candidates.size, size=n)].astype(np.int64)
    times = params.start_s + rng.integers(0, params.duration_s, size=n)
    kinds = np.where(rng.random(n) < PARTIAL_SHARE, _PARTIAL, _FLICKER).astype(np.int8)
    calls.add(
        ts=times,
        row=rows,
        kind=kinds,
        fault=np.full(n, _NO_FAULT, dtype=np.int64),
        unknown=np.full(n, -1, dtype=np.int64),
    )


def _unresolvable_calls(
    people: _People, params: CityStorm, rng: np.random.Generator, calls: _Stream
) -> None:
    """``unresolvable`` calls from phones no customer has (prefix 170, which the synthetic
    city never issues; checked against the table anyway)."""
    n = params.unresolvable
    if n == 0:
        return
    taken = {p[-11:] for p in people.phone.tolist() if p}
    phones: list[str] = []
    while len(phones) < n:
        national = f"170{int(rng.integers(0, 100_000_000)):08d}"
        if national not in taken and f"+86{national}" not in phones:
            phones.append(f"+86{national}")
    times = params.start_s + rng.integers(0, params.duration_s, size=n)
    calls.add(
        ts=times,
        row=np.full(n, _UNKNOWN_ROW, dtype=np.int64),
        kind=np.zeros(n, dtype=np.int8),
        fault=np.full(n, _NO_FAULT, dtype=np.int64),
        unknown=len(calls.phones) + np.arange(n, dtype=np.int64),
    )
    calls.phones.extend(phones)


# ---------------------------------------------------------------------------------------------
# assembly


def _iso(seconds: IntArray) -> list[str]:
    """Epoch seconds -> ``2026-07-01T10:00:00Z``."""
    text = np.datetime_as_string(np.asarray(seconds, dtype="datetime64[s]"), unit="s")
    return [f"{t}Z" for t in text.tolist()]


def _ids(prefix: str, n: int) -> list[str]:
    """``c-000001``...; one width per type so that ids sort as their numbers do."""
    width = max(6, len(str(n)))
    return [f"{prefix}-{i:0{width}d}" for i in range(1, n + 1)]


def _assemble(
    plan: list[_Fault],
    people: _People,
    params: CityStorm,
    rng: np.random.Generator,
    calls: _Stream,
    meters: _Stream,
    devices: _Stream,
) -> Simulation:
    """Number each type in time order, build the dicts, merge by (ts, id), write the truth."""
    fault_order = sorted(
        range(len(plan)), key=lambda i: (plan[i].start, plan[i].parent is not None, i)
    )
    fault_ids = {index: f"f-{n}" for n, index in enumerate(fault_order, start=1)}

    call_ts, call_signals, call_fault, call_row, call_ids = _call_signals(people, rng, calls)
    meter_ts, meter_signals = _meter_signals(people, meters)
    device_ts, device_signals = _device_dicts(devices)
    blocks = [(call_ts, call_signals), (meter_ts, meter_signals), (device_ts, device_signals)]
    if params.warning and plan:
        first = min(f.start for f in plan) - 2 * 3600
        warning = {
            "type": "warning",
            "id": _ids("w", 1)[0],
            "ts": _iso(np.asarray([first]))[0],
            "kind": "typhoon",
            "level": "orange",
            "area": "all",
        }
        blocks.append((np.asarray([first], dtype=np.int64), [warning]))
    signals = _merge(blocks)

    by_fault: dict[int, list[str]] = {i: [] for i in range(len(plan))}
    for cid, f in zip(call_ids, call_fault.tolist(), strict=True):
        if f != _NO_FAULT:
            by_fault[f].append(cid)
    iso_start = _iso(np.asarray([f.start for f in plan], dtype=np.int64))
    iso_restored = _iso(np.asarray([f.restored for f in plan], dtype=np.int64))
    faults = [
        {
            "id": fault_ids[i],
            "device": plan[i].device_id,
            "kind": plan[i].kind,
            "start": iso_start[i],
            "restored": iso_restored[i],
            "customers": people.customers_of(plan[i].premises),
            "premises": int(plan[i].premises.size),
            "calls": by_fault[i],
            "parent_fault": fault_ids[p] if (p := plan[i].parent) is not None else None,
        }
        for i in fault_order
    ]
    unknown = call_row == _UNKNOWN_ROW
    noise = (call_fault == _NO_FAULT) & ~unknown
    truth = {
        "seed": params.seed,
        "start": _iso(np.asarray([params.start_s]))[0],
        "end": _iso(np.asarray([params.start_s + params.duration_s]))[0],
        "faults_requested": params.faults,
        "faults": faults,
        "calls": len(call_signals),
        "signals": len(signals),
        "noise_calls": [call_ids[i] for i in np.flatnonzero(noise).tolist()],
        "unresolvable_calls": [call_ids[i] for i in np.flatnonzero(unknown).tolist()],
    }
    return Simulation(signals=signals, truth=truth)


def _call_signals(
    people: _People, rng: np.random.Generator, calls: _Stream
) -> tuple[IntArray, list[dict[str, Any]], IntArray, IntArray, list[str]]:
    """Call dicts in time order, with their ts, fault, row and id columns (same order)."""
    ts = calls.get("ts", np.int64)
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    row = calls.get("row", np.int64)[order]
    kind = calls.get("kind", np.int8)[order]
    fault = calls.get("fault", np.int64)[order]
    unknown = calls.get("unknown", np.int64)[order].tolist()
    ids = _ids("c", ts.size)
    stamps = _iso(ts)
    method = np.where(row >= 0, people.method[np.maximum(row, 0)], _PHONE)
    lonlat = _jittered(people, row, method == _LONLAT, rng)
    signals: list[dict[str, Any]] = []
    for i, (r, m, k) in enumerate(zip(row.tolist(), method.tolist(), kind.tolist(), strict=True)):
        signal: dict[str, Any] = {"type": "call", "id": ids[i], "ts": stamps[i]}
        if r == _UNKNOWN_ROW:
            signal["phone"] = calls.phones[unknown[i]]
        elif m == _LONLAT:
            signal["lon"], signal["lat"] = lonlat[i]
        else:
            signal[_METHODS[m]] = _identity(people, r, m)
        if k != _NO_POWER:
            signal["kind"] = CALL_KINDS[k]
            if k in _NOTES:
                signal["note"] = _NOTES[k]
        signals.append(signal)
    return ts, signals, fault, row, ids


def _identity(people: _People, row: int, method: int) -> str:
    if method == _PHONE:
        return str(people.phone[row])
    if method == _ACCOUNT:
        return str(people.account[row])
    if method == _ADDRESS:
        return str(people.address[row])
    return str(people.premise_ids[people.row_premise[row]])


def _jittered(
    people: _People, row: IntArray, mask: BoolArray, rng: np.random.Generator
) -> dict[int, tuple[float, float]]:
    """Premise point plus GPS jitter for the calls in ``mask`` (a fresh fix per call)."""
    where = np.flatnonzero(mask)
    if where.size == 0:
        return {}
    base = people.xy[people.row_premise[row[where]]]
    metres = rng.normal(0.0, LONLAT_JITTER_M, (where.size, 2))
    # a fix further off than the cap is pulled back onto the cap's circle, same direction
    norm = np.hypot(metres[:, 0], metres[:, 1])
    metres *= np.minimum(1.0, LONLAT_JITTER_MAX_M / np.maximum(norm, 1e-9))[:, None]
    lat = base[:, 1] + metres[:, 1] / _METRES_PER_DEGREE_LAT
    lon = base[:, 0] + metres[:, 0] / (_METRES_PER_DEGREE_LON * np.cos(np.radians(base[:, 1])))
    return {
        i: (round(x, 7), round(y, 7))
        for i, x, y in zip(where.tolist(), lon.tolist(), lat.tolist(), strict=True)
    }


def _meter_signals(people: _People, meters: _Stream) -> tuple[IntArray, list[dict[str, Any]]]:
    ts = meters.get("ts", np.int64)
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    premise = people.premise_ids[meters.get("premise", np.int64)[order]].tolist()
    restored = meters.get("restored", np.bool_)[order].tolist()
    events = ("last_gasp", "power_restored")
    signals = [
        {"type": "meter", "id": i, "ts": t, "premise": p, "event": events[r]}
        for i, t, p, r in zip(_ids("m", ts.size), _iso(ts), premise, restored, strict=True)
    ]
    return ts, signals


def _device_dicts(devices: _Stream) -> tuple[IntArray, list[dict[str, Any]]]:
    """SCADA and restore dicts, each type numbered in time order."""
    ts = devices.get("ts", np.int64)
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    kinds = devices.get("type", object)[order].tolist()
    device = devices.get("device", object)[order].tolist()
    state = devices.get("state", object)[order].tolist()
    stamps = _iso(ts)
    counts = {k: kinds.count(k) for k in ("scada", "restore")}
    ids = {k: iter(_ids(_PREFIX[k], n)) for k, n in counts.items()}
    signals: list[dict[str, Any]] = []
    for kind, stamp, dev, st in zip(kinds, stamps, device, state, strict=True):
        signal: dict[str, Any] = {"type": kind, "id": next(ids[kind]), "ts": stamp, "device": dev}
        if kind == "scada":
            signal["state"] = st
        signals.append(signal)
    return ts, signals


def _merge(blocks: list[tuple[IntArray, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """All signals sorted by ts then id. Within a type ids grow with ts, and at equal ts the
    types order by their id prefix, so (ts, prefix, position) is (ts, id) order."""
    everything: list[dict[str, Any]] = [s for _, signals in blocks for s in signals]
    if not everything:
        return []
    ts = np.concatenate([t for t, _ in blocks])
    prefix = np.asarray([s["id"][0] for s in everything])
    position = np.arange(len(everything))
    order = np.lexsort((position, prefix, ts))
    return [everything[i] for i in order.tolist()]
