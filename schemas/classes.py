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
from functools import cache
from typing import Annotated, Any, Literal, NamedTuple, get_args, get_origin

from pydantic import BaseModel, Field

__all__ = ["DataClass", "Leaf", "classed", "classify", "declared_class", "iter_leaves"]

DataClass = Literal["L1", "L2", "L3", "L4"]

_KEY = "x-data-class"


def classed(level: DataClass) -> Any:
    """Field metadata that gives a field its data class (shown in JSON Schema as x-data-class)."""
    return Field(json_schema_extra={_KEY: level})


@cache
def _declared(model: type[BaseModel]) -> dict[str, DataClass]:
    levels: dict[str, DataClass] = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        level = extra.get(_KEY) if isinstance(extra, dict) else None
        levels[name] = level if level in ("L1", "L2", "L3", "L4") else "L1"  # type: ignore[assignment]
    return levels


def declared_class(model: type[BaseModel], name: str) -> DataClass:
    """The class a field declares in its metadata, L1 when it declares none."""
    return _declared(model)[name]


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
    for name in _declared(type(model)):
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from iter_leaves(value)
        elif isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
            for item in value:
                yield from iter_leaves(item)
        else:
            level = level_of(name) if level_of else declared_class(type(model), name)
            yield Leaf(model, name, value, level)


_RANK: dict[str, int] = {"L1": 1, "L2": 2, "L3": 3, "L4": 4}
_NAMES: tuple[DataClass, ...] = ("L1", "L1", "L2", "L3", "L4")


@cache
def _contextual(model: type[BaseModel]) -> bool:
    """True when the model decides some classes from its own values (overrides field_class)."""
    own = getattr(model, "field_class", None)
    return (
        any(
            "field_class" in vars(base)
            for base in model.__mro__[:-1]
            if base.__name__ not in ("CanonicalModel", "BaseModel")
        )
        and own is not None
    )


def _may_nest(annotation: Any) -> bool:
    """True when a field's type may hold a model (directly, in a list, in a union)."""
    origin = get_origin(annotation)
    if origin is Literal:
        return False
    if origin is Annotated:
        return _may_nest(get_args(annotation)[0])
    if origin is not None:
        return any(_may_nest(arg) for arg in get_args(annotation))
    if isinstance(annotation, type):
        return issubclass(annotation, BaseModel)
    return True  # Any, a type variable, a forward reference: it may


@cache
def _plan(model: type[BaseModel]) -> tuple[tuple[str, int, bool], ...]:
    """The fields ``classify`` must look at, with their declared rank and whether they nest.

    Computed once per model class: a leaf field declared L1 of a model without contextual
    classes can never raise the classification above L1, so it is left out.
    """
    contextual = _contextual(model)
    plan = []
    for name, level in _declared(model).items():
        nested = _may_nest(model.model_fields[name].annotation)
        if nested or contextual or _RANK[level] > 1:
            plan.append((name, _RANK[level], nested))
    return tuple(plan)


def classify(model: BaseModel) -> DataClass:
    """The highest class among the non-null, non-empty values of ``model``'s tree.

    Hot path (every envelope): a plain loop over the fields each model class can raise the
    class with (``_plan``, computed once per class), stopping at L4.
    """
    best = 1
    stack = [model]
    while stack:
        current = stack.pop()
        cls = type(current)
        contextual = _contextual(cls)
        values = current.__dict__
        for name, declared_rank, nested in _plan(cls):
            value = values[name]
            if value is None:
                continue
            if nested:
                if isinstance(value, BaseModel):
                    stack.append(value)
                    continue
                if isinstance(value, list) and value and isinstance(value[0], BaseModel):
                    stack.extend(value)
                    continue
            if isinstance(value, list | str | dict) and not value:
                continue
            rank = _RANK[current.field_class(name)] if contextual else declared_rank  # type: ignore[attr-defined]
            if rank > best:
                best = rank
                if best == 4:
                    return "L4"
    return _NAMES[best]
