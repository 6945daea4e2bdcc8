"""enforcement.delivery_receipt.v1 (电子送达回执): the fate of one served document."""

from __future__ import annotations

from typing import ClassVar, Literal

from schemas.base import CanonicalModel
from schemas.case_code import CaseCode
from schemas.common import Party
from schemas.text import Text
from schemas.timeutil import CanonicalDatetime

__all__ = ["DeliveryReceipt"]


class DeliveryReceipt(CanonicalModel):
    """电子送达回执: receipts may arrive out of order; consumers order them by ``status_at``."""

    SCHEMA: ClassVar[str] = "enforcement.delivery_receipt.v1"

    delivery_id: Text
    decision_no: Text
    case_code: CaseCode | None
    document_name: Text
    document_kind: Literal[
        "prior_notice",
        "hearing_notice",
        "penalty_decision",
        "rectification_order",
        "license_decision",
        "other",
    ]
    status: Literal["delivered", "read", "signed", "failed"]
    status_at: CanonicalDatetime
    recipient: Party
    channel: Literal["app", "sms", "email", "portal"]
    failure_reason: Text | None
