"""The library of named transforms that mapping rules apply to selected values.

A transform is a function ``(value, params) -> value`` registered under a name with a pydantic
model for its parameters, so that lint can check a mapping's use of it. In YAML a transform is
its name (``wan_yuan``) or a one-key mapping with its parameters
(``{datetime: {formats: ["%Y/%m/%d %H:%M:%S"]}}``; a bare value stands for the first
parameter: ``{split: "[;；]"}``).

``None`` flows through every transform untouched (absent stays absent) except the ones that
exist to produce a value from nothing (``default``). A transform that cannot apply raises
``MessageRejected`` with its rule; the mapping adds the system, message and field.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from string import Template
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from runner.errors import MessageRejected
from schemas.money import fen_to_yuan, to_yuan, wan_yuan_to_yuan
from schemas.text import fold_width, normalize_text
from schemas.timeutil import SHANGHAI

__all__ = [
    "TRANSFORMS",
    "NoParams",
    "Params",
    "Transform",
    "TransformFn",
    "define",
    "get_transform",
]

TransformFn = Callable[[Any, Any], Any]


class Params(BaseModel):
    """Base of transform parameter models: closed, so a misspelt parameter is a lint error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    """The transform takes no parameters."""


@dataclass(frozen=True)
class Transform:
    """A registered transform: its function, its parameter model and the first parameter's name
    (what a bare value in ``{name: value}`` stands for)."""

    name: str
    fn: TransformFn
    params: type[Params]
    primary: str | None
    doc: str


TRANSFORMS: dict[str, Transform] = {}


def define(
    name: str, params: type[Params] = NoParams, primary: str | None = None
) -> Callable[[TransformFn], Transform]:
    """Make ``fn`` a transform called ``name``; an adapter lists such transforms in its spec."""

    def wrap(fn: TransformFn) -> Transform:
        return Transform(name, fn, params, primary, (fn.__doc__ or "").strip())

    return wrap


def register(
    name: str, params: type[Params] = NoParams, primary: str | None = None
) -> Callable[[TransformFn], TransformFn]:
    """Add ``fn`` to the shared library as transform ``name`` (this module's own use only)."""

    def wrap(fn: TransformFn) -> TransformFn:
        TRANSFORMS[name] = define(name, params, primary)(fn)
        return fn

    return wrap


def get_transform(name: str) -> Transform:
    """The transform called ``name``; ``KeyError`` when there is none."""
    return TRANSFORMS[name]


def _reject(reason: str, rule: str) -> MessageRejected:
    return MessageRejected(reason, rule=rule)


def _money(convert: Callable[[Any], Decimal], value: Any) -> Decimal:
    try:
        return convert(value)
    except PydanticCustomError as exc:
        raise _reject(exc.message(), exc.type) from None


# --- text -------------------------------------------------------------------------------------


@register("trim")
def _trim(value: Any, _: NoParams) -> Any:
    """NFC-normalise and trim a string; an empty result becomes null."""
    if value is None or not isinstance(value, str):
        return value
    text = normalize_text(value)
    return text or None


@register("fold_width")
def _fold_width(value: Any, _: NoParams) -> Any:
    """Fold full-width ASCII (``ＡＢ１２``) to half-width."""
    return fold_width(value) if isinstance(value, str) else value


@register("upper")
def _upper(value: Any, _: NoParams) -> Any:
    """Upper-case a string."""
    return value.upper() if isinstance(value, str) else value


class NullWordsParams(Params):
    words: tuple[str, ...] = ("null", "NULL", "Null", "none", "None")


@register("null_words", NullWordsParams, primary="words")
def _null_words(value: Any, params: NullWordsParams) -> Any:
    """Treat placeholder words (``"null"`` by default) and the empty string as absent."""
    if isinstance(value, str) and (value.strip() in params.words or not value.strip()):
        return None
    return value


class PrefixParams(Params):
    text: str


@register("strip_prefix", PrefixParams, primary="text")
def _strip_prefix(value: Any, params: PrefixParams) -> Any:
    """Remove a fixed prefix (``身份码:``) when present."""
    return value.removeprefix(params.text) if isinstance(value, str) else value


class DefaultParams(Params):
    value: Any


@register("default", DefaultParams, primary="value")
def _default(value: Any, params: DefaultParams) -> Any:
    """Give a value to an absent one."""
    return params.value if value is None else value


# --- lists ------------------------------------------------------------------------------------


class SplitParams(Params):
    pattern: str


@register("split", SplitParams, primary="pattern")
def _split(value: Any, params: SplitParams) -> Any:
    """Split a string on a regular expression into trimmed, non-empty parts."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    parts = re.split(params.pattern, str(value))
    return [p for p in (normalize_text(x) for x in parts) if p]


@register("dedupe")
def _dedupe(value: Any, _: NoParams) -> Any:
    """Drop repeated list items, keeping the first occurrence (source order)."""
    if not isinstance(value, list):
        return value
    out: list[Any] = []
    for item in value:
        if item not in out:
            out.append(item)
    return out


class PairParams(Params):
    pattern: str
    keys: tuple[str, str]


@register("pair", PairParams)
def _pair(value: Any, params: PairParams) -> Any:
    """Split ``姓名:执法证号`` into ``{keys[0]: 姓名, keys[1]: 执法证号}`` (second part may be
    absent)."""
    if value is None:
        return None
    left, *rest = re.split(params.pattern, str(value), maxsplit=1)
    right = normalize_text(rest[0]) if rest and rest[0].strip() else None
    return {params.keys[0]: normalize_text(left), params.keys[1]: right}


_LEGAL = re.compile(r"^\s*《(?P<law>[^》]+)》\s*(?P<article>.*)$")


@register("legal_basis")
def _legal_basis(value: Any, _: NoParams) -> Any:
    """``《产品质量法》第四十九条`` → ``{law_name, article}`` (article may be null)."""
    if value is None:
        return None
    match = _LEGAL.match(str(value))
    if not match:
        raise _reject(
            f"legal basis '{value}' is not of the form 《law name》article", "legal_basis_format"
        )
    article = normalize_text(match["article"]) or None
    return {"law_name": normalize_text(match["law"]), "article": article}


@register("law_name")
def _law_name(value: Any, _: NoParams) -> Any:
    """Drop the 《》 around a law name."""
    if not isinstance(value, str):
        return value
    return normalize_text(value).removeprefix("《").removesuffix("》")


# --- booleans and numbers ---------------------------------------------------------------------


class BoolParams(Params):
    true: tuple[str, ...] = ("是", "Y", "y", "1", "true", "TRUE", "True")
    false: tuple[str, ...] = ("否", "N", "n", "0", "false", "FALSE", "False")


@register("boolean", BoolParams)
def _boolean(value: Any, params: BoolParams) -> Any:
    """``是``/``否`` (and the usual spellings) to true/false; anything else is refused."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip()
    if text in params.true:
        return True
    if text in params.false:
        return False
    raise _reject(f"'{text}' is not a yes/no value", "boolean_format")


@register("integer")
def _integer(value: Any, _: NoParams) -> Any:
    """A whole number from digits (or an integral JSON number)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"-?\d+", text):
        raise _reject(f"'{text}' is not a whole number", "integer_format")
    return int(text)


@register("string")
def _string(value: Any, _: NoParams) -> Any:
    """A number or other scalar as its text (``10187`` → ``"10187"``)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise _reject("a boolean is not text", "string_format")
    return str(value)


# --- money ------------------------------------------------------------------------------------


@register("yuan")
def _yuan(value: Any, _: NoParams) -> Any:
    """An amount in yuan, exactly two places."""
    return None if value is None else _money(to_yuan, value)


@register("wan_yuan")
def _wan_yuan(value: Any, _: NoParams) -> Any:
    """万元 (ten-thousand yuan) to yuan, exactly: ``"3.8"`` → ``38000.00``."""
    return None if value is None else _money(wan_yuan_to_yuan, value)


@register("fen")
def _fen(value: Any, _: NoParams) -> Any:
    """分 (fen) to yuan, exactly: ``3800000`` → ``38000.00``."""
    return None if value is None else _money(fen_to_yuan, value)


# --- dates and times --------------------------------------------------------------------------


class DatetimeParams(Params):
    formats: tuple[str, ...]
    none_values: tuple[str, ...] = ()


_FIELDS = {
    "%Y": r"(?P<year>\d{4})",
    "%m": r"(?P<month>\d{1,2})",
    "%d": r"(?P<day>\d{1,2})",
    "%H": r"(?P<hour>\d{1,2})",
    "%M": r"(?P<minute>\d{1,2})",
    "%S": r"(?P<second>\d{1,2})",
}


@functools.cache
def _fast_pattern(fmt: str) -> re.Pattern[str] | None:
    """A regex for a format made only of %Y %m %d %H %M %S and literal text, else None.

    strptime costs about 18 µs a call; the hot path parses every record's times with these few
    formats, so they compile once to a regex (same leniency: one- or two-digit fields).
    """
    out, index = [], 0
    while index < len(fmt):
        token = fmt[index : index + 2]
        if token in _FIELDS:
            out.append(_FIELDS[token])
            index += 2
        elif fmt[index] == "%":
            return None
        else:
            out.append(re.escape(fmt[index]))
            index += 1
    return re.compile("".join(out))


def _parse_time(text: str, formats: tuple[str, ...]) -> dt.datetime:
    for fmt in formats:
        pattern = _fast_pattern(fmt)
        if pattern is not None:
            match = pattern.fullmatch(text)
            if match is None:
                continue
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
                continue
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


class IsoParams(Params):
    pass


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


def validate_params(transform: Transform, raw: Any) -> Params:
    """Build the parameter model of ``transform`` from YAML (a bare value means the primary)."""
    if raw is None:
        raw = {}
    elif not isinstance(raw, dict) or (
        transform.primary
        and transform.primary not in raw
        and not set(raw) <= set(transform.params.model_fields)
    ):
        if transform.primary is None:
            raise ValueError(f"transform '{transform.name}' takes named parameters")
        raw = {transform.primary: raw}
    try:
        return transform.params.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"transform '{transform.name}' parameter {loc}: {first['msg']}") from None
