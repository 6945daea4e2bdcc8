"""Transforms the hotline_12345 mappings need that the shared library does not have (yet).

Each is written for any system, not only this one, so that it can move into
``runner/mapping/transforms.py`` unchanged; until then ``SPEC.transforms`` lists them.

- ``add_working_days``: a deadline N working days (Monday..Friday) after a time, same clock
  time (README §5.1 ``due_at``; statutory holidays are ignored in interface v3).
- ``division_code``: a GB/T 2260 code from 6 digits or a 12-digit 统计用区划代码 (quirk Q4).
- ``whole_number``: a whole number in a range, as a JSON number (or digits, when allowed:
  quirk Q7 ``BLSX`` may be ``"10"``, ``PDXH`` never is).
- ``matches``: a text that must match a pattern (``GDBH`` = ``GD`` + 15 digits).
- ``extract``: the first group of a pattern (``PDXH`` from ``source_message_id``).
- ``length``: a text whose length must lie in a range (``CLCS`` 10..2000, README §4.3).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from runner.adapter_api import MessageRejected, NoParams, Params, Transform, define_transform
from schemas.timeutil import SHANGHAI

__all__ = [
    "TRANSFORMS",
    "add_working_days",
    "division_code",
    "extract",
    "length",
    "matches",
    "whole_number",
]

_SATURDAY = 5


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- whole_number -----------------------------------------------------------------------------


class WholeNumberParams(Params):
    min: int | None = None
    max: int | None = None
    text: bool = False


@define_transform("whole_number", WholeNumberParams)
def whole_number(value: Any, params: WholeNumberParams) -> Any:
    """A whole JSON number within ``min``..``max``; with ``text: true`` also its digits as a
    string (``"10"``). Anything else is refused::

        days: {from: BLSX, transform: [{whole_number: {min: 1, max: 60, text: true}}]}
    """
    if value is None:
        return None
    if params.text and isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not _is_whole(value):
        kind = "text" if isinstance(value, str) else type(value).__name__
        raise MessageRejected(f"a whole number is required, got {kind}", rule="whole_number")
    low = params.min if params.min is not None else value
    high = params.max if params.max is not None else value
    if not low <= value <= high:
        raise MessageRejected(
            f"{value} is outside {params.min}..{params.max}", rule="whole_number_range"
        )
    return value


# --- matches / extract / length ---------------------------------------------------------------


class PatternParams(Params):
    pattern: str


@define_transform("matches", PatternParams, primary="pattern")
def matches(value: Any, params: PatternParams) -> Any:
    """The text unchanged when it matches ``pattern`` whole; otherwise the message is refused
    (the value is not repeated in the reason)::

        clue_id: {from: GDBH, transform: [{matches: "GD[0-9]{15}"}]}
    """
    if value is None:
        return None
    if not re.fullmatch(params.pattern, str(value)):
        raise MessageRejected(f"the value does not match {params.pattern}", rule="pattern")
    return value


@define_transform("extract", PatternParams, primary="pattern")
def extract(value: Any, params: PatternParams) -> Any:
    """The first group of ``pattern`` searched in the text; no match refuses the message::

    PDXH: {from: source_message_id, transform: [{extract: "#([1-9][0-9]*)$"}, integer]}
    """
    if value is None:
        return None
    found = re.search(params.pattern, str(value))
    if found is None:
        raise MessageRejected(f"the value does not contain {params.pattern}", rule="pattern")
    return found.group(1) if found.groups() else found.group(0)


class LengthParams(Params):
    min: int = 0
    max: int | None = None


@define_transform("length", LengthParams)
def length(value: Any, params: LengthParams) -> Any:
    """The text unchanged when its length (in characters) is within ``min``..``max``::

    CLCS: {from: payload.findings, transform: [{length: {min: 10, max: 2000}}]}
    """
    if value is None:
        return None
    size = len(str(value))
    if size < params.min or (params.max is not None and size > params.max):
        upper = params.max if params.max is not None else "∞"
        raise MessageRejected(f"{size} characters, allowed {params.min}..{upper}", rule="length")
    return value


# --- division_code ----------------------------------------------------------------------------


@define_transform("division_code", NoParams)
def division_code(value: Any, _: NoParams) -> Any:
    """A 6-digit GB/T 2260 code as sent, or the first 6 digits of a 12-digit 统计用区划代码
    (``350104003000`` → ``350104``); any other form is refused::

        division_code: {from: QHDM, transform: [division_code]}
    """
    if value is None:
        return None
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{6}|[0-9]{12}", text):
        raise MessageRejected(
            "a division code has 6 digits (or 12 for a 统计用区划代码)", rule="division_code_format"
        )
    return text[:6]


# --- add_working_days -------------------------------------------------------------------------


def _moment(value: Any) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise MessageRejected("the start is not an ISO time", rule="working_days") from None
    if not isinstance(value, dt.datetime):
        raise MessageRejected("the start is not a time", rule="working_days")
    aware = value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
    return aware.astimezone(SHANGHAI)


@define_transform("add_working_days", NoParams)
def add_working_days(value: Any, _: NoParams) -> Any:
    """``{at, days}`` → ``at`` plus ``days`` working days (Monday..Friday), same clock time in
    Asia/Shanghai. Weekends are skipped; holidays and 调休 are not known (README §5.1)::

        due_at:
          first: [{at: {var: received_at}, days: BLSX}]
          transform: [add_working_days]
    """
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("at") is None or value.get("days") is None:
        raise MessageRejected("add_working_days needs 'at' and 'days'", rule="working_days")
    day, left = _moment(value["at"]), value["days"]
    if not _is_whole(left) or left < 0:
        raise MessageRejected("'days' must be a whole number ≥ 0", rule="working_days")
    while left > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < _SATURDAY:
            left -= 1
    return day


TRANSFORMS: tuple[Transform, ...] = (
    add_working_days,
    division_code,
    extract,
    length,
    matches,
    whole_number,
)
"""The transforms ``SPEC.transforms`` contributes to the hotline_12345 mappings."""
