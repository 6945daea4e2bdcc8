"""The tables of the transfer core, on the stores' one ``MetaData`` (``runner.stores._tables``).

They are created by ``ensure_tables`` (called by every transfer store on open), because
``Database.create_tables`` only knows the tables imported before it runs. All names start with
``ebus_transfer`` so they sit beside the other stores in one SQLite file or PostgreSQL schema.

- ``ebus_transfers``: one row per transfer, its merged canonical record (JSON) and status;
- ``ebus_transfer_events``: every accepted status change (the history), with the message it came
  in and the deadlines it carried;
- ``ebus_transfer_clocks``: the statutory clocks, one row per started deadline, with the claim
  of its single overdue alert (``alerted_at``);
- ``ebus_transfer_outbox``: messages to publish, written in the same transaction as the state
  change (transactional outbox), relayed to the bus afterwards;
- ``ebus_transfer_ledger``: the repeat-offender ledger, penalty decisions per party (keyed digest);
- ``ebus_transfer_proposals``: at most one bus proposal per case;
- ``ebus_transfer_notices``: procuratorate notices attached to cases (no content: it may be L4);
- ``ebus_transfer_agencies``: agencies seen on the bus, to address a reverse transfer;
- ``ebus_transfer_counters`` and ``ebus_transfer_settings``: number allocation, the ledger key.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from runner.stores._tables import UtcDateTime, metadata

__all__ = [
    "TABLES",
    "agencies",
    "clocks",
    "counters",
    "events",
    "ledger",
    "notices",
    "outbox",
    "proposals",
    "settings",
    "transfers",
]

_Seq = BigInteger().with_variant(Integer(), "sqlite")

transfers = Table(
    "ebus_transfers",
    metadata,
    Column("transfer_id", String(64), primary_key=True),
    Column("case_code", String(64), nullable=False),
    Column("direction", String(24), nullable=False),
    Column("status", String(32), nullable=False),
    Column("record", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_ebus_transfers_case_code", "case_code"),
    Index("ix_ebus_transfers_status", "status"),
)

events = Table(
    "ebus_transfer_events",
    metadata,
    Column("id", _Seq, primary_key=True, autoincrement=True),
    Column("transfer_id", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("by", Text, nullable=False),
    Column("note", Text),
    Column("source_system", String(64), nullable=False),
    Column("message_id", String(64)),
    Column("deadlines", Text, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index("ix_ebus_transfer_events_transfer", "transfer_id"),
    Index("ix_ebus_transfer_events_message", "message_id"),
)

clocks = Table(
    "ebus_transfer_clocks",
    metadata,
    Column("transfer_id", String(64), primary_key=True),
    Column("key", String(48), primary_key=True),
    Column("instance", Integer, primary_key=True, autoincrement=False),
    Column("case_code", String(64), nullable=False),
    Column("name", Text, nullable=False),
    Column("basis", Text, nullable=False),
    Column("started_at", UtcDateTime),
    Column("due_at", UtcDateTime),
    Column("closed_at", UtcDateTime),
    Column("alerted_at", UtcDateTime),
    Column("alert_id", String(26)),
    Index("ix_ebus_transfer_clocks_open", "closed_at", "alerted_at", "due_at"),
)

outbox = Table(
    "ebus_transfer_outbox",
    metadata,
    Column("id", _Seq, primary_key=True, autoincrement=True),
    Column("message_id", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("transfer_id", String(64)),
    Column("case_code", String(64)),
    Column("headers", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    UniqueConstraint("message_id", "target", name="uq_ebus_transfer_outbox_message_target"),
    Index("ix_ebus_transfer_outbox_unsent", "sent_at", "id"),
)

ledger = Table(
    "ebus_transfer_ledger",
    metadata,
    Column("message_id", String(64), primary_key=True),
    Column("party_key", String(64), nullable=False),
    Column("decision_no", Text, nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("domain", String(2)),
    Column("violation_type", Text, nullable=False),
    Column("source_system", String(64), nullable=False),
    Column("case_code", String(64)),
    Column("agency", Text, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    UniqueConstraint("party_key", "decision_no", name="uq_ebus_transfer_ledger_decision"),
    Index("ix_ebus_transfer_ledger_party", "party_key", "decided_at"),
)

proposals = Table(
    "ebus_transfer_proposals",
    metadata,
    Column("case_code", String(64), primary_key=True),
    Column("transfer_id", String(64), nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("proposed_at", UtcDateTime, nullable=False),
)

notices = Table(
    "ebus_transfer_notices",
    metadata,
    Column("notice_no", String(128), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),
    Column("case_code", String(64)),
    Column("transfer_id", String(64)),
    Column("issued_by", Text, nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("reply_due", String(10)),
    Column("message_id", String(64), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index("ix_ebus_transfer_notices_case", "case_code"),
)

agencies = Table(
    "ebus_transfer_agencies",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("agency", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

counters = Table(
    "ebus_transfer_counters",
    metadata,
    Column("prefix", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
)

settings = Table(
    "ebus_transfer_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

TABLES = (
    transfers,
    events,
    clocks,
    outbox,
    ledger,
    proposals,
    notices,
    agencies,
    counters,
    settings,
)
"""Every table of the transfer core, in creation order."""
