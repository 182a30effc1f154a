"""One place that wires a network, its lookups, the rules and the engine together."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grid.customers import CustomerIndex
from grid.io import read_gpkg
from grid.locate import Locator
from grid.model import GridTables
from grid.topology import Topology, build_topology
from outage.engine import Engine
from outage.journal import SqliteJournal
from outage.resolve import Resolver
from outage.restoration.history import RepairHistory
from outage.restoration.roster import Roster, load_roster
from outage.rules import Rules, load_rules


@dataclass
class Network:
    """A loaded network with everything the engine needs to resolve callers."""

    tables: GridTables
    topology: Topology
    customers: CustomerIndex
    locator: Locator

    @classmethod
    def from_tables(cls, tables: GridTables) -> Network:
        """Validate and index ``tables``."""
        return cls(tables, build_topology(tables), CustomerIndex(tables), Locator(tables))

    @classmethod
    def load(cls, gpkg: Path, customers: Path | None = None) -> Network:
        """Read a GeoPackage (and its customers CSV) and index it."""
        return cls.from_tables(read_gpkg(gpkg, customers))


@dataclass(frozen=True)
class RestorationSetup:
    """What the engine's restoration desk starts from: the crew roster (None: crews are
    whoever is dispatched) and the restoration-time history (the shipped default table)."""

    roster: Roster | None = None
    history: RepairHistory | None = None

    @classmethod
    def load(cls, crews: Path | None = None, history: Path | None = None) -> RestorationSetup:
        """Read ``--crews`` and ``--etr-history`` files (`RulesError` names file and field)."""
        return cls(
            load_roster(crews) if crews is not None else None,
            RepairHistory.load(history) if history is not None else None,
        )


def build_engine(
    network: Network,
    rules: Rules | Path | None = None,
    *,
    roster: Roster | Path | None = None,
    history: RepairHistory | Path | None = None,
) -> Engine:
    """An engine over ``network`` with ``rules`` (a Rules object, a YAML path, or defaults),
    the crew ``roster`` (none: crews are whoever is dispatched) and the restoration-time
    ``history`` (default: the shipped table)."""
    if not isinstance(rules, Rules):
        rules = load_rules(rules)
    if roster is not None and not isinstance(roster, Roster):
        roster = load_roster(roster)
    if not isinstance(history, RepairHistory):
        history = RepairHistory.load(history)
    resolver = Resolver(network.topology, network.customers, network.locator)
    return Engine(network.topology, resolver, rules, roster=roster, history=history)


def open_journal(path: Path | None) -> SqliteJournal | None:
    """The journal at ``path`` (created when missing), or None for an in-memory run."""
    return SqliteJournal(path) if path is not None else None
