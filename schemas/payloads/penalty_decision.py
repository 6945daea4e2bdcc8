"""enforcement.penalty_decision.v1 (行政处罚决定): one administrative penalty decision."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from schemas.base import CanonicalModel
from schemas.case_code import CaseCode
from schemas.classes import classed
from schemas.common import Agency, LegalBasis, Party
from schemas.money import Yuan
from schemas.text import Text
from schemas.timeutil import CanonicalDate, CanonicalDatetime

__all__ = ["PenaltyDecision", "PenaltyKind", "no_repeats"]

PenaltyKind = Literal[
    "warning",
    "circulated_criticism",
    "fine",
    "confiscate_gains",
    "confiscate_property",
    "suspend_license",
    "downgrade_qualification",
    "revoke_license",
    "restrict_business",
    "suspend_business",
    "order_closure",
    "restrict_employment",
    "detention",
    "other",
]


def no_repeats(values: list[str]) -> list[str]:
    """Refuse a list that names a value twice (the contract keeps source order, no repeats)."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise PydanticCustomError(
                "list_repeat", "'{value}' appears more than once", {"value": value}
            )
        seen.add(value)
    return values


class PenaltyDecision(CanonicalModel):
    """行政处罚决定: the decision, its party, kinds of penalty and amounts, for 双公示 publicity."""

    SCHEMA: ClassVar[str] = "enforcement.penalty_decision.v1"

    decision_no: Text
    case_code: CaseCode | None
    party: Party
    violation_type: Text
    facts: Annotated[Text | None, classed("L2")]
    legal_basis: list[LegalBasis]
    penalty_basis: Text | None
    penalty_kinds: Annotated[list[PenaltyKind], Field(min_length=1)]
    fine_amount_yuan: Yuan | None
    confiscated_amount_yuan: Yuan | None
    license_affected: Text | None
    decided_at: CanonicalDatetime
    agency: Agency
    publicity_until: CanonicalDate | None

    _unique_kinds = field_validator("penalty_kinds")(no_repeats)
