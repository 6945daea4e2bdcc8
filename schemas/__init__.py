"""Canonical enforcement schemas: the contract every consumer of the bus relies on.

Pydantic v2 models for the envelope and the ten payload schemas of ``canonical.md``, the
identifier checks (USCC, resident ID, GB/T 2260), money, time and text rules, data-security
classes and masking, and the JSON Schema / AsyncAPI export. This package imports nothing else
of the project.
"""

from __future__ import annotations

from schemas.case_code import DOMAINS, CaseCode, Domain, make_case_code
from schemas.classes import DataClass, classify
from schemas.common import Agency, LegalBasis, Officer, PartialParty, Party
from schemas.envelope import Envelope, EnvelopeDraft
from schemas.errors import describe
from schemas.identifiers import (
    DivisionCode,
    PartyUscc,
    ResidentIdNumber,
    Uscc,
    check_division_code,
    check_resident_id,
    check_uscc,
    upgrade_resident_id,
)
from schemas.masking import log_view, publicity_view
from schemas.money import Yuan, fen_to_yuan, to_yuan, wan_yuan_to_yuan
from schemas.outcome import DeliveryOutcome, RecordResult
from schemas.registry import DRAFTS, ENVELOPES, PAYLOADS, parse_envelope, payload_model
from schemas.text import Text, fold_width, normalize_text
from schemas.timeutil import SHANGHAI, CanonicalDate, CanonicalDatetime

__all__ = [
    "DOMAINS",
    "DRAFTS",
    "ENVELOPES",
    "PAYLOADS",
    "SHANGHAI",
    "Agency",
    "CanonicalDate",
    "CanonicalDatetime",
    "CaseCode",
    "DataClass",
    "DeliveryOutcome",
    "DivisionCode",
    "Domain",
    "Envelope",
    "EnvelopeDraft",
    "LegalBasis",
    "Officer",
    "PartialParty",
    "Party",
    "PartyUscc",
    "RecordResult",
    "ResidentIdNumber",
    "Text",
    "Uscc",
    "Yuan",
    "check_division_code",
    "check_resident_id",
    "check_uscc",
    "classify",
    "describe",
    "fen_to_yuan",
    "fold_width",
    "log_view",
    "make_case_code",
    "normalize_text",
    "parse_envelope",
    "payload_model",
    "publicity_view",
    "to_yuan",
    "upgrade_resident_id",
    "wan_yuan_to_yuan",
]
