"""The durable stores of the runtime: audit chain, dead letters, idempotency and cursors.

All of them live in one database, SQLite (embedded default) or PostgreSQL (production), opened
once per process::

    from runner.stores import AuditStore, Database

    with Database.open("postgresql+psycopg://ebus@db/ebus") as db:
        audit = AuditStore(db)
"""

from __future__ import annotations

from runner.stores.audit import (
    AUDIT_KINDS,
    AuditChainError,
    AuditEvent,
    AuditRecord,
    AuditStore,
    Problem,
    VerifyReport,
)
from runner.stores.cursors import CursorStore
from runner.stores.db import DEFAULT_URL, Database, open_engine
from runner.stores.dead_letters import (
    Attempt,
    DeadLetter,
    DeadLetterStore,
    DeadLetterSummary,
    StoredDeadLetter,
)
from runner.stores.idempotency import Claim, IdempotencyStore

__all__ = [
    "AUDIT_KINDS",
    "DEFAULT_URL",
    "Attempt",
    "AuditChainError",
    "AuditEvent",
    "AuditRecord",
    "AuditStore",
    "Claim",
    "CursorStore",
    "Database",
    "DeadLetter",
    "DeadLetterStore",
    "DeadLetterSummary",
    "IdempotencyStore",
    "Problem",
    "StoredDeadLetter",
    "VerifyReport",
    "open_engine",
]
