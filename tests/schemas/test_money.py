"""Money: yuan with exactly two places, exact conversions from 万元 and 分, never a float."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from schemas.money import Yuan, fen_to_yuan, to_yuan, wan_yuan_to_yuan

YUAN = TypeAdapter(Yuan)

FEN_AMOUNTS = st.integers(min_value=0, max_value=10**12)


def two_places(amount: Decimal) -> bool:
    return amount.as_tuple().exponent == -2


# --- Exact conversions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wan_yuan", "yuan"),
    [
        pytest.param("5.200000", Decimal("52000.00"), id="5.2 wan yuan is 52000 yuan"),
        pytest.param("0.385550", Decimal("3855.50"), id="0.38555 wan yuan is 3855.50 yuan"),
        pytest.param("0.000001", Decimal("0.01"), id="the sixth decimal of wan yuan is one fen"),
        pytest.param("0", Decimal("0.00"), id="zero wan yuan is 0.00 yuan"),
        pytest.param(" 1,200.5 ", Decimal("12005000.00"), id="separators and spaces are ignored"),
        pytest.param(Decimal("5.2"), Decimal("52000.00"), id="a Decimal is converted"),
        pytest.param(3, Decimal("30000.00"), id="an integer is converted"),
    ],
)
def test_wan_yuan_is_converted_to_yuan_exactly(wan_yuan: Any, yuan: Decimal) -> None:
    converted = wan_yuan_to_yuan(wan_yuan)
    assert converted == yuan
    assert two_places(converted)


@pytest.mark.parametrize(
    ("fen", "yuan"),
    [
        pytest.param(5200000, Decimal("52000.00"), id="5200000 fen is 52000 yuan"),
        pytest.param(1, Decimal("0.01"), id="one fen is 0.01 yuan"),
        pytest.param(0, Decimal("0.00"), id="zero fen is 0.00 yuan"),
        pytest.param("385550", Decimal("3855.50"), id="fen sent as a string are converted"),
    ],
)
def test_fen_is_converted_to_yuan_exactly(fen: Any, yuan: Decimal) -> None:
    converted = fen_to_yuan(fen)
    assert converted == yuan
    assert two_places(converted)


@settings(max_examples=200, deadline=None)
@given(fen=FEN_AMOUNTS)
def test_fen_converted_to_yuan_and_back_is_the_same_whole_number_of_fen(fen: int) -> None:
    yuan = fen_to_yuan(fen)
    assert yuan * 100 == fen
    assert two_places(yuan)


@settings(max_examples=200, deadline=None)
@given(fen=FEN_AMOUNTS)
def test_wan_yuan_with_six_decimals_is_exactly_one_fen_resolution(fen: int) -> None:
    wan_yuan = str(Decimal(fen) / Decimal(1000000))
    yuan = wan_yuan_to_yuan(wan_yuan)
    assert yuan == Decimal(fen) / 100
    assert two_places(yuan)


@settings(max_examples=200, deadline=None)
@given(fen=FEN_AMOUNTS)
def test_a_yuan_amount_dumps_as_a_string_with_exactly_two_places(fen: int) -> None:
    dumped = YUAN.dump_python(YUAN.validate_python(str(Decimal(fen) / 100)), mode="json")
    whole, cents = divmod(fen, 100)
    assert dumped == f"{whole}.{cents:02d}"


# --- What is refused ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(to_yuan, id="yuan"),
        pytest.param(wan_yuan_to_yuan, id="wan yuan"),
        pytest.param(fen_to_yuan, id="fen"),
    ],
)
@pytest.mark.parametrize(
    "value",
    [
        pytest.param(5.2, id="a binary float"),
        pytest.param(0.0, id="a float zero"),
        pytest.param(True, id="a boolean"),
    ],
)
def test_a_float_or_boolean_amount_is_refused(convert: Any, value: Any) -> None:
    with pytest.raises(PydanticCustomError) as caught:
        convert(value)
    assert caught.value.type == "money_float"


def test_the_yuan_type_refuses_a_float_in_python_and_in_json() -> None:
    with pytest.raises(ValidationError) as from_python:
        YUAN.validate_python(50000.0)
    assert from_python.value.errors()[0]["type"] == "money_float"
    with pytest.raises(ValidationError) as from_json:
        YUAN.validate_json("0.1")
    assert from_json.value.errors()[0]["type"] == "money_float"


@pytest.mark.parametrize(
    ("convert", "value"),
    [
        pytest.param(to_yuan, "0.001", id="a tenth of a fen in yuan"),
        pytest.param(to_yuan, "12.345", id="a yuan amount with three decimals"),
        pytest.param(wan_yuan_to_yuan, "0.0000001", id="wan yuan with a seventh decimal"),
        pytest.param(fen_to_yuan, "0.5", id="half a fen"),
        pytest.param(fen_to_yuan, Decimal("100.1"), id="a fraction of a fen"),
    ],
)
def test_an_amount_finer_than_one_fen_is_refused_not_rounded(convert: Any, value: Any) -> None:
    with pytest.raises(PydanticCustomError) as caught:
        convert(value)
    assert caught.value.type == "money_precision"


def test_a_yuan_amount_with_trailing_zeros_beyond_the_fen_is_not_finer_than_a_fen() -> None:
    assert to_yuan("12.3400") == Decimal("12.34")
    assert two_places(to_yuan("12.3400"))


@pytest.mark.parametrize(
    ("convert", "value"),
    [
        pytest.param(to_yuan, "-0.01", id="minus one fen in yuan"),
        pytest.param(wan_yuan_to_yuan, "-5.2", id="negative wan yuan"),
        pytest.param(fen_to_yuan, -1, id="minus one fen"),
    ],
)
def test_a_negative_amount_is_refused(convert: Any, value: Any) -> None:
    with pytest.raises(PydanticCustomError) as caught:
        convert(value)
    assert caught.value.type == "money_negative"


@pytest.mark.parametrize(
    ("value", "expected_type"),
    [
        pytest.param("五万元", "money_format", id="an amount in words"),
        pytest.param("", "money_format", id="an empty string"),
        pytest.param("NaN", "money_format", id="not a number"),
        pytest.param("Infinity", "money_format", id="infinity"),
        pytest.param([1], "money_type", id="a list"),
    ],
)
def test_a_value_that_is_not_a_decimal_number_is_refused(value: Any, expected_type: str) -> None:
    with pytest.raises(PydanticCustomError) as caught:
        to_yuan(value)
    assert caught.value.type == expected_type


# --- The wire form ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        pytest.param("0", "0.00", id="zero dumps as 0.00"),
        pytest.param("50000", "50000.00", id="a whole amount gets two zero places"),
        pytest.param(Decimal("1.5"), "1.50", id="one decimal is padded to two"),
        pytest.param("3855.50", "3855.50", id="two decimals are kept"),
        pytest.param("12.3400", "12.34", id="trailing zeros after the fen are dropped"),
    ],
)
def test_the_yuan_type_dumps_a_json_string_with_exactly_two_places(value: Any, wire: str) -> None:
    amount = YUAN.validate_python(value)
    assert YUAN.dump_python(amount, mode="json") == wire
    assert json.loads(YUAN.dump_json(amount)) == wire


def test_a_decimal_that_bypassed_validation_still_dumps_with_two_places() -> None:
    assert YUAN.dump_python(Decimal("50000"), mode="json") == "50000.00"
    assert YUAN.dump_python(Decimal("1.5"), mode="json") == "1.50"


def test_the_yuan_type_keeps_a_decimal_in_python_mode() -> None:
    amount = YUAN.validate_json('"50000.00"')
    assert YUAN.dump_python(amount) == Decimal("50000.00")
    assert isinstance(YUAN.dump_python(amount), Decimal)


def test_the_yuan_json_schema_describes_a_two_place_decimal_string() -> None:
    schema = YUAN.json_schema()
    assert schema["type"] == "string"
    assert schema["pattern"] == r"^\d+\.\d{2}$"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("1e26", id="an absurdly large amount"),
        pytest.param("1,50", id="a decimal comma is not a thousands separator"),
    ],
)
def test_implausible_or_ambiguous_amounts_are_rejected_not_crashed(text: str) -> None:
    with pytest.raises(PydanticCustomError):
        to_yuan(text)


def test_negative_zero_is_written_as_zero() -> None:
    assert TypeAdapter(Yuan).dump_json(to_yuan("-0")) == b'"0.00"'


def test_thousands_separators_are_read() -> None:
    assert to_yuan("1,234.50") == Decimal("1234.50")
