"""JMESPath compiled to Python closures, once per expression, with the interpreter's semantics.

``jmespath.search`` walks the expression's tree for every record and builds a new interpreter
object per call; mapping conditions (``body.code == '0000' && http_status >= `500```) run on
every message. Here each tree node becomes one closure at compile time, reproducing
``jmespath.visitor.TreeInterpreter`` node by node (its truthiness, its equality special cases
for 0/1 against booleans, ordering only between numbers or strings, functions through
jmespath's own function table). A tree with a node this module does not know (``&expr``
references) is left to the interpreter as a whole.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Number
from typing import Any, cast

from jmespath import functions
from jmespath.visitor import TreeInterpreter

from runner.mapping.compose import compose

__all__ = ["compile_ast"]

Fn = Callable[[Any], Any]

_INTERPRETER = TreeInterpreter()
_FUNCTIONS = functions.Functions()
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "lt": lambda x, y: x < y,
    "gt": lambda x, y: x > y,
    "lte": lambda x, y: x <= y,
    "gte": lambda x, y: x >= y,
}
_KNOWN = frozenset(
    (
        "field",
        "subexpression",
        "index_expression",
        "pipe",
        "index",
        "literal",
        "current",
        "identity",
        "comparator",
        "or_expression",
        "and_expression",
        "not_expression",
        "function_expression",
        "multi_select_list",
        "multi_select_dict",
        "key_val_pair",
        "projection",
        "value_projection",
        "filter_projection",
        "flatten",
        "slice",
    )
)


def _is_false(value: Any) -> bool:
    return value in ("", [], {}) or value is None or value is False


# The interpreter's private helpers (jmespath.visitor), restated: numbers exclude booleans,
# 0 and 1 never equal False and True, ordering compares only numbers or strings.
def _is_actual_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, Number)


def _equals(x: Any, y: Any) -> bool:
    if _is_actual_number(x) and x in (0, 1):
        if isinstance(y, bool):
            return False
    elif _is_actual_number(y) and y in (0, 1) and isinstance(x, bool):
        return False
    return bool(x == y)


def _is_comparable(value: Any) -> bool:
    return _is_actual_number(value) or isinstance(value, str)


def _known(node: dict[str, Any]) -> bool:
    return node["type"] in _KNOWN and all(
        _known(child) for child in node.get("children", ()) if isinstance(child, dict)
    )


def compile_ast(ast: dict[str, Any]) -> Fn:
    """``value -> result`` of a parsed JMESPath expression (``ParsedResult.parsed``)."""
    if not _known(ast):
        visit = _INTERPRETER.visit
        tree = cast(Any, ast)
        return lambda value: visit(tree, value)
    return _node(ast)


def _chain(children: list[dict[str, Any]]) -> Fn:
    return compose([_node(child) for child in children])


def _field(name: str) -> Fn:
    def field(value: Any) -> Any:
        try:
            return value.get(name)
        except AttributeError:
            return None

    return field


def _index(position: int) -> Fn:
    def index(value: Any) -> Any:
        if not isinstance(value, list):
            return None
        try:
            return value[position]
        except IndexError:
            return None

    return index


def _comparator(op: str, left: Fn, right: Fn) -> Fn:
    if op == "eq":
        return lambda value: _equals(left(value), right(value))
    if op == "ne":
        return lambda value: not _equals(left(value), right(value))
    order = _ORDER[op]

    def compare(value: Any) -> Any:
        a, b = left(value), right(value)
        if not (_is_comparable(a) and _is_comparable(b)):
            return None
        return order(a, b)

    return compare


def _not(inner: Fn) -> Fn:
    def negate(value: Any) -> Any:
        result = inner(value)
        if _is_actual_number(result) and result == 0:
            return False  # JMESPath: !0 is false (0 is not falsy)
        return not result

    return negate


def _function(name: str, args: list[Fn]) -> Fn:
    call = _FUNCTIONS.call_function
    return lambda value: call(name, [arg(value) for arg in args])


def _projection(kind: str, base: Fn, item: Fn, test: Fn | None) -> Fn:
    def project(value: Any) -> Any:
        found = base(value)
        if kind == "value_projection":
            try:
                found = list(found.values())
            except AttributeError:
                return None
        elif not isinstance(found, list):
            return None
        out = []
        for element in found:
            if test is not None and _is_false(test(element)):
                continue
            current = item(element)
            if current is not None:
                out.append(current)
        return out

    return project


def _flatten(base: Fn) -> Fn:
    def flatten(value: Any) -> Any:
        found = base(value)
        if not isinstance(found, list):
            return None
        out: list[Any] = []
        for element in found:
            if isinstance(element, list):
                out.extend(element)
            else:
                out.append(element)
        return out

    return flatten


def _multi_list(items: list[Fn]) -> Fn:
    return lambda value: None if value is None else [item(value) for item in items]


def _multi_dict(items: list[tuple[str, Fn]]) -> Fn:
    return lambda value: None if value is None else {key: fn(value) for key, fn in items}


def _slice(parts: list[Any]) -> Fn:
    cut = slice(*parts)
    return lambda value: value[cut] if isinstance(value, list) else None


def _node(node: dict[str, Any]) -> Fn:  # noqa: PLR0911, PLR0912 (one branch per node type)
    kind = node["type"]
    children = node.get("children", [])
    if kind == "field":
        return _field(node["value"])
    if kind in ("subexpression", "index_expression", "pipe"):
        return _chain(children)
    if kind == "index":
        return _index(node["value"])
    if kind == "literal":
        literal = node["value"]
        return lambda _value: literal
    if kind in ("current", "identity"):
        return lambda value: value
    if kind == "comparator":
        return _comparator(node["value"], _node(children[0]), _node(children[1]))
    if kind == "or_expression":
        left, right = _node(children[0]), _node(children[1])

        def either(value: Any) -> Any:
            matched = left(value)
            return right(value) if _is_false(matched) else matched

        return either
    if kind == "and_expression":
        first, second = _node(children[0]), _node(children[1])

        def both(value: Any) -> Any:
            matched = first(value)
            return matched if _is_false(matched) else second(value)

        return both
    if kind == "not_expression":
        return _not(_node(children[0]))
    if kind == "function_expression":
        return _function(node["value"], [_node(child) for child in children])
    if kind == "multi_select_list":
        return _multi_list([_node(child) for child in children])
    if kind == "multi_select_dict":
        return _multi_dict([(child["value"], _node(child["children"][0])) for child in children])
    if kind == "key_val_pair":
        return _node(children[0])
    if kind in ("projection", "value_projection"):
        return _projection(kind, _node(children[0]), _node(children[1]), None)
    if kind == "filter_projection":
        base, item, test = (_node(child) for child in children)
        return _projection(kind, base, item, test)
    if kind == "flatten":
        return _flatten(_node(children[0]))
    return _slice(children)  # "slice": its children are the start, stop and step
