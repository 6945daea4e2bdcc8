"""Transforms the joint_punishment mappings need that the shared library does not have (yet),
listed in ``SPEC.transforms``; the generic ones they use (``number_items``, ``omit_nulls``,
``count``, ``length``) are in ``runner/mapping/transforms/``.

- ``adapter_input``: an adapter input (canonical.md "Adapter inputs") validated against its
  model and returned in canonical JSON form (README §4.1: the dishonest query input);
- ``case_number``: a court case number (案号) normalised (README §4.2, quirk Q4).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from runner.adapter_api import MessageRejected, NoParams, Params, Transform, define_transform
from schemas.inputs import DishonestQuery, NoticeFetch, SubjectLookup
from schemas.text import fold_width, normalize_text

__all__ = ["TRANSFORMS", "adapter_input", "case_number"]

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


TRANSFORMS: tuple[Transform, ...] = (adapter_input, case_number)
"""The transforms ``SPEC.transforms`` contributes to the joint_punishment mappings."""
