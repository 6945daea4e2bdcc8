"""Durable counters: numbers a peer must never see twice (batch numbers, call sequences).

``next("credit_fj")`` is one atomic ``UPDATE … SET value = value + 1 RETURNING value`` in its
own transaction, so every worker thread and every bus process sharing the store gets a
different number, also after a restart.

Example::

    sequences = SequenceStore(db)
    sequences.next("credit_fj")   # 1, then 2, ...
"""

from __future__ import annotations

from sqlalchemy import update

from runner.stores._tables import sequences
from runner.stores.db import Database

__all__ = ["SequenceStore"]


class SequenceStore:
    """Named counters in one ``Database``, starting at 1."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def next(self, name: str) -> int:
        """The next number of counter ``name``."""
        c = sequences.c
        bump = update(sequences).where(c.name == name).values(value=c.value + 1).returning(c.value)
        with self._db.write() as conn:
            conn.execute(self._db.insert_ignore(sequences, ["name"]).values(name=name, value=0))
            return int(conn.execute(bump).scalar_one())
