"""Which code a benchmark measured: the commit, and uncommitted changes under outage/ or grid/."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def code_state() -> dict[str, Any]:
    """The commit measured, and whether outage/ or grid/ had uncommitted changes then."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else ""

    diff = git("diff", "HEAD", "--", "outage", "grid")
    return {
        "commit": git("rev-parse", "--short", "HEAD").strip() or None,
        "uncommitted": sorted(git("diff", "HEAD", "--name-only", "--", "outage", "grid").split()),
        "diff_sha1": hashlib.sha1(diff.encode()).hexdigest()[:12] if diff else None,
    }
