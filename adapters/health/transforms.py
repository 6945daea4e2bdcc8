"""The transform the health mappings need that the shared library does not have (yet), listed in
``SPEC.transforms``; the generic ones they use are shared (``runner/mapping/transforms/``):
``digits_id`` (quirk Q6), ``whole_number``, ``epoch_auto`` (quirk Q2), ``count``,
``strict_boolean`` and ``seconds`` (``Retry-After``).

- ``legal_basis_items``: ``[{lawName, article}]`` or the legacy single string
  ``《法》条；《法》条`` (quirk Q9) to canonical ``[{law_name, article}]``.
"""

from __future__ import annotations

import re
from typing import Any

from runner.adapter_api import MessageRejected, NoParams, Transform, define_transform
from schemas.text import normalize_text

__all__ = ["TRANSFORMS", "legal_basis_items"]

_MARKED = re.compile(r"^\s*《(?P<law>[^》]+)》\s*(?P<article>.*)$")
_UNMARKED = re.compile(r"^(?P<law>.+?)(?P<article>第.*)?$")
_ITEMS = re.compile(r"[；;]")


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


TRANSFORMS: tuple[Transform, ...] = (legal_basis_items,)
"""The transforms ``SPEC.transforms`` contributes to the health mappings."""
