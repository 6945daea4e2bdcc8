"""Lint help: which fields a canonical model has, and which of them a mapping must set."""

from __future__ import annotations

import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel

__all__ = ["nested_model", "required_fields"]


def _unwrap(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _unwrap(inner[0]) if len(inner) == 1 else annotation
    if origin is list:
        return _unwrap(get_args(annotation)[0])
    return annotation


def nested_model(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    """The model of field ``name`` (or of its list items), when it is an object."""
    annotation = _unwrap(model.model_fields[name].annotation)
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def required_fields(model: type[BaseModel]) -> list[str]:
    """The wire names a mapping must set: every field without a default."""
    return [
        field.alias or name for name, field in model.model_fields.items() if field.is_required()
    ]


def wire_names(model: type[BaseModel]) -> dict[str, str]:
    """Wire name → attribute name of every field of ``model``."""
    return {(field.alias or name): name for name, field in model.model_fields.items()}
