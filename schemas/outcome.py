"""The delivery outcome: how an outbound call went, reported by the adapter that made it.

A response to a push, an upload or a submission, and a poll or query answer that carries no
data, is not a canonical message: it is one ``DeliveryOutcome``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from schemas.base import CanonicalModel
from schemas.text import Text

__all__ = ["DeliveryOutcome", "OutcomeKind", "RecordResult"]

OutcomeKind = Literal[
    "complete", "partial", "batch_retry", "batch_failed", "refresh_token", "not_found", "pending"
]
_NO_RECORDS = {"batch_retry", "batch_failed", "refresh_token", "not_found", "pending"}


class RecordResult(CanonicalModel):
    """What happened to one record of the call (``index`` = its 0-based position as sent)."""

    index: Annotated[int, Field(ge=0)]
    status: Literal["accepted", "rejected", "retry"]
    record_id: Text | None
    code: Text | None


class DeliveryOutcome(CanonicalModel):
    """``{outcome, code, retry_after_s, records}`` of canonical.md "Delivery outcome"."""

    outcome: OutcomeKind
    code: Text | None
    retry_after_s: Annotated[int, Field(ge=0)] | None
    records: list[RecordResult]

    @model_validator(mode="after")
    def _consistent(self) -> DeliveryOutcome:
        indexes = [r.index for r in self.records]
        if indexes != sorted(set(indexes)):
            raise PydanticCustomError(
                "outcome_records_order", "records must be sorted by index, each index once"
            )
        if self.outcome in _NO_RECORDS and self.records:
            raise PydanticCustomError(
                "outcome_records", "outcome {outcome} carries no records", {"outcome": self.outcome}
            )
        statuses = {r.status for r in self.records}
        if self.outcome == "complete" and statuses - {"accepted"}:
            raise PydanticCustomError(
                "outcome_complete", "outcome complete needs every record accepted"
            )
        if self.outcome == "partial" and statuses <= {"accepted"}:
            raise PydanticCustomError(
                "outcome_partial", "outcome partial needs at least one record not accepted"
            )
        return self
