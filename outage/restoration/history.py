"""Restoration-time history: how long outages and repairs take, as log-normal cells.

Four measures, all in minutes:

* ``outage`` — from a work order's opening (the outage predicted) to power back, everything
  included: finding the fault, travel, repair;
* ``repair`` — from the crew on site to power back;
* ``dispatch`` — from the order's opening to a crew dispatched to it;
* ``mobilise`` — from dispatch to the crew on its way (or, without an "en route" report, the
  time to site less the straight-line travel);
* ``calibration`` — not minutes but a ratio: the time an order actually took from its first
  estimate, over the time that estimate's median gave it (`Estimator.calibrated`).

Each is a table of cells keyed by (asset kind, cause, time of day, weather) with the log-normal
median and σ of its durations, and how many restorations it was fit from. Repair times are
right-skewed and multiplicative (a job twice as big takes about twice as long), which is why
the log-normal is the usual model for them (IEEE 1366 practice, utility ETR literature).

A lookup walks from the most specific cell to the most general along one chain:
``(kind, cause, period, weather) -> (kind, *, period, weather) -> (kind, *, *, weather)
-> (*, *, *, weather) -> (*, *, *, *)``, taking the first cell present. `fit` builds a table
from a journal's own restorations with each cell shrunk towards its parent on that chain
(a cell with few restorations stays close to its parent; empirical Bayes with a prior weight
of ``prior_weight`` restorations), so a rare kind at night does not get an ETR from three
samples.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from statistics import NormalDist
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field

from outage.configfile import load_model
from outage.errors import RulesError
from outage.incidents import Status

ANY = "*"
Measure = Literal["outage", "repair", "dispatch", "mobilise", "calibration"]
MEASURES: tuple[Measure, ...] = ("outage", "repair", "dispatch", "mobilise", "calibration")
#: Smallest value a fit takes in (minutes; a ratio for calibration).
_FLOOR = {"calibration": 0.01}
Period = Literal["day", "evening", "night"]
_STANDARD = NormalDist()


@functools.cache
def _default_file() -> HistoryFile:
    text = resources.files("outage.restoration").joinpath("default_history.yaml").read_text()
    return HistoryFile.model_validate(yaml.safe_load(text))


def _survival(z: float) -> float:
    """1 - Φ(z), accurate far into the upper tail (erfc, not 1 - cdf)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def period_of(at: datetime, zone: ZoneInfo) -> Period:
    """Time of day in the utility's zone: day 07-19, evening 19-23, night 23-07 (crews are
    on call, not on shift, at night)."""
    hour = at.astimezone(zone).hour
    if 7 <= hour < 19:
        return "day"
    if 19 <= hour < 23:
        return "evening"
    return "night"


class Cell(BaseModel):
    """One log-normal cell: durations whose logarithm has mean ln(median) and sd ``sigma``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = ANY
    cause: str = ANY
    period: str = ANY
    weather: str = ANY
    median: Annotated[float, Field(gt=0, description="minutes")]
    sigma: Annotated[float, Field(gt=0, le=3)]
    n: Annotated[int, Field(ge=0, description="restorations it was fit from (0: a prior)")] = 0

    @property
    def key(self) -> tuple[str, str, str, str]:
        """(kind, cause, period, weather)."""
        return (self.kind, self.cause, self.period, self.weather)

    @property
    def mu(self) -> float:
        """Mean of the log duration."""
        return math.log(self.median)

    def quantile(self, q: float, elapsed: float = 0.0) -> float:
        """The ``q`` quantile in minutes, given that ``elapsed`` minutes have already passed
        without restoration (the conditional quantile: an outage that outlived its first ETR
        gets a later one, by the same rule). Computed on the survival side, so that an outage
        far in the tail still gets a quantile beyond ``elapsed``."""
        if elapsed <= 0:
            return math.exp(self.mu + self.sigma * _STANDARD.inv_cdf(q))
        z = (math.log(elapsed) - self.mu) / self.sigma
        tail = (1.0 - q) * _survival(z)  # S(t) = (1 - q) S(e)
        if tail <= 0.0:
            return elapsed  # beyond what a float can tell apart
        inverse = -_STANDARD.inv_cdf(tail) if tail < 0.5 else _STANDARD.inv_cdf(1.0 - tail)
        return max(math.exp(self.mu + self.sigma * inverse), elapsed)

    @property
    def mean(self) -> float:
        """Expected duration in minutes."""
        return math.exp(self.mu + self.sigma**2 / 2)

    @property
    def variance(self) -> float:
        """Variance of the duration in minutes²."""
        return (math.exp(self.sigma**2) - 1.0) * math.exp(2 * self.mu + self.sigma**2)

    def remaining_mean(self, elapsed: float) -> float:
        """Expected minutes still to go once ``elapsed`` minutes have passed:
        E[T | T > e] - e, with E[T | T > e] = e^(μ+σ²/2) Φ(σ - z) / (1 - Φ(z)), z = (ln e - μ)/σ."""
        if elapsed <= 0:
            return self.mean
        z = (math.log(elapsed) - self.mu) / self.sigma
        tail = _survival(z)
        if tail <= 0.0:
            return 0.0
        return max(self.mean * _survival(z - self.sigma) / tail - elapsed, 0.0)


class HistoryFile(BaseModel):
    """The YAML shape of a history table."""

    model_config = ConfigDict(extra="forbid")

    source: str = "default"
    prior_weight: Annotated[float, Field(ge=0)] = 10.0
    outage: Annotated[list[Cell], Field(min_length=1)]
    repair: Annotated[list[Cell], Field(min_length=1)]
    #: Optional in a file: missing, the default table's cells are used.
    dispatch: list[Cell] = []
    mobilise: list[Cell] = []
    calibration: list[Cell] = []


def chain(key: tuple[str, str, str, str]) -> list[tuple[str, str, str, str]]:
    """``key`` then each more general key a lookup falls back to (module docstring)."""
    kind, cause, period, weather = key
    out = [
        (kind, cause, period, weather),
        (kind, ANY, period, weather),
        (kind, ANY, ANY, weather),
        (ANY, ANY, ANY, weather),
        (ANY, ANY, ANY, ANY),
    ]
    return list(dict.fromkeys(out))  # a key with wildcards already repeats its parents


@dataclass
class RepairHistory:
    """Both tables, indexed by key (see the module docstring)."""

    source: str
    prior_weight: float
    tables: dict[str, dict[tuple[str, str, str, str], Cell]]
    #: measure -> (its table, key -> the cell `cell` found there).
    _found: dict[str, tuple[dict[Any, Cell], dict[tuple[str, str, str, str], Cell]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def from_file(cls, document: HistoryFile) -> RepairHistory:
        """The tables of a history file (measures it leaves out come from the default)."""
        tables: dict[str, dict[tuple[str, str, str, str], Cell]] = {}
        for name in MEASURES:
            cells: list[Cell] = getattr(document, name)
            if not cells and name not in ("outage", "repair"):
                cells = getattr(_default_file(), name)
            tables[name] = {c.key: c for c in cells}
        for measure, table in tables.items():
            if (ANY, ANY, ANY, ANY) not in table:
                raise ValueError(f"{measure}: needs a cell with every key '*' (the fallback)")
        return cls(document.source, document.prior_weight, tables)

    @classmethod
    def default(cls) -> RepairHistory:
        """The table shipped with the engine (``default_history.yaml``)."""
        return cls.from_file(_default_file())

    @classmethod
    def load(cls, path: Path | None) -> RepairHistory:
        """A table from a YAML file (`RulesError` names the file, line or field), or the
        default for None."""
        if path is None:
            return cls.default()
        document = load_model(path, HistoryFile, "restoration history")
        try:
            return cls.from_file(document)
        except ValueError as exc:
            raise RulesError(f"{path}: {exc}") from None

    def cell(self, measure: Measure, key: tuple[str, str, str, str]) -> Cell:
        """The most specific cell for ``key`` along its `chain`."""
        table = self.tables[measure]
        # Remembered per table (the storm plan asks for every order every minute); a table
        # replaced whole is looked up afresh.
        memo = self._found.get(measure)
        if memo is None or memo[0] is not table:
            memo = self._found[measure] = (table, {})
        found = memo[1].get(key)
        if found is None:
            found = memo[1][key] = self._lookup(table, key)
        return found

    @staticmethod
    def _lookup(
        table: dict[tuple[str, str, str, str], Cell], key: tuple[str, str, str, str]
    ) -> Cell:
        for candidate in chain(key):
            found = table.get(candidate)
            if found is not None:
                return found
        raise AssertionError("the fallback cell is checked at load")

    def to_file(self) -> HistoryFile:
        """The table as its YAML shape."""

        def ordered(table: dict[tuple[str, str, str, str], Cell]) -> list[Cell]:
            return sorted(table.values(), key=lambda c: (c.key.count(ANY) * -1, c.key))

        return HistoryFile(
            source=self.source,
            prior_weight=self.prior_weight,
            **{name: ordered(self.tables[name]) for name in MEASURES},
        )

    def dump(self) -> str:
        """The table as YAML."""
        return yaml.safe_dump(
            self.to_file().model_dump(mode="json"), sort_keys=False, allow_unicode=True
        )


@dataclass(frozen=True, slots=True)
class Restoration:
    """One finished work order, as the history is fit from it (minutes)."""

    kind: str
    cause: str
    period: str
    weather: str
    outage_minutes: float
    repair_minutes: float | None
    dispatch_minutes: float | None = None
    mobilise_minutes: float | None = None
    #: time taken from the first estimate / the time its median gave
    calibration_ratio: float | None = None

    def value(self, measure: str) -> float | None:
        """This record's value for ``measure``."""
        if measure == "calibration":
            return self.calibration_ratio
        return getattr(self, f"{measure}_minutes")  # type: ignore[no-any-return]


def restorations(events: Iterable[Any], zone: ZoneInfo) -> list[Restoration]:
    """The restored work orders among domain events (`WorkOrderClosed` objects or their
    JSON dicts), as records to `fit` — what ``outage etr fit`` reads from a journal."""
    out: list[Restoration] = []
    for event in events:
        data = event if isinstance(event, dict) else None
        if data is None:
            if type(event).__name__ != "WorkOrderClosed":
                continue
            data = {f: getattr(event, f) for f in ("outcome", "opened", "at", "kind", "cause")}
            data |= {
                "weather": event.weather,
                "restoration_minutes": event.restoration_minutes,
                "dispatch_minutes": event.dispatch_minutes,
                "mobilise_minutes": event.mobilise_minutes,
                "estimate_ratio": event.estimate_ratio,
            }
        elif data.get("type") != "WorkOrderClosed":
            continue
        if data["outcome"] != Status.RESTORED:
            continue
        opened, closed = _when(data["opened"]), _when(data["at"])
        out.append(
            Restoration(
                kind=str(data["kind"]),
                cause=str(data["cause"]),
                period=period_of(opened, zone),
                weather=str(data["weather"]),
                outage_minutes=max((closed - opened).total_seconds() / 60, 1.0),
                repair_minutes=data["restoration_minutes"],
                dispatch_minutes=data.get("dispatch_minutes"),
                mobilise_minutes=data.get("mobilise_minutes"),
                calibration_ratio=data.get("estimate_ratio"),
            )
        )
    return out


def _when(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def fit(
    records: Iterable[Restoration], prior: RepairHistory, *, source: str = "fitted"
) -> RepairHistory:
    """A table fit from ``records``: every key on the chain of a record that has one gets a
    cell, each shrunk towards its parent (the top cell towards ``prior``'s)."""
    rows = list(records)
    weight = prior.prior_weight
    tables: dict[str, dict[tuple[str, str, str, str], Cell]] = {}
    for measure in MEASURES:
        logs: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
        for row in rows:
            value = row.value(measure)
            if value is None:
                continue
            log = math.log(max(value, _FLOOR.get(measure, 1.0)))
            for key in chain((row.kind, row.cause, row.period, row.weather)):
                logs[key].append(log)
        table: dict[tuple[str, str, str, str], Cell] = {}
        # General keys first, so every cell's parent is fit before it.
        for key in sorted(logs, key=lambda k: (-k.count(ANY), k)):
            parents = chain(key)[1:]
            parent = next((table[p] for p in parents if p in table), None)
            if parent is None:
                parent = prior.cell(measure, key)
            table[key] = _shrunk(key, logs[key], parent, weight)
        for key, cell in prior.tables[measure].items():
            table.setdefault(key, cell)  # keys never seen keep the prior's cell
        tables[measure] = table
    return RepairHistory(source, weight, tables)


def _shrunk(key: tuple[str, str, str, str], logs: list[float], parent: Cell, weight: float) -> Cell:
    """Posterior-mean log-normal: ``logs`` pooled with ``weight`` pseudo-restorations drawn
    from ``parent`` (normal-inverse-gamma conjugate update, point estimates)."""
    n = len(logs)
    mean = sum(logs) / n
    squares = sum((x - mean) ** 2 for x in logs)
    mu = (n * mean + weight * parent.mu) / (n + weight)
    between = n * weight / (n + weight) * (mean - parent.mu) ** 2
    spread = squares + weight * parent.sigma**2 + between
    sigma = math.sqrt(spread / (n + weight)) if n + weight > 0 else parent.sigma
    kind, cause, period, weather = key
    return Cell(
        kind=kind,
        cause=cause,
        period=period,
        weather=weather,
        median=round(math.exp(mu), 2),
        sigma=round(min(max(sigma, 0.05), 3.0), 4),
        n=n,
    )
