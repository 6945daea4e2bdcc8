"""Embedded objects shared by the payload schemas: party, agency, officer, legal basis."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from schemas.base import CanonicalModel
from schemas.case_code import Domain
from schemas.classes import DataClass, classed
from schemas.identifiers import (
    USCC_PLACEHOLDER,
    DivisionCode,
    PartyUscc,
    Uscc,
    check_resident_id,
)
from schemas.text import Text

__all__ = ["Agency", "IdType", "LegalBasis", "Officer", "PartialParty", "Party", "PartyKind"]

PartyKind = Literal["legal_person", "unincorporated_org", "individual_business", "natural_person"]
IdType = Literal["resident_id", "passport", "hk_macao_permit", "taiwan_permit", "other"]


class _PartyFields(CanonicalModel):
    kind: PartyKind | None
    name: Text | None
    uscc: PartyUscc | None
    registration_no: Annotated[Text | None, Field(exclude_if=lambda v: v is None)] = None
    id_type: IdType | None
    id_number: Annotated[Text | None, classed("L3")]
    legal_representative: Annotated[Text | None, classed("L2")]
    address: Text | None
    division_code: DivisionCode | None

    @field_validator("id_number", mode="before")
    @classmethod
    def _resident_id(cls, value: object, info: ValidationInfo) -> object:
        """A resident ID is checked and stored in its 18-character form."""
        if isinstance(value, str) and info.data.get("id_type") == "resident_id":
            return check_resident_id(value)
        return value

    def field_class(self, name: str) -> DataClass:
        """A natural person's name is L2 and address L3; an organisation's are L1."""
        if self.kind == "natural_person" and name == "name":
            return "L2"
        if self.kind == "natural_person" and name == "address":
            return "L3"
        return super().field_class(name)

    def _check_consistency(self) -> None:
        if self.kind == "natural_person":
            if self.uscc is not None:
                raise PydanticCustomError(
                    "party_natural_uscc", "a natural person has no uscc (it must be null)"
                )
        elif self.kind is not None and self.uscc is None:
            raise PydanticCustomError(
                "party_uscc_required",
                "uscc is required for a party of kind {kind}",
                {"kind": self.kind},
            )
        if self.uscc == USCC_PLACEHOLDER:
            if self.kind != "individual_business":
                raise PydanticCustomError(
                    "uscc_placeholder",
                    "the placeholder 00000000000000000X is accepted only for an "
                    "individual_business party, not {kind}",
                    {"kind": self.kind},
                )
            if not self.registration_no:
                raise PydanticCustomError(
                    "registration_no_required",
                    "registration_no (工商注册号) is required when uscc is the placeholder "
                    "00000000000000000X",
                )


class Party(_PartyFields):
    """行政相对人: the organisation or person an enforcement act concerns.

    ``uscc`` is required unless the party is a natural person; an individual business without a
    code carries the placeholder ``00000000000000000X`` and then ``registration_no``. A
    ``resident_id`` number must pass GB 11643 (a 15-digit number is upgraded to 18).

    Example::

        kind: legal_person
        name: 福州闽江源食品有限公司
        uscc: 91350100MA2Y7K3F61
        legal_representative: 陈建华
    """

    kind: PartyKind
    name: Text

    @model_validator(mode="after")
    def _consistent(self) -> Party:
        self._check_consistency()
        return self


class PartialParty(_PartyFields):
    """A party known only in part (a clue's target): unknown parts, even its kind, are null."""

    @model_validator(mode="after")
    def _consistent(self) -> PartialParty:
        self._check_consistency()
        return self


class Agency(CanonicalModel):
    """执法主体: the enforcement agency. ``domain`` is null only for a police organ acting as the
    ``from_agency`` of a reverse transfer."""

    name: Text
    uscc: Uscc
    division_code: DivisionCode
    domain: Domain | None


class Officer(CanonicalModel):
    """执法人员: an enforcement officer and the number of their 执法证."""

    name: Annotated[Text, classed("L2")]
    certificate_no: Text | None


class LegalBasis(CanonicalModel):
    """One legal provision: ``law_name`` without 《》, ``article`` the rest (``第四十九条``)."""

    law_name: Text
    article: Text | None

    @model_validator(mode="after")
    def _no_title_marks(self) -> LegalBasis:
        if self.law_name.startswith("《") or self.law_name.endswith("》"):
            raise PydanticCustomError(
                "law_name_marks",
                "law_name is written without 《》 (got '{name}')",
                {"name": self.law_name},
            )
        return self
