"""The canonical schemas by name (``enforcement.penalty_decision.v1`` → its payload model)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError, create_model
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

__all__ = ["DRAFTS", "ENVELOPES", "PAYLOADS", "parse_envelope", "payload_model"]

PAYLOADS: dict[str, type[CanonicalModel]] = {
    model.SCHEMA: model
    for model in (
        Case,
        Inspection,
        PenaltyDecision,
        LicenseDecision,
        Clue,
        CaseTransfer,
        DishonestCheck,
        CreditSubject,
        DeliveryReceipt,
        SupervisionNotice,
    )
}
"""Every canonical payload model, by its versioned schema name."""

ENVELOPES: dict[str, type[Envelope[Any]]] = {
    name: create_model(f"{model.__name__}Envelope", __base__=Envelope[model])  # type: ignore[valid-type]
    for name, model in PAYLOADS.items()
}
"""The full envelope of each schema, as the bus publishes it (named ``PenaltyDecisionEnvelope``)."""

DRAFTS: dict[str, type[EnvelopeDraft[Any]]] = {
    name: create_model(f"{model.__name__}Draft", __base__=EnvelopeDraft[model])  # type: ignore[valid-type]
    for name, model in PAYLOADS.items()
}
"""The envelope of each schema as an adapter builds it, before the bus stamps it."""


def payload_model(name: str) -> type[CanonicalModel]:
    """The payload model of schema ``name``; a ``KeyError`` names the known schemas."""
    try:
        return PAYLOADS[name]
    except KeyError:
        raise KeyError(f"unknown schema '{name}'; known: {', '.join(sorted(PAYLOADS))}") from None


def parse_envelope(data: Any, *, draft: bool = False) -> EnvelopeDraft[Any]:
    """Validate a canonical message (a dict), choosing the payload model by its ``schema``.

    With ``draft`` the bus-stamped fields may be absent (an adapter's output, a sample's
    ``.expected.json``).
    """
    name = data.get("schema") if isinstance(data, dict) else None
    if name not in PAYLOADS:
        error = PydanticCustomError(
            "unknown_schema",
            "schema '{name}' is not a canonical schema; known: {known}",
            {"name": name, "known": ", ".join(sorted(PAYLOADS))},
        )
        raise ValidationError.from_exception_data(
            "Envelope", [InitErrorDetails(type=error, loc=("schema",), input=name)]
        )
    return (DRAFTS if draft else ENVELOPES)[name].model_validate(data)
