"""The base model of every canonical schema: strict, closed, NFC text."""

from __future__ import annotations

from functools import cached_property
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from schemas.classes import DataClass, classify, declared_class

__all__ = ["CanonicalModel", "construct_checked"]

M = TypeVar("M", bound=BaseModel)


class CanonicalModel(BaseModel):
    """Strict and closed: an unknown field or a wrong type is an error with its field path.

    ``strict`` stops pydantic's silent coercions (``"1"`` to ``1``, ``1`` to ``True``);
    identifier, money and time fields parse their wire text in their own validators.
    """

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    def field_class(self, name: str) -> DataClass:
        """The data class of field ``name`` for this instance (its declared class by default)."""
        return declared_class(type(self), name)

    @cached_property
    def data_class(self) -> DataClass:
        """The highest class in this model's tree, computed once (the model is frozen)."""
        return classify(self)


def construct_checked(model: type[M], values: dict[str, Any]) -> M:
    """An instance of ``model`` from ``values`` that the caller has checked, as
    ``model.model_construct`` makes it but without its per-field search for aliases and defaults.

    ``values`` must give every field of ``model`` by its Python name (a hot path: every message);
    a missing or extra key raises ``ValueError``. ``values`` becomes the instance's own data.
    """
    if values.keys() != model.__pydantic_fields__.keys():
        raise ValueError(f"{model.__name__} needs exactly its fields, got {sorted(values)}")
    if model.__pydantic_post_init__ or model.__pydantic_root_model__:
        return model.model_construct(**values)
    instance = model.__new__(model)
    object.__setattr__(instance, "__dict__", values)
    object.__setattr__(instance, "__pydantic_fields_set__", set(values))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance
