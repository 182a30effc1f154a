"""The storm generator and its scorers are blind to the engine: only the harnesses that drive
it — `scenarios.replay` (the engine) and `scenarios.player` (the running service) — import
`outage` (pyproject's import-linter contract says the same)."""

from __future__ import annotations

import ast
from pathlib import Path

import scenarios

#: What the player may use: the service it plays into and the vocabulary of what it posts.
PLAYER_MAY = ("outage.api.", "outage.signals", "outage.incidents", "outage.ivr")


def test_only_the_harness_imports_the_engine() -> None:
    package = Path(scenarios.__file__).parent
    for path in sorted(package.glob("*.py")):
        names: list[str] = []
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.extend(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.append(node.module)
        engine = [n for n in names if n == "outage" or n.startswith("outage.")]
        if path.name == "replay.py":
            assert "outage.rules" not in engine and not any("restoration" in n for n in engine)
        elif path.name == "player.py":  # plays a storm through the running service's API
            assert all(n.startswith(PLAYER_MAY) for n in engine), engine
        else:
            assert not engine, f"{path.name} imports {engine}"
