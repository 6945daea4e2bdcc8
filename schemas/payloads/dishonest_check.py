"""enforcement.dishonest_check.v1 (失信核查结果): whether a party is a dishonest judgment debtor."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import field_validator

from schemas.base import CanonicalModel
from schemas.common import Agency, Party
from schemas.payloads.penalty_decision import no_repeats
from schemas.text import Text
from schemas.timeutil import CanonicalDatetime

__all__ = ["AppliedMeasure", "DishonestCase", "DishonestCheck"]


class DishonestCase(CanonicalModel):
    """One dishonesty listing: the court or deciding authority and its 案号 or 文号."""

    court: Text
    case_no: Text
    published_at: CanonicalDatetime | None


class AppliedMeasure(CanonicalModel):
    """Feedback on one restriction measure (措施反馈)."""

    code: Text
    status: Literal["applied", "not_applied"]
    applied_at: CanonicalDatetime
    note: Text | None


class DishonestCheck(CanonicalModel):
    """失信核查结果: a check result, a list entry, or measure feedback (``applied_measures``)."""

    SCHEMA: ClassVar[str] = "enforcement.dishonest_check.v1"

    party: Party
    is_dishonest: bool
    cases: list[DishonestCase]
    measures: list[Text]
    checked_at: CanonicalDatetime
    agency: Agency | None
    applied_measures: list[AppliedMeasure] | None

    _unique_measures = field_validator("measures")(no_repeats)
