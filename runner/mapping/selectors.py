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

__all__ = ["Selector", "compile_list_selector", "compile_selector", "node_text"]

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
    compiled = _jmes(expression)
    return compiled.search  # type: ignore[no-any-return]


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
    compiled = _jmes(expression)

    def select_items(record: Any) -> list[Any]:
        result = compiled.search(record)
        if result is None:
            return []
        return result if isinstance(result, list) else [result]

    return select_items
