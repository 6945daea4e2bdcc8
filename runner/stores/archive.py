"""The canonical day archive: canonical envelopes by schema and received day, for batch jobs.

A batch job that works on "the messages of day D" (the national daily package) cannot read
them off a feed at 01:30 on D+1: a feed keeps nothing. The archive worker
(``runner.engine.archive``) stores every envelope of the schemas such jobs declare
(``BatchJob.archives``) here, keyed by its ``message_id`` (a redelivery is stored once), with
its schema and the Asia/Shanghai day of its ``received_at``. A job reads one day back in the
order received; days older than the retention are pruned.

The archive also remembers when it first archived each schema (``since``): a job asking for a
schema that was never archived is told so instead of reading an empty day.

Example::

    archive = ArchiveStore(db)
    archive.begin(["enforcement.case.v1"], at=now())
    archive.add_many([envelope_json, ...])
    archive.day(["enforcement.case.v1"], dt.date(2024, 3, 5))   # [envelope_json, ...]
    archive.prune(before=dt.date(2024, 2, 1))                   # rows deleted
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select

from runner.stores._tables import cursors, day_archive
from runner.stores.db import Database
from schemas.envelope import ULID_PATTERN
from schemas.timeutil import SHANGHAI

__all__ = ["ArchiveStore", "archive_row", "received_day"]

_CHUNK = 500  # rows per statement
_ULID = re.compile(ULID_PATTERN)
_SINCE = "archive:"  # cursor name prefix of the first-archived time of a schema


def _received_at(envelope: Mapping[str, Any]) -> dt.datetime:
    received = dt.datetime.fromisoformat(str(envelope["received_at"]))
    if received.tzinfo is None:
        raise ValueError("received_at has no offset")
    return received


def received_day(envelope: Mapping[str, Any]) -> dt.date:
    """The Asia/Shanghai day of an envelope's ``received_at`` (``ValueError`` without one)."""
    return _received_at(envelope).astimezone(SHANGHAI).date()


def archive_row(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The archive row of a canonical envelope (its JSON); ``KeyError``/``ValueError`` for a
    JSON object that is no stamped envelope (a ULID ``message_id``, a ``schema``, a
    ``received_at`` with its offset)."""
    message_id = str(envelope["message_id"])
    if not _ULID.fullmatch(message_id):
        raise ValueError("message_id is not a ULID")
    received = _received_at(envelope)
    return {
        "message_id": message_id,
        "schema": str(envelope["schema"]),
        "day": received.astimezone(SHANGHAI).date(),
        "received_at": received,
        "envelope": json.dumps(envelope, ensure_ascii=False, separators=(",", ":")),
    }


class ArchiveStore:
    """The day archive in one ``Database``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add_many(self, envelopes: Iterable[Mapping[str, Any]]) -> None:
        """Store canonical envelopes (their JSON), in one transaction; a message id already
        stored is left as it is. ``KeyError``/``ValueError`` as ``archive_row`` says."""
        self.add_rows([archive_row(envelope) for envelope in envelopes])

    def add_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Store rows made by ``archive_row``, in one transaction (known message ids ignored)."""
        if not rows:
            return
        stmt = self._db.insert_ignore(day_archive, ["message_id"])
        with self._db.write() as conn:
            for start in range(0, len(rows), _CHUNK):
                conn.execute(stmt, list(rows[start : start + _CHUNK]))

    def day(self, schemas: Sequence[str], day: dt.date) -> list[dict[str, Any]]:
        """The envelopes of ``schemas`` received on ``day`` (Asia/Shanghai), in the order
        received (``received_at``, then arrival in the archive)."""
        c = day_archive.c
        query = (
            select(c.envelope)
            .where(c.day == day, c.schema.in_(list(schemas)))
            .order_by(c.received_at, c.seq)
        )
        with self._db.read() as conn:
            return [dict(json.loads(text)) for text in conn.execute(query).scalars()]

    def known_among(self, message_ids: Iterable[str]) -> set[str]:
        """Which of ``message_ids`` are archived."""
        ids = list(dict.fromkeys(message_ids))
        c = day_archive.c
        found: set[str] = set()
        with self._db.read() as conn:
            for start in range(0, len(ids), _CHUNK):
                query = select(c.message_id).where(c.message_id.in_(ids[start : start + _CHUNK]))
                found.update(conn.execute(query).scalars())
        return found

    def prune(self, before: dt.date) -> int:
        """Delete the days before ``before``; returns how many envelopes went."""
        with self._db.write() as conn:
            return conn.execute(delete(day_archive).where(day_archive.c.day < before)).rowcount

    def begin(self, schemas: Iterable[str], at: dt.datetime) -> None:
        """Record that archiving ``schemas`` starts at ``at`` (only the first time, per schema)."""
        rows = [
            {
                "name": f"{_SINCE}{schema}",
                "value": json.dumps({"since": at.isoformat()}),
                "updated_at": at,
            }
            for schema in dict.fromkeys(schemas)
        ]
        if rows:
            with self._db.write() as conn:
                conn.execute(self._db.insert_ignore(cursors, ["name"]), rows)

    def since(self, schema: str) -> dt.datetime | None:
        """When archiving ``schema`` first started, None if it never did."""
        query = select(cursors.c.value).where(cursors.c.name == f"{_SINCE}{schema}")
        with self._db.read() as conn:
            text = conn.execute(query).scalar()
        return None if text is None else dt.datetime.fromisoformat(json.loads(text)["since"])
