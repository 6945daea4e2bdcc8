"""Transforms the market_platform task mapping needs that the shared library does not have.

Both are written for any system, so that they can move into ``runner/mapping/transforms.py``
unchanged; until then ``SPEC.transforms`` lists them.

- ``matches``: refuse a value that does not match a regular expression (a 执法证号 of 11
  digits, a 检查记录编号 ``JCJL…``), naming the field but never the value.
- ``item_code``: fold and check the code of an inspection item ``{code, name}`` (README §3.4:
  2-letter domain prefix + 4 digits; full-width and lower case folded, quirk Q2).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from runner.adapter_api import MessageRejected, Params, define_transform
from schemas.text import fold_width

__all__ = ["TRANSFORMS", "item_code", "matches"]


class MatchesParams(Params):
    pattern: str
    rule: str = "format"


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@define_transform("matches", MatchesParams, primary="pattern")
def matches(value: Any, params: MatchesParams) -> Any:
    """Pass a string that fully matches ``pattern``; refuse any other (rule ``rule``)::

    certificate_no: {from: 执法证号, transform: [fold_width, {matches: "^\\\\d{11}$"}]}
    """
    if value is None:
        return None
    if not _compiled(params.pattern).fullmatch(str(value)):
        raise MessageRejected(
            f"the value does not have the expected form {params.pattern}", rule=params.rule
        )
    return value


_ITEM_CODE = re.compile(r"^[A-Z]{2}\d{4}$")


@define_transform("item_code")
def item_code(value: Any, _: Params) -> Any:
    """An inspection item ``{code, name}`` with its code folded to half-width upper case and
    checked (2 letters + 4 digits, rule ``item_code``)::

        items: {from: 检查事项, transform: [{split: "[；;]"},
                {per_item: [{pair: {pattern: "[:：]", keys: [code, name]}}, item_code]}]}
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MessageRejected("an inspection item is {code, name}", rule="item_code")
    code = fold_width(str(value.get("code") or "")).strip().upper()
    if not _ITEM_CODE.fullmatch(code):
        raise MessageRejected(f"item code '{code}' is not 2 letters and 4 digits", rule="item_code")
    return {**value, "code": code}


TRANSFORMS = (matches, item_code)
