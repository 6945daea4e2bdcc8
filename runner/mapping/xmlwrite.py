"""A small, exact XML writer for outbound documents built by mappings.

Wire documents must be byte-exact (no declaration, no white space between elements, a null
element written ``<X />``), which a general serializer does not promise; this writer does.
A dict is a sequence of child elements in its order, a list repeats its element, a scalar is
escaped text, and None is an empty element.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

__all__ = ["write_xml"]

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date | Decimal | int | float):
        return str(value)
    return str(value).translate(_ESCAPES)


def _element(tag: str, value: Any, out: list[str], empty: str) -> None:
    if isinstance(value, list):
        for item in value:
            _element(tag, item, out, empty)
        return
    if value is None:
        out.append(empty.format(tag=tag))
        return
    out.append(f"<{tag}>")
    if isinstance(value, dict):
        for child, child_value in value.items():
            _element(child, child_value, out, empty)
    else:
        out.append(_text(value))
    out.append(f"</{tag}>")


def write_xml(
    document: dict[str, Any],
    *,
    declaration: str | None = None,
    encoding: str = "utf-8",
    empty: str = "<{tag} />",
) -> bytes:
    """Serialise ``{root: content}``, prefixed by ``declaration`` when given."""
    if len(document) != 1:
        raise ValueError(f"an XML document has one root element, got {list(document)}")
    out: list[str] = [declaration] if declaration else []
    ((root, content),) = document.items()
    _element(root, content, out, empty)
    return "".join(out).encode(encoding)
