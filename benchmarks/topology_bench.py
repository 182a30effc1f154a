"""Topology benchmark: load + build time and peak memory per city size, lookups per second,
and the import path (`outage topology import`: read, validate + trace, write) per model.

    python benchmarks/topology_bench.py                 # 10k, 100k, 1M customers + imports
    python benchmarks/topology_bench.py --sizes 10000   # a quick run
    python benchmarks/topology_bench.py --sizes 0 --imports ieee8500,cim123,city-1000000

Cities are generated once into ``.bench/`` (same seed, same city). Each size is loaded in a
fresh child process so its peak RSS is its own. Figures go to stdout as a table and to
``.bench/topology.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench"


def city_path(customers: int) -> Path:
    """The cached GeoPackage for a city of ``customers``."""
    return BENCH / f"city-{customers}.gpkg"


def ensure_city(customers: int) -> Path:
    """Generate the city once (deterministic, seed 7)."""
    from grid.io import write_gpkg
    from grid.synthetic import CitySpec, generate_city

    target = city_path(customers)
    if not target.exists():
        print(f"generating {customers:,}-customer city -> {target}", file=sys.stderr)
        write_gpkg(generate_city(CitySpec(customers=customers, seed=7)), target)
    return target


def child(customers: int) -> dict[str, float]:
    """Runs in a fresh process: load + build, then lookups; returns the figures."""
    from grid.customers import CustomerIndex
    from grid.io import read_gpkg
    from grid.locate import Locator
    from grid.topology import build_topology

    started = time.perf_counter()
    tables = read_gpkg(city_path(customers))
    loaded = time.perf_counter()
    topology = build_topology(tables)
    built = time.perf_counter()
    peak_build_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rng = np.random.default_rng(1)
    sample = rng.integers(0, len(topology.premise_ids), 200_000).tolist()
    chain = topology.premise_chain
    t0 = time.perf_counter()
    for premise in sample:
        chain(premise)
    chain_rate = len(sample) / (time.perf_counter() - t0)

    ids = [topology.premise_ids[p] for p in sample[:50_000]]
    index = topology.premise_index
    t0 = time.perf_counter()
    for pid in ids:
        chain(index[pid])
    by_id_rate = len(ids) / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    customers_index = CustomerIndex(tables)
    index_s = time.perf_counter() - t0
    sample_size = min(20_000, len(tables.customers))
    phones = tables.customers["phone"].sample(sample_size, random_state=1).tolist()
    t0 = time.perf_counter()
    for phone in phones:
        customers_index.by_phone(phone)
    phone_rate = len(phones) / (time.perf_counter() - t0)

    locator = Locator(tables)
    xs = tables.premises.geometry.x.to_numpy()
    ys = tables.premises.geometry.y.to_numpy()
    pick = rng.integers(0, len(xs), 5_000)
    lons = xs[pick] + rng.normal(0, 0.0001, len(pick))
    lats = ys[pick] + rng.normal(0, 0.0001, len(pick))
    locator.nearest(float(lons[0]), float(lats[0]))  # builds the premise tree
    t0 = time.perf_counter()
    for lon, lat in zip(lons.tolist(), lats.tolist(), strict=True):
        locator.nearest(lon, lat, max_m=200)
    nearest_rate = len(pick) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    locator.nearest_many(lons, lats, "premise", 200)
    nearest_bulk_rate = len(pick) / (time.perf_counter() - t0)
    return {
        "customers": customers,
        "load_s": round(loaded - started, 2),
        "build_s": round(built - loaded, 2),
        "load_build_s": round(built - started, 2),
        "peak_rss_mib": round(peak_build_mib),
        "chain_lookups_per_s": round(chain_rate),
        "chain_by_premise_id_per_s": round(by_id_rate),
        "customer_index_build_s": round(index_s, 2),
        "phone_lookups_per_s": round(phone_rate),
        "nearest_premise_per_s": round(nearest_rate),
        "nearest_premise_bulk_per_s": round(nearest_bulk_rate),
    }


SHARED = ROOT.parent / "shared" / "data"
#: Import cases: name -> (source, format). ``city-N`` imports the cached N-customer city.
IMPORTS = {
    "ieee8500": (SHARED / "opendss" / "IEEE8500" / "Master_protected.dss", "opendss"),
    "ckt5": (SHARED / "opendss" / "ckt5", "opendss"),
    "cim123": (SHARED / "cim" / "IEEE123.xml", "cim"),
}


def import_child(name: str) -> dict[str, float | str]:
    """Runs in a fresh process: the steps of ``outage topology import`` for one model."""
    from grid.importers import load_source
    from grid.io import write_gpkg
    from grid.topology import build_topology

    if name.startswith("city-"):
        src, fmt = ensure_city(int(name.removeprefix("city-"))), "gpkg"
    else:
        src, fmt = IMPORTS[name]
    started = time.perf_counter()
    tables = load_source(src, fmt)
    read = time.perf_counter()
    build_topology(tables)
    built = time.perf_counter()
    write_gpkg(tables, BENCH / f"import-{name}.gpkg")
    written = time.perf_counter()
    return {
        "model": name,
        "premises": len(tables.premises),
        "read_s": round(read - started, 2),
        "validate_trace_s": round(built - read, 2),
        "write_s": round(written - built, 2),
        "import_s": round(written - started, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _table(title: str, rows: list[dict[str, object]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for key in rows[0]:
        table.add_column(key.replace("_", " "), justify="right")
    for row in rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row.values()))
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--imports", default="ieee8500,ckt5,cim123,city-1000000")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--import-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    if args.import_child:
        print(json.dumps(import_child(args.import_child)))
        return
    BENCH.mkdir(exist_ok=True)
    rows = []
    for size in (int(s) for s in args.sizes.split(",") if int(s) > 0):
        ensure_city(size)
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(size)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if rows:
        _table("topology benchmark (one process per size)", rows)
    imports = []
    for name in (n for n in args.imports.split(",") if n):
        if name.startswith("city-"):
            ensure_city(int(name.removeprefix("city-")))
        elif not IMPORTS[name][0].exists():
            print(f"skipping {name}: {IMPORTS[name][0]} not found", file=sys.stderr)
            continue
        out = subprocess.run(
            [sys.executable, __file__, "--import-child", name],
            capture_output=True,
            text=True,
            check=True,
        )
        imports.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if imports:
        _table("outage topology import: read, validate + trace, write (one process each)", imports)
    (BENCH / "topology.json").write_text(json.dumps({"cities": rows, "imports": imports}, indent=2))


if __name__ == "__main__":
    main()
