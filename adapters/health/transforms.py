"""Transforms the health mappings need that the shared library does not have (yet).

Each is written for any system, so that it can move into ``runner/mapping/transforms.py``
unchanged; until then ``SPEC.transforms`` lists them.

- ``digits_id``: an identifier of digits sent as a string (a 19-digit snowflake id, quirk Q6);
  never through a float.
- ``whole``: a JSON whole number within ``min``..``max`` (``version`` ≥ 1); with
  ``text: true`` also its digits as a string.
- ``epoch_auto``: epoch milliseconds, or epoch seconds when the value is below 10¹¹ (quirk Q2),
  to an Asia/Shanghai datetime.
- ``legal_basis_items``: ``[{lawName, article}]`` or the legacy single string
  ``《法》条；《法》条`` (quirk Q9) to canonical ``[{law_name, article}]``.
- ``min_items``: a list with fewer than ``count`` items rejects the message (``officers`` ≥ 2).
- ``seconds``: a ``Retry-After`` header in whole seconds, or null when it is not one.
- ``strict_boolean``: a JSON ``true`` / ``false`` and nothing else (``licenseAffected``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from runner.adapter_api import MessageRejected, NoParams, Params, Transform, define_transform
from schemas.text import normalize_text
from schemas.timeutil import SHANGHAI

__all__ = [
    "TRANSFORMS",
    "digits_id",
    "epoch_auto",
    "legal_basis_items",
    "min_items",
    "seconds",
    "strict_boolean",
    "whole",
]

SECONDS_BELOW = 10**11
"""An epoch value below 10¹¹ is seconds (README Q2): 10¹¹ ms is 1973, 10¹¹ s is year 5138."""
_DIGITS = re.compile(r"[0-9]{1,19}")
_MARKED = re.compile(r"^\s*《(?P<law>[^》]+)》\s*(?P<article>.*)$")
_UNMARKED = re.compile(r"^(?P<law>.+?)(?P<article>第.*)?$")
_ITEMS = re.compile(r"[；;]")


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@define_transform("digits_id")
def digits_id(value: Any, _: NoParams) -> Any:
    """An id of 1..19 digits, kept as text (a JSON integer is taken exactly, never as a float);
    anything else is refused::

        id: {from: id, transform: [digits_id], required: true}
    """
    if value is None:
        return None
    text = str(value) if _is_whole(value) else value
    if not isinstance(text, str) or not _DIGITS.fullmatch(text.strip()):
        raise MessageRejected("the id is not 1..19 digits", rule="id_format")
    return text.strip()


class WholeParams(Params):
    """Parameters of ``whole``: the allowed range, and whether digits in a string count."""

    min: int | None = None
    max: int | None = None
    text: bool = False


@define_transform("whole", WholeParams)
def whole(value: Any, params: WholeParams) -> Any:
    """A whole JSON number within ``min``..``max`` (with ``text: true`` also its digits)::

    version: {from: version, transform: [{whole: {min: 1}}], required: true}
    """
    if value is None:
        return None
    if params.text and isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not _is_whole(value):
        raise MessageRejected(f"'{value}' is not a whole number", rule="whole_number")
    if (params.min is not None and value < params.min) or (
        params.max is not None and value > params.max
    ):
        raise MessageRejected(f"{value} is outside {params.min}..{params.max}", rule="number_range")
    return value


@define_transform("epoch_auto")
def epoch_auto(value: Any, _: NoParams) -> Any:
    """Epoch milliseconds, or seconds below 10¹¹ (legacy records), to an Asia/Shanghai
    datetime; digits in a string are read the same way::

        registered_at: {from: registerTime, transform: [epoch_auto], required: true}
    """
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not _is_whole(value) or value < 0:
        raise MessageRejected(f"'{value}' is not an epoch time", rule="epoch_format")
    millis = value * 1000 if value < SECONDS_BELOW else value
    try:
        return dt.datetime.fromtimestamp(millis / 1000, SHANGHAI)
    except (OverflowError, OSError, ValueError):
        raise MessageRejected(f"epoch time {value} is out of range", rule="epoch_range") from None


def _law_and_article(law: str, article: Any) -> dict[str, Any]:
    name = normalize_text(law).removeprefix("《").removesuffix("》").strip()
    if not name:
        raise MessageRejected("a legal basis has no law name", rule="legal_basis_format")
    text = normalize_text(article) if isinstance(article, str) else None
    return {"law_name": name, "article": text or None}


def _from_text(text: str) -> dict[str, Any]:
    """``《法》第N条`` or, without 《》, ``法第N条`` (split at the first 第)."""
    marked = _MARKED.match(text)
    if marked:
        return _law_and_article(marked["law"], marked["article"])
    plain = _UNMARKED.match(text.strip())
    if plain is None:
        raise MessageRejected("a legal basis is empty", rule="legal_basis_format")
    return _law_and_article(plain["law"], plain["article"])


@define_transform("legal_basis_items")
def legal_basis_items(value: Any, _: NoParams) -> Any:
    """``[{lawName, article}]`` (current) or ``"《法》条；《法》条"`` (legacy, Q9) to canonical
    ``[{law_name, article}]``; ``lawName`` with or without 《》::

        legal_basis: {from: legalBasis, transform: [legal_basis_items], required: true}
    """
    if value is None:
        return None
    if isinstance(value, str):
        return [_from_text(part) for part in _ITEMS.split(value) if part.strip()]
    if not isinstance(value, list):
        raise MessageRejected("legalBasis is neither a list nor a text", rule="legal_basis_format")
    out = []
    for item in value:
        law = item.get("lawName") if isinstance(item, dict) else None
        if not isinstance(law, str):
            raise MessageRejected("a legal basis item has no lawName", rule="legal_basis_format")
        out.append(_law_and_article(law, item.get("article")))
    return out


class MinItemsParams(Params):
    """Parameters of ``min_items``: the least number of items a list must have."""

    count: int


@define_transform("min_items", MinItemsParams, primary="count")
def min_items(value: Any, params: MinItemsParams) -> Any:
    """A list of at least ``count`` items (null passes: use ``required`` for that)::

    officers: {each: officers, fields: {…}, transform: [{min_items: 2}]}
    """
    if value is None:
        return None
    if not isinstance(value, list) or len(value) < params.count:
        found = len(value) if isinstance(value, list) else "no"
        raise MessageRejected(
            f"{found} items where at least {params.count} are required", rule="min_items"
        )
    return value


@define_transform("seconds")
def seconds(value: Any, _: NoParams) -> Any:
    """A ``Retry-After`` value in whole seconds, else null (an HTTP date is not waited on)::

    retry_after_s: {from: retry_after, transform: [seconds]}
    """
    if value is None:
        return None
    text = str(value).strip()
    return int(text) if text.isdigit() else None


@define_transform("strict_boolean")
def strict_boolean(value: Any, _: NoParams) -> Any:
    """A JSON boolean, kept; text such as ``"是"`` or ``"true"`` is refused (the spec says
    boolean, and a guess could publish a licence that was never touched)::

        license_flag: {from: decision.licenseAffected, transform: [strict_boolean]}
    """
    if value is None or isinstance(value, bool):
        return value
    raise MessageRejected("the value is not true or false", rule="boolean_format")


TRANSFORMS: tuple[Transform, ...] = (
    digits_id,
    epoch_auto,
    legal_basis_items,
    min_items,
    seconds,
    strict_boolean,
    whole,
)
"""The transforms ``SPEC.transforms`` contributes to the health mappings."""
