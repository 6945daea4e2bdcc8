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
    audit.record_many(events)    # the same rows, returning only their count (hot paths)
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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, field_validator
from sqlalchemy import Connection, Dialect, RowMapping, func, or_, select
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from runner.errors import EbusError
from runner.stores._chain import (
    GENESIS_HASH,
    CanonicalRecord,
    ChainWalker,
    Problem,
    VerifyReport,
    detail_json,
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
    """Appends, verifies and searches the audit chain of one ``Database``.

    Two ways to append, storing the same rows: ``append_many``/``append_in`` return the stored
    ``AuditRecord``s; ``record_many``/``record_in`` return only how many were stored and skip
    building the records, for hot paths that do not read them back.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._sql = _statements(db)

    def append(self, event: AuditEvent) -> AuditRecord:
        """Store one event at the end of the chain."""
        return self.append_many([event])[0]

    def append_many(self, events: Iterable[AuditEvent]) -> list[AuditRecord]:
        """Store events in order, in one transaction: all of them or none."""
        pending = [_pending(event) for event in events]
        if not pending:
            return []
        with self._db.write() as conn:
            return [_record(row) for row in self._chain(conn, pending)]

    def append_in(self, conn: Connection, events: Iterable[AuditEvent]) -> list[AuditRecord]:
        """Store events in order within the caller's open write transaction ``conn``.

        The records commit or roll back with the caller's own rows, so a state change and its
        audit trail never part. The chain head is locked here, at the call: a caller that writes
        its own rows first holds their locks before it waits for the head.
        """
        pending = [_pending(event) for event in events]
        if not pending:
            return []
        return [_record(row) for row in self._chain(conn, pending)]

    def record_many(self, events: Iterable[AuditEvent]) -> int:
        """Store events like ``append_many`` (one transaction), returning only their count."""
        pending = [_pending(event) for event in events]
        if not pending:
            return 0
        with self._db.write() as conn:
            return len(self._chain(conn, pending))

    def record_in(self, conn: Connection, events: Iterable[AuditEvent]) -> int:
        """Store events like ``append_in``, in the caller's ``conn``, returning only their count."""
        pending = [_pending(event) for event in events]
        if not pending:
            return 0
        return len(self._chain(conn, pending))

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

    def _chain(self, conn: Connection, pending: list[_Pending]) -> list[dict[str, Any]]:
        """Lock the head, chain ``pending`` rows after it, insert them and move the head."""
        self._db.lock(conn, audit_head)
        seq, prev_hash = self._head_for_append(conn)
        rows = []
        for fields, canonical in pending:
            seq += 1
            digest = canonical.hash(prev_hash, seq)
            rows.append({**fields, "seq": seq, "prev_hash": prev_hash, "hash": digest})
            prev_hash = digest
        sql = self._sql
        conn.exec_driver_sql(sql.insert.text, [sql.insert.params(row) for row in rows])
        head = {"id": _HEAD_ID, "seq": seq, "hash": prev_hash}
        conn.exec_driver_sql(sql.upsert_head.text, sql.upsert_head.params(head))
        return rows

    def _head_for_append(self, conn: Connection) -> tuple[int, str]:
        head = conn.exec_driver_sql(self._sql.select_head.text).first()
        if head is not None:
            return head.seq, head.hash
        if conn.execute(select(func.count()).select_from(audit_log)).scalar_one():
            raise AuditChainError(
                "the audit head row is missing but records exist: the store was tampered with; "
                "run `ebus audit verify`"
            )
        return 0, GENESIS_HASH


class _Pending(NamedTuple):
    """An event ready to chain: its row (without seq and hashes) and its canonical JSON."""

    fields: dict[str, Any]
    canonical: CanonicalRecord


def _pending(event: AuditEvent) -> _Pending:
    """The row of an event and its canonical JSON, after the L3 guard.

    Plain attribute reads, not ``model_dump``: the fields are plain strings (or None) already,
    and the hash input depends on the names only, not on the order of the keys.
    """
    detail = event.detail
    refuse_l3_values(detail)
    detail_text = detail_json(detail)
    fields = {
        "kind": event.kind,
        "at": event.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "system": event.system,
        "message_type": event.message_type,
        "route": event.route,
        "destination": event.destination,
        "message_id": event.message_id,
        "source_message_id": event.source_message_id,
        "case_code": event.case_code,
        "detail": detail_text,
    }
    return _Pending(fields, CanonicalRecord.of(fields, detail_text))


def _record(row: Mapping[str, Any] | RowMapping) -> AuditRecord:
    values = dict(row)
    values["at"] = dt.datetime.fromisoformat(values["at"])
    values["detail"] = json.loads(values["detail"])
    return AuditRecord.model_construct(**values)


@dataclass(frozen=True, slots=True)
class _DriverSql:
    """A statement compiled for one dialect, and how to turn a row into its driver parameters."""

    text: str
    params: Callable[[Mapping[str, Any]], Any]

    @classmethod
    def compile(cls, statement: ClauseElement, dialect: Dialect) -> _DriverSql:
        """Compile ``statement`` (constants rendered inline) for ``dialect``'s paramstyle."""
        compiled = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        assert isinstance(compiled, SQLCompiler)
        if compiled.positional and compiled.positiontup:  # SQLite: "?" placeholders
            names = tuple(compiled.positiontup)
            return cls(str(compiled), lambda row: tuple([row[name] for name in names]))
        return cls(str(compiled), _named)  # psycopg: "%(name)s" placeholders


def _named(row: Mapping[str, Any]) -> Mapping[str, Any]:
    return row


@dataclass(frozen=True, slots=True)
class _Statements:
    """The SQL of an append, compiled once per dialect (SQLAlchemy's per-call compile and cache
    key work on these showed up in profiles of the hot path)."""

    select_head: _DriverSql
    insert: _DriverSql
    upsert_head: _DriverSql


_COMPILED: dict[tuple[str, str, str], _Statements] = {}


def _statements(db: Database) -> _Statements:
    """The append statements for ``db``'s dialect, compiled at first use."""
    dialect = db.engine.dialect
    key = (dialect.name, dialect.driver, dialect.paramstyle)
    if key not in _COMPILED:
        head = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == _HEAD_ID)
        _COMPILED[key] = _Statements(
            select_head=_DriverSql.compile(head, dialect),
            insert=_DriverSql.compile(audit_log.insert(), dialect),
            upsert_head=_DriverSql.compile(db.upsert(audit_head, ["id"]), dialect),
        )
    return _COMPILED[key]
