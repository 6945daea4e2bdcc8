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
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from string import Template
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from runner.errors import MessageRejected
from schemas.identifiers import check_uscc
from schemas.money import fen_to_yuan, parse_decimal, to_yuan, wan_yuan_to_yuan
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


@register("lower")
def _lower(value: Any, _: NoParams) -> Any:
    """Lower-case a string (a digest sent in upper case)."""
    return value.lower() if isinstance(value, str) else value


class NullWordsParams(Params):
    """Parameters of ``null_words``: the placeholder words, and whether letter case counts."""

    words: tuple[str, ...] = ("null", "NULL", "Null", "none", "None")
    case_insensitive: bool = False


@functools.cache
def _folded(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(word.casefold() for word in words)


@register("null_words", NullWordsParams, primary="words")
def _null_words(value: Any, params: NullWordsParams) -> Any:
    """Treat placeholder words (``"null"`` by default) and blank text as absent; with
    ``case_insensitive: true`` in any letter case::

        address: {from: ZS, transform: [{null_words: {words: ["null"], case_insensitive: true}}]}
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text or text in params.words:
        return None
    if params.case_insensitive and text.casefold() in _folded(params.words):
        return None
    return value


@register("null_any_case")
def _null_any_case(value: Any, _: NoParams) -> Any:
    """Blank text (U+3000 too) or the word ``null`` in any letter case (``NULL``, ``nUlL``) is
    absent; any other text is NFC-normalised and trimmed. The value rule of systems that send
    ``null`` for "no value" in whatever case::

        address: {from: Address, transform: [null_any_case]}
    """
    # null_words with words ["null"], case-insensitive, inlined: it runs on most fields
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text or text.casefold() == "null":
        return None
    return normalize_text(value)


class LengthParams(Params):
    """Parameters of ``first_chars``: how many characters."""

    length: int


@register("first_chars", LengthParams, primary="length")
def _first_chars(value: Any, params: LengthParams) -> Any:
    """The first ``length`` characters of a text (a division code from an organ code)::

    division_code: {from: organ.code, transform: [{first_chars: 6}]}
    """
    if value is None:
        return None
    return str(value)[: params.length]


class PrefixParams(Params):
    """Parameters of ``strip_prefix``: the prefix."""

    text: str


@register("strip_prefix", PrefixParams, primary="text")
def _strip_prefix(value: Any, params: PrefixParams) -> Any:
    """Remove a fixed prefix (``身份码:``) when present."""
    return value.removeprefix(params.text) if isinstance(value, str) else value


class DefaultParams(Params):
    """Parameters of ``default``: the value an absent one gets."""

    value: Any


@register("default", DefaultParams, primary="value")
def _default(value: Any, params: DefaultParams) -> Any:
    """Give a value to an absent one."""
    return params.value if value is None else value


# --- lists ------------------------------------------------------------------------------------


class SplitParams(Params):
    """Parameters of ``split``: the regular expression between parts."""

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
    """Parameters of ``pair``: the separator expression and the two keys."""

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


class ParenthesisParams(Params):
    """Parameters of ``trailing_parenthesis``: which part, and the parenthesis characters."""

    part: Literal["before", "inside"]
    open: str = "（"
    close: str = "）"


def _split_trailing(text: str, params: ParenthesisParams) -> tuple[str, str | None]:
    if not text.endswith(params.close):
        return text, None
    depth = 0
    for index in range(len(text) - 1, -1, -1):
        if text[index] == params.close:
            depth += 1
        elif text[index] == params.open:
            depth -= 1
            if depth == 0:
                return text[:index].rstrip(), text[index + 1 : -1].strip()
    return text, None


@register("trailing_parenthesis", ParenthesisParams, primary="part")
def _trailing_parenthesis(value: Any, params: ParenthesisParams) -> Any:
    """The text ``before`` a trailing full-width parenthesis, or what is ``inside`` it (null
    when there is none); nested parentheses are kept with their part::

        wsmc: {from: name, transform: [{trailing_parenthesis: before}]}
        wsh: {from: name, transform: [{trailing_parenthesis: inside}]}
        # 立案告知书（厦公(环)立告字〔2024〕31号） → 立案告知书 | 厦公(环)立告字〔2024〕31号
    """
    if value is None:
        return None
    before, inside = _split_trailing(str(value), params)
    return before if params.part == "before" else inside


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
    """Parameters of ``boolean``: the spellings of true and of false."""

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


@register("seconds")
def _seconds(value: Any, _: NoParams) -> Any:
    """A ``Retry-After`` value in whole seconds, else null (an HTTP date is not waited on)::

    retry_after_s: {from: retry_after, transform: [seconds]}
    """
    if value is None:
        return None
    text = str(value).strip()
    return int(text) if text.isdigit() else None


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


# --- identifiers and codes --------------------------------------------------------------------


class UsccParams(Params):
    """Parameters of ``uscc``: the wire field a refusal names (outbound mappings, where the
    ``required`` modifier names none) and whether the individual-business placeholder
    ``00000000000000000X`` passes."""

    field: str | None = None
    allow_placeholder: bool = False


@register("uscc", UsccParams, primary="field")
def _uscc(value: Any, params: UsccParams) -> Any:
    """A USCC (统一社会信用代码) folded to half-width upper case and checked (GB 32100-2015
    mod 31); a code that fails rejects the message, never sent on. For codes a canonical model
    does not check (a wire field, an answer to compare)::

        uscc: {from: uscc, transform: [uscc], required: true}
        JCDXDM: {from: payload.target.uscc, transform: [{uscc: JCDXDM}]}
    """
    if value is None:
        return None
    try:
        return check_uscc(str(value), allow_placeholder=params.allow_placeholder)
    except PydanticCustomError as exc:
        raise MessageRejected(exc.message(), field=params.field, rule=exc.type) from None


_DIGITS_ID = re.compile(r"[0-9]{1,19}")


@register("digits_id")
def _digits_id(value: Any, _: NoParams) -> Any:
    """An id of 1..19 digits (a 64-bit snowflake id) kept as text; a JSON integer is taken
    exactly, never through a float. Anything else is refused (rule ``id_format``)::

        id: {from: id, transform: [digits_id], required: true}
    """
    if value is None:
        return None
    text = str(value) if _is_whole(value) else value
    if not isinstance(text, str) or not _DIGITS_ID.fullmatch(text.strip()):
        raise _reject("the id is not 1..19 digits", "id_format")
    return text.strip()


_DIVISION = re.compile(r"[0-9]{6}|[0-9]{12}")


@register("division_code")
def _division_code(value: Any, _: NoParams) -> Any:
    """A 6-digit GB/T 2260 division code as sent, or the first 6 digits of a 12-digit
    统计用区划代码 (``350104003000`` → ``350104``); any other form is refused::

        division_code: {from: QHDM, transform: [division_code]}
    """
    if value is None:
        return None
    text = str(value).strip()
    if not _DIVISION.fullmatch(text):
        raise _reject(
            "a division code has 6 digits (or 12 for a 统计用区划代码)", "division_code_format"
        )
    return text[:6]


class DigestParams(Params):
    """Parameters of ``sha256_prefix``: how many hex characters."""

    length: int = 32


@register("sha256_prefix", DigestParams, primary="length")
def _sha256_prefix(value: Any, params: DigestParams) -> Any:
    """The first ``length`` lower-case hex characters of SHA-256 over the UTF-8 of a text (a
    stable record id derived from the source's keys)::

        dataId:
          from: join('|', [source_system, source_message_id])
          transform: [{sha256_prefix: 32}]
    """
    if value is None:
        return None
    return hashlib.sha256(str(value).encode("utf-8")).hexdigest()[: params.length]


class ZeroPadParams(Params):
    """Parameters of ``zero_pad``: the width of the code."""

    width: int


@register("zero_pad", ZeroPadParams, primary="width")
def _zero_pad(value: Any, params: ZeroPadParams) -> Any:
    """Digits (a code sent as a JSON number without its leading zeros) left-padded with zeros
    to ``width`` (``1`` → ``"01"``); other text is unchanged, so that a code table refuses it::

        kind: {from: data.xklb, transform: [{zero_pad: 2}], codes: online_hall/xklb}
    """
    if value is None:
        return None
    text = str(value).strip()
    return text.zfill(params.width) if text.isascii() and text.isdigit() else text


class CodeOrDefaultParams(Params):
    """Parameters of ``code_or_default``: source value → code, and the code of any other (or
    no) value."""

    values: dict[str, str]
    default: str


@register("code_or_default", CodeOrDefaultParams)
def _code_or_default(value: Any, params: CodeOrDefaultParams) -> Any:
    """A code table with a fallback: ``value`` (NFC, trimmed) looked up in ``values``; any
    other value, or none, gives ``default`` (where "anything else" is a code of its own)::

        businessType:
          from: "payload.legal_basis[0].law_name"
          transform: [{code_or_default: {values: {旅行社条例: "09"}, default: "99"}}]
    """
    if value is None:
        return params.default
    return params.values.get(normalize_text(str(value)), params.default)


# --- checks -----------------------------------------------------------------------------------


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    """Each pattern of a mapping compiles once per process, when the mapping is loaded."""
    return re.compile(pattern)


def _compiles(pattern: str) -> str:
    try:
        _compiled(pattern)
    except re.error as exc:
        raise ValueError(f"'{pattern}' is not a regular expression ({exc})") from None
    return pattern


Regex = Annotated[str, AfterValidator(_compiles)]
"""A regular expression parameter: one that does not compile is a lint error."""


class MatchesParams(Params):
    """Parameters of ``matches``: the regular expression and the rule a refusal carries."""

    pattern: Regex
    rule: str = "pattern"


def _pattern_of(value: Any, pattern: str, rule: str) -> str:
    """The text of a string or whole number for a pattern check; other types are refused."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _reject(f"a text matching {pattern} is expected", rule)
    return str(value)


@register("matches", MatchesParams, primary="pattern")
def _matches(value: Any, params: MatchesParams) -> Any:
    """The text unchanged when it matches ``pattern`` whole (a whole number is matched and
    given as its digits); anything else rejects the message with rule ``rule`` (default
    ``pattern``). The reason names the pattern, never the value::

        organ_code: {from: organ.code, transform: [{matches: "\\\\d{12}"}], required: true}
        certificate_no: {from: 执法证号, transform: [{matches: {pattern: "\\\\d{11}",
                                                               rule: certificate_no_format}}]}
    """
    if value is None:
        return None
    text = _pattern_of(value, params.pattern, params.rule)
    if not _compiled(params.pattern).fullmatch(text):
        raise _reject(f"the value does not match {params.pattern}", params.rule)
    return text


class RegexGroupParams(Params):
    """Parameters of ``regex_group``: the expression, the group (default: the first group, or
    the whole match when the expression has none) and the rule a refusal carries."""

    pattern: Regex
    group: int | None = None
    rule: str = "pattern"


@register("regex_group", RegexGroupParams, primary="pattern")
def _regex_group(value: Any, params: RegexGroupParams) -> Any:
    """One group of the first match of ``pattern`` searched in a text; no match rejects the
    message (the text is not repeated in the reason)::

        version: {from: source_message_id, transform: [{regex_group: ":v(\\\\d+)$"}, integer]}
    """
    if value is None:
        return None
    compiled = _compiled(params.pattern)
    found = compiled.search(_pattern_of(value, params.pattern, params.rule))
    if found is None:
        raise _reject(f"the value does not contain {params.pattern}", params.rule)
    if params.group is not None:
        return found.group(params.group)
    return found.group(1) if compiled.groups else found.group(0)


class RangeParams(Params):
    """Parameters of a size check: the least and the most allowed (no most: unbounded)."""

    min: int = 0
    max: int | None = None


def _outside(size: int, params: RangeParams) -> bool:
    return size < params.min or (params.max is not None and size > params.max)


def _range_text(params: RangeParams) -> str:
    return f"{params.min}..{'' if params.max is None else params.max}"


@register("length", RangeParams)
def _length(value: Any, params: RangeParams) -> Any:
    """A text of ``min``..``max`` characters passes unchanged; a shorter or longer one rejects
    the message (never truncated: the text may be someone's statement)::

        CLCS: {from: payload.findings, transform: [{length: {min: 10, max: 2000}}]}
        zxqk: {from: note, transform: [{length: {max: 500}}, null_as_empty]}
    """
    if value is None:
        return None
    size = len(str(value))
    if _outside(size, params):
        raise _reject(f"{size} characters; {_range_text(params)} are allowed", "length")
    return value


@register("count", RangeParams)
def _count(value: Any, params: RangeParams) -> Any:
    """A list of ``min``..``max`` items passes unchanged; any other count (null counts as none)
    rejects the message::

        officers: {each: officers, fields: {…}, transform: [{count: {min: 2}}]}
    """
    items = [] if value is None else value
    if not isinstance(items, list):
        raise _reject("count needs a list", "count")
    if _outside(len(items), params):
        raise _reject(f"{len(items)} items; {_range_text(params)} are allowed", "count")
    return items


@register("non_empty")
def _non_empty(value: Any, _: NoParams) -> Any:
    """An empty list is absent, so that ``required: true`` rejects a list that needs an item::

    legal_basis: {each: Basis, fields: {…}, transform: [non_empty], required: true}
    """
    if isinstance(value, list) and not value:
        return None
    return value


@register("strict_boolean")
def _strict_boolean(value: Any, _: NoParams) -> Any:
    """A JSON boolean, kept; text such as ``"是"`` or ``"true"`` is refused (where a spec says
    boolean, a guess could publish what never happened)::

        license_flag: {from: decision.licenseAffected, transform: [strict_boolean]}
    """
    if value is None or isinstance(value, bool):
        return value
    raise _reject("the value is not true or false", "boolean_format")


# --- numbers and money ------------------------------------------------------------------------


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class WholeNumberParams(Params):
    """Parameters of ``whole_number``: the allowed range, and whether digits in a string
    count."""

    min: int | None = None
    max: int | None = None
    text: bool = False


@register("whole_number", WholeNumberParams)
def _whole_number(value: Any, params: WholeNumberParams) -> Any:
    """A whole JSON number within ``min``..``max``; with ``text: true`` also its digits as a
    string (``"10"``). Anything else is refused (rules ``whole_number``,
    ``whole_number_range``)::

        days: {from: BLSX, transform: [{whole_number: {min: 1, max: 60, text: true}}]}
    """
    if value is None:
        return None
    if params.text and isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not _is_whole(value):
        kind = "text" if isinstance(value, str) else type(value).__name__
        raise _reject(f"a whole number is required, got {kind}", "whole_number")
    if (params.min is not None and value < params.min) or (
        params.max is not None and value > params.max
    ):
        raise _reject(f"{value} is outside {params.min}..{params.max}", "whole_number_range")
    return value


class PlacesParams(Params):
    """Parameters of ``max_places``: the most fraction digits allowed."""

    places: int


@register("max_places", PlacesParams, primary="places")
def _max_places(value: Any, params: PlacesParams) -> Any:
    """A decimal number with at most ``places`` fraction digits, as an exact ``Decimal``; more
    are refused (rule ``money_precision``), never rounded::

        involved_amount_yuan: {from: directLossWan, transform: [{max_places: 6}, wan_yuan]}
    """
    if value is None:
        return None
    number = _money(parse_decimal, value)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > params.places:
        raise _reject(f"the amount has more than {params.places} decimal places", "money_precision")
    return number


@register("yuan_to_fen")
def _yuan_to_fen(value: Any, _: NoParams) -> Any:
    """Yuan to whole 分 (fen) as an integer, exactly (``"30000.00"`` → ``3000000``); an amount
    with a fraction of a fen is refused (rule ``money_precision``), never rounded::

        fineAmountFen: {from: payload.fine_amount_yuan, transform: [yuan_to_fen]}
    """
    if value is None:
        return None
    return int(_money(to_yuan, value) * 100)


_GROUPED = re.compile(r"(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?")


@register("yuan_text")
def _yuan_text(value: Any, _: NoParams) -> Any:
    """An amount in 元 as people type it → yuan with two places, exactly.

    Accepts thousands separators (``,``; full-width ``，``), 0–2 decimals, a trailing ``元``,
    full-width digits (``"５，０００．００元"`` → ``5000.00``). Refuses a sign, three decimals,
    ``万`` or misplaced separators (rule ``money_format``)::

        fine_amount_yuan: {from: cfje, transform: [yuan_text]}
    """
    if value is None:
        return None
    text = normalize_text(fold_width(str(value))).removesuffix("元").strip()
    if not _GROUPED.fullmatch(text):
        raise _reject(
            "the amount is not in yuan (digits, optional thousands separators, at most 2 "
            "decimals, optional 元)",
            "money_format",
        )
    return _money(to_yuan, text.replace(",", ""))


class FiguresParams(Params):
    """Parameters of ``figures_text``: the item separator and the prefix of threshold keys."""

    separator: str = ";"
    prefix: str = "threshold_"


@register("figures_text", FiguresParams, primary="separator")
def _figures_text(value: Any, params: FiguresParams) -> Any:
    """A figures object (``{name: value, threshold_<name>: threshold}``) as ``name=value/
    threshold`` items, one per key without the prefix, in object order, joined; a missing
    threshold is empty; no figures give null::

        cfsj: {from: payload.triggered_by.figures, transform: [figures_text]}
        # {"a": "5.60", "threshold_a": "1.00", "b": "2"} → "a=5.60/1.00;b=2/"
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _reject("figures_text needs an object", "figures_input")
    items = [
        f"{name}={figure}/{value.get(params.prefix + name) or ''}"
        for name, figure in value.items()
        if not name.startswith(params.prefix)
    ]
    return params.separator.join(items) or None


# --- objects and lists ------------------------------------------------------------------------


class KeysParams(Params):
    """Parameters of ``omit_nulls``: the keys that are left out when null."""

    keys: tuple[str, ...]


@register("omit_nulls", KeysParams, primary="keys")
def _omit_nulls(value: Any, params: KeysParams) -> Any:
    """An object without those of ``keys`` whose value is null (other nulls stay: a required
    field must reject, not vanish)::

        first: [{name: …, uscc: …, idType: …}]
        transform: [{omit_nulls: [uscc, idType]}]
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _reject("omit_nulls needs an object", "omit_nulls")
    return {k: v for k, v in value.items() if not (v is None and k in params.keys)}


class NumberItemsParams(Params):
    """Parameters of ``number_items``: the key of the position and the first position."""

    key: str
    start: int = 1


@register("number_items", NumberItemsParams, primary="key")
def _number_items(value: Any, params: NumberItemsParams) -> Any:
    """Each object of a list with its position (from ``start``) under ``key``, put first (an
    old value under ``key`` is replaced)::

        subjects: {each: subjects, fields: {…}, transform: [{number_items: seq}]}

    ``[{"name": "甲"}, {"name": "乙"}]`` → ``[{"seq": 1, "name": "甲"}, {"seq": 2, "name": "乙"}]``.
    """
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _reject("number_items needs a list of objects", "number_items")
    return [
        {params.key: index, **{k: v for k, v in item.items() if k != params.key}}
        for index, item in enumerate(value, start=params.start)
    ]


class IndexRecordsParams(Params):
    """Parameters of ``index_records``: the status of a record the answer does not list."""

    missing: Literal["retry", "rejected"] = "retry"


def _record_index(item: Any, total: int) -> int:
    index = item.get("index") if isinstance(item, dict) else None
    if not isinstance(index, int) or isinstance(index, bool):
        raise _reject("a record result has no whole-number index", "record_index")
    if not 0 <= index < total:
        raise _reject(f"record index {index} is outside 0..{total - 1}", "record_index_range")
    return index


@register("index_records", IndexRecordsParams, primary="missing")
def _index_records(value: Any, params: IndexRecordsParams) -> Any:
    """Per-record results ``{total, records}`` of a batch answer → one result per index
    ``0..total-1``, sorted.

    ``records`` is a list of result objects with an ``index`` (or a list of such lists, e.g. the
    accepted and the rejected ones). An index outside the batch or listed twice rejects the
    answer (its records cannot be matched to the call); an index not listed gets
    ``{index, status: <missing>, record_id: null, code: null}``::

        records:
          first:
            - total: data.total
              records: [{each: data.accepted, fields: {…}}, {each: data.rejected, fields: {…}}]
          transform: [{index_records: retry}]
    """
    if value is None:
        return None
    total = value.get("total") if isinstance(value, dict) else None
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise _reject("the answer gives no record count (total)", "record_total")
    items: list[Any] = []
    for entry in value.get("records") or []:
        items += entry if isinstance(entry, list) else [entry]
    by_index: dict[int, Any] = {}
    for item in items:
        index = _record_index(item, total)
        if index in by_index:
            raise _reject(f"record index {index} is listed twice", "record_index_twice")
        by_index[index] = item
    missing = {"status": params.missing, "record_id": None, "code": None}
    return [by_index.get(i, {"index": i, **missing}) for i in range(total)]


@register("records_outcome")
def _records_outcome(value: Any, _: NoParams) -> Any:
    """The whole-call outcome of per-record results (as ``index_records`` gives them):
    ``complete`` when every record is ``accepted``, else ``partial``::

        outcome: {first: [{…same object as records…}], transform: [seq_records, records_outcome]}
    """
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise _reject("records_outcome needs a list of record results", "records_outcome")
    return "complete" if all(r.get("status") == "accepted" for r in value) else "partial"


@register("agree")
def _agree(value: Any, _: NoParams) -> Any:
    """The value every non-null item of a list has (null when all are null); items that differ
    reject the message. The values are not repeated in the reason (they may be L3)::

        uscc:
          from: "[body.data.TYSHXYDM, requested_uscc]"
          transform: [{per_item: [fold_width, upper]}, agree]
    """
    if value is None:
        return None
    if not isinstance(value, list):
        raise _reject("agree needs a list", "agree_input")
    present = [item for item in value if item is not None]
    if any(item != present[0] for item in present[1:]):
        raise _reject(f"{len(present)} values that must agree differ", "agree")
    return present[0] if present else None


_BOOK = re.compile(r"《([^《》]*)》")
_BASIS_TRAILING = "；;，,、 \t\r\n\u3000"


@register("legal_basis_list")
def _legal_basis_list(value: Any, _: NoParams) -> Any:
    """A text of one or more ``《law》article`` → ``[{law_name, article}]``.

    Every ``《…》`` starts an entry; its article is the text up to the next ``《`` with trailing
    separators (``；;，,、`` and white space) removed, null when empty. Several articles of one
    law stay one entry; an absent value stays null (add ``{default: []}`` for an optional
    one). Text that is not a provision (no ``《…》``, text before the first one, an empty or
    unbalanced ``《》``) is refused (rule ``legal_basis_format``)::

        legal_basis: {from: wfyj, transform: [legal_basis_list]}
        # 《条例》第三十三条；《办法》第三条 → [{条例, 第三十三条}, {办法, 第三条}]
    """
    if value is None:
        return None
    text = normalize_text(str(value))
    found = list(_BOOK.finditer(text))
    if (
        not found
        or text[: found[0].start()].strip(_BASIS_TRAILING)
        or "》" in text[: found[0].start()]
    ):
        raise _reject("legal basis is not of the form 《law name》article …", "legal_basis_format")
    entries = []
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(text)
        article = text[match.end() : end].strip(_BASIS_TRAILING)
        law = normalize_text(match.group(1))
        if not law or "《" in article or "》" in article:
            raise _reject("legal basis has an empty or unbalanced 《》", "legal_basis_format")
        entries.append({"law_name": law, "article": article or None})
    return entries


# --- date arithmetic --------------------------------------------------------------------------


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
