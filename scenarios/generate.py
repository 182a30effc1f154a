"""`generate_storm`: a `StormSpec` on a network -> the signals the engine receives + the truth.

The signals are plain dicts in the engine's input contract (`outage.signals`: ``call``,
``meter``, ``scada``, ``restore``), sorted by timestamp; ties are broken scada, restore,
meter, call (a crew closes a device before the meters behind it report power) and then by
generation order, so the same spec gives the same list. Ids are opaque (``<prefix>000123`` in
timestamp order) so that nothing in a signal tells which fault, or whether noise, it was.

Each part of the world draws from its own random stream (spawned from the seed): turning
meters on, or changing the noise rate, leaves the faults and the calls exactly as they were, so
two rows of a benchmark that differ in one setting differ only in that setting.

With crews (``spec.crews``), restoration times come from the crew world
(`scenarios.crewworld`): the faults are placed and started exactly as without crews, but
each is repaired when its crew finishes, calls and meter messages are drawn per episode
(`scenarios.keyed`) so that the first report the utility reacts to is the first one sent,
and crew status signals follow when ``crews.signals`` is on (type ``crew``, ordered after a
restore at the same second). The truth then also holds the roster, each fault's crew job and
every premise's true outages; `Storm.roster` gives the engine's crew roster file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import yaml

from grid.topology import Topology
from scenarios.crewsignals import STEPS, job_steps
from scenarios.crewtruth import premise_outages, roster, truth_jobs
from scenarios.crewworld import Result, build_crews, simulate
from scenarios.faults import Drawn, draw_faults, pick_feeder
from scenarios.keyed import KeyedReports
from scenarios.physics import Grid, power_episodes
from scenarios.reports import (
    Calls,
    Meters,
    account_identities,
    meter_messages,
    noise_calls,
    outage_calls,
)
from scenarios.spec import StormSpec
from scenarios.truth import NOISE, CrewJob, DeviceSignal, Fault, Report, Truth, iso

_ORDER = {"scada": 0, "restore": 1, "meter": 2, "call": 3, "crew": 4}
_STREAMS = ("feeder", "faults", "calls", "noise", "meters", "identity", "crews")


@dataclass
class Storm:
    """One generated storm: signals in input-contract shape (sorted by ts) and its truth."""

    spec: StormSpec
    signals: list[dict[str, Any]]
    truth: Truth

    def write(
        self,
        signals_path: Path,
        truth_path: Path | None = None,
        roster_path: Path | None = None,
    ) -> None:
        """Write the signals as JSONL (and the truth as JSON, the roster as YAML — JSON when
        the name ends in ``.json``)."""
        write_jsonl(self.signals, signals_path)
        if truth_path is not None:
            Path(truth_path).write_bytes(
                orjson.dumps(self.truth.to_dict(), option=orjson.OPT_INDENT_2)
            )
        if roster_path is not None:
            roster = self.roster()
            if Path(roster_path).suffix.lower() == ".json":
                Path(roster_path).write_bytes(orjson.dumps(roster, option=orjson.OPT_INDENT_2))
            else:
                Path(roster_path).write_text(
                    yaml.safe_dump(roster, sort_keys=False, allow_unicode=True)
                )

    def roster(self) -> dict[str, Any]:
        """The crews as the engine's roster file (``--crews``)::

            timezone: Asia/Shanghai
            crews:
              - id: C01
                name: Crew 1
                skills: [line, transformer]   # only when the crew cannot do everything
                depot: {lon: 113.27, lat: 23.09}
                shift: {start: "08:00", end: "20:00"}   # only when it has one

        `ValueError` for a storm without crews.
        """
        if self.truth.roster is None:
            raise ValueError("this storm has no crews (StormSpec.crews is None)")
        return self.truth.roster


def write_jsonl(signals: list[dict[str, Any]], path: Path) -> None:
    """One JSON object per line, in list order (what ``outage replay`` reads)."""
    with Path(path).open("wb") as out:
        for signal in signals:
            out.write(orjson.dumps(signal) + b"\n")


@dataclass(frozen=True)
class _Pending:
    """One signal before it gets its id: when, how to order ties, its body, and its truth."""

    t: int  # seconds since the storm start
    order: int  # _ORDER of its type
    seq: int  # generation order within the type
    body: dict[str, Any]
    about: int  # premise number (call, meter) or fault index (restore, scada); -1 none
    cause: int  # fault index the report is about, -1 for noise
    kind: str  # call kind, meter event, "restore", "scada_open" / "scada_closed"


def generate_storm(
    topology: Topology,
    spec: StormSpec,
    *,
    customers: pd.DataFrame | None = None,
    grid: Grid | None = None,
    id_prefix: str | None = None,
) -> Storm:
    """Draw the storm ``spec`` describes on ``topology`` (module docstring).

    ``customers`` (the network's customers table) lets callers identify by account or phone;
    ``grid`` reuses the precomputed tree views across storms on one network; signal ids are
    ``<id_prefix>000000``... (default ``g<seed>-``).
    """
    grid = grid or Grid(topology)
    seeds = np.random.SeedSequence(spec.seed).spawn(len(_STREAMS))
    rng = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, seeds, strict=True)}
    feeder = pick_feeder(grid, spec, rng["feeder"])
    drawn = draw_faults(grid, feeder, spec, rng["faults"])
    assets = np.array([f.asset for f in drawn], dtype=np.int64)
    starts = np.array([f.start for f in drawn], dtype=np.int64)
    keyed: KeyedReports | None = None
    world: Result | None = None
    if spec.crews is not None:
        keyed = KeyedReports(grid, assets, starts, spec.seed, spec.calls, spec.meters)
        crews = build_crews(grid, feeder, spec.crews, spec.start, rng["crews"])
        scada_seen = [
            f.start + spec.scada.latency_seconds
            if spec.scada.enabled and _telemetered(grid, f.asset, spec.scada.kinds)
            else None
            for f in drawn
        ]
        world = simulate(grid, drawn, crews, spec.crews, keyed, scada_seen, rng["crews"])
        drawn = world.drawn
    ends = np.array([f.end for f in drawn], dtype=np.int64)
    episodes = power_episodes(grid, assets, starts, ends)
    horizon = int(ends.max())
    if keyed is None:
        calls = outage_calls(grid, episodes, spec.calls, rng["calls"])
        meters = meter_messages(grid, episodes, spec.meters, rng["meters"])
    else:
        calls, meters = keyed.calls(ends), keyed.meters(ends)
    if spec.noise.per_1000_customers_per_hour > 0:
        calls = calls + noise_calls(grid, episodes, spec.noise, feeder, horizon, rng["noise"])
    identity = _identities(grid, customers, calls, spec, rng["identity"])

    pending = [
        *_call_rows(calls, identity),
        *_meter_rows(grid, meters),
        *_device_rows(grid, drawn, spec),
    ]
    fault_ids = [f"F{i + 1:02d}" for i in range(len(drawn))]
    jobs = [] if world is None else truth_jobs(grid, drawn, world.repairs, fault_ids, spec.start)
    if spec.crews is not None and spec.crews.signals:
        pending.extend(_crew_rows(jobs, spec.start))
    pending.sort(key=lambda p: (p.t, p.order, p.seq))
    prefix = id_prefix if id_prefix is not None else f"g{spec.seed}-"
    truth = Truth(
        feeder=topology.feeder_ids[feeder],
        start=spec.start,
        horizon_end=spec.start + timedelta(seconds=horizon),
        faults=_truth_faults(grid, drawn, fault_ids, feeder, spec.start),
        spec=spec.model_dump(mode="json", exclude={"crews"} if spec.crews is None else None),
    )
    if world is not None and spec.crews is not None:
        truth.roster = roster(world.crews, spec.crews.timezone)
        truth.jobs = jobs
        truth.outages = premise_outages(grid, episodes, fault_ids, spec.start)
    signals = [
        _record(grid, truth, fault_ids, f"{prefix}{n:06d}", p) for n, p in enumerate(pending)
    ]
    return Storm(spec, signals, truth)


def _call_rows(calls: Calls, identity: list[dict[str, str]]) -> list[_Pending]:
    rows = []
    for k in range(len(calls.ts)):
        kind = str(calls.kind[k])
        body: dict[str, Any] = {"type": "call", **identity[k]}
        if kind != "no_power":  # the contract's default
            body["kind"] = kind
        rows.append(
            _Pending(
                int(calls.ts[k]),
                _ORDER["call"],
                k,
                body,
                int(calls.premise[k]),
                int(calls.cause[k]),
                kind,
            )
        )
    return rows


def _meter_rows(grid: Grid, meters: Meters) -> list[_Pending]:
    ids = grid.topology.premise_ids
    rows = []
    for k in range(len(meters.ts)):
        premise, event = int(meters.premise[k]), str(meters.event[k])
        body = {"type": "meter", "premise": ids[premise], "event": event}
        rows.append(
            _Pending(
                int(meters.ts[k]), _ORDER["meter"], k, body, premise, int(meters.cause[k]), event
            )
        )
    return rows


def _device_rows(grid: Grid, drawn: list[Drawn], spec: StormSpec) -> list[_Pending]:
    """Crew restores (every fault) and SCADA (telemetered assets), when the spec has them."""
    rows = []
    for i, f in enumerate(drawn):
        asset = grid.asset_id(f.asset)
        if spec.restores:
            body = {"type": "restore", "device": asset}
            rows.append(_Pending(f.end, _ORDER["restore"], i, body, i, i, "restore"))
        if spec.scada.enabled and _telemetered(grid, f.asset, spec.scada.kinds):
            for state, t in (("open", f.start), ("closed", f.end)):
                body = {"type": "scada", "device": asset, "state": state}
                t += spec.scada.latency_seconds
                rows.append(_Pending(t, _ORDER["scada"], i, body, i, i, f"scada_{state}"))
    return rows


def _crew_rows(jobs: list[CrewJob], t0: datetime) -> list[_Pending]:
    """Crew status signals of every job (`scenarios.crewsignals`), without ``dispatched``."""
    index = {f"F{i + 1:02d}": i for i in range(len(jobs))}
    rows = []
    for step in job_steps(jobs):
        body: dict[str, Any] = {k: v for k, v in step.signal("").items() if k not in ("id", "ts")}
        seq = len(STEPS) * index[step.fault] + step.rank
        t = round((step.ts - t0).total_seconds())
        rows.append(_Pending(t, _ORDER["crew"], seq, body, index[step.fault], -1, step.status))
    return rows


def _telemetered(grid: Grid, asset: int, kinds: frozenset[str] | None) -> bool:
    """Does SCADA report this asset's state (by kind, or as the network model says)?"""
    if kinds is not None:
        return grid.asset_kind(asset) in kinds
    topo = grid.topology
    return asset < len(topo.device_ids) and bool(topo.device_scada[asset])


def _record(
    grid: Grid, truth: Truth, fault_ids: list[str], sid: str, p: _Pending
) -> dict[str, Any]:
    """The signal with its id and time; its truth row is appended to ``truth``."""
    topo = grid.topology
    ts = truth.start + timedelta(seconds=p.t)
    kind = p.body["type"]
    if kind == "crew":
        pass  # the crew jobs are in the truth as a whole (`Truth.jobs`)
    elif kind in ("call", "meter"):
        report = Report(
            id=sid,
            ts=ts,
            premise=topo.premise_ids[p.about],
            transformer=topo.transformer_ids[topo.premise_transformer[p.about]],
            fault=fault_ids[p.cause] if p.cause >= 0 else NOISE,
            kind=p.kind,
        )
        (truth.calls if kind == "call" else truth.meters).append(report)
    else:
        truth.devices.append(DeviceSignal(sid, ts, p.body["device"], fault_ids[p.about], p.kind))
    return {"id": sid, "ts": iso(ts), **p.body}


def _identities(
    grid: Grid,
    customers: pd.DataFrame | None,
    calls: Calls,
    spec: StormSpec,
    rng: np.random.Generator,
) -> list[dict[str, str]]:
    """How each call names its caller; one choice per caller, so repeats say the same."""
    topo = grid.topology
    names = sorted(spec.calls.identify)
    weights = np.array([spec.calls.identify[k] for k in names], dtype=np.float64)
    accounts, phones = account_identities(grid, customers, calls.premise, calls.caller)
    # one draw per distinct (premise, caller slot), so a repeat caller keeps their identity
    key = calls.premise * 1024 + np.minimum(calls.caller, 1023)
    distinct, inverse = np.unique(key, return_inverse=True)
    choice = rng.choice(len(names), size=len(distinct), p=weights / weights.sum())
    chosen = np.asarray(names)[choice][np.asarray(inverse).reshape(-1)]
    out: list[dict[str, str]] = []
    for k, how in enumerate(chosen.tolist()):
        if how == "phone" and phones[k] is not None:
            out.append({"phone": str(phones[k])})
        elif how in ("phone", "account") and accounts[k] is not None:
            out.append({"account": str(accounts[k])})
        else:
            out.append({"premise": topo.premise_ids[int(calls.premise[k])]})
    return out


def _truth_faults(
    grid: Grid, drawn: list[Drawn], ids: list[str], feeder: int, t0: Any
) -> list[Fault]:
    """Truth rows; ``parent`` is the nearest upstream fault whose outage overlaps this one."""
    topo = grid.topology
    out = []
    for i, f in enumerate(drawn):
        above = [
            j
            for j, g in enumerate(drawn)
            if j != i and grid.is_below(f.asset, g.asset) and g.start < f.end and f.start < g.end
        ]
        parent = max(above, key=lambda j: grid.asset_depth(drawn[j].asset)) if above else None
        if f.kind == "transformer":
            location = topo.transformer_ids[f.location]
        elif f.location >= 0:
            location = topo.section_ids[f.location]
        else:
            location = grid.asset_id(f.asset)
        lo, hi = grid.asset_range(f.asset)
        customers = int(grid.position_customers[lo:hi].sum())
        premises = (
            int(topo.device_premises[f.asset])
            if f.asset < grid.n_devices
            else len(topo.premises_of_transformer(f.location))
        )
        out.append(
            Fault(
                id=ids[i],
                kind=f.kind,
                location=location,
                asset=grid.asset_id(f.asset),
                asset_kind=grid.asset_kind(f.asset),
                feeder=topo.feeder_ids[feeder],
                start=t0 + _td(f.start),
                restore=t0 + _td(f.end),
                premises_out=premises,
                customers_out=customers,
                parent=ids[parent] if parent is not None else None,
                whole_feeder=bool(f.asset < grid.n_devices and grid.whole_feeder[f.asset]),
            )
        )
    return out


def _td(seconds: int) -> timedelta:
    return timedelta(seconds=int(seconds))
