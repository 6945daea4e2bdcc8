"""Date and time parsing and formatting, joining lists, and yuan to 万元."""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal
from string import Template
from typing import Annotated, Any

from pydantic import AfterValidator

from runner.mapping.transforms._base import NoParams, Params, _is_whole, _money, _reject, register
from runner.mapping.transforms.scalars import _integer
from schemas.money import to_yuan
from schemas.timeutil import SHANGHAI


class DatetimeParams(Params):
    """Parameters of ``datetime`` and ``date``: strptime formats, and texts that mean absent."""

    formats: tuple[str, ...]
    none_values: tuple[str, ...] = ()


_NAMES = {"%Y": "year", "%m": "month", "%d": "day", "%H": "hour", "%M": "minute", "%S": "second"}
_FIELDS = {token: rf"(?P<{name}>\d{{1,2}})" for token, name in _NAMES.items()}
_FIELDS["%Y"] = r"(?P<year>\d{4})"
_FULL_WIDTH = {token: rf"(?P<{name}>\d{{2}})" for token, name in _NAMES.items()}
_FULL_WIDTH["%Y"] = r"(?P<year>\d{4})"
_FULL_WIDTH |= {"%-m": _FIELDS["%m"], "%-d": _FIELDS["%d"]}


@functools.cache
def _fast_pattern(fmt: str, full_width: bool = False) -> re.Pattern[str] | None:
    """A regex for a format made only of %Y %m %d %H %M %S and literal text, else None.

    strptime costs about 18 µs a call; the hot path parses every record's times with these few
    formats, so they compile once to a regex (same leniency: one- or two-digit fields). With
    ``full_width`` every field must have its full width, and ``%-m`` / ``%-d`` are the month
    and day in one or two digits.
    """
    fields = _FULL_WIDTH if full_width else _FIELDS
    out, index = [], 0
    while index < len(fmt):
        token = next(
            (t for t in (fmt[index : index + 3], fmt[index : index + 2]) if t in fields), ""
        )
        if token:
            out.append(fields[token])
            index += len(token)
        elif fmt[index] == "%":
            return None
        else:
            out.append(re.escape(fmt[index]))
            index += 1
    return re.compile("".join(out))


def _matched_time(pattern: re.Pattern[str], text: str) -> dt.datetime | None:
    """The naive time ``text`` spells in ``pattern``; None when it does not match or is no
    real date (30 February)."""
    match = pattern.fullmatch(text)
    if match is None:
        return None
    parts = {k: int(v) for k, v in match.groupdict().items()}
    try:
        return dt.datetime(
            parts.get("year", 1900),
            parts.get("month", 1),
            parts.get("day", 1),
            parts.get("hour", 0),
            parts.get("minute", 0),
            parts.get("second", 0),
        )
    except ValueError:
        return None


def _parse_time(text: str, formats: tuple[str, ...]) -> dt.datetime:
    for fmt in formats:
        pattern = _fast_pattern(fmt)
        if pattern is not None:
            parsed = _matched_time(pattern, text)
            if parsed is None:
                continue
            return parsed
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    shown = " or ".join(formats)
    raise _reject(f"'{text}' matches none of the time formats {shown}", "datetime_format")


@register("datetime", DatetimeParams, primary="formats")
def _datetime(value: Any, params: DatetimeParams) -> Any:
    """Parse a local (Asia/Shanghai) time with strptime formats (``%Y/%m/%d %H:%M:%S`` also reads
    ``2025/3/5 9:07:00``); ``none_values`` such as ``0001/1/1 0:00:00`` mean absent."""
    if value is None or isinstance(value, dt.datetime):
        return value
    text = str(value).strip()
    if not text or text in params.none_values:
        return None
    parsed = _parse_time(text, params.formats)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=SHANGHAI)
    return parsed.astimezone(SHANGHAI)


@register("date", DatetimeParams, primary="formats")
def _date(value: Any, params: DatetimeParams) -> Any:
    """Parse a calendar date with strptime formats (the time part, if any, is dropped)."""
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    text = str(value).strip()
    if not text or text in params.none_values:
        return None
    return _parse_time(text, params.formats).date()


class EpochParams(Params):
    """Parameters of ``epoch``: ``ms`` or ``s``."""

    unit: str = "ms"


@register("epoch", EpochParams, primary="unit")
def _epoch(value: Any, params: EpochParams) -> Any:
    """Epoch seconds or milliseconds (``unit: ms``) to an Asia/Shanghai datetime."""
    if value is None:
        return None
    number = _integer(value, NoParams())
    divisor = {"ms": 1000, "s": 1}.get(params.unit)
    if divisor is None:
        raise _reject(f"epoch unit '{params.unit}' is not ms or s", "epoch_unit")
    return dt.datetime.fromtimestamp(number / divisor, SHANGHAI)


class EpochAutoParams(Params):
    """Parameters of ``epoch_auto``: below this a value is seconds, from it milliseconds."""

    seconds_below: int = 10**11


@register("epoch_auto", EpochAutoParams)
def _epoch_auto(value: Any, params: EpochAutoParams) -> Any:
    """Epoch milliseconds, or epoch seconds when the value is below ``seconds_below`` (10¹¹:
    as milliseconds 1973, as seconds the year 5138), to an Asia/Shanghai datetime; digits in a
    string are read the same way::

        registered_at: {from: registerTime, transform: [epoch_auto], required: true}
    """
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not _is_whole(value) or value < 0:
        raise _reject("the value is not an epoch time", "epoch_format")
    millis = value * 1000 if value < params.seconds_below else value
    try:
        return dt.datetime.fromtimestamp(millis / 1000, SHANGHAI)
    except (OverflowError, OSError, ValueError):
        raise _reject(f"epoch time {value} is out of range", "epoch_range") from None


def _full_width_format(fmt: str) -> str:
    if _fast_pattern(fmt, full_width=True) is None:
        raise ValueError(f"'{fmt}' uses more than %Y %m %d %H %M %S %-m %-d")
    return fmt


class StrictTimeParams(Params):
    """Parameters of ``strict_time``: the formats, whether 13 digits are epoch milliseconds,
    the words that mean "no value", and whether only the date is wanted."""

    formats: tuple[Annotated[str, AfterValidator(_full_width_format)], ...] = (
        "%Y%m%d%H%M%S",
        "%Y%m%d",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d",
    )
    epoch_ms: bool = True
    none_values: tuple[str, ...] = ()
    as_date: bool = False


_EPOCH_MS = re.compile(r"\d{13}")


@register("strict_time", StrictTimeParams)
def _strict_time(value: Any, params: StrictTimeParams) -> Any:
    """A local time (Asia/Shanghai) in one of ``formats`` with every field at its full width
    (``%-m`` / ``%-d``: one or two digits), or 13-digit epoch milliseconds (``epoch_ms``); a
    value in ``none_values`` is absent; ``as_date`` gives the calendar date. Unlike
    ``datetime``, ``1709654400000`` cannot be misread as ``yyyyMdHHmmss``. The reason of a
    refusal does not repeat the value::

        valid_to:
          from: data.yxqz
          transform: [{strict_time: {as_date: true, none_values: [长期, "99991231"]}}]
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text or text in params.none_values:
        return None
    if params.epoch_ms and _EPOCH_MS.fullmatch(text):
        moment = dt.datetime.fromtimestamp(int(text) / 1000, SHANGHAI)
    else:
        moment = _strict_parse(text, params.formats)
    return moment.date() if params.as_date else moment


def _strict_parse(text: str, formats: tuple[str, ...]) -> dt.datetime:
    for fmt in formats:
        pattern = _fast_pattern(fmt, full_width=True)
        parsed = None if pattern is None else _matched_time(pattern, text)
        if parsed is not None:
            return parsed.replace(tzinfo=SHANGHAI)
    raise _reject("the value is not a time in any of the accepted formats", "datetime_format")


@register("iso_datetime")
def _iso_datetime(value: Any, _: NoParams) -> Any:
    """An ISO 8601 datetime; without a zone it is Asia/Shanghai."""
    if value is None or isinstance(value, dt.datetime):
        return value
    try:
        parsed = dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise _reject(f"'{value}' is not an ISO 8601 datetime", "datetime_format") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


class FormatParams(Params):
    """Parameters of ``format_time``: the strftime format."""

    format: str


_UNPADDED = {"%-m": "month", "%-d": "day", "%-H": "hour", "%-M": "minute", "%-S": "second"}


def _as_time(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return (
                dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
            )
        except ValueError:
            pass
    raise _reject(f"'{value}' is not a date or time", "format_time_input")


@register("format_time", FormatParams, primary="format")
def _format_time(value: Any, params: FormatParams) -> Any:
    """Format a date or datetime (or its ISO text) with strftime; a datetime in +08:00 first.

    ``%-m``, ``%-d``, ``%-H``, ``%-M``, ``%-S`` give numbers without leading zeros
    (``2025/6/17``) on every platform.
    """
    if value is None:
        return None
    moment = _as_time(value)
    if isinstance(moment, dt.datetime) and moment.tzinfo:
        moment = moment.astimezone(SHANGHAI)
    pattern = params.format
    for token, attribute in _UNPADDED.items():
        pattern = pattern.replace(token, str(getattr(moment, attribute, 0)))
    return moment.strftime(pattern)


class JoinParams(Params):
    """Parameters of ``join``: the separator, and a template for object items."""

    separator: str
    template: str | None = None


@register("join", JoinParams, primary="separator")
def _join(value: Any, params: JoinParams) -> Any:
    """Join a list into one string; ``template`` (``$name:$certificate_no``) formats each object
    item with ``string.Template`` (a missing or null key gives the empty string)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise _reject("join needs a list", "join_input")
    template = Template(params.template) if params.template else None
    parts = []
    for item in value:
        if template is not None and isinstance(item, dict):
            parts.append(template.substitute({k: "" if v is None else v for k, v in item.items()}))
        else:
            parts.append("" if item is None else str(item))
    return params.separator.join(parts)


@register("null_as_empty")
def _null_as_empty(value: Any, _: NoParams) -> Any:
    """Absent becomes the empty string (for wire formats where "no value" is ``""``)."""
    return "" if value is None else value


class DecimalsParams(Params):
    """Parameters of ``to_wan_yuan``: the decimals of the result."""

    places: int = 6


@register("to_wan_yuan", DecimalsParams, primary="places")
def _to_wan_yuan(value: Any, params: DecimalsParams) -> Any:
    """Yuan to 万元 as a decimal string with ``places`` decimals, exactly (``"52000.00"`` →
    ``"5.200000"``); an amount that needs more places is refused, never rounded."""
    if value is None:
        return None
    yuan = _money(to_yuan, value)
    wan = yuan / 10000
    quantized = wan.quantize(Decimal(1).scaleb(-params.places))
    if quantized != wan:
        raise _reject(
            f"{yuan} yuan needs more than {params.places} decimals in 万元", "money_precision"
        )
    return f"{quantized:.{params.places}f}"


@register("year")
def _year(value: Any, _: NoParams) -> Any:
    """The year of a date or datetime."""
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.year
    raise _reject(f"'{value}' is not a date or time", "year_input")
