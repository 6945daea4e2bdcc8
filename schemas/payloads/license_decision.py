"""enforcement.license_decision.v1 (行政许可决定): one administrative licence decision."""

from __future__ import annotations

from typing import ClassVar, Literal

from schemas.base import CanonicalModel
from schemas.common import Agency, Party
from schemas.text import Text
from schemas.timeutil import CanonicalDate, CanonicalDatetime

__all__ = ["LicenseDecision", "LicenseKind"]

LicenseKind = Literal["general", "franchise", "recognition", "approval", "registration", "other"]


class LicenseDecision(CanonicalModel):
    """行政许可决定: the licence granted, to whom, for how long (``valid_to`` null = 长期)."""

    SCHEMA: ClassVar[str] = "enforcement.license_decision.v1"

    license_no: Text
    license_name: Text
    kind: LicenseKind
    party: Party
    content: Text
    decided_at: CanonicalDatetime
    valid_from: CanonicalDate
    valid_to: CanonicalDate | None
    agency: Agency
    decision_no: Text | None
