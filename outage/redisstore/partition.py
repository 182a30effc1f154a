"""Partitions: which stream a message belongs to, and one engine per partition.

A partition is a substation (its feeders are independent radial trees) or ``system`` for what
names no substation: warnings, and calls whose caller cannot be placed. The API worker resolves
each signal with the in-memory topology and customer index — the same lookups the engine makes —
so every report about one substation's network lands in that substation's stream, in order.

Each partition is applied by its own `PartitionEngine`: its state depends only on its own
stream, so a worker that takes a partition over rebuilds it exactly by replaying that stream,
whatever other partitions it holds. Incident and ticket ids carry the partition
(``INC-substation.s001-000001``) so ids from different partitions never collide, and an
officer command is routed by the incident it names.
"""

from __future__ import annotations

from grid.errors import AssetNotFound
from grid.topology import NO_DEVICE, Topology
from outage.bootstrap import Network, RestorationSetup
from outage.commands import GLOBAL_ACTIONS, Command
from outage.engine import Engine
from outage.incidents import service_key
from outage.resolve import Resolver
from outage.rules import Rules
from outage.signals import (
    CallSignal,
    CrewSignal,
    FollowUpSignal,
    MeterSignal,
    PlannedSignal,
    RestoreSignal,
    ScadaSignal,
    Signal,
    TickSignal,
)

from .keys import SYSTEM_PARTITION

Message = Signal | Command


class PartitionEngine(Engine):
    """An `Engine` whose incident and ticket ids name its partition, and which measures the
    system-wide storm scope but takes its declaration from `storm.SystemStorm`."""

    def __init__(
        self,
        partition: str,
        network: Network,
        rules: Rules,
        restoration: RestorationSetup | None = None,
    ) -> None:
        resolver = Resolver(network.topology, network.customers, network.locator)
        setup = restoration or RestorationSetup()
        super().__init__(
            network.topology,
            resolver,
            rules,
            id_scope=partition,
            roster=setup.roster,
            history=setup.history,
            decides_system_storm=False,  # `outage.redisstore.storm.SystemStorm` decides it
        )
        self.partition = partition


def partition_of_incident(incident: str) -> str | None:
    """The partition named in an incident or ticket id (None for an id not made here)."""
    head, sep, number = incident.rpartition("-")
    kind, sep2, partition = head.partition("-")
    if not (sep and sep2 and number.isdigit() and kind in ("INC", "TKT") and partition):
        return None
    return partition


class Router:
    """Maps a message to its partition(s) with the topology and customer index."""

    def __init__(self, network: Network, *, max_m: float = 150.0) -> None:
        self.network = network
        self.topology: Topology = network.topology
        self.max_m = max_m
        self.partitions: tuple[str, ...] = (*self.topology.substation_ids, SYSTEM_PARTITION)

    def route(self, message: Message) -> tuple[str, ...]:
        """The partitions ``message`` goes to (several only for global officer commands)."""
        if isinstance(message, Command):
            if message.action in GLOBAL_ACTIONS:
                return self.partitions
            assert message.incident is not None  # the command's validator requires it
            found = partition_of_incident(message.incident)
            return (found,) if found in self.partitions else (SYSTEM_PARTITION,)
        if isinstance(message, TickSignal):  # every engine's clock moves on
            return self.partitions
        return (self.partition(message),)

    def partition(self, signal: Signal) -> str:
        """The partition of one signal (``system`` when it names no known asset)."""
        topo = self.topology
        premise: int | None = None
        if isinstance(signal, CrewSignal | FollowUpSignal) and signal.incident is not None:
            # The job's partition. Which order a crew works on lives in the engines, not
            # here: over Redis a crew names its incident in every report (docs/redis.md).
            found = partition_of_incident(signal.incident)
            return found if found in self.partitions else SYSTEM_PARTITION
        if isinstance(signal, CallSignal):
            premise = self._caller(signal)
        elif isinstance(signal, FollowUpSignal):
            premise = self._customer(signal.premise, signal.account, signal.phone)
        elif isinstance(signal, MeterSignal):
            premise = topo.premise_index.get(signal.premise)
        elif isinstance(signal, ScadaSignal | PlannedSignal | RestoreSignal):
            return self._asset(signal.device)
        if premise is None:
            return SYSTEM_PARTITION
        return self.substation_of_premise(premise)

    def substation_of_premise(self, premise: int) -> str:
        """The substation id feeding premise number ``premise``."""
        topo = self.topology
        feeder = topo.transformer_feeder[topo.premise_transformer[premise]]
        return str(topo.substation_ids[topo.feeder_substation[feeder]])

    def _asset(self, asset: str) -> str:
        topo = self.topology
        device = topo.device_index.get(asset)
        if device is not None:
            feeder = topo.device_feeder[device]
        else:
            transformer = topo.transformer_index.get(asset)
            if transformer is None:
                return SYSTEM_PARTITION
            feeder = topo.transformer_feeder[transformer]
        return str(topo.substation_ids[topo.feeder_substation[feeder]])

    def _caller(self, call: CallSignal) -> int | None:
        """The caller's premise as the engine would find it; for a phone or address shared by
        several premises, the first one (the engine's tie-break needs outage state, which lives
        in the partition; see docs/redis.md)."""
        if call.premise is None and call.lon is not None and call.lat is not None:
            try:
                hit = self.network.locator.nearest(
                    call.lon, call.lat, kind="premise", max_m=self.max_m
                )
            except (AssetNotFound, ValueError):
                return None
            return self.topology.premise_index.get(hit.id)
        return self._customer(call.premise, call.account, call.phone, call.address)

    def _customer(
        self,
        premise: str | None,
        account: str | None,
        phone: str | None,
        address: str | None = None,
    ) -> int | None:
        """The premise named by id, account, phone or address (the first of several)."""
        index = self.topology.premise_index
        customers = self.network.customers
        try:
            if premise is not None:
                return index.get(premise)
            if account is not None:
                return index.get(customers.by_account(account))
            if phone is not None:
                found = customers.by_phone(phone)
            elif address is not None:
                found = customers.by_address(address)
            else:
                return None
        except (AssetNotFound, ValueError):
            return None
        numbers = [index[p] for p in found if p in index]
        return numbers[0] if numbers else None


def premise_chain(topology: Topology, premise: int) -> list[str]:
    """The assets whose outage takes ``premise`` out: its own service drop (`service_key`),
    its transformer, then devices nearest first (the order `OutageReadView.covering` walks)."""
    transformer = topology.premise_transformer[premise]
    chain = [service_key(topology.premise_ids[premise]), str(topology.transformer_ids[transformer])]
    device = topology.transformer_device[transformer]
    if device != NO_DEVICE:
        chain.extend(str(topology.device_ids[d]) for d in topology.device_chain[device])
    return chain
