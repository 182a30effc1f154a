"""Read playbook YAML files; every problem names the file, the line and the field.

``load_playbook`` reads one file, ``load_playbooks`` a list of files and folders (every
``*.yaml`` / ``*.yml`` in a folder except rosters), rejecting two playbooks with one id. A
validation error such as ``library/surge.yaml:12: when.call_rate.multiple: Input should be
greater than 1`` points at the line of the offending key, found by walking the YAML node tree
along pydantic's error location.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from playbooks.errors import PlaybookFileError
from playbooks.model import Playbook

M = TypeVar("M", bound=BaseModel)
LIBRARY = Path(__file__).with_name("library")
#: Files in a playbook folder that are not playbooks.
NOT_PLAYBOOKS = ("roster",)


@dataclass(frozen=True)
class LoadedPlaybook:
    """A validated playbook and the file it came from (rosters resolve relative to it)."""

    playbook: Playbook
    path: Path

    @property
    def folder(self) -> Path:
        """The folder the playbook file is in."""
        return self.path.parent


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """A YAML document and its node tree (for line numbers); errors name file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PlaybookFileError(str(path), f"cannot read ({exc.strerror})") from exc
    try:
        return yaml.safe_load(text), yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlaybookFileError(str(path), f"not valid YAML: {problem}", line=line) from None


def validate(
    model: type[M], document: Any, path: Path, node: yaml.Node | None, prefix: tuple[Any, ...] = ()
) -> M:
    """``model`` from ``document``; the first error becomes a `PlaybookFileError` (all of
    them are in its detail) naming the field and the line of the YAML key."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = []
        for error in errors:
            field = ".".join(str(p) for p in (*prefix, *error["loc"])) or "document"
            problems.append(f"{field}: {error['msg'].removeprefix('Value error, ')}")
        first = errors[0]
        line = line_of(node, (*prefix, *first["loc"]))
        field = ".".join(str(p) for p in (*prefix, *first["loc"]))
        detail = problems[0].split(": ", 1)[1] if field else problems[0]
        if len(problems) > 1:
            detail += " (also " + "; ".join(problems[1:]) + ")"
        raise PlaybookFileError(str(path), detail, line=line, field=field) from None


def line_of(node: yaml.Node | None, location: Sequence[Any]) -> int | None:
    """1-based line of the deepest node along ``location`` (a pydantic error ``loc``)."""
    if node is None:
        return None
    best = node.start_mark.line + 1
    for part in location:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    best = key.start_mark.line + 1
                    child = value
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
            best = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return best


def load_playbook(path: Path) -> LoadedPlaybook:
    """Read and validate one playbook file."""
    document, node = read_yaml(path)
    if not isinstance(document, dict):
        raise PlaybookFileError(str(path), "a playbook is a mapping (id, title, when, then...)")
    return LoadedPlaybook(validate(Playbook, document, Path(path), node), Path(path))


def playbook_files(paths: Iterable[Path]) -> list[Path]:
    """The playbook files among ``paths`` (folders expand to their YAML files, sorted)."""
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files.extend(
                p
                for p in sorted(path.iterdir())
                if p.suffix in (".yaml", ".yml") and not p.stem.startswith(NOT_PLAYBOOKS)
            )
        elif path.exists():
            files.append(path)
        else:
            raise PlaybookFileError(str(path), "no such file or folder")
    return files


def load_playbooks(paths: Iterable[Path] = (LIBRARY,)) -> list[LoadedPlaybook]:
    """Every playbook in ``paths`` (default: the shipped library); ids must be unique."""
    loaded: list[LoadedPlaybook] = []
    seen: dict[str, Path] = {}
    for path in playbook_files(paths):
        item = load_playbook(path)
        other = seen.get(item.playbook.id)
        if other is not None:
            raise PlaybookFileError(
                str(path), f"id {item.playbook.id!r} is already used by {other}", field="id"
            )
        seen[item.playbook.id] = path
        loaded.append(item)
    if not loaded:
        raise PlaybookFileError(", ".join(str(p) for p in paths), "no playbook files found")
    return loaded
