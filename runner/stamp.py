"""Stamping: turning an adapter's envelope draft into a published canonical envelope.

The bus decides ``message_id`` (stable per source message: see the idempotency store),
``causation_id``, ``received_at`` and, when the mapping gave none, ``occurred_at``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ulid import ULID

from schemas import ENVELOPES
from schemas.envelope import Envelope, EnvelopeDraft
from schemas.timeutil import SHANGHAI

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
    fields = dict(draft)
    fields.update(
        message_id=message_id,
        causation_id=causation_id,
        received_at=received_at,
        occurred_at=draft.occurred_at or received_at,
    )
    fields["schema"] = fields.pop("schema_name")
    return ENVELOPES[draft.schema_name].model_validate(fields)
