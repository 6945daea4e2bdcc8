"""enforcement.case.v1 (执法案件): one administrative enforcement case."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from schemas.base import CanonicalModel
from schemas.case_code import CaseCode, Domain
from schemas.classes import classed
from schemas.common import Agency, LegalBasis, Officer, Party
from schemas.money import Yuan
from schemas.text import Text
from schemas.timeutil import CanonicalDatetime

__all__ = ["Case", "CaseSource", "CaseStatus", "Procedure"]

CaseSource = Literal["inspection", "complaint", "report", "referral", "transfer_back", "other"]
Procedure = Literal["simple", "general", "fast_track"]
CaseStatus = Literal[
    "registered",
    "investigating",
    "reviewing",
    "decided",
    "executing",
    "closed",
    "transferred",
    "revoked",
]


class Case(CanonicalModel):
    """执法案件: registration, parties, status and facts of one case.

    ``case_code`` derives from ``source_system``, ``source_case_no``, the agency's division code,
    the registration year and ``domain`` (``schemas.case_code.make_case_code``).
    """

    SCHEMA: ClassVar[str] = "enforcement.case.v1"

    case_code: CaseCode
    source_system: Text
    source_case_no: Text
    title: Text
    domain: Domain
    agency: Agency
    parties: list[Party]
    case_source: CaseSource
    procedure: Procedure
    status: CaseStatus
    registered_at: CanonicalDatetime
    closed_at: CanonicalDatetime | None
    violation_type: Text | None
    facts: Annotated[Text | None, classed("L2")]
    legal_basis: list[LegalBasis]
    involved_amount_yuan: Yuan | None
    officers: list[Officer]
