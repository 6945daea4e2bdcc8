"""The tables of the durable stores, in one ``MetaData``, and their schema version.

Every table name starts with ``ebus_`` so the stores can share a PostgreSQL database (or schema)
with other software. ``SCHEMA_VERSION`` is bumped whenever a table changes shape; a store whose
recorded version differs is refused at open (see ``Database.create_tables``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

__all__ = [
    "SCHEMA_VERSION",
    "UtcDateTime",
    "audit_head",
    "audit_log",
    "body_digests",
    "cursors",
    "day_archive",
    "dead_letters",
    "deliveries",
    "idempotency_keys",
    "metadata",
    "rate_gates",
    "schema_version",
    "shared_tokens",
]

SCHEMA_VERSION = 1
"""The shape of the tables below; recorded in ``ebus_schema_version`` when a store is created."""


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime, stored in UTC and read back as an aware UTC datetime on every backend.

    PostgreSQL keeps it as ``timestamptz``; SQLite, which has no zones, as naive UTC text (the
    SQLAlchemy default format, which sorts in time order). Naive datetimes are refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """UTC, and naive on SQLite; a naive input is an error, never silently local time."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given where an aware one is due")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """An aware UTC datetime, whatever zone the driver returned."""
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# SQLite makes only ``INTEGER PRIMARY KEY`` an alias of the rowid (the fast path).
_Seq = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

schema_version = Table(
    "ebus_schema_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
)

audit_log = Table(
    "ebus_audit_log",
    metadata,
    Column("seq", _Seq, primary_key=True, autoincrement=False),
    # The exact hashed text (UTC ISO 8601 to the microsecond): nothing to re-format on verify,
    # and the same bytes on both backends. Fixed width, so it sorts in time order.
    Column("at", String(32), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("system", String(64), nullable=False),
    Column("message_type", String(128)),
    Column("route", String(128)),
    Column("destination", String(128)),
    Column("message_id", String(64)),
    Column("source_message_id", String(255)),
    Column("case_code", String(64)),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_ebus_audit_log_case_code", "case_code"),
    Index("ix_ebus_audit_log_message_id", "message_id"),
    Index("ix_ebus_audit_log_source_message_id", "source_message_id"),
)

sequences = Table(
    "ebus_sequences",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

audit_head = Table(
    "ebus_audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", _Seq, nullable=False),
    Column("hash", String(64), nullable=False),
)

dead_letters = Table(
    "ebus_dead_letters",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("system", String(64), nullable=False),
    Column("message_type", String(128), nullable=False),
    Column("route", String(128)),
    Column("destination", String(128)),
    Column("source_message_id", String(255)),
    Column("message_id", String(64)),
    Column("case_code", String(64)),
    Column("reason", Text, nullable=False),
    Column("rule", String(64)),
    Column("field", String(255)),
    Column("attempts", Text, nullable=False),
    Column("headers", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Index("ix_ebus_dead_letters_status_system", "status", "system"),
    Index("ix_ebus_dead_letters_system", "system"),
    Index("ix_ebus_dead_letters_message_id", "message_id"),
)

idempotency_keys = Table(
    "ebus_idempotency_keys",
    metadata,
    Column("source_system", String(64), primary_key=True),
    Column("source_message_id", String(255), primary_key=True),
    Column("message_id", String(26), nullable=False, unique=True),
    Column("claimed_at", UtcDateTime, nullable=False),
)

deliveries = Table(
    "ebus_deliveries",
    metadata,
    Column("destination", String(128), primary_key=True),
    Column("message_id", String(64), primary_key=True),
    Column("delivered_at", UtcDateTime, nullable=False),
)

cursors = Table(
    "ebus_cursors",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

day_archive = Table(
    "ebus_day_archive",
    metadata,
    # Arrival order in the archive: the tie-break of envelopes received in the same second.
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("message_id", String(26), nullable=False, unique=True),
    Column("schema", String(128), nullable=False),
    Column("day", Date, nullable=False),  # of received_at, Asia/Shanghai
    Column("received_at", UtcDateTime, nullable=False),
    Column("envelope", Text, nullable=False),
    Index("ix_ebus_day_archive_day_schema", "day", "schema"),
)
"""Canonical envelopes by schema and received day, for batch jobs (``runner.stores.archive``)."""

body_digests = Table(
    "ebus_body_digests",
    metadata,
    Column("source_system", String(64), primary_key=True),
    Column("source_message_id", String(255), primary_key=True),
    Column("digest", String(64), nullable=False),  # SHA-256 hex of the first accepted body
    Column("accepted_at", UtcDateTime, nullable=False),
)
"""The body each pushed source message was first accepted with (``runner.stores.body_digests``).
A new table, not a new column: stores created before it get it at open, with no version bump."""

shared_tokens = Table(
    "ebus_shared_tokens",
    metadata,
    Column("key", String(64), primary_key=True),  # SHA-256 hex of system, endpoint and client
    Column("sealed", Text, nullable=True),  # the token, encrypted with a key only its client has
    Column("expires_at", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),  # +1 per token published
    Column("claimed_until", UtcDateTime, nullable=True),  # a process is fetching a new one
    Column("claimed_by", String(32), nullable=True),  # which claim: a random nonce
)
"""One access token per client, shared by every process (``runner.stores.tokens``); new table,
no version bump."""

rate_gates = Table(
    "ebus_rate_gates",
    metadata,
    Column("key", String(64), primary_key=True),  # SHA-256 hex of system and API key
    Column("closed_until", UtcDateTime, nullable=False),
)
"""Until when a throttled key may not call, for every process (``runner.stores.gates``); new
table, no version bump."""
