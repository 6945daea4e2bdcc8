"""The canonical schemas by name (``enforcement.penalty_decision.v1`` → its payload model)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from schemas.base import CanonicalModel
from schemas.envelope import Envelope, EnvelopeDraft
from schemas.payloads.case import Case
from schemas.payloads.case_transfer import CaseTransfer
from schemas.payloads.clue import Clue
from schemas.payloads.credit_subject import CreditSubject
from schemas.payloads.delivery_receipt import DeliveryReceipt
from schemas.payloads.dishonest_check import DishonestCheck
from schemas.payloads.inspection import Inspection
from schemas.payloads.license_decision import LicenseDecision
from schemas.payloads.penalty_decision import PenaltyDecision
from schemas.payloads.supervision_notice import SupervisionNotice

__all__ = ["PAYLOADS", "parse_envelope", "payload_model"]

PAYLOADS: dict[str, type[CanonicalModel]] = {
    model.SCHEMA: model
    for model in (
        Case, Inspection, PenaltyDecision, LicenseDecision, Clue, CaseTransfer, DishonestCheck,
        CreditSubject, DeliveryReceipt, SupervisionNotice,
    )
}
"""Every canonical payload model, by its versioned schema name."""


def payload_model(name: str) -> type[CanonicalModel]:
    """The payload model of schema ``name``; a ``KeyError`` names the known schemas."""
    try:
        return PAYLOADS[name]
    except KeyError:
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(sorted(PAYLOADS))}") from None


def parse_envelope(data: Any, *, draft: bool = False) -> EnvelopeDraft[Any]:
    """Validate a canonical message (a dict), choosing the payload model by its ``schema``.

    With ``draft`` the bus-stamped fields may be absent (an adapter's output, a sample's
    ``.expected.json``).
    """
    name = data.get("schema") if isinstance(data, dict) else None
    if name not in PAYLOADS:
        error = PydanticCustomError(
            "unknown_schema", "schema {name!r} is not a canonical schema; known: {known}",
            {"name": name, "known": ", ".join(sorted(PAYLOADS))},
        )
        raise ValidationError.from_exception_data(
            "Envelope", [InitErrorDetails(type=error, loc=("schema",), input=name)]
        )
    generic = EnvelopeDraft if draft else Envelope
    model: type[EnvelopeDraft[Any]] = generic[PAYLOADS[name]]  # type: ignore[index]
    return model.model_validate(data)
