"""Selectors: how a mapping rule picks a value out of a record, per wire format.

- ``xml``: an XPath 1.0 expression relative to the record element, compiled once with the
  mapping's namespace prefixes. A node-set gives its first node's text (``xsi:nil="true"`` gives
  null); ``string(...)``, ``count(...)`` and friends give their value.
- ``json`` and ``jsonl``: a JMESPath expression over the record (``party.creditCode``).
- ``csv``: a column name of the header row.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from lxml import etree

from runner.mapping.documents import Format
from runner.mapping.jmes import compile_ast

__all__ = [
    "Selector",
    "compile_jmespath",
    "compile_list_selector",
    "compile_selector",
    "node_text",
]

Selector = Callable[[Any], Any]

_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_CHILD = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def node_text(node: Any) -> Any:
    """The text of an XML node (element text including CDATA; attribute or text result as is)."""
    if isinstance(node, etree._Element):
        if node.get(_XSI_NIL) == "true":
            return None
        if len(node) == 0:
            return node.text or ""
        return "".join(str(text) for text in node.itertext())
    if isinstance(node, bytes):
        return node.decode("utf-8")
    if isinstance(node, str):
        return str(node)  # lxml "smart strings" hold a reference to the tree: drop it
    return node


_memo = threading.local()


def _children(node: Any) -> dict[str, Any]:
    """The first child element of each tag name, indexed once per record (per thread).

    A record's fields are read one after another, so the index of the last node is kept.
    """
    if getattr(_memo, "node", None) is node:
        return _memo.children  # type: ignore[no-any-return]
    children: dict[str, Any] = {}
    for child in node.iterchildren(tag=etree.Element):
        children.setdefault(child.tag, child)
    _memo.node, _memo.children = node, children
    return children


def _xpath(expression: str, namespaces: dict[str, str]) -> etree.XPath:
    try:
        return etree.XPath(expression, namespaces=namespaces, smart_strings=False)
    except etree.XPathSyntaxError as exc:
        raise ValueError(f"XPath '{expression}' does not compile: {exc}") from None


def _jmes(expression: str) -> Any:
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise ValueError(f"JMESPath '{expression}' does not compile: {exc}") from None


def _field_path(ast: dict[str, Any]) -> list[str] | None:
    """The keys of a JMESPath made only of fields (``a.b."c d"``), None for anything else."""
    if ast.get("type") == "field":
        return [str(ast["value"])]
    if ast.get("type") == "subexpression":
        keys: list[str] = []
        for child in ast["children"]:
            sub = _field_path(child)
            if sub is None:
                return None
            keys += sub
        return keys
    return None


def compile_jmespath(expression: str) -> Selector:
    """``value -> result`` of a JMESPath expression (``ValueError`` when it does not compile).

    A path made only of fields, by far the most common selector, is answered by plain dict
    lookups with JMESPath's semantics (a missing key or a non-object gives None), without the
    interpreter's tree walk; anything else is compiled to closures (``runner.mapping.jmes``).
    """
    compiled = _jmes(expression)
    keys = _field_path(compiled.parsed)
    if keys is None:
        return compile_ast(compiled.parsed)
    if len(keys) == 1:
        (key,) = keys

        def select_field(value: Any) -> Any:
            return value.get(key) if isinstance(value, dict) else None

        return select_field

    def select_path(value: Any) -> Any:
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return select_path


def compile_selector(expression: str, fmt: Format, namespaces: dict[str, str]) -> Selector:
    """A function ``record -> value`` for ``expression`` (ValueError when it does not compile)."""
    if fmt == "xml":
        if _CHILD.fullmatch(expression):
            name = expression  # a plain child name: read from the record's child index

            def select_child(node: Any) -> Any:
                child = _children(node).get(name)
                return None if child is None else node_text(child)

            return select_child
        xpath = _xpath(expression, namespaces)

        def select_xml(node: Any) -> Any:
            result = xpath(node)
            if isinstance(result, list):
                return node_text(result[0]) if result else None
            return node_text(result)

        return select_xml
    if fmt == "csv":
        column = expression

        def select_column(row: Any) -> Any:
            return row.get(column) if isinstance(row, dict) else None

        return select_column
    return compile_jmespath(expression)


def compile_list_selector(expression: str, fmt: Format, namespaces: dict[str, str]) -> Selector:
    """A function ``record -> list`` (the nodes or items ``expression`` selects; [] for none)."""
    if fmt == "xml":
        xpath = _xpath(expression, namespaces)

        def select_nodes(node: Any) -> list[Any]:
            result = xpath(node)
            if isinstance(result, list):
                return result
            return [] if result in (None, "") else [result]

        return select_nodes
    if fmt == "csv":
        raise ValueError("a CSV record has no nested lists; split a column instead")
    search = compile_jmespath(expression)

    def select_items(record: Any) -> list[Any]:
        result = search(record)
        if result is None:
            return []
        return result if isinstance(result, list) else [result]

    return select_items
