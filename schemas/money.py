"""Money of the canonical contract: yuan (元) as ``Decimal`` with exactly two places.

On the wire a money field is a JSON string with two decimals (``"50000.00"``). Sources that send
万元 (ten-thousand yuan) or 分 (fen, 1/100 yuan) are converted here, exactly, with decimal
arithmetic: a float never touches an amount, and an amount finer than one fen is an error, not a
rounding.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = ["FEN", "Yuan", "fen_to_yuan", "parse_decimal", "to_yuan", "wan_yuan_to_yuan"]

FEN = Decimal("0.01")
_THOUSANDS = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?")
_LIMIT = Decimal(10) ** 15  # no enforcement amount comes near a quadrillion yuan
_WAN = Decimal(10000)


def parse_decimal(value: Any) -> Decimal:
    """An exact ``Decimal`` from a string, int or Decimal; floats and booleans are refused."""
    if isinstance(value, bool | float):
        raise PydanticCustomError(
            "money_float",
            "amount must be a decimal string, not a binary float ('{value}')",
            {"value": value},
        )
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if _THOUSANDS.fullmatch(text):
            text = text.replace(",", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise PydanticCustomError(
                "money_format", "amount '{value}' is not a decimal number", {"value": value}
            ) from None
    else:
        raise PydanticCustomError(
            "money_type",
            "amount must be a decimal string, got {kind}",
            {"kind": type(value).__name__},
        )
    if not number.is_finite():
        raise PydanticCustomError(
            "money_format", "amount '{value}' is not finite", {"value": value}
        )
    return number


def to_yuan(value: Any) -> Decimal:
    """A yuan amount with exactly two places; more precision than one fen is an error."""
    number = parse_decimal(value)
    if number < 0:
        raise PydanticCustomError(
            "money_negative", "amount {value} is negative", {"value": str(number)}
        )
    if number >= _LIMIT:
        raise PydanticCustomError(
            "money_range", "amount {value} is beyond any plausible amount", {"value": str(number)}
        )
    quantized = number.quantize(FEN) + 0  # + 0 turns -0.00 into 0.00
    if quantized != number:
        raise PydanticCustomError(
            "money_precision",
            "amount {value} yuan is finer than one fen (0.01)",
            {"value": str(number)},
        )
    return quantized


def wan_yuan_to_yuan(value: Any) -> Decimal:
    """Convert 万元 to yuan exactly (``"5.200000"`` → ``Decimal("52000.00")``)."""
    number = parse_decimal(value)
    if abs(number) >= _LIMIT:
        raise PydanticCustomError(
            "money_range", "amount {value} is beyond any plausible amount", {"value": str(number)}
        )
    return to_yuan(number * _WAN)


def fen_to_yuan(value: Any) -> Decimal:
    """Convert 分 to yuan exactly (``5200000`` → ``Decimal("52000.00")``); fen must be whole."""
    fen = parse_decimal(value)
    if fen != fen.to_integral_value():
        raise PydanticCustomError(
            "money_precision",
            "amount {value} fen is not a whole number of fen",
            {"value": str(fen)},
        )
    return to_yuan(fen / 100)


def _yuan_or_passthrough(value: Any) -> Any:
    return value if value is None else to_yuan(value)


Yuan = Annotated[
    Decimal,
    BeforeValidator(_yuan_or_passthrough),
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^\d+\.\d{2}$", "examples": ["50000.00"]}),
]
"""Yuan, two decimals, a JSON string on the wire."""
