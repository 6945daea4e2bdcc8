"""Datetimes and dates of the canonical contract.

Every ``*_at`` field is an ISO 8601 datetime to the second with the offset ``+08:00``. A source
time without a zone is Asia/Shanghai; a time in another zone is converted; a date-only value
becomes ``T00:00:00+08:00``. China has kept UTC+8 without daylight saving since 1991, so the bus
uses the fixed offset: a historical summer time can never come out as ``+09:00``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = ["SHANGHAI", "CanonicalDate", "CanonicalDatetime", "to_canonical_datetime", "to_date"]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
SHANGHAI = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
"""The zone of every canonical datetime (China Standard Time, UTC+08:00)."""


def to_canonical_datetime(value: Any) -> dt.datetime:
    """A ``+08:00`` datetime truncated to the second, from a datetime, a date or an ISO string."""
    if isinstance(value, str):
        try:
            parsed: dt.datetime | dt.date = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise PydanticCustomError(
                "datetime_format", "'{value}' is not an ISO 8601 datetime", {"value": value}
            ) from None
        value = parsed
    if isinstance(value, dt.datetime):
        aware = value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value
        return aware.astimezone(SHANGHAI).replace(microsecond=0)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=SHANGHAI)
    raise PydanticCustomError(
        "datetime_type", "expected an ISO 8601 datetime, got {kind}", {"kind": type(value).__name__}
    )


def to_date(value: Any) -> dt.date:
    """A calendar date from a date or an ISO ``YYYY-MM-DD`` string (never a datetime)."""
    if isinstance(value, dt.datetime):
        raise PydanticCustomError("date_type", "expected a date, got a datetime")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            if not _ISO_DATE.fullmatch(value.strip()):
                raise ValueError(value)
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise PydanticCustomError(
                "date_format", "'{value}' is not an ISO 8601 date (YYYY-MM-DD)", {"value": value}
            ) from None
    raise PydanticCustomError(
        "date_type", "expected an ISO 8601 date, got {kind}", {"kind": type(value).__name__}
    )


def _or_none(convert: Any) -> Any:
    return lambda v: None if v is None else convert(v)


CanonicalDatetime = Annotated[
    dt.datetime,
    BeforeValidator(_or_none(to_canonical_datetime)),
    PlainSerializer(lambda d: d.isoformat(timespec="seconds"), return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$",
            "examples": ["2024-03-05T10:20:00+08:00"],
        }
    ),
]
"""An ISO 8601 datetime to the second, always ``+08:00``."""

CanonicalDate = Annotated[
    dt.date,
    BeforeValidator(_or_none(to_date)),
    PlainSerializer(lambda d: d.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}),
]
"""An ISO 8601 calendar date."""
