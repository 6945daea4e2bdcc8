"""The field-path fast path of JSON selectors answers exactly as JMESPath does."""

from __future__ import annotations

from typing import Any

import jmespath
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.mapping.selectors import compile_jmespath

KEYS = st.sampled_from(["a", "b", "检查记录编号", "x y"])
VALUES = st.recursive(
    st.none() | st.integers() | st.text(max_size=3) | st.booleans(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=12,
)


def _quoted(key: str) -> str:
    return key if key.isascii() and key.isidentifier() else f'"{key}"'


@given(path=st.lists(KEYS, min_size=1, max_size=4), document=VALUES)
def test_a_field_path_gives_what_jmespath_gives(path: list[str], document: Any) -> None:
    expression = ".".join(_quoted(key) for key in path)
    assert compile_jmespath(expression)(document) == jmespath.search(expression, document)


@pytest.mark.parametrize(
    "expression", ["a[0]", "a.b || 'x'", "length(a)", "a[?b == `1`]", "a.*", "@"]
)
def test_anything_else_runs_through_jmespath(expression: str) -> None:
    document = {"a": [{"b": 1}, {"b": 2}]}
    assert compile_jmespath(expression)(document) == jmespath.search(expression, document)
