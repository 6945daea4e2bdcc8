"""Body digests: which body a pushed source message id was first accepted with.

Some push specs (emergency README §2.5) answer a resend differently by its body: the same
``msgId`` with the same bytes is a duplicate, the same ``msgId`` with other bytes a conflict the
sender must fix. The idempotency keys say only that the id was seen; this store keeps, per
``(source_system, source_message_id)``, the SHA-256 of the body first accepted and when. Like the
idempotency keys it lives in the shared database: it survives restarts and every process sees
it. Rows are never deleted by the bus (the emergency spec asks for at least 400 days).

``record`` is ``INSERT … ON CONFLICT DO NOTHING`` then ``SELECT`` in one transaction: the first
body recorded wins, whichever process records it, and every caller learns which one that was.

Example::

    digests = BodyDigestStore(db)
    first = digests.record("emergency", msg_id, sha256(body).hexdigest(), now)
    if first.digest != sha256(body).hexdigest():
        ...  # the id was first accepted with another body
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, select

from runner.stores._tables import body_digests
from runner.stores.db import Database

__all__ = ["BodyDigestStore", "FirstBody"]


@dataclass(frozen=True, slots=True)
class FirstBody:
    """The digest of the body a source message id was first accepted with, and when."""

    digest: str
    accepted_at: dt.datetime


class BodyDigestStore:
    """First-accepted body digests per source message, in one ``Database``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self, source_system: str, source_message_id: str, digest: str, at: dt.datetime
    ) -> FirstBody:
        """Record ``digest`` as the body of this source message unless one is recorded
        already; return the one that is (this one, or the earlier one)."""
        row = {
            "source_system": source_system,
            "source_message_id": source_message_id,
            "digest": digest,
            "accepted_at": at,
        }
        insert = self._db.insert_ignore(body_digests, ["source_system", "source_message_id"])
        with self._db.write() as conn:
            conn.execute(insert.values(row))
            found = conn.execute(self._query(source_system, source_message_id)).one()
        return FirstBody(found.digest, found.accepted_at)

    def first(self, source_system: str, source_message_id: str) -> FirstBody | None:
        """The first-accepted body of this source message, None when none was recorded."""
        with self._db.read() as conn:
            found = conn.execute(self._query(source_system, source_message_id)).first()
        return None if found is None else FirstBody(found.digest, found.accepted_at)

    @staticmethod
    def _query(source_system: str, source_message_id: str) -> Select[tuple[str, dt.datetime]]:
        c = body_digests.c
        return select(c.digest, c.accepted_at).where(
            c.source_system == source_system, c.source_message_id == source_message_id
        )
