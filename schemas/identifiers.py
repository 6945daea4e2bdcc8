"""Identifier checks of the canonical contract, as pydantic ``Annotated`` types.

- ``Uscc``: 统一社会信用代码, GB 32100-2015, 18 characters, weighted mod-31 check character.
  ``PartyUscc`` also admits the individual-business placeholder ``00000000000000000X``
  (个体工商户 without a code); the party model decides whether the placeholder is allowed.
- ``ResidentIdNumber``: 居民身份证号码, GB 11643-1999, 18 characters, ISO 7064 MOD 11-2 check;
  a 15-digit legacy number (GB 11643-1989) is upgraded to 18 digits.
- ``DivisionCode``: 6-digit GB/T 2260 code that is, or ever was, in the standard.

The check-character arithmetic comes from python-stdnum (``stdnum.cn.uscc``, ``stdnum.cn.ric``),
which implements the two standards. Its ``uscc.validate`` is not used: it demands digits in the
first two positions, whereas GB 32100 registration departments include ``A``, ``N`` and ``Y``.

Error messages never repeat an ID number: it is an L3 value.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError
from stdnum.cn import ric as _ric
from stdnum.cn import uscc as _uscc

from schemas.divisions import is_division_code, province_codes
from schemas.text import fold_width

__all__ = [
    "USCC_ALPHABET",
    "USCC_PLACEHOLDER",
    "DivisionCode",
    "PartyUscc",
    "ResidentIdNumber",
    "Uscc",
    "check_division_code",
    "check_resident_id",
    "check_uscc",
    "resident_id_check_char",
    "upgrade_resident_id",
    "uscc_check_char",
]

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters of GB 32100 (digits and capitals without I, O, Z, S, V), valued 0..30."""

USCC_PLACEHOLDER = "00000000000000000X"
"""What 双公示 feeds send for a 个体工商户 without a USCC; it fails the mod-31 check by design."""


def _compact(value: str) -> str:
    return fold_width(value).strip().upper()


@lru_cache(maxsize=65536)  # agencies and parties repeat: this is on every message's path
def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a USCC."""
    return str(_uscc.calc_check_digit(first17))


def check_uscc(value: str, *, allow_placeholder: bool = False) -> str:
    """Normalise and check a USCC; return it, or raise ``PydanticCustomError``.

    Full-width characters and lower case are folded before the check. The placeholder
    ``00000000000000000X`` passes only with ``allow_placeholder``.
    """
    return _checked_uscc(value, allow_placeholder)


@lru_cache(maxsize=65536)  # a pure function of the text; a refusal raises and is not cached
def _checked_uscc(value: str, allow_placeholder: bool) -> str:
    code = _compact(value)
    if code == USCC_PLACEHOLDER:
        if allow_placeholder:
            return code
        raise PydanticCustomError(
            "uscc_placeholder",
            "the placeholder 00000000000000000X stands only for an individual business "
            "(个体工商户) party without a code",
        )
    if len(code) != 18:
        raise PydanticCustomError(
            "uscc_length",
            "USCC '{code}' has {length} characters; GB 32100-2015 requires 18",
            {"code": code, "length": len(code)},
        )
    bad = sorted({c for c in code if c not in USCC_ALPHABET})
    if bad:
        raise PydanticCustomError(
            "uscc_charset",
            "USCC '{code}' contains {bad}, outside the GB 32100-2015 character set "
            "(digits and capitals without I, O, Z, S, V)",
            {"code": code, "bad": "".join(bad)},
        )
    if not code[2:8].isdigit():
        raise PydanticCustomError(
            "uscc_format",
            "USCC '{code}': positions 3-8 must be a GB/T 2260 division code (digits)",
            {"code": code},
        )
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise PydanticCustomError(
            "uscc_check",
            "USCC '{code}' fails the GB 32100-2015 mod-31 check: check character is "
            "'{got}', expected '{expected}'",
            {"code": code, "got": code[17], "expected": expected},
        )
    return code


@lru_cache(maxsize=65536)
def resident_id_check_char(first17: str) -> str:
    """The GB 11643-1999 (ISO 7064 MOD 11-2) check character for 17 digits."""
    return str(_ric.calc_check_digit(first17 + "0"))


def upgrade_resident_id(legacy15: str) -> str:
    """Upgrade a 15-digit GB 11643-1989 number: insert ``19`` after the region, append the check."""
    first17 = legacy15[:6] + "19" + legacy15[6:]
    return first17 + resident_id_check_char(first17)


def _birth_date_ok(number: str) -> bool:
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return dt.date(1880, 1, 1) <= born <= dt.date.today()


def check_resident_id(value: str) -> str:
    """Normalise and check a resident ID number; return the 18-digit form, or raise.

    Checks: length (15 upgraded to 18), digits with an optional final ``X``, the MOD 11-2 check
    character, a real birth date, and a province prefix that GB/T 2260 has used. The full
    6-digit region is not checked: it is the code at registration time, and pre-1980 codes are
    not in the reference list.
    """
    number = _compact(value)
    if len(number) == 15 and number.isascii() and number.isdigit():
        number = upgrade_resident_id(number)
    if len(number) != 18:
        raise PydanticCustomError(
            "id_number_length",
            "resident ID number has {length} characters; GB 11643-1999 requires 18 (or 15 legacy)",
            {"length": len(number)},
        )
    if not (
        number.isascii() and number[:17].isdigit() and (number[17].isdigit() or number[17] == "X")
    ):
        raise PydanticCustomError(
            "id_number_format",
            "resident ID number must be 17 digits and a digit or X (GB 11643-1999)",
        )
    if number[17] != resident_id_check_char(number[:17]):
        raise PydanticCustomError(
            "id_number_check",
            "resident ID number fails the GB 11643-1999 MOD 11-2 check character",
        )
    if not _birth_date_ok(number):
        raise PydanticCustomError(
            "id_number_birth_date", "resident ID number carries an impossible birth date"
        )
    if number[:2] not in province_codes():
        raise PydanticCustomError(
            "id_number_region", "resident ID number starts with an unknown province code"
        )
    return number


@lru_cache(maxsize=65536)  # a pure function of the text; a refusal raises and is not cached
def check_division_code(value: str) -> str:
    """Check a 6-digit GB/T 2260 code (current or historical); return it as sent."""
    code = _compact(value)
    if not is_division_code(code):
        raise PydanticCustomError(
            "division_code",
            "division code '{code}' is not, and never was, a GB/T 2260 code",
            {"code": code},
        )
    return code


def _on_str(check: Any) -> BeforeValidator:
    # Non-strings pass through untouched so that strict validation reports the wrong type.
    return BeforeValidator(lambda v: check(v) if isinstance(v, str) else v)


Uscc = Annotated[
    str,
    Field(pattern=r"^[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}$"),
    _on_str(check_uscc),
]
"""A checked 统一社会信用代码 (GB 32100-2015)."""

PartyUscc = Annotated[
    str,
    Field(pattern=r"^([0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}|0{17}X)$"),
    _on_str(lambda v: check_uscc(v, allow_placeholder=True)),
]
"""A party's USCC: a checked code, or the 个体工商户 placeholder ``00000000000000000X``."""

ResidentIdNumber = Annotated[str, Field(pattern=r"^[0-9]{17}[0-9X]$"), _on_str(check_resident_id)]
"""A checked 居民身份证号码 (GB 11643-1999), always in its 18-character form."""

DivisionCode = Annotated[str, Field(pattern=r"^[0-9]{6}$"), _on_str(check_division_code)]
"""A GB/T 2260 division code that is or ever was valid, passed on as sent."""
