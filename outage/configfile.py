"""Reading a YAML configuration file into a pydantic model, with errors people can act on:
the file and line of a YAML mistake, the file and field of an invalid value."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from outage.errors import RulesError

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path, what: str) -> Any:
    """The YAML document at ``path`` (an empty file is ``{}``); `RulesError` names the file
    (and line) when it cannot be read or parsed. ``what`` says what the file is for."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise RulesError(f"{path}: cannot read {what} ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise RulesError(f"{path}{line}: not valid YAML ({exc})") from exc


def load_model(path: Path, model: type[M], what: str) -> M:
    """``path`` validated as ``model``; `RulesError` names the file and each bad field."""
    document = read_yaml(path, what)
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise RulesError(f"{path}: {describe(exc)}") from None


def describe(exc: ValidationError) -> str:
    """``field.path: message`` for each problem, joined by ``; ``."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'document'}: "
        f"{e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors(include_url=False)
    )
