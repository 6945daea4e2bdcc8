"""The canonical envelope every canonical message travels in.

``EnvelopeDraft`` is what an adapter decides (schema, source ids, case code, classification,
payload); the bus stamps ``message_id``, ``causation_id``, ``occurred_at`` and ``received_at``
and so makes an ``Envelope``. Both check that ``schema`` names the payload's schema, that
``classification`` is the one computed from the payload, and that a payload ``case_code`` equals
the envelope's.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from schemas.base import CanonicalModel
from schemas.case_code import CaseCode
from schemas.classes import DataClass
from schemas.text import Text
from schemas.timeutil import CanonicalDatetime

__all__ = ["ULID_PATTERN", "Envelope", "EnvelopeDraft", "MessageId"]

ULID_PATTERN = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"
MessageId = Annotated[str, Field(pattern=ULID_PATTERN, examples=["01JTZ6Q8M4V2A7K9C1E3G5H7J9"])]
"""A ULID: 26 characters of Crockford base 32, time-ordered."""

P = TypeVar("P", bound=CanonicalModel)


class EnvelopeDraft(CanonicalModel, Generic[P]):
    """An envelope as an adapter builds it; the bus-stamped fields may still be absent."""

    message_id: MessageId | None = None
    schema_name: Annotated[str, Field(alias="schema", pattern=r"^[a-z_.]+\.v\d+$")]
    source_system: Text
    source_message_id: Text
    case_code: CaseCode | None
    causation_id: MessageId | None = None
    occurred_at: CanonicalDatetime | None = None
    received_at: CanonicalDatetime | None = None
    classification: DataClass
    payload: P

    @model_validator(mode="after")
    def _consistent(self) -> EnvelopeDraft[P]:
        expected_schema = getattr(type(self.payload), "SCHEMA", None)
        if self.schema_name != expected_schema:
            raise PydanticCustomError(
                "envelope_schema",
                "schema '{got}' does not name the payload's schema '{want}'",
                {"got": self.schema_name, "want": expected_schema},
            )
        computed = self.payload.data_class
        if self.classification != computed:
            raise PydanticCustomError(
                "envelope_classification",
                "classification {got} differs from {want}, the highest class in the payload",
                {"got": self.classification, "want": computed},
            )
        payload_code = getattr(self.payload, "case_code", None)
        if payload_code is not None and payload_code != self.case_code:
            raise PydanticCustomError(
                "envelope_case_code",
                "payload case_code '{payload}' differs from the envelope's '{envelope}'",
                {"payload": payload_code, "envelope": self.case_code},
            )
        return self

    def to_json_dict(self) -> dict[str, Any]:
        """The envelope as canonical JSON data (wire names, strings for money and times)."""
        return self.model_dump(mode="json", exclude_unset=False)


class Envelope(EnvelopeDraft[P], Generic[P]):
    """A canonical message as the bus publishes it: every field present."""

    message_id: MessageId
    causation_id: MessageId | None
    occurred_at: CanonicalDatetime
    received_at: CanonicalDatetime
