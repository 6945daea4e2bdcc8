"""Transforms the joint_punishment mappings need that the shared library does not have (yet).

Each is written for any system, so that it can move into ``runner/mapping/transforms.py``
unchanged; until then ``SPEC.transforms`` lists them.

- ``adapter_input``: an adapter input (canonical.md "Adapter inputs") validated against its
  model and returned in canonical JSON form (README §4.1: the dishonest query input);
- ``number_items``: each object of a list with its 1-based position first (README §4.1 ``seq``);
- ``omit_nulls``: drop named keys whose value is null (README §4.1/4.3: ``uscc`` omitted for
  natural persons, ``idType``/``idNumber`` for organisations);
- ``count``: a list with a number of items outside ``min..max`` rejects the message;
- ``max_length``: a string longer than ``max`` rejects the message (README §4.3 ``zxqk`` ≤ 500);
- ``case_number``: a court case number (案号) normalised (README §4.2, quirk Q4).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from runner.adapter_api import MessageRejected, NoParams, Params, Transform, define_transform
from schemas.inputs import DishonestQuery, NoticeFetch, SubjectLookup
from schemas.text import fold_width, normalize_text

__all__ = [
    "TRANSFORMS",
    "adapter_input",
    "case_number",
    "count",
    "max_length",
    "number_items",
    "omit_nulls",
]

INPUT_MODELS: dict[str, type[BaseModel]] = {
    "dishonest_query": DishonestQuery,
    "subject_lookup": SubjectLookup,
    "notice_fetch": NoticeFetch,
}
"""The adapter inputs of canonical.md, by the name the mappings' ``source`` gives them."""


# --- adapter_input ----------------------------------------------------------------------------


class AdapterInputParams(Params):
    model: str


def _rejection(error: ValidationError) -> MessageRejected:
    """The first validation error, naming field and rule but never the value (it may be L3)."""
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or None
    more = len(error.errors()) - 1
    reason = str(first["msg"]) + (f" (and {more} more)" if more else "")
    return MessageRejected(reason, field=where, rule=str(first["type"]))


@define_transform("adapter_input", AdapterInputParams, primary="model")
def adapter_input(value: Any, params: AdapterInputParams) -> Any:
    """Validate an adapter input against its model (``dishonest_query``, ``subject_lookup``,
    ``notice_fetch``) and give its canonical JSON: identifiers folded and checked, a 15-digit
    resident id upgraded. A value that fails rejects the message, naming the field::

        record: {from: "@", transform: [{adapter_input: dishonest_query}], required: true}
    """
    if value is None:
        return None
    model = INPUT_MODELS.get(params.model)
    if model is None:
        raise MessageRejected(f"unknown adapter input '{params.model}'", rule="adapter_input")
    try:
        return model.model_validate(value).model_dump(mode="json")
    except ValidationError as exc:
        raise _rejection(exc) from None


# --- number_items -----------------------------------------------------------------------------


class NumberItemsParams(Params):
    key: str
    start: int = 1


@define_transform("number_items", NumberItemsParams, primary="key")
def number_items(value: Any, params: NumberItemsParams) -> Any:
    """Each object of a list with its position (from ``start``) under ``key``, put first
    (an old value under ``key`` is replaced)::

        subjects: {each: subjects, fields: {…}, transform: [{number_items: seq}]}

    ``[{"name": "甲"}, {"name": "乙"}]`` → ``[{"seq": 1, "name": "甲"}, {"seq": 2, "name": "乙"}]``.
    """
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise MessageRejected("number_items needs a list of objects", rule="number_items")
    return [
        {params.key: index, **{k: v for k, v in item.items() if k != params.key}}
        for index, item in enumerate(value, start=params.start)
    ]


# --- omit_nulls -------------------------------------------------------------------------------


class OmitNullsParams(Params):
    keys: tuple[str, ...]


@define_transform("omit_nulls", OmitNullsParams, primary="keys")
def omit_nulls(value: Any, params: OmitNullsParams) -> Any:
    """An object without those of ``keys`` whose value is null (other nulls stay: a required
    field must reject, not vanish)::

        first: [{name: …, uscc: …, idType: …}]
        transform: [{omit_nulls: [uscc, idType]}]
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MessageRejected("omit_nulls needs an object", rule="omit_nulls")
    return {k: v for k, v in value.items() if not (v is None and k in params.keys)}


# --- count ------------------------------------------------------------------------------------


class CountParams(Params):
    min: int = 0
    max: int | None = None


@define_transform("count", CountParams)
def count(value: Any, params: CountParams) -> Any:
    """A list with ``min``..``max`` items passes unchanged; any other count (null counts as
    none) rejects the message::

        measures: {each: payload.applied_measures, fields: {…}, transform: [{count: {min: 1}}]}
    """
    items = [] if value is None else value
    if not isinstance(items, list):
        raise MessageRejected("count needs a list", rule="count")
    upper = "" if params.max is None else str(params.max)
    if len(items) < params.min or (params.max is not None and len(items) > params.max):
        raise MessageRejected(
            f"{len(items)} items; {params.min}..{upper} are allowed", rule="count"
        )
    return items


# --- max_length -------------------------------------------------------------------------------


class MaxLengthParams(Params):
    max: int


@define_transform("max_length", MaxLengthParams, primary="max")
def max_length(value: Any, params: MaxLengthParams) -> Any:
    """A string of at most ``max`` characters passes unchanged; a longer one rejects the
    message (never truncated: the text is someone's statement)::

        zxqk: {from: note, transform: [{max_length: 500}, null_as_empty]}
    """
    if isinstance(value, str) and len(value) > params.max:
        raise MessageRejected(
            f"{len(value)} characters; at most {params.max} are allowed", rule="max_length"
        )
    return value


# --- case_number ------------------------------------------------------------------------------

_YEAR_BRACKETS = re.compile(r"^[（(〔\[［【]\s*(\d{4})\s*[）)〕\]］】]")


@define_transform("case_number", NoParams)
def case_number(value: Any, _: NoParams) -> Any:
    """A court case number (案号) normalised: NFC, trimmed, full-width ASCII folded, and the
    brackets around the year (``（）``, ``〔〕``) made ASCII ``()``::

        case_no: {from: ah, transform: [case_number]}

    ``（２０２３）闽0102执1234号`` → ``(2023)闽0102执1234号``.
    """
    if not isinstance(value, str):
        return value
    text = fold_width(normalize_text(value))
    return _YEAR_BRACKETS.sub(r"(\1)", text) or None


TRANSFORMS: tuple[Transform, ...] = (
    adapter_input,
    number_items,
    omit_nulls,
    count,
    max_length,
    case_number,
)
"""The transforms ``SPEC.transforms`` contributes to the joint_punishment mappings."""
