"""The batch run ledger's table, on the stores' one ``MetaData`` (``runner.stores._tables``).

It is created by ``ensure_tables`` (called when a ``RunLedger`` opens), because
``Database.create_tables`` only knows the tables imported before it runs; adding a table does
not change the shape of the others, so the stores' ``SCHEMA_VERSION`` stays as it is.

``ebus_batch_runs``: one row per attempt of a job for a data date, with its state, times,
the number of messages it emitted and the reason it failed (never an L3/L4 value).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from runner.stores._tables import UtcDateTime, metadata
from runner.stores.db import Database

__all__ = ["batch_runs", "ensure_tables"]

_Seq = BigInteger().with_variant(Integer(), "sqlite")
_LOCK_NAMESPACE = 0x65627573  # "ebus", as the stores' advisory locks
_DDL_LOCK_KEY = 7  # the batch ledger's table creation (the transfer core uses 6)

batch_runs = Table(
    "ebus_batch_runs",
    metadata,
    Column("id", _Seq, primary_key=True, autoincrement=True),
    Column("job", String(128), nullable=False),
    Column("run_date", Date, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("scheduled_for", UtcDateTime),
    Column("owner", String(255), nullable=False),
    Column("claimed_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime),
    Column("heartbeat_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("emitted", Integer, nullable=False, default=0),
    Column("error", Text),
    UniqueConstraint("job", "run_date", "attempt", name="uq_ebus_batch_runs_attempt"),
    Index("ix_ebus_batch_runs_job_date", "job", "run_date"),
    Index("ix_ebus_batch_runs_claimed_at", "claimed_at"),
)


def ensure_tables(db: Database) -> None:
    """Create the ledger's table where missing (safe to run concurrently)."""
    if getattr(db, "_ebus_batch_tables", False):
        return
    with db.write() as conn:
        if db.dialect == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:ns, :key)"),
                {"ns": _LOCK_NAMESPACE, "key": _DDL_LOCK_KEY},
            )
        db.metadata.create_all(conn, tables=[batch_runs])
    db._ebus_batch_tables = True  # type: ignore[attr-defined]
