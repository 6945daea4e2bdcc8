"""enforcement.clue.v1 (线索): a complaint, report or request that may lead to a case."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from schemas.base import CanonicalModel
from schemas.classes import classed
from schemas.common import Agency, PartialParty
from schemas.identifiers import DivisionCode
from schemas.text import Text
from schemas.timeutil import CanonicalDatetime

__all__ = ["Clue", "ClueKind", "Reporter"]

ClueKind = Literal["complaint", "report", "consultation", "suggestion", "help"]


class Reporter(CanonicalModel):
    """Who reported a clue; the phone is sensitive personal data (L3)."""

    name: Annotated[Text | None, classed("L2")]
    phone: Annotated[Text | None, classed("L3")]


class Clue(CanonicalModel):
    """线索: a 12345 work order or similar, assigned to an agency with a due time."""

    SCHEMA: ClassVar[str] = "enforcement.clue.v1"

    clue_id: Text
    source_system: Text
    kind: ClueKind
    content: Annotated[Text, classed("L2")]
    reporter: Reporter | None
    target: PartialParty | None
    location: Annotated[Text | None, classed("L2")]
    division_code: DivisionCode
    received_at: CanonicalDatetime
    due_at: CanonicalDatetime | None
    assigned_agency: Agency
