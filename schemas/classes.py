"""Data-security classes (数据安全分级) of canonical fields, and the envelope's classification.

Every field carries a class: ``L1`` public, ``L2`` internal (a natural person's name, facts),
``L3`` sensitive personal (a natural person's ID number, phone, address), ``L4`` core (a
``sensitive`` notice's content). A field declares its class with ``classed("L2")``; fields without
one are L1. A model whose classes depend on its own values (a party that is a natural person, a
notice marked sensitive) overrides ``field_class``. An envelope's ``classification`` is the
highest class among the payload's non-null, non-empty fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, Field

__all__ = ["DataClass", "Leaf", "classed", "classify", "declared_class", "iter_leaves"]

DataClass = Literal["L1", "L2", "L3", "L4"]

_KEY = "x-data-class"


def classed(level: DataClass) -> Any:
    """Field metadata that gives a field its data class (shown in JSON Schema as x-data-class)."""
    return Field(json_schema_extra={_KEY: level})


def declared_class(model: type[BaseModel], name: str) -> DataClass:
    """The class a field declares in its metadata, L1 when it declares none."""
    extra = model.model_fields[name].json_schema_extra
    if isinstance(extra, dict):
        level = extra.get(_KEY)
        if level in ("L1", "L2", "L3", "L4"):
            return level  # type: ignore[return-value]
    return "L1"


class Leaf(NamedTuple):
    """One non-model value of a model tree, with the class it has in its owning model."""

    owner: BaseModel
    name: str
    value: Any
    level: DataClass


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def iter_leaves(model: BaseModel) -> Iterator[Leaf]:
    """Every non-model value in the tree below ``model``, with its effective class."""
    level_of = getattr(model, "field_class", None)
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from iter_leaves(value)
        elif isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
            for item in value:
                yield from iter_leaves(item)
        else:
            level = level_of(name) if level_of else declared_class(type(model), name)
            yield Leaf(model, name, value, level)


def classify(model: BaseModel) -> DataClass:
    """The highest class among the non-null, non-empty values of ``model``'s tree."""
    levels = [leaf.level for leaf in iter_leaves(model) if not _empty(leaf.value)]
    return max(levels, default="L1")
