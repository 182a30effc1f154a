"""The system-wide storm over Redis: one decision from every partition's figures.

Each partition's engine sees only its own substation's outages and calls, so it measures the
system scope but does not declare it (`PartitionEngine`: ``decides_system_storm=False``).
`SystemStorm` sums what the partitions measured — customers out, open incidents, calls in the
rate window (each partition writes them to its ``storm`` key on every batch) — and applies the
very rules an embedded engine applies to the whole network (`outage.storm.assess` and
`transition`, the system thresholds, the hold time). A change becomes a ``storm`` command
(``declare`` / ``stand_down``, by ``storm-aggregator``) sent to every partition through the
ordinary intake: each partition journals it in its stream and applies it in order, so its
``StormDeclared`` event and its switch to the storm priors replay exactly.

Any engine worker may run `step`; the decision is written compare-and-set on its generation
(`keys.STORM_CAS`), so two workers deciding at once make one decision, and the command id is
the generation (``storm-system-<n>``), so sending it again after a crash is a duplicate, never
a second declaration. The decision's clock is the latest engine time of the partitions (event
time, as in the embedded engine); clear time counts, as there, from when the open incidents
last changed (the latest change of any partition).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from outage.bootstrap import Network
from outage.commands import Command
from outage.rules import Rules
from outage.storm import SYSTEM, assess, transition

from . import replies
from .connect import Client, unavailable
from .intake import RedisIntake
from .keys import STORM_CAS, Keyspace
from .views import RedisViews

log = logging.getLogger(__name__)
BY = "storm-aggregator"


class SystemStorm:
    """Decides the system-wide storm over all partitions (see the module docstring)."""

    def __init__(
        self, client: Client, network: Network, rules: Rules, keys: Keyspace | None = None
    ) -> None:
        self.client = client
        self.keys = keys or Keyspace()
        self.intake = RedisIntake(client, network, self.keys)
        self.views = RedisViews(client, self.intake.router, self.keys)
        self.limits = rules.storm_detection.system
        self.served = int(network.topology.transformer_customers.sum())
        self._cas = client.register_script(STORM_CAS)

    def figures(self) -> dict[str, Any] | None:
        """The system's figures summed over the partitions (None before any engine ran)."""
        out = incidents = 0
        calls = baseline = 0.0
        times, changes = [], []
        for status in self.views.storm_statuses():
            scope = status["scopes"].get(SYSTEM)
            if scope is None:
                continue
            measured = scope["measured"]
            out += measured["customers_out"]
            incidents += measured["open_incidents"]
            # calls per hour over the window back to calls in it (each partition's own)
            calls += measured["calls_per_hour"] * self.limits.rate_window_minutes / 60
            baseline = max(baseline, scope["baseline_per_hour"])
            if status["engine_time"]:
                times.append(datetime.fromisoformat(status["engine_time"]))
            if status.get("changed_at"):
                changes.append(datetime.fromisoformat(status["changed_at"]))
        if not times:
            return None
        return {
            "now": max(times),
            "changed_at": max(changes) if changes else max(times),
            "customers_out": out,
            "open_incidents": incidents,
            "calls": round(calls),
            "baseline_per_hour": baseline,
        }

    def state(self) -> dict[str, str]:
        """The stored decision (empty before the first)."""
        with unavailable("reading the system storm"):
            raw = self.client.hgetall(self.keys.system_storm)
        return {k.decode(): v.decode() for k, v in replies.fields(raw).items()}

    def step(self) -> str | None:
        """Evaluate once; returns "declare" or "stand_down" when this call decided one."""
        state = self.state()
        self._deliver(state)
        figures = self.figures()
        if figures is None:
            return None
        now: datetime = figures["now"]
        reasons, clear, _ = assess(
            self.limits,
            self.served,
            figures["customers_out"],
            figures["open_incidents"],
            figures["calls"],
            figures["baseline_per_hour"],
        )
        declared_at = _time(state.get("declared_at"))
        clear_since = _time(state.get("clear_since"))
        if declared_at is not None and now < declared_at:
            return None  # figures older than the decision (a partition lagging): wait
        new_declared, new_clear, action = transition(
            declared_at,
            clear_since,
            now,
            figures["changed_at"],
            bool(reasons),
            clear,
            timedelta(minutes=self.limits.stand_down_minutes),
        )
        if (new_declared, new_clear) == (declared_at, clear_since):
            return None
        generation = int(state.get("generation", "0"))
        fields: dict[str, str] = {
            "declared_at": _iso(new_declared),
            "clear_since": _iso(new_clear),
        }
        command: Command | None = None
        if action is not None:
            reason = "; ".join(reasons) if reasons else "every figure clear for the hold time"
            command = Command(
                id=f"storm-system-{generation + 1}",
                ts=now,
                by=BY,
                action="storm",
                storm="declare" if action == "declare" else "stand_down",
                reason=f"system: {reason}",
            )
            fields |= {"generation": str(generation + 1), "command": command.model_dump_json()}
        args: list[str] = [str(generation)]
        for name, value in fields.items():
            args += [name, value]
        with unavailable("writing the system storm"):
            written = self._cas(keys=[self.keys.system_storm], args=args)
        if not written or command is None:
            return None
        log.info("system storm: %s at %s (%s)", action, now.isoformat(), command.reason)
        self._deliver(self.state())
        return action

    def _deliver(self, state: dict[str, str]) -> None:
        """Send the latest decision's command to every partition unless it was (again after a
        crash between deciding and sending: the intake reports it a duplicate)."""
        generation = state.get("generation")
        if not generation or state.get("delivered") == generation:
            return
        command = Command.model_validate_json(state["command"])
        self.intake.submit([command])
        with unavailable("writing the system storm"):
            self.client.hset(self.keys.system_storm, "delivered", generation)


def _time(raw: str | None) -> datetime | None:
    return datetime.fromisoformat(raw) if raw else None


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""
