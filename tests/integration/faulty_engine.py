"""`outage serve` or `outage worker` with a fault injected into the engine: ``Engine.handle``
raises on every message whose id starts with ``poison-`` — the stand-in for an engine bug a
signal trips over, which the service must quarantine instead of dying on or retrying.

    python -m tests.integration.faulty_engine serve --topology ... --state-dir ...
    python -m tests.integration.faulty_engine worker --store redis://... ...
"""

from __future__ import annotations

import sys
from typing import Any

from outage.engine import Engine

POISON = "poison-"
_handle = Engine.handle


def _faulty(self: Engine, message: Any) -> Any:
    if message.id.startswith(POISON):
        raise RuntimeError(f"injected engine failure on {message.id}")
    return _handle(self, message)


if __name__ == "__main__":
    Engine.handle = _faulty  # type: ignore[method-assign]
    from outage.cli import app

    app(sys.argv[1:], prog_name="outage")
