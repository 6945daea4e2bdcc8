"""enforcement.credit_subject.v1 (主体信用信息): registration and credit rating of a subject."""

from __future__ import annotations

from typing import ClassVar, Literal

from schemas.base import CanonicalModel
from schemas.common import Party
from schemas.text import Text
from schemas.timeutil import CanonicalDate, CanonicalDatetime

__all__ = ["CreditSubject"]


class CreditSubject(CanonicalModel):
    """主体信用信息: looked up by uscc; the envelope's case_code is null."""

    SCHEMA: ClassVar[str] = "enforcement.credit_subject.v1"

    party: Party
    registration_status: Literal["active", "deregistered", "revoked"]
    credit_level: Literal["A", "B", "C", "D"] | None
    credit_rated_on: CanonicalDate | None
    registration_authority: Text | None
    updated_at: CanonicalDatetime | None
