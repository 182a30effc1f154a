"""Reading the Redis projections: what a stateless API worker answers from.

`RedisViews` reads what engine workers wrote (`projection.PartitionState`): the IVR's open
incident over a premise (one `keys.COVERING` script call per premise, pipelined, so a lookup
is one round trip), incident lists and details, storm status, the public summary, call rate
and counters. Every method raises `StoreUnavailable` when Redis cannot be reached.

System-wide storm status is an aggregate of the partitions' figures: customers out and open
incidents are summed, and the system counts as declared when any partition's engine declared
it (each engine measures the system scope with its own partition's outages only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from grid.topology import Topology
from outage.callrate import call_rate_buckets
from outage.events import iso as _iso
from outage.incidents import ON_MAP, service_key
from outage.readview import IncidentSummary
from outage.restoration.config import RestorationRules
from outage.restoration.premise_history import OutageHistory
from outage.state import drawn_asset, merge_restoration
from outage.storm import SYSTEM, StormDetector

from .connect import Client, is_cluster, unavailable
from .keys import COVERING, Keyspace
from .partition import Router, partition_of_incident, premise_chain
from .projection import CommandOutcome, summary_from_json


class PremiseOutages:
    """The answers for a set of premises, fetched at once; reads like an `OutageReadView`."""

    def __init__(
        self,
        covering: dict[int, IncidentSummary | None],
        scheduled: dict[int, list[IncidentSummary]],
    ) -> None:
        self._covering = covering
        self._scheduled = scheduled

    def covering(self, premise: int) -> IncidentSummary | None:
        """The outermost open incident over ``premise``."""
        return self._covering.get(premise)

    def scheduled_for(self, premise: int) -> list[IncidentSummary]:
        """Planned work not yet started above ``premise``, soonest first."""
        return self._scheduled.get(premise, [])


class RedisViews:
    """Readers of the Redis projections (see the module docstring)."""

    def __init__(
        self,
        client: Client,
        router: Router,
        keys: Keyspace | None = None,
        storm: StormDetector | None = None,
    ) -> None:
        self.client = client
        self.router = router
        self.topology: Topology = router.topology
        self.keys = keys or Keyspace()
        self.partitions = router.partitions
        self.detector = storm  # only for the hourly call baseline
        self._covering = client.register_script(COVERING)

    # -- IVR ------------------------------------------------------------------------------------

    def outages(self, premises: Iterable[int]) -> PremiseOutages:
        """Covering and planned incidents for ``premises``: one pipelined round trip (one
        script call per premise on a cluster)."""
        wanted = list(dict.fromkeys(premises))
        calls = []
        for premise in wanted:
            k = self.keys.partition(self.router.substation_of_premise(premise))
            calls.append(([k.open, k.summary, k.scheduled], premise_chain(self.topology, premise)))
        with unavailable("IVR lookup"):
            if is_cluster(self.client):
                # redis-py cannot pipeline scripts on a cluster; most callers have one premise.
                replies = [self._covering(keys=names, args=chain) for names, chain in calls]
            else:
                pipe = self.client.pipeline(transaction=False)
                for names, chain in calls:
                    self._covering(keys=names, args=chain, client=pipe)
                replies = pipe.execute() if calls else []
        covering: dict[int, IncidentSummary | None] = {}
        scheduled: dict[int, list[IncidentSummary]] = {}
        for premise, reply in zip(wanted, replies, strict=True):
            covering[premise] = summary_from_json(reply[0]) if reply[0] else None
            planned = [summary_from_json(r) for r in reply[1:]]
            scheduled[premise] = sorted(
                planned, key=lambda s: (s.planned_start or s.started or datetime.max, s.id)
            )
        return PremiseOutages(covering, scheduled)

    def open_summaries(self) -> list[IncidentSummary]:
        """Every incident whose asset is out now (from the IVR tables)."""
        ids_by_part = self._each("hvals", lambda k: k.open)
        out = []
        pipe = self.client.pipeline(transaction=False)
        order = []
        for partition, ids in ids_by_part.items():
            if ids:
                pipe.hmget(self.keys.partition(partition).summary, ids)
                order.append(partition)
        with unavailable("open incidents"):
            replies = pipe.execute() if order else []
        for rows in replies:
            out += [summary_from_json(r) for r in rows if r]
        return out

    # -- officer reads --------------------------------------------------------------------------

    def incidents(
        self,
        *,
        status: set[str] | None = None,
        feeder: str | None = None,
        substation: str | None = None,
        since: datetime | None = None,
        planned: bool | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Incidents matching the filters, newest first (the `Runtime.incidents` shape)."""
        briefs = self.briefs(substation)
        since_iso = _iso(since) if since is not None else None
        chosen = [
            b
            for b in briefs
            if (status is None or b["status"] in status)
            and (feeder is None or b["feeder"] == feeder)
            and (since_iso is None or _parse(b["started"]) >= since)  # type: ignore[operator]
            and (planned is None or b["planned"] == planned)
        ]
        chosen.sort(key=lambda b: (_parse(b["started"]), b["id"]), reverse=True)
        page = [_public(b) for b in chosen[offset : offset + limit]]
        return {"total": len(chosen), "offset": offset, "incidents": page}

    def briefs(self, substation: str | None = None) -> list[dict[str, Any]]:
        """Every listed (not merged) incident's brief JSON, of one substation or all."""
        parts = [substation] if substation is not None else list(self.partitions)
        rows = self._each("hvals", lambda k: k.incidents, parts)
        return [orjson.loads(r) for values in rows.values() for r in values]

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        """One incident with calls, hazards, children, merges and commands; None if unknown."""
        partition = partition_of_incident(incident_id)
        if partition is None or partition not in self.partitions:
            return None
        with unavailable("incident"):
            raw = self.client.hget(self.keys.partition(partition).detail, incident_id)
        return orjson.loads(raw) if raw else None

    def command_outcome(self, partition: str, command_id: str) -> CommandOutcome | None:
        """What the engine did with an officer command (None until it was applied)."""
        with unavailable("command outcome"):
            raw = self.client.hget(self.keys.partition(partition).outcome, command_id)
        if not raw:
            return None
        outcome: CommandOutcome = orjson.loads(raw)  # written by `PartitionState.apply`
        return outcome

    def storm_statuses(self) -> list[dict[str, Any]]:
        """Each partition's storm status JSON (`PartitionState.storm_status`), where written."""
        return [orjson.loads(v) for v in self._each("get", lambda k: k.storm).values() if v]

    def storm(self) -> dict[str, Any]:
        """Storm status per scope, the system scope aggregated (the `Runtime.storm` shape)."""
        statuses = self.storm_statuses()
        scopes: dict[str, Any] = {}
        system = {
            "declared": False,
            "declared_at": None,
            "customers_served": 0,
            "customers_out": 0,
            "open_incidents": 0,
            "calls_per_hour": 0.0,
            "baseline_per_hour": 0.0,
        }
        history, rule_sets, times = [], [], []
        for status in statuses:
            for name, scope in status["scopes"].items():
                if name != SYSTEM:
                    scopes[name] = scope
                    continue
                system["customers_served"] = scope["customers_served"]
                for field in ("customers_out", "open_incidents", "calls_per_hour"):
                    system[field] += scope[field]
                system["baseline_per_hour"] = max(
                    system["baseline_per_hour"], scope["baseline_per_hour"]
                )
                if scope["declared"]:
                    system["declared"] = True
                    first = system["declared_at"]
                    at = scope["declared_at"]
                    system["declared_at"] = min(first, at) if first else at
            history += status["history"]
            rule_sets.append(status["rule_set"])
            if status["engine_time"]:
                times.append(status["engine_time"])
        scopes[SYSTEM] = system
        return {
            "declared": system["declared"],
            "rule_set": "storm" if "storm" in rule_sets else "normal",
            "scopes": dict(sorted(scopes.items())),
            "history": sorted(history, key=lambda h: h["declared"] or ""),
            "engine_time": max(times) if times else None,
        }

    def audit(self) -> list[dict[str, Any]]:
        """Every officer command with its outcome (the `Runtime.audit_trail` rows), from each
        partition's command outcomes, oldest first; a command that reached every partition
        (a rule set, a storm) is listed once, refused if any partition refused it."""
        rows: dict[str, dict[str, Any]] = {}
        for outcomes in self._each("hvals", lambda k: k.outcome).values():
            for raw in outcomes or ():
                outcome = orjson.loads(raw)
                command = outcome.get("command")
                if command is None:
                    continue  # stored before outcomes carried their command
                row = command | {"outcome": outcome["outcome"]}
                if outcome.get("error"):
                    row["error"] = outcome["error"]
                known = rows.get(command["id"])
                if known is None or (known["outcome"] == "applied" and row["outcome"] != "applied"):
                    rows[command["id"]] = row
        return sorted(rows.values(), key=lambda r: (r["ts"], r["id"]))

    def period(self) -> tuple[datetime | None, datetime | None]:
        """(the first signal's time, the latest engine time) over every partition: the
        period the reliability indices cover, as the embedded engine's first and last."""
        statuses = self.storm_statuses()
        firsts = [datetime.fromisoformat(s["first_time"]) for s in statuses if s.get("first_time")]
        lasts = [datetime.fromisoformat(s["engine_time"]) for s in statuses if s["engine_time"]]
        return (min(firsts) if firsts else None, max(lasts) if lasts else None)

    def public_summary(self) -> dict[str, Any]:
        """Customers out per substation and totals (the `Runtime.public_summary` shape)."""
        out: dict[str, int] = {}
        summaries = self.open_summaries()
        for summary in summaries:
            out[summary.substation] = out.get(summary.substation, 0) + summary.customers
        storm = self.storm()
        served = {n: s["customers_served"] for n, s in storm["scopes"].items() if n != SYSTEM}
        return {
            "customers_out": sum(out.values()),
            "customers_served": sum(served.values()),
            "open_outages": len(summaries),
            "storm_declared": storm["declared"],
            "substations": [
                {"substation": s, "customers_out": n, "customers_served": served.get(s, 0)}
                for s, n in sorted(out.items())
            ],
            "as_of": _iso(datetime.now(UTC)),
        }

    def call_rate(self, hours: float, bucket_minutes: int) -> dict[str, Any]:
        """Calls per clock-aligned bucket (see `outage.callrate`), against the baseline."""
        minutes: dict[int, int] = {}
        for rows in self._each("hgetall", lambda k: k.calls).values():
            for minute, calls in rows.items():
                minutes[int(minute)] = minutes.get(int(minute), 0) + int(calls)
        engine_time = self.storm()["engine_time"]
        end = datetime.fromisoformat(engine_time) if engine_time else datetime.now(UTC)
        detector = self.detector

        def baseline(at: datetime) -> float:
            return detector.baseline_per_hour(SYSTEM, at) if detector else 0.0

        return call_rate_buckets(minutes, end, hours, bucket_minutes, baseline)

    def map_incidents(
        self, areas: Callable[[str, str, str], dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Open, partially restored and scheduled incidents with their drawn areas."""
        rows = []
        for brief in self.briefs():
            if brief["status"] in ON_MAP:
                row = _public(brief) | {"hazard_tickets": brief.get("hazard_tickets", [])}
                row["area"] = areas(row["id"], *drawn_asset(row))
                rows.append(row)
        return rows

    def restoration(self) -> dict[str, Any]:
        """Work orders, crews, substation ETRs, follow-ups of every partition, merged (the
        `Runtime.restoration` shape)."""
        blobs = self._each("get", lambda k: k.restoration).values()
        return merge_restoration([orjson.loads(b) for b in blobs if b])

    def premise_history(self, premise: str, rules: RestorationRules) -> dict[str, Any] | None:
        """The premise's recent outages (the `Runtime.premise_history` shape), from the
        records its partition keeps per asset: its transformer's and those above it."""
        number = self.topology.premise_index.get(premise)
        if number is None:
            return None
        topo = self.topology
        transformer = topo.premise_transformer[number]
        device = topo.transformer_device[transformer]
        chain = [topo.device_ids[d] for d in topo.device_chain[device]] if device >= 0 else []
        fields = [topo.transformer_ids[transformer], *chain]
        fields += [f"flag:{fields[0]}", service_key(premise)]
        partition = self.router.substation_of_premise(number)
        keys = self.keys.partition(partition)
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(keys.history, fields)
        pipe.get(keys.restoration)
        with unavailable("reading outage history"):
            found, status = pipe.execute()
        history = OutageHistory(topo, rules)
        history.restore({f: orjson.loads(v) for f, v in zip(fields, found, strict=True) if v})
        as_of = orjson.loads(status)["as_of"] if status else None
        return history.of_premise(
            number, datetime.fromisoformat(as_of) if as_of else datetime.now(UTC)
        )

    def quarantined(self) -> list[dict[str, Any]]:
        """Every partition's quarantined messages (``partition`` added), by stream entry."""
        rows = []
        for partition, found in self._each("hgetall", lambda k: k.quarantine).items():
            rows += [orjson.loads(raw) | {"partition": partition} for raw in found.values()]
        return sorted(rows, key=lambda r: (r["partition"], r["entry"]))

    def counters(self) -> dict[str, float]:
        """Summed partition counters (incidents_open, calls_received, calls_suppressed, ...)."""
        total: dict[str, float] = {}
        for rows in self._each("hgetall", lambda k: k.stats).values():
            for name, value in rows.items():
                key = name.decode() if isinstance(name, bytes) else name
                total[key] = total.get(key, 0.0) + float(value)
        return total

    def _each(
        self, command: str, key: Callable[[Any], str], parts: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """``command`` on one key of every partition, pipelined: partition -> reply."""
        names = list(parts if parts is not None else self.partitions)
        pipe = self.client.pipeline(transaction=False)
        for partition in names:
            getattr(pipe, command)(key(self.keys.partition(partition)))
        with unavailable(f"reading {command}"):
            replies = pipe.execute()
        return dict(zip(names, replies, strict=True))


def _public(brief: dict[str, Any]) -> dict[str, Any]:
    """A brief without the map-only fields (the `Runtime.incidents` row shape)."""
    return {k: v for k, v in brief.items() if k != "hazard_tickets"}


def _parse(ts: str | None) -> datetime | None:
    return datetime.fromisoformat(ts) if ts else None
