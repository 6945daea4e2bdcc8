"""Audit events appended inside the caller's transaction, so a state change and its audit
record commit together or not at all.

The chain recipe and the L3 guard are the audit store's (``AuditStore.append_in``); this only
names the call the transfer service makes. The head is locked last, after the caller's own rows,
so that transfer writers never wait for each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from runner.stores.audit import AuditEvent, AuditStore
from runner.stores.db import Database

__all__ = ["append_in"]


def append_in(db: Database, conn: Connection, events: Sequence[AuditEvent]) -> None:
    """Append ``events`` to the audit chain within the open write transaction ``conn``."""
    AuditStore(db).append_in(conn, events)
