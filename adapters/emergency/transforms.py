"""Transforms the emergency mappings need for YJZF's value rules (README §3, §3.4, §3.6).

Each is written so that it could move into ``runner/mapping/transforms.py`` unchanged; until
then ``SPEC.transforms`` lists them.

- ``yjzf_null``: the absent rule of every leaf: empty, white space only (U+3000 included) or the
  literal ``null`` in any letter case → null; anything else trimmed (quirk 6).
- ``yjzf_date``: ``yyyy-MM-dd``, ``yyyyMMdd`` or ``yyyy年M月d日`` → a date (§3.4).
- ``yjzf_datetime``: ``yyyyMMddHHmmss``, ``yyyy-MM-dd HH:mm:ss`` or ``yyyy-MM-ddTHH:mm:ss``,
  Beijing time → an aware datetime (§3.4).
- ``yjzf_wan_yuan``: 万元 with at most 6 decimals, no sign, exponent or separators → yuan,
  exactly (§3.4).
- ``yjzf_legal_basis``: ``《法》第…条；《法》第…条`` → ``[{law_name, article}]`` (§3.6).
- ``yjzf_match``: the value must match a regular expression (``{yjzf_match: "\\d{11}"}``).

Full-width digits and letters are folded to half-width before any format check (quirk 7).
Example::

    fine_amount_yuan: {from: FKJE, transform: [yjzf_null, yjzf_wan_yuan]}
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal
from typing import Any

from pydantic_core import PydanticCustomError

from runner.adapter_api import MessageRejected, NoParams, Params, Transform, define_transform
from schemas.money import wan_yuan_to_yuan
from schemas.text import fold_width, normalize_text
from schemas.timeutil import SHANGHAI

__all__ = [
    "TRANSFORMS",
    "is_absent",
    "parse_date",
    "parse_datetime",
    "wan_yuan",
    "yjzf_date",
    "yjzf_datetime",
    "yjzf_legal_basis",
    "yjzf_match",
    "yjzf_null",
    "yjzf_wan_yuan",
]


def is_absent(value: Any) -> bool:
    """True for a leaf the README counts as absent: empty, blank (U+3000 too) or ``null``."""
    if value is None:
        return True
    text = str(value).strip()
    return not text or text.lower() == "null"


@define_transform("yjzf_null")
def yjzf_null(value: Any, _: NoParams) -> Any:
    """Absent (empty, blank, ``null`` in any case) → null; otherwise the NFC, trimmed text."""
    if is_absent(value):
        return None
    return normalize_text(value) if isinstance(value, str) else value


# --- dates and times --------------------------------------------------------------------------

_DATES = (
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"),
    re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"),
    re.compile(r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日"),
)
_TIMES = (
    re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})"),
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})[ T](?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2})"),
)


def parse_date(text: str) -> dt.date:
    """A §3.4 date (full-width digits folded); ``MessageRejected`` (``date_format``) otherwise.

    The reason names the accepted spellings, not the value.
    """
    folded = fold_width(text).strip()
    for pattern in _DATES:
        match = pattern.fullmatch(folded)
        if match:
            try:
                return dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
            except ValueError:
                break
    raise MessageRejected(
        "not a date in yyyy-MM-dd, yyyyMMdd or yyyy年M月d日 (README §3.4)", rule="date_format"
    )


def parse_datetime(text: str) -> dt.datetime:
    """A §3.4 datetime in Beijing time (aware, +08:00); ``MessageRejected`` otherwise."""
    folded = fold_width(text).strip()
    for pattern in _TIMES:
        match = pattern.fullmatch(folded)
        if match:
            try:
                y, m, d, hh, mm, ss = (int(match[k]) for k in ("y", "m", "d", "H", "M", "S"))
                return dt.datetime(y, m, d, hh, mm, ss, tzinfo=SHANGHAI)
            except ValueError:
                break
    raise MessageRejected(
        "not a datetime in yyyyMMddHHmmss, yyyy-MM-dd HH:mm:ss or yyyy-MM-ddTHH:mm:ss "
        "(README §3.4)",
        rule="datetime_format",
    )


@define_transform("yjzf_date")
def yjzf_date(value: Any, _: NoParams) -> Any:
    """``2024-03-05``, ``20240305`` or ``2024年3月5日`` → a date; null stays null."""
    if value is None or isinstance(value, dt.date):
        return value
    return parse_date(str(value))


@define_transform("yjzf_datetime")
def yjzf_datetime(value: Any, _: NoParams) -> Any:
    """``20240305093000``, ``2024-03-05 09:30:00`` or ``2024-03-05T09:30:00`` (Beijing time)
    → an aware datetime; null stays null."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return parse_datetime(str(value))


# --- money ------------------------------------------------------------------------------------

_WAN_YUAN = re.compile(r"\d+(\.\d{1,6})?")


def wan_yuan(text: str) -> Decimal:
    """万元 → yuan, exactly; anything but digits with up to 6 decimals is ``amount_format``."""
    folded = fold_width(text).strip()
    if not _WAN_YUAN.fullmatch(folded):
        raise MessageRejected(
            "amount in 万元 must be digits with at most 6 decimals, without sign, exponent or "
            "separators (README §3.4)",
            rule="amount_format",
        )
    try:
        return wan_yuan_to_yuan(folded)
    except PydanticCustomError as exc:
        raise MessageRejected(exc.message(), rule=exc.type) from None


@define_transform("yjzf_wan_yuan")
def yjzf_wan_yuan(value: Any, _: NoParams) -> Any:
    """``2.8`` 万元 → ``28000.00`` yuan (decimal arithmetic, never a float)."""
    return None if value is None else wan_yuan(str(value))


# --- legal basis ------------------------------------------------------------------------------

_ENTRY = re.compile(r"《(?P<law>[^《》]*)》(?P<article>[^《]*)")
_TRAILING = " \t\r\n\u3000；;，,、"


@define_transform("yjzf_legal_basis")
def yjzf_legal_basis(value: Any, _: NoParams) -> Any:
    """``《条例》第三十三条第一款；《办法》第三条`` → one ``{law_name, article}`` per 《…》.

    The article is the text up to the next 《 with trailing separators removed (null when
    empty); several articles of one law stay in one entry. No 《…》 at all is refused.
    """
    if value is None:
        return None
    text = normalize_text(str(value))
    entries = [
        {
            "law_name": normalize_text(match["law"]),
            "article": match["article"].strip(_TRAILING) or None,
        }
        for match in _ENTRY.finditer(text)
    ]
    if not entries or any(not entry["law_name"] for entry in entries):
        raise MessageRejected(
            "legal basis names no 《law》 (README §3.6)", rule="legal_basis_format"
        )
    return entries


# --- formats ----------------------------------------------------------------------------------


class MatchParams(Params):
    """``pattern``: a regular expression the whole (folded, trimmed) value must match."""

    pattern: str


_compiled = functools.cache(re.compile)  # each pattern compiles once per process


@define_transform("yjzf_match", MatchParams, primary="pattern")
def yjzf_match(value: Any, params: MatchParams) -> Any:
    """The value, folded to half-width and trimmed, when it matches ``pattern``; else refused
    with rule ``format`` (the reason gives the pattern, never the value)."""
    if value is None:
        return None
    folded = fold_width(str(value)).strip()
    if not _compiled(params.pattern).fullmatch(folded):
        raise MessageRejected(f"value does not match {params.pattern}", rule="format")
    return folded


TRANSFORMS: tuple[Transform, ...] = (
    yjzf_null,
    yjzf_date,
    yjzf_datetime,
    yjzf_wan_yuan,
    yjzf_legal_basis,
    yjzf_match,
)
"""Every transform of this module, for ``SPEC.transforms``."""
