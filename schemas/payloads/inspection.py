"""enforcement.inspection.v1 (检查): a planned or completed inspection."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from schemas.base import CanonicalModel
from schemas.classes import classed
from schemas.common import Agency, Officer, Party
from schemas.text import Text
from schemas.timeutil import CanonicalDate, CanonicalDatetime

__all__ = ["Inspection", "InspectionItem", "InspectionKind", "InspectionResult"]

InspectionKind = Literal["double_random", "combined", "special", "routine", "complaint_check"]
InspectionResult = Literal["compliant", "rectify", "case_opened", "not_found", "other"]


class InspectionItem(CanonicalModel):
    """An inspection item (检查事项): its code and name."""

    code: Text
    name: Text | None


class Inspection(CanonicalModel):
    """检查: a 双随机 draw, a combined or special inspection; a plan has no result yet
    (``inspected_at``, ``result`` and ``findings`` null)."""

    SCHEMA: ClassVar[str] = "enforcement.inspection.v1"

    inspection_id: Text
    task_id: Text | None
    kind: InspectionKind
    target: Party
    agency: Agency
    officers: list[Officer]
    planned_date: CanonicalDate | None
    inspected_at: CanonicalDatetime | None
    items: list[InspectionItem]
    result: InspectionResult | None
    findings: Annotated[Text | None, classed("L2")]
