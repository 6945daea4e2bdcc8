"""Transforms the online_hall mappings need that the shared library does not have (yet).

Each is written for any system, so that it can move into ``runner/mapping/transforms.py``
unchanged; until then ``SPEC.transforms`` lists them.

- ``zero_pad``: a code sent as a JSON number without its leading zeros (quirk Q8: ``"xklb": 1``)
  padded to the width of its code table (``01``).
- ``strict_time``: a local (Asia/Shanghai) time in one of several fixed-width formats, or epoch
  milliseconds, with words that mean "no value" (quirks Q3, Q4). The shared ``datetime``
  transform reads one-digit fields, so ``1709654400000`` (13 digits) could be misread as
  ``yyyyMdHHmmss``; here every field has its full width and an all-digit value of exactly
  13 digits is epoch milliseconds.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from typing import Any

from runner.adapter_api import MessageRejected, Params, Transform, define_transform
from schemas.timeutil import SHANGHAI

__all__ = ["TRANSFORMS", "strict_time", "zero_pad"]


class ZeroPadParams(Params):
    width: int


@define_transform("zero_pad", ZeroPadParams, primary="width")
def zero_pad(value: Any, params: ZeroPadParams) -> Any:
    """Digits left-padded with zeros to ``width`` (``1`` → ``01``); other text unchanged, so
    that the code table refuses it::

        kind: {from: data.xklb, transform: [{zero_pad: 2}], codes: online_hall/xklb}
    """
    if value is None:
        return None
    text = str(value).strip()
    return text.zfill(params.width) if text.isascii() and text.isdigit() else text


_WIDTHS = {"%Y": r"(?P<year>\d{4})", "%m": r"(?P<month>\d{2})", "%d": r"(?P<day>\d{2})"}
_WIDTHS |= {"%H": r"(?P<hour>\d{2})", "%M": r"(?P<minute>\d{2})", "%S": r"(?P<second>\d{2})"}
_EPOCH_MS = re.compile(r"\d{13}")


@cache
def _pattern(fmt: str) -> re.Pattern[str]:
    """The full-width regex of a format made of %Y %m %d %H %M %S and literal text."""
    out, index = [], 0
    while index < len(fmt):
        token = fmt[index : index + 2]
        if token in _WIDTHS:
            out.append(_WIDTHS[token])
            index += 2
        else:
            out.append(re.escape(fmt[index]))
            index += 1
    return re.compile("".join(out))


class StrictTimeParams(Params):
    formats: tuple[str, ...] = ("%Y%m%d%H%M%S", "%Y%m%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
    epoch_ms: bool = True
    none_values: tuple[str, ...] = ()
    as_date: bool = False


def _parse(text: str, params: StrictTimeParams) -> dt.datetime:
    if params.epoch_ms and _EPOCH_MS.fullmatch(text):
        return dt.datetime.fromtimestamp(int(text) / 1000, SHANGHAI)
    for fmt in params.formats:
        match = _pattern(fmt).fullmatch(text)
        if match is None:
            continue
        parts = {k: int(v) for k, v in match.groupdict().items()}
        try:
            moment = dt.datetime(
                parts["year"],
                parts["month"],
                parts["day"],
                parts.get("hour", 0),
                parts.get("minute", 0),
                parts.get("second", 0),
            )
        except ValueError:
            break
        return moment.replace(tzinfo=SHANGHAI)
    raise MessageRejected(
        "the value is not a time in any of the accepted formats", rule="datetime_format"
    )


@define_transform("strict_time", StrictTimeParams)
def strict_time(value: Any, params: StrictTimeParams) -> Any:
    """A local time (Asia/Shanghai) in one of ``formats`` with every field at full width, or
    13-digit epoch milliseconds; a value in ``none_values`` is absent. ``as_date`` gives the
    calendar date. The reason of a refusal does not repeat the value::

        valid_to:
          from: data.yxqz
          transform: [{strict_time: {as_date: true, none_values: [长期, "99991231"]}}]
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text or text in params.none_values:
        return None
    moment = _parse(text, params)
    return moment.date() if params.as_date else moment


TRANSFORMS: tuple[Transform, ...] = (strict_time, zero_pad)
"""The transforms ``SPEC.transforms`` contributes to the online_hall mappings."""
