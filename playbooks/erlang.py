"""Erlang C staffing: agents needed for a service-level target, numerically stable.

The textbook formula divides ``A**N / N!`` by a sum of such terms; both overflow a float long
before a storm's traffic does (``170!`` is the last finite factorial). The Erlang B recursion

    B(0, A) = 1,    B(k, A) = A·B(k-1, A) / (k + A·B(k-1, A))

stays between 0 and 1 for any N and A, and Erlang C follows from it:

    C(N, A) = N·B / (N - A·(1 - B))

With ``A`` the offered traffic in Erlangs (calls × AHT / interval) and ``N > A`` agents:

* probability a call waits        P_w = C(N, A)
* service level within t seconds  SL  = 1 - P_w · exp(-(N - A) · t / AHT)
* average speed of answer         ASA = P_w · AHT / (N - A)
* occupancy                       A / N

`required_staff` searches the smallest N that meets the service-level target *and* keeps
occupancy at or below the maximum, then adds shrinkage (breaks, training, sickness):
positions = ceil(N / (1 - shrinkage)).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from playbooks.errors import StaffingError

#: No hotline staffs more than this; a search past it means the inputs are wrong.
MAX_AGENTS = 100_000


def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability of ``agents`` servers offered ``traffic`` Erlangs (Erlang B)."""
    if agents < 0 or traffic < 0:
        raise StaffingError("agents and traffic must be >= 0")
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic * blocking / (k + traffic * blocking)
    return blocking


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a call waits (Erlang C); 1.0 when ``agents <= traffic`` (no steady
    state: the queue grows without bound)."""
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    blocking = erlang_b(agents, traffic)
    return agents * blocking / (agents - traffic * (1 - blocking))


@dataclass(frozen=True, slots=True)
class Staffing:
    """The answer of `required_staff` (the ``outage staffing`` JSON)."""

    agents: int  #: agents answering calls, before shrinkage
    positions: int  #: people to roster: agents / (1 - shrinkage), rounded up
    service_level: float  #: share answered within the target time at ``agents``
    asa_s: float  #: average speed of answer, seconds
    occupancy: float  #: traffic / agents
    p_wait: float  #: probability a call waits at all
    traffic_erlangs: float  #: offered traffic

    def as_json(self) -> dict[str, float | int]:
        """The CLI contract's keys (rounded for people), then the traffic."""
        out: dict[str, float | int] = {
            key: round(value, 4) if isinstance(value, float) else value
            for key, value in asdict(self).items()
        }
        out["asa_s"] = round(self.asa_s, 2)
        return out


def service_level(agents: int, traffic: float, aht_s: float, answer_s: float) -> float:
    """Share of calls answered within ``answer_s`` seconds with ``agents`` agents."""
    if traffic == 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    wait = erlang_c(agents, traffic)
    return max(0.0, 1.0 - wait * math.exp(-(agents - traffic) * answer_s / aht_s))


def required_staff(
    calls: float,
    interval_s: float,
    aht_s: float,
    *,
    target_sl: float = 0.8,
    target_answer_s: float = 20.0,
    max_occupancy: float = 1.0,
    shrinkage: float = 0.0,
) -> Staffing:
    """Smallest staffing for ``calls`` arriving in ``interval_s`` seconds (see module doc).

    Raises `StaffingError` naming the argument that is out of range.
    """
    _check(calls, interval_s, aht_s, target_sl, target_answer_s, max_occupancy, shrinkage)
    traffic = calls * aht_s / interval_s
    if traffic == 0:  # nobody calls: nobody needs to answer
        return Staffing(0, 0, 1.0, 0.0, 0.0, 0.0, 0.0)
    # Start where occupancy is already within bounds; SL rises monotonically with N from there.
    # Start where the queue is stable (N > A) and occupancy within bounds; SL only rises from
    # there as N grows, so the first N that meets the target is the answer.
    agents = max(math.floor(traffic) + 1, math.ceil(traffic / max_occupancy - 1e-9))
    while service_level(agents, traffic, aht_s, target_answer_s) < target_sl:
        agents += 1
        if agents > MAX_AGENTS:
            raise StaffingError(f"more than {MAX_AGENTS} agents needed; check --calls/--aht-s")
    wait = erlang_c(agents, traffic)
    return Staffing(
        agents=agents,
        positions=math.ceil(agents / (1 - shrinkage) - 1e-9),
        service_level=service_level(agents, traffic, aht_s, target_answer_s),
        asa_s=wait * aht_s / (agents - traffic),
        occupancy=traffic / agents,
        p_wait=wait,
        traffic_erlangs=traffic,
    )


def _check(
    calls: float,
    interval_s: float,
    aht_s: float,
    target_sl: float,
    target_answer_s: float,
    max_occupancy: float,
    shrinkage: float,
) -> None:
    rules = (
        ("calls", calls, calls >= 0 and math.isfinite(calls), "must be >= 0"),
        ("interval_s", interval_s, interval_s > 0, "must be > 0"),
        ("aht_s", aht_s, aht_s > 0 and math.isfinite(aht_s), "must be > 0"),
        ("target_sl", target_sl, 0 < target_sl < 1, "must be between 0 and 1 (exclusive)"),
        ("target_answer_s", target_answer_s, target_answer_s >= 0, "must be >= 0"),
        ("max_occupancy", max_occupancy, 0 < max_occupancy <= 1, "must be in (0, 1]"),
        ("shrinkage", shrinkage, 0 <= shrinkage < 1, "must be in [0, 1)"),
    )
    for name, value, ok, why in rules:
        if not ok:
            raise StaffingError(f"{name} {why}, got {value!r}", field=name)
