"""IVR lookup latency and throughput under load, during a replayed storm.

    python benchmarks/ivr_bench.py                 # 500 req/s, 20 s per phase, storms 0/200/2000 /s
    python benchmarks/ivr_bench.py --rate 1000 --seconds 10 --storm-rates 0,500

One real `outage serve` process (uvicorn, one worker; the engine, notify and playbooks in the
same process) on the demo city. This process plays a simulated storm into ``POST /v1/signals``
in batches while it measures, at each of ``--storm-rates`` signals/s in turn (0: no storm), so
the engine is busy writing during the phases. Phases, all in this one run:

    open loop   GET /v1/ivr/lookup?phone=... at a fixed --rate (requests scheduled on a clock;
                latency counted from the scheduled time, so a stall is not hidden by the
                client waiting: no coordinated omission); then the same for GET /healthz, a
                trivial endpoint of the same app.
    closed loop --connections keep-alive connections asking as fast as they can, for the
                highest rate the process sustains, for both endpoints (at the highest storm
                rate only).

The client speaks HTTP/1.1 over raw asyncio streams (no client library on the hot path), so
the client's own overhead stays small next to the server's. The goal (p99 under 10 ms at 500
requests/s on this machine) is reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from provenance import code_state  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "topology" / "demo.gpkg"
GOAL_P99_MS = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(tmp: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """`outage serve` with a fresh admin key; returns the process, base URL and key."""
    keys = tmp / "keys.yaml"
    key = subprocess.run(
        [
            sys.executable,
            "-m",
            "outage",
            "keys",
            "new",
            "--name",
            "bench",
            "--role",
            "admin",
            "--keys",
            str(keys),
            "--rate",
            "1000000",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "outage",
            "serve",
            "--topology",
            str(DEMO),
            "--keys",
            str(keys),
            "--state-dir",
            str(tmp / "state"),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "serve.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url, key
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"server did not start: {(tmp / 'serve.log').read_text()}")


class StormFeeder(threading.Thread):
    """Posts a simulated storm in batches, paced, until stopped (then starts over with new ids)."""

    def __init__(self, url: str, key: str, signals: list[dict[str, Any]], per_s: float) -> None:
        super().__init__(daemon=True)
        self.url, self.key, self.signals, self.per_s = url, key, signals, per_s
        self.stop = threading.Event()
        self.posted = 0

    def run(self) -> None:
        batch = 100
        client = httpx.Client(headers={"Authorization": f"Bearer {self.key}"}, timeout=60)
        round_ = 0
        while not self.stop.is_set():
            for start in range(0, len(self.signals), batch):
                if self.stop.is_set():
                    return
                chunk = self.signals[start : start + batch]
                if round_:
                    chunk = [s | {"id": f"{s['id']}-r{round_}"} for s in chunk]
                began = time.perf_counter()
                client.post(f"{self.url}/v1/signals", json=chunk).raise_for_status()
                self.posted += len(chunk)
                time.sleep(max(0.0, len(chunk) / self.per_s - (time.perf_counter() - began)))
            round_ += 1


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


def _get(host: str, path: str, key: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n\r\n").encode()


async def open_loop(
    host: str, port: int, paths: list[str], key: str, rate: float, seconds: float, conns: int
) -> dict[str, Any]:
    """Requests scheduled at ``rate``/s; latency from each request's scheduled time."""
    total = int(rate * seconds)
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        while (item := await queue.get()) is not None:
            scheduled, request = item
            status = await _request(reader, writer, request)
            latencies.append(time.perf_counter() - scheduled)
            errors += status != 200
        writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(conns)]
    start = time.perf_counter() + 0.05
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, _get(f"{host}:{port}", random.choice(paths), key)))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    return _summary(latencies, errors, elapsed)


async def closed_loop(
    host: str, port: int, paths: list[str], key: str, seconds: float, conns: int
) -> dict[str, Any]:
    """``conns`` connections, each sending its next request as soon as the last returns."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            status = await _request(
                reader, writer, _get(f"{host}:{port}", random.choice(paths), key)
            )
            latencies.append(time.perf_counter() - began)
            errors += status != 200
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conns)))
    return _summary(latencies, errors, time.perf_counter() - began)


def _summary(latencies: list[float], errors: int, elapsed: float) -> dict[str, Any]:
    ms = np.array(latencies) * 1000
    return {
        "requests": len(ms),
        "errors": errors,
        "rps": round(len(ms) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop requests/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--storm-rates",
        default="0,200,2000",
        help="signals/s posted during the phases, one set of phases per rate (comma-separated)",
    )
    parser.add_argument("--faults", type=int, default=40)
    args = parser.parse_args()
    storm_rates = [float(r) for r in args.storm_rates.split(",")]

    sys.path.insert(0, str(ROOT))
    from outage.bootstrap import Network
    from scenarios.city_storm import CityStorm, simulate_storm

    network = Network.load(DEMO)
    storm = simulate_storm(
        network.topology,
        network.tables.customers,
        CityStorm(faults=args.faults, seed=5, call_rate=0.3),
    ).signals
    phones = pd.read_csv(DEMO.with_suffix(".customers.csv"), dtype=str)["phone"].dropna()
    lookups = [
        f"/v1/ivr/lookup?phone={p.replace('+', '%2B')}" for p in phones.sample(2000, random_state=1)
    ]
    endpoints = (("lookup", lookups), ("healthz", ["/healthz"]))
    results: dict[str, Any] = {}
    posted = 0
    with tempfile.TemporaryDirectory() as tmp:
        process, url, key = start_server(Path(tmp))
        host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
        try:
            for storm_rate in storm_rates:
                feeder = StormFeeder(url, key, storm, storm_rate) if storm_rate else None
                if feeder is not None:
                    feeder.start()
                    time.sleep(2.0)  # the storm is under way before the measurement
                try:
                    for name, paths in endpoints:
                        results[f"{name} open, storm {storm_rate:g}/s"] = asyncio.run(
                            open_loop(
                                host, port, paths, key, args.rate, args.seconds, args.connections
                            )
                        )
                    if storm_rate == max(storm_rates):
                        for name, paths in endpoints:
                            results[f"{name} closed, storm {storm_rate:g}/s"] = asyncio.run(
                                closed_loop(
                                    host, port, paths, key, args.seconds / 2, args.connections
                                )
                            )
                finally:
                    if feeder is not None:
                        feeder.stop.set()
                        feeder.join(timeout=30)
                        posted += feeder.posted
        finally:
            process.terminate()
            process.wait(timeout=30)

    print(
        f"IVR benchmark: demo city, one `outage serve` process (engine, notify, playbooks), "
        f"{args.rate:g} lookups/s open loop, {args.connections} connections; "
        f"{posted:,} storm signals posted in all"
    )
    columns = ("requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms")
    print(f"{'phase':<30}{columns[0]:>9}{columns[1]:>8}" + "".join(f"{c:>9}" for c in columns[2:]))
    for name, r in results.items():
        print(
            f"{name:<30}{r['requests']:>9}{r['errors']:>8}{r['rps']:>9}{r['p50_ms']:>9}"
            f"{r['p99_ms']:>9}{r['max_ms']:>9}"
        )
    ratios = {}
    for storm_rate in storm_rates:
        lookup = results[f"lookup open, storm {storm_rate:g}/s"]
        health = results[f"healthz open, storm {storm_rate:g}/s"]
        ratios[f"p99 lookup / healthz, storm {storm_rate:g}/s"] = round(
            lookup["p99_ms"] / health["p99_ms"], 2
        )
        met = lookup["p99_ms"] < GOAL_P99_MS and lookup["errors"] == 0
        ratio = ratios[f"p99 lookup / healthz, storm {storm_rate:g}/s"]
        verdict = "met" if met else "NOT met"
        print(
            f"storm {storm_rate:g} signals/s: p99 lookup {lookup['p99_ms']} ms, healthz "
            f"{health['p99_ms']} ms (ratio {ratio}) — goal p99 < {GOAL_P99_MS:g} ms at "
            f"{args.rate:g} req/s {verdict}"
        )
    top = max(storm_rates)
    ratios["max req/s lookup / healthz"] = round(
        results[f"lookup closed, storm {top:g}/s"]["rps"]
        / results[f"healthz closed, storm {top:g}/s"]["rps"],
        2,
    )
    best = ratios["max req/s lookup / healthz"]
    print(f"max req/s lookup / healthz (closed loop, storm {top:g}/s): {best}")
    out = ROOT / ".bench" / "ivr_bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "args": vars(args),
                "results": results,
                "ratios": ratios,
                "signals_posted": posted,
                "code": code_state(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
