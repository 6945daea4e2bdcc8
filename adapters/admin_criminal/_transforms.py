"""Transforms the admin_criminal mappings need that the shared library lacks.

Each is written for any system, so that it can move into ``runner/mapping/transforms.py``
unchanged; until then ``SPEC.transforms`` lists them.

- ``end_of_day_plus``: the end (23:59:59 +08:00) of the Nth calendar day after a time — the
  "3日" deadlines of Decree 310 (README §3: the event's day is not counted);
- ``plus_hours``: a time plus N wall-clock hours — the "24小时" deadlines;
- ``matches``: a string that does not fully match a regular expression rejects the message
  (``msgType`` constants, 12-digit organ codes);
- ``first_chars``: the first N characters of a string (a division code from an organ code);
- ``lower``: lower-case a string (upper-case digests, quirk Q8);
- ``uscc``: fold and check a USCC (GB 32100) that is not mapped to a canonical field but must
  still be valid (quirk Q9);
- ``number_items``: each object of a list with its 1-based position first (``seq``); the same
  as joint_punishment's.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from typing import Any

from pydantic_core import PydanticCustomError

from runner.adapter_api import MessageRejected, NoParams, Params, Transform, define_transform
from schemas.identifiers import check_uscc
from schemas.timeutil import SHANGHAI

__all__ = [
    "TRANSFORMS",
    "end_of_day_plus",
    "first_chars",
    "lower",
    "matches",
    "number_items",
    "plus_hours",
    "uscc",
]


def _moment(value: Any, name: str) -> dt.datetime:
    """``value`` as an aware datetime (a date is its midnight, a naive time Asia/Shanghai)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise MessageRejected(f"{name} needs a date or time", rule=name) from None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), SHANGHAI)
    raise MessageRejected(f"{name} needs a date or time", rule=name)


class DaysParams(Params):
    days: int


@define_transform("end_of_day_plus", DaysParams, primary="days")
def end_of_day_plus(value: Any, params: DaysParams) -> Any:
    """The end of the ``days``-th calendar day after a time, 23:59:59 Asia/Shanghai (the day of
    the event is not counted)::

        due_at: {var: sign_time, transform: [{end_of_day_plus: 3}]}

    ``2025-05-06 15:20`` → ``2025-05-09T23:59:59+08:00``.
    """
    if value is None:
        return None
    day = _moment(value, "end_of_day_plus").astimezone(SHANGHAI).date()
    due = day + dt.timedelta(days=params.days)
    return dt.datetime.combine(due, dt.time(23, 59, 59), SHANGHAI)


class HoursParams(Params):
    hours: float


@define_transform("plus_hours", HoursParams, primary="hours")
def plus_hours(value: Any, params: HoursParams) -> Any:
    """A time plus ``hours`` wall-clock hours::

    due_at: {var: received_time, transform: [{plus_hours: 24}]}
    """
    if value is None:
        return None
    return _moment(value, "plus_hours") + dt.timedelta(hours=params.hours)


class PatternParams(Params):
    pattern: str


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@define_transform("matches", PatternParams, primary="pattern")
def matches(value: Any, params: PatternParams) -> Any:
    """The string unchanged when it fully matches ``pattern``; anything else rejects the message
    (the reason names the pattern, never the value)::

        code: {from: organ.code, transform: [{matches: "\\\\d{12}"}], required: true}
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MessageRejected(f"a text matching {params.pattern} is expected", rule="pattern")
    text = str(value)
    if not _compiled(params.pattern).fullmatch(text):
        raise MessageRejected(f"the value does not match {params.pattern}", rule="pattern")
    return text


class LengthParams(Params):
    length: int


@define_transform("first_chars", LengthParams, primary="length")
def first_chars(value: Any, params: LengthParams) -> Any:
    """The first ``length`` characters of a string (``350322000000`` → ``350322``)."""
    if value is None:
        return None
    return str(value)[: params.length]


@define_transform("lower")
def lower(value: Any, _: NoParams) -> Any:
    """Lower-case a string."""
    return value.lower() if isinstance(value, str) else value


@define_transform("uscc")
def uscc(value: Any, _: NoParams) -> Any:
    """A USCC folded (full-width, lower case) and checked (GB 32100-2015 mod 31); a code that
    fails rejects the message. For codes a payload does not carry but a spec wants checked."""
    if value is None:
        return None
    try:
        return check_uscc(str(value))
    except PydanticCustomError as exc:
        raise MessageRejected(exc.message(), rule=exc.type) from None


class NumberItemsParams(Params):
    key: str
    start: int = 1


@define_transform("number_items", NumberItemsParams, primary="key")
def number_items(value: Any, params: NumberItemsParams) -> Any:
    """Each object of a list with its position (from ``start``) under ``key``, put first::

    evidence: {each: payload.evidence, fields: {…}, transform: [{number_items: seq}]}
    """
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise MessageRejected("number_items needs a list of objects", rule="number_items")
    return [
        {params.key: index, **{k: v for k, v in item.items() if k != params.key}}
        for index, item in enumerate(value, start=params.start)
    ]


TRANSFORMS: tuple[Transform, ...] = (
    end_of_day_plus,
    plus_hours,
    matches,
    first_chars,
    lower,
    uscc,
    number_items,
)
"""The transforms ``SPEC.transforms`` lists."""
