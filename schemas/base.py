"""The base model of every canonical schema: strict, closed, NFC text."""

from __future__ import annotations

from functools import cached_property

from pydantic import BaseModel, ConfigDict

from schemas.classes import DataClass, classify, declared_class

__all__ = ["CanonicalModel"]


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
