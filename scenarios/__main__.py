"""``python -m scenarios``: make a storm for ``outage replay`` and score its STATE.json.

    python -m scenarios generate --topology data/topology/demo.gpkg --faults 10 --seed 3 \\
        --out storm.jsonl --truth truth.json [--spec spec.json] [--meters 0.8]
    outage replay storm.jsonl --topology data/topology/demo.gpkg --out state.json
    python -m scenarios score --topology data/topology/demo.gpkg --truth truth.json \\
        --state state.json [--events events.jsonl]

    python -m scenarios generate --topology data/topology/demo.gpkg --preset storm --seed 3 \\
        --out storm.jsonl --truth truth.json --roster crews.yaml [--crew-signals]
    python -m scenarios score-etr --topology data/topology/demo.gpkg --truth truth.json \\
        --events events.jsonl

``--spec`` reads a full `scenarios.spec.StormSpec` (JSON or YAML), ``--preset`` starts from
`scenarios.crews.normal_weather` or `scenarios.crews.storm` instead; ``--faults``, ``--seed``,
``--call-share``, ``--meters``, ``--crews`` (crew count, adding crews with the default
`CrewSpec` when the spec has none) and ``--crew-signals`` override it. ``--roster`` writes the
crews as the engine's roster file (YAML, or JSON for a ``.json`` name). A topology is a
GeoPackage, or an OpenDSS master file or folder. The score is judged on the final state (a
replay from the command line keeps no state before each restore; `scenarios.replay` does);
``score-etr`` judges the ETRs in the domain events (`scenarios.etr_score`). Prints JSON on
stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson
import yaml

from grid.importers import load_source
from grid.model import GridTables
from grid.topology import build_topology
from scenarios.crews import normal_weather, storm
from scenarios.etr_score import score_etr
from scenarios.generate import generate_storm
from scenarios.score import score_storm
from scenarios.spec import StormSpec
from scenarios.truth import Truth


def load_tables(path: Path) -> GridTables:
    """A GeoPackage by its suffix, anything else as OpenDSS."""
    return load_source(path, "gpkg" if path.suffix == ".gpkg" else "opendss")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m scenarios", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="draw a storm: signals JSONL + truth JSON")
    gen.add_argument("--topology", type=Path, required=True)
    gen.add_argument("--spec", type=Path)
    gen.add_argument("--preset", choices=sorted(_PRESETS), help="a crew-world preset")
    gen.add_argument("--faults", type=int)
    gen.add_argument("--seed", type=int)
    gen.add_argument("--call-share", type=float)
    gen.add_argument("--meters", type=float, help="meter delivery, 0..1")
    gen.add_argument("--crews", type=int, help="crew count (adds crews when absent)")
    gen.add_argument("--crew-signals", action="store_true", help="emit crew status signals")
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--truth", type=Path, required=True)
    gen.add_argument("--roster", type=Path, help="write the crew roster (needs crews)")
    sc = commands.add_parser("score", help="score a STATE.json against a truth JSON")
    sc.add_argument("--topology", type=Path, required=True)
    sc.add_argument("--truth", type=Path, required=True)
    sc.add_argument("--state", type=Path, required=True)
    sc.add_argument("--events", type=Path, help="domain events, one JSON object per line")
    etr = commands.add_parser("score-etr", help="score the ETRs of a replay's domain events")
    etr.add_argument("--topology", type=Path, required=True)
    etr.add_argument("--truth", type=Path, required=True)
    etr.add_argument("--events", type=Path, required=True, help="one JSON object per line")
    args = parser.parse_args(argv)
    if args.command == "generate" and args.spec is not None and args.preset is not None:
        parser.error("--spec and --preset: give one of them")
    tables = load_tables(args.topology)
    topology = build_topology(tables)
    if args.command == "generate":
        spec = _spec(args)
        if args.roster is not None and spec.crews is None:
            parser.error("--roster needs crews (--crews, --preset or crews in the spec)")
        try:
            made = generate_storm(topology, spec, customers=tables.customers)
        except ValueError as exc:  # the network has no place for this storm (nested pairs...)
            parser.exit(2, f"error: {args.topology}: {exc}\n")
        made.write(args.out, args.truth, args.roster)
        out: dict[str, Any] = {
            "signals": len(made.signals),
            "faults": len(made.truth.faults),
            "calls": len(made.truth.calls),
            "meters": len(made.truth.meters),
            "feeder": made.truth.feeder,
        }
        if spec.crews is not None:
            out["crews"] = spec.crews.count
    elif args.command == "score-etr":
        truth = Truth.from_dict(orjson.loads(args.truth.read_bytes()))
        events = [orjson.loads(line) for line in args.events.read_bytes().splitlines() if line]
        out = score_etr(topology, truth, events).to_dict()
    else:
        truth = Truth.from_dict(orjson.loads(args.truth.read_bytes()))
        state = orjson.loads(args.state.read_bytes())
        events = None
        if args.events is not None:
            events = [orjson.loads(line) for line in args.events.read_bytes().splitlines() if line]
        out = score_storm(topology, truth, state, events=events).to_dict()
    sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


_PRESETS = {"normal_weather": normal_weather, "storm": storm}


def _spec(args: argparse.Namespace) -> StormSpec:
    data: dict[str, Any] = {}
    if args.spec is not None:
        data = yaml.safe_load(args.spec.read_text()) or {}
    elif args.preset is not None:
        sized = {"faults": args.faults} if args.faults is not None else {}
        data = _PRESETS[args.preset](**sized).model_dump(mode="json")
    for name, value in (("faults", args.faults), ("seed", args.seed)):
        if value is not None:
            data[name] = value
    if args.call_share is not None:
        data["calls"] = {**data.get("calls", {}), "share": args.call_share}
    if args.meters is not None:
        data["meters"] = {**data.get("meters", {}), "delivery": args.meters}
    if args.crews is not None:
        data["crews"] = {**(data.get("crews") or {}), "count": args.crews}
    if args.crew_signals:
        data["crews"] = {**(data.get("crews") or {}), "signals": True}
    return StormSpec.model_validate(data)


if __name__ == "__main__":
    sys.exit(main())
