"""``outage keys new | list | revoke`` and the exit codes the README promises."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from outage.api.auth import hash_key, load_keys
from outage.cli import app


def run(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def test_new_list_revoke(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    made = run("keys", "new", "--name", "duty-li", "--role", "officer", "--keys", str(keys))
    assert made.exit_code == 0, made.stderr  # type: ignore[attr-defined]
    key = made.stdout.strip()  # type: ignore[attr-defined]
    run("keys", "new", "--name", "ivr-gw", "--role", "ivr", "--rate", "500", "--keys", str(keys))
    listed = run("keys", "list", "--keys", str(keys))
    assert listed.exit_code == 0  # type: ignore[attr-defined]
    rows = orjson.loads(listed.stdout)  # type: ignore[attr-defined]
    expected = [("duty-li", ["officer"]), ("ivr-gw", ["ivr"])]
    assert [(r["name"], r["roles"]) for r in rows] == expected
    assert rows[1]["rate_per_s"] == 500
    assert key not in listed.stdout and hash_key(key) not in listed.stdout  # type: ignore[attr-defined]
    revoked = run("keys", "revoke", "--name", "duty-li", "--keys", str(keys))
    assert revoked.exit_code == 0, revoked.stderr  # type: ignore[attr-defined]
    assert orjson.loads(revoked.stdout)["revoked"] == "duty-li"  # type: ignore[attr-defined]
    assert "restart" in revoked.stderr  # type: ignore[attr-defined]
    assert [e.name for e in load_keys(keys)] == ["ivr-gw"]
    assert keys.stat().st_mode & 0o777 == 0o600


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    boss = run("keys", "new", "--name", "x", "--role", "boss", "--keys", str(keys))
    assert boss.exit_code == 2 and "boss" in boss.stderr  # type: ignore[attr-defined]
    assert not keys.exists()
    run("keys", "new", "--name", "x", "--role", "officer", "--keys", str(keys))
    twice = run("keys", "new", "--name", "x", "--role", "officer", "--keys", str(keys))
    assert twice.exit_code == 2  # type: ignore[attr-defined]
    nobody = run("keys", "revoke", "--name", "nobody", "--keys", str(keys))
    assert nobody.exit_code == 2 and "nobody" in nobody.stderr  # type: ignore[attr-defined]
    missing = run("keys", "list", "--keys", str(tmp_path / "none.yaml"))
    assert missing.exit_code == 2  # type: ignore[attr-defined]
    no_file = run("replay", str(tmp_path / "none.jsonl"))
    assert no_file.exit_code == 2  # type: ignore[attr-defined]
    unknown_option = run("keys", "list", "--nope")
    assert unknown_option.exit_code == 2  # type: ignore[attr-defined]


def test_a_broken_keys_file_is_bad_data_exit_1(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text("keys: [{name: a}]\n")
    broken = run("keys", "list", "--keys", str(keys))
    assert broken.exit_code == 1 and "keys.yaml" in broken.stderr  # type: ignore[attr-defined]
