"""Function composition for compiled mapping code (transform chains, JMESPath pipes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["compose"]


def compose(steps: Sequence[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """One function applying ``steps`` in order (the common short chains without a loop)."""
    if len(steps) == 1:
        return steps[0]
    if len(steps) == 2:
        first, second = steps
        return lambda value: second(first(value))
    chained = tuple(steps)

    def chain(value: Any) -> Any:
        for step in chained:
            value = step(value)
        return value

    return chain
