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
    fields = dict(draft)
    fields.update(
        message_id=message_id,
        causation_id=causation_id,
        received_at=received,
        occurred_at=draft.occurred_at or received,
    )
    # The draft was validated field by field; the stamped values are checked above.
    return ENVELOPES[draft.schema_name].model_construct(**fields)
