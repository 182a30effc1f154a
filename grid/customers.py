"""Who is calling: account, phone number or address -> premise(s), and premise -> accounts.

`CustomerIndex` normalises every phone number and address once, when it is built (about a
second per 100,000 customers), into dicts, so each lookup is one normalisation of the caller's
input plus O(1) dict work.

Phone numbers are compared in E.164 (``+8613800138000``). Parsing with ``phonenumbers`` costs
~20 µs a number, i.e. 20 s for a million customers, so `normalise_phone` first drops the
separators people type (spaces, ``-``, ``.``, ``(``, ``)``) and tries two exact shapes
that cover nearly all stored and typed numbers and need no parsing (~1 µs):

* already E.164 with a known country code and a national part not starting with 0
  (``+8613800138000``) - taken as written. For every valid number this is exactly what
  ``phonenumbers`` returns (E.164 is a fixed point of parse-and-format); only malformed
  strings of this shape would be "repaired" differently, and those are kept as written.
* with region CN, an 11-digit mainland mobile number ``1[3-9]xxxxxxxxx`` - prefixed ``+86``.

Everything else (``0086``/``011`` prefixes, a trunk ``0``, numbers without a country code
outside CN mobiles, letters...) goes through ``phonenumbers``; the bulk path additionally
normalises each distinct value only once. The tests check both shapes against
``phonenumbers`` (for CN mobiles and every region's example numbers).

Addresses are compared after `normalise_address` (width, case, punctuation, whitespace and
common English abbreviations folded away; see its docstring).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import phonenumbers

from grid.errors import AssetNotFound
from grid.model import CUSTOMER_COLUMNS, GridTables

_V = TypeVar("_V")
IntArray = npt.NDArray[np.int64]

# Country codes are prefix-free (ITU-T E.164), so this alternation can only match one way.
# re.ASCII: \d must not accept full-width or other non-ASCII digits (those go to phonenumbers).
_COUNTRY_CODES: Final = "|".join(str(c) for c in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE))
_E164: Final = re.compile(rf"\+(?=\d{{8,15}}$)(?:{_COUNTRY_CODES})[1-9]\d*", re.ASCII)
_CN_MOBILE: Final = re.compile(r"1[3-9]\d{9}", re.ASCII)
# Separators people put inside numbers; phonenumbers ignores them too.
_PHONE_SEPARATORS: Final = re.compile(r"[ \t\-.()]+")
_TRUE: Final = frozenset({"1", "true", "yes", "y", "t"})


# ---------------------------------------------------------------------------------------------
# phone numbers


def normalise_phone(raw: str, region: str = "CN") -> str:
    """``raw`` in E.164 (``"+86 138 0013 8000"`` -> ``"+8613800138000"``).

    ``region`` (ISO 3166 code, e.g. ``"CN"``, ``"US"``) says how to read numbers written
    without a country code. Raises `ValueError` naming the input when it is not a possible
    phone number. See the module docstring for the shapes taken without parsing.
    """
    return _normalise_phone(str(raw), _check_region(region))


def normalise_phones(raw: Iterable[object], region: str = "CN") -> list[str | None]:
    """Bulk `normalise_phone`: None for blank or unreadable values instead of raising.

    Each distinct value is normalised once, so repeated numbers cost one dict look-up.
    """
    region = _check_region(region)
    values = _Coded.of(_text(pd.Series(list(raw), dtype=object)))
    return [e164 or None for e164 in values.map(lambda v: _phone_or_blank(v, region)).values()]


def _normalise_phone(raw: str, region: str) -> str:
    """`normalise_phone` with ``region`` already checked (the bulk path calls this directly)."""
    text = raw.strip()
    # Stored numbers are mostly clean already: try them as they are before compacting.
    fast = _fast_shape(text, region) or _fast_shape(_PHONE_SEPARATORS.sub("", text), region)
    if fast:
        return fast
    if not text:
        raise ValueError("phone number is blank")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(
            f"cannot read {raw!r} as a phone number (region {region}): {exc}"
        ) from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"{raw!r} is not a possible phone number (region {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _fast_shape(compact: str, region: str) -> str | None:
    """E.164 for the two shapes that need no parsing (see the module docstring), else None."""
    if _E164.fullmatch(compact):
        return compact
    if region == "CN" and _CN_MOBILE.fullmatch(compact):
        return "+86" + compact
    return None


def _phone_or_blank(raw: str, region: str) -> str:
    """E.164, or ``""`` for a blank or unreadable value."""
    try:
        return _normalise_phone(raw, region)
    except ValueError:
        return ""


def _check_region(region: str) -> str:
    code = str(region).strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            f"region must be an ISO 3166 country code phonenumbers knows, got {region!r}"
        )
    return code


# ---------------------------------------------------------------------------------------------
# addresses

#: Whole-word English abbreviations (after casefolding), USPS style.
ADDRESS_ABBREVIATIONS: Final[dict[str, str]] = {
    "street": "st",
    "road": "rd",
    "avenue": "ave",
    "av": "ave",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "terrace": "ter",
    "highway": "hwy",
    "parkway": "pkwy",
    "square": "sq",
    "apartment": "apt",
    "suite": "ste",
    "floor": "fl",
    "building": "bldg",
    "number": "no",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
}
# Punctuation that only separates words. NFKC has already turned full-width forms into ASCII;
# the CJK marks listed here have no ASCII compatibility form.
_SEPARATORS: Final = re.compile(r"[\s,.;:!?()\[\]{}<>\"_~|、。〃〈〉《》「」『』【】〔〕·・]+")
# '-', '#' and '/' carry meaning (unit 12-3, #5, 3/F) but the spaces around them do not.
_JOINERS: Final = re.compile(r" ?([-#/]) ?")
_DASHES: Final = re.compile("[‐‑‒–—―−]")  # NFKC leaves these; '-' is what people type
_APOSTROPHES: Final = re.compile("['‘’`´]")  # O'Connell == OConnell (dropped, not a space)
_CJK: Final = r"\u2e80-\u9fff\uf900-\ufaff\uac00-\ud7af"
_SPACE_BY_CJK: Final = re.compile(rf"(?<=[{_CJK}]) | (?=[{_CJK}])")


def normalise_address(raw: str) -> str:
    """A comparison key for an address: equal keys mean "the same address as written".

    Steps: NFKC (full-width digits/letters/punctuation -> ASCII), casefold, dashes unified to
    ``-`` and apostrophes dropped, separator punctuation (``, . ; : ( )`` and CJK marks) turned
    into spaces, spaces around ``- # /`` removed (they stay, as they distinguish units), whole
    words abbreviated per `ADDRESS_ABBREVIATIONS`, whitespace collapsed, and whitespace next
    to CJK characters removed (Chinese addresses are written without spaces; ``号`` and the
    other characters stay). So ``"12 Main St."``, ``"12 main street"`` and ``"１２ Main  St"``
    are all ``"12 main st"``, and ``"北京市 朝阳区 建国路 88 号"`` is ``"北京市朝阳区建国路88号"``.
    """
    # Each regex below is skipped when a cheap test shows it cannot match: a million
    # addresses are normalised when an index is built.
    text = unicodedata.normalize("NFKC", str(raw)).casefold()
    ascii_only = text.isascii()
    if not ascii_only:
        text = _DASHES.sub("-", text)
    if not ascii_only or "'" in text or "`" in text:
        text = _APOSTROPHES.sub("", text)
    text = _SEPARATORS.sub(" ", text)  # whitespace is now single spaces
    if "-" in text or "#" in text or "/" in text:
        text = _JOINERS.sub(r"\1", text)
    text = " ".join([ADDRESS_ABBREVIATIONS.get(word, word) for word in text.split()])
    return text if ascii_only else _SPACE_BY_CJK.sub("", text)


# ---------------------------------------------------------------------------------------------
# the index


class CustomerIndex:
    """Account / phone / address -> premise ids and premise -> customer records.

    Built from ``tables.customers`` and ``tables.premises`` (whose own ``address`` column is
    indexed too, so a network without a customer table can still be searched by address).
    Rows with a blank or unreadable phone are not reachable by phone; their accounts are
    listed in ``unreadable_phones`` for data-quality reports. Duplicate accounts resolve to
    their first row (validation reports the duplicates).
    """

    def __init__(self, tables: GridTables, *, region: str = "CN") -> None:
        self.region = _check_region(region)
        customers = tables.customers.reindex(columns=list(CUSTOMER_COLUMNS))
        accounts = _text(customers["account"])
        premises = _text(customers["premise"])
        raw_phones = _text(customers["phone"])
        phones = _Coded.of(raw_phones).map(lambda v: _phone_or_blank(v, self.region))
        self._phones: list[str | None] = [e164 or None for e164 in phones.values()]
        self._accounts = accounts
        self._names = _text(customers["name"])
        self._languages = [lang or "zh-CN" for lang in _text(customers["language"])]
        self._priorities = [p or "normal" for p in _text(customers["priority"])]
        self._sms_opt_in = _flags(customers["sms_opt_in"])
        self.unreadable_phones: tuple[str, ...] = tuple(
            a
            for a, raw, e164 in zip(accounts, raw_phones, self._phones, strict=True)
            if raw and e164 is None
        )

        premise_ids = _text(tables.premises["id"])
        self._premise_ids = frozenset(premise_ids)
        # Built from the last row back so that the first row of a duplicated account wins.
        self._by_account = dict(zip(reversed(accounts), reversed(premises), strict=True))
        self._by_account.pop("", None)
        # One factorisation of every premise id mentioned, shared by the indexes below.
        owners = _Coded.of(premise_ids + premises)
        customer_premises = owners[len(premise_ids) :]
        rows = list(range(len(premises)))
        self._rows_of_premise = _Multimap(
            customer_premises, np.arange(len(rows)), rows, dedupe=False
        )
        self._by_phone = _Multimap(phones, customer_premises.codes, customer_premises.names)
        # Premise addresses first (file order), then any other address customers give; one
        # column so that an address written the same way in both is normalised once.
        addresses = _Coded.of(_text(tables.premises["address"]) + _text(customers["address"]))
        self._by_address = _Multimap(addresses.map(normalise_address), owners.codes, owners.names)

    def by_account(self, account: str) -> str:
        """The premise id of customer ``account``; `AssetNotFound` if there is no such account."""
        premise = self._by_account.get(str(account).strip())
        if premise is None:
            raise AssetNotFound(f"no customer account {account!r}")
        if not premise:
            raise AssetNotFound(f"customer account {account!r} names no premise")
        return premise

    def by_phone(self, raw: str, region: str | None = None) -> list[str]:
        """Premise ids of every account with phone ``raw``, in table order, each once.

        ``region`` overrides the index's region for reading ``raw``. `ValueError` if ``raw``
        is not a phone number; `AssetNotFound` if no account has it.
        """
        e164 = normalise_phone(raw, region or self.region)
        premises = self._by_phone.get(e164)
        if premises is None:
            raise AssetNotFound(f"no customer with phone {raw!r} ({e164})")
        return premises

    def by_address(self, raw: str) -> list[str]:
        """Premise ids at address ``raw`` (compared via `normalise_address`), each once.

        `ValueError` if ``raw`` is blank after normalising; `AssetNotFound` if nothing matches.
        """
        key = normalise_address(raw)
        if not key:
            raise ValueError(f"address {raw!r} is blank")
        premises = self._by_address.get(key)
        if premises is None:
            raise AssetNotFound(f"no premise at address {raw!r} (normalised {key!r})")
        return premises

    def accounts_of_premise(self, premise: str) -> list[dict[str, Any]]:
        """Customer records of ``premise`` in table order.

        Each is ``{"account", "phone" (E.164 or None), "name", "language", "sms_opt_in",
        "priority"}``. `AssetNotFound` if the premise is unknown or has no accounts (the
        message says which).
        """
        rows = self._rows_of_premise.get(premise)
        if rows is None:
            if premise in self._premise_ids:
                raise AssetNotFound(f"premise {premise!r} has no customer accounts")
            raise AssetNotFound(f"no premise with id {premise!r}")
        return [
            {
                "account": self._accounts[row],
                "phone": self._phones[row],
                "name": self._names[row],
                "language": self._languages[row],
                "sms_opt_in": self._sms_opt_in[row],
                "priority": self._priorities[row],
            }
            for row in rows
        ]


@dataclass(frozen=True, slots=True)
class _Coded:
    """A column as codes into its distinct values: row ``i`` holds ``names[codes[i]]``."""

    codes: IntArray
    names: list[str]

    @classmethod
    def of(cls, values: list[str]) -> _Coded:
        codes, uniques = pd.factorize(np.asarray(values, dtype=object))
        return cls(codes.astype(np.int64), np.asarray(uniques, dtype=object).tolist())

    def map(self, normalise: Callable[[str], str]) -> _Coded:
        """``normalise`` applied to every row, calling it once per distinct value."""
        mapped = _Coded.of([normalise(name) for name in self.names])
        return _Coded(mapped.codes[self.codes], mapped.names)

    def values(self) -> list[str]:
        """The column as plain strings."""
        rows: list[str] = _objects(self.names)[self.codes].tolist()
        return rows

    def __getitem__(self, rows: slice) -> _Coded:
        return _Coded(self.codes[rows], self.names)


class _Multimap(Generic[_V]):
    """``key -> values`` in first-seen order, each value once per key; blank keys/values skipped.

    Stored compressed (one dict of slots into one flat list, CSR style) and built with numpy
    on factorised columns: a million keys would otherwise mean a million small lists grown
    in a Python loop, and a membership test per row is quadratic for a block of flats
    sharing one street address.
    """

    def __init__(
        self, keys: _Coded, value_codes: IntArray, values: list[_V], *, dedupe: bool = True
    ) -> None:
        keep = np.flatnonzero(_filled(keys.names)[keys.codes] & _filled(values)[value_codes])
        key_codes, value_codes = keys.codes[keep], value_codes[keep]
        if dedupe:
            pair = key_codes * max(len(values), 1) + value_codes
            first = np.sort(np.unique(pair, return_index=True)[1])  # first of each, in order
            key_codes, value_codes = key_codes[first], value_codes[first]
        by_key = np.argsort(key_codes, kind="stable")  # stable: table order within a key
        self._values: list[_V] = _objects(values)[value_codes[by_key]].tolist()
        counts = np.bincount(key_codes, minlength=len(keys.names))
        start = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=start[1:])
        self._start: list[int] = start.tolist()
        present = np.flatnonzero(counts)
        self._slot = dict(
            zip(_objects(keys.names)[present].tolist(), present.tolist(), strict=True)
        )

    def get(self, key: str) -> list[_V] | None:
        """A new list of the values under ``key``, or None when there are none."""
        slot = self._slot.get(key)
        if slot is None:
            return None
        return self._values[self._start[slot] : self._start[slot + 1]]


def _objects(values: list[Any]) -> npt.NDArray[np.object_]:
    """``values`` as a 1-D object array (never a 2-D or string array)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _filled(values: list[Any]) -> npt.NDArray[np.bool_]:
    return np.array([v != "" for v in values], dtype=bool)


def _text(column: pd.Series) -> list[str]:
    """A column as stripped strings, missing values as ``""``.

    Via pandas' nullable string dtype: vectorised, and NaN/None stay missing rather than
    becoming ``"nan"`` as ``astype(str)`` would make them.
    """
    values: list[str] = column.astype("string").fillna("").str.strip().tolist()
    return values


def _flags(column: pd.Series) -> list[bool]:
    """``sms_opt_in`` as booleans, whether read from CSV (already bool) or given as text."""
    if pd.api.types.is_bool_dtype(column):
        return [bool(v) for v in column]
    return [v.lower() in _TRUE for v in _text(column)]
