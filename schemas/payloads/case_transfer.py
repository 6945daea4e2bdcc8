"""enforcement.case_transfer.v1 (案件移送, 行刑衔接): one status change of one transfer.

The life of one transfer under Decree 310 (国务院令第310号, revised 2020-08-07). A transfer package
carries the full record; answers from the police side are deltas (what they do not carry is null).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from schemas.base import CanonicalModel
from schemas.case_code import CaseCode
from schemas.classes import classed
from schemas.common import Agency
from schemas.text import Text
from schemas.timeutil import CanonicalDatetime

__all__ = [
    "CaseTransfer",
    "Deadline",
    "Document",
    "EvidenceItem",
    "HistoryEvent",
    "Organ",
    "TransferStatus",
    "Trigger",
]

TransferStatus = Literal[
    "proposed",
    "approved",
    "refused",
    "transferred",
    "received",
    "forwarded",
    "filed",
    "declined",
    "reconsideration_requested",
    "reconsideration_filed",
    "reconsideration_upheld",
    "supervision_requested",
    "items_handed_over",
]
EvidenceKind = Literal[
    "documentary",
    "physical",
    "audio_visual",
    "electronic_data",
    "witness_testimony",
    "party_statement",
    "expert_opinion",
    "inspection_record",
]
DocumentKind = Literal[
    "transfer_letter", "investigation_report", "items_list", "inspection_report", "other"
]
OrganKind = Literal["public_security", "procuratorate", "supervisory_commission", "admin_agency"]
DecimalText = Annotated[str, Field(pattern=r"^-?\d+(\.\d+)?$")]


class Organ(CanonicalModel):
    """The organ a case goes to (公安, 检察, 监察, or an administrative agency)."""

    name: Text
    kind: OrganKind


class Trigger(CanonicalModel):
    """The threshold rule that proposed the transfer and the figures that met it.

    ``figures`` maps a figure name to a decimal string, its threshold under ``threshold_<name>``.
    """

    rule_id: Text
    figures: dict[str, DecimalText]


class EvidenceItem(CanonicalModel):
    """One evidence item with its digest, so the receiver can verify it (证据互认)."""

    name: Text
    kind: EvidenceKind
    digest_algorithm: Literal["sm3", "sha256"]
    digest_value: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$"), classed("L2")]
    size_bytes: Annotated[int, Field(ge=0)]


class Document(CanonicalModel):
    """One document of the transfer package (Decree 310 Art. 6)."""

    kind: DocumentKind
    name: Text


class Deadline(CanonicalModel):
    """A statutory deadline with its legal basis; ``due_at`` null where the law sets none."""

    name: Text
    due_at: CanonicalDatetime | None
    basis: Text


class HistoryEvent(CanonicalModel):
    """One status change: when, by whom, with what note."""

    status: TransferStatus
    at: CanonicalDatetime
    by: Annotated[Text, classed("L2")]
    note: Annotated[Text | None, classed("L2")]


class CaseTransfer(CanonicalModel):
    """案件移送: a transfer between an administrative agency and a criminal-justice organ."""

    SCHEMA: ClassVar[str] = "enforcement.case_transfer.v1"

    transfer_id: Text
    direction: Literal["admin_to_criminal", "criminal_to_admin"]
    case_code: CaseCode
    from_agency: Agency | None
    to_organ: Organ | None
    suspected_offence: Text | None
    triggered_by: Trigger | None
    evidence: list[EvidenceItem] | None
    documents: list[Document] | None
    status: TransferStatus
    deadlines: list[Deadline]
    history: Annotated[list[HistoryEvent], Field(min_length=1)]
