"""A JSON response rendered by orjson (datetimes, dataclasses and large lists, fast)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response


class Json(Response):
    """``application/json`` via orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Serialise ``content`` (already-encoded bytes pass through)."""
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
