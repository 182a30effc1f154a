"""Helpers for the hardening tests (issue 14): a real `outage serve` with the service's own
clock policy, signals stamped by the wall clock, and the demo city's premises and phones."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import httpx

from outage.bootstrap import Network
from tests.conftest import PROJECT
from tests.integration.test_serve_e2e import Service

_ids = count(1)


def now_iso(**delta: float) -> str:
    """The wall clock (the service's clock), moved by ``delta`` (``minutes=-1``)."""
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def call(premise: str, ident: str | None = None, ts: str | None = None, **extra: Any) -> Any:
    """A no-power call from ``premise``, a minute ago unless ``ts`` says otherwise."""
    return {
        "type": "call",
        "id": ident or f"h-call-{next(_ids)}",
        "ts": ts or now_iso(minutes=-1),
        "premise": premise,
    } | extra


def premises_with_phones(
    network: Network, n: int, *, last: bool = False
) -> list[tuple[str, str]]:
    """``n`` (premise, phone) pairs, each premise on its own transformer; ``last``: from the
    end of the customer list (premise ids a small city does not have)."""
    customers = network.tables.customers
    topo = network.topology
    out: list[tuple[str, str]] = []
    used: set[int] = set()
    rows = list(customers.itertuples())
    for row in reversed(rows) if last else rows:
        t = topo.premise_transformer[topo.premise_index[row.premise]]
        if t not in used and isinstance(row.phone, str) and row.phone:
            used.add(t)
            out.append((row.premise, row.phone))
            if len(out) == n:
                return out
    raise AssertionError("not enough premises with phones")


def strict_service(tmp: Path, keys: Path, *extra: str) -> Service:
    """`outage serve` with the default clock policy (the e2e `Service` turns the age limit
    off to replay old storms) and ``extra`` arguments."""
    service = Service(tmp, keys)
    if "--max-signal-age" in service.args:
        at = service.args.index("--max-signal-age")
        del service.args[at : at + 2]
    service.args += list(extra)
    return service


def run_serve(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``outage serve ARGS`` to completion (for start-ups that must fail)."""
    return subprocess.run(
        [sys.executable, "-m", "outage", "serve", *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_exit(process: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """The exit status of ``process`` (it must end within ``timeout``)."""
    return process.wait(timeout=timeout)


def incident_of(url: str, officer: dict[str, str], premise: str, timeout: float = 10) -> Any:
    """The open incident whose calls include ``premise`` (waits for the engine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = httpx.get(f"{url}/v1/incidents?limit=5000", headers=officer).json()
        for brief in listed["incidents"]:
            detail = httpx.get(f"{url}/v1/incidents/{brief['id']}", headers=officer).json()
            if any(c["premise"] == premise for c in detail["calls"]):
                return detail
        time.sleep(0.2)
    raise AssertionError(f"no incident with a call from {premise}")
