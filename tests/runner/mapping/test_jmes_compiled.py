"""Compiled JMESPath (``runner.mapping.jmes``) answers exactly as the jmespath interpreter."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import jmespath
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.mapping.jmes import compile_ast
from runner.mapping.selectors import compile_jmespath

# The kinds of expression the mappings use: comparisons, and/or/not, functions, indexes,
# projections, filters, flattens, multi-selects, pipes, slices.
EXPRESSIONS = [
    "a == 'x'",
    "a != `1`",
    "a.b == `null` && c >= `400`",
    "a == `null` || (a.b == `null` && c >= `400`)",
    "c >= `500` || c == `429` || c == `408`",
    "c < `1`",
    "c <= a",
    "!a",
    "!c",
    'contains(`["1", "2"]`, a.b)',
    "contains(a, 'x')",
    "length(a || `[]`) == `0`",
    "to_string(c) == '0' && (a || b)",
    "join('|', [a, b])",
    "starts_with(a, 'x')",
    "a[0]",
    "a[-1].b",
    "a[?b=='x'] | [0].c",
    "a[?starts_with(b, 'x')]",
    "a[?!(b.c)]",
    "a[*]",
    "a[*].b",
    "a.*",
    "a[]",
    "a[1:3]",
    "[a, b]",
    "{x: a, y: b.c}",
    "@",
    "a.b.c",
    "a | b",
]
KEYS = st.sampled_from(["a", "b", "c"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-2, max_value=600)
    | st.sampled_from(["", "x", "xy", "0", "1", "2"])
    | st.sampled_from([Decimal("0"), Decimal("1.5")])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=10,
)


def _outcome(fn: Any, document: Any) -> tuple[str, Any]:
    try:
        return "value", fn(document)
    except Exception as exc:  # an error must be the same error
        return "error", type(exc).__name__


@pytest.mark.parametrize("expression", EXPRESSIONS)
@given(document=VALUES)
def test_a_compiled_expression_gives_what_the_interpreter_gives(
    expression: str, document: Any
) -> None:
    parsed = jmespath.compile(expression)
    got = _outcome(compile_ast(parsed.parsed), document)
    want = _outcome(parsed.search, document)
    assert got == want
    assert type(got[1]) is type(want[1])  # True is not 1, Decimal is not int


def test_the_selector_of_a_condition_is_compiled_not_interpreted() -> None:
    select = compile_jmespath("a == 'x' && !b")
    assert select({"a": "x", "b": 0}) is False  # JMESPath: 0 is not false, !0 is false
    assert select({"a": "x", "b": ""}) is True


def test_an_expression_reference_falls_back_to_the_interpreter() -> None:
    select = compile_jmespath("sort_by(a, &b)[0].b")
    assert select({"a": [{"b": 2}, {"b": 1}]}) == 1
