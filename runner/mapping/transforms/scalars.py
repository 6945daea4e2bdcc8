"""Transforms to booleans, whole numbers and text, and ``Retry-After`` seconds."""

from __future__ import annotations

import re
from typing import Any

from runner.mapping.transforms._base import NoParams, Params, _reject, register


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
