"""Identifier checks: USCC (GB 32100-2015), resident ID (GB 11643-1999), division codes.

The check characters are recomputed here from the standards (domain-facts.md §1.1, §1.2), not
taken from ``schemas.identifiers``: the test is an independent oracle of the implementation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from schemas.divisions import province_codes
from schemas.identifiers import (
    DivisionCode,
    PartyUscc,
    ResidentIdNumber,
    Uscc,
    check_resident_id,
    check_uscc,
    uscc_check_char,
)

# --- The oracles: the two standards, written out independently -------------------------------

GB32100_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters of GB 32100, valued 0..30 by their position."""

NOT_IN_GB32100 = "IOZSV"
"""Capital letters GB 32100 leaves out."""

GB32100_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
"""W_i = 3^(i-1) mod 31 for i = 1..17."""

GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
GB11643_CHECK = "10X98765432"

DIGITS = "0123456789"

USCC_REJECTIONS = {"uscc_check", "uscc_charset", "uscc_format", "uscc_placeholder"}
ID_REJECTIONS = {"id_number_check", "id_number_format", "id_number_birth_date", "id_number_region"}

USCC = TypeAdapter(Uscc)
PARTY_USCC = TypeAdapter(PartyUscc)
RESIDENT_ID = TypeAdapter(ResidentIdNumber)
DIVISION_CODE = TypeAdapter(DivisionCode)


def gb32100_check(first17: str) -> str:
    total = sum(
        GB32100_ALPHABET.index(c) * w for c, w in zip(first17, GB32100_WEIGHTS, strict=True)
    )
    return GB32100_ALPHABET[(31 - total % 31) % 31]


def gb11643_check(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, GB11643_WEIGHTS, strict=True))
    return GB11643_CHECK[total % 11]


def with_id_check(first17: str) -> str:
    return first17 + gb11643_check(first17)


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


def single_character_corruptions(code: str, replacements: str) -> Iterator[str]:
    """Every string that differs from ``code`` in exactly one position."""
    for position, original in enumerate(code):
        for replacement in replacements:
            if replacement != original:
                yield code[:position] + replacement + code[position + 1 :]


def rejection_type(adapter: TypeAdapter[str], value: str) -> str | None:
    """The error type the adapter rejects ``value`` with, or None when it accepts it."""
    try:
        adapter.validate_python(value)
    except ValidationError as error:
        return str(error.errors()[0]["type"])
    return None


def check_rejection_type(check: Callable[[str], str], value: str) -> str | None:
    """The ``PydanticCustomError`` type ``check`` rejects ``value`` with, or None if it passes."""
    try:
        check(value)
    except PydanticCustomError as error:
        return error.type
    return None


# --- Strategies ---------------------------------------------------------------------------------


@st.composite
def valid_usccs(draw: st.DrawFn) -> str:
    departments_and_category = draw(st.text(GB32100_ALPHABET, min_size=2, max_size=2))
    region = draw(st.text(DIGITS, min_size=6, max_size=6))
    subject = draw(st.text(GB32100_ALPHABET, min_size=9, max_size=9))
    first17 = departments_and_category + region + subject
    return first17 + gb32100_check(first17)


@st.composite
def valid_resident_ids(
    draw: st.DrawFn,
    born_from: dt.date = dt.date(1900, 1, 1),
    born_until: dt.date = dt.date(2010, 12, 31),
) -> str:
    province = draw(st.sampled_from(sorted(province_codes())))
    county = draw(st.text(DIGITS, min_size=4, max_size=4))
    born = draw(st.dates(min_value=born_from, max_value=born_until))
    sequence = draw(st.integers(min_value=0, max_value=999))
    return with_id_check(f"{province}{county}{born:%Y%m%d}{sequence:03d}")


# --- The oracles agree with the standards' published figures -----------------------------------


def test_the_gb32100_oracle_uses_the_weights_printed_in_the_standard() -> None:
    assert GB32100_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_the_gb11643_oracle_weights_are_two_to_the_power_18_minus_i_mod_11() -> None:
    assert tuple(pow(2, 18 - i, 11) for i in range(1, 18)) == GB11643_WEIGHTS


# --- USCC: properties ---------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(code=valid_usccs())
def test_every_valid_uscc_is_accepted_unchanged(code: str) -> None:
    assert check_uscc(code) == code
    assert USCC.validate_python(code) == code
    assert PARTY_USCC.validate_python(code) == code


@settings(max_examples=200, deadline=None)
@given(code=valid_usccs())
def test_the_implementation_computes_the_same_uscc_check_character_as_the_standard(
    code: str,
) -> None:
    assert uscc_check_char(code[:17]) == code[17]


@settings(max_examples=200, deadline=None)
@given(code=valid_usccs())
def test_a_uscc_typed_in_full_width_or_lower_case_is_normalised_before_the_check(
    code: str,
) -> None:
    assert check_uscc(full_width(code.lower())) == code
    assert USCC.validate_python(f" {code.lower()} ") == code


@settings(max_examples=200, deadline=None)
@given(code=valid_usccs())
def test_a_single_corrupted_character_of_a_uscc_is_rejected_by_check_uscc(code: str) -> None:
    outcomes = {
        corrupted: check_rejection_type(check_uscc, corrupted)
        for corrupted in single_character_corruptions(code, GB32100_ALPHABET + NOT_IN_GB32100)
    }
    accepted = [corrupted for corrupted, rejected in outcomes.items() if rejected is None]
    assert accepted == []
    assert set(outcomes.values()) <= USCC_REJECTIONS


@settings(max_examples=200, deadline=None)
@given(code=valid_usccs())
def test_a_single_corrupted_character_of_a_uscc_is_rejected_by_the_uscc_type(code: str) -> None:
    outcomes = {
        corrupted: rejection_type(USCC, corrupted)
        for corrupted in single_character_corruptions(code, GB32100_ALPHABET + NOT_IN_GB32100)
    }
    accepted = [corrupted for corrupted, rejected in outcomes.items() if rejected is None]
    assert accepted == []
    assert set(outcomes.values()) <= USCC_REJECTIONS


# --- USCC: the worked examples of domain-facts.md §1.1 ----------------------------------------


WORKED_USCCS = [
    pytest.param(
        "91350100M000100Y43", id="the GB 32100 worked example with its corrected check is valid"
    ),
    pytest.param("91350900587527783P", id="the CATL code registered in Ningde, Fujian is valid"),
    pytest.param("91110108551385082Q", id="the Xiaomi code registered in Beijing is valid"),
    pytest.param("91520000214434146R", id="the AVIC Heavy Machinery code is valid"),
    pytest.param("91110000600037341L", id="the dataprep documentation example is valid"),
]


@pytest.mark.parametrize("code", WORKED_USCCS)
def test_the_worked_uscc_examples_pass_the_check(code: str) -> None:
    assert gb32100_check(code[:17]) == code[17]
    assert check_uscc(code) == code
    assert USCC.validate_python(code) == code


def test_the_standard_text_misprint_with_check_z_is_rejected() -> None:
    with pytest.raises(PydanticCustomError) as caught:
        check_uscc("91350100M000100Y4Z")
    assert caught.value.type == "uscc_charset"
    assert rejection_type(USCC, "91350100M000100Y4Z") == "uscc_charset"


def test_the_gb32100_worked_example_derives_the_check_character_3() -> None:
    assert uscc_check_char("91350100M000100Y4") == "3"


def test_a_uscc_with_a_wrong_check_character_from_the_alphabet_is_rejected() -> None:
    with pytest.raises(PydanticCustomError) as caught:
        check_uscc("91350100M000100Y44")
    assert caught.value.type == "uscc_check"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        pytest.param(
            "９１３５０９００５８７５２７７８３ｐ",
            "91350900587527783P",
            id="full width digits and a full width lower case check letter are folded",
        ),
        pytest.param(
            "91350900587527783p",
            "91350900587527783P",
            id="a lower case check letter is upper cased",
        ),
        pytest.param(
            "91350100m000100y43",
            "91350100M000100Y43",
            id="lower case letters inside the code are upper cased",
        ),
        pytest.param(
            "\u300091350900587527783P ",
            "91350900587527783P",
            id="surrounding ideographic and ascii spaces are trimmed",
        ),
    ],
)
def test_a_uscc_is_normalised_before_the_check(raw: str, normalised: str) -> None:
    assert check_uscc(raw) == normalised
    assert USCC.validate_python(raw) == normalised


@pytest.mark.parametrize(
    ("raw", "expected_type"),
    [
        pytest.param("91350900587527783", "uscc_length", id="seventeen characters are too few"),
        pytest.param("91350900587527783PP", "uscc_length", id="nineteen characters are too many"),
        pytest.param(
            "91350900 587527783P", "uscc_length", id="a space inside the code is not removed"
        ),
        pytest.param(
            "913509A0587527783P", "uscc_format", id="a letter in the division part is rejected"
        ),
    ],
)
def test_a_malformed_uscc_is_rejected_with_the_reason(raw: str, expected_type: str) -> None:
    with pytest.raises(PydanticCustomError) as caught:
        check_uscc(raw)
    assert caught.value.type == expected_type


def test_the_individual_business_placeholder_is_rejected_by_default() -> None:
    with pytest.raises(PydanticCustomError) as caught:
        check_uscc("00000000000000000X")
    assert caught.value.type == "uscc_placeholder"
    assert rejection_type(USCC, "00000000000000000X") == "uscc_placeholder"


def test_the_individual_business_placeholder_is_accepted_when_allowed() -> None:
    assert check_uscc("00000000000000000X", allow_placeholder=True) == "00000000000000000X"
    assert check_uscc("00000000000000000x", allow_placeholder=True) == "00000000000000000X"
    assert PARTY_USCC.validate_python("00000000000000000X") == "00000000000000000X"


def test_the_placeholder_fails_the_mod_31_check_by_design() -> None:
    assert gb32100_check("00000000000000000") == "0"


def test_the_party_uscc_type_still_rejects_a_code_that_fails_the_check() -> None:
    assert rejection_type(PARTY_USCC, "91350100M000100Y44") == "uscc_check"


# --- Resident ID: properties ------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(number=valid_resident_ids())
def test_every_valid_resident_id_is_accepted_unchanged(number: str) -> None:
    assert check_resident_id(number) == number
    assert RESIDENT_ID.validate_python(number) == number


@settings(max_examples=200, deadline=None)
@given(number=valid_resident_ids())
def test_a_resident_id_typed_in_full_width_or_lower_case_is_normalised(number: str) -> None:
    assert check_resident_id(full_width(number.lower())) == number
    assert RESIDENT_ID.validate_python(number.lower()) == number


@settings(max_examples=200, deadline=None)
@given(number=valid_resident_ids())
def test_a_single_corrupted_character_of_a_resident_id_is_rejected(number: str) -> None:
    # A corrupted date digit may fail the birth-date rule instead of the check: still a rejection.
    corruptions = list(single_character_corruptions(number, DIGITS + "XAIO"))
    by_check = {c: check_rejection_type(check_resident_id, c) for c in corruptions}
    by_type = {c: rejection_type(RESIDENT_ID, c) for c in corruptions}
    accepted = [c for c in corruptions if by_check[c] is None or by_type[c] is None]
    assert accepted == []
    assert set(by_check.values()) | set(by_type.values()) <= ID_REJECTIONS


@settings(max_examples=200, deadline=None)
@given(number=valid_resident_ids(born_until=dt.date(1999, 12, 31)))
def test_a_15_digit_legacy_number_is_upgraded_to_its_18_digit_form(number: str) -> None:
    assert number[6:8] == "19"
    legacy = number[:6] + number[8:17]
    assert len(legacy) == 15
    assert check_resident_id(legacy) == number
    assert RESIDENT_ID.validate_python(legacy) == number


# --- Resident ID: the worked examples of domain-facts.md §1.2 ---------------------------------


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("11010519491231002X", id="the GB 11643 appendix example ending in X is valid"),
        pytest.param("440524188001010014", id="a number born in 1880 is valid"),
        pytest.param("370101190102039973", id="the zhshbaida worked example is valid"),
    ],
)
def test_the_worked_resident_id_examples_pass_the_check(number: str) -> None:
    assert gb11643_check(number[:17]) == number[17]
    assert check_resident_id(number) == number
    assert RESIDENT_ID.validate_python(number) == number


def test_a_lower_case_x_check_character_is_upper_cased() -> None:
    assert check_resident_id("11010519491231002x") == "11010519491231002X"


def test_a_full_width_resident_id_is_folded_to_half_width() -> None:
    assert check_resident_id("１１０１０５１９４９１２３１００２Ｘ") == "11010519491231002X"


# Each bad number reaches the rule named beside it: the check character is recomputed so that
# only the rule under test fails.
BAD_RESIDENT_IDS = [
    pytest.param("110105194912310021", "id_number_check", id="a wrong check character"),
    pytest.param(
        with_id_check("11010519490230002"), "id_number_birth_date", id="the 30th of February"
    ),
    pytest.param(
        with_id_check("11010518790101002"), "id_number_birth_date", id="a birth before 1880"
    ),
    pytest.param(
        with_id_check("99010519491231002"), "id_number_region", id="an unknown province 99"
    ),
    pytest.param("11010519491231002", "id_number_length", id="seventeen characters"),
    pytest.param("1101051949123100X2", "id_number_format", id="an X before the last place"),
    pytest.param("11010549123100A", "id_number_length", id="a 15 character number with a letter"),
]


@pytest.mark.parametrize(("number", "expected_type"), BAD_RESIDENT_IDS)
def test_a_bad_resident_id_is_rejected_with_the_reason(number: str, expected_type: str) -> None:
    with pytest.raises(PydanticCustomError) as caught:
        check_resident_id(number)
    assert caught.value.type == expected_type


@pytest.mark.parametrize(("number", "expected_type"), BAD_RESIDENT_IDS)
def test_a_resident_id_error_never_repeats_the_number(number: str, expected_type: str) -> None:
    with pytest.raises(PydanticCustomError) as caught:
        check_resident_id(number)
    texts = [str(caught.value), caught.value.message(), repr(caught.value.context)]
    with pytest.raises(ValidationError) as validation:
        RESIDENT_ID.validate_python(number)
    for item in validation.value.errors(include_input=False):
        assert item["type"] == expected_type
        texts += [item["msg"], repr(item.get("ctx"))]
    for text in texts:
        assert number not in text
        assert number[:14] not in text  # not even the region and birth date


# --- Division codes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("350427", id="the retired code of Sha county is still accepted"),
        pytest.param("350405", id="the current code of Sanming Shaxian district is accepted"),
        pytest.param("350128", id="the code of Pingtan is accepted"),
    ],
)
def test_a_code_that_is_or_was_in_gb2260_is_passed_on_as_sent(code: str) -> None:
    assert DIVISION_CODE.validate_python(code) == code


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("359999", id="a six digit code that never existed is rejected"),
        pytest.param("35042", id="a five digit code is rejected"),
        pytest.param("3504270", id="a seven digit code is rejected"),
        pytest.param("35042A", id="a code with a letter is rejected"),
    ],
)
def test_a_code_that_never_was_in_gb2260_is_rejected(code: str) -> None:
    assert rejection_type(DIVISION_CODE, code) == "division_code"


def test_non_ascii_digits_in_a_resident_id_are_rejected() -> None:
    with pytest.raises(PydanticCustomError):
        check_resident_id("1101051949123100\u0662X")
