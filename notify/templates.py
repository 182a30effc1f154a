"""Message texts: Jinja2 templates per kind and language, measured for SMS length.

Texts live in YAML (``notify/templates.yaml`` by default, or ``templates:`` in notify.yaml) as
``kind: {zh-CN: ..., en: ...}``. Loading renders every template with long sample values and
refuses any that would need more than ``max_segments`` parts, so an overlong text is a start-up
error naming the file and the kind, not a surprise on the operator's bill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import yaml

from notify.config import MESSAGE_KINDS
from notify.encoding import Length, measure
from notify.errors import ConfigError

DEFAULT_TEMPLATES = Path(__file__).with_name("templates.yaml")
LANGUAGES = ("zh-CN", "en")
REPLY_KINDS = (
    "reply_stop",
    "reply_start",
    "reply_out",
    "reply_status",
    "reply_follow_up",
    "reply_status_none",
    "reply_help",
    "reply_unknown_number",
)
#: Long sample values used to check that every template fits ``max_segments``.
_SAMPLE: dict[str, Any] = {
    "incident": "INC-000000",
    "etr": "12月31日23:59",
    "estimated": True,  # the longer wording
    "start": "12月31日23:59",
    "end": "12月31日23:59",
    "reason": "线路检修 line maintenance",
    "text": "x" * 40,
    "ref": "INC-000000",
    "status": "x" * 40,
}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered text with its SMS length."""

    text: str
    length: Length


def format_time(when: datetime | None, language: str, zone: str) -> str | None:
    """A short local time for an SMS: ``7月1日18:30`` or ``Jul 1 18:30``."""
    if when is None:
        return None
    try:
        local = when.astimezone(ZoneInfo(zone))
    except (OverflowError, ValueError):  # the edge of datetime's range: say it as given
        local = when
    if language == "zh-CN":
        return f"{local.month}月{local.day}日{local:%H:%M}"
    return f"{local:%b} {local.day} {local:%H:%M}"


class Templates:
    """Compiled templates; `render` gives text and length for one kind and language."""

    def __init__(self, path: Path | None = None, *, max_segments: int = 4) -> None:
        self.path = path or DEFAULT_TEMPLATES
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
        raw = self._read(self.path)
        self._compiled: dict[tuple[str, str], jinja2.Template] = {}
        for kind in (*MESSAGE_KINDS, *REPLY_KINDS):
            per_language = raw.get(kind)
            for language in LANGUAGES:
                where = f"{self.path}: {kind}.{language}"
                if not isinstance(per_language, dict) or not isinstance(
                    per_language.get(language), str
                ):
                    raise ConfigError(f"{where}: missing template text")
                try:
                    template = env.from_string(per_language[language])
                    sample = template.render(_SAMPLE)
                except jinja2.TemplateError as exc:
                    raise ConfigError(f"{where}: {exc}") from None
                segments = measure(sample).segments
                if segments > max_segments:
                    raise ConfigError(
                        f"{where}: needs {segments} SMS parts with long values "
                        f"(max_segments is {max_segments})"
                    )
                self._compiled[kind, language] = template

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read templates: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected kind: {{language: text}} mappings")
        return raw

    def render(self, kind: str, language: str, **context: Any) -> Rendered:
        """Render ``kind`` in ``language`` (English for a language without templates)."""
        template = self._compiled.get((kind, language)) or self._compiled[kind, "en"]
        text = template.render(context).strip()
        return Rendered(text, measure(text))
