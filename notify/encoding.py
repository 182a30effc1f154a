"""SMS length awareness: GSM 03.38 (GSM-7) or UCS-2, and how many parts a text needs.

A single SMS carries 140 octets: 160 GSM-7 septets or 70 UCS-2 characters. A concatenated
message spends 6 octets per part on the UDH, leaving 153 septets or 67 UCS-2 characters. GSM-7
extension-table characters (``^{}\\[~]|€`` and form feed) take an escape plus the character,
so they count twice, and an escape pair is never split across parts; likewise a UTF-16
surrogate pair (an emoji) is never split. One character outside GSM-7 makes the whole text
UCS-2 — which is why a Chinese message fits 70 characters, not 160.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True, slots=True)
class Length:
    """How a text travels: its encoding, its size in units (septets or UTF-16 code units),
    and the number of SMS parts it needs."""

    encoding: Encoding
    units: int
    segments: int


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` is in the GSM-7 default or extension table."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def _unit_sizes(text: str) -> tuple[Encoding, list[int]]:
    if is_gsm7(text):
        return "GSM-7", [2 if c in GSM7_EXTENSION else 1 for c in text]
    return "UCS-2", [2 if ord(c) > 0xFFFF else 1 for c in text]


def _pack(sizes: list[int], per_part: int) -> int:
    """Parts needed when a character's units never straddle two parts."""
    parts, used = 1, 0
    for size in sizes:
        if used + size > per_part:
            parts, used = parts + 1, 0
        used += size
    return parts


def measure(text: str) -> Length:
    """Encoding, units and SMS part count of ``text`` (an empty text still takes one part)."""
    encoding, sizes = _unit_sizes(text)
    units = sum(sizes)
    single, multi = (160, 153) if encoding == "GSM-7" else (70, 67)
    segments = 1 if units <= single else _pack(sizes, multi)
    return Length(encoding, units, segments)
