"""Stamping: turning an adapter's envelope draft into a published canonical envelope.

The bus decides ``message_id`` (stable per source message: see the idempotency store),
``causation_id``, ``received_at`` and, when the mapping gave none, ``occurred_at``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ulid import ULID

from schemas import ENVELOPES
from schemas.base import construct_checked
from schemas.envelope import ULID_PATTERN, Envelope, EnvelopeDraft
from schemas.timeutil import SHANGHAI, to_canonical_datetime

_ULID = re.compile(ULID_PATTERN)

__all__ = ["new_message_id", "now", "stamp"]


def now() -> dt.datetime:
    """The current time in Asia/Shanghai, to the second."""
    return dt.datetime.now(SHANGHAI).replace(microsecond=0)


def new_message_id(at: dt.datetime | None = None) -> str:
    """A new ULID, time-ordered by ``at`` (now by default)."""
    return str(ULID.from_datetime(at) if at else ULID())


def stamp(
    draft: EnvelopeDraft[Any],
    *,
    message_id: str,
    received_at: dt.datetime,
    causation_id: str | None = None,
) -> Envelope[Any]:
    """The published envelope of ``draft``."""
    if not _ULID.fullmatch(message_id):
        raise ValueError(f"message id '{message_id}' is not a ULID")
    received = to_canonical_datetime(received_at)
    if causation_id is not None and not _ULID.fullmatch(causation_id):
        raise ValueError(f"causation id '{causation_id}' is not a ULID")
    # The draft was validated field by field; the stamped values are checked above.
    return construct_checked(
        ENVELOPES[draft.schema_name],
        {
            "message_id": message_id,
            "schema_name": draft.schema_name,
            "source_system": draft.source_system,
            "source_message_id": draft.source_message_id,
            "case_code": draft.case_code,
            "causation_id": causation_id,
            "occurred_at": draft.occurred_at or received,
            "received_at": received,
            "classification": draft.classification,
            "payload": draft.payload,
        },
    )
