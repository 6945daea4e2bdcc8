"""Date arithmetic: years, calendar days, hours and working days added to a time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from runner.mapping.transforms._base import NoParams, Params, _is_whole, _reject, register
from schemas.timeutil import SHANGHAI


def _moment(value: Any, rule: str) -> dt.datetime:
    """``value`` as an aware datetime in Asia/Shanghai: a date is its midnight, a naive time
    (or ISO 8601 text without a zone) is Asia/Shanghai time."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise _reject("the value is not an ISO 8601 date or time", rule) from None
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
        return aware.astimezone(SHANGHAI)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), SHANGHAI)
    raise _reject(f"a {type(value).__name__} is not a date or time", rule)


class YearsParams(Params):
    """Parameters of ``add_years``: how many years."""

    years: int = 1


@register("add_years", YearsParams, primary="years")
def _add_years(value: Any, params: YearsParams) -> Any:
    """A date plus ``years`` years, same month and day; 29 February gives 28 February in a
    common year. A datetime (or its ISO text) is taken in Asia/Shanghai, then its date used::

        CF_GSJZQ: {from: payload.decided_at, transform: [{add_years: 1}, {format_time: "%Y/%m/%d"}]}
    """
    if value is None:
        return None
    day = _moment(value, "add_years_input").date()
    year = day.year + params.years
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February in a common year
        return day.replace(year=year, day=28)


class DaysParams(Params):
    """Parameters of ``end_of_day_plus``: how many calendar days."""

    days: int


@register("end_of_day_plus", DaysParams, primary="days")
def _end_of_day_plus(value: Any, params: DaysParams) -> Any:
    """The end (23:59:59 Asia/Shanghai) of the ``days``-th calendar day after a time; the day
    of the event is not counted (the "3日" deadlines)::

        due_at: {var: sign_time, transform: [{end_of_day_plus: 3}]}
        # 2025-05-06 15:20 → 2025-05-09T23:59:59+08:00
    """
    if value is None:
        return None
    due = _moment(value, "end_of_day_plus").date() + dt.timedelta(days=params.days)
    return dt.datetime.combine(due, dt.time(23, 59, 59), SHANGHAI)


class HoursParams(Params):
    """Parameters of ``plus_hours``: how many wall-clock hours."""

    hours: float


@register("plus_hours", HoursParams, primary="hours")
def _plus_hours(value: Any, params: HoursParams) -> Any:
    """A time plus ``hours`` wall-clock hours, in Asia/Shanghai (the "24小时" deadlines)::

    due_at: {var: received_time, transform: [{plus_hours: 24}]}
    """
    if value is None:
        return None
    return _moment(value, "plus_hours") + dt.timedelta(hours=params.hours)


_SATURDAY = 5


@register("add_working_days")
def _add_working_days(value: Any, _: NoParams) -> Any:
    """``{at, days}`` → ``at`` plus ``days`` working days (Monday..Friday), same clock time in
    Asia/Shanghai. Weekends are skipped; statutory holidays and 调休 are not known::

        due_at:
          first: [{at: {var: received_at}, days: BLSX}]
          transform: [add_working_days]
    """
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("at") is None or value.get("days") is None:
        raise _reject("add_working_days needs 'at' and 'days'", "working_days")
    day, left = _moment(value["at"], "working_days"), value["days"]
    if not _is_whole(left) or left < 0:
        raise _reject("'days' must be a whole number ≥ 0", "working_days")
    while left > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < _SATURDAY:
            left -= 1
    return day
