"""Audit events appended inside the caller's transaction, so a state change and its audit
record commit together or not at all.

The chain recipe and the L3 guard are the audit store's (``runner.stores.audit``); this only runs
them on a connection the caller holds. The head is locked last, after the caller's own rows, so
that transfer writers never wait for each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from runner.stores._chain import chain_hash
from runner.stores._tables import audit_head, audit_log
from runner.stores.audit import AuditEvent, AuditStore, _stored_fields
from runner.stores.db import Database

__all__ = ["append_in"]

_HEAD_ID = 1


def append_in(db: Database, conn: Connection, events: Sequence[AuditEvent]) -> None:
    """Append ``events`` to the audit chain within the open write transaction ``conn``."""
    pending = [_stored_fields(event) for event in events]
    if not pending:
        return
    db.lock(conn, audit_head)
    seq, prev_hash = AuditStore(db)._head_for_append(conn)
    rows = []
    for fields, detail in pending:
        seq += 1
        digest = chain_hash(prev_hash, seq, fields, detail)
        rows.append({**fields, "seq": seq, "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    conn.execute(audit_log.insert(), rows)
    conn.execute(db.upsert(audit_head, ["id"]).values(id=_HEAD_ID, seq=seq, hash=prev_hash))
