"""The audit store: append-only and hash-chained, so a changed or deleted record is detected.

Each step of a message's journey appends an ``AuditEvent``; the store gives it the next ``seq``
and chains it to the record before (the recipe is in ``runner.stores._chain``). A one-row head
(last seq and hash) is updated in the same transaction, so deleting records at the tail is
detected too. Appends are serialised across processes and machines (PostgreSQL advisory lock,
SQLite ``BEGIN IMMEDIATE``), so concurrent writers never fork the chain.

Example::

    audit = AuditStore(db)
    audit.append(AuditEvent(kind="received", system="eco_env",
                            message_type="get_penalty_decision_response",
                            source_message_id="WS-2024-0001", detail={"bytes": 5123}))
    report = audit.verify()      # report.ok, report.first_broken_seq, report.head_hash
    journey = audit.trace("WS-2024-0001")

    with db.write() as conn:     # records that commit or roll back with the caller's rows
        ...                      # the caller's own writes
        audit.append_in(conn, [AuditEvent(kind="transfer.proposed", system="admin_criminal")])

``detail`` holds L1/L2 facts only (sizes, counts, codes, durations, HTTP statuses). A value that
looks like a resident ID or a mobile number is refused with ``ValueError``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, field_validator
from sqlalchemy import Connection, RowMapping, func, or_, select

from runner.errors import EbusError
from runner.stores._chain import (
    GENESIS_HASH,
    ChainWalker,
    Problem,
    VerifyReport,
    chain_hash,
    refuse_l3_values,
)
from runner.stores._tables import audit_head, audit_log
from runner.stores.db import Database

__all__ = [
    "AUDIT_KINDS",
    "AuditChainError",
    "AuditEvent",
    "AuditRecord",
    "AuditStore",
    "Problem",
    "VerifyReport",
]

AUDIT_KINDS = frozenset(
    {
        "received",
        "mapped",
        "rejected",
        "delivered",
        "retried",
        "dead_lettered",
        "replayed",
        "purged",
        "dropped",
        "routed",
        "transfer",
    }
)
"""The known event kinds; ``transfer.<step>`` (e.g. ``transfer.proposed``) is open-ended."""

_HEAD_ID = 1


class AuditChainError(EbusError):
    """The chain cannot be appended to because its head is gone; run ``ebus audit verify``."""


class AuditEvent(BaseModel):
    """One step of a message's journey, as the caller describes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    at: AwareDatetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    system: str
    message_type: str | None = None
    route: str | None = None
    destination: str | None = None
    message_id: str | None = None
    source_message_id: str | None = None
    case_code: str | None = None
    detail: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind in AUDIT_KINDS or (kind.startswith("transfer.") and len(kind) > len("transfer.")):
            return kind
        known = ", ".join(sorted(AUDIT_KINDS))
        raise ValueError(f"unknown audit kind {kind!r}: expected one of {known} or transfer.*")


class AuditRecord(AuditEvent):
    """A stored event: its place in the chain and its hash. ``at`` is in UTC."""

    seq: int
    prev_hash: str
    hash: str


class AuditStore:
    """Appends, verifies and searches the audit chain of one ``Database``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(self, event: AuditEvent) -> AuditRecord:
        """Store one event at the end of the chain."""
        return self.append_many([event])[0]

    def append_many(self, events: Iterable[AuditEvent]) -> list[AuditRecord]:
        """Store events in order, in one transaction: all of them or none."""
        pending = [_stored_fields(event) for event in events]
        if not pending:
            return []
        with self._db.write() as conn:
            return self._chain(conn, pending)

    def append_in(self, conn: Connection, events: Iterable[AuditEvent]) -> list[AuditRecord]:
        """Store events in order within the caller's open write transaction ``conn``.

        The records commit or roll back with the caller's own rows, so a state change and its
        audit trail never part. The chain head is locked here, at the call: a caller that writes
        its own rows first holds their locks before it waits for the head.
        """
        pending = [_stored_fields(event) for event in events]
        if not pending:
            return []
        return self._chain(conn, pending)

    def verify(self) -> VerifyReport:
        """Walk the chain in seq order; report every changed, inserted or deleted record."""
        with self._db.read(snapshot=True) as conn:
            head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).first()
            walker = ChainWalker(head_seq=None, head_hash=None)
            if head is not None:
                walker = ChainWalker(head_seq=head.seq, head_hash=head.hash)
            result = conn.execution_options(yield_per=5000).execute(
                select(audit_log).order_by(audit_log.c.seq)
            )
            for row in result.mappings():
                walker.check(row["seq"], row["prev_hash"], row["hash"], row)
        return walker.finish()

    def trace(self, key: str) -> list[AuditRecord]:
        """Every record whose case code, message id or source message id is ``key``, in order."""
        c = audit_log.c
        query = (
            select(audit_log)
            .where(or_(c.case_code == key, c.message_id == key, c.source_message_id == key))
            .order_by(c.seq)
        )
        with self._db.read() as conn:
            return [_record(row) for row in conn.execute(query).mappings()]

    def head(self) -> tuple[int, str]:
        """The last seq and hash (``0`` and the genesis hash for an empty chain)."""
        with self._db.read() as conn:
            head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).first()
        return (head.seq, head.hash) if head else (0, GENESIS_HASH)

    def _chain(
        self, conn: Connection, pending: list[tuple[dict[str, Any], dict[str, Any]]]
    ) -> list[AuditRecord]:
        """Lock the head, chain ``pending`` rows after it, insert them and move the head."""
        self._db.lock(conn, audit_head)
        seq, prev_hash = self._head_for_append(conn)
        rows = []
        for fields, detail in pending:
            seq += 1
            digest = chain_hash(prev_hash, seq, fields, detail)
            rows.append({**fields, "seq": seq, "prev_hash": prev_hash, "hash": digest})
            prev_hash = digest
        conn.execute(audit_log.insert(), rows)
        conn.execute(
            self._db.upsert(audit_head, ["id"]).values(id=_HEAD_ID, seq=seq, hash=prev_hash)
        )
        return [_record(row) for row in rows]

    def _head_for_append(self, conn: Connection) -> tuple[int, str]:
        head = conn.execute(
            select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == _HEAD_ID)
        ).first()
        if head is not None:
            return head.seq, head.hash
        if conn.execute(select(func.count()).select_from(audit_log)).scalar_one():
            raise AuditChainError(
                "the audit head row is missing but records exist: the store was tampered with; "
                "run `ebus audit verify`"
            )
        return 0, GENESIS_HASH


def _stored_fields(event: AuditEvent) -> tuple[dict[str, Any], dict[str, Any]]:
    """The row of an event (without seq and hashes) and its detail, after the L3 guard."""
    detail = event.detail
    refuse_l3_values(detail)
    fields = event.model_dump(exclude={"detail", "at"})
    fields["at"] = event.at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    fields["detail"] = json.dumps(
        detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return fields, detail


def _record(row: Mapping[str, Any] | RowMapping) -> AuditRecord:
    values = dict(row)
    values["at"] = dt.datetime.fromisoformat(values["at"])
    values["detail"] = json.loads(values["detail"])
    return AuditRecord.model_construct(**values)
