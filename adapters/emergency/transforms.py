"""Transforms the emergency mappings need for YJZF's value rules (README §3.4), listed in
``SPEC.transforms``; ``_wire`` uses ``is_absent`` and ``parse_datetime`` for the head too.

- ``yjzf_date``: ``yyyy-MM-dd``, ``yyyyMMdd`` or ``yyyy年M月d日`` → a date (§3.4).
- ``yjzf_datetime``: ``yyyyMMddHHmmss``, ``yyyy-MM-dd HH:mm:ss`` or ``yyyy-MM-ddTHH:mm:ss``,
  Beijing time → an aware datetime (§3.4).
- ``yjzf_wan_yuan``: 万元 with at most 6 decimals, no sign, exponent or separators → yuan,
  exactly (§3.4).

Full-width digits and letters are folded to half-width before any format check (quirk 7). The
other rules are shared transforms: ``null_any_case`` (every leaf: empty, blank, U+3000 or
``null`` in any letter case is absent, quirk 6), ``legal_basis_list`` (``WFYJ``, §3.6) and
``matches`` (formats). Example::

    fine_amount_yuan: {from: FKJE, transform: [null_any_case, yjzf_wan_yuan]}
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from pydantic_core import PydanticCustomError

from runner.adapter_api import MessageRejected, NoParams, Transform, define_transform
from schemas.money import wan_yuan_to_yuan
from schemas.text import fold_width
from schemas.timeutil import SHANGHAI

__all__ = [
    "TRANSFORMS",
    "is_absent",
    "parse_date",
    "parse_datetime",
    "wan_yuan",
    "yjzf_date",
    "yjzf_datetime",
    "yjzf_wan_yuan",
]


def is_absent(value: Any) -> bool:
    """True for a leaf the README counts as absent: empty, blank (U+3000 too) or ``null``."""
    if value is None:
        return True
    text = str(value).strip()
    return not text or text.lower() == "null"


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


TRANSFORMS: tuple[Transform, ...] = (yjzf_date, yjzf_datetime, yjzf_wan_yuan)
"""Every transform of this module, for ``SPEC.transforms``."""
