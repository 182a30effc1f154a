"""Customer lookup: phone/address normalisation and the account/phone/address/premise index."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import phonenumbers
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from grid.customers import CustomerIndex, normalise_address, normalise_phone, normalise_phones
from grid.errors import AssetNotFound, GridError
from grid.model import CUSTOMER_COLUMNS, WGS84, GridTables

# -- phone numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+86 138 0013 8000", "CN", "+8613800138000"),
        ("+8613800138000", "CN", "+8613800138000"),
        ("13800138000", "CN", "+8613800138000"),
        ("138-0013-8000", "CN", "+8613800138000"),
        ("0086 138 0013 8000", "CN", "+8613800138000"),
        (" +86 (0) 138 0013 8000 ", "CN", "+8613800138000"),
        ("+86013800138000", "CN", "+8613800138000"),  # trunk 0 kept by mistake: repaired
        ("010 6552 9988", "CN", "+861065529988"),  # Beijing landline
        ("(555) 010-1234", "US", "+15550101234"),
        ("555.010.1234", "us", "+15550101234"),
        ("+1 555 010 1234", "CN", "+15550101234"),
        ("1-555-010-1234", "US", "+15550101234"),
        ("+44 20 7946 0958", "US", "+442079460958"),
    ],
)
def test_normalise_phone(raw: str, region: str, expected: str) -> None:
    assert normalise_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "   ", "abc", "12", "+999 123 456 789", "call me"])
def test_unreadable_phone_is_a_value_error_naming_it(raw: str) -> None:
    with pytest.raises(ValueError, match="phone number"):
        normalise_phone(raw)


def test_unknown_region_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="region must be an ISO 3166 country code"):
        normalise_phone("13800138000", region="XX")


def _variants(digits: str, *, country: str, idd: str, trunk: str = "") -> st.SearchStrategy[str]:
    """Ways people write ``digits`` (national significant number): grouping and prefixes.

    ``idd`` is the prefix for dialling abroad from the region (00 in China, 011 in the US).
    """
    cut = st.lists(st.integers(1, len(digits) - 1), max_size=3, unique=True).map(sorted)
    separator = st.sampled_from([" ", "-", ".", "  ", ""])

    def render(cuts: list[int], sep: str, prefix: str, bracket: bool) -> str:
        parts, start = [], 0
        for end in [*cuts, len(digits)]:
            parts.append(digits[start:end])
            start = end
        if bracket and len(parts) > 1:
            parts[0] = f"({parts[0]})"
        return prefix + sep.join(parts)

    prefixes = st.sampled_from([trunk, f"+{country} ", f"+{country}", f"{idd}{country} "])
    return st.builds(render, cut, separator, prefixes, st.booleans())


CN_MOBILE = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
US_NUMBER = st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), mobile=CN_MOBILE)
def test_formatting_variants_of_a_cn_mobile_normalise_equal(
    data: st.DataObject, mobile: str
) -> None:
    written = data.draw(_variants(mobile, country="86", idd="00"))
    assert normalise_phone(written, "CN") == "+86" + mobile


@settings(max_examples=200, deadline=None)
@given(data=st.data(), number=US_NUMBER)
def test_formatting_variants_of_a_us_number_normalise_equal(
    data: st.DataObject, number: str
) -> None:
    written = data.draw(_variants(number, country="1", idd="011", trunk="1"))
    assert normalise_phone(written, "US") == "+1" + number
    if written.startswith("+"):  # with a country code, the region does not matter
        assert normalise_phone(written, "CN") == "+1" + number


def _slow(raw: str, region: str) -> str:
    number = phonenumbers.parse(raw, region)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@settings(max_examples=200, deadline=None)
@given(mobile=CN_MOBILE)
def test_fast_paths_agree_with_phonenumbers(mobile: str) -> None:
    assert normalise_phone(mobile, "CN") == _slow(mobile, "CN")
    assert normalise_phone("+86" + mobile, "CN") == _slow("+86" + mobile, "CN")


def test_e164_fast_path_agrees_with_phonenumbers_for_every_regions_examples() -> None:
    types = [
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.VOIP,
    ]
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in types:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            assert normalise_phone(e164, "US") == _slow(e164, "US") == e164
            checked += 1
    assert checked > 400


def test_bulk_normalisation_marks_unreadable_values_none() -> None:
    raw = ["13800138000", None, "", "garbage", "+86 138 0013 8000", "13800138000"]
    assert normalise_phones(raw) == [
        "+8613800138000",
        None,
        None,
        None,
        "+8613800138000",
        "+8613800138000",
    ]
    assert normalise_phones([]) == []


# -- addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variants", "expected"),
    [
        (
            ["12 Main St.", "12 main st", "１２ Ｍａｉｎ　St", "12  MAIN   Street", "12, Main St"],
            "12 main st",
        ),
        (["7 Oak Road", "7 oak rd.", "7 OAK RD"], "7 oak rd"),
        (["100 Fifth Avenue", "100 fifth ave"], "100 fifth ave"),
        (
            ["Apt #5, 12-3 Elm St", "apt # 5 12 - 3 elm street", "Apt＃5，12－3 Elm St"],
            "apt#5 12-3 elm st",
        ),
        (["O'Connell Street", "O’Connell St", "oconnell st"], "oconnell st"),
        (
            ["北京市朝阳区建国路88号", "北京市 朝阳区 建国路 88 号", "北京市朝阳区建国路８８号"],
            "北京市朝阳区建国路88号",
        ),
        (
            ["上海市浦东新区，世纪大道 100号。", "上海市浦东新区世纪大道100号"],
            "上海市浦东新区世纪大道100号",
        ),
    ],
)
def test_address_variants_normalise_equal(variants: list[str], expected: str) -> None:
    assert {normalise_address(v) for v in variants} == {expected}


def test_meaningful_address_differences_stay() -> None:
    assert normalise_address("12-3 Main St") != normalise_address("123 Main St")
    assert normalise_address("12 Main St #5") != normalise_address("12 Main St #6")
    assert normalise_address("建国路88号") != normalise_address("建国路89号")
    assert normalise_address("12 Main St") != normalise_address("12 Main Rd")


def _full_width(text: str) -> str:
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) for c in text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40))
def test_full_width_ascii_normalises_like_ascii(text: str) -> None:
    assert normalise_address(_full_width(text)) == normalise_address(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abc 12-#,.北京路号", max_size=30))
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalise_address(text)
    assert normalise_address(once) == once


# -- the index ------------------------------------------------------------------------------


def _premises(rows: dict[str, str]) -> gpd.GeoDataFrame:
    """Premises ``id -> address`` (all on transformer T1, coordinates irrelevant here)."""
    ids = list(rows)
    return gpd.GeoDataFrame(
        {"id": ids, "transformer": ["T1"] * len(ids), "address": list(rows.values())},
        geometry=[shapely.Point(116.4, 39.9)] * len(ids),
        crs=WGS84,
    )


def _customers(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(CUSTOMER_COLUMNS))


@pytest.fixture(scope="module")
def tables() -> GridTables:
    premises = _premises(
        {
            "P1": "北京市朝阳区建国路88号",
            "P2": "12 Main Street",
            "P3": "12 Main Street",  # two premises at one street address (a duplex)
            "P4": "",
            "P-empty": "9 Vacant Lot Rd",
        }
    )
    customers = _customers(
        [
            # account, premise, phone, name, address, language, sms_opt_in, priority
            ("A1", "P1", "138 0013 8000", "王伟", "建国路88号", "zh-CN", True, "critical_care"),
            ("A2", "P2", "+8613800138000", "Li Na", "12 Main St", "en", False, "vip"),
            ("A3", "P1", "13800138000", "王芳", "", "", True, ""),  # same phone, P1 again
            ("A4", "P3", "+86 139-0000-0000", "Bob", "", "en", True, "normal"),
            ("A5", "P4", "not a number", "Eve", "Flat 2, 4 High Road", "en", False, "normal"),
            ("A6", "P4", "", "Mallory", "", "en", False, "normal"),
        ]
    )
    return GridTables(premises=premises, customers=customers)


@pytest.fixture(scope="module")
def index(tables: GridTables) -> CustomerIndex:
    return CustomerIndex(tables)


def test_by_account(index: CustomerIndex) -> None:
    assert index.by_account("A2") == "P2"
    assert index.by_account(" A4 ") == "P3"


def test_unknown_account_names_it(index: CustomerIndex) -> None:
    with pytest.raises(AssetNotFound, match="no customer account 'A404'") as caught:
        index.by_account("A404")
    assert isinstance(caught.value, GridError)
    assert isinstance(caught.value, KeyError)


def test_phone_with_several_premises_keeps_order_and_dedupes(index: CustomerIndex) -> None:
    for written in ("13800138000", "+86 138 0013 8000", "0086-138-0013-8000"):
        assert index.by_phone(written) == ["P1", "P2"]


def test_by_phone_result_is_a_copy(index: CustomerIndex) -> None:
    index.by_phone("13800138000").append("X")
    assert index.by_phone("13800138000") == ["P1", "P2"]


def test_unknown_and_unreadable_phones(index: CustomerIndex) -> None:
    with pytest.raises(
        AssetNotFound, match=r"no customer with phone '137 0000 0000' \(\+8613700000000\)"
    ):
        index.by_phone("137 0000 0000")
    with pytest.raises(ValueError, match="phone number"):
        index.by_phone("not a number")
    assert index.unreadable_phones == ("A5",)  # A6 has no phone at all, which is not an error


def test_by_phone_region_override() -> None:
    customers = _customers([("U1", "P9", "(555) 010-1234", "Ann", "", "en", True, "normal")])
    us = CustomerIndex(GridTables(premises=_premises({"P9": ""}), customers=customers), region="US")
    assert us.by_phone("555-010-1234") == ["P9"]
    assert us.by_phone("+1 555 010 1234") == ["P9"]
    # The index's region decides how stored numbers without a country code are read: a CN
    # index read "(555) 010-1234" as a Chinese number, so the US number is not in it.
    cn = CustomerIndex(GridTables(premises=_premises({"P9": ""}), customers=customers))
    assert cn.by_phone("(555) 010-1234") == ["P9"]
    with pytest.raises(AssetNotFound, match=r"\(\+15550101234\)"):
        cn.by_phone("555-010-1234", region="US")


def test_by_address_from_premises_and_customers(index: CustomerIndex) -> None:
    assert index.by_address("12 main st.") == ["P2", "P3"]
    assert index.by_address("北京市 朝阳区 建国路 88 号") == ["P1"]
    assert index.by_address("建国路８８号") == ["P1"]  # the customer's shorter form
    assert index.by_address("FLAT 2 4 HIGH RD") == ["P4"]
    assert index.by_address("9 Vacant Lot Road") == ["P-empty"]


def test_unknown_or_blank_address(index: CustomerIndex) -> None:
    with pytest.raises(AssetNotFound, match="no premise at address '1 Nowhere Ave'"):
        index.by_address("1 Nowhere Ave")
    with pytest.raises(ValueError, match="blank"):
        index.by_address(" ,. ")


def test_premise_only_network_is_found_by_address() -> None:
    index = CustomerIndex(
        GridTables(premises=_premises({"Q1": "5 Park Lane", "Q2": "6 Park Lane"}))
    )
    assert index.by_address("6 park ln") == ["Q2"]
    with pytest.raises(AssetNotFound, match="no customer account 'A1'"):
        index.by_account("A1")


def test_accounts_of_premise(index: CustomerIndex) -> None:
    assert index.accounts_of_premise("P1") == [
        {
            "account": "A1",
            "phone": "+8613800138000",
            "name": "王伟",
            "language": "zh-CN",
            "sms_opt_in": True,
            "priority": "critical_care",
        },
        {
            "account": "A3",
            "phone": "+8613800138000",
            "name": "王芳",
            "language": "zh-CN",  # blank -> the default, as read_customers does
            "sms_opt_in": True,
            "priority": "normal",
        },
    ]
    assert [r["phone"] for r in index.accounts_of_premise("P4")] == [None, None]


def test_accounts_of_unknown_or_empty_premise(index: CustomerIndex) -> None:
    with pytest.raises(AssetNotFound, match="no premise with id 'P404'"):
        index.accounts_of_premise("P404")
    with pytest.raises(AssetNotFound, match="premise 'P-empty' has no customer accounts"):
        index.accounts_of_premise("P-empty")


def test_text_flags_and_missing_values_are_read_like_the_csv() -> None:
    customers = _customers(
        [
            ("B1", "P1", float("nan"), None, None, None, "yes", None),
            ("B2", "P1", "13900000000", "x", "", "en", "false", "vip"),
        ]
    )
    index = CustomerIndex(GridTables(premises=_premises({"P1": ""}), customers=customers))
    records = index.accounts_of_premise("P1")
    assert [r["sms_opt_in"] for r in records] == [True, False]
    assert records[0] == {
        "account": "B1",
        "phone": None,
        "name": "",
        "language": "zh-CN",
        "sms_opt_in": True,
        "priority": "normal",
    }
    assert index.unreadable_phones == ()


def test_duplicate_account_resolves_to_its_first_row() -> None:
    customers = _customers(
        [
            ("D1", "P1", "", "a", "", "en", True, "normal"),
            ("D1", "P2", "", "b", "", "en", True, "normal"),
        ]
    )
    premises = _premises({"P1": "", "P2": ""})
    assert (
        CustomerIndex(GridTables(premises=premises, customers=customers)).by_account("D1") == "P1"
    )


def test_account_without_premise_says_so() -> None:
    customers = _customers([("N1", "", "13900000001", "n", "", "en", True, "normal")])
    index = CustomerIndex(GridTables(premises=_premises({"P1": ""}), customers=customers))
    with pytest.raises(AssetNotFound, match="customer account 'N1' names no premise"):
        index.by_account("N1")
    with pytest.raises(AssetNotFound):
        index.by_phone("13900000001")  # a phone is only indexed with a premise to go to


def test_many_premises_at_one_address_keep_file_order() -> None:
    premises = _premises({f"F{i}": "88 Tower Road" for i in range(500)})
    index = CustomerIndex(GridTables(premises=premises))
    assert index.by_address("88 tower rd") == [f"F{i}" for i in range(500)]
