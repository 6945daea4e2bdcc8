"""Idempotency: the same source message always gets the same message id, delivered once.

``claim`` answers "have we seen this (source_system, source_message_id) before?" atomically: the
first claim mints a ULID message id, every later claim (a resend, a replay, a redelivery, or a
second worker racing the first) gets the same id with ``first_time=False``. It is an
``INSERT … ON CONFLICT DO NOTHING`` followed by a ``SELECT`` in one transaction, on both backends.

``mark_delivered`` records that a destination accepted a message; it returns True only the first
time, so a redelivered message is not sent twice to a destination that is not idempotent itself.
Mark after the destination accepted: a crash in between means one more delivery (at-least-once),
never a lost one.

Example::

    claim = store.claim("eco_env", "WS-2024-0001")
    if not claim.first_time:
        ...  # a duplicate: same message_id as before
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select
from ulid import ULID

from runner.stores._tables import deliveries, idempotency_keys
from runner.stores.db import Database

__all__ = ["Claim", "IdempotencyStore"]

_CHUNK = 500  # keys per statement
_Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Claim:
    """The message id of a source message, and whether this claim was the first one."""

    message_id: str
    first_time: bool


class IdempotencyStore:
    """Message-id claims and delivery marks in one ``Database``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # built once: a statement object reused keeps its compiled form and cache key
        self._insert_key = db.insert_ignore(
            idempotency_keys, ["source_system", "source_message_id"]
        )
        self._insert_delivery = db.insert_ignore(deliveries, ["destination", "message_id"])
        keys, done = idempotency_keys.c, deliveries.c
        self._select_keys = select(keys.source_message_id, keys.message_id).where(
            keys.source_system == bindparam("system"),
            keys.source_message_id.in_(bindparam("ids", expanding=True)),
        )
        self._select_delivered = select(done.message_id).where(
            done.destination == bindparam("destination"),
            done.message_id.in_(bindparam("ids", expanding=True)),
        )

    def claim(self, source_system: str, source_message_id: str) -> Claim:
        """The message id of this source message, minted on the first claim."""
        return self.claim_many([(source_system, source_message_id)])[0]

    def claim_many(self, keys: Iterable[tuple[str, str]]) -> list[Claim]:
        """Claims for ``(source_system, source_message_id)`` pairs, in order, in one transaction.

        A key repeated within the batch is first-time at most once, at its first occurrence.
        """
        keys = list(keys)
        minted: dict[_Key, str] = {}
        for key in keys:
            minted.setdefault(key, str(ULID()))
        if not minted:
            return []
        with self._db.write() as conn:
            found = self._insert_and_read(conn, minted)
        claims, seen = [], set()
        for key in keys:
            claims.append(Claim(found[key], found[key] == minted[key] and key not in seen))
            seen.add(key)
        return claims

    def _insert_and_read(self, conn: Connection, minted: dict[_Key, str]) -> dict[_Key, str]:
        now = dt.datetime.now(dt.UTC)
        rows = [
            {"source_system": s, "source_message_id": m, "message_id": mid, "claimed_at": now}
            for (s, m), mid in minted.items()
        ]
        for start in range(0, len(rows), _CHUNK):
            conn.execute(self._insert_key, rows[start : start + _CHUNK])
        by_system: dict[str, list[str]] = {}
        for system, source_id in minted:
            by_system.setdefault(system, []).append(source_id)
        found: dict[_Key, str] = {}
        for system, source_ids in by_system.items():
            for start in range(0, len(source_ids), _CHUNK):
                chunk = {"system": system, "ids": source_ids[start : start + _CHUNK]}
                found.update(
                    {(system, s): mid for s, mid in conn.execute(self._select_keys, chunk)}
                )
        return found

    def known_among(self, source_system: str, source_message_ids: Iterable[str]) -> set[str]:
        """Which of ``source_message_ids`` of ``source_system`` were claimed before (no claim)."""
        ids = list(dict.fromkeys(source_message_ids))
        c = idempotency_keys.c
        found: set[str] = set()
        with self._db.read() as conn:
            for start in range(0, len(ids), _CHUNK):
                query = select(c.source_message_id).where(
                    c.source_system == source_system,
                    c.source_message_id.in_(ids[start : start + _CHUNK]),
                )
                found.update(row[0] for row in conn.execute(query))
        return found

    def mark_delivered(self, destination: str, message_id: str) -> bool:
        """Record that ``destination`` accepted ``message_id``; True only the first time."""
        row = {
            "destination": destination,
            "message_id": message_id,
            "delivered_at": dt.datetime.now(dt.UTC),
        }
        insert = self._db.insert_ignore(deliveries, ["destination", "message_id"]).values(row)
        # RETURNING, not rowcount: drivers do not all report a rowcount for INSERT.
        stmt = insert.returning(deliveries.c.message_id)
        with self._db.write() as conn:
            return conn.execute(stmt).first() is not None

    def was_delivered(self, destination: str, message_id: str) -> bool:
        """Whether ``destination`` has accepted ``message_id`` before."""
        c = deliveries.c
        query = select(c.message_id).where(c.destination == destination, c.message_id == message_id)
        with self._db.read() as conn:
            return conn.execute(query).first() is not None

    def delivered_among(
        self, destination: str, message_ids: Iterable[str], *, conn: Connection | None = None
    ) -> set[str]:
        """Which of ``message_ids`` ``destination`` has accepted before (one query per chunk),
        in the caller's transaction ``conn`` if given."""
        ids = list(dict.fromkeys(message_ids))
        found: set[str] = set()
        with self._db.within(conn) as tx:
            for start in range(0, len(ids), _CHUNK):
                chunk = {"destination": destination, "ids": ids[start : start + _CHUNK]}
                found.update(row[0] for row in tx.execute(self._select_delivered, chunk))
        return found

    def mark_delivered_many(
        self, destination: str, message_ids: Iterable[str], *, conn: Connection | None = None
    ) -> None:
        """Record that ``destination`` accepted every one of ``message_ids``, in one transaction
        (the caller's write transaction ``conn`` if given)."""
        now = dt.datetime.now(dt.UTC)
        rows = [
            {"destination": destination, "message_id": m, "delivered_at": now}
            for m in dict.fromkeys(message_ids)
        ]
        if not rows:
            return
        stmt = self._insert_delivery
        with self._db.within(conn, write=True) as tx:
            for start in range(0, len(rows), _CHUNK):
                tx.execute(stmt, rows[start : start + _CHUNK])
