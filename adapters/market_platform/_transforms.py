"""The transform the market_platform task mapping needs that the shared library does not have
(``SPEC.transforms`` lists it); 执法证号 and 检查记录编号 are checked with the shared ``matches``.

- ``item_code``: fold and check the code of an inspection item ``{code, name}`` (README §3.4:
  2-letter domain prefix + 4 digits; full-width and lower case folded, quirk Q2).
"""

from __future__ import annotations

import re
from typing import Any

from runner.adapter_api import MessageRejected, Params, define_transform
from schemas.text import fold_width

__all__ = ["TRANSFORMS", "item_code"]


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


TRANSFORMS = (item_code,)
