"""Redis backend: signals/s end to end with 1, 2 and 4 engine workers, against the physical
limit (``redis-benchmark`` XADD on the same machine, same run), and IVR lookup latency.

    python benchmarks/redis_bench.py [--customers 60000] [--faults 80] [--workers 1,2,4]

A private redis-server (no persistence) is started on a free port. For each worker count:
empty Redis, start N ``outage worker`` processes, wait until they share the partitions, then
push the whole storm through `RedisIntake` (one API worker, batches of 1,000) and time until
every partition's ``applied`` id reaches its stream's end. Figures go to stdout and
``.bench/redis.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from outage.bootstrap import Network  # noqa: E402
from outage.ivr import CallerQuery  # noqa: E402
from outage.redisstore.intake import RedisIntake  # noqa: E402
from outage.redisstore.ivr import RedisIvrAnswerer  # noqa: E402
from outage.redisstore.keys import Keyspace  # noqa: E402
from outage.redisstore.views import RedisViews  # noqa: E402
from outage.redisstore.worker import stream_id  # noqa: E402
from outage.signals import parse_signal  # noqa: E402
from scenarios.city_storm import CityStorm, simulate_storm  # noqa: E402

OUT = ROOT / ".bench"


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A private, non-persistent redis-server."""
    port = free_port()
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return proc, port
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def xadd_limit(port: int, pipeline: int) -> float:
    """``redis-benchmark`` XADD requests/s with a signal-sized body."""
    body = "x" * 200
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-n", "200000", "-c", "20", "-P", str(pipeline),
         "-q", "XADD", "bench:stream", "*", "id", "__rand_int__", "body", body],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = re.findall(r"([\d.]+) requests per second", out)
    redis.Redis(port=port).delete("bench:stream")
    return float(found[-1])


def run_workers(
    port: int, gpkg: Path, signals: list[Any], network: Network, workers: int
) -> dict[str, float]:
    """End-to-end signals/s with ``workers`` engine worker processes."""
    client = redis.Redis(port=port)
    client.flushall()
    keys = Keyspace()
    intake = RedisIntake(client, network, keys)
    partitions = intake.router.partitions
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "outage",
                "worker",
                "--store",
                f"redis://127.0.0.1:{port}",
                "--topology",
                str(gpkg),
                "--name",
                f"bench-{workers}-{n}",
                "--lease-ms",
                "1500",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(workers)
    ]
    try:
        deadline = time.monotonic() + 120
        while True:  # wait for a balanced share: every partition owned, by N distinct workers
            owners = [client.get(keys.partition(p).owner) for p in partitions]
            distinct = {o.split(b":")[0] for o in owners if o}
            if all(owners) and len(distinct) == workers:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers did not share the partitions: {distinct}")
            time.sleep(0.2)
        time.sleep(1.0)  # let the last rebalancing settle
        start = time.perf_counter()
        for i in range(0, len(signals), 1000):
            intake.submit(signals[i : i + 1000])
        stored = time.perf_counter()
        ends = {}
        for p in partitions:
            last = client.xrevrange(keys.partition(p).signals, count=1)
            if last:
                ends[p] = stream_id(last[0][0])
        while True:
            done = all(
                (raw := client.get(keys.partition(p).applied)) is not None and stream_id(raw) >= end
                for p, end in ends.items()
            )
            if done:
                break
            time.sleep(0.005)
        finished = time.perf_counter()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
    return {
        "workers": workers,
        "signals": len(signals),
        "intake_per_s": len(signals) / (stored - start),
        "end_to_end_per_s": len(signals) / (finished - start),
        "seconds": finished - start,
    }


def ivr_latency(port: int, network: Network, lookups: int = 5000) -> dict[str, float]:
    """IVR answers by phone, one at a time (customer index in memory, outages from Redis)."""
    client = redis.Redis(port=port)
    keys = Keyspace()
    views = RedisViews(client, RedisIntake(client, network, keys).router, keys)
    ivr = RedisIvrAnswerer(views, network.customers, network.locator)
    phones = list(network.tables.customers["phone"].astype(str))
    rng = random.Random(3)
    sample = [rng.choice(phones) for _ in range(lookups)]
    times = []
    known = 0
    for phone in sample:
        t = time.perf_counter()
        answer = ivr.answer(CallerQuery(phone=phone))
        times.append(time.perf_counter() - t)
        known += answer["known_outage"]
    us = np.array(times) * 1e6
    return {
        "lookups": lookups,
        "known_outage_share": known / lookups,
        "p50_us": float(np.percentile(us, 50)),
        "p99_us": float(np.percentile(us, 99)),
        "p999_us": float(np.percentile(us, 99.9)),
        "per_s_one_client": lookups / (sum(times)),
    }


def main() -> None:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=60_000)
    parser.add_argument("--faults", type=int, default=80)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    gpkg = OUT / f"redis-city-{args.customers}.gpkg"
    if not gpkg.exists():
        subprocess.run(
            [sys.executable, "-m", "outage", "topology", "generate", "--customers",
             str(args.customers), "--seed", "7", "--out", str(gpkg)],
            cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    network = Network.load(gpkg)
    sim = simulate_storm(
        network.topology, network.tables.customers, CityStorm(faults=args.faults, seed=11)
    )
    signals = [parse_signal(s) for s in sim.signals]
    print(f"city: {args.customers:,} customers, {len(network.topology.substation_ids)} "
          f"substations; storm: {len(signals):,} signals", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_redis(Path(tmp))
        try:
            results: dict[str, Any] = {
                "customers": args.customers,
                "signals": len(signals),
                "xadd_per_s_pipelined_32": xadd_limit(port, 32),
                "xadd_per_s_unpipelined": xadd_limit(port, 1),
                "runs": [],
            }
            print(f"redis-benchmark XADD: {results['xadd_per_s_pipelined_32']:,.0f}/s "
                  f"(pipeline 32), {results['xadd_per_s_unpipelined']:,.0f}/s (no pipeline)",
                  flush=True)  # fmt: skip
            for n in (int(w) for w in args.workers.split(",")):
                run = run_workers(port, gpkg, signals, network, n)
                results["runs"].append(run)
                print(f"{n} worker(s): {run['end_to_end_per_s']:,.0f} signals/s end to end "
                      f"(intake alone {run['intake_per_s']:,.0f}/s)", flush=True)  # fmt: skip
            results["ivr"] = ivr_latency(port, network)
            ivr = results["ivr"]
            print(f"IVR by phone from Redis: p50 {ivr['p50_us']:.0f} µs, p99 {ivr['p99_us']:.0f} "
                  f"µs, p99.9 {ivr['p999_us']:.0f} µs", flush=True)  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(10)
    (OUT / "redis.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
