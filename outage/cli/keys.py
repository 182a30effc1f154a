"""``outage keys new | list | revoke``: API keys with roles, stored hashed in a keys file.

The key itself is printed once by ``new`` and stored nowhere (only its SHA-256 is); ``list``
shows who holds which roles without any secret; ``revoke`` takes a key out of the file — a
running service reads the file when it starts, so restart it for the revocation to bite.
Exit codes: 1 for a keys file that cannot be read or written, 2 for a bad argument.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from outage.api.auth import ROLES, KeyEntry, append_key, hash_key, load_keys, new_key, remove_key
from outage.cli.output import emit_json, err, fail
from outage.errors import ConfigError

app = typer.Typer(
    help="API keys: create, list and revoke keys with roles (stored hashed).",
    no_args_is_help=True,
)
KeysFile = Annotated[Path, typer.Option(help="Keys file.")]


@app.command("new")
def new(
    name: Annotated[str, typer.Option(help="Who uses the key (unique).")],
    role: Annotated[
        list[str], typer.Option(help=f"Role(s): {', '.join(ROLES)}. Repeat for several.")
    ],
    keys: KeysFile = Path("keys.yaml"),
    rate: Annotated[float, typer.Option(help="Requests per second allowed.", min=0.01)] = 50.0,
) -> None:
    """Create a key: prints it once on stdout and stores only its SHA-256 in the keys file."""
    unknown = [r for r in role if r not in ROLES]
    if unknown:
        fail(f"--role: unknown role(s) {', '.join(unknown)}; expected {', '.join(ROLES)}", 2)
    key = new_key()
    entry = KeyEntry(name=name, sha256=hash_key(key), roles=tuple(role), rate_per_s=rate)  # type: ignore[arg-type]
    try:
        append_key(keys, entry)
    except ConfigError as exc:
        fail(str(exc), 2 if "already exists" in str(exc) else 1)
    sys.stdout.write(key + "\n")
    err.print(f"added {name!r} ({', '.join(role)}) to {keys}; the key is shown only this once")


@app.command("list")
def list_keys(keys: KeysFile = Path("keys.yaml")) -> None:
    """The keys in the file as JSON: name, roles, rate — never a key or its hash."""
    if not keys.exists():
        fail(f"--keys: no such file {keys}", 2)
    try:
        entries = load_keys(keys)
    except ConfigError as exc:
        fail(str(exc))
    emit_json(
        [
            {"name": e.name, "roles": list(e.roles), "rate_per_s": e.rate_per_s, "burst": e.burst}
            for e in entries
        ]
    )


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Option(help="The key to take out of the file.")],
    keys: KeysFile = Path("keys.yaml"),
) -> None:
    """Remove a key from the keys file (restart the service for it to stop working)."""
    if not keys.exists():
        fail(f"--keys: no such file {keys}", 2)
    try:
        gone = remove_key(keys, name)
    except ConfigError as exc:
        fail(str(exc), 2 if "no key named" in str(exc) else 1)
    emit_json({"revoked": gone.name, "roles": list(gone.roles)})
    err.print(f"revoked {gone.name!r} in {keys}; restart `outage serve` for it to take effect")
