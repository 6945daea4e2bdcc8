"""Transforms the market_reg mappings need that the shared library does not have.

``yuan_text`` and ``legal_basis_list`` are written for any system, so that they can move into
``runner/mapping/transforms.py`` unchanged; ``record_problem`` reads the marks ``prepare``
leaves on a line it could not read. ``SPEC.transforms`` lists them.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic_core import PydanticCustomError

from runner.adapter_api import MessageRejected, Params, define_transform
from schemas.money import to_yuan
from schemas.text import fold_width, normalize_text

__all__ = ["TRANSFORMS", "legal_basis_list", "record_problem", "yuan_text"]

_GROUPED = re.compile(r"^(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?$")


@define_transform("record_problem")
def record_problem(value: Any, _: Params) -> Any:
    """Reject the record ``prepare`` marked as unreadable (``{reason, rule, field}``); pass
    null (a readable record)::

        vars:
          problem: {from: problem, transform: [record_problem]}
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MessageRejected("the record could not be read", rule="unreadable")
    raise MessageRejected(
        str(value.get("reason") or "the record could not be read"),
        field=str(value["field"]) if value.get("field") else None,
        rule=str(value.get("rule") or "unreadable"),
    )


@define_transform("yuan_text")
def yuan_text(value: Any, _: Params) -> Any:
    """An amount in 元 as people type it → yuan with two places, exactly.

    Accepts thousands separators (``,``; full-width ``，``), 0–2 decimals, a trailing ``元``,
    full-width digits (``"５，０００．００元"`` → ``"5000.00"``; ``"1,234,567.8"`` →
    ``"1234567.80"``). Refuses a sign, three decimals, ``万`` or misplaced separators (rule
    ``money_format``)::

        fine_amount_yuan: {from: cfje, transform: [yuan_text]}
    """
    if value is None:
        return None
    text = normalize_text(fold_width(str(value))).removesuffix("元").strip()
    if not _GROUPED.fullmatch(text):
        raise MessageRejected(
            f"'{text}' is not an amount in yuan (digits, optional thousands separators, "
            "at most 2 decimals, optional 元)",
            rule="money_format",
        )
    try:
        return to_yuan(text.replace(",", ""))
    except PydanticCustomError as exc:
        raise MessageRejected(exc.message(), rule=exc.type) from None


_BOOK = re.compile(r"《([^《》]*)》")
_TRAILING = "；;，,、 \t\u3000"


@define_transform("legal_basis_list")
def legal_basis_list(value: Any, _: Params) -> Any:
    """A string of one or more ``《law》article`` → ``[{law_name, article}]``.

    Every ``《…》`` starts an entry; its article is the text up to the next ``《`` with trailing
    separators (``；;，,、`` and white space) removed, null when empty. Several articles of one
    law stay one entry; an absent value stays null (add ``{default: []}`` for an optional
    one). Text that is not a provision (no ``《…》``, text before the first one) is refused
    (rule ``legal_basis_format``)::

        legal_basis: {from: wfyj, transform: [legal_basis_list, {default: []}]}
    """
    if value is None:
        return None
    text = normalize_text(str(value))
    matches = list(_BOOK.finditer(text))
    if (
        not matches
        or text[: matches[0].start()].strip(_TRAILING)
        or "》" in text[: matches[0].start()]
    ):
        raise MessageRejected(
            "legal basis is not of the form 《law name》article …", rule="legal_basis_format"
        )
    entries = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        article = text[match.end() : end].strip(_TRAILING)
        law = normalize_text(match.group(1))
        if not law or "《" in article or "》" in article:
            raise MessageRejected(
                "legal basis has an empty or unbalanced 《》", rule="legal_basis_format"
            )
        entries.append({"law_name": law, "article": article or None})
    return entries


TRANSFORMS = (record_problem, yuan_text, legal_basis_list)
